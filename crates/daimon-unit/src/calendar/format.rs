//! The normalized form of a calendar event, as `systemd-analyze calendar`
//! prints it ("Normalized form:").

use std::fmt;

use super::{CalendarSpec, Component, USEC_PER_SEC, Zone};

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

/// systemd's weekday list for `bits` (bit 0 Monday .. bit 6 Sunday), as in
/// the normalized form: `Mon..Fri`, `Sat,Sun`.
pub(crate) fn weekday_list(bits: u8) -> String {
    struct Weekdays(u8);
    impl fmt::Display for Weekdays {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            format_weekdays(f, self.0)
        }
    }
    Weekdays(bits).to_string()
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
            Zone::Named { name, .. } | Zone::LocalAbbreviation { name, .. } => {
                write!(f, " {name}")
            }
        }
    }
}
