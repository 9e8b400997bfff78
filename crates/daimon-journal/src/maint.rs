//! Owns the writer's periodic work: `fdatasync` of the active segment, sealing
//! full or old segments, compressing sealed ones in bounded steps, retention
//! (size, keep-free and age bounds, oldest segment first, whole), and the
//! pause of writing while the disk is full.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

use crate::index::{self, SEG_SEALED};
use crate::prealloc;
use crate::space::{RESUME_FREE, fs_stats};
use crate::writer::{ActiveSeg, DropReason, JournalWriter};
use crate::{JournalError, clock};

/// How often a paused writer looks for room again: space that appears is
/// used within this long (a timer in the writer's thread, not a poll loop
/// of the daemon).
pub(crate) const RETRY: Duration = Duration::from_millis(250);

pub(crate) struct Maint {
    /// Writing is paused (disk or quota full): blocks are dropped and
    /// counted without touching the disk until `tick` finds room.
    pub paused: Option<DropReason>,
    /// Sealed segments whose tail still awaits `fdatasync`.
    pub unsynced: Vec<ActiveSeg>,
    /// A segment file was created since the directory was last synced.
    pub dir_dirty: bool,
    last_sync: Instant,
}

impl Maint {
    pub fn new(_db: &Connection) -> Result<Maint, JournalError> {
        Ok(Maint {
            paused: None,
            unsynced: Vec::new(),
            dir_dirty: false,
            last_sync: Instant::now(),
        })
    }

    /// Stops writing until `tick` finds room again.
    pub fn pause(&mut self, why: DropReason) {
        self.paused.get_or_insert(why);
    }
}

/// Why an I/O error means "no room": ENOSPC and a file size limit are a full
/// disk, EDQUOT a quota.
pub(crate) fn no_room(e: &std::io::Error) -> Option<DropReason> {
    match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EFBIG) => Some(DropReason::DiskFull),
        Some(libc::EDQUOT) => Some(DropReason::OverQuota),
        _ => None,
    }
}

/// [`no_room`] for any error of the store (SQLITE_FULL included).
pub(crate) fn no_room_in(e: &JournalError) -> Option<DropReason> {
    match e {
        JournalError::Io { source, .. } => no_room(source),
        JournalError::Index(e) if index::is_full(e) => Some(DropReason::DiskFull),
        _ => None,
    }
}

impl JournalWriter {
    /// Periodic work, from the writer thread: syncs written lines (at least
    /// every `sync_interval`), seals old segments, compresses sealed ones and
    /// applies retention, spending at most about `tick_budget` on compression.
    ///
    /// Returns when it wants to run again: `Some(d)` while work is pending
    /// (unsynced lines, a segment to compress, a paused writer's retry within
    /// `RETRY`), `None` when idle (then once a minute is enough, for sealing
    /// by age and retention by age).
    pub fn tick(&mut self, now: Instant) -> Option<Duration> {
        if self.maint.paused.is_some() {
            self.try_resume();
        }
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
        if self.maint.paused.is_some() {
            want(RETRY);
        }
        next.map(|d| d.max(Duration::from_millis(10)))
    }

    /// Flushes written lines to stable storage and records how far.
    pub fn sync(&mut self) {
        if self.maint.dir_dirty {
            // A new segment's name must survive a power cut along with its data.
            if let Ok(d) = std::fs::File::open(&self.shared.dir)
                && d.sync_all().is_ok()
            {
                self.maint.dir_dirty = false;
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
        if let Some(mut seg) = self.seg.take() {
            // Always, not only when `reserved` says so: an `fallocate` that
            // ran out of room may have allocated part of its step.
            prealloc::release(&seg.file, seg.size);
            seg.reserved = seg.size;
            self.shared.ahead.store(0, Ordering::Relaxed);
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

    /// A paused writer looks for room: its own oldest segments go first
    /// (retention, down to the floor on a full disk), then writing resumes if
    /// the file system has room. statvfs cannot see a quota: after EDQUOT the
    /// next write simply tries again.
    fn try_resume(&mut self) {
        let _ = self.retention();
        let room = match self.maint.paused {
            Some(DropReason::OverQuota) => true,
            _ => fs_stats(&self.shared.dir).is_none_or(|(_, avail)| avail >= RESUME_FREE),
        };
        if room {
            self.maint.paused = None;
        }
    }

    /// Bytes of every file of the store: segments (the open one at its
    /// current length), a compressed copy being written, the index, its WAL
    /// and shared-memory file.
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
            .map_or(0, |s| (s.reserved.max(s.size) - s.indexed_end) as i64);
        let dir = &self.shared.dir;
        let db_size: u64 = ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"]
            .iter()
            .filter_map(|n| std::fs::metadata(dir.join(n)).ok())
            .map(|m| m.len())
            .sum();
        let total = (segs + active_extra).max(0) as u64 + db_size + self.compactor.tmp_bytes();
        self.shared.disk_usage.store(total, Ordering::Relaxed);
        total
    }

    /// Deletes the oldest closed segments (never the open one) while the
    /// store, with room for the growth until the next pass, exceeds what its
    /// budget allows (the size bound, or less to keep free space; never below
    /// the floor), and segments whose newest line is past the age bound.
    pub(crate) fn retention(&mut self) -> Result<(), JournalError> {
        // A chatty unit gives up its own oldest lines before whole segments,
        // with everyone's lines, go.
        let _ = self.apply_unit_caps();
        let budget = self.shared.budget;
        let active = self.seg.as_ref().map(|s| s.id);
        let cutoff = self
            .shared
            .cfg
            .max_age
            .map(|a| clock::realtime_usec() as i64 - a.as_micros() as i64);
        loop {
            let oldest = self.oldest_closed_segment(active)?;
            let Some((id, state, last_rt)) = oldest else {
                self.refresh_usage();
                break;
            };
            let usage = self.refresh_usage();
            let open = self.seg.as_ref().map_or(0, |s| s.reserved.max(s.size));
            let closed = usage.saturating_sub(open);
            let avail = fs_stats(&self.shared.dir).map(|(_, a)| a);
            let too_big = !budget.fits(closed, usage, avail);
            let too_old = cutoff.is_some_and(|c| last_rt < c);
            if !too_big && !too_old {
                break;
            }
            self.remove_segment(id, state)?;
        }
        Ok(())
    }

    /// Deletes one closed segment: its file first, which frees the space even
    /// when the index cannot be written (a full disk), then its rows. A crash
    /// in between leaves rows without a file, which the open-time repair
    /// drops; readers skip them meanwhile (`retired`).
    /// The oldest segment other than `active` (the one being written), with its
    /// state and last realtime stamp: what retention and vacuum delete first.
    pub(crate) fn oldest_closed_segment(
        &self,
        active: Option<i64>,
    ) -> Result<Option<(i64, i64, i64)>, JournalError> {
        Ok(self
            .db
            .prepare_cached(
                "SELECT id, state, last_rt FROM segments WHERE id != ?1 ORDER BY id LIMIT 1",
            )?
            .query_row([active.unwrap_or(-1)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .ok())
    }

    pub(crate) fn remove_segment(&mut self, id: i64, state: i64) -> Result<(), JournalError> {
        self.shared.retired.fetch_max(id, Ordering::AcqRel);
        self.compactor.abandon(id);
        // Its descriptor would keep the deleted file's blocks allocated.
        self.maint.unsynced.retain(|s| s.id != id);
        let _ = std::fs::remove_file(index::segment_path(&self.shared.dir, id, state));
        let tx = self.db.transaction()?;
        tx.execute("DELETE FROM blocks WHERE seg = ?1", [id])?;
        tx.execute("DELETE FROM segments WHERE id = ?1", [id])?;
        tx.commit()?;
        self.compactor.sealed_at.remove(&id);
        self.shared.segments.fetch_sub(1, Ordering::Relaxed);
        Ok(())
    }
}
