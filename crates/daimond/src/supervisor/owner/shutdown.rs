//! The shutdown watchdog: `daimon shutdown` and SIGTERM end in bounded time.
//!
//! Owns how long a shutdown may take and what is reported when it took longer.
//! The owner loop ends once no transaction is open; should a job never finish
//! (a bug, a process the kernel will not let die), the loop ends anyway at the
//! deadline computed here, after logging what it was still waiting for. As
//! systemd's stop sequence does (systemd.service(5) TimeoutStopSec=), each unit
//! may take its stop timeout for ExecStop=, again for SIGTERM and again for the
//! final SIGKILL; units stop one after another in the worst case, so the
//! allowances add up. An infinite TimeoutStopSec= counts as systemd's default
//! (90 s): a shutdown that never ends is exactly what this guards against.

use std::time::Duration;

use daimon_unit::TimeSpan;

use super::Owner;
use crate::supervisor::jobs::ItemState;

/// Slack on top of the units' own timeouts (reaping, log flushing).
const MARGIN: Duration = Duration::from_secs(5);
/// systemd's DefaultTimeoutStopSec=, for units whose stop timeout is infinite.
const DEFAULT_STOP: Duration = Duration::from_secs(90);
/// ExecStop=, SIGTERM, final SIGKILL: each may take the stop timeout.
const STOP_PHASES: u32 = 3;

impl Owner {
    /// How long the shutdown that begins now may take before the watchdog ends it.
    pub fn shutdown_budget(&self) -> Duration {
        budget(self.units.values().filter(|e| !e.is_idle()).map(|e| {
            e.def_unit()
                .and_then(|u| u.service())
                .map_or(TimeSpan::Infinity, |s| s.timeout_stop)
        }))
    }

    /// The jobs the shutdown still waits for, one line for the log: `web.service
    /// (stop, deactivating)`.
    pub fn unfinished_jobs(&self) -> String {
        let mut waiting: Vec<String> = self
            .units
            .txns()
            .flat_map(|t| t.items.iter())
            .filter(|i| !matches!(i.state, ItemState::Done(_)))
            .map(|i| {
                let state = self
                    .units
                    .get(&i.unit)
                    .map_or("unknown", |e| e.machine.state.active_state().as_str());
                format!("{} ({:?}, {state})", i.unit, i.verb).to_lowercase()
            })
            .collect();
        waiting.sort();
        waiting.dedup();
        if waiting.is_empty() {
            "nothing".to_string()
        } else {
            waiting.join(", ")
        }
    }
}

/// The watchdog's allowance for units with these stop timeouts (see the module
/// comment).
fn budget(stop_timeouts: impl Iterator<Item = TimeSpan>) -> Duration {
    stop_timeouts
        .map(|t| {
            t.as_duration()
                .unwrap_or(DEFAULT_STOP)
                .saturating_mul(STOP_PHASES)
        })
        .fold(MARGIN, Duration::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_unit_may_take_three_stop_timeouts_and_infinity_counts_as_the_default() {
        let secs = |s| TimeSpan::Finite(Duration::from_secs(s));
        assert_eq!(budget(std::iter::empty()), Duration::from_secs(5));
        assert_eq!(budget([secs(2)].into_iter()), Duration::from_secs(11));
        assert_eq!(
            budget([secs(2), secs(10)].into_iter()),
            Duration::from_secs(41)
        );
        assert_eq!(
            budget([TimeSpan::Infinity].into_iter()),
            Duration::from_secs(275)
        );
        let huge = TimeSpan::Finite(Duration::MAX);
        assert_eq!(budget([huge, huge].into_iter()), Duration::MAX);
    }
}
