//! The CLI starts a properly daemonized daimond when none answers, and
//! `daimon shutdown` stops it (and never starts one).

mod common;

use std::fs;
use std::time::Duration;

use common::*;

#[test]
fn first_command_starts_a_real_daemon_and_shutdown_stops_it() {
    let mut d = Daemon::home_only();
    assert!(!d.socket().exists());

    let out = d.cli(&["logs", "-n", "1"]);
    assert!(
        out.status.success(),
        "logs with auto-start: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = d.daemon_pid().expect("a PID file after auto-start");
    assert!(pid_alive(pid));
    d.remember(pid);

    // Daemonized: another session than ours, not a session leader (second fork),
    // not our child, cwd /, standard streams on /dev/null.
    assert_ne!(
        getsid(pid),
        getsid(0),
        "daimond must leave the caller's session"
    );
    assert_ne!(
        getsid(pid),
        pid as i32,
        "daimond must not be a session leader"
    );
    assert_ne!(ppid(pid), Some(std::process::id()));
    let cwd = fs::read_link(format!("/proc/{pid}/cwd")).expect("cwd");
    assert_eq!(cwd.to_str(), Some("/"));
    let fds = fd_targets(pid);
    for n in 0..3 {
        let t = fds.iter().find(|(f, _)| *f == n).map(|(_, t)| t.as_str());
        assert_eq!(t, Some("/dev/null"), "fd {n} of daimond: {fds:?}");
    }

    // A second command uses the same daemon.
    d.ok(&["logs", "-n", "1"]);
    assert_eq!(d.daemon_pid(), Some(pid));

    let out = d.cli(&["shutdown"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until("daimond to exit after shutdown", DEADLINE, || {
        !pid_alive(pid)
    });
    assert!(!d.socket().exists(), "socket removed");
    assert!(!d.pid_file().exists(), "PID file removed");

    // No daemon: shutdown says so, exits 0 and starts nothing.
    let out = d.cli(&["shutdown"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "daimond is not running."
    );
    std::thread::sleep(Duration::from_millis(20));
    assert!(!d.socket().exists(), "shutdown must never start a daemon");
}

#[test]
fn a_command_right_after_shutdown_gets_a_fresh_daemon() {
    let mut d = Daemon::home_only();
    for round in 0..3 {
        let out = d.cli(&["logs", "-n", "1"]);
        assert!(
            out.status.success(),
            "round {round}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pid = d.daemon_pid().expect("daemon");
        d.remember(pid);
        d.ok(&["shutdown"]);
        assert!(
            !d.pid_file().exists(),
            "shutdown returns once the daemon let go"
        );
    }
}

#[test]
fn concurrent_first_commands_share_one_daemon() {
    let d = Daemon::home_only();
    let home = d.path().to_path_buf();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let home = home.clone();
            std::thread::spawn(move || {
                run_bounded(
                    std::process::Command::new(bin("daimon"))
                        .args(["logs", "-n", "1"])
                        .env("DAIMON_HOME", &home),
                    Duration::from_secs(20),
                )
            })
        })
        .collect();
    for h in handles {
        let out = h.join().expect("thread");
        assert!(
            out.status.success(),
            "a racing first command failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let pid = d.daemon_pid().expect("one daemon");
    assert!(pid_alive(pid));
}
