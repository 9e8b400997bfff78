//! Calendar events, as described in systemd.time(7) ("Calendar Events").
//!
//! A calendar event is what `OnCalendar=` takes: `daily`, `Mon..Fri 09:00`,
//! `*-*-* 02:30:00 Europe/Berlin`, `*:0/15`, `*-02~03`, ... The grammar and the
//! way the next elapse is computed follow systemd's behaviour (as observable
//! with `systemd-analyze calendar`) closely, including its corner cases:
//!
//! * a weekday list, then an optional date `[Y-]M-D` (`~` instead of the
//!   last `-` counts days back from the end of the month), then an optional
//!   time `H:M[:S]`; or `@SECONDS` for one point in time;
//! * every field is `*` or a comma separated list of `N`, `A..B`, `N/R` and
//!   `A..B/R` items; seconds may carry up to six fractional digits;
//! * two-digit years are 19xx (70..99) or 20xx (0..69);
//! * a trailing ` UTC` (any case) or an IANA time zone name selects the zone
//!   the expression is evaluated in;
//! * nonexistent local times (spring forward) are skipped; a repeated local
//!   time (fall back) elapses once, normally at its first occurrence (see
//!   `calendar/next.rs` for the details).
//!
//! systemd also accepts the abbreviations of the *local* time zone (`9:00 CET`
//! when the machine is in `Europe/Berlin`) and then forces standard or
//! daylight-saving time. [`CalendarSpec::parse`] does not depend on the local
//! zone (a trailing word must be `UTC` or a time zone database name: `CET` is
//! one, `CEST` is not); [`CalendarSpec::parse_in`] takes the local zone and
//! accepts its abbreviations exactly as systemd does.
//!
//! The module is pure: no global state, no threads, no panics on any input.

mod format;
pub(crate) use format::weekday_list;
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
    /// An abbreviation of the local time zone (`CET`, `CEST`): local time,
    /// with standard (`dst == false`) or daylight-saving time forced.
    LocalAbbreviation { name: String, dst: bool },
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
    ///
    /// The result does not depend on the machine: a trailing time zone must
    /// be `UTC` or a time zone database name. See [`CalendarSpec::parse_in`]
    /// for the abbreviations of the local zone.
    pub fn parse(s: &str) -> Result<CalendarSpec, CalendarError> {
        parse::parse(s, None)
    }

    /// Parses like systemd does on a machine whose local time zone is
    /// `local`: a trailing abbreviation of that zone (`CET` or `CEST` for
    /// `Europe/Berlin`, matched before database names) selects local time
    /// with standard or daylight-saving time forced. Evaluate such a spec
    /// with the same zone.
    pub fn parse_in(s: &str, local: &TimeZone) -> Result<CalendarSpec, CalendarError> {
        parse::parse(s, Some(local))
    }

    /// The first elapse strictly after `after`, evaluated in the expression's
    /// own time zone if it names one, else in the system's local time zone.
    ///
    /// Returns `None` if the expression never elapses again (or not before the
    /// year 2200), or where systemd's search gives up. (One deliberate
    /// difference: with a forced DST flag, see [`CalendarSpec::parse_in`],
    /// systemd can answer a time before `after` inside a fall-back fold; we
    /// answer the first of its following elapses that is after `after`.)
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
            Zone::Named { name, .. } | Zone::LocalAbbreviation { name, .. } => Some(name),
        }
    }
}

impl std::str::FromStr for CalendarSpec {
    type Err = CalendarError;

    fn from_str(s: &str) -> Result<CalendarSpec, CalendarError> {
        CalendarSpec::parse(s)
    }
}

#[cfg(test)]
mod tests;
