//! The writer thread's side of the spool: no chunk of a kept pipe is ever only
//! in daimond's memory.
//!
//! A `read()` from a pipe takes the bytes out of the kernel; a daimond killed
//! between that `read` and the segment's `writev` lost them (one or a few
//! lines in about one SIGKILL in a hundred, measured by the torture
//! benchmark). So once the fd store has handed the pipes over
//! ([`LiveSpool::start`]), the writer thread takes each chunk of a kept pipe
//! like this:
//!
//! 1. a `REF` record goes into the spool file: which pipe, the chunk's stamps,
//!    and the spool pipe that will hold it ([`pipe`]);
//! 2. the chunk moves from the service's pipe into the spool pipe, pages and
//!    all, in one `splice` that a signal cannot cut in the middle;
//! 3. it is copied into daimond's buffer without leaving the spool pipe
//!    (`tee`), split and stored in the segment;
//! 4. a `CARRY` record gives the pipe's partial line after the chunk (the
//!    bytes of a line whose newline has not come yet, which the next chunk
//!    continues);
//! 5. only then does the chunk leave the spool pipe (its pages go to a thread
//!    that frees them, [`pipe`]).
//!
//! A daimond killed anywhere in there leaves the chunk in the spool pipe or
//! stored (or both, between 3 and 5). The fd store drains a dead daimond's
//! spool pipe into the spool file, and the next daimond imports the file
//! (`process::spool_import`): the last `REF` gets the drained bytes, chunks
//! whose stamp the store has already are only replayed, `CARRY` sets the
//! partial line. The chunk's bytes are written once, into the segment:
//! before, they went into the spool file too, which cost the writer thread
//! about 40 % of its time (page cache and ext4 block reservation for every
//! byte, and reading them back).
//!
//! The file is compacted when it passes [`COMPACT_AT`]: a new one holds each
//! open pipe's metadata and partial line, and replaces it with `rename(2)`
//! (whole or not at all). The replaced file is closed on another thread
//! ([`Disposer`]). Pipes that the store does not keep (no store) are read
//! with `read(2)` as before. Without a spool pipe (it could not be made or
//! kept), the chunk itself goes into the file: the header first, then a
//! `splice` from the pipe behind it, read back from the page cache; a
//! SIGKILL inside that call leaves a record shorter than its header says,
//! which the spool's readers keep as it is (`fdstore_keeper::spool::parse`).
//!
//! A pipe with nothing waiting (`FIONREAD` 0) is asked with `poll(2)` whether
//! it is empty or closed, instead of writing a header, splicing nothing and
//! cutting the header off again (three calls, one of them a truncation).

mod pipe;

use pipe::Stop;
pub use pipe::{SpoolPipe, new_pipe};

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;

use crate::fdstore_keeper::spool;
use crate::log_writer::SourceKey;
use crate::process::logpipe::{Idle, bytes_waiting, idle_state};

/// Compacted past this size (it lives in the runtime directory, often RAM).
const COMPACT_AT: u64 = 4 << 20;

/// What one [`LiveSpool::take`] found.
pub enum Taken {
    /// `n` bytes, now in the caller's buffer, read at these stamps.
    Data {
        n: usize,
        rt: u64,
        mono: u64,
    },
    Drained,
    Eof,
}

/// The spool as the writer thread writes it.
pub struct LiveSpool {
    path: PathBuf,
    /// Open once the store handed over and the old spool was stored.
    file: Option<File>,
    end: u64,
    /// Pipes whose metadata the file holds.
    described: BTreeSet<u64>,
    /// Kept pipes: their id in the store and metadata, by source.
    pipes: HashMap<SourceKey, (u64, Vec<u8>)>,
    /// A copy of daimond's connection to the store, closed only when this
    /// thread ends: until then the store does not spool (it would write the
    /// same file).
    hold: Option<OwnedFd>,
    /// Closes replaced files off this thread.
    disposer: Disposer,
    /// Where chunks wait while they are stored; `None`: in the file.
    pipe: Option<SpoolPipe>,
    /// The chunk in the spool pipe: its pipe's id and stamps.
    held: Option<(u64, u64, u64)>,
    /// Pipes whose last `CARRY` in the file is not empty.
    carried: BTreeSet<u64>,
}

impl LiveSpool {
    pub fn new(path: PathBuf) -> LiveSpool {
        LiveSpool {
            path,
            file: None,
            end: 0,
            described: BTreeSet::new(),
            pipes: HashMap::new(),
            hold: None,
            disposer: Disposer::default(),
            pipe: None,
            held: None,
            carried: BTreeSet::new(),
        }
    }

    /// `source` reads the store's pipe `id` (metadata `meta`).
    pub fn open_pipe(&mut self, source: SourceKey, id: u64, meta: Vec<u8>) {
        self.pipes.insert(source, (id, meta));
    }

    pub fn close_pipe(&mut self, source: SourceKey) {
        self.pipes.remove(&source);
    }

    /// A new store replaced a dead one: hold the new connection.
    pub fn hold(&mut self, hold: Option<OwnedFd>) {
        self.hold = hold;
    }

    /// Everything in the old spool is stored: replace it by a new one that
    /// holds the open pipes' partial lines (`partial(source)`), which were
    /// only in the old one. `pipe`: the spool pipe the store keeps.
    pub fn start(
        &mut self,
        hold: Option<OwnedFd>,
        pipe: Option<SpoolPipe>,
        partial: impl Fn(SourceKey) -> Option<Vec<u8>>,
    ) {
        self.hold = hold;
        self.pipe = pipe;
        self.compact(partial);
    }

    /// Moves one chunk of `fd` (the pipe of `source`) through the spool into
    /// `buf`; `None` when `source` is not spooled (read it as before).
    pub fn take(&mut self, source: SourceKey, fd: &OwnedFd, buf: &mut [u8]) -> Option<Taken> {
        let (id, meta) = self.pipes.get(&source)?;
        let f = self.file.as_ref()?;
        let mut off = self.end;
        if !self.described.contains(id) {
            let h = spool::header(spool::META, *id, 0, 0, meta.len());
            if write_at(f, &[&h, meta], off).is_err() {
                return self.broken();
            }
            off += (spool::HEADER + meta.len()) as u64;
            self.end = off;
            self.described.insert(*id);
        }
        let mut waiting = bytes_waiting(fd).unwrap_or(0);
        if waiting == 0 {
            match idle_state(fd, 0) {
                Idle::Empty => return Some(Taken::Drained),
                Idle::Closed => return Some(Taken::Eof),
                // Written since: FIONREAD says how much now.
                Idle::Data => waiting = bytes_waiting(fd).unwrap_or(0),
                // poll said nothing sure: splice finds out.
                Idle::Unknown => {}
            }
        }
        // At least one byte asked for: what poll could not tell, a read
        // (here the splice) does.
        let want = waiting.clamp(1, buf.len());
        let rt = daimon_journal::realtime_usec();
        let mono = daimon_journal::monotonic_usec();
        if self.pipe.is_some() {
            return self.take_through_pipe(source, fd, buf, (off, want, rt, mono));
        }
        let h = spool::header(spool::DATA, *id, rt, mono, want);
        if write_at(f, &[&h], off).is_err() {
            return self.broken();
        }
        let data_at = off + spool::HEADER as u64;
        let (moved, stop) = splice_to(fd, f, data_at, want);
        if moved == 0 {
            return self.nothing_taken(source, off, stop);
        }
        if moved < want {
            let len = (moved as u32).to_le_bytes();
            if f.write_all_at(&len, off + 4).is_err() {
                return self.broken();
            }
        }
        if f.read_exact_at(&mut buf[..moved], data_at).is_err() {
            // The bytes are in the spool; the next daimond stores them.
            return self.broken();
        }
        self.end = data_at + moved as u64;
        Some(Taken::Data { n: moved, rt, mono })
    }

    /// A take that moved nothing (why: `stop`): the record written for it at
    /// `off` goes.
    fn nothing_taken(&mut self, source: SourceKey, off: u64, stop: Stop) -> Option<Taken> {
        if self.file.as_ref()?.set_len(off).is_err() {
            return self.broken();
        }
        match stop {
            Stop::Eof => Some(Taken::Eof),
            Stop::Drained | Stop::Full => Some(Taken::Drained),
            // Not a pipe (a pty master): read as before.
            Stop::Unsupported => {
                self.pipes.remove(&source);
                None
            }
        }
    }

    /// [`LiveSpool::take`] with a spool pipe: `at` = the file's end, the
    /// bytes wanted and the stamps.
    fn take_through_pipe(
        &mut self,
        source: SourceKey,
        fd: &OwnedFd,
        buf: &mut [u8],
        at: (u64, usize, u64, u64),
    ) -> Option<Taken> {
        let (off, want, rt, mono) = at;
        let (id, _) = self.pipes.get(&source)?;
        let id = *id;
        let (f, p) = (self.file.as_ref()?, self.pipe.as_mut()?);
        let h = spool::header(spool::REF, id, rt, mono, 8);
        if write_at(f, &[&h, &p.id.to_le_bytes()], off).is_err() {
            return self.broken();
        }
        let (moved, stop) = p.take(fd, want);
        if moved == 0 {
            return self.nothing_taken(source, off, stop);
        }
        self.end = off + (spool::HEADER + 8) as u64;
        if let Err(e) = p.peek(&mut buf[..moved]) {
            // Cannot happen with a private pipe as large as the spool pipe;
            // the chunk is taken out then, and stored without the spool.
            tracing::warn!("cannot copy a chunk out of the spool pipe ({e})");
            let got = p.take_out(buf);
            self.pipe = None;
            self.broken();
            return match got {
                Ok(n) => Some(Taken::Data { n, rt, mono }),
                Err(_) => Some(Taken::Eof),
            };
        }
        self.held = Some((id, rt, mono));
        Some(Taken::Data { n: moved, rt, mono })
    }

    /// The chunk [`LiveSpool::take`] gave is stored, and `partial` is its
    /// pipe's partial line now: it goes into the file (`CARRY`), and then the
    /// chunk leaves the spool pipe. Nothing to do without a spool pipe.
    pub fn settle(&mut self, partial: Option<&[u8]>) {
        let Some((id, rt, mono)) = self.held.take() else {
            return;
        };
        let partial = partial.unwrap_or_default();
        if let Some(f) = self.file.as_ref()
            && (!partial.is_empty() || self.carried.contains(&id))
        {
            let h = spool::header(spool::CARRY, id, rt, mono, partial.len());
            if write_at(f, &[&h, partial], self.end).is_err() {
                // The chunk stays in the spool pipe: the next daimond
                // rebuilds the partial line from it.
                self.pipe = None;
                self.broken();
                return;
            }
            self.end += (spool::HEADER + partial.len()) as u64;
            if partial.is_empty() {
                self.carried.remove(&id);
            } else {
                self.carried.insert(id);
            }
        }
        if let Some(p) = self.pipe.as_mut()
            && let Err(e) = p.release()
        {
            tracing::warn!("cannot empty the spool pipe ({e}): chunks are read without it now");
            self.pipe = None;
            self.broken();
        }
    }

    /// daimond stops and everything is stored: the file goes (a store that
    /// spools after this starts a new one).
    pub fn finish(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
        self.hold = None;
    }

    /// Whether the file should be compacted now (never while a chunk waits
    /// in the spool pipe: its `REF` is in the file).
    pub fn due(&self) -> bool {
        self.file.is_some() && self.held.is_none() && self.end > COMPACT_AT
    }

    /// Replaces the file by one holding only each kept pipe's metadata and
    /// partial line (`partial(source)`), stamped now.
    pub fn compact(&mut self, partial: impl Fn(SourceKey) -> Option<Vec<u8>>) {
        let tmp = self.path.with_extension("spool.new");
        let _ = std::fs::remove_file(&tmp);
        let made = (|| -> std::io::Result<(File, u64, BTreeSet<u64>)> {
            let f = File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC)
                .open(&tmp)?;
            let rt = daimon_journal::realtime_usec();
            let mono = daimon_journal::monotonic_usec();
            let mut off = 0u64;
            let mut carried = BTreeSet::new();
            for (source, (id, meta)) in &self.pipes {
                let h = spool::header(spool::META, *id, 0, 0, meta.len());
                write_at(&f, &[&h, meta], off)?;
                off += (spool::HEADER + meta.len()) as u64;
                if let Some(p) = partial(*source).filter(|p| !p.is_empty()) {
                    let h = spool::header(spool::CARRY, *id, rt, mono, p.len());
                    write_at(&f, &[&h, &p], off)?;
                    off += (spool::HEADER + p.len()) as u64;
                    carried.insert(*id);
                }
            }
            std::fs::rename(&tmp, &self.path)?;
            Ok((f, off, carried))
        })();
        match made {
            Ok((f, end, carried)) => {
                self.carried = carried;
                self.described = self.pipes.values().map(|(id, _)| *id).collect();
                if let Some(old) = self.file.replace(f) {
                    self.disposer.close(old);
                }
                self.end = end;
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                tracing::warn!(
                    "cannot compact {} ({e}); it keeps growing",
                    self.path.display()
                );
            }
        }
    }

    /// The file cannot be written: pipes are read as before from now on.
    fn broken(&mut self) -> Option<Taken> {
        if self.file.take().is_some() {
            tracing::warn!(
                "cannot write {}: pipes are read without it now (a daimond killed while reading one may lose the chunk it read)",
                self.path.display()
            );
        }
        None
    }
}

fn write_at(f: &File, parts: &[&[u8]], off: u64) -> std::io::Result<()> {
    let mut at = off;
    for p in parts {
        f.write_all_at(p, at)?;
        at += p.len() as u64;
    }
    Ok(())
}

/// Moves up to `want` bytes from the pipe `fd` into `f` at `at`; how many,
/// and what stopped it.
fn splice_to(fd: &OwnedFd, f: &File, at: u64, want: usize) -> (usize, Stop) {
    let mut moved = 0;
    let mut out = at as libc::loff_t;
    while moved < want {
        // SAFETY: both descriptors are open; `out` is a valid offset that
        // splice advances.
        let n = unsafe {
            libc::splice(
                fd.as_raw_fd(),
                std::ptr::null_mut(),
                f.as_raw_fd(),
                &mut out,
                want - moved,
                libc::SPLICE_F_NONBLOCK,
            )
        };
        if n > 0 {
            moved += n as usize;
            continue;
        }
        if n == 0 {
            return (moved, Stop::Eof);
        }
        if let Some(stop) = Stop::after(&std::io::Error::last_os_error()) {
            return (moved, stop);
        }
    }
    (moved, Stop::Full)
}

/// Closes spool files that compaction replaced, on a thread of its own:
/// the last close of an unlinked file frees its page cache there (ext4 also
/// frees its buffers and extents), time the writer thread then spends
/// storing lines. Started at the first file it gets; the queue is short, so
/// a writer that outruns it waits instead of piling up files.
#[derive(Default)]
struct Disposer {
    tx: Option<std::sync::mpsc::SyncSender<File>>,
}

impl Disposer {
    fn close(&mut self, f: File) {
        if self.tx.is_none() {
            let (tx, rx) = std::sync::mpsc::sync_channel::<File>(2);
            let started = std::thread::Builder::new()
                .name("daimond-spool-gc".into())
                .spawn(move || rx.into_iter().for_each(drop));
            if started.is_ok() {
                self.tx = Some(tx);
            }
        }
        match &self.tx {
            // Refused only when the thread is gone: `f` comes back and is
            // closed here.
            Some(tx) => {
                if let Err(e) = tx.send(f) {
                    drop(e.0);
                    self.tx = None;
                }
            }
            None => drop(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe() -> (OwnedFd, OwnedFd) {
        crate::process::spawn::pipe_with(libc::O_NONBLOCK | libc::O_CLOEXEC).expect("pipe")
    }

    fn records(path: &std::path::Path) -> Vec<(u32, u64, Vec<u8>)> {
        let bytes = std::fs::read(path).expect("spool");
        spool::parse(&bytes)
            .0
            .iter()
            .map(|r| (r.magic, r.id, r.payload.to_vec()))
            .collect()
    }

    #[test]
    fn without_a_spool_pipe_chunks_go_through_the_file_and_compaction_keeps_partial_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(spool::FILE_NAME);
        let mut s = LiveSpool::new(path.clone());
        let (r, w) = pipe();
        let mut buf = vec![0u8; 64];
        // Before `start` (the old spool not stored yet), nothing is spooled.
        s.open_pipe(3, 9, b"{meta}".to_vec());
        assert!(s.take(3, &r, &mut buf).is_none());
        s.start(None, None, |_| None);
        assert!(matches!(s.take(3, &r, &mut buf), Some(Taken::Drained)));
        write_all(&w, b"one\ntw");
        match s.take(3, &r, &mut buf) {
            Some(Taken::Data { n, .. }) => assert_eq!(&buf[..n], b"one\ntw"),
            _ => panic!("a chunk"),
        }
        assert_eq!(
            records(&path),
            [
                (spool::META, 9, b"{meta}".to_vec()),
                (spool::DATA, 9, b"one\ntw".to_vec())
            ]
        );
        s.compact(|src| (src == 3).then(|| b"tw".to_vec()));
        assert_eq!(
            records(&path),
            [
                (spool::META, 9, b"{meta}".to_vec()),
                (spool::CARRY, 9, b"tw".to_vec())
            ]
        );
        write_all(&w, b"o\n");
        assert!(matches!(
            s.take(3, &r, &mut buf),
            Some(Taken::Data { n: 2, .. })
        ));
        assert_eq!(records(&path).len(), 3);
        drop(w);
        assert!(matches!(s.take(3, &r, &mut buf), Some(Taken::Eof)));
        assert_eq!(records(&path).len(), 3, "no empty record at end of file");
        s.finish();
        assert!(!path.exists());
    }

    fn write_all(fd: &OwnedFd, b: &[u8]) {
        // SAFETY: `b` is valid for reads of its length.
        let n = unsafe { libc::write(fd.as_raw_fd(), b.as_ptr().cast(), b.len()) };
        assert_eq!(n, b.len() as isize);
    }
}
