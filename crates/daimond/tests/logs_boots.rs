//! `daimon logs -b` and `--list-boots`: a boot is a daimond start after the
//! machine booted. A reboot is simulated by changing the boot id the store
//! recorded for the first run: the next daimond sees a new kernel boot id.

mod common;

use std::fs;

use common::*;

fn kernel_boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .expect("boot_id")
        .trim()
        .replace('-', "")
}

fn stop(d: &mut Daemon) {
    d.ok(&["shutdown"]);
    let mut c = d.child.take().expect("daimond child");
    assert!(wait_child(&mut c, DEADLINE).is_some(), "daimond stopped");
}

/// PIDs in daimond's "started (pid N)" lines of `logs ARGS -o cat`.
fn started_pids(d: &mut Daemon, args: &[&str]) -> Vec<String> {
    let mut a = vec!["logs", "daimond", "-o", "cat", "-g", "started \\(pid"];
    a.extend_from_slice(args);
    d.ok(&a)
        .lines()
        .filter_map(|l| Some(l.split("(pid ").nth(1)?.split(')').next()?.to_string()))
        .collect()
}

#[test]
fn boots_list_and_select() {
    let mut d = Daemon::start();
    let first = d.daemon_pid().expect("pid").to_string();
    let list = d.ok(&["logs", "--list-boots"]);
    let rows: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{list}");
    assert!(
        rows[0].starts_with(&format!("  0 {}", kernel_boot_id())),
        "{list}"
    );
    assert_eq!(started_pids(&mut d, &["-b"]), vec![first.clone()]);
    // `-b` without a value before another flag: the current boot.
    let out = d.ok(&[
        "logs",
        "-b",
        "-u",
        "daimond",
        "-o",
        "cat",
        "-g",
        "started \\(pid",
    ]);
    assert_eq!(out.lines().count(), 1, "{out}");
    let bad = d.cli(&["logs", "-b", "-1"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("no boot -1"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // A restart within one boot is the same boot.
    stop(&mut d);
    d.spawn_daemon();
    let second = d.daemon_pid().expect("pid").to_string();
    let list = d.ok(&["logs", "--list-boots"]);
    assert_eq!(list.lines().count(), 2, "{list}");
    assert_eq!(
        started_pids(&mut d, &["-b", "0"]),
        [first.clone(), second.clone()]
    );

    // "Reboot": the recorded boot becomes another one.
    stop(&mut d);
    let file = d.path().join("state/journal/boots");
    let text = fs::read_to_string(&file).expect("boots file");
    let old = "0123456789abcdef0123456789abcdef";
    fs::write(&file, text.replace(&kernel_boot_id(), old)).expect("rewrite");
    d.spawn_daemon();
    let third = d.daemon_pid().expect("pid").to_string();

    let list = d.ok(&["logs", "--list-boots"]);
    let rows: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{list}");
    assert!(rows[0].starts_with(&format!(" -1 {old}")), "{list}");
    assert!(
        rows[1].starts_with(&format!("  0 {}", kernel_boot_id())),
        "{list}"
    );

    assert_eq!(started_pids(&mut d, &["-b"]), vec![third.clone()]);
    assert_eq!(
        started_pids(&mut d, &["-b", "-1"]),
        [first.clone(), second.clone()]
    );
    assert_eq!(
        started_pids(&mut d, &["--boot", old]),
        [first.clone(), second.clone()]
    );
    assert_eq!(
        started_pids(&mut d, &["-b", "1"]),
        [first.clone(), second.clone()]
    );
    // Without -b, every boot.
    assert_eq!(started_pids(&mut d, &[]), [first, second, third]);

    let json = d.ok(&["logs", "--list-boots", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v[0]["index"], -1);
    assert_eq!(v[0]["boot_id"], old);
    assert_eq!(v[1]["index"], 0);
}
