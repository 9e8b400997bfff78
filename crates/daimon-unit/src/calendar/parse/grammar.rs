//! The grammar of a calendar event's fields: weekdays, date, time, or an
//! `@SECONDS` timestamp, each field a list of values, ranges and repetitions.

use super::{DAY_NAMES, Draft, Located, MAX_COMPONENTS, TIMESTAMP_WORDS, consts};
use crate::calendar::{CalendarError, Component, USEC_PER_SEC};

pub(super) struct Parser<'a> {
    input: &'a str,
    /// The value without its time zone suffix.
    s: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    /// A parser of `body`, the value `input` without its time zone suffix.
    pub(super) fn new(input: &'a str, body: &'a str) -> Parser<'a> {
        Parser {
            input,
            s: body.as_bytes(),
            pos: 0,
        }
    }
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

    pub(super) fn spec(&mut self) -> Result<Draft, CalendarError> {
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
        let (y, m, dd) = crate::calendar::next::civil_from_days(days);
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
