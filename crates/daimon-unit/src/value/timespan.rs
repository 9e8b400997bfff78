//! Time spans, per systemd.time(7) "PARSING TIME SPANS".
//!
//! A span is a sequence of `<number>[<unit>]` parts, optionally separated by spaces, whose
//! values add up (`5min 20s`, `1h30m`, `1.5h`); a bare number uses the directive's default
//! unit (seconds for almost every directive). `infinity` means "never".
//! Units and aliases: usec us µs μs, msec ms, seconds second sec s, minutes minute min m,
//! hours hour hr h, days day d, weeks week w, months month M (30.44 days),
//! years year y (365.25 days).

use super::ValueError;
use std::time::Duration;

/// A time span that may be infinite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeSpan {
    Finite(Duration),
    Infinity,
}

impl TimeSpan {
    /// The duration, or `None` for infinity.
    pub fn as_duration(self) -> Option<Duration> {
        match self {
            TimeSpan::Finite(d) => Some(d),
            TimeSpan::Infinity => None,
        }
    }

    pub fn is_infinite(self) -> bool {
        self == TimeSpan::Infinity
    }

    pub const fn from_secs(s: u64) -> Self {
        TimeSpan::Finite(Duration::from_secs(s))
    }
}

const EXPECTED: &str = "e.g. 10s, 5min, 1h 30min";

/// Microseconds per unit, longest names first so that `ms` is not read as `m` + `s`.
const UNITS: &[(&str, u64)] = &[
    ("seconds", 1_000_000),
    ("second", 1_000_000),
    ("minutes", 60_000_000),
    ("minute", 60_000_000),
    ("months", 2_629_800_000_000),
    ("month", 2_629_800_000_000),
    ("hours", 3_600_000_000),
    ("hour", 3_600_000_000),
    ("years", 31_557_600_000_000),
    ("year", 31_557_600_000_000),
    ("weeks", 604_800_000_000),
    ("week", 604_800_000_000),
    ("days", 86_400_000_000),
    ("day", 86_400_000_000),
    ("usec", 1),
    ("msec", 1_000),
    ("sec", 1_000_000),
    ("min", 60_000_000),
    ("hr", 3_600_000_000),
    ("us", 1),
    ("µs", 1),
    ("μs", 1),
    ("ms", 1_000),
    ("s", 1_000_000),
    ("m", 60_000_000),
    ("h", 3_600_000_000),
    ("d", 86_400_000_000),
    ("w", 604_800_000_000),
    ("M", 2_629_800_000_000),
    ("y", 31_557_600_000_000),
];

/// Parse a span whose bare numbers are seconds.
pub fn parse_timespan(s: &str) -> Result<TimeSpan, ValueError> {
    parse_with_default(s, 1_000_000)
}

/// Parse a span that must be finite.
pub fn parse_duration(s: &str) -> Result<Duration, ValueError> {
    match parse_timespan(s)? {
        TimeSpan::Finite(d) => Ok(d),
        TimeSpan::Infinity => Err(ValueError::new(s, "a finite time span", EXPECTED)),
    }
}

/// Parse a span whose bare numbers are `default_usec` microseconds each.
pub fn parse_with_default(s: &str, default_usec: u64) -> Result<TimeSpan, ValueError> {
    let err = || ValueError::new(s, "a time span", EXPECTED);
    let t = s.trim();
    if t == "infinity" {
        return Ok(TimeSpan::Infinity);
    }
    if t.is_empty() {
        return Err(err());
    }
    let mut total: u128 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        // Number: digits with an optional fractional part.
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after_int) = rest.split_at(int_len);
        let (frac_part, after_num) = match after_int.strip_prefix('.') {
            Some(f) => {
                let n = f.bytes().take_while(u8::is_ascii_digit).count();
                f.split_at(n)
            }
            None => ("", after_int),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(err());
        }
        let after_ws = after_num.trim_start();
        let (mult, after_unit) = match UNITS.iter().find(|(u, _)| after_ws.starts_with(u)) {
            Some(&(u, m)) => {
                let after = &after_ws[u.len()..];
                // A unit must end at a non-letter (so `5 mins` is not `5 min` + `s`).
                if after.chars().next().is_some_and(char::is_alphabetic) {
                    return Err(err());
                }
                (m, after)
            }
            None => {
                if after_ws.chars().next().is_some_and(|c| !c.is_ascii_digit()) {
                    return Err(err());
                }
                (default_usec, after_ws)
            }
        };
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| err())?
        };
        let mut part = int.checked_mul(mult as u128).ok_or_else(err)?;
        if !frac_part.is_empty() {
            let digits = &frac_part[..frac_part.len().min(18)];
            let num: u128 = digits.parse().map_err(|_| err())?;
            let den = 10u128.pow(digits.len() as u32);
            part += num * mult as u128 / den;
        }
        total = total.checked_add(part).ok_or_else(err)?;
        rest = after_unit.trim_start();
    }
    let usec = u64::try_from(total).map_err(|_| err())?;
    Ok(TimeSpan::Finite(Duration::from_micros(usec)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str) -> Duration {
        parse_duration(s).unwrap()
    }

    #[test]
    fn forms() {
        assert_eq!(secs("90"), Duration::from_secs(90));
        assert_eq!(secs("5min 20s"), Duration::from_secs(320));
        assert_eq!(secs("1h30m"), Duration::from_secs(5400));
        assert_eq!(secs("1.5h"), Duration::from_secs(5400));
        assert_eq!(secs("2 weeks"), Duration::from_secs(14 * 86400));
        assert_eq!(secs("100ms"), Duration::from_millis(100));
        assert_eq!(secs("10us"), Duration::from_micros(10));
        assert_eq!(secs("1M"), Duration::from_micros(2_629_800_000_000));
        assert_eq!(secs("1y"), Duration::from_secs(31_557_600));
        assert_eq!(secs("0"), Duration::ZERO);
        assert_eq!(secs(".5s"), Duration::from_millis(500));
        assert_eq!(parse_timespan("infinity"), Ok(TimeSpan::Infinity));
    }

    #[test]
    fn failures() {
        assert_eq!(
            parse_timespan("ten").unwrap_err().to_string(),
            "\"ten\" is not a time span; expected e.g. 10s, 5min, 1h 30min"
        );
        for bad in [
            "",
            "-5s",
            "5 mins",
            "5x",
            "s",
            "1.2.3",
            "99999999999999999999y",
        ] {
            assert!(parse_timespan(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_duration("infinity").unwrap_err().to_string(),
            "\"infinity\" is not a finite time span; expected e.g. 10s, 5min, 1h 30min"
        );
    }
}
