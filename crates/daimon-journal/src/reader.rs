//! Owns queries: pruning blocks through the index, decoding only those,
//! filtering lines, merging blocks in sequence order, last-N, and waiting for
//! new records (follow).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::codec;
use crate::codec::Block;
use crate::filter::{Filter, Grep, Query, select};
use crate::index::{self, Row, SEG_ACTIVE, SEG_COMPRESSED, SEG_SEALED};
use crate::record::{Cursor, Record};
use crate::{JournalError, Shared, Stats};

/// A query handle. Each reader has its own index connection; `Send`.
pub struct JournalReader {
    shared: Arc<Shared>,
    db: Connection,
    files: HashMap<(i64, i64), File>,
    dec: zstd::bulk::Decompressor<'static>,
    grep: Option<Grep>,
}

/// A decoded block and the indices of its matching lines.
struct Open {
    block: Block,
    sel: Vec<u32>,
    pos: usize,
}

impl Open {
    fn seq_at(&self, i: usize) -> u64 {
        self.block.lines[self.sel[i] as usize].seq
    }
}

/// The newest line left among the open blocks of a backward query: its slot,
/// its index in the block, and whether it was that block's last one.
fn pop_newest(
    heap: &mut BinaryHeap<(u64, usize)>,
    slots: &mut [Option<Open>],
) -> Option<(usize, u32, bool)> {
    let (_, s) = heap.pop()?;
    let o = slots[s].as_mut()?;
    let li = o.sel[o.pos];
    if o.pos == 0 {
        return Some((s, li, true));
    }
    o.pos -= 1;
    heap.push((o.seq_at(o.pos), s));
    Some((s, li, false))
}

/// A segment vanished under a running query (sealed and replaced).
struct Vanished;

struct BlockRef {
    seg: i64,
    state: i64,
    off: u64,
    len: usize,
    raw_len: usize,
    seq_min: u64,
    seq_max: u64,
    /// A raw range holds blocks of other sources too: keep only these.
    unit: Arc<str>,
    inv: Arc<str>,
}

impl BlockRef {
    fn of_row(r: &Row) -> BlockRef {
        BlockRef {
            seg: r.seg,
            state: SEG_ACTIVE,
            off: r.off,
            len: r.len as usize,
            raw_len: r.raw_len as usize,
            seq_min: r.sum.seq_min,
            seq_max: r.sum.seq_max,
            unit: r.name.clone(),
            inv: r.inv.clone(),
        }
    }
}

impl JournalReader {
    pub(crate) fn new(shared: Arc<Shared>) -> Result<JournalReader, JournalError> {
        let db = index::connect(&shared.dir)?;
        let dec = zstd::bulk::Decompressor::new().map_err(|e| JournalError::io(&shared.dir, e))?;
        Ok(JournalReader {
            shared,
            db,
            files: HashMap::new(),
            dec,
            grep: None,
        })
    }

    /// Loads and decodes the blocks a reference names; empty if the segment
    /// is gone (retention) or damaged.
    fn load(
        files: &mut HashMap<(i64, i64), File>,
        dec: &mut zstd::bulk::Decompressor<'static>,
        dir: &std::path::Path,
        retired: i64,
        b: &BlockRef,
        out: &mut Vec<Block>,
    ) -> Result<(), Vanished> {
        if files.len() > 64 {
            files.clear();
        }
        let f = match files.entry((b.seg, b.state)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                match File::open(index::segment_path(dir, b.seg, b.state)) {
                    Ok(f) => v.insert(f),
                    // A sealed raw segment disappears when its compressed
                    // form replaces it: the query must look again (unless
                    // retention deleted it).
                    Err(_) if b.state == SEG_SEALED && b.seg > retired => return Err(Vanished),
                    // Deleted by retention.
                    Err(_) => return Ok(()),
                }
            }
        };
        let Ok(buf) = read_at(f, b.off, b.len) else {
            return Ok(());
        };
        if b.state == SEG_COMPRESSED {
            if let Ok(d) = dec.decompress(&buf, b.raw_len) {
                out.extend(Block::decode_unverified(d));
            }
            return Ok(());
        }
        let mut pos = 0;
        while let Some(len) = codec::peek_len(&buf[pos..]) {
            let end = pos + len;
            if end > buf.len() {
                break;
            }
            if codec::peek_key(&buf[pos..end]) == Some((b.unit.as_bytes(), b.inv.as_bytes())) {
                // The usual case, one block read alone, is decoded in the
                // buffer it was read into (a copy of up to 1 MiB less).
                if pos == 0 && end == buf.len() {
                    out.extend(Block::decode(buf));
                    break;
                }
                if let Some(blk) = Block::decode(buf[pos..end].to_vec()) {
                    out.push(blk);
                }
            }
            pos = end;
        }
        Ok(())
    }

    /// Runs a query; `sink` gets every matching record in order and returns
    /// `false` to stop. Returns the cursor to pass as `after` to continue
    /// (follow): past everything this query could see.
    pub fn query(
        &mut self,
        q: &Query,
        sink: &mut dyn FnMut(&Record<'_>) -> bool,
    ) -> Result<Cursor, JournalError> {
        let res = self.query_all(q, sink);
        // Descriptors of segments that retention or compression delete later
        // would keep their blocks allocated (on a small disk, the disk full):
        // an idle reader holds none. Reopening costs a few µs per query.
        self.files.clear();
        res
    }

    fn query_all(
        &mut self,
        q: &Query,
        sink: &mut dyn FnMut(&Record<'_>) -> bool,
    ) -> Result<Cursor, JournalError> {
        let mut q = std::borrow::Cow::Borrowed(q);
        let mut emitted = 0u64;
        let mut count = 0usize;
        for _ in 0..8 {
            let mut counting = |r: &Record<'_>| {
                emitted = r.cursor.0;
                count += 1;
                sink(r)
            };
            match self.query_once(&q, &mut counting)? {
                Ok(c) => return Ok(c),
                Err(Vanished) if count == 0 => {}
                Err(Vanished) if q.reverse => {
                    // Delivered records stay delivered: continue before
                    // them, with what is left of `-n`.
                    let q = q.to_mut();
                    q.before = Some(Cursor(emitted));
                    q.lines = q.lines.map(|n| n.saturating_sub(count));
                    count = 0;
                }
                Err(Vanished) => {
                    // Delivered records stay delivered: continue after them.
                    let after = q.after.map_or(0, |c| c.0).max(emitted);
                    q.to_mut().after = Some(Cursor(after));
                    count = 0;
                }
            }
        }
        Err(JournalError::Corrupt(
            "segments kept vanishing during a query".into(),
        ))
    }

    fn query_once(
        &mut self,
        q: &Query,
        sink: &mut dyn FnMut(&Record<'_>) -> bool,
    ) -> Result<Result<Cursor, Vanished>, JournalError> {
        if let Some(p) = &q.grep
            && self.grep.as_ref().is_none_or(|g| g.pattern != *p)
        {
            self.grep = Some(Grep::new(p)?);
        }
        let Self {
            shared,
            db,
            files,
            dec,
            grep,
        } = self;
        let dir = shared.dir.clone();
        let retired = shared.retired.load(std::sync::atomic::Ordering::Acquire);
        // The index snapshot and the in-memory tail are taken together, under
        // the lock the writer holds while it moves the tail into the index.
        let guard = shared.tail();
        let tx = db.unchecked_transaction()?;
        let _: i64 = tx.query_row("SELECT count(*) FROM segments", [], |r| r.get(0))?;
        let mut tail: Vec<BlockRef> = Vec::new();
        let committed = guard.committed;
        let tail_rows = guard.blocks.clone();
        drop(guard);
        let after = q.after.map_or(0, |c| c.0);
        let done = Cursor(after.max(committed));
        let mut wh = vec!["1".to_string()];
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut unit_ids: Option<Vec<i64>> = None;
        if !q.units.is_empty() {
            let mut ids = Vec::new();
            let mut st = tx.prepare_cached("SELECT id FROM units WHERE name = ?1")?;
            for u in &q.units {
                let mut names = vec![u.clone()];
                if !u.contains('.') {
                    names.push(format!("{u}.service"));
                }
                for n in names {
                    if let Ok(id) = st.query_row([&n], |r| r.get::<_, i64>(0)) {
                        ids.push(id);
                    }
                }
            }
            if ids.is_empty() {
                return Ok(Ok(done));
            }
            // One unit asked for twice (`-u bot -u bot.service`, or a name
            // the caller resolved already) is one: `unit IN (2,2)` makes
            // SQLite sort every block of the unit instead of walking its
            // index, about 1 ms per 3,000 blocks for a `-n 1`.
            ids.sort_unstable();
            ids.dedup();
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            wh.push(format!("unit IN ({})", list.join(",")));
            unit_ids = Some(ids);
        }
        if let Some(inv) = &q.invocation {
            args.push(inv.clone().into());
            wh.push(format!("inv = ?{}", args.len()));
        }
        let since = q.since.map_or(i64::MIN, |t| t.as_microsecond());
        let until = q.until.map_or(i64::MAX, |t| t.as_microsecond());
        if q.since.is_some() {
            wh.push(format!("rt_max >= {since}"));
        }
        if q.until.is_some() {
            wh.push(format!("rt_min <= {until}"));
        }
        let prio_mask = crate::filter::priority_mask(q);
        if prio_mask != 0xff {
            wh.push(format!("(prio_mask & {prio_mask}) != 0"));
        }
        if after > 0 {
            wh.push(format!("seq_max > {after}"));
        }
        let before = q.before.map_or(u64::MAX, |c| c.0);
        if q.before.is_some() {
            wh.push(format!("seq_min < {}", before.min(i64::MAX as u64)));
        }
        for r in &tail_rows {
            let s = &r.sum;
            if unit_ids.as_ref().is_none_or(|ids| ids.contains(&r.unit))
                && q.invocation.as_deref().is_none_or(|i| i == &*r.inv)
                && s.rt_max >= since
                && s.rt_min <= until
                && u32::from(s.prio_mask) & prio_mask != 0
                && s.seq_max > after
                && s.seq_min < before
            {
                tail.push(BlockRef::of_row(r));
            }
        }
        let filter = Filter {
            after,
            before,
            since,
            until,
            prio_mask,
            identifiers: &q.identifiers,
            grep: if q.grep.is_some() {
                grep.as_ref()
            } else {
                None
            },
            streams: &q.streams,
        };
        let backward = q.lines.is_some() || q.reverse;
        let order = if backward {
            "seq_max DESC"
        } else {
            "seq_min ASC"
        };
        let sql = format!(
            "SELECT b.seg, s.state, b.off, b.len, b.raw_len, b.seq_min, b.seq_max, u.name, b.inv
             FROM blocks b JOIN segments s ON s.id = b.seg JOIN units u ON u.id = b.unit
             WHERE {} ORDER BY {order}",
            wh.join(" AND ")
        );
        // Cached: a poll of the same query (`logs -n 1`, a follower) is
        // the same text, and parsing it was a fifth of such a query's time.
        let mut st = tx.prepare_cached(&sql)?;
        let mut rows = st.query(rusqlite::params_from_iter(args))?;
        // Tail blocks are newer than every indexed one: after the index rows
        // going forward, before them going back.
        if backward {
            tail.reverse();
        }
        let mut tail = tail.into_iter();
        let mut rows_done = false;
        let mut next = move || -> Result<Option<BlockRef>, JournalError> {
            if backward && let Some(t) = tail.next() {
                return Ok(Some(t));
            }
            let r = if rows_done { None } else { rows.next()? };
            let Some(r) = r else {
                rows_done = true;
                return Ok(tail.next());
            };
            Ok(Some(BlockRef {
                seg: r.get(0)?,
                state: r.get(1)?,
                off: r.get::<_, i64>(2)? as u64,
                len: r.get::<_, i64>(3)? as usize,
                raw_len: r.get::<_, i64>(4)? as usize,
                seq_min: r.get::<_, i64>(5)? as u64,
                seq_max: r.get::<_, i64>(6)? as u64,
                unit: Arc::from(r.get::<_, String>(7)?),
                inv: Arc::from(r.get::<_, String>(8)?),
            }))
        };
        let mut loaded: Vec<Block> = Vec::new();
        let mut slots: Vec<Option<Open>> = Vec::new();
        if backward {
            // Newest first. `-n N` alone: collect N, then deliver them oldest
            // first. `-r`: deliver each as it comes and forget a block once
            // its lines are out, so memory stays bounded by the blocks that
            // overlap in sequence, not by the answer.
            let n = q.lines.unwrap_or(usize::MAX);
            let reverse = q.reverse;
            let mut heap: BinaryHeap<(u64, usize)> = BinaryHeap::new();
            let mut got: Vec<(usize, u32)> = Vec::new();
            let mut taken = 0usize;
            let mut deliver = |(s, li, last): (usize, u32, bool),
                               slots: &mut Vec<Option<Open>>,
                               got: &mut Vec<(usize, u32)>|
             -> Option<Cursor> {
                if !reverse {
                    got.push((s, li));
                    return None;
                }
                if let Some(o) = &slots[s] {
                    let rec = o.block.record(&o.block.lines[li as usize]);
                    if !sink(&rec) {
                        return Some(rec.cursor);
                    }
                }
                if last {
                    slots[s] = None;
                }
                None
            };
            'rows: while taken < n {
                let Some(b) = next()? else {
                    break;
                };
                while let Some(&(seq, _)) = heap.peek() {
                    if seq <= b.seq_max || taken >= n {
                        break;
                    }
                    if let Some(t) = pop_newest(&mut heap, &mut slots) {
                        taken += 1;
                        if let Some(c) = deliver(t, &mut slots, &mut got) {
                            return Ok(Ok(c));
                        }
                    }
                }
                if taken >= n {
                    break 'rows;
                }
                if let Err(v) = Self::load(files, dec, &dir, retired, &b, &mut loaded) {
                    return Ok(Err(v));
                }
                for block in loaded.drain(..) {
                    let sel = select(&block, &filter);
                    if sel.is_empty() {
                        continue;
                    }
                    let o = Open {
                        pos: sel.len() - 1,
                        block,
                        sel,
                    };
                    heap.push((o.seq_at(o.pos), slots.len()));
                    slots.push(Some(o));
                }
            }
            while taken < n {
                let Some(t) = pop_newest(&mut heap, &mut slots) else {
                    break;
                };
                taken += 1;
                if let Some(c) = deliver(t, &mut slots, &mut got) {
                    return Ok(Ok(c));
                }
            }
            for &(s, li) in got.iter().rev() {
                if let Some(o) = &slots[s] {
                    let rec = o.block.record(&o.block.lines[li as usize]);
                    if !sink(&rec) {
                        return Ok(Ok(rec.cursor));
                    }
                }
            }
            return Ok(Ok(done));
        }
        // Oldest first: a k-way merge of the blocks that overlap in sequence.
        let mut heap: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
        let mut free: Vec<usize> = Vec::new();
        let mut emit_until = |limit: u64,
                              heap: &mut BinaryHeap<Reverse<(u64, usize)>>,
                              slots: &mut Vec<Option<Open>>,
                              free: &mut Vec<usize>|
         -> Option<Cursor> {
            while let Some(&Reverse((seq, s))) = heap.peek() {
                if seq >= limit {
                    break;
                }
                heap.pop();
                let Some(o) = slots[s].as_mut() else {
                    continue;
                };
                let rec = o.block.record(&o.block.lines[o.sel[o.pos] as usize]);
                if !sink(&rec) {
                    return Some(rec.cursor);
                }
                o.pos += 1;
                if o.pos < o.sel.len() {
                    heap.push(Reverse((o.seq_at(o.pos), s)));
                } else {
                    slots[s] = None;
                    free.push(s);
                }
            }
            None
        };
        while let Some(b) = next()? {
            if let Some(c) = emit_until(b.seq_min, &mut heap, &mut slots, &mut free) {
                return Ok(Ok(c));
            }
            if let Err(v) = Self::load(files, dec, &dir, retired, &b, &mut loaded) {
                return Ok(Err(v));
            }
            for block in loaded.drain(..) {
                let sel = select(&block, &filter);
                if sel.is_empty() {
                    continue;
                }
                let o = Open { pos: 0, block, sel };
                let seq = o.seq_at(0);
                let s = match free.pop() {
                    Some(s) => {
                        slots[s] = Some(o);
                        s
                    }
                    None => {
                        slots.push(Some(o));
                        slots.len() - 1
                    }
                };
                heap.push(Reverse((seq, s)));
            }
        }
        if let Some(c) = emit_until(u64::MAX, &mut heap, &mut slots, &mut free) {
            return Ok(Ok(c));
        }
        Ok(Ok(done))
    }

    /// Waits until records after `after` are committed, or `timeout` passes.
    /// Woken by [`crate::JournalWriter::commit`]; no polling.
    pub fn wait_for_new(&mut self, after: &Cursor, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut c = self.shared.tail();
        loop {
            if c.committed > after.0 {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            c = match self.shared.cond.wait_timeout(c, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Whether the store knows `unit`: a source of that name was ever opened
    /// (its name is in the index), whether or not its lines are still kept.
    pub fn has_unit(&mut self, unit: &str) -> bool {
        self.db
            .prepare_cached("SELECT 1 FROM units WHERE name = ?1")
            .and_then(|mut st| st.exists([unit]))
            .unwrap_or(false)
    }

    /// The cursor of the newest committed record.
    pub fn head(&self) -> Cursor {
        Cursor(self.shared.tail().committed)
    }

    /// Per unit, the lines the store holds and their bytes as stored (before
    /// compression), committed lines not yet indexed included: what
    /// retention has not removed, so a count that may go down.
    pub fn unit_totals(&mut self) -> BTreeMap<String, (u64, u64)> {
        let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let sql = "SELECT u.name, sum(b.count), sum(b.raw_len) FROM blocks b \
                   JOIN units u ON u.id = b.unit GROUP BY b.unit";
        if let Ok(mut st) = self.db.prepare_cached(sql) {
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            });
            if let Ok(rows) = rows {
                for (name, lines, bytes) in rows.flatten() {
                    let e = out.entry(name).or_default();
                    e.0 += lines.max(0) as u64;
                    e.1 += bytes.max(0) as u64;
                }
            }
        }
        for row in &self.shared.tail().blocks {
            let e = out.entry(row.name.to_string()).or_default();
            e.0 += u64::from(row.sum.count);
            e.1 += row.raw_len;
        }
        out
    }

    /// Disk use and per-unit drop counts.
    pub fn stats(&mut self) -> Stats {
        let tail: u64 = self.shared.tail().blocks.iter().map(|b| b.len).sum();
        let (segs, size): (i64, i64) = self
            .db
            .query_row(
                "SELECT count(*), coalesce(sum(size), 0) FROM segments",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap_or((0, 0));
        let dir = &self.shared.dir;
        let db_size: u64 = ["index.sqlite", "index.sqlite-wal"]
            .iter()
            .filter_map(|n| std::fs::metadata(dir.join(n)).ok())
            .map(|m| m.len())
            .sum();
        Stats {
            disk_usage: size.max(0) as u64
                + db_size
                + tail
                + self.shared.ahead.load(std::sync::atomic::Ordering::Relaxed),
            max_use: self.shared.max_use,
            segments: segs.max(0) as u64,
            dropped: self.shared.dropped().clone(),
        }
    }
}

/// `len` bytes of `f` at `off`, read into a buffer that is not zeroed first
/// (blocks are up to 1 MiB, read for every query that touches them).
fn read_at(f: &File, off: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf: Vec<u8> = Vec::with_capacity(len);
    let mut got = 0;
    while got < len {
        let room = &mut buf.spare_capacity_mut()[..len - got];
        // SAFETY: `room` is valid for writes of its length; pread writes at
        // most that many bytes and they are counted as initialised below.
        let n = unsafe {
            libc::pread(
                f.as_raw_fd(),
                room.as_mut_ptr().cast(),
                room.len(),
                (off + got as u64) as libc::off_t,
            )
        };
        if n > 0 {
            got += n as usize;
            // SAFETY: the first `got` bytes were written by pread.
            unsafe { buf.set_len(got) };
            continue;
        }
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(buf)
}
