//! The schedule with an injected clock: hours, days and DST changes pass in
//! microseconds.

use std::time::{Duration, Instant};

use daimon_unit::TimerSection;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn timer(edit: impl FnOnce(&mut TimerSection)) -> Plan {
    let mut t = TimerSection::new("job.service".into());
    edit(&mut t);
    let (plan, errors) = Plan::new(&t);
    assert!(errors.is_empty(), "{errors:?}");
    plan
}

/// A fake clock: one monotonic origin, the wall clock set at will.
struct Fake {
    origin: Instant,
    wall0: Timestamp,
}

impl Fake {
    fn new(wall: &str) -> Fake {
        Fake {
            origin: Instant::now(),
            wall0: ts(wall),
        }
    }

    /// Both clocks `secs` after the start.
    fn at(&self, secs: u64) -> Now {
        Now {
            wall: self.wall0 + jiff::SignedDuration::from_secs(secs as i64),
            mono: self.origin + Duration::from_secs(secs),
        }
    }

    fn history(&self, activated: u64) -> History {
        History {
            activated: self.at(activated),
            daemon_start: self.origin,
            last_trigger_wall: None,
            last_trigger_mono: None,
            unit_started: None,
            unit_stopped: None,
        }
    }
}

/// Runs a timer as the owner does: wait for the next elapse, trigger, repeat.
/// Returns the wall-clock times it triggered at, up to `until`.
fn run(plan: &Plan, tz: &TimeZone, mut h: History, until: Timestamp) -> Vec<Timestamp> {
    let mut fired = Vec::new();
    loop {
        let next = next_elapse(plan, &h, tz);
        let Some(at) = next.as_wall(h.activated) else {
            break;
        };
        if at > until || fired.len() > 1000 {
            break;
        }
        fired.push(at);
        h.last_trigger_wall = Some(at);
    }
    fired
}

#[test]
fn calendar_counts_from_activation_without_a_last_trigger() {
    let c = Fake::new("2026-11-21T10:15:00Z");
    let plan = timer(|t| t.on_calendar = vec!["*-*-* 02:30:00 UTC".into()]);
    let next = next_elapse(&plan, &c.history(0), &TimeZone::UTC);
    assert_eq!(next.wall, Some(ts("2026-11-22T02:30:00Z")));
    assert_eq!(next.mono, None);
}

#[test]
fn persistent_timer_catches_up_a_missed_elapse_once() {
    // Last ran two days ago at 02:30; daimond was down since. Started again at
    // 10:15: the missed elapse is due at once, and only one.
    let c = Fake::new("2026-11-21T10:15:00Z");
    let plan = timer(|t| {
        t.on_calendar = vec!["*-*-* 02:30:00 UTC".into()];
        t.persistent = true;
    });
    let mut h = c.history(0);
    h.last_trigger_wall = Some(ts("2026-11-19T02:30:00Z"));
    let next = next_elapse(&plan, &h, &TimeZone::UTC);
    assert!(next.is_due(c.at(0)), "a missed elapse runs at start");
    // It triggers now; the next one is tomorrow's, not the other missed day.
    h.last_trigger_wall = Some(c.at(0).wall);
    let next = next_elapse(&plan, &h, &TimeZone::UTC);
    assert_eq!(next.wall, Some(ts("2026-11-22T02:30:00Z")));
    assert!(!next.is_due(c.at(0)));
}

#[test]
fn a_timer_without_a_last_trigger_does_not_catch_up() {
    let c = Fake::new("2026-11-21T10:15:00Z");
    let plan = timer(|t| t.on_calendar = vec!["*-*-* 02:30:00 UTC".into()]);
    assert!(!next_elapse(&plan, &c.history(0), &TimeZone::UTC).is_due(c.at(0)));
}

#[test]
fn the_earliest_of_several_calendar_expressions_wins() {
    let c = Fake::new("2026-11-21T10:15:00Z");
    let plan =
        timer(|t| t.on_calendar = vec!["*-*-* 18:00:00 UTC".into(), "*-*-* 12:00:00 UTC".into()]);
    let fired = run(
        &plan,
        &TimeZone::UTC,
        c.history(0),
        ts("2026-11-22T23:00:00Z"),
    );
    let want: Vec<Timestamp> = [
        "2026-11-21T12:00:00Z",
        "2026-11-21T18:00:00Z",
        "2026-11-22T12:00:00Z",
        "2026-11-22T18:00:00Z",
    ]
    .iter()
    .map(|s| ts(s))
    .collect();
    assert_eq!(fired, want);
}

#[test]
fn spring_forward_runs_a_daily_job_once_on_the_short_day() {
    // Europe/Berlin skips 02:00-03:00 on 2026-03-29.
    let tz = TimeZone::get("Europe/Berlin").expect("tzdata");
    let c = Fake::new("2026-03-27T12:00:00Z");
    let plan = timer(|t| t.on_calendar = vec!["*-*-* 02:30:00".into()]);
    let fired = run(&plan, &tz, c.history(0), ts("2026-03-31T12:00:00Z"));
    let local: Vec<String> = fired
        .iter()
        .map(|t| t.to_zoned(tz.clone()).strftime("%F %T %Z").to_string())
        .collect();
    assert_eq!(
        local,
        [
            "2026-03-28 02:30:00 CET",
            "2026-03-30 02:30:00 CEST",
            "2026-03-31 02:30:00 CEST"
        ],
        "02:30 does not exist on the 29th: systemd skips that day"
    );
}

#[test]
fn fall_back_does_not_run_a_daily_job_twice() {
    // Europe/Berlin repeats 02:00-03:00 on 2026-10-25.
    let tz = TimeZone::get("Europe/Berlin").expect("tzdata");
    let c = Fake::new("2026-10-23T12:00:00Z");
    let plan = timer(|t| t.on_calendar = vec!["*-*-* 02:30:00".into()]);
    let fired = run(&plan, &tz, c.history(0), ts("2026-10-27T12:00:00Z"));
    let days: Vec<String> = fired
        .iter()
        .map(|t| t.to_zoned(tz.clone()).strftime("%F").to_string())
        .collect();
    assert_eq!(
        days,
        ["2026-10-24", "2026-10-25", "2026-10-26", "2026-10-27"]
    );
}

#[test]
fn fall_back_runs_an_hourly_job_once_per_local_hour() {
    // 2026-10-25 00:00 CEST is 2026-10-24T22:00Z; the local day lasts 25
    // hours, 02:00-03:00 twice. Like systemd, the repeated hour's second pass
    // does not elapse again: each local hour runs once, 24 runs.
    let tz = TimeZone::get("Europe/Berlin").expect("tzdata");
    let c = Fake::new("2026-10-24T21:59:00Z");
    let plan = timer(|t| t.on_calendar = vec!["hourly".into()]);
    let fired = run(&plan, &tz, c.history(0), ts("2026-10-25T22:59:00Z"));
    let local: Vec<String> = fired
        .iter()
        .map(|t| t.to_zoned(tz.clone()).strftime("%H:%M %Z").to_string())
        .collect();
    assert_eq!(local.len(), 24, "{local:?}");
    assert_eq!(local[2..4], ["02:00 CEST", "03:00 CET"]);
}

#[test]
fn on_active_sec_elapses_once_per_activation() {
    let c = Fake::new("2026-11-21T10:00:00Z");
    let plan = timer(|t| t.on_active = vec![Duration::from_secs(5)]);
    let mut h = c.history(100);
    let next = next_elapse(&plan, &h, &TimeZone::UTC);
    assert_eq!(next.mono, Some(c.at(105).mono));
    assert!(!next.is_due(c.at(104)));
    assert!(next.is_due(c.at(105)));
    h.last_trigger_mono = Some(c.at(105).mono);
    h.last_trigger_wall = Some(c.at(105).wall);
    assert!(
        next_elapse(&plan, &h, &TimeZone::UTC).is_none(),
        "spent: the timer has elapsed"
    );
}

#[test]
fn boot_and_startup_count_from_daemon_start() {
    let c = Fake::new("2026-11-21T10:00:00Z");
    let plan = timer(|t| t.on_boot = vec![Duration::from_secs(60)]);
    // Activated long after: the elapse is in the past and due at once.
    let next = next_elapse(&plan, &c.history(600), &TimeZone::UTC);
    assert_eq!(next.mono, Some(c.at(60).mono));
    assert!(next.is_due(c.at(600)));
}

#[test]
fn on_unit_active_sec_repeats_from_the_last_start() {
    // The classic pair: OnBootSec=15min, OnUnitActiveSec=1h.
    let c = Fake::new("2026-11-21T10:00:00Z");
    let plan = timer(|t| {
        t.on_boot = vec![Duration::from_secs(900)];
        t.on_unit_active = vec![Duration::from_secs(3600)];
    });
    let mut h = c.history(0);
    assert_eq!(
        next_elapse(&plan, &h, &TimeZone::UTC).mono,
        Some(c.at(900).mono),
        "the unit never ran: only the boot trigger counts"
    );
    h.last_trigger_mono = Some(c.at(900).mono);
    h.unit_started = Some(c.at(901).mono);
    assert_eq!(
        next_elapse(&plan, &h, &TimeZone::UTC).mono,
        Some(c.at(4501).mono)
    );
}

#[test]
fn on_unit_inactive_sec_waits_for_the_run_to_end() {
    let c = Fake::new("2026-11-21T10:00:00Z");
    let plan = timer(|t| {
        t.on_active = vec![Duration::ZERO];
        t.on_unit_inactive = vec![Duration::from_secs(30)];
    });
    let mut h = c.history(0);
    h.last_trigger_mono = Some(c.at(0).mono);
    h.unit_started = Some(c.at(0).mono);
    h.unit_stopped = Some(c.at(50).mono);
    assert_eq!(
        next_elapse(&plan, &h, &TimeZone::UTC).mono,
        Some(c.at(80).mono)
    );
}

#[test]
fn the_earlier_of_wall_and_monotonic_wins_on_the_wall_clock() {
    let c = Fake::new("2026-11-21T10:00:00Z");
    let next = Next {
        wall: Some(ts("2026-11-21T12:00:00Z")),
        mono: Some(c.at(60).mono),
    };
    assert_eq!(next.as_wall(c.at(0)), Some(ts("2026-11-21T10:01:00Z")));
}

#[test]
fn wake_up_is_as_late_as_accuracy_allows() {
    let c = Fake::new("2026-11-21T10:00:00Z");
    let next = Next {
        wall: Some(ts("2026-11-21T12:00:00Z")),
        mono: Some(c.at(60).mono),
    };
    let wake = wake_time(next, Duration::from_secs(60));
    assert_eq!(wake.wall, Some(ts("2026-11-21T12:01:00Z")));
    assert_eq!(wake.mono, Some(c.at(120).mono));
}

#[test]
fn randomized_delay_stays_within_its_bound_and_fixed_is_stable() {
    let max = Duration::from_secs(300);
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..200u64 {
        let d = random_delay(max, false, "backup.timer", seed);
        assert!(d < max);
        seen.insert(d.as_secs() / 30);
    }
    assert!(seen.len() >= 8, "spread over the window: {seen:?}");
    let a = random_delay(max, true, "backup.timer", 1);
    let b = random_delay(max, true, "backup.timer", 2);
    assert_eq!(a, b);
    assert_eq!(random_delay(Duration::ZERO, false, "x", 3), Duration::ZERO);
}

#[test]
fn triggers_are_listed_as_written() {
    let plan = timer(|t| {
        t.on_calendar = vec!["daily".into()];
        t.on_boot = vec![Duration::from_secs(90)];
    });
    assert_eq!(plan.triggers(), ["OnCalendar=daily", "OnBootSec=1min 30s"]);
}
