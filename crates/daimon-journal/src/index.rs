//! Owns the SQLite index: its schema, connection settings and the file names
//! of segments. One row per block, never per line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

use crate::codec::BlockSummary;

pub(crate) const DB_NAME: &str = "index.sqlite";

/// Segment states.
pub(crate) const SEG_ACTIVE: i64 = 0;
pub(crate) const SEG_SEALED: i64 = 1;
pub(crate) const SEG_COMPRESSED: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS segments(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    state INTEGER NOT NULL,
    size INTEGER NOT NULL,
    synced_end INTEGER NOT NULL,
    created_rt INTEGER NOT NULL,
    last_rt INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS units(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS blocks(
    id INTEGER PRIMARY KEY,
    seg INTEGER NOT NULL,
    off INTEGER NOT NULL,
    len INTEGER NOT NULL,
    raw_len INTEGER NOT NULL,
    unit INTEGER NOT NULL,
    inv TEXT NOT NULL,
    seq_min INTEGER NOT NULL,
    seq_max INTEGER NOT NULL,
    rt_min INTEGER NOT NULL,
    rt_max INTEGER NOT NULL,
    count INTEGER NOT NULL,
    prio_mask INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS blocks_unit_seq ON blocks(unit, seq_max);
CREATE INDEX IF NOT EXISTS blocks_seq ON blocks(seq_max);
CREATE INDEX IF NOT EXISTS blocks_seqmin ON blocks(seq_min);
CREATE INDEX IF NOT EXISTS blocks_rt ON blocks(rt_max);
CREATE INDEX IF NOT EXISTS blocks_seg ON blocks(seg);
";

/// Opens a connection with the settings every user of the index shares.
pub(crate) fn connect(dir: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open(dir.join(DB_NAME))?;
    db.busy_timeout(Duration::from_secs(5))?;
    // Setting up writes only when the index is new (an existing one is already
    // in WAL mode with every table), and then it holds nothing the segments
    // cannot give back: a file torn by a power cut is set aside and rebuilt
    // (`is_corrupt`). So no fsync for it; a daemon's first start is faster by a
    // dozen of them.
    db.pragma_update(None, "synchronous", "OFF")?;
    // Before the first table exists: lets `tick` hand free pages back.
    db.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    // A small WAL: the index is written in batches, never per line.
    db.pragma_update(None, "wal_autocheckpoint", 256)?;
    db.pragma_update(None, "journal_size_limit", 1 << 20)?;
    // Sorts in memory: a temporary file would land in $TMPDIR, perhaps on the
    // full disk, and fail a reader with SQLITE_FULL. Sorted sets are index
    // rows (one per block or region), never lines: small.
    db.pragma_update(None, "temp_store", "MEMORY")?;
    db.execute_batch(SCHEMA)?;
    // NORMAL in WAL mode: a commit is durable against a process crash; after a
    // power cut the open-time repair rebuilds any lost rows from the segments.
    db.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(db)
}

/// Whether an error means the index file itself is damaged.
pub(crate) fn is_corrupt(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt) | Some(rusqlite::ErrorCode::NotADatabase)
    )
}

/// Whether an error means the disk (or a quota) is full.
pub(crate) fn is_full(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DiskFull))
}

/// Renames a damaged index (and its WAL) out of the way, keeping it for
/// inspection.
pub(crate) fn set_aside(dir: &Path) {
    let stamp = crate::clock::realtime_usec();
    for suffix in ["", "-wal", "-shm"] {
        let from = dir.join(format!("{DB_NAME}{suffix}"));
        let to = dir.join(format!("{DB_NAME}{suffix}.corrupt-{stamp}"));
        let _ = std::fs::rename(from, to);
    }
}

pub(crate) fn segment_path(dir: &Path, id: i64, state: i64) -> PathBuf {
    let ext = if state == SEG_COMPRESSED {
        "jzst"
    } else {
        "jseg"
    };
    dir.join(format!("{id:016x}.{ext}"))
}

/// Rows of the active segment cover at most this many bytes.
pub(crate) const REGION: u64 = 4 << 20;

/// An index row: one block, or (in raw segments) a byte range holding the
/// blocks of one (unit, invocation) among blocks of others.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub seg: i64,
    pub off: u64,
    pub len: u64,
    pub raw_len: u64,
    pub unit: i64,
    pub name: Arc<str>,
    pub inv: Arc<str>,
    pub sum: BlockSummary,
}

impl Row {
    pub fn merge(&mut self, b: &Row) {
        self.len = (b.off + b.len).max(self.off + self.len) - self.off;
        self.raw_len = self.len;
        let (s, o) = (&mut self.sum, &b.sum);
        s.count += o.count;
        s.seq_min = s.seq_min.min(o.seq_min);
        s.seq_max = s.seq_max.max(o.seq_max);
        s.rt_min = s.rt_min.min(o.rt_min);
        s.rt_max = s.rt_max.max(o.rt_max);
        s.prio_mask |= o.prio_mask;
    }
}

/// Folds per-block rows of a raw segment (in file order) into one row per
/// (unit, invocation) per region of at most `REGION` bytes.
pub(crate) fn coalesce(blocks: &[Row]) -> Vec<Row> {
    let mut out: Vec<Row> = Vec::new();
    let mut open: HashMap<(i64, &str), usize> = HashMap::new();
    for b in blocks {
        let key = (b.unit, &*b.inv);
        if let Some(&i) = open.get(&key) {
            let r = &mut out[i];
            if r.seg == b.seg && b.off >= r.off && b.off + b.len - r.off <= REGION {
                r.merge(b);
                continue;
            }
        }
        open.insert(key, out.len());
        out.push(b.clone());
    }
    out
}

pub(crate) fn insert_rows(db: &Connection, rows: &[Row]) -> rusqlite::Result<()> {
    let mut st = db.prepare_cached(
        "INSERT INTO blocks(seg,off,len,raw_len,unit,inv,seq_min,seq_max,rt_min,rt_max,count,prio_mask)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
    )?;
    for r in rows {
        st.execute(rusqlite::params![
            r.seg,
            r.off as i64,
            r.len as i64,
            r.raw_len as i64,
            r.unit,
            &*r.inv,
            r.sum.seq_min as i64,
            r.sum.seq_max as i64,
            r.sum.rt_min,
            r.sum.rt_max,
            i64::from(r.sum.count),
            i64::from(r.sum.prio_mask),
        ])?;
    }
    Ok(())
}

/// Rewrites a grown row of a raw segment.
pub(crate) fn update_row(db: &Connection, id: i64, r: &Row) -> rusqlite::Result<()> {
    db.prepare_cached(
        "UPDATE blocks SET len = ?2, raw_len = ?3, seq_min = ?4, seq_max = ?5, rt_min = ?6,
         rt_max = ?7, count = ?8, prio_mask = ?9 WHERE id = ?1",
    )?
    .execute(rusqlite::params![
        id,
        r.len as i64,
        r.raw_len as i64,
        r.sum.seq_min as i64,
        r.sum.seq_max as i64,
        r.sum.rt_min,
        r.sum.rt_max,
        i64::from(r.sum.count),
        i64::from(r.sum.prio_mask),
    ])?;
    Ok(())
}

/// Id of a unit name, created if new.
pub(crate) fn unit_id(db: &Connection, name: &str) -> rusqlite::Result<i64> {
    db.prepare_cached("INSERT OR IGNORE INTO units(name) VALUES (?1)")?
        .execute([name])?;
    db.prepare_cached("SELECT id FROM units WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
}
