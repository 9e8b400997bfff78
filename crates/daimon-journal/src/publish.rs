//! Owns publishing what the writer wrote: the committed tail that readers see
//! at once (in memory, shared with them), and moving it into the SQLite index
//! in one transaction every few MiB or seconds.

use std::time::Instant;

use rusqlite::params;

use crate::index::{self, Row};
use crate::writer::{DropReason, JournalWriter, OpenKey};

/// Longest time committed lines stay out of the index (they are visible
/// meanwhile, from memory).
const INDEX_AGE: std::time::Duration = std::time::Duration::from_secs(5);

impl JournalWriter {
    /// Makes every line ingested so far visible to readers and wakes followers.
    /// Cheap: no SQLite work unless the unindexed tail has grown past a few
    /// MiB or seconds, then one transaction with one row per unit.
    pub fn commit(&mut self) {
        if !self.pending.is_empty() {
            let max = self
                .pending
                .iter()
                .map(|r| r.sum.seq_max)
                .max()
                .unwrap_or(0);
            let mut t = self.shared.tail();
            if t.blocks.is_empty() {
                self.tail_since = Instant::now();
            }
            t.blocks.append(&mut self.pending);
            t.committed = t.committed.max(max);
            drop(t);
            self.shared.cond.notify_all();
        }
        let due = self.seg.as_ref().is_some_and(|s| {
            s.size - s.indexed_end >= index::REGION
                || (s.size > s.indexed_end && self.tail_since.elapsed() >= INDEX_AGE)
        });
        if due {
            self.flush_index();
        }
    }

    /// Commits and moves everything into the index now (tests, benchmarks).
    #[doc(hidden)]
    pub fn index_now(&mut self) {
        self.commit();
        self.flush_index();
    }

    /// Moves the committed tail into the index.
    pub(crate) fn flush_index(&mut self) {
        let Some(seg) = self.seg.as_mut() else {
            return;
        };
        let mut t = self.shared.tail.lock().unwrap_or_else(|e| e.into_inner());
        if t.blocks.is_empty() {
            return;
        }
        let rows = index::coalesce(&t.blocks);
        let end = t.blocks.last().map_or(seg.indexed_end, |b| b.off + b.len);
        // A unit's row keeps growing over later flushes while it stays within
        // one region: a trickling service costs one row per region, not one
        // per flush. Changes are applied to `open_rows` only once committed.
        let mut changed: Vec<(OpenKey, (i64, Row))> = Vec::new();
        let res = (|| -> rusqlite::Result<()> {
            let tx = self.db.transaction()?;
            for r in &rows {
                let key = (r.unit, r.inv.clone());
                match seg.open_rows.get(&key) {
                    Some((id, open)) if r.off + r.len - open.off <= index::REGION => {
                        let mut m = open.clone();
                        m.merge(r);
                        index::update_row(&tx, *id, &m)?;
                        changed.push((key, (*id, m)));
                    }
                    _ => {
                        index::insert_rows(&tx, std::slice::from_ref(r))?;
                        changed.push((key, (tx.last_insert_rowid(), r.clone())));
                    }
                }
            }
            tx.prepare_cached("UPDATE segments SET size = ?2, last_rt = ?3 WHERE id = ?1")?
                .execute(params![seg.id, end as i64, seg.last_rt])?;
            tx.commit()
        })();
        // On failure the tail stays in memory (still visible) and is retried;
        // after a crash, open re-indexes it from the segment. A full disk
        // pauses writing so that the tail stops growing.
        match res {
            Ok(()) => {
                t.blocks.clear();
                seg.indexed_end = end;
                seg.open_rows.extend(changed);
            }
            Err(e) if index::is_full(&e) => self.maint.pause(DropReason::DiskFull),
            Err(_) => {}
        }
    }
}
