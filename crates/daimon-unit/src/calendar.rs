//! Calendar events, as described in systemd.time(7) ("Calendar Events").
//!
//! A calendar event is what `OnCalendar=` takes: `daily`, `Mon..Fri 09:00`,
//! `*-*-* 02:30:00 Europe/Berlin`, `*:0/15`, `*-02~03`, ... The grammar and the
//! way the next elapse is computed follow systemd's behaviour (as observable
//! with `systemd-analyze calendar`) closely, including its corner cases:
//!
//! * a weekday list, then an optional date `[[Y-]M-]D` (or `M~D` for days
//!   counted from the end of the month), then an optional time `H:M[:S]`;
//! * every field is `*` or a comma separated list of `N`, `A..B`, `N/R` and
//!   `A..B/R` items; seconds may carry up to six fractional digits;
//! * two-digit years are 19xx (70..99) or 20xx (0..69);
//! * a trailing ` UTC` (any case) or an IANA time zone name selects the zone
//!   the expression is evaluated in;
//! * nonexistent local times (spring forward) are skipped; a repeated local
//!   time (fall back) elapses once, normally at its first occurrence.
//!
//! The module is pure: no global state, no threads, no panics on any input.

mod next;
mod parse;

use std::fmt;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// One microsecond-per-second factor, used for the seconds field.
const USEC_PER_SEC: i32 = 1_000_000;

/// One item of a field's list: `start`, `start..stop` or `start[..stop]/repeat`.
///
/// For the seconds field all three numbers are in microseconds. `stop` is -1
/// when absent and `repeat` is 0 when absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Component {
    pub(crate) start: i32,
    pub(crate) stop: i32,
    pub(crate) repeat: i32,
}

impl Component {
    pub(crate) const fn single(start: i32) -> Component {
        Component {
            start,
            stop: -1,
            repeat: 0,
        }
    }

    /// `*` in the seconds field: every full second.
    pub(crate) const STAR_SECONDS: Component = Component {
        start: 0,
        stop: -1,
        repeat: USEC_PER_SEC,
    };
}

/// The time zone an expression is evaluated in.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Zone {
    /// No zone given: the caller's (local) time zone.
    Local,
    /// ` UTC` suffix (or an `@timestamp`).
    Utc,
    /// An IANA time zone name such as `Europe/Berlin`.
    Named { name: String, tz: TimeZone },
}

/// A parsed calendar event (`OnCalendar=` value).
///
/// `Display` prints the normalized form, as `systemd-analyze calendar` does
/// ("Normalized form: ..."); parsing the normalized form yields an equal spec.
#[derive(Clone, Debug, PartialEq)]
pub struct CalendarSpec {
    /// Bit 0 is Monday, bit 6 Sunday; 0 means "any day of the week".
    pub(crate) weekdays: u8,
    /// An empty list means `*`.
    pub(crate) year: Vec<Component>,
    pub(crate) month: Vec<Component>,
    pub(crate) day: Vec<Component>,
    pub(crate) hour: Vec<Component>,
    pub(crate) minute: Vec<Component>,
    /// Microseconds within the minute; never empty after parsing.
    pub(crate) second: Vec<Component>,
    /// `~`: days count backwards from the last day of the month.
    pub(crate) end_of_month: bool,
    pub(crate) zone: Zone,
}

/// Why a string is not a calendar event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarError {
    input: String,
    column: usize,
    reason: String,
}

/// Examples appended to every error message.
const EXPECTED: &str = "expected e.g. daily, Mon..Fri 09:00, *-*-* 02:30:00, *:0/15";

impl CalendarError {
    pub(crate) fn new(input: &str, column: usize, reason: impl Into<String>) -> CalendarError {
        CalendarError {
            input: input.to_owned(),
            column: column.min(input.len()),
            reason: reason.into(),
        }
    }

    /// Byte offset within the value where the problem was found (0-based).
    pub fn column(&self) -> usize {
        self.column
    }

    /// The problem alone, without the value and the examples.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The value that failed to parse.
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl fmt::Display for CalendarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\"{}\" is not a calendar event: {}; {}",
            self.input, self.reason, EXPECTED
        )
    }
}

impl std::error::Error for CalendarError {}

impl CalendarSpec {
    /// Parses a calendar event in systemd's syntax.
    pub fn parse(s: &str) -> Result<CalendarSpec, CalendarError> {
        parse::parse(s)
    }

    /// The first elapse strictly after `after`, evaluated in the expression's
    /// own time zone if it names one, else in the system's local time zone.
    ///
    /// Returns `None` if the expression never elapses again (or not before the
    /// year 2200).
    pub fn next_elapse(&self, after: Timestamp) -> Option<Timestamp> {
        self.next_elapse_in(after, &TimeZone::system())
    }

    /// Like [`CalendarSpec::next_elapse`], with `tz` as the local time zone
    /// (used only when the expression does not name a zone itself).
    pub fn next_elapse_in(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        next::next_elapse(self, after, tz)
    }

    /// The IANA name of the time zone the expression names, if any
    /// (`Some("UTC")` for a ` UTC` suffix).
    pub fn time_zone_name(&self) -> Option<&str> {
        match &self.zone {
            Zone::Local => None,
            Zone::Utc => Some("UTC"),
            Zone::Named { name, .. } => Some(name),
        }
    }
}

impl std::str::FromStr for CalendarSpec {
    type Err = CalendarError;

    fn from_str(s: &str) -> Result<CalendarSpec, CalendarError> {
        CalendarSpec::parse(s)
    }
}

const WEEKDAY_ABBREVIATIONS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn format_weekdays(f: &mut fmt::Formatter<'_>, bits: u8) -> fmt::Result {
    // Runs of one or two days are listed, longer runs become ranges.
    let mut first = true;
    let mut day = 0;
    while day < 7 {
        if bits & (1 << day) == 0 {
            day += 1;
            continue;
        }
        let mut end = day;
        while end + 1 < 7 && bits & (1 << (end + 1)) != 0 {
            end += 1;
        }
        if !first {
            f.write_str(",")?;
        }
        first = false;
        f.write_str(WEEKDAY_ABBREVIATIONS[day])?;
        if end == day + 1 {
            write!(f, ",{}", WEEKDAY_ABBREVIATIONS[end])?;
        } else if end > day + 1 {
            write!(f, "..{}", WEEKDAY_ABBREVIATIONS[end])?;
        }
        day = end + 1;
    }
    Ok(())
}

fn format_chain(
    f: &mut fmt::Formatter<'_>,
    width: usize,
    chain: &[Component],
    usec: bool,
) -> fmt::Result {
    let d = if usec { USEC_PER_SEC } else { 1 };
    if chain.is_empty() || (usec && chain.contains(&Component::STAR_SECONDS)) {
        return f.write_str("*");
    }
    for (i, c) in chain.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write!(f, "{:0width$}", c.start / d)?;
        if c.start % d > 0 {
            write!(f, ".{:06}", c.start % d)?;
        }
        if c.stop > 0 {
            write!(f, "..{:0width$}", c.stop / d)?;
            if c.stop % d > 0 {
                write!(f, ".{:06}", c.stop % d)?;
            }
        }
        if c.repeat > 0 && !(c.stop > 0 && c.repeat == d) {
            write!(f, "/{}", c.repeat / d)?;
            if c.repeat % d > 0 {
                write!(f, ".{:06}", c.repeat % d)?;
            }
        }
    }
    Ok(())
}

impl fmt::Display for CalendarSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weekdays != 0 {
            format_weekdays(f, self.weekdays)?;
            f.write_str(" ")?;
        }
        format_chain(f, 4, &self.year, false)?;
        f.write_str("-")?;
        format_chain(f, 2, &self.month, false)?;
        f.write_str(if self.end_of_month { "~" } else { "-" })?;
        format_chain(f, 2, &self.day, false)?;
        f.write_str(" ")?;
        format_chain(f, 2, &self.hour, false)?;
        f.write_str(":")?;
        format_chain(f, 2, &self.minute, false)?;
        f.write_str(":")?;
        format_chain(f, 2, &self.second, true)?;
        match &self.zone {
            Zone::Local => Ok(()),
            Zone::Utc => f.write_str(" UTC"),
            Zone::Named { name, .. } => write!(f, " {name}"),
        }
    }
}
