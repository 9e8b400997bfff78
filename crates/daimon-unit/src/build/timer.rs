//! `[Timer]` directives, per systemd.timer(5).

use super::policy::warn_unsupported;
use super::unit::unit_names;
use super::{Cx, Outcome};
use crate::calendar::CalendarSpec;
use crate::model::TimerSection;
use crate::syntax::Entry;
use crate::value::ValueError;
use crate::value::boolean::parse_bool;
use crate::value::timespan::parse_duration;

/// Check an `OnCalendar=` expression with the calendar-event grammar (systemd.time(7)
/// "CALENDAR EVENTS").
fn check_calendar(v: &str) -> Result<(), ValueError> {
    CalendarSpec::parse(v)
        .map(|_| ())
        .map_err(|e| ValueError(e.to_string()))
}

pub(crate) fn apply(t: &mut TimerSection, cx: &mut Cx<'_, '_>, e: &Entry) -> Outcome {
    let key = e.key.as_str();
    let mono = match key {
        "OnActiveSec" => Some(&mut t.on_active),
        "OnBootSec" => Some(&mut t.on_boot),
        "OnStartupSec" => Some(&mut t.on_startup),
        "OnUnitActiveSec" => Some(&mut t.on_unit_active),
        "OnUnitInactiveSec" => Some(&mut t.on_unit_inactive),
        _ => None,
    };
    // systemd.timer(5): an empty assignment to any On*= resets every trigger.
    if (mono.is_some() || key == "OnCalendar") && e.value.is_empty() {
        t.on_active.clear();
        t.on_boot.clear();
        t.on_startup.clear();
        t.on_unit_active.clear();
        t.on_unit_inactive.clear();
        t.on_calendar.clear();
        return Outcome::Done;
    }
    if let Some(list) = mono {
        if let Some(d) = cx.parse(e, parse_duration) {
            list.push(d);
        }
        return Outcome::Done;
    }
    match key {
        "OnCalendar" => {
            if let Some(v) = cx.expanded(e)
                && cx.ok(e, check_calendar(&v)).is_some()
            {
                t.on_calendar.push(v);
            }
        }
        "Persistent" | "FixedRandomDelay" | "RemainAfterElapse" | "OnClockChange"
        | "OnTimezoneChange" | "WakeSystem" => {
            if let Some(b) = cx.parse(e, parse_bool) {
                *match key {
                    "Persistent" => &mut t.persistent,
                    "FixedRandomDelay" => &mut t.fixed_random_delay,
                    "RemainAfterElapse" => &mut t.remain_after_elapse,
                    "OnClockChange" => &mut t.on_clock_change,
                    "OnTimezoneChange" => &mut t.on_timezone_change,
                    _ => &mut t.wake_system,
                } = b;
                if key == "WakeSystem" && b {
                    warn_unsupported(cx, e);
                }
            }
        }
        "RandomizedDelaySec" => {
            if let Some(d) = cx.parse(e, parse_duration) {
                t.randomized_delay = d;
            }
        }
        "AccuracySec" => {
            if let Some(d) = cx.parse(e, parse_duration) {
                // systemd: an accuracy of 0 is raised to 1us.
                t.accuracy = d.max(std::time::Duration::from_micros(1));
            }
        }
        "Unit" => {
            if let Some(mut names) = unit_names(cx, e) {
                match (names.pop(), names.is_empty()) {
                    (Some(n), true) if !n.ends_with(".timer") => t.unit = n,
                    _ => cx.error(
                        e,
                        ValueError::new(
                            &e.value,
                            "a unit to activate",
                            "one unit name that is not a .timer, e.g. backup.service",
                        ),
                    ),
                }
            }
        }
        _ => return Outcome::Unhandled,
    }
    Outcome::Done
}
