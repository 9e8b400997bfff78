//! Owns resuming a source from bytes read while no writer ran (daimond's fd
//! store spools what services write while daimond is down): finding what of
//! them is stored already, and rebuilding the source's partial line from the
//! part that is, so that the rest is stored exactly once and split exactly as
//! if it had been read live.
//!
//! The identity of a chunk is its monotonic stamp: every line of a chunk
//! carries the chunk's stamp, and one source's chunks are read one after the
//! other, so the newest stamp stored for a source tells which chunks are in.

use std::time::Duration;

use crate::reader::JournalReader;
use crate::record::{parse_level_prefix, priority};
use crate::writer::{JournalWriter, SourceId, SourceMeta};
use crate::{JournalError, Query};

/// Lines stored up to this long before the first spooled chunk (a wall clock
/// stepped back meanwhile) still count.
const CLOCK_SLACK: Duration = Duration::from_secs(60);

impl JournalWriter {
    /// The newest monotonic stamp of a line of this source (unit, invocation,
    /// PID and stream) stored with a wall-clock time at or after `since_rt`
    /// (µs), committing what is pending first so that it is seen.
    pub fn last_stored_mono(
        &mut self,
        meta: &SourceMeta,
        since_rt: u64,
    ) -> Result<Option<u64>, JournalError> {
        self.commit();
        let since = since_rt.saturating_sub(CLOCK_SLACK.as_micros() as u64);
        let q = Query {
            units: vec![meta.unit.clone()],
            invocation: Some(meta.invocation.clone()),
            since: jiff::Timestamp::from_microsecond(since as i64).ok(),
            streams: vec![meta.stream],
            ..Query::default()
        };
        let mut reader = JournalReader::new(self.shared.clone())?;
        let mut last = None;
        reader.query(&q, &mut |r| {
            if r.pid == meta.pid && r.stream == meta.stream && r.unit == meta.unit {
                last = last.max(Some(r.monotonic_usec));
            }
            true
        })?;
        Ok(last)
    }

    /// Advances source `id`'s partial line as [`JournalWriter::ingest`] would
    /// with `data`, storing nothing: `data` is stored already.
    pub fn replay(&mut self, id: SourceId, data: &[u8]) {
        let line_max = self.line_max();
        let Some(src) = self.sources.get_mut(&id.0) else {
            return;
        };
        match memchr::memrchr(b'\n', data) {
            Some(i) => {
                src.partial.clear();
                src.cont_prio = None;
                src.partial.extend_from_slice(&data[i + 1..]);
            }
            None => src.partial.extend_from_slice(data),
        }
        // Pieces of an over-long line were stored as they filled `line_max`;
        // later pieces keep the first one's priority (see `lines`).
        let mut off = 0;
        while src.partial.len() - off > line_max {
            if src.cont_prio.is_none() {
                let piece = &src.partial[off..off + line_max];
                let p = src
                    .level_prefix
                    .then(|| parse_level_prefix(piece))
                    .flatten()
                    .map_or(priority::INFO, |(p, _)| p);
                src.cont_prio = Some(p);
            }
            off += line_max;
        }
        src.partial.drain(..off);
    }

    /// Source `id`'s partial line (bytes whose newline has not come yet).
    pub fn partial(&self, id: SourceId) -> Option<&[u8]> {
        self.sources.get(&id.0).map(|s| &s.partial[..])
    }

    /// Forgets source `id`'s partial line: what came before the next bytes is
    /// not known (a writer that held it was killed).
    pub fn forget_partial(&mut self, id: SourceId) {
        if let Some(src) = self.sources.get_mut(&id.0) {
            src.partial.clear();
            src.cont_prio = None;
        }
    }
}
