//! The time zone at the end of a calendar event: ` UTC`, an IANA name, or an
//! abbreviation of the local zone (systemd.time(7)).

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{DAY_NAMES, parse_value, shorthand};
use crate::calendar::{CalendarError, Zone};

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
pub(super) fn split_zone<'a>(input: &'a str, local: Option<&TimeZone>) -> (&'a str, Zone) {
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

/// A better message for a value that is valid except for its last word:
/// an unknown time zone (or a trailing space).
pub(super) fn explain_zone(input: &str, local: Option<&TimeZone>) -> Option<CalendarError> {
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
