//! The one alarm of the owner: the nearest deadline of any unit's machine
//! (stop timeouts, restart delays, watchdogs, PID-file retries).

use std::time::Instant;

use super::Owner;
use crate::supervisor::machine::Event;

impl Owner {
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.first().map(|(t, _)| *t)
    }

    pub fn on_timers(&mut self) {
        let now = Instant::now();
        while let Some((t, unit)) = self.timers.first().cloned() {
            if t > now {
                break;
            }
            self.timers.remove(&(t, unit.clone()));
            if let Some(e) = self.units.get_mut(&unit) {
                e.timer_at = None;
            }
            self.feed(&unit, Event::Timer);
        }
    }
}
