//! Schedules of `daimon run --on-calendar/--cron` and `daimon import crontab`:
//! checking them before anything is sent, the timer unit text that carries
//! them, and when they run next.
//!
//! A scheduled job is a service and a timer of the same name, as systemd-run
//! makes them (systemd.timer(5)): the timer is what is started and enabled,
//! the service is `Type=oneshot` and runs once per elapse.

use std::fmt::Write as _;

use daimon_unit::calendar::CalendarSpec;
use daimon_unit::cron::{CronSchedule, Trigger};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::error::{CliError, CliResult};
use crate::render::{span, timestamp};
use crate::run::plain_value;

/// When a job runs, and how the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub trigger: Trigger,
    /// As written: `daily`, `cron 30 2 * * *` (for the timer's description).
    pub source: String,
}

impl Schedule {
    /// A cron schedule (already parsed), in `time_zone` if one is given.
    pub fn from_cron(cron: &CronSchedule, text: &str, time_zone: Option<&str>) -> Schedule {
        let mut source = format!("cron {text}");
        if let Some(tz) = time_zone {
            let _ = write!(source, " ({tz})");
        }
        Schedule {
            trigger: cron.trigger(time_zone),
            source,
        }
    }
}

/// The examples appended to an `--on-calendar` error.
const CALENDAR_EXAMPLES: &str = "expected e.g. daily, Mon..Fri 09:00, *-*-* 02:30:00, *:0/15";

/// `--on-calendar` (repeatable) or `--cron`, checked here so that a typo is a
/// one-line error naming the argument before anything is sent.
pub fn from_run_args(on_calendar: &[String], cron: Option<&str>) -> CliResult<Option<Schedule>> {
    if let Some(text) = cron {
        let parsed = CronSchedule::parse(text).map_err(|e| {
            let words = text.split_ascii_whitespace().count();
            let hint = if words < 5 && !text.trim_start().starts_with('@') {
                "; quote the whole schedule: --cron \"30 2 * * *\""
            } else {
                ""
            };
            CliError::fail(format!("invalid --cron \"{text}\": {e}{hint}"))
        })?;
        let schedule = Schedule::from_cron(&parsed, text.trim(), None);
        if let Trigger::Calendar(exprs) = &schedule.trigger {
            never_runs_check(exprs, || format!("--cron \"{text}\""))?;
        }
        return Ok(Some(schedule));
    }
    if on_calendar.is_empty() {
        return Ok(None);
    }
    for v in on_calendar {
        CalendarSpec::parse(v).map_err(|e| {
            CliError::fail(format!(
                "invalid --on-calendar \"{v}\": {}; {CALENDAR_EXAMPLES}",
                e.reason()
            ))
        })?;
    }
    never_runs_check(on_calendar, || {
        let all: Vec<String> = on_calendar
            .iter()
            .map(|v| format!("--on-calendar \"{v}\""))
            .collect();
        all.join(" ")
    })?;
    Ok(Some(Schedule {
        trigger: Trigger::Calendar(on_calendar.to_vec()),
        source: on_calendar.join(", "),
    }))
}

/// A schedule that never elapses (`0 0 31 2 *`, a date in the past) is
/// refused: a timer for it would wait forever.
fn never_runs_check(exprs: &[String], what: impl Fn() -> String) -> CliResult<()> {
    let trigger = Trigger::Calendar(exprs.to_vec());
    if next_run(&trigger, Timestamp::now(), &local_zone()).is_none() {
        return Err(CliError::fail(format!(
            "{} never runs: no future time matches it",
            what()
        )));
    }
    Ok(())
}

/// The time zone times are shown in (the machine's, else UTC).
pub fn local_zone() -> TimeZone {
    TimeZone::try_system().unwrap_or(TimeZone::UTC)
}

/// The text of `NAME.timer` activating `service` (full name).
///
/// `Persistent=true`: a run missed while the machine was off happens once it
/// is back (anacron's promise, which cron users want). `AccuracySec=1s`:
/// systemd's default of 1min would start jobs up to a minute late.
pub fn timer_text(service: &str, schedule: &Schedule) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "[Unit]\nDescription=Schedule of {service}: {}\n\n[Timer]",
        plain_value(&schedule.source)
    );
    for d in schedule.trigger.directives() {
        let _ = writeln!(text, "{d}");
    }
    if matches!(schedule.trigger, Trigger::Calendar(_)) {
        text.push_str("Persistent=true\n");
    }
    let _ = writeln!(text, "AccuracySec=1s\nUnit={service}");
    text.push_str("\n[Install]\nWantedBy=timers.target\n");
    text
}

/// The earliest next elapse of the trigger after `now` (None for a startup
/// trigger, or a calendar that never elapses again).
pub fn next_run(trigger: &Trigger, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    match trigger {
        Trigger::Startup => None,
        Trigger::Calendar(exprs) => exprs
            .iter()
            .filter_map(|e| CalendarSpec::parse(e).ok()?.next_elapse_in(now, tz))
            .min(),
    }
}

/// `backup.timer: next run Sat 2026-11-22 02:30:00 UTC (in 13h); logs: daimon logs backup`.
pub fn next_run_line(name: &str, trigger: &Trigger, now: Timestamp, tz: &TimeZone) -> String {
    let when = match (trigger, next_run(trigger, now, tz)) {
        (Trigger::Startup, _) => "runs whenever the daemon starts".to_owned(),
        (_, Some(t)) => format!(
            "next run {} (in {})",
            timestamp(t, tz),
            span(t.as_second() - now.as_second())
        ),
        (_, None) => "never runs again".to_owned(),
    };
    format!("{name}.timer: {when}; logs: daimon logs {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn err(on_calendar: &[&str], cron: Option<&str>) -> String {
        let v: Vec<String> = on_calendar.iter().map(|s| s.to_string()).collect();
        from_run_args(&v, cron).expect_err("invalid").message
    }

    #[test]
    fn arguments_are_checked_before_anything_is_sent() {
        assert_eq!(
            err(&["daily", "dayly"], None),
            "invalid --on-calendar \"dayly\": unknown weekday or keyword \"dayly\"; expected e.g. daily, Mon..Fri 09:00, *-*-* 02:30:00, *:0/15"
        );
        assert_eq!(
            err(&[], Some("30 25 * * *")),
            "invalid --cron \"30 25 * * *\": cron field 2 (hour) \"25\": expected 0-23"
        );
        assert!(
            err(&[], Some("30")).ends_with("; quote the whole schedule: --cron \"30 2 * * *\""),
            "{}",
            err(&[], Some("30"))
        );
        assert_eq!(
            err(&[], Some("0 0 31 2 *")),
            "--cron \"0 0 31 2 *\" never runs: no future time matches it"
        );
        assert_eq!(
            err(&["2001-01-01"], None),
            "--on-calendar \"2001-01-01\" never runs: no future time matches it"
        );
        assert_eq!(from_run_args(&[], None), Ok(None));
    }

    #[test]
    fn timer_text_for_calendar_and_reboot() {
        let v = vec!["Mon..Fri 09:00".to_string(), "Sat 12:00".to_string()];
        let s = from_run_args(&v, None).expect("valid").expect("some");
        assert_eq!(
            timer_text("report.service", &s),
            "[Unit]\nDescription=Schedule of report.service: Mon..Fri 09:00, Sat 12:00\n\n\
             [Timer]\nOnCalendar=Mon..Fri 09:00\nOnCalendar=Sat 12:00\nPersistent=true\n\
             AccuracySec=1s\nUnit=report.service\n\n[Install]\nWantedBy=timers.target\n"
        );
        let s = from_run_args(&[], Some("@reboot"))
            .expect("valid")
            .expect("some");
        assert_eq!(
            timer_text("warm.service", &s),
            "[Unit]\nDescription=Schedule of warm.service: cron @reboot\n\n\
             [Timer]\nOnStartupSec=0\nAccuracySec=1s\nUnit=warm.service\n\n\
             [Install]\nWantedBy=timers.target\n"
        );
    }

    /// The timer text is a valid timer for the unit-file parser, without
    /// warnings.
    #[test]
    fn timer_text_parses_cleanly() {
        let s = from_run_args(&[], Some("*/15 * 1 * mon-fri"))
            .expect("valid")
            .expect("some");
        let text = timer_text("backup.service", &s);
        let spec = daimon_unit::SpecifierContext::example();
        let loaded = daimon_unit::parse_unit(
            "backup.timer",
            std::path::Path::new("/units/backup.timer"),
            text.as_bytes(),
            &[],
            &spec,
        );
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let unit = loaded.unit.expect("unit");
        let timer = unit.timer().expect("a timer");
        assert_eq!(
            timer.on_calendar,
            ["Mon..Fri *-*-* *:00/15:00", "*-*-01 *:00/15:00"]
        );
        assert!(timer.persistent);
        assert_eq!(timer.unit, "backup.service");
    }

    #[test]
    fn next_run_lines() {
        let now = at("2026-11-21T13:25:00Z");
        let tz = TimeZone::UTC;
        let daily = Schedule::from_cron(
            &CronSchedule::parse("30 2 * * *").expect("valid"),
            "30 2 * * *",
            None,
        );
        assert_eq!(
            next_run_line("backup", &daily.trigger, now, &tz),
            "backup.timer: next run Sun 2026-11-22 02:30:00 UTC (in 13h 5min); logs: daimon logs backup"
        );
        let reboot = Schedule::from_cron(&CronSchedule::Reboot, "@reboot", None);
        assert_eq!(
            next_run_line("warm", &reboot.trigger, now, &tz),
            "warm.timer: runs whenever the daemon starts; logs: daimon logs warm"
        );
        // Two expressions (day-of-month or weekday): the earlier one counts.
        let either = Trigger::Calendar(vec!["Mon *-*-* 09:00:00".into(), "*-*-01 09:00:00".into()]);
        assert_eq!(
            next_run(&either, now, &tz),
            Some(at("2026-11-23T09:00:00Z"))
        );
        assert_eq!(
            next_run(&either, at("2026-11-30T10:00:00Z"), &tz),
            Some(at("2026-12-01T09:00:00Z"))
        );
    }
}
