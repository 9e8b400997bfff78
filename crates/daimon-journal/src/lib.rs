//! daimon-journal: the log store.
//!
//! Owns: the record model, the segment files and their SQLite index, ingestion,
//! queries, follow, retention, output formats and time expressions.
//!
//! Must never: know about processes or units beyond a unit name; spawn threads of
//! its own that the daemon cannot see; depend on an async runtime.
//!
//! # Design
//!
//! Plain append-only files are what make supervisord or s6-log fast; journald's
//! comfort comes from an index. This store keeps both by indexing *blocks* of
//! lines, never single lines, and by keeping SQLite off the per-batch path.
//!
//! * **Segments.** Each [`JournalWriter::ingest`] call turns one chunk read from
//!   a pipe into one self-describing block (see `codec`: a header naming the
//!   source, the messages back to back, then ~5 bytes of metadata per line, and
//!   a checksum) and appends it to the active segment with one `writev`. Lines
//!   that need no rewriting are written straight from the chunk (no copy).
//!   Once the daemon has read a line, a crash of the daemon cannot lose it: the
//!   page cache holds it. [`JournalWriter::tick`] calls `fdatasync` at least
//!   every `sync_interval` (power-cut safety) and records the synced length.
//!   (Starting writeback early with `sync_file_range` was tried: it moves
//!   ~10% of the writer's CPU into the write path for no gain in throughput.)
//!   The active segment's blocks are allocated up to 8 MiB ahead of its end
//!   (`prealloc`, as journald does): ext4 then skips its per-page reservation
//!   on every append, 17% of the writer thread's CPU while a service floods.
//! * **Commit without SQLite.** [`JournalWriter::commit`] publishes the batch's
//!   block descriptors (unit, invocation, sequence and time ranges, priority
//!   mask, offset) in memory, shared with every reader through the `Journal`'s
//!   `Arc`, and wakes followers (a `Condvar`; no polling). Queries see those
//!   blocks at once. Every 4 MiB or 5 s, the writer moves them into the SQLite
//!   index (WAL) in one transaction, as one row per (unit, invocation) per
//!   4 MiB region (a row grows across flushes, so a service printing one line
//!   a second costs one row per region, not one per line), while holding the
//!   lock readers take to open their snapshot, so a reader sees every block
//!   exactly once.
//! * **Index.** One row per block (or per region of a raw segment): unit,
//!   invocation, sequence range, time range, line count, a bit mask of the
//!   priorities present, segment and offset. Queries prune with it, then read
//!   only the blocks they must.
//! * **Sealing.** A segment that reaches `segment_size` (64 MiB, at most 1/8 of
//!   the size bound) or `seal_after` is sealed; two seconds later, `tick`
//!   re-encodes it in bounded steps: lines are regrouped by (source, priority)
//!   within 16 MiB windows and each group becomes zstd-compressed blocks of
//!   about 64 KiB. `-u UNIT` or `-p err` then decompress only blocks holding
//!   such lines, and sealed data takes about a quarter of the raw text. The new
//!   file is synced and renamed, then swapped into the index in one
//!   transaction.
//! * **Queries** merge the blocks they read in sequence order (blocks of one
//!   window overlap), stream `--since` results from the first block, collect
//!   `-n N` newest first, and run `-g` over a block's text in one regex pass,
//!   checking only candidate lines one by one.
//! * **Crash repair.** On open, every uncompressed segment is re-verified from
//!   its last synced length (and its last indexed block): valid blocks are
//!   (re)indexed, a torn or zero-filled tail is truncated, files the index does
//!   not know are adopted (compressed ones too) or removed. A missing or
//!   corrupt index is rebuilt from the segments (a corrupt one is kept aside).
//! * **Retention** (see `space` for the rules, journald's) deletes whole
//!   closed segments, oldest first, never the open one: when a segment is
//!   sealed, before the next one opens (so a flood cannot outrun it: a 20 MiB
//!   file system once filled in 3 s when retention ran only once a second),
//!   and in `tick` (age). It counts every file of the store and keeps room
//!   for what grows until the next pass. A segment's file goes before its
//!   rows, so deleting works on a full disk, where SQLite cannot write.
//! * **Per-unit cap** (`unit_cap`): before whole segments go, a unit past
//!   `unit_max_use` loses its oldest compressed blocks, punched out of their
//!   files in place, so a chatty unit does not take the others' lines with it.
//! * **A full disk** (ENOSPC, EDQUOT, SQLITE_FULL) pauses writing: blocks are
//!   dropped without touching the disk and their lines counted per unit
//!   ([`DropCounts`]); readers go on with what is stored. `tick` retries every
//!   quarter second: it deletes old segments down to the floor and resumes
//!   once space is free. The writer never stops or panics on it.
//!
//! # Using it from a daemon
//!
//! One thread owns the [`JournalWriter`]: it receives chunks (up to 64 KiB,
//! from the pipes' readers), calls [`JournalWriter::ingest`] for each, then
//! [`JournalWriter::commit`] once the channel is empty, and
//! [`JournalWriter::tick`] when the duration it returned has passed (or at
//! least once a minute when it returned `None`). Readers live on other threads
//! ([`Journal::reader`]); follow is a loop of [`Query`] with `after` and
//! [`JournalReader::wait_for_new`]. Enlarging service pipes (`F_SETPIPE_SZ`)
//! lowers context switches for chatty services.

pub mod boots;
mod checksum;
mod clock;
mod codec;
mod compact;
mod error;
mod export;
mod filter;
pub mod format;
mod index;
mod lines;
mod maint;
mod newlines;
mod prealloc;
mod publish;
mod reader;
mod record;
mod repair;
mod resume;
mod space;
pub mod syslog_parse;
pub mod timeexpr;
mod unit_cap;
mod vacuum;
mod writer;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub use clock::{monotonic_usec, realtime_usec};
pub use error::JournalError;
pub use filter::Query;
pub use reader::JournalReader;
pub use record::{
    Cursor, FLAG_CONTINUED, FLAG_PARTIAL, Record, Stream, parse_level_prefix, priority,
};
pub use vacuum::Vacuumed;
pub use writer::{JournalWriter, SourceId, SourceMeta};

/// Settings of a store. `Default` gives journald-like values.
#[derive(Debug, Clone)]
pub struct JournalConfig {
    /// Bound on disk use (SystemMaxUse=); `None` = 10% of the file system,
    /// capped at 4 GiB, as journald's default.
    pub max_use: Option<u64>,
    /// Space left free on the file system (SystemKeepFree=); `None` = 15% of
    /// it, capped at 4 GiB, as journald's default.
    pub keep_free: Option<u64>,
    /// Segments whose newest line is older than this are deleted.
    pub max_age: Option<Duration>,
    /// Most bytes one unit's lines may take in closed segments (UnitMaxUse=);
    /// past it, that unit's oldest lines go first (see `unit_cap`).
    pub unit_max_use: Option<u64>,
    /// Longest time between two `fdatasync` of written lines.
    pub sync_interval: Duration,
    /// Longer lines are split (journald's LineMax=, 48K; at most 1 MiB).
    pub line_max: usize,
    /// `_HOSTNAME` and the host column of `short` output.
    pub hostname: String,
    /// A segment is sealed when it reaches this size...
    pub segment_size: u64,
    /// ...or this age.
    pub seal_after: Duration,
    /// zstd level of sealed segments.
    pub compress_level: i32,
    /// Most time one `tick` spends on sealing and retention.
    pub tick_budget: Duration,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            max_use: None,
            keep_free: None,
            max_age: None,
            unit_max_use: None,
            sync_interval: Duration::from_secs(1),
            line_max: 48 * 1024,
            hostname: hostname(),
            segment_size: 64 << 20,
            seal_after: Duration::from_secs(3600),
            compress_level: 3,
            tick_budget: Duration::from_millis(20),
        }
    }
}

/// The host name, as `gethostname(2)` reports it.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for `buf.len()` bytes; gethostname writes at most that.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Lines that could not be kept, per reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    pub disk_full: u64,
    pub over_quota: u64,
    pub io_error: u64,
}

impl DropCounts {
    pub fn total(&self) -> u64 {
        self.disk_full + self.over_quota + self.io_error
    }
}

fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for DropCounts {
    /// `12 345 lines dropped: disk full`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (n, why) in [
            (self.disk_full, "disk full"),
            (self.over_quota, "over quota"),
            (self.io_error, "I/O error"),
        ] {
            if n > 0 {
                if !first {
                    f.write_str(", ")?;
                }
                first = false;
                let s = if n == 1 { "line" } else { "lines" };
                write!(f, "{} {s} dropped: {why}", group_digits(n))?;
            }
        }
        Ok(())
    }
}

/// Disk use and losses of the store.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Bytes of segments and index on disk.
    pub disk_usage: u64,
    /// The effective size bound.
    pub max_use: u64,
    pub segments: u64,
    /// Per unit, what was dropped and why.
    pub dropped: BTreeMap<String, DropCounts>,
}

/// State shared by the writer and every reader.
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub cfg: JournalConfig,
    pub max_use: u64,
    pub budget: space::Budget,
    /// Every segment up to this id was deleted by retention (oldest first):
    /// a reader that finds one missing skips it rather than looking again.
    pub retired: AtomicI64,
    pub writer_taken: AtomicBool,
    pub locked: bool,
    _lock: Option<File>,
    /// What is committed but not yet in the index; followers wait on `cond`.
    pub tail: Mutex<Tail>,
    pub cond: Condvar,
    pub dropped: Mutex<BTreeMap<String, DropCounts>>,
    pub disk_usage: AtomicU64,
    pub segments: AtomicU64,
    /// Bytes allocated past the active segment's end (`prealloc`): part of
    /// the store's disk use that no index row shows.
    pub ahead: AtomicU64,
}

/// Committed blocks of the active segment that the index does not hold yet.
/// `commit` only appends here (no SQLite work per batch); the writer moves
/// them into the index every few MiB or seconds, holding the lock while its
/// transaction commits so that a reader sees each block exactly once.
pub(crate) struct Tail {
    /// Highest committed sequence number.
    pub committed: u64,
    pub blocks: Vec<index::Row>,
}

impl Shared {
    /// The per-unit counts of lines that could not be stored (a poisoned lock
    /// still holds valid counts).
    pub fn dropped(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, DropCounts>> {
        self.dropped.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn tail(&self) -> std::sync::MutexGuard<'_, Tail> {
        self.tail.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A log store in one directory. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Journal {
    shared: Arc<Shared>,
}

fn try_lock(dir: &Path) -> Result<Option<File>, JournalError> {
    use std::os::fd::AsRawFd;
    let path = dir.join("lock");
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| JournalError::io(&path, e))?;
    // SAFETY: `f` is an open file descriptor for the duration of the call.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        Ok(Some(f))
    } else {
        let err = std::io::Error::last_os_error();
        if err.kind() == std::io::ErrorKind::WouldBlock {
            Ok(None)
        } else {
            Err(JournalError::io(path, err))
        }
    }
}

impl Journal {
    /// Per-unit counts of lines that could not be stored (what `stats` reports
    /// as `dropped`, without its reads of the index).
    pub fn dropped(&self) -> BTreeMap<String, DropCounts> {
        self.shared.dropped().clone()
    }

    /// Opens (creating if needed) the store in `dir`. If no other process holds
    /// the store, a torn tail left by a crash is repaired first.
    pub fn open(dir: &Path, cfg: JournalConfig) -> Result<Journal, JournalError> {
        std::fs::create_dir_all(dir).map_err(|e| JournalError::io(dir, e))?;
        let lock = try_lock(dir)?;
        let open_index = || -> Result<Option<i64>, JournalError> {
            let db = index::connect(dir)?;
            // Closing this connection would checkpoint the WAL into the index
            // (three fsyncs) just before the writer opens its own on the same
            // file; the writer's automatic checkpoints do that work later. What
            // stays in the WAL is as safe there (synchronous=NORMAL, see
            // `index::connect`).
            let _ = db.set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                true,
            );
            if lock.is_some() {
                repair::repair(dir, &db)?;
            }
            Ok(db.query_row("SELECT max(seq_max) FROM blocks", [], |r| r.get(0))?)
        };
        let committed = match open_index() {
            Err(JournalError::Index(e)) if lock.is_some() && index::is_corrupt(&e) => {
                // The segments are the truth: set the damaged index aside and
                // rebuild it from them.
                index::set_aside(dir);
                open_index()?
            }
            r => r?,
        };
        let budget = space::Budget::for_dir(dir, cfg.max_use, cfg.keep_free, cfg.segment_size);
        let shared = Shared {
            dir: dir.to_path_buf(),
            max_use: budget.max_use,
            budget,
            retired: AtomicI64::new(0),
            cfg,
            writer_taken: AtomicBool::new(false),
            locked: lock.is_some(),
            _lock: lock,
            tail: Mutex::new(Tail {
                committed: committed.unwrap_or(0) as u64,
                blocks: Vec::new(),
            }),
            cond: Condvar::new(),
            dropped: Mutex::new(BTreeMap::new()),
            disk_usage: AtomicU64::new(0),
            ahead: AtomicU64::new(0),
            segments: AtomicU64::new(0),
        };
        Ok(Journal {
            shared: Arc::new(shared),
        })
    }

    /// The one writer. Fails if another writer is alive, in this process or another.
    /// Whether this handle holds the store's lock (it repaired the store on
    /// opening and may take the writer), or another process does.
    pub fn owns_store(&self) -> bool {
        self.shared.locked
    }

    pub fn writer(&self) -> Result<JournalWriter, JournalError> {
        if !self.shared.locked {
            return Err(JournalError::Locked(self.shared.dir.clone()));
        }
        if self.shared.writer_taken.swap(true, Ordering::AcqRel) {
            return Err(JournalError::WriterTaken);
        }
        match JournalWriter::new(self.shared.clone()) {
            Ok(w) => Ok(w),
            Err(e) => {
                self.shared.writer_taken.store(false, Ordering::Release);
                Err(e)
            }
        }
    }

    /// A reader; any number may exist, each used from one thread at a time.
    pub fn reader(&self) -> Result<JournalReader, JournalError> {
        JournalReader::new(self.shared.clone())
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// A renderer with the configured host name and the local time zone.
    pub fn renderer(&self, format: format::OutputFormat) -> format::Renderer {
        let tz = jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC);
        format::Renderer::new(format, self.shared.cfg.hostname.clone(), tz)
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &JournalConfig {
        &self.shared.cfg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_counts_display() {
        let d = DropCounts {
            disk_full: 12345,
            ..Default::default()
        };
        assert_eq!(d.to_string(), "12 345 lines dropped: disk full");
    }
}
