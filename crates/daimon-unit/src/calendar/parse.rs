//! The calendar event grammar: text -> [`CalendarSpec`].
//!
//! The accepted language is exactly systemd's (including its leniencies, such
//! as `Mon-Wed` for `Mon..Wed`, a trailing comma after the weekday list, and
//! several spaces between the parts); the error messages are our own.

mod grammar;
mod zone;

use jiff::tz::TimeZone;

use super::{CalendarError, CalendarSpec, Component, USEC_PER_SEC, Zone};
use grammar::Parser;
use zone::{explain_zone, split_zone};

/// Years before this (after the two-digit expansion) are rejected.
pub(crate) const MIN_YEAR: i32 = 1970;
/// Years after this are rejected, and the elapse search stops here.
pub(crate) const MAX_YEAR: i32 = 2199;
/// At most this many items in one field's list.
const MAX_COMPONENTS: usize = 241;

/// Weekday names, long forms first so that `Monday` is not read as `Mon`+`day`.
const DAY_NAMES: [(&str, u8); 14] = [
    ("monday", 0),
    ("mon", 0),
    ("tuesday", 1),
    ("tue", 1),
    ("wednesday", 2),
    ("wed", 2),
    ("thursday", 3),
    ("thu", 3),
    ("friday", 4),
    ("fri", 4),
    ("saturday", 5),
    ("sat", 5),
    ("sunday", 6),
    ("sun", 6),
];

/// Words that are timestamps (systemd-analyze timestamp), not calendar events.
const TIMESTAMP_WORDS: [&str; 5] = ["now", "today", "tomorrow", "yesterday", "epoch"];

/// A list item together with the byte offset it started at.
type Located = (Component, usize);

#[derive(Clone, Copy)]
enum Field {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Year => "year",
            Field::Month => "month",
            Field::Day => "day",
            Field::Hour => "hour",
            Field::Minute => "minute",
            Field::Second => "second",
        }
    }

    /// Inclusive bounds of the field's values.
    fn bounds(self) -> (i64, i64) {
        match self {
            Field::Year => (i64::from(MIN_YEAR), i64::from(MAX_YEAR)),
            Field::Month => (1, 12),
            Field::Day => (1, 31),
            Field::Hour => (0, 23),
            Field::Minute => (0, 59),
            Field::Second => (0, 60 * i64::from(USEC_PER_SEC) - 1),
        }
    }

    /// Formats a value of this field the way a user would write it.
    fn show(self, v: i64) -> String {
        match self {
            Field::Second => {
                let d = i64::from(USEC_PER_SEC);
                if v % d == 0 {
                    format!("{}", v / d)
                } else {
                    let frac = format!("{:06}", v % d);
                    format!("{}.{}", v / d, frac.trim_end_matches('0'))
                }
            }
            _ => v.to_string(),
        }
    }
}

/// Fields as parsed, before normalization and validation.
#[derive(Default)]
struct Draft {
    weekdays: u8,
    year: Vec<Located>,
    month: Vec<Located>,
    day: Vec<Located>,
    hour: Vec<Located>,
    minute: Vec<Located>,
    second: Vec<Located>,
    end_of_month: bool,
    timestamp: bool,
}

fn consts(values: &[i32]) -> Vec<Located> {
    values.iter().map(|&v| (Component::single(v), 0)).collect()
}

/// The shorthands (`daily`, ...), or `None` if `body` is not one.
fn shorthand(body: &str) -> Option<Draft> {
    let is = |names: &[&str]| names.iter().any(|n| body.eq_ignore_ascii_case(n));
    let mut d = Draft {
        second: consts(&[0]),
        ..Draft::default()
    };
    if is(&["minutely"]) {
        return Some(d);
    }
    d.minute = consts(&[0]);
    if is(&["hourly"]) {
        return Some(d);
    }
    d.hour = consts(&[0]);
    if is(&["daily"]) {
        return Some(d);
    }
    if is(&["weekly"]) {
        d.weekdays = 1;
        return Some(d);
    }
    d.day = consts(&[1]);
    if is(&["monthly"]) {
        return Some(d);
    }
    if is(&["annually", "yearly", "anually"]) {
        d.month = consts(&[1]);
        return Some(d);
    }
    if is(&["quarterly"]) {
        d.month = consts(&[1, 4, 7, 10]);
        return Some(d);
    }
    if is(&["semiannually", "semi-annually", "biannually", "bi-annually"]) {
        d.month = consts(&[1, 7]);
        return Some(d);
    }
    None
}

pub(crate) fn parse(input: &str, local: Option<&TimeZone>) -> Result<CalendarSpec, CalendarError> {
    parse_value(input, local).map_err(|e| explain_zone(input, local).unwrap_or(e))
}

fn parse_value(input: &str, local: Option<&TimeZone>) -> Result<CalendarSpec, CalendarError> {
    let (body, mut zone) = split_zone(input, local);
    if body.is_empty() {
        let reason = if input.is_empty() {
            "empty value".to_owned()
        } else {
            format!("time zone \"{}\" without a date or time", input.trim())
        };
        return Err(CalendarError::new(input, 0, reason));
    }
    let draft = match shorthand(body) {
        Some(d) => d,
        None => {
            let mut p = Parser::new(input, body);
            p.spec()?
        }
    };
    if draft.timestamp {
        zone = Zone::Utc;
    }
    finish(input, draft, zone)
}

/// Sorts, deduplicates and simplifies one field's list, as systemd does.
fn normalize_chain(chain: &mut Vec<Located>) {
    for (c, _) in chain.iter_mut() {
        if c.stop > c.start && c.repeat > 0 {
            c.stop -= (c.stop - c.start) % c.repeat;
        }
        let never_repeats = c.stop > c.start
            && c.repeat > 0
            && i64::from(c.start) + i64::from(c.repeat) > i64::from(c.stop);
        if never_repeats || c.start == c.stop {
            c.repeat = 0;
            c.stop = -1;
        }
    }
    chain.sort_by_key(|&(c, _)| c);
    chain.dedup_by_key(|&mut (c, _)| c);
}

/// Two-digit years: 0..69 are 20xx, 70..99 are 19xx.
fn fix_year(v: i32) -> i32 {
    match v {
        0..=69 => v + 2000,
        70..=99 => v + 1900,
        _ => v,
    }
}

fn validate_chain(
    input: &str,
    chain: &[Located],
    field: Field,
    end_of_month: bool,
) -> Result<(), CalendarError> {
    let (from, mut to) = field.bounds();
    let tilde = if end_of_month { "~" } else { "" };
    let name = field.name();
    for &(c, col) in chain {
        // Counting from the end of the month, at most 28 days back. systemd
        // lowers that bound by three more for every further list item (in
        // sorted order), so `~7,26` is refused while `~26` and `~20,7` are
        // not; we accept exactly the same.
        if end_of_month {
            to -= 3;
        }
        let range = format!("{tilde}{}..{tilde}{}", field.show(from), field.show(to));
        let (start, stop, repeat) = (i64::from(c.start), i64::from(c.stop), i64::from(c.repeat));
        let err = |reason: String| Err(CalendarError::new(input, col, reason));
        if start < from || start > to {
            return err(format!(
                "{name} {tilde}{} is out of range {range}",
                field.show(start)
            ));
        }
        if repeat > to - from {
            return err(format!(
                "repetition /{} is too large for the {name}",
                field.show(repeat)
            ));
        }
        if stop >= 0 {
            if stop < from || stop > to {
                return err(format!(
                    "{name} {tilde}{} is out of range {range}",
                    field.show(stop)
                ));
            }
            if start + repeat > stop {
                return err(format!(
                    "{name} range {tilde}{}..{tilde}{} goes backwards",
                    field.show(start),
                    field.show(stop)
                ));
            }
        } else if (end_of_month && start - repeat < from) || (!end_of_month && start + repeat > to)
        {
            return err(format!(
                "{name} {tilde}{}/{} repeats beyond {tilde}{}",
                field.show(start),
                field.show(repeat),
                field.show(if end_of_month { from } else { to })
            ));
        }
    }
    Ok(())
}

fn strip(chain: Vec<Located>) -> Vec<Component> {
    chain.into_iter().map(|(c, _)| c).collect()
}

fn finish(input: &str, mut d: Draft, zone: Zone) -> Result<CalendarSpec, CalendarError> {
    if d.weekdays >= 0x7f {
        d.weekdays = 0;
    }
    if d.end_of_month && d.day.is_empty() {
        d.end_of_month = false;
    }
    for (c, _) in d.year.iter_mut() {
        c.start = fix_year(c.start);
        if c.stop >= 0 {
            c.stop = fix_year(c.stop);
        }
    }
    for chain in [
        &mut d.year,
        &mut d.month,
        &mut d.day,
        &mut d.hour,
        &mut d.minute,
        &mut d.second,
    ] {
        normalize_chain(chain);
    }
    if let Some(star) = d.second.iter().find(|(c, _)| *c == Component::STAR_SECONDS) {
        // Every full second: the other items add nothing.
        d.second = vec![*star];
    }
    validate_chain(input, &d.year, Field::Year, false)?;
    validate_chain(input, &d.month, Field::Month, false)?;
    validate_chain(input, &d.day, Field::Day, d.end_of_month)?;
    validate_chain(input, &d.hour, Field::Hour, false)?;
    validate_chain(input, &d.minute, Field::Minute, false)?;
    validate_chain(input, &d.second, Field::Second, false)?;
    Ok(CalendarSpec {
        weekdays: d.weekdays,
        year: strip(d.year),
        month: strip(d.month),
        day: strip(d.day),
        hour: strip(d.hour),
        minute: strip(d.minute),
        second: strip(d.second),
        end_of_month: d.end_of_month,
        zone,
    })
}
