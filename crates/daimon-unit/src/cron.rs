//! Cron schedules and crontab files, translated to timer triggers.
//!
//! A cron schedule (crontab(5): five fields `minute hour day-of-month month
//! day-of-week`, or one of the `@` forms) becomes what a `.timer` says instead:
//! `OnCalendar=` expressions in systemd.time(7) syntax, or `OnStartupSec=0` for
//! `@reboot`. Every expression produced is accepted by
//! [`CalendarSpec::parse`](crate::calendar::CalendarSpec::parse) and elapses at
//! exactly the minutes cron would run the job (in the same time zone).
//!
//! The grammar is Vixie cron's (which cronie and Debian's cron share): each field
//! is a comma separated list of `*`, `N`, `A-B`, each optionally followed by
//! `/STEP`; months and weekdays may be written as three-letter English names in
//! any case; 0 and 7 are both Sunday. Also accepted, as cronie and systemd do:
//! `N/STEP`, meaning `N-MAX/STEP`.
//!
//! The day rule: when both the day-of-month and the day-of-week field are
//! restricted, a day matches if *either* matches; otherwise both must. As in
//! Vixie cron a field counts as unrestricted when it starts with `*` (so
//! `*/2` is unrestricted for this rule). Either-or cannot be said in one
//! calendar expression, so two are produced then.
//!
//! [`crontab`](parse_crontab) reads a whole crontab file. Pure: no files, no
//! clock, no environment.

mod crontab;

use std::fmt;

pub use crontab::{CronJob, Crontab, CrontabFormat, CrontabProblem, parse_crontab};

/// One of the five fields: its name, bounds and names.
struct FieldDef {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for `min`, `min + 1`, ... (months from 1, weekdays from 0).
    names: &'static [&'static str],
    /// What a valid value looks like, for error messages.
    expected: &'static str,
}

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const FIELDS: [FieldDef; 5] = [
    FieldDef {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        expected: "0-59",
    },
    FieldDef {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        expected: "0-23",
    },
    FieldDef {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        expected: "1-31",
    },
    FieldDef {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTH_NAMES,
        expected: "1-12 or jan-dec",
    },
    FieldDef {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: &WEEKDAY_NAMES,
        expected: "0-7 or sun-sat",
    },
];

/// The `@` forms and their five-field meaning (crontab(5)).
const NICKNAMES: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

const EXPECTED_SCHEDULE: &str = "expected 5 fields (minute hour day-of-month month day-of-week) \
     or one of @yearly @annually @monthly @weekly @daily @midnight @hourly @reboot";

/// A parsed cron schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CronSchedule {
    /// `@reboot`: once when cron (for us: the daemon) starts.
    Reboot,
    /// The minutes at which the job runs.
    Times(CronTimes),
}

/// The sets of a five-field schedule, one bit per allowed value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CronTimes {
    /// Bit `m` for minute `m` (0..=59).
    pub minutes: u64,
    /// Bit `h` for hour `h` (0..=23).
    pub hours: u32,
    /// Bit `d` for day of month `d` (1..=31).
    pub days: u32,
    /// Bit `m` for month `m` (1..=12).
    pub months: u16,
    /// Bit 0 for Sunday .. bit 6 for Saturday (a 7 in the field is bit 0).
    pub weekdays: u8,
    /// The day-of-month field does not start with `*`.
    pub days_restricted: bool,
    /// The day-of-week field does not start with `*`.
    pub weekdays_restricted: bool,
}

/// What a timer needs to run a job on a cron schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// `OnCalendar=` expressions; the job runs at the earliest of their elapses.
    Calendar(Vec<String>),
    /// `OnStartupSec=0`: when the service manager starts.
    Startup,
}

impl Trigger {
    /// The `[Timer]` lines: `OnCalendar=...` for each expression, or
    /// `OnStartupSec=0`.
    pub fn directives(&self) -> Vec<String> {
        match self {
            Trigger::Calendar(exprs) => exprs.iter().map(|e| format!("OnCalendar={e}")).collect(),
            Trigger::Startup => vec!["OnStartupSec=0".to_owned()],
        }
    }
}

/// Why a string is not a cron schedule. Displays as one line, e.g.
/// `cron field 2 (hour) "25": expected 0-23`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronError {
    /// 1-based field number and name, when one field is at fault.
    field: Option<(usize, &'static str)>,
    /// The text at fault (an item of the field, or the whole schedule).
    text: String,
    expected: String,
}

impl CronError {
    fn schedule(text: &str) -> CronError {
        CronError {
            field: None,
            text: text.to_owned(),
            expected: EXPECTED_SCHEDULE.to_owned(),
        }
    }

    fn field(index: usize, text: &str, expected: impl Into<String>) -> CronError {
        CronError {
            field: Some((index + 1, FIELDS[index].name)),
            text: text.to_owned(),
            expected: expected.into(),
        }
    }
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some((n, name)) => write!(
                f,
                "cron field {n} ({name}) \"{}\": {}",
                self.text, self.expected
            ),
            None => write!(f, "cron schedule \"{}\": {}", self.text, self.expected),
        }
    }
}

impl std::error::Error for CronError {}

impl CronSchedule {
    /// Parses five whitespace-separated fields or an `@` form.
    pub fn parse(s: &str) -> Result<CronSchedule, CronError> {
        let words: Vec<&str> = s.split_ascii_whitespace().collect();
        match words.as_slice() {
            [one] if one.starts_with('@') => {
                let lower = one.to_ascii_lowercase();
                if lower == "@reboot" {
                    return Ok(CronSchedule::Reboot);
                }
                match NICKNAMES.iter().find(|(n, _)| *n == lower) {
                    Some((_, fields)) => CronSchedule::parse(fields),
                    None => Err(CronError::schedule(s.trim())),
                }
            }
            [m, h, dom, mon, dow] => {
                let fields = [*m, *h, *dom, *mon, *dow];
                let mut sets = [0u64; 5];
                for (i, text) in fields.iter().enumerate() {
                    sets[i] = parse_field(i, text)?;
                }
                // Day-of-week 7 is Sunday, like 0.
                let mut weekdays = sets[4];
                if weekdays & (1 << 7) != 0 {
                    weekdays = (weekdays | 1) & 0x7f;
                }
                Ok(CronSchedule::Times(CronTimes {
                    minutes: sets[0],
                    hours: sets[1] as u32,
                    days: sets[2] as u32,
                    months: sets[3] as u16,
                    weekdays: weekdays as u8,
                    days_restricted: !dom.starts_with('*'),
                    weekdays_restricted: !dow.starts_with('*'),
                }))
            }
            _ => Err(CronError::schedule(s.trim())),
        }
    }

    /// The timer trigger that fires when this schedule would run the job;
    /// `time_zone` (an IANA name, e.g. from cronie's `CRON_TZ=`) is appended
    /// to every calendar expression.
    pub fn trigger(&self, time_zone: Option<&str>) -> Trigger {
        match self {
            CronSchedule::Reboot => Trigger::Startup,
            CronSchedule::Times(t) => {
                let mut exprs = t.on_calendar();
                if let Some(tz) = time_zone {
                    for e in &mut exprs {
                        e.push(' ');
                        e.push_str(tz);
                    }
                }
                Trigger::Calendar(exprs)
            }
        }
    }
}

impl std::str::FromStr for CronSchedule {
    type Err = CronError;

    fn from_str(s: &str) -> Result<CronSchedule, CronError> {
        CronSchedule::parse(s)
    }
}

/// One field -> a bit set of its values (bit `v` for value `v`).
fn parse_field(index: usize, text: &str) -> Result<u64, CronError> {
    let def = &FIELDS[index];
    let mut set = 0u64;
    for item in text.split(',') {
        let bad = |what: &str| CronError::field(index, item, what.to_owned());
        let expected = format!("expected {}", def.expected);
        if item.is_empty() {
            return Err(CronError::field(
                index,
                text,
                format!("empty list item; {expected}"),
            ));
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step = s.parse::<u32>().ok().filter(|s| (1..=def.max).contains(s));
                match step {
                    Some(step) => (r, Some(step)),
                    None => return Err(bad(&format!("expected a step of 1-{}", def.max))),
                }
            }
            None => (item, None),
        };
        let (lo, hi) = if range == "*" {
            (def.min, def.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a = value(def, a).ok_or_else(|| bad(&expected))?;
            let b = value(def, b).ok_or_else(|| bad(&expected))?;
            if a > b {
                return Err(bad(&format!(
                    "expected a range low-high ({} is greater than {})",
                    a, b
                )));
            }
            (a, b)
        } else {
            let v = value(def, range).ok_or_else(|| bad(&expected))?;
            // `N/STEP` is `N-MAX/STEP` (cronie, systemd); plain `N` is itself.
            (v, if step.is_some() { def.max } else { v })
        };
        let step = step.unwrap_or(1);
        let mut v = lo;
        while v <= hi {
            set |= 1 << v;
            v += step;
        }
    }
    Ok(set)
}

/// A number within the field's bounds, or one of its names.
fn value(def: &FieldDef, s: &str) -> Option<u32> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u32>()
            .ok()
            .filter(|v| (def.min..=def.max).contains(v));
    }
    def.names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(s))
        .map(|i| i as u32 + def.min)
}

/// All weekdays (bits 0..=6).
const EVERY_WEEKDAY: u8 = 0x7f;

impl CronTimes {
    /// The `OnCalendar=` expressions (in systemd's normalized form) whose
    /// earliest elapse is the next minute this schedule matches.
    pub fn on_calendar(&self) -> Vec<String> {
        let time = format!(
            "{}:{}:00",
            render_set(u64::from(self.hours), 0, 23, true),
            render_set(self.minutes, 0, 59, true)
        );
        let months = render_set(u64::from(self.months), 1, 12, true);
        let all_days = self.days == bits(1, 31) as u32;
        let all_weekdays = self.weekdays == EVERY_WEEKDAY;
        if self.days_restricted && self.weekdays_restricted {
            // Either field may match: one expression per field, unless one of
            // them matches every day anyway.
            if all_days || all_weekdays {
                return vec![format!("*-{months}-* {time}")];
            }
            let days = render_set(u64::from(self.days), 1, 31, false);
            let weekdays = render_weekdays(self.weekdays);
            return vec![
                format!("{weekdays} *-{months}-* {time}"),
                format!("*-{months}-{days} {time}"),
            ];
        }
        let days = render_set(u64::from(self.days), 1, 31, false);
        if all_weekdays {
            vec![format!("*-{months}-{days} {time}")]
        } else {
            let weekdays = render_weekdays(self.weekdays);
            vec![format!("{weekdays} *-{months}-{days} {time}")]
        }
    }
}

/// Bits `lo..=hi`.
fn bits(lo: u32, hi: u32) -> u64 {
    (lo..=hi).fold(0, |acc, v| acc | 1 << v)
}

/// A set of values in systemd's field syntax: `*` for everything, `A..B/R` for
/// an arithmetic progression, else runs `A..B` and single values.
///
/// systemd's open-ended `A/R` is used only where it is exact: when the
/// progression, continued past the field's end, lands on its first value
/// again (`*:00/15`, `00/2:00`, months `01/3`). Otherwise systemd (252, checked
/// with `systemd-analyze calendar --base-time`) skips values: once the
/// repetition overshoots the field it carries the excess into the next
/// period (`*-*-01/12` after Dec 31 elapses on Jan 13, `00/5:00` after 21:00
/// at 05:00, `*:00/7` after 23:59 at 00:07). `A..B/R` with the last value
/// written out never overshoots. Days have no fixed period, so they are
/// always written out (`fixed_period` false).
fn render_set(set: u64, min: u32, max: u32, fixed_period: bool) -> String {
    let values: Vec<u32> = (min..=max).filter(|v| set & (1 << v) != 0).collect();
    if values.len() == (max - min + 1) as usize {
        return "*".to_owned();
    }
    if values.len() >= 3 {
        let step = values[1] - values[0];
        if step > 1 && values.windows(2).all(|w| w[1] - w[0] == step) {
            let (first, last) = (values[0], values[values.len() - 1]);
            return if fixed_period && last + step == first + (max - min + 1) {
                format!("{first:02}/{step}")
            } else {
                format!("{first:02}..{last:02}/{step}")
            };
        }
    }
    let mut items = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let mut j = i;
        while j + 1 < values.len() && values[j + 1] == values[j] + 1 {
            j += 1;
        }
        if j >= i + 2 {
            items.push(format!("{:02}..{:02}", values[i], values[j]));
        } else {
            items.extend(values[i..=j].iter().map(|v| format!("{v:02}")));
        }
        i = j + 1;
    }
    items.join(",")
}

/// Cron's weekday bits (Sunday = bit 0) as systemd's list, Monday first.
fn render_weekdays(cron_bits: u8) -> String {
    crate::calendar::weekday_list((cron_bits >> 1) | ((cron_bits & 1) << 6))
}

#[cfg(test)]
mod tests;
