//! Owns ingestion: sources and their partial lines, line splitting, `<N>`
//! prefixes, block encoding, appending to the active segment, and committing
//! index rows. Publishing them (`commit`, the index) lives in `publish`,
//! maintenance (sync, sealing, retention) in `maint`, resuming a source from
//! a spool in `resume`.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use rusqlite::{Connection, params};

use crate::codec::{BlockBuilder, SourceKey};
use crate::compact::Compactor;
use crate::index::{self, Row, SEG_ACTIVE};
use crate::lines::Emitter;
use crate::maint::{Maint, no_room, no_room_in};
use crate::prealloc;
use crate::record::{FLAG_PARTIAL, Stream};
use crate::{DropCounts, JournalError, Shared, clock};

/// Identifies one open pipe; chosen by the daemon, unique while open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub u64);

/// What every line of a source shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMeta {
    pub unit: String,
    /// 32 lowercase hex digits, new at each start of the unit (like systemd).
    pub invocation: String,
    pub pid: u32,
    pub stream: Stream,
    /// SyslogLevelPrefix=: parse and strip a leading `<N>`.
    pub level_prefix: bool,
    /// SyslogIdentifier=; `None` = the unit name without `.service`.
    pub identifier: Option<String>,
}

pub(crate) struct Source {
    key: SourceKey,
    name: Arc<str>,
    inv: Arc<str>,
    unit_id: i64,
    pub level_prefix: bool,
    /// Bytes of a line whose newline has not arrived yet.
    pub(crate) partial: Vec<u8>,
    /// Priority of a long line being split: its later pieces keep it and are
    /// not parsed for a prefix.
    pub cont_prio: Option<u8>,
}

/// (unit id, invocation) of an index row that may still grow.
pub(crate) type OpenKey = (i64, Arc<str>);

pub(crate) struct ActiveSeg {
    pub id: i64,
    /// Blocks before this offset are in the index.
    pub indexed_end: u64,
    /// The latest index row of each (unit, invocation) in this segment.
    pub open_rows: HashMap<OpenKey, (i64, Row)>,
    pub file: File,
    pub size: u64,
    /// Where the blocks allocated ahead of `size` end (`crate::prealloc`).
    pub reserved: u64,
    pub synced: u64,
    pub opened: Instant,
    pub last_rt: i64,
}

/// The single writer of a store. Not shared: one thread owns it.
pub struct JournalWriter {
    pub(crate) shared: Arc<Shared>,
    pub(crate) db: Connection,
    pub(crate) seg: Option<ActiveSeg>,
    pub(crate) sources: HashMap<u64, Source>,
    units: HashMap<String, i64>,
    pub(crate) next_seq: u64,
    pub(crate) pending: Vec<Row>,
    bb: BlockBuilder,
    pub(crate) maint: Maint,
    pub(crate) compactor: Compactor,
    pub(crate) tail_since: Instant,
}

/// Largest chunk encoded as one block (bigger ones are cut).
const MAX_CHUNK: usize = 4 << 20;
/// Upper bound of `line_max` and of one `append`ed message.
const MAX_LINE: usize = 1 << 20;

impl Drop for JournalWriter {
    fn drop(&mut self) {
        let ids: Vec<u64> = self.sources.keys().copied().collect();
        for id in ids {
            self.close_source(SourceId(id));
        }
        // The next writer starts a new segment; this one is sealed so that
        // it gets compressed, and synced so that shutdown loses nothing.
        self.seal_active();
        self.sync();
        self.shared.writer_taken.store(false, Ordering::Release);
    }
}

impl JournalWriter {
    pub(crate) fn new(shared: Arc<Shared>) -> Result<JournalWriter, JournalError> {
        let db = index::connect(&shared.dir)?;
        let max: Option<i64> = db.query_row("SELECT max(seq_max) FROM blocks", [], |r| r.get(0))?;
        let next_seq = (max.unwrap_or(0) as u64 + 1).max(shared.tail().committed + 1);
        // A WAL in proportion to the store: it is part of the bound.
        let wal_pages = (shared.budget.wal_cap / 4096).max(16) as i64;
        db.pragma_update(None, "wal_autocheckpoint", wal_pages)?;
        db.pragma_update(None, "journal_size_limit", shared.budget.wal_cap as i64)?;
        let maint = Maint::new(&db)?;
        let mut w = JournalWriter {
            shared,
            db,
            seg: None,
            sources: HashMap::new(),
            units: HashMap::new(),
            next_seq,
            pending: Vec::new(),
            bb: BlockBuilder::new(),
            maint,
            compactor: Compactor::default(),
            tail_since: Instant::now(),
        };
        w.refresh_usage();
        Ok(w)
    }

    pub(crate) fn line_max(&self) -> usize {
        self.shared.cfg.line_max.clamp(1, MAX_LINE)
    }

    pub(crate) fn unit_id_of(&mut self, unit: &str) -> i64 {
        self.unit_id(unit)
    }

    fn unit_id(&mut self, unit: &str) -> i64 {
        if let Some(&id) = self.units.get(unit) {
            return id;
        }
        match index::unit_id(&self.db, unit) {
            Ok(id) => {
                self.units.insert(unit.to_string(), id);
                id
            }
            // The row is re-derived from the segment at the next open.
            Err(_) => -1,
        }
    }

    /// Starts reading a pipe. Re-opening an id replaces its metadata (a pending
    /// partial line of the old source is flushed first).
    pub fn open_source(&mut self, id: SourceId, meta: SourceMeta) {
        if self.sources.contains_key(&id.0) {
            self.close_source(id);
        }
        let unit_id = self.unit_id(&meta.unit);
        let name: Arc<str> = Arc::from(meta.unit.as_str());
        let inv: Arc<str> = Arc::from(meta.invocation.as_str());
        self.sources.insert(
            id.0,
            Source {
                name,
                inv,
                key: SourceKey {
                    unit: meta.unit,
                    invocation: meta.invocation,
                    identifier: meta.identifier,
                    pid: meta.pid,
                    stream: meta.stream,
                },
                unit_id,
                level_prefix: meta.level_prefix,
                partial: Vec::new(),
                cont_prio: None,
            },
        );
    }

    /// Stores the lines of one chunk read from a source's pipe, with the
    /// current time. Complete lines are written to the segment at once (one
    /// `write()`); a trailing partial line waits for its newline or the close.
    pub fn ingest(&mut self, id: SourceId, data: &[u8]) {
        let rt = clock::realtime_usec();
        let mono = clock::monotonic_usec();
        self.ingest_at(id, data, rt, mono);
    }

    /// [`Self::ingest`] with given timestamps (tests and benchmarks).
    #[doc(hidden)]
    pub fn ingest_at(&mut self, id: SourceId, data: &[u8], rt: u64, mono: u64) {
        if data.len() > MAX_CHUNK {
            // Keeps every block far below the format's size limit; a line
            // across two pieces is joined through the partial-line buffer.
            for piece in data.chunks(MAX_CHUNK) {
                self.ingest_at(id, piece, rt, mono);
            }
            return;
        }
        let line_max = self.line_max();
        let Self {
            sources,
            bb,
            next_seq,
            ..
        } = self;
        let Some(src) = sources.get_mut(&id.0) else {
            return;
        };
        let (rt, mono) = (rt as i64, mono as i64);
        bb.begin(&src.key, *next_seq, rt, mono);
        let mut e = Emitter {
            bb,
            input: data,
            seq: next_seq,
            rt,
            mono,
            line_max,
        };
        let mut rest = data;
        if !src.partial.is_empty() {
            match memchr::memchr(b'\n', rest) {
                Some(i) => {
                    let mut line = std::mem::take(&mut src.partial);
                    line.extend_from_slice(&rest[..i]);
                    e.line(src, &line, 0);
                    line.clear();
                    src.partial = line;
                    rest = &rest[i + 1..];
                }
                None => {
                    src.partial.extend_from_slice(rest);
                    rest = &[];
                }
            }
        }
        let mut start = 0;
        crate::newlines::each(rest, |nl| {
            e.line(src, &rest[start..nl], 0);
            start = nl + 1;
        });
        src.partial.extend_from_slice(&rest[start..]);
        if src.partial.len() > line_max {
            let mut p = std::mem::take(&mut src.partial);
            let mut off = 0;
            while p.len() - off > line_max {
                e.piece(src, &p[off..off + line_max]);
                off += line_max;
            }
            p.drain(..off);
            src.partial = p;
        }
        let (unit_id, name, inv) = (src.unit_id, src.name.clone(), src.inv.clone());
        self.write_block(unit_id, name, inv, data);
    }

    /// The pipe closed: a last line without newline is stored, marked partial.
    pub fn close_source(&mut self, id: SourceId) {
        let Some(mut src) = self.sources.remove(&id.0) else {
            return;
        };
        if src.partial.is_empty() {
            return;
        }
        let (rt, mono) = (
            clock::realtime_usec() as i64,
            clock::monotonic_usec() as i64,
        );
        self.bb.begin(&src.key, self.next_seq, rt, mono);
        let line_max = self.line_max();
        let mut e = Emitter {
            bb: &mut self.bb,
            input: &[],
            seq: &mut self.next_seq,
            rt,
            mono,
            line_max,
        };
        let line = std::mem::take(&mut src.partial);
        e.line(&mut src, &line, FLAG_PARTIAL);
        self.write_block(src.unit_id, src.name.clone(), src.inv.clone(), &[]);
    }

    /// Stores one record directly (the daemon's own messages, one-off records).
    /// A message with newlines stays one record.
    pub fn append(
        &mut self,
        unit: &str,
        invocation: Option<&str>,
        pid: u32,
        stream: Stream,
        priority: u8,
        message: &[u8],
    ) {
        self.append_at(
            unit,
            invocation,
            pid,
            stream,
            priority,
            message,
            clock::realtime_usec(),
            clock::monotonic_usec(),
        );
    }

    /// [`Self::append`] with given timestamps (tests and benchmarks).
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub fn append_at(
        &mut self,
        unit: &str,
        invocation: Option<&str>,
        pid: u32,
        stream: Stream,
        priority: u8,
        message: &[u8],
        rt: u64,
        mono: u64,
    ) {
        let key = SourceKey {
            unit: unit.to_string(),
            invocation: invocation.unwrap_or("").to_string(),
            identifier: None,
            pid,
            stream,
        };
        self.append_key(key, priority, message, rt, mono);
    }

    /// Stores one syslog datagram as one record: `_TRANSPORT=syslog` with its
    /// facility, its identifier (`None`: the unit's) and the sender's PID as
    /// the kernel reported it.
    #[allow(clippy::too_many_arguments)]
    pub fn append_syslog(
        &mut self,
        unit: &str,
        invocation: Option<&str>,
        pid: u32,
        facility: u8,
        priority: u8,
        identifier: Option<&str>,
        message: &[u8],
    ) {
        let key = SourceKey {
            unit: unit.to_string(),
            invocation: invocation.unwrap_or("").to_string(),
            identifier: identifier.map(str::to_string),
            pid,
            stream: Stream::Syslog(facility),
        };
        self.append_key(
            key,
            priority,
            message,
            clock::realtime_usec(),
            clock::monotonic_usec(),
        );
    }

    fn append_key(&mut self, key: SourceKey, priority: u8, message: &[u8], rt: u64, mono: u64) {
        let unit: &str = &key.unit;
        let unit_id = self.unit_id(unit);
        let message = &message[..message.len().min(MAX_LINE)];
        self.bb.begin(&key, self.next_seq, rt as i64, mono as i64);
        self.bb
            .push(self.next_seq, rt as i64, mono as i64, priority & 7, message);
        self.next_seq += 1;
        self.write_block(
            unit_id,
            Arc::from(unit),
            Arc::from(key.invocation.as_str()),
            &[],
        );
    }

    /// Writes the block being built with one `write`/`writev`; `input` is
    /// the chunk its uncopied lines live in.
    fn write_block(&mut self, unit_id: i64, name: Arc<str>, inv: Arc<str>, input: &[u8]) {
        let unit: &str = &name.clone();
        let count = self.bb.count();
        if count == 0 {
            return;
        }
        let sum = self.bb.sum;
        let len = self.bb.total_len() as u64;
        if let Err(reason) = self.ensure_segment(len) {
            self.count_drop(unit, count, reason);
            return;
        }
        let limit = self.shared.budget.seg_limit;
        let Some(seg) = self.seg.as_mut() else {
            return;
        };
        seg.reserved = prealloc::reserve(&seg.file, seg.size, len, seg.reserved, limit);
        let res = if self.bb.fragmented() {
            seg.file.write_all(self.bb.finish_contiguous(input))
        } else {
            write_all_vectored(&mut seg.file, &mut self.bb.finish_slices(input))
        };
        match res {
            Ok(()) => {
                self.pending.push(Row {
                    seg: seg.id,
                    off: seg.size,
                    len,
                    raw_len: len,
                    unit: unit_id,
                    name,
                    inv,
                    sum,
                });
                seg.size += len;
                let ahead = seg.reserved.saturating_sub(seg.size);
                self.shared.ahead.store(ahead, Ordering::Relaxed);
                seg.last_rt = seg.last_rt.max(sum.rt_max);
            }
            Err(e) => {
                // A short write leaves a torn block: cut it so the next
                // block starts on a boundary.
                let _ = seg.file.set_len(seg.size);
                seg.reserved = seg.size;
                self.shared.ahead.store(0, Ordering::Relaxed);
                // ENOSPC, a quota, or a file size limit: no room to write
                // until `tick` finds some; other errors are this block's.
                let reason = match no_room(&e) {
                    Some(r) => {
                        self.maint.pause(r);
                        r
                    }
                    None => DropReason::Io,
                };
                self.count_drop(unit, count, reason);
            }
        }
    }

    pub(crate) fn count_drop(&self, unit: &str, n: u32, reason: DropReason) {
        let mut d = self.shared.dropped();
        let c = d.entry(unit.to_string()).or_default();
        let n = u64::from(n);
        match reason {
            DropReason::DiskFull => c.disk_full += n,
            DropReason::OverQuota => c.over_quota += n,
            DropReason::Io => c.io_error += n,
        }
    }

    /// Makes sure an active segment with room for `len` more bytes is open.
    /// While writing is paused, nothing touches the disk.
    fn ensure_segment(&mut self, len: u64) -> Result<(), DropReason> {
        if let Some(why) = self.maint.paused {
            return Err(why);
        }
        if let Some(seg) = &self.seg {
            if seg.size == 0 || seg.size + len <= self.shared.budget.seg_limit {
                return Ok(());
            }
            self.seal_active();
        }
        // Room for the next segment before it opens: retention on the write
        // path, once per segment, so that no flood can outrun it.
        let _ = self.retention();
        self.open_segment().map_err(|e| match no_room_in(&e) {
            Some(r) => {
                self.maint.pause(r);
                r
            }
            None => DropReason::Io,
        })
    }

    fn open_segment(&mut self) -> Result<(), JournalError> {
        let rt = clock::realtime_usec() as i64;
        // AUTOINCREMENT: an id is never reused, so a reader's open file can
        // never be mistaken for a newer segment.
        self.db.execute(
            "INSERT INTO segments(state, size, synced_end, created_rt, last_rt)
             VALUES (?1, 0, 0, ?2, 0)",
            params![SEG_ACTIVE, rt],
        )?;
        let id = self.db.last_insert_rowid();
        let path = index::segment_path(&self.shared.dir, id, SEG_ACTIVE);
        let file = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| JournalError::io(&path, e))?;
        self.seg = Some(ActiveSeg {
            id,
            indexed_end: 0,
            open_rows: HashMap::new(),
            file,
            size: 0,
            reserved: 0,
            synced: 0,
            opened: Instant::now(),
            last_rt: 0,
        });
        self.shared.segments.fetch_add(1, Ordering::Relaxed);
        self.maint.dir_dirty = true;
        Ok(())
    }

    /// Per-unit counts of lines that could not be stored.
    pub fn dropped(&self) -> BTreeMap<String, DropCounts> {
        self.shared.dropped().clone()
    }
}

fn write_all_vectored(f: &mut File, mut bufs: &mut [std::io::IoSlice<'_>]) -> std::io::Result<()> {
    while !bufs.is_empty() {
        match f.write_vectored(bufs) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => std::io::IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    DiskFull,
    OverQuota,
    Io,
}
