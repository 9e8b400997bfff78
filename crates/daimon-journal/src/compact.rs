//! Owns sealing's second half: re-encoding a sealed raw segment into a
//! compressed one, in bounded steps run from `tick`.
//!
//! The raw segment is read in windows of 16 MiB. Within a window, lines are
//! regrouped by (source, priority) and each group becomes one zstd-compressed
//! block of about `GROUP_MAX` raw bytes. Queries for one unit, or for
//! `-p err`, then decompress only the blocks that hold such lines. Blocks of
//! one window overlap in sequence numbers (the reader merges them); blocks of
//! different windows do not, which bounds the reader's memory. The new file is
//! written under a temporary name, synced, renamed, and swapped into the index
//! in one transaction, then the raw file is unlinked (a query that still holds
//! the old rows notices the missing file and runs again from where it was).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rusqlite::params;

use crate::JournalError;
use crate::codec::{self, Block, BlockBuilder, SourceKey};
use crate::index::{self, Row, SEG_COMPRESSED, SEG_SEALED};
use crate::writer::JournalWriter;

const WINDOW: usize = 16 << 20;
const GROUP_MAX: usize = 64 << 10;

/// Lines of one (source, priority) in a window: (block, line) indices.
/// Each step compresses a few groups and checks the deadline, so `tick`
/// stays short even though windows are large (large windows make larger,
/// better-compressed blocks that decompress faster per byte).
type Group = (SourceKey, u8, Vec<(u32, u32)>);

/// A window being compressed: its decoded blocks, the groups, and where the
/// last step stopped.
struct Window {
    blocks: Vec<Block>,
    groups: Vec<Group>,
    gi: usize,
    li: usize,
}

pub(crate) struct Job {
    window: Option<Window>,
    seg: i64,
    src: File,
    src_len: u64,
    read_off: u64,
    tmp: PathBuf,
    out: File,
    out_off: u64,
    rows: Vec<Row>,
}

/// A sealed segment waits this long before compression, so that a burst of
/// ingestion is not slowed down by compressing its own beginning.
const COMPACT_DELAY: Duration = Duration::from_secs(2);

#[derive(Default)]
pub(crate) struct Compactor {
    /// When this writer sealed a segment (segments sealed earlier: eligible).
    pub sealed_at: HashMap<i64, Instant>,
    force: bool,
    /// Compressions finished, and how many of them the per-unit cap has
    /// seen (`unit_cap` runs only when new compressed blocks exist).
    pub finished: u64,
    pub capped_at: u64,
    job: Option<Job>,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    bb: Option<BlockBuilder>,
}

impl Compactor {
    /// Bytes of the compressed copy being written (counted in the store's use).
    pub fn tmp_bytes(&self) -> u64 {
        self.job.as_ref().map_or(0, |j| j.out_off)
    }

    /// Gives up compressing `seg` (retention is deleting it): its copy goes,
    /// and the job's descriptor, which would keep the deleted file's blocks.
    pub fn abandon(&mut self, seg: i64) {
        if let Some(j) = self.job.take_if(|j| j.seg == seg) {
            let _ = std::fs::remove_file(&j.tmp);
        }
    }

    /// How long until the next sealed segment may be compressed.
    pub fn next_eligible(&self) -> Option<Duration> {
        self.sealed_at
            .values()
            .map(|t| COMPACT_DELAY.saturating_sub(t.elapsed()))
            .min()
    }
}

impl JournalWriter {
    /// Compresses sealed segments until `deadline`; returns true when none is
    /// left to do.
    pub(crate) fn compact_until(&mut self, deadline: Instant) -> bool {
        loop {
            if self.compactor.job.is_none() {
                match self.start_job() {
                    Ok(true) => {}
                    Ok(false) => return true,
                    Err(_) => return true,
                }
            }
            match self.compact_step(deadline) {
                Ok(true) => {}
                Ok(false) => {
                    // Finished or abandoned; look for the next one.
                }
                Err(_) => {
                    if let Some(j) = self.compactor.job.take() {
                        let _ = std::fs::remove_file(&j.tmp);
                    }
                    return true;
                }
            }
            if Instant::now() >= deadline {
                return false;
            }
        }
    }

    fn start_job(&mut self) -> Result<bool, JournalError> {
        let active = self.seg.as_ref().map_or(-1, |s| s.id);
        let candidates: Vec<(i64, i64)> = self
            .db
            .prepare_cached(
                "SELECT id, size FROM segments WHERE state = ?1 AND id != ?2 ORDER BY id",
            )?
            .query_map(params![SEG_SEALED, active], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let c = &self.compactor;
        let next = candidates.into_iter().find(|(id, _)| {
            c.force
                || c.sealed_at
                    .get(id)
                    .is_none_or(|t| t.elapsed() >= COMPACT_DELAY)
        });
        let Some((seg, size)) = next else {
            return Ok(false);
        };
        let dir = &self.shared.dir;
        let src_path = index::segment_path(dir, seg, SEG_SEALED);
        let src = match File::open(&src_path) {
            Ok(f) => f,
            Err(e) => {
                // Lost file: forget the segment rather than retrying forever.
                let _ = self.db.execute("DELETE FROM blocks WHERE seg = ?1", [seg]);
                let _ = self.db.execute("DELETE FROM segments WHERE id = ?1", [seg]);
                return Err(JournalError::io(src_path, e));
            }
        };
        let tmp = dir.join(format!("{seg:016x}.jzst.tmp"));
        let out = File::create(&tmp).map_err(|e| JournalError::io(&tmp, e))?;
        let level = self.shared.cfg.compress_level;
        if self.compactor.zstd.is_none() {
            self.compactor.zstd =
                Some(zstd::bulk::Compressor::new(level).map_err(|e| JournalError::io(dir, e))?);
        }
        self.compactor.job = Some(Job {
            window: None,
            seg,
            src,
            src_len: size.max(0) as u64,
            read_off: 0,
            tmp,
            out,
            out_off: 0,
            rows: Vec::new(),
        });
        Ok(true)
    }

    /// Reads the next window of whole blocks and groups its lines.
    fn read_window(job: &mut Job) -> Window {
        let mut blocks = Vec::new();
        let want = (job.src_len - job.read_off).min(WINDOW as u64) as usize;
        let mut buf = vec![0u8; want];
        if job.src.read_exact_at(&mut buf, job.read_off).is_err() {
            buf.clear();
        }
        let mut pos = 0;
        while let Some(len) = codec::peek_len(&buf[pos..]) {
            let block = if pos + len <= buf.len() {
                Block::decode(buf[pos..pos + len].to_vec())
            } else if pos == 0 {
                // One block larger than the window.
                let mut big = vec![0u8; len];
                job.src
                    .read_exact_at(&mut big, job.read_off)
                    .ok()
                    .and_then(|_| Block::decode(big))
            } else {
                break;
            };
            let Some(block) = block else {
                break;
            };
            blocks.push(block);
            pos += len;
        }
        job.read_off += pos as u64;
        if pos == 0 {
            // Damage (repair at open truncates it): the rest is unreadable.
            job.src_len = job.read_off;
        }
        let mut groups: Vec<Group> = Vec::new();
        // Looked up once per block; a line only indexes its priority's slot.
        let mut by_key: HashMap<SourceKey, [Option<usize>; 8]> = HashMap::new();
        for (bi, b) in blocks.iter().enumerate() {
            let key = b.key();
            let slots = by_key.entry(key.clone()).or_insert([None; 8]);
            for (li, l) in b.lines.iter().enumerate() {
                let p = l.prio_flags & 7;
                let g = *slots[p as usize].get_or_insert_with(|| {
                    groups.push((key.clone(), p, Vec::new()));
                    groups.len() - 1
                });
                groups[g].2.push((bi as u32, li as u32));
            }
        }
        Window {
            blocks,
            groups,
            gi: 0,
            li: 0,
        }
    }

    /// Compresses until `deadline` or the end of the job. Ok(true) = more to do.
    fn compact_step(&mut self, deadline: Instant) -> Result<bool, JournalError> {
        let Some(mut job) = self.compactor.job.take() else {
            return Ok(false);
        };
        loop {
            if job.window.is_none() {
                if job.read_off >= job.src_len {
                    self.finish_job(job)?;
                    return Ok(false);
                }
                job.window = Some(Self::read_window(&mut job));
            }
            if let Some(mut w) = job.window.take() {
                let done = self.emit_groups(&mut job, &mut w, deadline)?;
                if !done {
                    job.window = Some(w);
                    self.compactor.job = Some(job);
                    return Ok(true);
                }
            }
            if Instant::now() >= deadline {
                self.compactor.job = Some(job);
                return Ok(true);
            }
        }
    }

    /// Encodes and compresses the window's groups; false if the deadline
    /// came first (the window remembers where it stopped).
    fn emit_groups(
        &mut self,
        job: &mut Job,
        w: &mut Window,
        deadline: Instant,
    ) -> Result<bool, JournalError> {
        let mut bb = self.compactor.bb.take().unwrap_or_else(BlockBuilder::new);
        let res = (|| {
            while w.gi < w.groups.len() {
                let (key, _, lines) = &w.groups[w.gi];
                let unit = self.unit_id_of(&key.unit);
                while w.li < lines.len() {
                    let (b0, l0) = lines[w.li];
                    let first = &w.blocks[b0 as usize].lines[l0 as usize];
                    bb.begin(key, first.seq, first.rt, first.mono);
                    let mut size = 0usize;
                    while w.li < lines.len() && size < GROUP_MAX {
                        let (bi, li) = lines[w.li];
                        let blk = &w.blocks[bi as usize];
                        let l = &blk.lines[li as usize];
                        bb.push(l.seq, l.rt, l.mono, l.prio_flags, blk.message(l));
                        size += l.len as usize + 6;
                        w.li += 1;
                    }
                    let sum = bb.sum;
                    let data = bb.finish_contiguous(&[]);
                    let z = self
                        .compactor
                        .zstd
                        .as_mut()
                        .ok_or_else(|| JournalError::Corrupt("no compressor".into()))?
                        .compress(data)
                        .map_err(|e| JournalError::io(&job.tmp, e))?;
                    job.out
                        .write_all(&z)
                        .map_err(|e| JournalError::io(&job.tmp, e))?;
                    job.rows.push(Row {
                        seg: job.seg,
                        off: job.out_off,
                        len: z.len() as u64,
                        raw_len: data.len() as u64,
                        unit,
                        name: std::sync::Arc::from(key.unit.as_str()),
                        inv: std::sync::Arc::from(key.invocation.as_str()),
                        sum,
                    });
                    job.out_off += z.len() as u64;
                    if Instant::now() >= deadline {
                        return Ok(false);
                    }
                }
                w.gi += 1;
                w.li = 0;
            }
            Ok(true)
        })();
        self.compactor.bb = Some(bb);
        res
    }

    fn finish_job(&mut self, job: Job) -> Result<(), JournalError> {
        let dir = self.shared.dir.clone();
        job.out
            .sync_all()
            .map_err(|e| JournalError::io(&job.tmp, e))?;
        let dst = index::segment_path(&dir, job.seg, SEG_COMPRESSED);
        std::fs::rename(&job.tmp, &dst).map_err(|e| JournalError::io(&dst, e))?;
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        let tx = self.db.transaction()?;
        let state: Option<i64> = tx
            .query_row("SELECT state FROM segments WHERE id = ?1", [job.seg], |r| {
                r.get(0)
            })
            .ok();
        if state != Some(SEG_SEALED) {
            // Retention removed it meanwhile.
            drop(tx);
            let _ = std::fs::remove_file(&dst);
            return Ok(());
        }
        tx.execute("DELETE FROM blocks WHERE seg = ?1", [job.seg])?;
        index::insert_rows(&tx, &job.rows)?;
        tx.execute(
            "UPDATE segments SET state = ?2, size = ?3, synced_end = ?3 WHERE id = ?1",
            params![job.seg, SEG_COMPRESSED, job.out_off as i64],
        )?;
        tx.commit()?;
        self.compactor.finished += 1;
        self.compactor.sealed_at.remove(&job.seg);
        // Queries that still hold the old rows notice and look again.
        let _ = std::fs::remove_file(index::segment_path(&dir, job.seg, SEG_SEALED));
        Ok(())
    }

    /// Seals the active segment and compresses every sealed one now (tests,
    /// benchmarks, shutdown of a quiet store).
    #[doc(hidden)]
    pub fn seal_and_compact_all(&mut self) {
        self.seal_active();
        self.compactor.force = true;
        let far = Instant::now() + Duration::from_secs(3600);
        while !self.compact_until(far) {}
        self.compactor.force = false;
    }
}
