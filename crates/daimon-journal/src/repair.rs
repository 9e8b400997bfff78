//! Owns crash repair at open: re-verifies the unsynced tail of every
//! uncompressed segment, re-indexes valid blocks that the index lost, truncates
//! a torn tail, and removes files the index does not know.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use rusqlite::{Connection, params};

use crate::JournalError;
use crate::codec::{self, Block, BlockSummary};
use crate::index::{self, Row, SEG_ACTIVE, SEG_COMPRESSED, SEG_SEALED};

/// Summary of a decoded block, for its index row.
pub(crate) fn summarize(b: &Block) -> BlockSummary {
    let mut s = BlockSummary {
        count: b.lines.len() as u32,
        seq_min: u64::MAX,
        rt_min: i64::MAX,
        rt_max: i64::MIN,
        ..Default::default()
    };
    for l in &b.lines {
        s.seq_min = s.seq_min.min(l.seq);
        s.seq_max = s.seq_max.max(l.seq);
        s.rt_min = s.rt_min.min(l.rt);
        s.rt_max = s.rt_max.max(l.rt);
        s.prio_mask |= 1 << (l.prio_flags & 7);
    }
    s
}

/// Scans blocks of `seg` from `start`; returns the rows of valid blocks and the
/// end of the last valid one.
fn scan(
    db: &Connection,
    seg: i64,
    path: &Path,
    start: u64,
) -> Result<(Vec<Row>, u64), JournalError> {
    let mut f = File::open(path).map_err(|e| JournalError::io(path, e))?;
    f.seek(SeekFrom::Start(start))
        .map_err(|e| JournalError::io(path, e))?;
    let mut data = Vec::new();
    f.read_to_end(&mut data)
        .map_err(|e| JournalError::io(path, e))?;
    let mut rows = Vec::new();
    let mut pos = 0usize;
    while let Some(len) = codec::peek_len(&data[pos..]) {
        if pos + len > data.len() {
            break;
        }
        let Some(b) = Block::decode(data[pos..pos + len].to_vec()) else {
            break;
        };
        if !b.lines.is_empty() {
            rows.push(Row {
                seg,
                off: start + pos as u64,
                len: len as u64,
                raw_len: len as u64,
                unit: index::unit_id(db, b.unit())?,
                name: b.unit().into(),
                inv: b.invocation().into(),
                sum: summarize(&b),
            });
        }
        pos += len;
    }
    Ok((index::coalesce(&rows), start + pos as u64))
}

pub(crate) fn repair(dir: &Path, db: &Connection) -> Result<(), JournalError> {
    let segs: Vec<(i64, i64, i64)> = db
        .prepare("SELECT id, state, synced_end FROM segments ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut known = HashSet::new();
    for &(id, state, synced) in &segs {
        let path = index::segment_path(dir, id, state);
        known.insert(path.file_name().map(|n| n.to_os_string()));
        if !path.exists() {
            db.execute("DELETE FROM blocks WHERE seg = ?1", [id])?;
            db.execute("DELETE FROM segments WHERE id = ?1", [id])?;
            continue;
        }
        if state == SEG_COMPRESSED {
            continue;
        }
        // Rows past the synced length may describe data a power cut lost:
        // re-verify everything from there.
        let first_unsynced: Option<i64> = db.query_row(
            "SELECT min(off) FROM blocks WHERE seg = ?1 AND off + len > ?2",
            params![id, synced],
            |r| r.get(0),
        )?;
        // Blocks past the last indexed one were committed only in memory.
        let indexed_end: i64 = db.query_row(
            "SELECT coalesce(max(off + len), 0) FROM blocks WHERE seg = ?1",
            [id],
            |r| r.get(0),
        )?;
        let mut start = first_unsynced
            .map_or(synced, |o| o.min(synced))
            .min(indexed_end)
            .max(0);
        // Rows of a raw segment are byte ranges that may overlap: move back
        // until no kept row reaches past the rescan point.
        loop {
            let back: Option<i64> = db.query_row(
                "SELECT min(off) FROM blocks WHERE seg = ?1 AND off < ?2 AND off + len > ?2",
                params![id, start],
                |r| r.get(0),
            )?;
            match back {
                Some(o) => start = o,
                None => break,
            }
        }
        let start = start as u64;
        let tx = db.unchecked_transaction()?;
        tx.execute(
            "DELETE FROM blocks WHERE seg = ?1 AND off >= ?2",
            params![id, start as i64],
        )?;
        let (rows, end) = scan(&tx, id, &path, start)?;
        index::insert_rows(&tx, &rows)?;
        let f = File::options()
            .write(true)
            .open(&path)
            .map_err(|e| JournalError::io(&path, e))?;
        let on_disk = f.metadata().map_err(|e| JournalError::io(&path, e))?.len();
        if on_disk > end {
            f.set_len(end).map_err(|e| JournalError::io(&path, e))?;
            f.sync_all().map_err(|e| JournalError::io(&path, e))?;
        } else if state == SEG_ACTIVE {
            // Its writer died: the blocks allocated ahead of its end go back.
            crate::prealloc::release(&f, end);
        }
        let last_rt = rows.iter().map(|r| r.sum.rt_max).max().unwrap_or(0);
        tx.execute(
            "UPDATE segments SET state = ?2, size = ?3, synced_end = min(synced_end, ?3),
             last_rt = max(last_rt, ?4) WHERE id = ?1",
            params![id, SEG_SEALED, end as i64, last_rt],
        )?;
        tx.commit()?;
    }
    // Files the index does not know: a segment whose rows were lost (even the
    // whole index) is adopted; an interrupted compression is removed.
    let entries = fs::read_dir(dir).map_err(|e| JournalError::io(dir, e))?;
    for e in entries.flatten() {
        let name = e.file_name();
        if known.contains(&Some(name.clone())) {
            continue;
        }
        let s = name.to_string_lossy();
        let path = e.path();
        if let Some(hex) = s.strip_suffix(".jseg") {
            let Ok(id) = i64::from_str_radix(hex, 16) else {
                continue;
            };
            let listed: Option<i64> = db
                .query_row("SELECT id FROM segments WHERE id = ?1", [id], |r| r.get(0))
                .ok();
            if listed.is_some() {
                // Raw data of a segment already swapped for its compressed form.
                let _ = fs::remove_file(&path);
                continue;
            }
            {
                let tx = db.unchecked_transaction()?;
                tx.execute(
                    "INSERT INTO segments(id, state, size, synced_end, created_rt, last_rt)
                     VALUES (?1, ?2, 0, 0, 0, 0)",
                    params![id, SEG_ACTIVE],
                )?;
                let (rows, end) = scan(&tx, id, &path, 0)?;
                index::insert_rows(&tx, &rows)?;
                let last_rt = rows.iter().map(|r| r.sum.rt_max).max().unwrap_or(0);
                tx.execute(
                    "UPDATE segments SET state = ?2, size = ?3, last_rt = ?4 WHERE id = ?1",
                    params![id, SEG_SEALED, end as i64, last_rt],
                )?;
                tx.commit()?;
                if let Ok(f) = File::options().write(true).open(&path) {
                    let _ = f.set_len(end);
                }
            }
        } else if let Some(hex) = s.strip_suffix(".jzst") {
            let id = i64::from_str_radix(hex, 16).ok();
            let listed: Option<i64> = id.and_then(|id| {
                db.query_row("SELECT id FROM segments WHERE id = ?1", [id], |r| r.get(0))
                    .ok()
            });
            match id {
                // A finished compressed segment whose index was lost: adopt it.
                Some(id) if listed.is_none() => adopt_compressed(db, id, &path)?,
                // An interrupted compression (the raw segment is still listed).
                _ => {
                    let _ = fs::remove_file(&path);
                }
            }
        } else if s.ends_with(".tmp") {
            let _ = fs::remove_file(&path);
        }
    }
    Ok(())
}

/// Rebuilds the rows of a compressed segment from its zstd frames.
fn adopt_compressed(db: &Connection, id: i64, path: &Path) -> Result<(), JournalError> {
    use zstd::zstd_safe;
    let data = fs::read(path).map_err(|e| JournalError::io(path, e))?;
    let mut rows = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        // Zeros: blocks the per-unit cap punched out (`unit_cap`).
        if data[pos] == 0 {
            pos += data[pos..].iter().take_while(|&&b| b == 0).count();
            continue;
        }
        let Ok(n) = zstd_safe::find_frame_compressed_size(&data[pos..]) else {
            break;
        };
        let frame = &data[pos..pos + n];
        let Ok(Some(raw)) = zstd_safe::get_frame_content_size(frame) else {
            break;
        };
        let Some(b) = zstd::bulk::decompress(frame, raw as usize)
            .ok()
            .and_then(Block::decode)
        else {
            break;
        };
        rows.push(Row {
            seg: id,
            off: pos as u64,
            len: n as u64,
            raw_len: raw,
            unit: index::unit_id(db, b.unit())?,
            name: b.unit().into(),
            inv: b.invocation().into(),
            sum: summarize(&b),
        });
        pos += n;
    }
    let last_rt = rows.iter().map(|r| r.sum.rt_max).max().unwrap_or(0);
    let tx = db.unchecked_transaction()?;
    tx.execute(
        "INSERT INTO segments(id, state, size, synced_end, created_rt, last_rt)
         VALUES (?1, ?2, ?3, ?3, 0, ?4)",
        params![id, SEG_COMPRESSED, pos as i64, last_rt],
    )?;
    index::insert_rows(&tx, &rows)?;
    tx.commit()?;
    Ok(())
}
