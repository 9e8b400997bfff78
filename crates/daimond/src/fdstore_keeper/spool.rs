//! The spool: what the fd store read from the kept pipes while no daimond
//! did, with the time it read it, for the next daimond to store.
//!
//! Owns the file format, shared by the writer (the store, [`super`]) and the
//! reader (daimond's import, [`crate::process::spool_import`]). The file
//! (`fdstore.spool`, beside the store's socket) is a sequence of records, each
//! written with one `writev` by the single-threaded store:
//!
//! ```text
//! 0 magic u32 (META or DATA)   4 len u32 (payload bytes)   8 id u64 (the pipe's id in the store)
//! 16 realtime µs u64           24 monotonic µs u64         32 payload
//! ```
//!
//! A `META` record carries the pipe's metadata as the store keeps it (so that
//! lines of a pipe that reached end of file, or of a store handed to a later
//! daimond by a restarted one, still find their unit); a `DATA` record one
//! chunk read from the pipe. The store appends; daimond's writer thread, when
//! it has no spool pipe, also moves every chunk it reads through this file
//! (`crate::log_spool`): it writes a record's header and then splices the
//! pipe's bytes behind it, so a last `DATA` record may hold fewer bytes than
//! its header says: those are kept ([`parse`], [`open_for_append`]).
//!
//! With a spool pipe (the usual case) the chunk's bytes never enter this
//! file. The writer thread writes a `REF` record (the chunk's pipe and
//! stamps; payload: the store id of the spool pipe that holds the bytes),
//! moves the chunk into that pipe, stores it, writes a `CARRY` record (the
//! pipe's partial line after the chunk: the next daimond sets it, it does not
//! append it) and only then empties the spool pipe. The store drains a dead
//! daimond's spool pipe into this file as `DATA` records of the spool pipe's
//! own id, and the import gives those bytes to the last `REF` naming it
//! (`crate::process::spool_import`). A `REF`, `CARRY` or `META` record is
//! written with one call and is never legitimately short: a torn one ends
//! the records.

use std::fs::File;
use std::io::{IoSlice, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const META: u32 = 0x4D50_5344; // "DSPM"
pub const DATA: u32 = 0x4450_5344; // "DSPD"
pub const REF: u32 = 0x5250_5344; // "DSPR"
pub const CARRY: u32 = 0x4350_5344; // "DSPC"
pub const HEADER: usize = 32;
/// The spool's file name, beside the store's socket.
pub const FILE_NAME: &str = "fdstore.spool";
/// The store stops reading once the spool is this large: the pipes fill and
/// their writers wait (nothing is dropped) until a daimond comes back.
pub const MAX_BYTES: u64 = 32 << 20;
/// Largest chunk read from a pipe at once.
pub const CHUNK: usize = 64 << 10;

/// What a spool pipe is kept under in the store (a payload with a `"kind"`,
/// like other descriptors that are no service's output).
pub const SPOOL_PIPE: &[u8] = br#"{"kind":"spool-pipe"}"#;

/// Whether a kept descriptor's metadata names a spool pipe.
pub fn is_spool_pipe(meta: &[u8]) -> bool {
    meta == SPOOL_PIPE
}

/// The spool's path for the store socket at `socket`.
pub fn path_beside(socket: &Path) -> PathBuf {
    socket.with_file_name(FILE_NAME)
}

/// One record, borrowed from the file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub magic: u32,
    pub id: u64,
    pub rt: u64,
    pub mono: u64,
    pub payload: &'a [u8],
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[o..o + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

/// Every record of `bytes`, in order, and the length they span. A last
/// `DATA` record whose payload is shorter than its header says (its writer
/// killed in the middle: by then those bytes had left the pipe) keeps what
/// is there; a torn header, a torn record of another kind, or anything
/// unknown, ends the records.
pub fn parse(bytes: &[u8]) -> (Vec<Record<'_>>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    while bytes.len() - pos >= HEADER {
        let h = &bytes[pos..pos + HEADER];
        let magic = u32_at(h, 0);
        if ![META, DATA, REF, CARRY].contains(&magic) {
            break;
        }
        let declared = u32_at(h, 4) as usize;
        let len = declared.min(bytes.len() - pos - HEADER);
        if len < declared && magic != DATA {
            break;
        }
        out.push(Record {
            magic,
            id: u64_at(h, 8),
            rt: u64_at(h, 16),
            mono: u64_at(h, 24),
            payload: &bytes[pos + HEADER..pos + HEADER + len],
        });
        pos += HEADER + len;
    }
    (out, pos)
}

/// A record's header.
pub fn header(magic: u32, id: u64, rt: u64, mono: u64, len: usize) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[0..4].copy_from_slice(&magic.to_le_bytes());
    h[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    h[8..16].copy_from_slice(&id.to_le_bytes());
    h[16..24].copy_from_slice(&rt.to_le_bytes());
    h[24..32].copy_from_slice(&mono.to_le_bytes());
    h
}

/// Appends one record with one `writev` (the file is `O_APPEND`).
pub fn append(f: &mut File, magic: u32, id: u64, rt: u64, mono: u64, payload: &[u8]) -> bool {
    let h = header(magic, id, rt, mono, payload.len());
    let mut bufs = [IoSlice::new(&h), IoSlice::new(payload)];
    let mut bufs = &mut bufs[..];
    while !bufs.is_empty() {
        match f.write_vectored(bufs) {
            Ok(0) => return false,
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

/// Opens (creating, 0600) the spool for appending, first mending its end
/// (see [`parse`]): a torn header is cut, a short last record's length is set
/// to what it holds; with its size.
pub fn open_for_append(path: &Path) -> std::io::Result<(File, u64)> {
    let mut f = File::options()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    let (records, whole) = parse(&bytes);
    if whole < bytes.len() {
        f.set_len(whole as u64)?;
    }
    if let Some(last) = records.last() {
        let start = whole - last.payload.len() - HEADER;
        if u32_at(&bytes, start + 4) as usize != last.payload.len() {
            // O_APPEND would append: a second, positioned handle mends it.
            let mend = File::options().write(true).open(path)?;
            let len = (last.payload.len() as u32).to_le_bytes();
            std::os::unix::fs::FileExt::write_all_at(&mend, &len, (start + 4) as u64)?;
        }
    }
    f.seek(SeekFrom::End(0))?;
    Ok((f, whole as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_torn_tail_is_mended() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        let (mut f, size) = open_for_append(&path).expect("open");
        assert_eq!(size, 0);
        assert!(append(&mut f, META, 3, 0, 0, b"{}"));
        assert!(append(&mut f, DATA, 3, 10, 20, b"a\nb"));
        drop(f);
        // A store killed in the middle of its next record.
        let mut f = File::options().append(true).open(&path).expect("reopen");
        f.write_all(&header(DATA, 3, 11, 21, 100)[..])
            .expect("torn header");
        f.write_all(b"only part").expect("torn payload");
        drop(f);
        let bytes = std::fs::read(&path).expect("read");
        let (recs, whole) = parse(&bytes);
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[1].payload, b"a\nb");
        assert_eq!((recs[1].rt, recs[1].mono, recs[1].id), (10, 20, 3));
        // What made it out of the pipe is kept, and the header mended.
        assert_eq!(recs[2].payload, b"only part");
        assert_eq!(whole, bytes.len());
        let (mut f, size) = open_for_append(&path).expect("open again");
        assert_eq!(size, whole as u64);
        assert!(append(&mut f, DATA, 4, 12, 22, b"next"));
        let bytes = std::fs::read(&path).expect("read");
        let (recs, _) = parse(&bytes);
        assert_eq!(recs.len(), 4);
        assert_eq!(recs[2].payload, b"only part");
        assert_eq!((recs[3].id, recs[3].payload), (4, &b"next"[..]));
        // A torn header is cut.
        let mut f = File::options().append(true).open(&path).expect("reopen");
        f.write_all(&header(DATA, 3, 13, 23, 5)[..7])
            .expect("torn header");
        drop(f);
        let (_, size) = open_for_append(&path).expect("open once more");
        assert_eq!(std::fs::metadata(&path).expect("stat").len(), size);
    }
}
