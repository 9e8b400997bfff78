//! Owns the per-unit cap (`UnitMaxUse=`): one chatty unit loses its own
//! oldest lines instead of pushing every other unit's lines out of the store.
//!
//! Why not whole segments: retention deletes the oldest segment, and a
//! segment holds every unit's lines of its time. A unit that writes a hundred
//! times more than the others would fill the store alone, and retention would
//! delete the others' lines along with its own. So once compression has put a
//! unit's lines into blocks of their own (a compressed block holds one source,
//! see `compact`), its oldest blocks past the cap are taken out in place: their
//! rows leave the index and their bytes are punched out of the file
//! (`fallocate(FALLOC_FL_PUNCH_HOLE)`, which frees the blocks at once and reads
//! back as zeros), while the other blocks of the segment keep their offsets.
//!
//! What counts: the compressed bytes a unit's lines take in closed segments.
//! Lines still in the segment being written (at most `segment_size`) and in a
//! sealed one awaiting compression (seconds) are not counted yet: their raw
//! rows span other units' blocks, so their share is not known until then.
//!
//! A query that read the old rows just before a trim finds zeros where a
//! block was: zstd refuses them, and the block is skipped. So a query that
//! runs while a trim punches may miss some of the lines being cut (the unit's
//! oldest), never shows garbage, and the next query is whole again.

use std::os::fd::AsRawFd;

use rusqlite::params;

use crate::JournalError;
use crate::index::{self, SEG_COMPRESSED};
use crate::writer::JournalWriter;

impl JournalWriter {
    /// Trims every unit past the cap to it, oldest blocks first. Runs after a
    /// compression finished (only then do the counts change upwards).
    pub(crate) fn apply_unit_caps(&mut self) -> Result<(), JournalError> {
        let Some(cap) = self.shared.cfg.unit_max_use else {
            return Ok(());
        };
        if self.compactor.finished == self.compactor.capped_at {
            return Ok(());
        }
        self.compactor.capped_at = self.compactor.finished;
        let over: Vec<(i64, i64)> = {
            let mut st = self.db.prepare_cached(
                "SELECT b.unit, sum(b.len) FROM blocks b JOIN segments s ON s.id = b.seg
                 WHERE s.state = ?1 GROUP BY b.unit HAVING sum(b.len) > ?2",
            )?;
            st.query_map(params![SEG_COMPRESSED, cap as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?
        };
        for (unit, used) in over {
            self.trim_unit(unit, (used as u64).saturating_sub(cap))?;
        }
        self.refresh_usage();
        Ok(())
    }

    /// Takes out the oldest compressed blocks of `unit` until at least
    /// `excess` bytes are gone.
    fn trim_unit(&mut self, unit: i64, excess: u64) -> Result<(), JournalError> {
        let victims: Vec<(i64, i64, u64, u64)> = {
            let mut st = self.db.prepare_cached(
                "SELECT b.id, b.seg, b.off, b.len FROM blocks b JOIN segments s ON s.id = b.seg
                 WHERE b.unit = ?1 AND s.state = ?2 ORDER BY b.seq_max",
            )?;
            let rows = st.query_map(params![unit, SEG_COMPRESSED], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, i64>(3)? as u64,
                ))
            })?;
            let mut out = Vec::new();
            let mut freed = 0u64;
            for row in rows {
                let row = row?;
                if freed >= excess {
                    break;
                }
                freed += row.3;
                out.push(row);
            }
            out
        };
        let mut segs: Vec<i64> = victims.iter().map(|v| v.1).collect();
        segs.dedup();
        for seg in segs {
            let path = index::segment_path(&self.shared.dir, seg, SEG_COMPRESSED);
            let Ok(file) = std::fs::OpenOptions::new().write(true).open(&path) else {
                continue; // deleted by retention meanwhile: its rows go with it
            };
            // The bytes first, as retention deletes a file before its rows:
            // it frees space even when the index cannot be written (full disk).
            let mine = victims.iter().filter(|v| v.1 == seg);
            for &(_, _, off, len) in mine.clone() {
                punch(&file, off, len).map_err(|e| JournalError::io(&path, e))?;
            }
            let allocated = file
                .metadata()
                .map(|m| std::os::unix::fs::MetadataExt::blocks(&m) * 512)
                .map_err(|e| JournalError::io(&path, e))?;
            let tx = self.db.transaction()?;
            for &(id, ..) in mine {
                tx.execute("DELETE FROM blocks WHERE id = ?1", [id])?;
            }
            // The store's use is what its files take on disk (`du`), holes
            // left out.
            tx.execute(
                "UPDATE segments SET size = min(size, ?2) WHERE id = ?1",
                params![seg, allocated as i64],
            )?;
            tx.commit()?;
        }
        Ok(())
    }
}

/// Frees `len` bytes at `off` of `file`; they read back as zeros. Where the
/// file system cannot punch holes, zeros are written instead: the lines go,
/// the space stays until the segment is deleted.
fn punch(file: &std::fs::File, off: u64, len: u64) -> std::io::Result<()> {
    // SAFETY: fallocate only reads its integer arguments; the descriptor is
    // open for writing and outlives the call.
    let rc = unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            off as libc::off_t,
            len as libc::off_t,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::EOPNOTSUPP) {
        return Err(e);
    }
    std::os::unix::fs::FileExt::write_all_at(file, &vec![0u8; len as usize], off)
}
