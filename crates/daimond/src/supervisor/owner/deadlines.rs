//! The one alarm of the owner: the nearest deadline of any unit's machine
//! (stop timeouts, restart delays, watchdogs, PID-file retries).

use std::collections::BTreeSet;
use std::time::Instant;

use super::Owner;
use crate::supervisor::machine::Event;

/// Each unit's nearest machine deadline, earliest first. A unit's entry
/// mirrors its `Entry::timer_at`.
#[derive(Default)]
pub(super) struct Deadlines(BTreeSet<(Instant, String)>);

impl Deadlines {
    /// `unit`'s deadline changes from `old` to `new`.
    pub(super) fn moved(&mut self, unit: &str, old: Option<Instant>, new: Option<Instant>) {
        if old == new {
            return;
        }
        if let Some(t) = old {
            self.0.remove(&(t, unit.to_string()));
        }
        if let Some(t) = new {
            self.0.insert((t, unit.to_string()));
        }
    }

    fn next(&self) -> Option<Instant> {
        self.0.first().map(|(t, _)| *t)
    }

    /// The unit whose deadline is the earliest one passed by `now`, taken out.
    fn take_due(&mut self, now: Instant) -> Option<String> {
        match self.0.first() {
            Some((t, _)) if *t <= now => self.0.pop_first().map(|(_, unit)| unit),
            _ => None,
        }
    }
}

impl Owner {
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.next()
    }

    pub fn on_timers(&mut self) {
        let now = Instant::now();
        while let Some(unit) = self.deadlines.take_due(now) {
            if let Some(e) = self.units.get_mut(&unit) {
                e.timer_at = None;
            }
            self.feed(&unit, Event::Timer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_earliest_passed_deadline_comes_first_and_a_moved_one_only_once() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut d = Deadlines::default();
        d.moved("a", None, Some(at(20)));
        d.moved("b", None, Some(at(10)));
        d.moved("a", Some(at(20)), Some(at(5)));
        assert_eq!(d.next(), Some(at(5)));
        assert_eq!(d.take_due(at(4)), None);
        assert_eq!(d.take_due(at(10)).as_deref(), Some("a"));
        assert_eq!(d.take_due(at(10)).as_deref(), Some("b"));
        assert_eq!(d.take_due(at(100)), None);
        d.moved("b", None, Some(at(30)));
        d.moved("b", Some(at(30)), None);
        assert_eq!(d.next(), None);
    }
}
