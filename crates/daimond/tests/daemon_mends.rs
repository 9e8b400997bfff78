//! daimond dying or failing at bad moments costs the user nothing: a CLI whose
//! daemon dies after accepting it starts a new one and asks again, and a daimond
//! that cannot start leaves no fd holder or socket behind and says why once.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// PIDs of live processes whose environment has `DAIMON_HOME=home` (from /proc).
fn processes_of_home(home: &Path) -> Vec<u32> {
    let want = format!("DAIMON_HOME={}", home.display());
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let env = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if pid_alive(pid) && env.split(|b| *b == 0).any(|kv| kv == want.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn a_daimond_that_cannot_start_leaves_nothing_behind_and_says_why_once() {
    let d = Daemon::home_only();
    // A file where the state directory should be.
    fs::write(d.path().join("state"), "").expect("a file in the way");

    let out = run_bounded(
        Command::new(bin("daimond"))
            .arg("--foreground")
            .env("DAIMON_HOME", d.path()),
        DEADLINE,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("state directory").count(),
        1,
        "the failure is printed once: {err}"
    );
    assert!(!err.contains("daimond: daimond:"), "{err}");

    let out = run_bounded(
        Command::new(bin("daimon"))
            .arg("status")
            .env("DAIMON_HOME", d.path()),
        DEADLINE,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("state directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = d.path().join("run");
    wait_until("no fd holder left for this home", DEADLINE, || {
        processes_of_home(d.path()).is_empty()
    });
    let left: Vec<_> = fs::read_dir(&run)
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in the runtime directory: {left:?}");
}

#[test]
fn the_cli_starts_a_new_daimond_when_its_daimond_dies_before_answering() {
    let mut d = Daemon::start();
    let old = d.daemon_pid().expect("daimond");
    // A daimond that accepted the connection (the kernel did, into its
    // backlog) and then dies without answering: stopped, then killed.
    kill(old, libc::SIGSTOP);
    let cli = Command::new(bin("daimon"))
        .arg("status")
        .env("DAIMON_HOME", d.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("daimon status");
    d.extra.push(cli.id());
    let cli_pid = cli.id();
    // It waits for the answer (asleep in a read on the socket).
    wait_until("the CLI waiting for daimond's answer", DEADLINE, || {
        let wchan = fs::read_to_string(format!("/proc/{cli_pid}/wchan")).unwrap_or_default();
        proc_state(cli_pid) == Some('S') && wchan.contains("unix_stream")
    });
    d.kill_daemon();
    let out = wait_output(cli);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("No units loaded"), "{table}");
    let new = d.daemon_pid().expect("a new daimond");
    assert_ne!(new, old);
    assert!(pid_alive(new));
}

fn wait_output(child: std::process::Child) -> std::process::Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(Ok(o)) => o,
        _ => {
            kill(pid, libc::SIGKILL);
            panic!("daimon status did not finish in time");
        }
    }
}
