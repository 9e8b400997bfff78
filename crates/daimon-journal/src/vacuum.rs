//! Owns journalctl's maintenance verbs on the store: `--rotate` (seal the
//! segment being written, so that it can go too) and `--vacuum-size=` /
//! `--vacuum-time=` (delete closed segments, oldest first, until the store
//! fits the size given and no segment's newest line is older than the span
//! given). As in journalctl, the segment being written is never deleted, and
//! whole segments go, never single lines. Runs on the writer's thread.

use std::time::Duration;

use crate::writer::JournalWriter;
use crate::{JournalError, clock};

/// What a vacuum removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Vacuumed {
    pub segments: u64,
    pub bytes: u64,
    /// The store's size afterwards.
    pub usage: u64,
}

impl JournalWriter {
    /// `--rotate`: the segment being written is sealed; the next line opens
    /// a new one.
    pub fn rotate(&mut self) {
        self.commit();
        self.seal_active();
    }

    /// `--vacuum-size=` (`max_bytes`) and `--vacuum-time=` (`max_age`).
    pub fn vacuum(
        &mut self,
        max_bytes: Option<u64>,
        max_age: Option<Duration>,
    ) -> Result<Vacuumed, JournalError> {
        self.commit();
        self.flush_index();
        let active = self.seg.as_ref().map(|s| s.id);
        let cutoff = max_age.map(|a| clock::realtime_usec() as i64 - a.as_micros() as i64);
        let before = self.refresh_usage();
        let mut done = Vacuumed::default();
        loop {
            let oldest = self.oldest_closed_segment(active)?;
            let Some((id, state, last_rt)) = oldest else {
                break;
            };
            let usage = self.refresh_usage();
            let too_big = max_bytes.is_some_and(|m| usage > m);
            let too_old = cutoff.is_some_and(|c| last_rt < c);
            if !too_big && !too_old {
                break;
            }
            self.remove_segment(id, state)?;
            done.segments += 1;
        }
        done.usage = self.refresh_usage();
        done.bytes = before.saturating_sub(done.usage);
        Ok(done)
    }
}
