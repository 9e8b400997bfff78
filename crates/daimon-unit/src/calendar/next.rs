//! Finding the next elapse of a calendar event.
//!
//! The search works on broken-down local time and steps field by field (year,
//! month, day, weekday, hour, minute, second), jumping straight to the next
//! matching value of each field; it gives up after the year 2199 or after a
//! fixed number of steps, so it always terminates quickly.
//!
//! To elapse exactly when systemd (252) does, the search replicates how
//! systemd resolves local times through the C library's `mktime()`:
//!
//! * Out-of-range fields (day 32, minute 60, ...) roll over into the next
//!   larger field; seconds are resolved clamped to 59 and the excess added
//!   afterwards. A candidate whose fields change when resolved did not exist
//!   as written: the search resumes from the rolled-over time, with the next
//!   smaller field restarted.
//! * Spring forward: local times inside the gap never elapse (`02:30` is
//!   skipped on that day; `*:0/15` goes from 01:45 straight to 03:00). A gap
//!   resolves to its later, daylight-saving side.
//! * Fall back: a repeated local time resolves with the UTC offset of the
//!   previous resolution (as `mktime()` remembers it), which in practice is the
//!   first occurrence; the second occurrence is skipped (`*:0/15` goes from
//!   02:45 summer time to 03:00 standard time, `02:30` elapses once).
//! * A candidate that is not after the starting point (a DST change moved it
//!   back)
//!   is retried an hour later, from then on keeping the DST flag of the last
//!   resolution; a requested DST flag the time does not have is honoured the
//!   way `mktime()` does (by the UTC offset of the nearest time that has it).
//!   This can make the search give up where systemd gives up too.
//! * The search gives up after 1000 steps, like systemd (a timer then never
//!   elapses again).

use jiff::Timestamp;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};

use super::parse::MAX_YEAR;
use super::{CalendarSpec, Component, USEC_PER_SEC, Zone};

/// Safety valve against pathological searches (systemd uses the same bound).
const MAX_ITERATIONS: usize = 1000;
const SECS_PER_DAY: i64 = 86_400;
/// Years outside this range are not resolved at all.
const YEAR_LIMIT: i64 = 9_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (`m` is 1..=12).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month 1..=12, day 1..=31) `z` days after 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Broken-down local time, like C's `struct tm` (fields may be out of range
/// until resolved). `mon` is 0-based; `isdst` is -1 (unknown), 0 or 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tm {
    year: i64,
    mon: i64,
    mday: i64,
    hour: i64,
    min: i64,
    sec: i64,
    isdst: i8,
}

impl Tm {
    fn reset_time(&mut self, usec: &mut i64) {
        self.hour = 0;
        self.min = 0;
        self.sec = 0;
        *usec = 0;
    }

    /// 0 = Monday.
    fn weekday(&self) -> i64 {
        (days_from_civil(self.year, self.mon + 1, self.mday) + 3).rem_euclid(7)
    }
}

/// Local time resolution in one time zone, remembering the last UTC offset
/// used (as `mktime()` does) to pick a side of ambiguous local times.
struct Clock<'a> {
    tz: &'a TimeZone,
    last_offset: i64,
}

impl Clock<'_> {
    fn offset_at(&self, t: i64) -> Option<(i64, bool)> {
        let ts = Timestamp::from_second(t).ok()?;
        let info = self.tz.to_offset_info(ts);
        Some((i64::from(info.offset().seconds()), info.dst().is_dst()))
    }

    fn localtime(&self, t: i64) -> Option<Tm> {
        let (offset, dst) = self.offset_at(t)?;
        let local = t + offset;
        let (year, month, mday) = civil_from_days(local.div_euclid(SECS_PER_DAY));
        let secs = local.rem_euclid(SECS_PER_DAY);
        Some(Tm {
            year,
            mon: month - 1,
            mday,
            hour: secs / 3600,
            min: secs / 60 % 60,
            sec: secs % 60,
            isdst: i8::from(dst),
        })
    }

    /// Resolves possibly out-of-range local fields to a point in time and
    /// normalizes `tm` to that time's local fields. `None` if out of range
    /// (then `tm` is left alone).
    fn mktime(&mut self, tm: &mut Tm) -> Option<i64> {
        let fields = [tm.year, tm.mon, tm.mday, tm.hour, tm.min, tm.sec];
        if fields.iter().any(|v| v.abs() > 1_000_000_000) {
            return None;
        }
        let year = tm.year + tm.mon.div_euclid(12);
        if !(-YEAR_LIMIT..=YEAR_LIMIT).contains(&year) {
            return None;
        }
        let days = days_from_civil(year, tm.mon.rem_euclid(12) + 1, 1) + tm.mday - 1;
        // Like mktime(), resolve with the seconds clamped to 0..=59 and add
        // the excess afterwards: 02:59:63 in a fold is 02:59:59 on the side
        // chosen, plus four seconds.
        let sec = tm.sec.clamp(0, 59);
        let local = days * SECS_PER_DAY + tm.hour * 3600 + tm.min * 60 + sec;
        let t = self.resolve(local, tm.isdst)? + (tm.sec - sec);
        *tm = self.localtime(t)?;
        Some(t)
    }

    fn resolve(&mut self, local: i64, isdst: i8) -> Option<i64> {
        let dt = Offset::UTC.to_datetime(Timestamp::from_second(local).ok()?);
        let secs = |o: Offset| i64::from(o.seconds());
        let mut t = match self.tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => local - secs(offset),
            AmbiguousOffset::Gap { before, after } => {
                // Both readings are a gap's width away from what was asked.
                // Without a DST request the daylight-saving one wins; with
                // one, the one whose DST flag differs from it (which the DST
                // correction below then keeps).
                let later = local - secs(before);
                let earlier = local - secs(after);
                let (_, later_dst) = self.offset_at(later)?;
                let (_, earlier_dst) = self.offset_at(earlier)?;
                let want_dst = isdst <= 0;
                if later_dst == earlier_dst || later_dst == want_dst {
                    later
                } else {
                    earlier
                }
            }
            AmbiguousOffset::Fold { before, after } => {
                let first = local - secs(before);
                let second = local - secs(after);
                if self.last_offset == secs(before) {
                    first
                } else if self.last_offset == secs(after) {
                    second
                } else {
                    self.probe(local).filter(|&t| t == second).unwrap_or(first)
                }
            }
        };
        if isdst >= 0 {
            let (_, dst) = self.offset_at(t)?;
            if dst != (isdst > 0) {
                t = self.correct_dst(local, t, isdst > 0, dst);
            }
        }
        self.last_offset = local - t;
        Some(t)
    }

    /// A DST flag was requested that `t` does not have: read the local time
    /// with the UTC offset of the nearest time that has it (probing a week
    /// apart, closest first, for up to about 15 years), else assume one hour
    /// of DST. This is what `mktime()` does.
    fn correct_dst(&self, local: i64, t: i64, want_dst: bool, found_dst: bool) -> i64 {
        const STRIDE: i64 = 601_200;
        const BOUND: i64 = 457_243_200 + STRIDE;
        let mut delta = STRIDE;
        while delta < BOUND {
            for probe in [t - delta, t + delta] {
                if let Some((offset, dst)) = self.offset_at(probe)
                    && dst == want_dst
                {
                    return local - offset;
                }
            }
            delta += STRIDE;
        }
        t + 3600 * (i64::from(!want_dst) - i64::from(!found_dst))
    }

    /// `mktime()`'s search: start with the last offset, then follow the
    /// offsets found, until a fixed point.
    fn probe(&self, local: i64) -> Option<i64> {
        let mut t = local - self.last_offset;
        for _ in 0..6 {
            let (offset, _) = self.offset_at(t)?;
            let next = local - offset;
            if next == t {
                return Some(t);
            }
            t = next;
        }
        None
    }

    /// Day of the month that is `day` days before the end of `tm`'s month
    /// (1 = the last day), or -1.
    fn end_of_month(&mut self, tm: &Tm, day: i64) -> i64 {
        let mut t = *tm;
        t.mon += 1;
        t.mday = 1 - day;
        match self.mktime(&mut t) {
            Some(x) if x >= 0 && t.mon == tm.mon => t.mday,
            _ => -1,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Step {
    /// No value of the field at or after the current one.
    NoMatch,
    /// The current value matches.
    Same,
    /// The field was advanced to the next matching value.
    Changed,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Bounds {
    /// Unresolvable, past the last year, or the time went backwards.
    Invalid,
    /// The fields did not exist as written; `tm` now holds the rolled-over time.
    Moved,
    Valid,
}

struct Search<'a, 'z> {
    spec: &'a CalendarSpec,
    clock: Clock<'z>,
    /// The DST flag candidates are resolved with: -1 (whichever applies),
    /// or forced by a local zone abbreviation.
    isdst: i8,
}

impl Search<'_, '_> {
    /// Advances `val` to the smallest value >= `val` that one of the items
    /// matches.
    fn matching(&mut self, chain: &[Component], is_day: bool, tm: &Tm, val: &mut i64) -> Step {
        if chain.is_empty() {
            return Step::Same;
        }
        let end_of_month = is_day && self.spec.end_of_month;
        let mut best: Option<i64> = None;
        for c in chain {
            let (mut start, mut stop) = (i64::from(c.start), i64::from(c.stop));
            if end_of_month {
                start = self.clock.end_of_month(tm, start);
                stop = self.clock.end_of_month(tm, stop);
                if stop > 0 {
                    std::mem::swap(&mut start, &mut stop);
                }
            }
            if start >= *val {
                if best.is_none_or(|b| start < b) {
                    best = Some(start);
                }
            } else if c.repeat > 0 {
                let repeat = i64::from(c.repeat);
                let k = start + repeat * (*val - start + repeat - 1).div_euclid(repeat);
                if best.is_none_or(|b| k < b) && (stop < 0 || k <= stop) {
                    best = Some(k);
                }
            }
        }
        match best {
            None => Step::NoMatch,
            Some(b) if b == *val => Step::Same,
            Some(b) => {
                *val = b;
                Step::Changed
            }
        }
    }

    fn within_bounds(&mut self, tm: &mut Tm) -> Bounds {
        if tm.year > i64::from(MAX_YEAR) {
            return Bounds::Invalid;
        }
        let mut t = *tm;
        match self.clock.mktime(&mut t) {
            Some(x) if x >= 0 => {}
            _ => return Bounds::Invalid,
        }
        // On a change, the next smaller field restarts (a rolled-over
        // "March 33" must not skip April 1).
        let cmp = if t.year != tm.year {
            t.mon = 0;
            t.year.cmp(&tm.year)
        } else if t.mon != tm.mon {
            t.mday = 1;
            t.mon.cmp(&tm.mon)
        } else if t.mday != tm.mday {
            t.hour = 0;
            t.mday.cmp(&tm.mday)
        } else if t.hour != tm.hour {
            t.min = 0;
            t.hour.cmp(&tm.hour)
        } else if t.min != tm.min {
            t.sec = 0;
            t.min.cmp(&tm.min)
        } else {
            t.sec.cmp(&tm.sec)
        };
        match cmp {
            std::cmp::Ordering::Less => Bounds::Invalid,
            std::cmp::Ordering::Greater => {
                *tm = t;
                Bounds::Moved
            }
            std::cmp::Ordering::Equal => Bounds::Valid,
        }
    }

    fn matches_weekday(&mut self, tm: &Tm) -> bool {
        let bits = self.spec.weekdays;
        if bits == 0 {
            return true;
        }
        let mut t = *tm;
        match self.clock.mktime(&mut t) {
            Some(x) if x >= 0 => bits & (1 << t.weekday()) != 0,
            _ => false,
        }
    }

    /// Checks a field step: `NoMatch` or an invalid result means "go to the
    /// next value of the larger field".
    fn settle(&mut self, step: Step, tm: &mut Tm) -> Bounds {
        if step == Step::NoMatch {
            Bounds::Invalid
        } else {
            self.within_bounds(tm)
        }
    }

    fn find_next(&mut self, start: Tm, start_usec: i64) -> Option<(Tm, i64)> {
        let spec = self.spec;
        let (mut c, mut usec) = (start, start_usec);
        // Set once a candidate turned out not to be after the start (a DST
        // change moved it back): from then on the DST flag of the last
        // resolution is kept, so that the repeated hour is not found again.
        let mut keep_dst = false;
        for _ in 0..MAX_ITERATIONS {
            let _ = self.clock.mktime(&mut c);
            if !keep_dst {
                c.isdst = self.isdst;
            }

            let mut v = c.year;
            let step = self.matching(&spec.year, false, &c, &mut v);
            c.year = v;
            match step {
                Step::NoMatch => return None,
                Step::Changed => {
                    c.mon = 0;
                    c.mday = 1;
                    c.reset_time(&mut usec);
                }
                Step::Same => {}
            }
            if self.within_bounds(&mut c) != Bounds::Valid {
                return None;
            }

            let mut v = c.mon + 1;
            let step = self.matching(&spec.month, false, &c, &mut v);
            c.mon = v - 1;
            if step == Step::Changed {
                c.mday = 1;
                c.reset_time(&mut usec);
            }
            match self.settle(step, &mut c) {
                Bounds::Invalid => {
                    c.year += 1;
                    c.mon = 0;
                    c.mday = 1;
                    c.reset_time(&mut usec);
                    continue;
                }
                Bounds::Moved => continue,
                Bounds::Valid => {}
            }

            let mut v = c.mday;
            let step = self.matching(&spec.day, true, &c, &mut v);
            c.mday = v;
            if step == Step::Changed {
                c.reset_time(&mut usec);
            }
            match self.settle(step, &mut c) {
                Bounds::Invalid => {
                    c.mon += 1;
                    c.mday = 1;
                    c.reset_time(&mut usec);
                    continue;
                }
                Bounds::Moved => continue,
                Bounds::Valid => {}
            }

            if !self.matches_weekday(&c) {
                c.mday += 1;
                c.reset_time(&mut usec);
                continue;
            }

            let mut v = c.hour;
            let step = self.matching(&spec.hour, false, &c, &mut v);
            c.hour = v;
            if step == Step::Changed {
                c.min = 0;
                c.sec = 0;
                usec = 0;
            }
            match self.settle(step, &mut c) {
                Bounds::Invalid => {
                    c.mday += 1;
                    c.reset_time(&mut usec);
                    continue;
                }
                // The hour may not exist (time zone change): start over
                // from the resolved time.
                Bounds::Moved => continue,
                Bounds::Valid => {}
            }

            let mut v = c.min;
            let step = self.matching(&spec.minute, false, &c, &mut v);
            c.min = v;
            if step == Step::Changed {
                c.sec = 0;
                usec = 0;
            }
            match self.settle(step, &mut c) {
                Bounds::Invalid => {
                    c.hour += 1;
                    c.min = 0;
                    c.sec = 0;
                    usec = 0;
                    continue;
                }
                Bounds::Moved => continue,
                Bounds::Valid => {}
            }

            let per_sec = i64::from(USEC_PER_SEC);
            let mut v = c.sec * per_sec + usec;
            let step = self.matching(&spec.second, false, &c, &mut v);
            usec = v.rem_euclid(per_sec);
            c.sec = v.div_euclid(per_sec);
            match self.settle(step, &mut c) {
                Bounds::Invalid => {
                    c.min += 1;
                    c.sec = 0;
                    usec = 0;
                    continue;
                }
                Bounds::Moved => continue,
                Bounds::Valid => {}
            }

            let fields = |t: &Tm| (t.year, t.mon, t.mday, t.hour, t.min, t.sec);
            if (fields(&c), usec) < (fields(&start), start_usec) {
                keep_dst = true;
                c.hour += 1;
                continue;
            }
            return Some((c, usec));
        }
        None
    }
}

pub(crate) fn next_elapse(
    spec: &CalendarSpec,
    after: Timestamp,
    local: &TimeZone,
) -> Option<Timestamp> {
    // With a forced DST flag (a local zone abbreviation), systemd's search
    // can answer a time before `after` inside a fall-back fold. We promise a
    // time after `after`: follow the elapses from there while they advance.
    let mut from = after;
    let mut last: Option<Timestamp> = None;
    for _ in 0..MAX_ITERATIONS {
        let next = next_elapse_once(spec, from, local)?;
        if next > after {
            return Some(next);
        }
        if last.is_some_and(|l| next <= l) {
            return None;
        }
        last = Some(next);
        from = next;
    }
    None
}

fn next_elapse_once(spec: &CalendarSpec, after: Timestamp, local: &TimeZone) -> Option<Timestamp> {
    let (tz, isdst) = match &spec.zone {
        Zone::Local => (local, -1),
        Zone::LocalAbbreviation { dst, .. } => (local, i8::from(*dst)),
        Zone::Utc => (&TimeZone::UTC, -1),
        Zone::Named { tz, .. } => (tz, -1),
    };
    let per_sec = i64::from(USEC_PER_SEC);
    let start = after.as_microsecond().max(0).checked_add(1)?;
    let t = start.div_euclid(per_sec);
    let mut clock = Clock { tz, last_offset: 0 };
    // mktime() starts from the offset of the start time (its first call is
    // on the start time itself).
    clock.last_offset = clock.offset_at(t)?.0;
    let c = clock.localtime(t)?;
    let mut search = Search { spec, clock, isdst };
    let (mut found, usec) = search.find_next(c, start.rem_euclid(per_sec))?;
    let t = search.clock.mktime(&mut found).filter(|&t| t >= 0)?;
    Timestamp::from_microsecond(t.checked_mul(per_sec)?.checked_add(usec)?).ok()
}
