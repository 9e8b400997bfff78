//! The CLI on its own, with no daemon: version, `verify` (which never needs one),
//! completions, the man page, and `shutdown` when nothing runs. Having tests in
//! this package also makes `cargo test --workspace` build the `daimon` binary that
//! daimond's integration tests drive.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn daimon(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_daimon"))
        .args(args)
        .env("DAIMON_HOME", home)
        .output()
        .expect("run daimon")
}

fn home() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("daimon-cli-")
        .tempdir()
        .expect("tempdir")
}

#[test]
fn version_names_the_program() {
    let h = home();
    let out = daimon(h.path(), &["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("daimon "), "{text}");
}

#[test]
fn verify_reports_file_line_column_and_exits_by_severity() {
    let h = home();
    let good = h.path().join("good.service");
    fs::write(
        &good,
        "[Unit]\nDescription=bot\n\n[Service]\nExecStart=/usr/bin/python3 bot.py\nRestart=always\nRestartSec=10\nProtectSystem=strict\n",
    )
    .expect("write");
    let out = daimon(h.path(), &["verify", good.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "warnings only: exit 0");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(
            "good.service:8: warning: ProtectSystem= is not enforced by daimon yet; ignored"
        ),
        "{text}"
    );

    let bad = h.path().join("bad.service");
    fs::write(&bad, "[Service]\nExecStart=/bin/true\nRestartSec=ten\n").expect("write");
    let out = daimon(h.path(), &["verify", bad.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "an error: exit 1");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(
            "bad.service:3:12: error: RestartSec: \"ten\" is not a time span; expected e.g. 10s, 5min, 1h 30min"
        ),
        "{text}"
    );
    assert!(
        !h.path().join("run/daimond.pid").exists(),
        "verify must not start a daemon"
    );
}

#[test]
fn completions_and_man_page_come_from_the_clap_definitions() {
    let h = home();
    let out = daimon(h.path(), &["completions", "bash"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("complete") && text.contains("daimon"),
        "{text}"
    );

    let out = daimon(h.path(), &["man"]);
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH daimon"), "{page}");
}

#[test]
fn every_manual_page_that_daimon_1_names_exists() {
    let h = home();
    let page = String::from_utf8_lossy(&daimon(h.path(), &["man"]).stdout).into_owned();
    let dir = h.path().join("man1");
    let out = daimon(h.path(), &["man", "--dir", dir.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{out:?}");
    let named: Vec<String> = page
        .split("daimon\\-")
        .skip(1)
        .filter_map(|rest| {
            rest.split_once("(1)")
                .map(|(name, _)| name.replace("\\-", "-"))
        })
        .collect();
    assert!(named.len() > 20, "daimon(1) names its commands: {named:?}");
    for name in &named {
        let file = dir.join(format!("daimon-{name}.1"));
        assert!(
            file.is_file(),
            "daimon(1) names daimon-{name}(1), not written"
        );
    }
    let run = daimon(h.path(), &["man", "run"]);
    assert!(String::from_utf8_lossy(&run.stdout).contains(".TH daimon-run 1"));
    let none = daimon(h.path(), &["man", "nosuch"]);
    assert_eq!(none.status.code(), Some(1));
}

#[test]
fn completion_offers_the_unit_names() {
    let h = home();
    let units = h.path().join("units");
    fs::create_dir_all(&units).expect("units dir");
    fs::write(
        units.join("web.service"),
        "[Service]\nExecStart=/bin/true\n",
    )
    .expect("unit");
    fs::write(
        units.join("worker.service"),
        "[Service]\nExecStart=/bin/true\n",
    )
    .expect("unit");
    fs::write(units.join("db.service"), "[Service]\nExecStart=/bin/true\n").expect("unit");
    // What the registered bash function runs at `daimon status w<Tab>`.
    let out = Command::new(env!("CARGO_BIN_EXE_daimon"))
        .args(["--", "daimon", "status", "w"])
        .env("DAIMON_HOME", h.path())
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .env("_CLAP_IFS", "\n")
        .output()
        .expect("run daimon");
    assert!(out.status.success(), "{out:?}");
    let offered = String::from_utf8_lossy(&out.stdout);
    let offered: Vec<&str> = offered.lines().collect();
    assert_eq!(offered, ["web.service", "worker.service"]);
    // The script registers daimon itself as the completer.
    let script = daimon(h.path(), &["completions", "bash"]);
    let script = String::from_utf8_lossy(&script.stdout);
    assert!(script.contains("COMPLETE=\"bash\""), "{script}");
}

#[test]
fn shutdown_without_a_daemon_starts_none() {
    let h = home();
    let out = daimon(h.path(), &["shutdown"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!h.path().join("run/daimond.pid").exists());
    assert!(!h.path().join("run/daimond.sock").exists());
}
