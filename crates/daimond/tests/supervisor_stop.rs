//! Stopping end to end: TimeoutStopSec= escalation, KillMode=control-group
//! reaching escaped processes, and no zombies from double-forking services.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

fn read_pid(path: &Path) -> u32 {
    let mut pid = 0;
    wait_until(&format!("a PID in {}", path.display()), DEADLINE, || {
        pid = fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        pid != 0
    });
    pid
}

#[test]
fn stop_escalates_to_sigkill_after_timeout_stop_sec() {
    let mut d = Daemon::start();
    let script = d.script("stubborn.sh", "trap '' TERM\nwhile :; do sleep 0.05; done");
    d.write_unit(
        "stubborn.service",
        &format!(
            "[Service]\nExecStart={}\nTimeoutStopSec=1\n",
            script.display()
        ),
    );
    d.ok(&["start", "stubborn"]);
    let pid = d.wait_main_pid("stubborn");
    let t = Instant::now();
    d.ok(&["stop", "stubborn"]);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "SIGKILL before TimeoutStopSec: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    assert!(!pid_alive(pid));
    let st = d.status_json("stubborn");
    assert_eq!(st["state"], "failed");
    assert_eq!(st["result"], "timeout");
    assert_eq!(st["last_exit"], "killed, signal=KILL");
}

#[test]
fn control_group_kill_reaches_a_grandchild_that_escaped_with_setsid() {
    let mut d = Daemon::start();
    let pidfile = d.path().join("escaped.pid");
    let script = d.script(
        "escape.sh",
        &format!(
            "(setsid sleep 1000 & echo $! > {})\nexec sleep 1000",
            pidfile.display()
        ),
    );
    d.write_unit(
        "esc.service",
        &format!("[Service]\nExecStart={}\n", script.display()),
    );
    d.ok(&["start", "esc"]);
    d.wait_main_pid("esc");
    let escaped = read_pid(&pidfile);
    d.remember(escaped);
    assert!(pid_alive(escaped));
    let tasks = d.status_json("esc")["tasks"].clone();
    assert!(
        tasks
            .as_array()
            .is_some_and(|t| t.iter().any(|p| p.as_u64() == Some(escaped as u64))),
        "status lists the escaped process: {tasks}"
    );
    d.ok(&["stop", "esc"]);
    assert!(
        !pid_alive(escaped),
        "the escaped grandchild survived the stop"
    );
    assert_eq!(d.status_json("esc")["state"], "inactive");
}

#[test]
fn a_double_forked_grandchild_is_reaped_no_zombie() {
    let mut d = Daemon::start();
    let pidfile = d.path().join("orphan.pid");
    let script = d.script(
        "fork.sh",
        &format!(
            "sh -c 'sleep 0.3 & echo $! > {}'\nexec sleep 1000",
            pidfile.display()
        ),
    );
    d.write_unit(
        "forky.service",
        &format!("[Service]\nExecStart={}\n", script.display()),
    );
    d.ok(&["start", "forky"]);
    d.wait_main_pid("forky");
    let orphan = read_pid(&pidfile);
    let daemon = d.daemon_pid().expect("daemon pid");
    // Re-parented to daimond (the subreaper), then it exits: no zombie may stay.
    wait_until("the orphan to be gone, not a zombie", DEADLINE, || {
        proc_state(orphan).is_none()
    });
    assert!(pid_alive(daemon));
    assert!(!children_of(daemon).contains(&orphan));
}

#[test]
fn main_exit_kills_leftovers_of_the_service() {
    let mut d = Daemon::start();
    let pidfile = d.path().join("left.pid");
    let script = d.script(
        "leave.sh",
        &format!(
            "sleep 1000 &\necho $! > {}\nsleep 0.2\nexit 3",
            pidfile.display()
        ),
    );
    d.write_unit(
        "leaver.service",
        &format!("[Service]\nExecStart={}\n", script.display()),
    );
    d.ok(&["start", "leaver"]);
    let left = read_pid(&pidfile);
    d.remember(left);
    wait_until("leaver failed", DEADLINE, || {
        d.status_json("leaver")["state"] == "failed"
    });
    wait_until("the leftover killed", DEADLINE, || !pid_alive(left));
    assert_eq!(
        d.status_json("leaver")["last_exit"],
        "exited, status=3/NOTIMPLEMENTED"
    );
}
