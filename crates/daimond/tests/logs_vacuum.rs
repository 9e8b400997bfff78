//! journalctl's maintenance verbs: `logs --disk-usage`, `--rotate`,
//! `--vacuum-size=`, `--vacuum-time=`. Whole segments go, oldest first,
//! never the one being written.

mod common;

use std::os::unix::net::UnixDatagram;

use common::*;

fn usage_bytes(text: &str) -> f64 {
    // "The log store takes up 1.5M in the file system (...)."
    let v = text
        .split("takes up ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("{text}"));
    let (num, unit) = v.split_at(v.len() - 1);
    let mult = match unit {
        "B" => 1.0,
        "K" => 1024.0,
        "M" => 1048576.0,
        "G" => 1073741824.0,
        _ => panic!("{text}"),
    };
    num.parse::<f64>().expect("a number") * mult
}

#[test]
fn rotate_vacuum_and_disk_usage() {
    let mut d = Daemon::start();
    d.write_unit(
        "talker.service",
        "[Service]\nExecStart=/bin/sh -c 'echo old line; exec sleep 60'\n",
    );
    d.ok(&["start", "talker"]);
    wait_until("the old line", DEADLINE, || {
        d.ok(&["logs", "talker", "-o", "cat"]).contains("old line")
    });
    let before = d.ok(&["logs", "--disk-usage"]);
    assert!(before.starts_with("The log store takes up "), "{before}");
    assert!(usage_bytes(&before) > 0.0, "{before}");

    // Nothing is older than a day, and the open segment never goes.
    let out = d.ok(&["logs", "--vacuum-time=1d"]);
    assert!(
        out.starts_with("Vacuuming done, deleted 0 segments"),
        "{out}"
    );
    let out = d.ok(&["logs", "--vacuum-size=1"]);
    assert!(
        out.starts_with("Vacuuming done, deleted 0 segments"),
        "{out}"
    );
    assert!(d.ok(&["logs", "talker", "-o", "cat"]).contains("old line"));

    // Rotated, the segment holding it is closed and may go.
    let out = d.ok(&["logs", "--rotate", "--vacuum-size=1", "--disk-usage"]);
    let first = out.lines().next().unwrap_or("");
    assert!(
        first.starts_with("Vacuuming done, deleted ") && !first.contains("deleted 0 "),
        "{out}"
    );
    assert!(
        out.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("The log store takes up ")),
        "{out}"
    );
    wait_until("the old line gone", DEADLINE, || {
        !d.ok(&["logs", "talker", "-o", "cat"]).contains("old line")
    });

    // New lines go on into a new segment.
    let sock = d.path().join("run/syslog.sock");
    UnixDatagram::unbound()
        .expect("socket")
        .send_to(b"<14>app: after the vacuum", &sock)
        .expect("send");
    wait_until("the new line", DEADLINE, || {
        d.cli(&["logs", "syslog", "-o", "cat"]).stdout == b"after the vacuum\n"
    });

    let bad = d.cli(&["logs", "--vacuum-time=soon"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("invalid --vacuum-time \"soon\""),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
