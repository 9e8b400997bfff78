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

use super::jobs::ItemState;
use super::owner::Owner;

/// Slack on top of the units' own timeouts (reaping, log flushing).
const MARGIN: Duration = Duration::from_secs(5);
/// systemd's DefaultTimeoutStopSec=, for units whose stop timeout is infinite.
const DEFAULT_STOP: Duration = Duration::from_secs(90);
/// ExecStop=, SIGTERM, final SIGKILL: each may take the stop timeout.
const STOP_PHASES: u32 = 3;

impl Owner {
    /// How long the shutdown that begins now may take before the watchdog ends it.
    pub fn shutdown_budget(&self) -> Duration {
        let units = self
            .units
            .values()
            .filter(|e| !e.is_idle())
            .map(|e| {
                let stop = e
                    .def_unit()
                    .and_then(|u| u.service())
                    .and_then(|s| s.timeout_stop.as_duration())
                    .unwrap_or(DEFAULT_STOP);
                stop.saturating_mul(STOP_PHASES)
            })
            .fold(Duration::ZERO, Duration::saturating_add);
        units.saturating_add(MARGIN)
    }

    /// The jobs the shutdown still waits for, one line for the log: `web.service
    /// (stop, deactivating)`.
    pub fn unfinished_jobs(&self) -> String {
        let mut waiting: Vec<String> = self
            .txns
            .values()
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
