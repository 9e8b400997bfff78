//! `daimon run`'s restart policy end to end: `--restart always` means forever
//! (a growing delay, no start limit), `--start-limit` sets one, and `status`
//! says which policy applies and when the next try comes.

mod common;

use common::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn restart_always_keeps_trying_past_the_start_limit_with_a_growing_delay() {
    let mut d = Daemon::start();
    let dir = d.path().to_path_buf();
    d.script("crash.sh", "echo crashing; exit 1");
    let out = d.cli_in(&dir, &["run", "--restart", "always", "--", "./crash.sh"]);
    // It is failing right away: `run` says so, but the unit keeps going.
    assert!(out.status.code().is_some(), "{}", stderr(&out));
    let text = d.ok(&["cat", "crash.sh"]);
    assert!(text.contains("\nStartLimitIntervalSec=0\n"), "{text}");
    assert!(
        text.contains(
            "\nRestart=always\nRestartSec=100ms\nRestartSteps=8\nRestartMaxDelaySec=30s\n"
        ),
        "{text}"
    );
    // systemd's default limit (5 starts in 10s) would have failed it at the
    // 6th start, within about 1.6s; it goes on.
    wait_until("6 restarts", std::time::Duration::from_secs(20), || {
        d.status_json("crash.sh")["restarts"].as_u64().unwrap_or(0) >= 6
    });
    let st = d.status_json("crash.sh");
    assert_ne!(st["result"], "start-limit-hit", "{st}");
    assert_ne!(st["state"], "failed", "{st}");
    let policy = &st["restart_policy"];
    assert_eq!(policy["policy"], "always", "{st}");
    assert_eq!(policy["delay_usec"], 100_000, "{st}");
    assert_eq!(policy["max_delay_usec"], 30_000_000, "{st}");
    assert_eq!(policy["start_limit"], "off", "{st}");
    // After 6 restarts the wait is 7.2s: it is pending now and says when.
    wait_until("a pending restart", DEADLINE, || {
        d.status_json("crash.sh")["sub_state"] == "auto-restart"
    });
    let st = d.status_json("crash.sh");
    let next = st["restart_policy"]["next_try_usec"]
        .as_u64()
        .expect("next try");
    assert!(next > 0 && next <= 30_000_000, "{st}");
    let out = d.cli(&["status", "crash.sh"]);
    assert_eq!(out.status.code(), Some(3), "activating is not active");
    let detail = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = detail
        .lines()
        .find(|l| l.trim_start().starts_with("Restart:"))
        .unwrap_or_default();
    assert!(
        line.starts_with("    Restart: always (next try in ")
            && line.ends_with(", delay grows to 30s, no start limit)"),
        "{detail}"
    );
}

#[test]
fn start_limit_flag_sets_a_limit_and_bad_values_are_one_line() {
    let mut d = Daemon::start();
    let dir = d.path().to_path_buf();
    d.script("crash.sh", "exit 1");
    d.cli_in(
        &dir,
        &[
            "run",
            "--restart",
            "always",
            "--restart-sec",
            "0",
            "--start-limit",
            "3/1min",
            "--",
            "./crash.sh",
        ],
    );
    wait_until("start-limit-hit", DEADLINE, || {
        d.status_json("crash.sh")["result"] == "start-limit-hit"
    });
    let st = d.status_json("crash.sh");
    assert_eq!(st["restart_policy"]["start_limit"], "3/1min", "{st}");

    // The default policy shows systemd's defaults.
    d.ok(&["run", "--name", "nap", "--", "sleep", "1000"]);
    let st = d.status_json("nap");
    assert_eq!(st["restart_policy"]["policy"], "on-failure", "{st}");
    assert_eq!(st["restart_policy"]["start_limit"], "5/10s", "{st}");
    assert_eq!(
        st["restart_policy"]["max_delay_usec"],
        serde_json::Value::Null
    );

    for bad in ["5", "five/10s", "5/never", "0/10s"] {
        let out = d.cli(&["run", "--start-limit", bad, "--", "sleep", "1"]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("daimon: invalid --start-limit \"{bad}\": ")),
            "{err}"
        );
    }
}

#[test]
fn run_help_says_which_policy_applies() {
    let mut d = Daemon::home_only();
    let help = d.ok(&["run", "--help"]);
    assert!(help.contains("default: on-failure"), "{help}");
    assert!(help.contains("--restart always means forever"), "{help}");
    assert!(help.contains("--start-limit <N/SPAN|off>"), "{help}");
}
