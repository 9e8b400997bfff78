//! What a restarted daimond needs to re-adopt the services, written when it
//! changed (read back in `adopt.rs`).

use super::Owner;
use crate::persist;

/// The re-adoption snapshot's writer, and whether what it holds changed
/// since it was last written.
#[derive(Default)]
pub(super) struct Snapshot {
    writer: persist::SnapshotWriter,
    changed: bool,
}

impl Snapshot {
    /// A unit's state, main PID or restart count changed.
    pub(super) fn changed(&mut self) {
        self.changed = true;
    }
}

impl Owner {
    /// Writes the re-adoption snapshot if anything it holds changed.
    pub fn persist(&mut self) {
        if !std::mem::take(&mut self.snapshot.changed) {
            return;
        }
        let records: Vec<persist::UnitRecord> = self
            .units
            .values()
            .filter(|e| !e.invocation.is_empty())
            .map(|e| persist::UnitRecord {
                name: e.name.clone(),
                state: e.machine.state.as_str().to_string(),
                result: e.machine.result.as_str().to_string(),
                main_pid: e.machine.main_pid,
                main_start_time: e.main_start_time,
                invocation: e.invocation.clone(),
                restarts: e.machine.restarts,
            })
            .collect();
        match self
            .snapshot
            .writer
            .save(&self.site.paths().state, &records)
        {
            Ok(()) => self.spawning.saved(&self.site.paths().state),
            Err(e) => tracing::warn!("cannot save the supervisor state: {e}"),
        }
    }
}
