//! Supervision end to end: crashes and automatic restarts, the start limit,
//! oneshot units, the exit code of `status`, exec failures.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_killed_service_restarts_with_a_new_pid_after_restart_sec() {
    let mut d = Daemon::start();
    d.write_unit(
        "bot.service",
        "[Service]\nExecStart=/bin/sleep 1000\nRestart=always\nRestartSec=300ms\n",
    );
    d.ok(&["start", "bot"]);
    let first = d.wait_main_pid("bot");
    let killed_at = Instant::now();
    kill(first, libc::SIGKILL);
    wait_until("bot waiting to restart", DEADLINE, || {
        d.status_json("bot")["sub_state"] == "auto-restart" || d.status_json("bot")["restarts"] == 1
    });
    let second = d.wait_main_pid("bot");
    assert_ne!(first, second);
    assert!(
        killed_at.elapsed() >= Duration::from_millis(250),
        "restarted before RestartSec=300ms"
    );
    let st = d.status_json("bot");
    assert_eq!(st["restarts"], 1);
    assert_eq!(st["last_exit"], "killed, signal=KILL");
    assert_eq!(st["state"], "active");
}

/// As `systemctl stop` during a restart's wait: the restart is called off and
/// the unit is inactive (not failed), still saying why it last ended.
#[test]
fn a_stop_while_a_restart_is_pending_leaves_the_unit_inactive() {
    let mut d = Daemon::start();
    d.write_unit(
        "bot.service",
        "[Service]\nExecStart=/bin/sleep 1000\nRestart=always\nRestartSec=1h\n",
    );
    d.ok(&["start", "bot"]);
    let first = d.wait_main_pid("bot");
    kill(first, libc::SIGKILL);
    wait_until("bot waiting to restart", DEADLINE, || {
        d.status_json("bot")["sub_state"] == "auto-restart"
    });
    d.ok(&["stop", "bot"]);
    let st = d.status_json("bot");
    assert_eq!(st["state"], "inactive", "{st}");
    assert_eq!(st["sub_state"], "dead", "{st}");
    assert_eq!(st["result"], "signal", "{st}");
    assert_eq!(st["pid"], serde_json::Value::Null, "{st}");
}

#[test]
fn restart_sec_zero_replaces_the_process_at_once_and_backoff_grows() {
    let mut d = Daemon::start();
    d.write_unit(
        "fast.service",
        "[Service]\nExecStart=/bin/sleep 1000\nRestart=always\nRestartSec=0\n",
    );
    d.ok(&["start", "fast"]);
    let first = d.wait_main_pid("fast");
    kill(first, libc::SIGKILL);
    let mut second = 0;
    wait_until("a new main PID", DEADLINE, || {
        let st = d.status_json("fast");
        second = st["pid"].as_u64().unwrap_or(0) as u32;
        second != 0 && second != first
    });
    d.remember(second);
    assert_eq!(d.status_json("fast")["restarts"], 1);

    // RestartSteps=/RestartMaxDelaySec=: the second restart waits longer.
    d.write_unit(
        "slow.service",
        "[Service]\nExecStart=/bin/sleep 1000\nRestart=always\nRestartSec=100ms\n\
         RestartSteps=1\nRestartMaxDelaySec=1500ms\n",
    );
    d.ok(&["start", "slow"]);
    let p1 = d.wait_main_pid("slow");
    kill(p1, libc::SIGKILL);
    let p2 = wait_new_pid(&mut d, "slow", p1);
    let t = Instant::now();
    kill(p2, libc::SIGKILL);
    wait_new_pid(&mut d, "slow", p2);
    assert!(
        t.elapsed() >= Duration::from_millis(1200),
        "second restart after the max delay"
    );
    assert_eq!(d.status_json("slow")["restarts"], 2);
}

fn wait_new_pid(d: &mut Daemon, unit: &str, old: u32) -> u32 {
    let mut pid = 0;
    wait_until(&format!("a new main PID for {unit}"), DEADLINE, || {
        let st = d.status_json(unit);
        pid = st["pid"].as_u64().unwrap_or(0) as u32;
        pid != 0 && pid != old && st["state"] == "active"
    });
    d.remember(pid);
    pid
}

#[test]
fn a_crash_loop_hits_the_start_limit_and_says_how_to_recover() {
    let mut d = Daemon::start();
    d.write_unit(
        "loop.service",
        "[Service]\nExecStart=/bin/false\nRestart=always\nRestartSec=0\n",
    );
    let _ = d.cli(&["start", "loop"]);
    wait_until("loop.service failed", DEADLINE, || {
        d.status_json("loop")["result"] == "start-limit-hit"
    });
    let st = d.status_json("loop");
    assert_eq!(st["state"], "failed");
    assert_eq!(
        st["restarts"], 5,
        "as systemd: the refused restart is counted"
    );
    assert_eq!(
        st["reason"],
        "restarted too quickly (5 times in 10s); fix it and run: daimon start loop"
    );
    assert_eq!(d.cli(&["status", "loop"]).status.code(), Some(3));
}

#[test]
fn the_last_run_after_a_start_limit_is_the_last_attempt_not_the_whole_series() {
    let mut d = Daemon::start();
    // Five attempts 400 ms apart: the series lasts over 1.6 s, each attempt
    // (/bin/false) a few milliseconds.
    d.write_unit(
        "loop.service",
        "[Service]\nExecStart=/bin/false\nRestart=always\nRestartSec=400ms\n",
    );
    let _ = d.cli(&["start", "loop"]);
    wait_until("loop.service failed", DEADLINE, || {
        d.status_json("loop")["result"] == "start-limit-hit"
    });
    let st = d.status_json("loop");
    let took = st["last_run"]["duration_usec"]
        .as_u64()
        .unwrap_or_else(|| panic!("no last run duration: {st}"));
    assert!(
        took < 400_000,
        "the last run took {took} µs: measured across the restarts"
    );
}

#[test]
fn status_exits_3_for_a_stopped_unit_and_4_for_an_unknown_one() {
    let mut d = Daemon::start();
    d.write_unit("idle.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    assert_eq!(d.cli(&["status", "idle"]).status.code(), Some(3));
    d.ok(&["start", "idle"]);
    d.wait_main_pid("idle");
    assert_eq!(d.cli(&["status", "idle"]).status.code(), Some(0));
    d.ok(&["stop", "idle"]);
    assert_eq!(d.cli(&["status", "idle"]).status.code(), Some(3));
    let out = d.cli(&["start", "nosuch"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("unit \"nosuch.service\" not found in "));
}

#[test]
fn oneshot_start_returns_when_it_finished() {
    let mut d = Daemon::start();
    let mark = d.path().join("ran");
    d.write_unit(
        "once.service",
        &format!(
            "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'sleep 0.2; echo x > {}'\n",
            mark.display()
        ),
    );
    d.ok(&["start", "once"]);
    assert!(mark.exists(), "start replied before the oneshot finished");
    let st = d.status_json("once");
    assert_eq!(st["state"], "inactive");
    assert_eq!(st["result"], "success");

    d.write_unit(
        "stay.service",
        "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n",
    );
    d.ok(&["start", "stay"]);
    let st = d.status_json("stay");
    assert_eq!(st["state"], "active");
    assert_eq!(st["sub_state"], "exited");
    let out = d.cli(&["start", "fails"]);
    assert_eq!(out.status.code(), Some(4));
    d.write_unit(
        "fails.service",
        "[Service]\nType=oneshot\nExecStart=/bin/false\n",
    );
    let out = d.cli(&["start", "fails"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("fails.service failed to start"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_executable_fails_the_start_with_203_exec() {
    let mut d = Daemon::start();
    d.write_unit(
        "ghost.service",
        "[Service]\nExecStart=/usr/bin/no-such-program-here\n",
    );
    let out = d.cli(&["start", "ghost"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "ghost.service failed to start: /usr/bin/no-such-program-here: No such file or directory (203/EXEC)"
        ),
        "{}",
        stderr(&out)
    );
    let st = d.status_json("ghost");
    assert_eq!(st["state"], "failed");
    assert_eq!(st["last_exit"], "exited, status=203/EXEC");
}
