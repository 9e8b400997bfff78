//! `daimon logs -o export` is journalctl's export format as systemd's own tools
//! read it: piped into systemd-journal-remote, the journal file it writes
//! holds, as `journalctl --directory -o json` shows it, the same entries as
//! `daimon logs -o json`: message bytes (a tab, an escape sequence, an invalid
//! byte), priority, unit, identifier, PID, transport, invocation, time and the
//! machine's boot (so `journalctl -b ID` works); and `journalctl -u UNIT -p
//! err` picks the same lines as `daimon logs`.
//!
//! Skipped, with the reason, where systemd-journal-remote is not installed
//! (`bash .ci/run` installs Debian's package).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{DEADLINE, Daemon, run_bounded, wait_child, wait_until};

const REMOTE: [&str; 2] = [
    "/lib/systemd/systemd-journal-remote",
    "/usr/lib/systemd/systemd-journal-remote",
];

/// The fields compared: what a shipper or journalctl user reads.
const FIELDS: [&str; 10] = [
    "MESSAGE",
    "_BOOT_ID",
    "PRIORITY",
    "_SYSTEMD_UNIT",
    "SYSLOG_IDENTIFIER",
    "_PID",
    "_TRANSPORT",
    "_SYSTEMD_INVOCATION_ID",
    "__REALTIME_TIMESTAMP",
    "_HOSTNAME",
];

/// A JSON field's bytes: a string, or journalctl's array of bytes for data
/// that is not printable.
fn bytes(v: &serde_json::Value) -> Vec<u8> {
    match v {
        serde_json::Value::String(s) => s.as_bytes().to_vec(),
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|b| b.as_u64())
            .map(|b| b as u8)
            .collect(),
        other => panic!("unexpected JSON field {other}"),
    }
}

fn entries(json_lines: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(json_lines)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn journalctl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = run_bounded(
        Command::new("journalctl")
            .arg(format!("--directory={}", dir.display()))
            .args(["--no-pager", "-q"])
            .args(args),
        DEADLINE,
    );
    assert!(
        out.status.success(),
        "journalctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn export_piped_into_systemd_journal_remote_reads_back_field_for_field() {
    let Some(remote) = REMOTE.iter().map(Path::new).find(|p| p.exists()) else {
        eprintln!(
            "skipped: systemd-journal-remote is not installed \
             (apt-get install systemd-journal-remote; bash .ci/run installs it)"
        );
        return;
    };
    let mut d = Daemon::start();
    let emit = d.script(
        "emit.sh",
        "#!/bin/sh\nprintf 'plain\\n<3>disk full\\ntab\\there\\n\\033[31mred\\033[0m\\nbad \\377 byte\\n<4>last\\n'\n",
    );
    d.write_unit(
        "exp.service",
        &format!("[Service]\nExecStart={}\n", emit.display()),
    );
    d.write_unit(
        "other.service",
        "[Service]\nExecStart=/bin/echo other line\n",
    );
    d.ok(&["start", "exp", "other"]);
    wait_until("both units' lines stored", DEADLINE, || {
        let out = d.ok(&["logs", "-o", "cat", "_TRANSPORT=stdout"]);
        out.contains("last") && out.contains("other line")
    });
    // Still until the export is read back: a unit's lines are all written
    // when it has exited.
    wait_until("both units dead", DEADLINE, || {
        ["exp", "other"]
            .iter()
            .all(|u| d.status_json(u)["sub_state"] == "dead")
    });

    let export = d.cli(&["logs", "-o", "export"]);
    assert!(export.status.success(), "daimon logs -o export failed");
    let ours = entries(&d.cli(&["logs", "-o", "json"]).stdout);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut import = Command::new(remote)
        .arg("--split-mode=none")
        .arg(format!(
            "--output={}",
            dir.path().join("remote.journal").display()
        ))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn systemd-journal-remote");
    let mut stdin = import.stdin.take().expect("its stdin");
    stdin.write_all(&export.stdout).expect("feed the export");
    drop(stdin);
    let status = wait_child(&mut import, Duration::from_secs(30));
    if status.is_none() {
        common::kill(import.id(), libc::SIGKILL);
        let _ = import.wait();
    }
    let mut said = String::new();
    if let Some(mut e) = import.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut said);
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "systemd-journal-remote refused the export ({status:?}): {said}"
    );

    let theirs = entries(&journalctl(dir.path(), &["-o", "json"]));
    assert_eq!(theirs.len(), ours.len(), "entries: journalctl vs daimon");
    for (t, o) in theirs.iter().zip(&ours) {
        for f in FIELDS {
            assert_eq!(
                t.get(f).map(bytes),
                o.get(f).map(bytes),
                "field {f}: journalctl {t} vs daimon {o}"
            );
        }
    }
    let msgs: Vec<Vec<u8>> = theirs
        .iter()
        .filter(|e| e["_SYSTEMD_UNIT"] == "exp.service" && e["_TRANSPORT"] == "stdout")
        .map(|e| bytes(&e["MESSAGE"]))
        .collect();
    assert_eq!(
        msgs,
        [
            &b"plain"[..],
            b"disk full",
            b"tab\there",
            b"\x1b[31mred\x1b[0m",
            b"bad \xff byte",
            b"last"
        ]
    );

    // The machine's boot, as daimon recorded it, is the journal's: `-b` works.
    let boots: serde_json::Value =
        serde_json::from_str(&d.ok(&["logs", "--list-boots", "-o", "json"])).expect("boots");
    let boot = boots[0]["boot_id"].as_str().expect("a boot id").to_string();
    assert!(
        theirs.iter().all(|e| e["_BOOT_ID"] == boot.as_str()),
        "{boot}"
    );
    let this_boot = journalctl(dir.path(), &["-b", &boot, "-u", "exp.service", "-o", "cat"]);
    let ours_this_boot = d
        .cli(&["logs", "-b", &boot, "-u", "exp", "-o", "cat"])
        .stdout;
    assert!(
        String::from_utf8_lossy(&this_boot).contains("\nlast\n"),
        "{}",
        String::from_utf8_lossy(&this_boot)
    );
    assert_eq!(this_boot, ours_this_boot);

    let errs = journalctl(dir.path(), &["-u", "exp.service", "-p", "err", "-o", "cat"]);
    assert_eq!(errs, b"disk full\n");
    assert_eq!(
        d.ok(&["logs", "-u", "exp", "-p", "err", "-o", "cat"]),
        "disk full\n"
    );
    let other = journalctl(dir.path(), &["-u", "other.service", "-o", "cat"]);
    let ours_other = d.ok(&["logs", "-u", "other", "-o", "cat"]);
    assert_eq!(String::from_utf8_lossy(&other), ours_other);
}
