//! Layout tests of `render`: the exact text people see, with fixed times.

use super::detail::restart_line;
use super::*;
use daimon_proto::{CatFile, RestartInfo, UnitRow};

fn unit(name: &str, state: ActiveState) -> UnitStatus {
    UnitStatus {
        name: name.into(),
        description: Some(format!("{name} daemon")),
        load_state: "loaded".into(),
        state,
        sub_state: match state {
            ActiveState::Active => "running".into(),
            ActiveState::Failed => "failed".into(),
            _ => "dead".into(),
        },
        enabled: "enabled".into(),
        pid: (state == ActiveState::Active).then_some(4242),
        restarts: 0,
        since: Some("2026-11-21T06:00:00Z".into()),
        result: "success".into(),
        status_text: None,
        errno: None,
        memory_bytes: (state == ActiveState::Active).then_some(31 * 1024 * 1024 + 200 * 1024),
        cpu_usec: (state == ActiveState::Active && name.ends_with(".service")).then_some(1_234_000),
        tasks: vec![],
        cgroup: None,
        last_exit: None,
        reason: None,
        fragment_path: Some(format!("/home/u/.config/daimon/units/{name}")),
        logs_dropped: None,
        logs_dropped_lines: None,
        recent_logs: vec![],
        timer: None,
        last_run: None,
        earlier_runs: Vec::new(),
        restart_policy: None,
    }
}

fn now() -> Timestamp {
    "2026-11-21T07:03:05Z".parse().expect("time")
}

const PLAIN: Style = Style { color: false };

#[test]
fn sizes_and_spans() {
    assert_eq!(bytes(512), "512B");
    assert_eq!(bytes(31 * 1024 * 1024 + 200 * 1024), "31M");
    assert_eq!(bytes(3 * 1024 * 1024 + 300 * 1024), "3.3M");
    assert_eq!(span(45), "45s");
    assert_eq!(span(185), "3min 5s");
    assert_eq!(span(7800), "2h 10min");
    assert_eq!(span(86400 + 7200), "1 day 2h");
    assert_eq!(span(3 * 86400), "3 days");
    assert_eq!(cpu(230_000), "230ms");
    assert_eq!(cpu(1_234_000), "1.234s");
}

#[test]
fn table() {
    let list = vec![
        unit("web.service", ActiveState::Active),
        unit("backup.service", ActiveState::Failed),
    ];
    assert_eq!(
        status_table(&list, now(), PLAIN),
        "\
UNIT           LOAD   ACTIVE SUB     PID  RESTARTS UPTIME  MEM CPU    DESCRIPTION
web.service    loaded active running 4242 0        1h 3min 31M 1.234s web.service daemon
backup.service loaded failed failed  -    0        -       -   -      backup.service daemon

2 units listed.
"
    );
}

/// The brief answer's rows render exactly as full statuses do.
#[test]
fn brief_rows_render_as_the_full_table() {
    let mut web = unit("web.service", ActiveState::Active);
    web.description = Some("Wéb frontend".into());
    let mut idle = unit("idle.service", ActiveState::Inactive);
    idle.description = None;
    let list = vec![web, unit("backup.service", ActiveState::Failed), idle];
    let rows: Vec<UnitRow> = list.iter().map(super::status_table::brief_row).collect();
    for style in [PLAIN, Style { color: true }] {
        assert_eq!(
            status_rows(&rows, now(), style),
            status_table(&list, now(), style)
        );
    }
    assert_eq!(
        status_rows(&rows, now(), PLAIN),
        "\
UNIT           LOAD   ACTIVE   SUB     PID  RESTARTS UPTIME  MEM CPU    DESCRIPTION
web.service    loaded active   running 4242 0        1h 3min 31M 1.234s Wéb frontend
backup.service loaded failed   failed  -    0        -       -   -      backup.service daemon
idle.service   loaded inactive dead    -    0        -       -   -

3 units listed.
"
    );
    assert_eq!(
        status_rows(&[], now(), PLAIN),
        status_table(&[], now(), PLAIN)
    );
}

#[test]
fn detail() {
    let mut st = unit("bot.service", ActiveState::Active);
    st.restarts = 2;
    st.last_exit = Some("exited, status=1/FAILURE".into());
    st.tasks = vec![4242, 4250];
    st.cpu_usec = Some(1_500_000);
    st.status_text = Some("Ready".into());
    st.recent_logs = vec!["Nov 21 06:59:00 host bot[4242]: hello".into()];
    assert_eq!(
        status_detail(&st, now(), &TimeZone::UTC, PLAIN),
        "\
● bot.service - bot.service daemon
     Loaded: loaded (/home/u/.config/daimon/units/bot.service; enabled)
     Active: active (running) since Sat 2026-11-21 06:00:00 UTC; 1h 3min ago
   Main PID: 4242
      Tasks: 2 (4242 4250)
     Memory: 31M
        CPU: 1.500s
   Restarts: 2 (last exit: exited, status=1/FAILURE)
     Status: \"Ready\"

Nov 21 06:59:00 host bot[4242]: hello
"
    );
}

#[test]
fn detail_of_a_failed_unit() {
    let mut st = unit("backup.service", ActiveState::Failed);
    st.result = "exit-code".into();
    st.logs_dropped = Some("12 lines dropped: disk full".into());
    assert_eq!(
        status_detail(&st, now(), &TimeZone::UTC, PLAIN),
        "\
● backup.service - backup.service daemon
     Loaded: loaded (/home/u/.config/daimon/units/backup.service; enabled)
     Active: failed (Result: exit-code) since Sat 2026-11-21 06:00:00 UTC; 1h 3min ago
       Logs: 12 lines dropped: disk full
"
    );
}

#[test]
fn colours_only_when_asked() {
    let list = vec![unit("web.service", ActiveState::Active)];
    let coloured = status_table(&list, now(), Style { color: true });
    assert!(coloured.contains("\x1b[1;32mactive\x1b[0m"));
    assert!(!status_table(&list, now(), PLAIN).contains('\x1b'));
}

#[test]
fn cat_layout() {
    let files = vec![
        CatFile {
            path: "/u/web.service".into(),
            text: "[Service]\nExecStart=/bin/web\n".into(),
        },
        CatFile {
            path: "/u/web.service.d/env.conf".into(),
            text: "[Service]\nEnvironment=A=1".into(),
        },
    ];
    assert_eq!(
        cat(&files, PLAIN),
        "# /u/web.service\n[Service]\nExecStart=/bin/web\n\n# /u/web.service.d/env.conf\n[Service]\nEnvironment=A=1\n"
    );
}

fn backup_run() -> daimon_proto::RunSummary {
    daimon_proto::RunSummary {
        invocation: "0f3c9a".into(),
        started: "2026-11-21T02:30:00Z".into(),
        finished: Some("2026-11-21T02:30:01Z".into()),
        duration_usec: Some(1_234_000),
        result: Some("success".into()),
        exit: Some("exited, status=0/SUCCESS".into()),
    }
}

#[test]
fn detail_of_a_timer() {
    let mut st = unit("backup.timer", ActiveState::Active);
    st.sub_state = "waiting".into();
    st.pid = None;
    st.memory_bytes = None;
    st.description = Some("Schedule of backup.service: cron 30 2 * * *".into());
    st.timer = Some(daimon_proto::TimerInfo {
        unit: "backup.timer".into(),
        activates: "backup.service".into(),
        state: ActiveState::Active,
        sub_state: "waiting".into(),
        next: Some("2026-11-22T02:30:00Z".into()),
        left_usec: Some(70_000_000_000),
        last: Some("2026-11-21T02:30:00Z".into()),
        passed_usec: Some(16_000_000_000),
        triggers: vec!["OnCalendar=*-*-* 02:30:00".into()],
        persistent: true,
        last_run: Some(backup_run()),
    });
    assert_eq!(
        status_detail(&st, now(), &TimeZone::UTC, PLAIN),
        "\
● backup.timer - Schedule of backup.service: cron 30 2 * * *
     Loaded: loaded (/home/u/.config/daimon/units/backup.timer; enabled)
     Active: active (waiting) since Sat 2026-11-21 06:00:00 UTC; 1h 3min ago
    Trigger: Sun 2026-11-22 02:30:00 UTC; 19h 26min left
   Triggers: ● backup.service
   Last run: Sat 2026-11-21 02:30:00 UTC, took 1.2s, exited, status=0/SUCCESS (result success)
"
    );
    // Nothing scheduled any more, and the service running right now.
    let t = st.timer.as_mut().expect("timer");
    t.next = None;
    t.sub_state = "running".into();
    t.last_run = Some(daimon_proto::RunSummary {
        finished: None,
        duration_usec: None,
        result: None,
        exit: None,
        started: "2026-11-21T07:02:00Z".into(),
        ..backup_run()
    });
    let text = status_detail(&st, now(), &TimeZone::UTC, PLAIN);
    assert!(
        text.contains(
            "    Trigger: n/a\n   Triggers: ● backup.service\n   Last run: Sat 2026-11-21 07:02:00 UTC, running for 1min 5s\n"
        ),
        "{text}"
    );
    let coloured = status_detail(&st, now(), &TimeZone::UTC, Style { color: true });
    assert!(coloured.contains("Triggers: \x1b[1;32m●\x1b[0m backup.service"));
}

#[test]
fn detail_of_a_scheduled_service_shows_its_last_run() {
    let mut st = unit("backup.service", ActiveState::Inactive);
    st.pid = None;
    st.last_run = Some(daimon_proto::RunSummary {
        duration_usec: Some(200_000_000),
        result: Some("exit-code".into()),
        exit: Some("exited, status=1/FAILURE".into()),
        ..backup_run()
    });
    assert_eq!(
        status_detail(&st, now(), &TimeZone::UTC, PLAIN),
        "\
○ backup.service - backup.service daemon
     Loaded: loaded (/home/u/.config/daimon/units/backup.service; enabled)
     Active: inactive (dead) since Sat 2026-11-21 06:00:00 UTC; 1h 3min ago
   Last run: Sat 2026-11-21 02:30:00 UTC, took 3min 20s, exited, status=1/FAILURE (result exit-code)
"
    );
}

#[test]
fn run_durations() {
    assert_eq!(run_duration(230_000), "230ms");
    assert_eq!(run_duration(1_234_000), "1.2s");
    assert_eq!(run_duration(59_900_000), "59.9s");
    assert_eq!(run_duration(185_000_000), "3min 5s");
}

fn restart(policy: &str, next: Option<u64>, max: Option<u64>, limit: &str) -> RestartInfo {
    RestartInfo {
        policy: policy.into(),
        delay_usec: 100_000,
        max_delay_usec: max,
        next_try_usec: next,
        start_limit: limit.into(),
    }
}

#[test]
fn restart_policy_lines() {
    let always = |next| restart("always", next, Some(30_000_000), "off");
    assert_eq!(
        restart_line(&always(Some(3_240_000))),
        "always (next try in 3.2s, delay grows to 30s, no start limit)"
    );
    assert_eq!(
        restart_line(&always(None)),
        "always (after 100ms, growing to 30s, no start limit)"
    );
    assert_eq!(
        restart_line(&restart("on-failure", None, None, "5/10s")),
        "on-failure (after 100ms, at most 5 starts in 10s)"
    );
    assert_eq!(
        restart_line(&restart("on-failure", Some(40_000), None, "5/10s")),
        "on-failure (next try in 40ms, at most 5 starts in 10s)"
    );
    assert_eq!(restart_line(&restart("no", None, None, "5/10s")), "no");
    assert_eq!(delay(90_000_000), "1min 30s");

    // In the detail view, just above the count of restarts.
    let mut st = unit("bot.service", ActiveState::Activating);
    st.sub_state = "auto-restart".into();
    st.restarts = 3;
    st.restart_policy = Some(always(Some(400_000)));
    let text = status_detail(&st, now(), &TimeZone::UTC, PLAIN);
    assert!(
        text.contains(
            "\n    Restart: always (next try in 400ms, delay grows to 30s, no start limit)\n   Restarts: 3\n"
        ),
        "{text}"
    );
}
