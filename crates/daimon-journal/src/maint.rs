//! Owns the writer's periodic work: `fdatasync` of the active segment, sealing
//! full or old segments, compressing sealed ones in bounded steps, and
//! retention (size and age bounds, oldest segment first, whole).

use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

use crate::index::{self, SEG_SEALED};
use crate::writer::{ActiveSeg, JournalWriter};
use crate::{JournalError, clock};

pub(crate) struct Maint {
    pub disk_full: bool,
    /// Sealed segments whose tail still awaits `fdatasync`.
    pub unsynced: Vec<ActiveSeg>,
    /// A segment file was created since the directory was last synced.
    pub dir_dirty: bool,
    pub over_quota: bool,
    last_sync: Instant,
}

impl Maint {
    pub fn new(_db: &Connection) -> Result<Maint, JournalError> {
        Ok(Maint {
            disk_full: false,
            unsynced: Vec::new(),
            dir_dirty: false,
            over_quota: false,
            last_sync: Instant::now(),
        })
    }
}

impl JournalWriter {
    /// Periodic work, from the writer thread: syncs written lines (at least
    /// every `sync_interval`), seals old segments, compresses sealed ones and
    /// applies retention, spending at most about `tick_budget` on compression.
    ///
    /// Returns when it wants to run again: `Some(d)` while work is pending
    /// (unsynced lines, a segment to compress), `None` when idle (then once a
    /// minute is enough, for sealing by age and retention by age).
    pub fn tick(&mut self, now: Instant) -> Option<Duration> {
        self.commit();
        if now.duration_since(self.maint.last_sync) >= self.shared.cfg.sync_interval {
            self.sync();
            self.maint.last_sync = now;
        }
        let seal_due = self.seg.as_ref().is_some_and(|s| {
            s.size > 0 && now.duration_since(s.opened) >= self.shared.cfg.seal_after
        });
        if seal_due {
            self.seal_active();
        }
        let _ = self.retention();
        // Hand pages freed by compression and retention back to the file system.
        let free: i64 = self
            .db
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))
            .unwrap_or(0);
        if free > 256 {
            let _ = self.db.execute_batch("PRAGMA incremental_vacuum(256)");
        }
        let deadline = Instant::now() + self.shared.cfg.tick_budget;
        let mut next: Option<Duration> = None;
        let mut want = |d: Duration| next = Some(next.map_or(d, |n: Duration| n.min(d)));
        if !self.compact_until(deadline) {
            want(Duration::from_millis(100));
        } else if let Some(wait) = self.compactor.next_eligible() {
            want(wait);
        }
        let unsynced =
            self.seg.as_ref().is_some_and(|s| s.synced < s.size) || !self.maint.unsynced.is_empty();
        if unsynced {
            let since = Instant::now().saturating_duration_since(self.maint.last_sync);
            want(self.shared.cfg.sync_interval.saturating_sub(since));
        }
        next.map(|d| d.max(Duration::from_millis(10)))
    }

    /// Flushes written lines to stable storage and records how far.
    pub fn sync(&mut self) {
        if self.maint.dir_dirty {
            // A new segment's name must survive a power cut along with its data.
            if let Ok(d) = std::fs::File::open(&self.shared.dir) {
                if d.sync_all().is_ok() {
                    self.maint.dir_dirty = false;
                }
            }
        }
        let mut segs = std::mem::take(&mut self.maint.unsynced);
        segs.retain_mut(|seg| !self.sync_one(seg));
        self.maint.unsynced = segs;
        if let Some(mut seg) = self.seg.take() {
            self.sync_one(&mut seg);
            self.seg = Some(seg);
        }
    }

    fn sync_one(&mut self, seg: &mut ActiveSeg) -> bool {
        if seg.synced == seg.size {
            return true;
        }
        if seg.file.sync_data().is_err() {
            return false;
        }
        seg.synced = seg.size;
        let _ = self.db.execute(
            "UPDATE segments SET synced_end = ?2 WHERE id = ?1",
            params![seg.id, seg.size as i64],
        );
        true
    }

    /// Closes the active segment; the next block opens a new one.
    /// Never syncs: a sealed segment's unsynced tail is synced by the next
    /// `tick` (or replaced by its synced compressed form first).
    pub(crate) fn seal_active(&mut self) {
        self.commit();
        self.flush_index();
        if let Some(seg) = self.seg.take() {
            let _ = self.db.execute(
                "UPDATE segments SET state = ?2, size = ?3 WHERE id = ?1",
                params![seg.id, SEG_SEALED, seg.size as i64],
            );
            self.compactor.sealed_at.insert(seg.id, Instant::now());
            if seg.synced < seg.size {
                self.maint.unsynced.push(seg);
            }
        }
    }

    pub(crate) fn refresh_usage(&mut self) -> u64 {
        let segs: i64 = self
            .db
            .query_row("SELECT coalesce(sum(size), 0) FROM segments", [], |r| {
                r.get(0)
            })
            .unwrap_or(0);
        // The active segment's row lags behind until its tail is indexed.
        let active_extra = self
            .seg
            .as_ref()
            .map_or(0, |s| (s.size - s.indexed_end) as i64);
        let dir = &self.shared.dir;
        let db_size: u64 = ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"]
            .iter()
            .filter_map(|n| std::fs::metadata(dir.join(n)).ok())
            .map(|m| m.len())
            .sum();
        let total = (segs + active_extra).max(0) as u64 + db_size;
        self.shared
            .disk_usage
            .store(total, std::sync::atomic::Ordering::Relaxed);
        total
    }

    /// Deletes the oldest sealed segments while over the size bound, and
    /// segments whose newest line is past the age bound.
    pub(crate) fn retention(&mut self) -> Result<(), JournalError> {
        let max_use = self.shared.max_use;
        let active = self.seg.as_ref().map(|s| s.id);
        let cutoff = self
            .shared
            .cfg
            .max_age
            .map(|a| clock::realtime_usec() as i64 - a.as_micros() as i64);
        loop {
            let usage = self.refresh_usage();
            let oldest: Option<(i64, i64, i64)> = self
                .db
                .query_row(
                    "SELECT id, state, last_rt FROM segments WHERE id != ?1 ORDER BY id LIMIT 1",
                    [active.unwrap_or(-1)],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .ok();
            let Some((id, state, last_rt)) = oldest else {
                break;
            };
            let too_big = usage > max_use || self.maint.disk_full;
            let too_old = cutoff.is_some_and(|c| last_rt < c);
            if !too_big && !too_old {
                break;
            }
            let tx = self.db.transaction()?;
            tx.execute("DELETE FROM blocks WHERE seg = ?1", [id])?;
            tx.execute("DELETE FROM segments WHERE id = ?1", [id])?;
            tx.commit()?;
            let _ = std::fs::remove_file(index::segment_path(&self.shared.dir, id, state));
            self.compactor.sealed_at.remove(&id);
            self.shared
                .segments
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            self.maint.disk_full = false;
        }
        Ok(())
    }
}
