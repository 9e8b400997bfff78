//! The calendar event grammar: text -> [`CalendarSpec`].
//!
//! The accepted language is exactly systemd's (including its leniencies, such
//! as `Mon-Wed` for `Mon..Wed`, a trailing comma after the weekday list, and
//! several spaces between the parts); the error messages are our own.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{CalendarError, CalendarSpec, Component, USEC_PER_SEC, Zone};

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

/// A time zone name as systemd accepts it: a zoneinfo file name, spelled
/// exactly (case-sensitively) as in the database. `posix/<name>` is the same
/// zone as `<name>`; the `right/` variants (which count leap seconds) are not
/// supported.
fn lookup_zone(name: &str) -> Option<TimeZone> {
    let valid_chars = name
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'+' | b'/'));
    if name.is_empty()
        || name.len() > 255
        || !valid_chars
        || name.starts_with('/')
        || name.ends_with('/')
        || name.contains("//")
    {
        return None;
    }
    let name = name.strip_prefix("posix/").unwrap_or(name);
    let tz = jiff::tz::db().get(name).ok()?;
    (tz.iana_name() == Some(name)).then_some(tz)
}

/// The names C's `tzset()` puts in `tzname[0]` (standard time) and
/// `tzname[1]` (daylight-saving time) for `tz`: the abbreviations of the last
/// transitions to standard and to daylight-saving time.
fn local_abbreviations(tz: &TimeZone) -> [String; 2] {
    let mut names: [Option<String>; 2] = [None, None];
    for transition in tz.preceding(Timestamp::MAX).take(5000) {
        let dst = usize::from(transition.dst().is_dst());
        if names[dst].is_none() {
            names[dst] = Some(transition.abbreviation().to_owned());
            if names[1 - dst].is_some() {
                break;
            }
        }
    }
    let [std, dst] = names;
    let std = std.unwrap_or_else(|| {
        tz.to_offset_info(Timestamp::UNIX_EPOCH)
            .abbreviation()
            .to_owned()
    });
    let dst = dst.unwrap_or_else(|| std.clone());
    [std, dst]
}

/// Splits a trailing ` UTC`, an abbreviation of the local zone (if known) or
/// ` <IANA zone>` off the value, in that order.
fn split_zone<'a>(input: &'a str, local: Option<&TimeZone>) -> (&'a str, Zone) {
    let b = input.as_bytes();
    if b.len() >= 4 && b[b.len() - 4..].eq_ignore_ascii_case(b" UTC") {
        return (&input[..input.len() - 4], Zone::Utc);
    }
    if let Some(local) = local {
        for (dst, name) in local_abbreviations(local).into_iter().enumerate() {
            let n = name.len();
            if n == 0 || b.len() <= n || b[b.len() - n - 1] != b' ' {
                continue;
            }
            if b[b.len() - n..].eq_ignore_ascii_case(name.as_bytes()) {
                let zone = Zone::LocalAbbreviation {
                    name,
                    dst: dst == 1,
                };
                return (&input[..input.len() - n - 1], zone);
            }
        }
    }
    if let Some(i) = input.rfind(' ') {
        let name = &input[i + 1..];
        if let Some(tz) = lookup_zone(name) {
            let zone = Zone::Named {
                name: name.to_owned(),
                tz,
            };
            return (&input[..i], zone);
        }
    }
    (input, Zone::Local)
}

pub(crate) fn parse(input: &str, local: Option<&TimeZone>) -> Result<CalendarSpec, CalendarError> {
    parse_value(input, local).map_err(|e| explain_zone(input, local).unwrap_or(e))
}

/// A better message for a value that is valid except for its last word:
/// an unknown time zone (or a trailing space).
fn explain_zone(input: &str, local: Option<&TimeZone>) -> Option<CalendarError> {
    let i = input.rfind(' ')?;
    let (head, word) = (&input[..i], &input[i + 1..]);
    let plausible = word.is_empty()
        || (word.starts_with(|c: char| c.is_ascii_alphabetic())
            && !DAY_NAMES.iter().any(|(n, _)| n.eq_ignore_ascii_case(word))
            && shorthand(word).is_none());
    if !plausible || parse_value(head, local).is_err() {
        return None;
    }
    let reason = if word.is_empty() {
        "unexpected space at the end".to_owned()
    } else {
        match jiff::tz::db()
            .get(word)
            .ok()
            .as_ref()
            .and_then(|tz| tz.iana_name())
        {
            Some(name) if name != word => {
                format!(
                    "unknown time zone \"{word}\" (time zone names are case-sensitive: \"{name}\")"
                )
            }
            _ => format!("unknown time zone \"{word}\""),
        }
    };
    Some(CalendarError::new(input, i + 1, reason))
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
            let mut p = Parser {
                input,
                s: body.as_bytes(),
                pos: 0,
            };
            p.spec()?
        }
    };
    if draft.timestamp {
        zone = Zone::Utc;
    }
    finish(input, draft, zone)
}

struct Parser<'a> {
    input: &'a str,
    /// The value without its time zone suffix.
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn peek_at(&self, i: usize) -> Option<u8> {
        self.s.get(i).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn err(&self, col: usize, reason: impl Into<String>) -> CalendarError {
        CalendarError::new(self.input, col, reason)
    }

    /// A short description of what is at byte `i`: the word there, or the
    /// single character, or "end of value".
    fn found_at(&self, i: usize) -> String {
        let rest = match self.input.get(i..) {
            Some(r) if i < self.s.len() => r,
            _ => return "end of value".to_owned(),
        };
        let word: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .take(40)
            .collect();
        if !word.is_empty() {
            return format!("\"{word}\"");
        }
        match rest.chars().next() {
            Some(c) => format!("\"{}\"", c.escape_debug()),
            None => "end of value".to_owned(),
        }
    }

    fn unexpected(&self, what: &str) -> CalendarError {
        self.err(
            self.pos,
            format!("{what}, found {}", self.found_at(self.pos)),
        )
    }

    fn weekday_at(&self, i: usize) -> Option<(u8, usize)> {
        let rest = self.s.get(i..)?;
        DAY_NAMES.iter().find_map(|&(name, nr)| {
            let n = name.len();
            let prefix = rest.get(..n)?;
            prefix
                .eq_ignore_ascii_case(name.as_bytes())
                .then_some((nr, n))
        })
    }

    fn spec(&mut self) -> Result<Draft, CalendarError> {
        let mut d = Draft::default();
        self.weekdays(&mut d)?;
        if d.weekdays == 0 && self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            let found = self.found_at(self.pos);
            let word = found.trim_matches('"');
            let reason = if TIMESTAMP_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word)) {
                format!("{found} is a timestamp, not a recurring event")
            } else {
                format!("unknown weekday or keyword {found}")
            };
            return Err(self.err(self.pos, reason));
        }
        let timestamp = self.date(&mut d)?;
        if !timestamp {
            self.time(&mut d)?;
        }
        if !self.at_end() {
            return Err(self.unexpected("expected end of value"));
        }
        Ok(d)
    }

    fn weekdays(&mut self, d: &mut Draft) -> Result<(), CalendarError> {
        let mut range_start: Option<(u8, usize)> = None;
        let mut first = true;
        loop {
            let item = self.pos;
            let Some((nr, len)) = self.weekday_at(item) else {
                if first {
                    return Ok(());
                }
                let reason = if self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                    format!("unknown weekday {}", self.found_at(item))
                } else {
                    format!("expected a weekday, found {}", self.found_at(item))
                };
                return Err(self.err(item, reason));
            };
            match self.peek_at(item + len) {
                None | Some(b'-' | b'.' | b',' | b' ') => {}
                Some(c) if c.is_ascii_alphanumeric() => {
                    return Err(self.err(item, format!("unknown weekday {}", self.found_at(item))));
                }
                Some(_) => {
                    let name = String::from_utf8_lossy(&self.s[item..item + len]);
                    return Err(self.err(
                        item + len,
                        format!(
                            "unexpected {} after weekday \"{name}\"",
                            self.found_at(item + len)
                        ),
                    ));
                }
            }
            d.weekdays |= 1 << nr;
            if let Some((l, lpos)) = range_start {
                if l > nr {
                    let text = String::from_utf8_lossy(&self.s[lpos..item + len]);
                    return Err(self.err(lpos, format!("weekday range \"{text}\" goes backwards")));
                }
                for j in l + 1..nr {
                    d.weekdays |= 1 << j;
                }
            }
            self.pos += len;
            match self.peek() {
                None => return Ok(()),
                Some(b' ') => {
                    self.skip_spaces();
                    return Ok(());
                }
                Some(sep @ (b'.' | b'-')) => {
                    if range_start.is_some() {
                        return Err(self.err(self.pos, "a weekday range cannot continue another"));
                    }
                    if sep == b'.' {
                        if self.peek_at(self.pos + 1) != Some(b'.') {
                            return Err(self
                                .err(self.pos, "expected \"..\" in a weekday range, found \".\""));
                        }
                        self.pos += 1;
                    }
                    self.pos += 1;
                    range_start = Some((nr, item));
                }
                Some(_) => {
                    // Only ',' is left (checked above).
                    range_start = None;
                    self.pos += 1;
                }
            }
            if matches!(self.peek(), None | Some(b' ')) {
                self.skip_spaces();
                if let Some((_, lpos)) = range_start {
                    let text = String::from_utf8_lossy(&self.s[lpos..item + len]);
                    return Err(self.err(lpos, format!("weekday range \"{text}..\" has no end")));
                }
                return Ok(());
            }
            first = false;
        }
    }

    /// An unsigned decimal number; for seconds (`usec`) in microseconds, with
    /// up to six fractional digits (a seventh rounds).
    fn decimal(&mut self, usec: bool) -> Result<i32, CalendarError> {
        let begin = self.pos;
        if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return Err(self.unexpected("expected a number"));
        }
        let too_large = |p: &Self| {
            let end = p.pos.max(begin + 1).min(p.s.len());
            let text = String::from_utf8_lossy(&p.s[begin..end]).into_owned();
            p.err(begin, format!("number \"{text}\" is too large"))
        };
        let mut value: u64 = 0;
        let mut overflow = false;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            match value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
            {
                Some(v) => value = v,
                None => overflow = true,
            }
            self.pos += 1;
        }
        if overflow {
            return Err(too_large(self));
        }
        if usec {
            value = match value.checked_mul(USEC_PER_SEC as u64) {
                Some(v) => v,
                None => return Err(too_large(self)),
            };
            if self.peek() == Some(b'.') && self.peek_at(self.pos + 1) != Some(b'.') {
                self.pos += 1;
                value = value.saturating_add(self.fraction()?);
            }
        }
        match i32::try_from(value) {
            Ok(v) => Ok(v),
            Err(_) => Err(too_large(self)),
        }
    }

    /// Microseconds from the digits after a decimal point.
    fn fraction(&mut self) -> Result<u64, CalendarError> {
        let mut value = 0;
        let mut digits = 0;
        while digits < 6 {
            match self.peek().filter(u8::is_ascii_digit) {
                Some(c) => {
                    value = value * 10 + u64::from(c - b'0');
                    self.pos += 1;
                }
                None if digits == 0 => {
                    return Err(self.unexpected("expected digits after the decimal point"));
                }
                None => value *= 10,
            }
            digits += 1;
        }
        // The seventh digit rounds (the loop stops early only at a non-digit).
        if matches!(self.peek(), Some(b'5'..=b'9')) {
            value += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        Ok(value)
    }

    fn component(&mut self, usec: bool) -> Result<Located, CalendarError> {
        let col = self.pos;
        let start = self.decimal(usec)?;
        let mut stop = -1;
        let mut repeat = 0;
        if self.peek() == Some(b'.') && self.peek_at(self.pos + 1) == Some(b'.') {
            self.pos += 2;
            stop = self.decimal(usec)?;
            repeat = if usec { USEC_PER_SEC } else { 1 };
        }
        if self.peek() == Some(b'/') {
            self.pos += 1;
            let rcol = self.pos;
            repeat = self.decimal(usec)?;
            if repeat == 0 {
                let text = String::from_utf8_lossy(&self.s[rcol..self.pos]);
                return Err(self.err(
                    rcol,
                    format!("repetition \"/{text}\" must be greater than zero"),
                ));
            }
        } else {
            if i64::from(start) + i64::from(repeat) > i64::from(i32::MAX) {
                return Err(self.err(col, "number is too large"));
            }
            if usec && stop >= 0 && start + repeat > stop {
                let text = String::from_utf8_lossy(&self.s[col..self.pos]);
                return Err(self.err(
                    col,
                    format!("seconds range \"{text}\" is shorter than one second"),
                ));
            }
        }
        if !matches!(self.peek(), None | Some(b' ' | b',' | b'-' | b'~' | b':')) {
            return Err(self.unexpected("expected \",\", \"..\", \"/\" or a separator"));
        }
        Ok((
            Component {
                start,
                stop,
                repeat,
            },
            col,
        ))
    }

    /// `*` or a comma separated list of items.
    fn chain(&mut self, usec: bool) -> Result<Vec<Located>, CalendarError> {
        let col = self.pos;
        if self.peek() == Some(b'*') {
            self.pos += 1;
            return Ok(if usec {
                vec![(Component::STAR_SECONDS, col)]
            } else {
                Vec::new()
            });
        }
        let mut items = Vec::new();
        loop {
            if items.len() >= MAX_COMPONENTS {
                return Err(self.err(
                    self.pos,
                    format!("too many items in one list (at most {MAX_COMPONENTS})"),
                ));
            }
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(self.unexpected(if items.is_empty() {
                    "expected a number or \"*\""
                } else {
                    "expected a number"
                }));
            }
            items.push(self.component(usec)?);
            if self.peek() == Some(b',') {
                self.pos += 1;
            } else {
                return Ok(items);
            }
        }
    }

    /// The date part; returns true for `@timestamp` (which has no time part).
    fn date(&mut self, d: &mut Draft) -> Result<bool, CalendarError> {
        if self.at_end() {
            return Ok(false);
        }
        if self.peek() == Some(b'@') {
            self.timestamp(d)?;
            return Ok(true);
        }
        let begin = self.pos;
        let first = self.chain(false)?;
        if matches!(self.peek(), None | Some(b':')) {
            // It was the hour: there is no date.
            self.pos = begin;
            return Ok(false);
        }
        match self.peek() {
            Some(b'~') => d.end_of_month = true,
            Some(b'-') => {}
            _ => return Err(self.unexpected("expected \"-\" or \"~\" (date) or \":\" (time)")),
        }
        self.pos += 1;
        let second = self.chain(false)?;
        if matches!(self.peek(), None | Some(b' ')) {
            self.skip_spaces();
            d.month = first;
            d.day = second;
            return Ok(false);
        }
        if d.end_of_month {
            return Err(self.err(self.pos, "\"~\" may only separate the month and the day"));
        }
        match self.peek() {
            Some(b'~') => d.end_of_month = true,
            Some(b'-') => {}
            _ => return Err(self.unexpected("expected \"-\" or \"~\" after the month")),
        }
        self.pos += 1;
        let third = self.chain(false)?;
        if !matches!(self.peek(), None | Some(b' ')) {
            return Err(self.unexpected("expected a space after the date"));
        }
        self.skip_spaces();
        d.year = first;
        d.month = second;
        d.day = third;
        Ok(false)
    }

    /// `@SECONDS`: one point in time, in UTC.
    fn timestamp(&mut self, d: &mut Draft) -> Result<(), CalendarError> {
        let col = self.pos;
        self.pos += 1;
        // systemd reads the number with strtoul(): leading white space and
        // a sign are accepted ("@ 5", "@+5"; "@-0" is 0, other negative
        // numbers end up before 1970).
        while self
            .peek()
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        {
            self.pos += 1;
        }
        let negative = self.peek() == Some(b'-');
        if matches!(self.peek(), Some(b'+' | b'-')) {
            self.pos += 1;
        }
        if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return Err(self.unexpected("expected seconds since the epoch after \"@\""));
        }
        let mut value: i64 = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            value = match value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(c - b'0')))
            {
                Some(v) if v <= i64::from(u32::MAX) * 1000 => v,
                _ => return Err(self.err(col, "timestamp is too large")),
            };
            self.pos += 1;
        }
        if negative && value != 0 {
            return Err(self.err(col, "timestamp is before 1970"));
        }
        let days = value.div_euclid(86_400);
        let secs = value.rem_euclid(86_400);
        let (y, m, dd) = super::next::civil_from_days(days);
        let year = i32::try_from(y).map_err(|_| self.err(col, "timestamp is too large"))?;
        let at = |v: i64| vec![(Component::single(v as i32), col)];
        d.year = vec![(Component::single(year), col)];
        d.month = at(m);
        d.day = at(dd);
        d.hour = at(secs / 3600);
        d.minute = at(secs / 60 % 60);
        d.second = at(secs % 60 * i64::from(USEC_PER_SEC));
        d.timestamp = true;
        Ok(())
    }

    /// The time part `H:M[:S]`; absent means 00:00:00.
    fn time(&mut self, d: &mut Draft) -> Result<(), CalendarError> {
        if self.at_end() {
            d.hour = consts(&[0]);
            d.minute = consts(&[0]);
            d.second = consts(&[0]);
            return Ok(());
        }
        d.hour = self.chain(false)?;
        if self.peek() != Some(b':') {
            return Err(self.unexpected("expected \":\" after the hour"));
        }
        self.pos += 1;
        d.minute = self.chain(false)?;
        if self.at_end() {
            d.second = consts(&[0]);
            return Ok(());
        }
        if self.peek() != Some(b':') {
            return Err(self.unexpected("expected \":\" or end of value after the minute"));
        }
        self.pos += 1;
        d.second = self.chain(true)?;
        Ok(())
    }
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
