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
        text.contains("daimon") && text.contains("daemon-reload"),
        "{text}"
    );

    let out = daimon(h.path(), &["man"]);
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH daimon"), "{page}");
}

#[test]
fn shutdown_without_a_daemon_starts_none() {
    let h = home();
    let out = daimon(h.path(), &["shutdown"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!h.path().join("run/daimond.pid").exists());
    assert!(!h.path().join("run/daimond.sock").exists());
}
