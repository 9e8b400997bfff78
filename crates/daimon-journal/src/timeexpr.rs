//! Owns time expressions as journalctl's `--since`/`--until` accept them
//! (systemd.time(7)): `now`, `today`, `yesterday`, `tomorrow`, `-1h`, `+1h`,
//! `2 hours ago`, `in 30min`, `2026-11-21`, `2026-11-21 04:00[:05]`, `04:00`,
//! RFC 3339 / ISO 8601 with an offset, and `@UNIX` seconds.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};

/// A time expression that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid time {value:?}: expected e.g. \"now\", \"today\", \"yesterday\", \"-1h\", \"2 hours ago\", \"2026-11-21 04:00\", \"2026-11-21T04:00:00Z\" or \"@1763698400\""
)]
pub struct TimeExprError {
    pub value: String,
}

fn day_start(now: &Zoned, days: i64) -> Option<Timestamp> {
    let d = now.date().checked_add(Span::new().days(days)).ok()?;
    Some(d.to_zoned(now.time_zone().clone()).ok()?.timestamp())
}

fn span(s: &str) -> Option<Span> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    s.parse::<Span>().ok()
}

fn shift(now: &Zoned, sp: Span, neg: bool) -> Option<Timestamp> {
    let sp = if neg { sp.negate() } else { sp };
    Some(now.checked_add(sp).ok()?.timestamp())
}

fn unix(s: &str) -> Option<Timestamp> {
    let (secs, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    let secs: i64 = secs.parse().ok()?;
    let mut us: i64 = 0;
    if !frac.is_empty() {
        if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        us = format!("{frac:0<6}").parse().ok()?;
    }
    Timestamp::from_microsecond(secs.checked_mul(1_000_000)?.checked_add(us)?).ok()
}

/// Parses `expr` relative to `now` in the time zone `tz`.
pub fn parse_time(expr: &str, now: Timestamp, tz: &TimeZone) -> Result<Timestamp, TimeExprError> {
    parse(expr.trim(), now, tz).ok_or_else(|| TimeExprError {
        value: expr.to_string(),
    })
}

fn parse(e: &str, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    let zn = now.to_zoned(tz.clone());
    match e {
        "now" => return Some(now),
        "today" => return day_start(&zn, 0),
        "yesterday" => return day_start(&zn, -1),
        "tomorrow" => return day_start(&zn, 1),
        "" => return None,
        _ => {}
    }
    if let Some(rest) = e.strip_prefix('@') {
        return unix(rest);
    }
    if let Some(rest) = e.strip_prefix('-') {
        return shift(&zn, span(rest)?, true);
    }
    if let Some(rest) = e.strip_prefix('+') {
        return shift(&zn, span(rest)?, false);
    }
    if let Some(rest) = e.strip_suffix("ago") {
        return shift(&zn, span(rest)?, true);
    }
    if let Some(rest) = e.strip_prefix("in ") {
        return shift(&zn, span(rest)?, false);
    }
    if let Ok(t) = e.parse::<Timestamp>() {
        return Some(t);
    }
    if let Ok(z) = e.parse::<Zoned>() {
        return Some(z.timestamp());
    }
    if e.len() > 10
        && e.as_bytes()[4] == b'-'
        && let Ok(dt) = e.parse::<DateTime>()
    {
        return Some(dt.to_zoned(tz.clone()).ok()?.timestamp());
    }
    if let Ok(d) = e.parse::<Date>() {
        return Some(d.to_zoned(tz.clone()).ok()?.timestamp());
    }
    if e.contains(':')
        && !e.contains('-')
        && let Ok(t) = e.parse::<Time>()
    {
        return Some(
            zn.date()
                .to_datetime(t)
                .to_zoned(tz.clone())
                .ok()?
                .timestamp(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn p(e: &str) -> Result<Timestamp, TimeExprError> {
        parse_time(e, at("2026-11-21T04:13:20Z"), &TimeZone::UTC)
    }

    #[test]
    fn expressions() {
        assert_eq!(p("now"), Ok(at("2026-11-21T04:13:20Z")));
        assert_eq!(p("today"), Ok(at("2026-11-21T00:00:00Z")));
        assert_eq!(p("yesterday"), Ok(at("2026-11-20T00:00:00Z")));
        assert_eq!(p("tomorrow"), Ok(at("2026-11-22T00:00:00Z")));
        assert_eq!(p("-1h"), Ok(at("2026-11-21T03:13:20Z")));
        assert_eq!(p("+1h"), Ok(at("2026-11-21T05:13:20Z")));
        assert_eq!(p("2 hours ago"), Ok(at("2026-11-21T02:13:20Z")));
        assert_eq!(p("30min ago"), Ok(at("2026-11-21T03:43:20Z")));
        assert_eq!(p("in 1d"), Ok(at("2026-11-22T04:13:20Z")));
        assert_eq!(p("2026-11-21"), Ok(at("2026-11-21T00:00:00Z")));
        assert_eq!(p("2026-11-21 04:00"), Ok(at("2026-11-21T04:00:00Z")));
        assert_eq!(p("2026-11-21 04:00:05"), Ok(at("2026-11-21T04:00:05Z")));
        assert_eq!(p("2026-11-21T04:00:05"), Ok(at("2026-11-21T04:00:05Z")));
        assert_eq!(
            p("2026-11-21T04:00:05+02:00"),
            Ok(at("2026-11-21T02:00:05Z"))
        );
        assert_eq!(p("2026-11-21T04:00:05Z"), Ok(at("2026-11-21T04:00:05Z")));
        assert_eq!(p("@1763698400"), Ok(at("2025-11-21T04:13:20Z")));
        assert_eq!(p("@1763698400.5"), Ok(at("2025-11-21T04:13:20.5Z")));
        assert_eq!(p("04:00"), Ok(at("2026-11-21T04:00:00Z")));
    }

    #[test]
    fn local_zone() {
        let tz = TimeZone::get("Europe/Paris").expect("tzdb");
        let t = parse_time("today", at("2026-11-21T04:13:20Z"), &tz);
        assert_eq!(t, Ok(at("2026-11-20T23:00:00Z")));
    }

    #[test]
    fn errors() {
        for bad in ["", "soon", "-", "2026-13-01", "@x", "3 parsecs ago"] {
            let e = p(bad).expect_err(bad);
            assert!(e.to_string().contains("2 hours ago"), "{e}");
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }
}
