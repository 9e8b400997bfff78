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

/// A forking daemon whose PID file names its child before that child has called
/// setsid() (nginx 1.22's parent writes the file, then exits): the workers the
/// child starts once it leads a session of its own, with no `INVOCATION_ID=` in
/// their environment (nginx overwrites it), are still the unit's. When the main
/// process is killed, KillMode=mixed SIGKILLs them (systemd.kill(5)); a worker
/// left alive would keep the daemon's port and fail every restart.
#[test]
fn workers_of_a_forking_main_that_led_a_new_session_late_are_killed_with_it() {
    let mut d = Daemon::start();
    let main_pid = d.path().join("main.pid");
    let worker_pid = d.path().join("worker.pid");
    let go = d.path().join("go");
    let c_go = std::ffi::CString::new(go.to_str().expect("utf-8 path")).expect("path");
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_go.as_ptr(), 0o600) }, 0, "mkfifo");
    // The child waits for the go-ahead, then calls setsid() keeping its PID (a
    // background job of a non-interactive shell leads no process group) and
    // starts a worker without INVOCATION_ID=. The parent names the child in the
    // PID file at once and exits.
    let script = d.script(
        "forking.sh",
        &format!(
            "(\n  read go < {go}\n  exec setsid sh -c 'env -u INVOCATION_ID sleep 1000 & \
             echo $! > {worker}; wait'\n) &\necho $! > {main}",
            go = go.display(),
            worker = worker_pid.display(),
            main = main_pid.display(),
        ),
    );
    d.write_unit(
        "late.service",
        &format!(
            "[Service]\nType=forking\nPIDFile={}\nExecStart={}\nKillMode=mixed\n",
            main_pid.display(),
            script.display()
        ),
    );
    d.ok(&["start", "late"]);
    let main = d.wait_main_pid("late");
    assert_eq!(read_pid(&main_pid), main, "PIDFile= gives the main PID");
    assert_ne!(
        getsid(main),
        main as i32,
        "the main PID read before its setsid()"
    );

    // The go-ahead: opening the FIFO succeeds once the child waits on it.
    wait_until("the daemon to wait for its go-ahead", DEADLINE, || {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&go)
            .and_then(|mut f| f.write_all(b"go\n"))
            .is_ok()
    });
    let worker = read_pid(&worker_pid);
    d.remember(worker);
    wait_until("the worker in the session its main leads", DEADLINE, || {
        getsid(worker) == main as i32
    });

    kill(main, libc::SIGKILL);
    wait_until("the worker killed with its main process", DEADLINE, || {
        !pid_alive(worker)
    });
    wait_until("late failed", DEADLINE, || {
        d.status_json("late")["state"] == "failed"
    });
}
