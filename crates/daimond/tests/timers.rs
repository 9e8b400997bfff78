//! Timer units through a real daimond: short real timers end to end, runs that
//! never overlap, Persistent= catch-up across a daemon restart, and what
//! `status` shows of a timer.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::{DEADLINE, Daemon, wait_until};

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// A oneshot job appending `body`'s output to `out`.
fn job(d: &Daemon, name: &str, body: &str) {
    let script = d.script(&format!("{name}.sh"), body);
    d.write_unit(
        &format!("{name}.service"),
        &format!("[Service]\nType=oneshot\nExecStart={}\n", script.display()),
    );
}

#[test]
fn on_active_sec_runs_the_service_once_then_the_timer_has_elapsed() {
    let mut d = Daemon::start();
    let out = d.path().join("out");
    job(&d, "tick", &format!("echo tick >> {}", out.display()));
    d.write_unit("tick.timer", "[Timer]\nOnActiveSec=1s\nAccuracySec=1ms\n");
    d.ok(&["start", "tick.timer"]);
    let st = d.status_json("tick.timer");
    assert_eq!(st["state"], "active");
    assert_eq!(st["sub_state"], "waiting");
    assert_eq!(st["timer"]["activates"], "tick.service");
    assert!(
        st["timer"]["left_usec"]
            .as_u64()
            .is_some_and(|l| l <= 1_000_000)
    );
    wait_until("the timer to run tick.service", DEADLINE, || {
        lines(&out).len() == 1
    });
    wait_until("the timer to see the run end", DEADLINE, || {
        d.status_json("tick.timer")["sub_state"] == "elapsed"
    });
    let st = d.status_json("tick.timer");
    let run = &st["timer"]["last_run"];
    assert_eq!(run["result"], "success", "{st}");
    assert_eq!(run["exit"], "exited, status=0/SUCCESS", "{st}");
    assert!(run["duration_usec"].as_u64().is_some());
    assert!(st["timer"]["last"].is_string());
    assert_eq!(lines(&out), ["tick"]);
}

#[test]
fn a_calendar_timer_every_two_seconds_runs_again_and_again() {
    let mut d = Daemon::start();
    let out = d.path().join("out");
    job(
        &d,
        "beat",
        &format!("echo \"$INVOCATION_ID\" >> {}", out.display()),
    );
    d.write_unit(
        "beat.timer",
        "[Timer]\nOnCalendar=*:*:0/2\nAccuracySec=1ms\n",
    );
    d.ok(&["start", "beat.timer"]);
    wait_until("two runs of beat.service", Duration::from_secs(15), || {
        lines(&out).len() >= 2
    });
    let ids = lines(&out);
    assert_ne!(ids[0], ids[1], "each run has its own invocation id");
    // Each run's output is in the store under the service, with its id.
    let logs = d.ok(&["logs", "beat", "-o", "json"]);
    assert!(
        logs.contains(&ids[0]),
        "the first run's start is logged with its invocation id"
    );
    d.ok(&["stop", "beat.timer"]);
    let st = d.status_json("beat.timer");
    assert_eq!(st["state"], "inactive");
}

#[test]
fn a_timer_never_starts_its_service_while_the_last_run_goes_on() {
    let mut d = Daemon::start();
    let out = d.path().join("out");
    // Each run takes 2.5 s; the timer elapses every second.
    job(
        &d,
        "slow",
        &format!(
            "echo start >> {o}\nsleep 2.5\necho end >> {o}",
            o = out.display()
        ),
    );
    d.write_unit("slow.timer", "[Timer]\nOnCalendar=*:*:*\nAccuracySec=1ms\n");
    d.ok(&["start", "slow.timer"]);
    wait_until(
        "two runs of slow.service to end",
        Duration::from_secs(20),
        || lines(&out).iter().filter(|l| *l == "end").count() >= 2,
    );
    d.ok(&["stop", "slow.timer"]);
    let seen = lines(&out);
    for pair in seen.chunks(2) {
        assert_eq!(pair[0], "start", "{seen:?}");
        if pair.len() == 2 {
            assert_eq!(pair[1], "end", "runs overlapped: {seen:?}");
        }
    }
}

/// Writes the stamp a Persistent= timer leaves (RFC 3339 time of its last
/// trigger), as if it last ran `ago` before now.
fn last_ran(d: &Daemon, timer: &str, ago: Duration) {
    let dir = d.path().join("state/timers");
    fs::create_dir_all(&dir).expect("timers dir");
    let at = jiff::Timestamp::now() - jiff::SignedDuration::try_from(ago).expect("span");
    fs::write(dir.join(format!("stamp-{timer}")), format!("{at}\n")).expect("stamp");
}

#[test]
fn a_persistent_timer_catches_up_a_missed_run_once_at_daemon_start() {
    let mut d = Daemon::home_only();
    let out = d.path().join("out");
    for name in ["kept", "plain"] {
        job(&d, name, &format!("echo {name} >> {}", out.display()));
        let persistent = if name == "kept" {
            "Persistent=true\n"
        } else {
            ""
        };
        d.write_unit(
            &format!("{name}.timer"),
            &format!(
                "[Timer]\nOnCalendar=hourly\n{persistent}\n[Install]\nWantedBy=timers.target\n"
            ),
        );
        // Both last ran three hours ago: two elapses were missed while down.
        last_ran(&d, &format!("{name}.timer"), Duration::from_secs(3 * 3600));
    }
    d.spawn_daemon();
    d.ok(&["enable", "kept.timer", "plain.timer"]);
    d.ok(&["shutdown"]);
    let pid_file = d.pid_file();
    wait_until("the first daimond to exit", DEADLINE, || !pid_file.exists());
    d.spawn_daemon();
    wait_until("the missed run of kept.service", DEADLINE, || {
        lines(&out).contains(&"kept".to_string())
    });
    wait_until("kept.timer to wait for its next elapse", DEADLINE, || {
        d.status_json("kept.timer")["sub_state"] == "waiting"
    });
    let st = d.status_json("kept.timer");
    let left = st["timer"]["left_usec"].as_u64().expect("next elapse");
    assert!(left > 0 && left <= 3600 * 1_000_000 + 60_000_000, "{st}");
    // One catch-up run, not one per missed elapse; the timer without
    // Persistent= does not catch up at all.
    assert_eq!(lines(&out), ["kept"]);
    let plain = d.status_json("plain.timer");
    assert_eq!(plain["sub_state"], "waiting", "{plain}");
}

#[test]
fn a_started_timer_is_started_again_by_a_restarted_daemon() {
    let mut d = Daemon::start();
    job(&d, "later", "true");
    d.write_unit("later.timer", "[Timer]\nOnCalendar=yearly\n");
    d.ok(&["start", "later.timer"]);
    d.ok(&["shutdown"]);
    let pid_file = d.pid_file();
    wait_until("daimond to exit", DEADLINE, || !pid_file.exists());
    d.spawn_daemon();
    let st = d.status_json("later.timer");
    assert_eq!(st["state"], "active", "{st}");
    assert_eq!(st["timer"]["triggers"][0], "OnCalendar=yearly");
}

#[test]
fn a_timer_for_a_missing_unit_or_without_triggers_is_refused() {
    let mut d = Daemon::start();
    d.write_unit("orphan.timer", "[Timer]\nOnCalendar=daily\n");
    let out = d.cli(&["start", "orphan.timer"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("orphan.service, which is not loaded"), "{err}");
    job(&d, "idle", "true");
    d.write_unit("idle.timer", "[Timer]\nPersistent=true\n");
    let out = d.cli(&["start", "idle.timer"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("timer has no OnCalendar="), "{err}");
}

#[test]
fn daimon_run_on_calendar_saves_and_runs_a_scheduled_job() {
    let mut d = Daemon::start();
    let out = d.path().join("out");
    let dir = d.path().to_path_buf();
    let cmd = format!("echo \"$INVOCATION_ID\" >> {}", out.display());
    let said = String::from_utf8_lossy(
        &d.cli_in(
            &dir,
            &[
                "run",
                "--name",
                "beat",
                "--on-calendar",
                "*:*:0/2",
                "--save",
                "--",
                "sh",
                "-c",
                &cmd,
            ],
        )
        .stdout,
    )
    .into_owned();
    assert!(said.contains("beat.timer: next run"), "{said}");
    assert!(d.units_dir().join("beat.timer").exists());
    assert!(d.units_dir().join("beat.service").exists());
    wait_until("two scheduled runs", Duration::from_secs(15), || {
        lines(&out).len() >= 2
    });
    let timers: serde_json::Value =
        serde_json::from_str(&d.ok(&["timers", "-o", "json"])).expect("json");
    let beat = timers
        .as_array()
        .and_then(|a| a.iter().find(|t| t["unit"] == "beat.timer"))
        .expect("beat.timer listed");
    assert_eq!(beat["activates"], "beat.service");
    assert!(beat["last"].is_string(), "{beat}");
    let table = d.ok(&["timers"]);
    assert!(table.starts_with("NEXT"), "{table}");
    assert!(
        table.contains("beat.timer") && table.contains("1 timer listed."),
        "{table}"
    );
}

#[test]
fn a_crontab_is_imported_as_enabled_timers_that_run() {
    let mut d = Daemon::start();
    let out = d.path().join("out");
    let crontab = d.path().join("crontab");
    fs::write(
        &crontab,
        format!(
            "# m h dom mon dow command\nMAILTO=me@example.com\nGREETING=\"hello from cron\"\n\n\
             30 2 * * * /usr/bin/env true nightly\n\
             */15 9-17 * * mon-fri echo work\n\
             @reboot echo \"$GREETING\" >> {o}\n\
             0 0 * * * date +%s >> {o}\n",
            o = out.display()
        ),
    )
    .expect("crontab");
    let res = d.cli(&["import", "crontab", &crontab.display().to_string()]);
    let err = String::from_utf8_lossy(&res.stderr).into_owned();
    assert_eq!(
        res.status.code(),
        Some(1),
        "the % line is not imported: {err}"
    );
    assert!(err.contains(":2: note: MAILTO"), "{err}");
    assert!(err.contains(":8: skipped"), "{err}");
    // @reboot runs when the daemon starts; installed while it runs, at once.
    wait_until("the @reboot job to run", DEADLINE, || {
        lines(&out) == ["hello from cron"]
    });
    let timers: serde_json::Value =
        serde_json::from_str(&d.ok(&["timers", "-o", "json"])).expect("json");
    let units: Vec<&str> = timers
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["unit"].as_str())
        .collect();
    assert_eq!(units.len(), 3, "{timers}");
    let nightly = timers
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|t| t["triggers"][0] == "OnCalendar=*-*-* 02:30:00")
        })
        .expect("the nightly job");
    assert_eq!(nightly["state"], "active");
    assert!(
        nightly["left_usec"]
            .as_u64()
            .is_some_and(|l| l <= 86_400_000_000)
    );
    // Saved and enabled: a new daemon starts them again.
    let list = d.ok(&["list"]);
    assert!(list.contains("enabled"), "{list}");
}

#[test]
fn a_transient_scheduled_job_survives_daimond_killed_with_sigkill() {
    let mut d = Daemon::start();
    let out = d.path().join("out");
    let dir = d.path().to_path_buf();
    let cmd = format!("echo run >> {}", out.display());
    d.cli_in(
        &dir,
        &[
            "run",
            "--name",
            "beat",
            "--on-calendar",
            "*:*:0/2",
            "--",
            "sh",
            "-c",
            &cmd,
        ],
    );
    d.kill_daemon();
    d.spawn_daemon();
    let st = d.status_json("beat.timer");
    assert_eq!(st["state"], "active", "{st}");
    assert_eq!(st["load_state"], "transient", "{st}");
    let before = lines(&out).len();
    wait_until(
        "a run scheduled by the new daimond",
        Duration::from_secs(15),
        || lines(&out).len() > before,
    );
}
