//! The spool pipe: where a chunk of a kept pipe waits while it is stored.
//!
//! Owns the pipe's three moves. [`SpoolPipe::take`] moves a chunk out of a
//! service's pipe into it with `splice(2)`: between two pipes the kernel moves
//! the pages themselves, in one call that a signal cannot cut in the middle,
//! so the bytes are in one pipe or the other at every instant.
//! [`SpoolPipe::peek`] copies the chunk into daimond's buffer without taking
//! it out (`tee(2)` into a private pipe, then `read(2)` from that one).
//! [`SpoolPipe::release`] throws the chunk away once it is stored (a
//! `splice` into /dev/null, which only drops the page references).
//!
//! The fd store holds a copy of the read end: a daimond killed while a
//! chunk waits here leaves it to the store, which puts it in the spool file
//! (`crate::fdstore_keeper`). Holding one chunk at a time keeps that simple:
//! whatever the pipe holds belongs to the last chunk the spool file names.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// As large as a grown service pipe (`crate::log_writer`), so one chunk
/// takes all it holds.
const CAPACITY: libc::c_int = 1 << 20;

/// A spool pipe and what it takes to use it.
#[derive(Debug)]
pub struct SpoolPipe {
    /// Its id in the fd store.
    pub id: u64,
    read: OwnedFd,
    write: OwnedFd,
    /// The private pipe `peek` copies through.
    peek_read: OwnedFd,
    peek_write: OwnedFd,
    null: File,
    /// The most one chunk may hold: what the private pipe can take at once.
    capacity: usize,
    /// Bytes of the chunk waiting here now.
    held: usize,
    trash: Trash,
}

/// A new pipe for the fd store to keep; its ends, read and write.
pub fn new_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = pipe()?;
    // Refused past the user's pipe allowance: smaller chunks then.
    // SAFETY: fcntl on an open descriptor with an integer argument.
    unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, CAPACITY) };
    Ok((r, w))
}

impl SpoolPipe {
    /// The pipe of [`new_pipe`], kept by the store under `id`.
    pub fn new(id: u64, read: OwnedFd, write: OwnedFd) -> io::Result<SpoolPipe> {
        let (peek_read, peek_write) = pipe()?;
        let size = pipe_size(&write)?;
        // SAFETY: as above.
        let peek = unsafe { libc::fcntl(peek_write.as_raw_fd(), libc::F_SETPIPE_SZ, size) };
        // A tee into a smaller pipe would copy only part of a chunk: the
        // spool pipe then takes no more than the private one holds.
        let capacity = if peek >= size {
            size
        } else {
            let peek = pipe_size(&peek_write)?;
            // SAFETY: as above; the pipe is empty, so it may shrink.
            unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, peek) };
            pipe_size(&write)?.min(peek)
        };
        let null = File::options().write(true).open("/dev/null")?;
        Ok(SpoolPipe {
            id,
            read,
            write,
            peek_read,
            peek_write,
            null,
            capacity: capacity as usize,
            held: 0,
            trash: Trash::start(),
        })
    }

    /// Moves up to `want` bytes of the pipe `from` here: how many, and why
    /// it stopped. Only while nothing waits here.
    pub fn take(&mut self, from: &OwnedFd, want: usize) -> (usize, Stop) {
        debug_assert_eq!(self.held, 0);
        let want = want.min(self.capacity);
        let mut moved = 0;
        let stop = loop {
            if moved == want {
                break Stop::Full;
            }
            match splice(from, &self.write, want - moved) {
                Ok(0) => break Stop::Eof,
                Ok(n) => moved += n,
                Err(e) => {
                    if let Some(stop) = Stop::after(&e) {
                        break stop;
                    }
                }
            }
        };
        self.held = moved;
        (moved, stop)
    }

    /// Copies the waiting chunk into `buf` (at least as long), leaving it here.
    pub fn peek(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let n = self.held;
        let teed = loop {
            // SAFETY: both descriptors are open pipes; no pointer is passed.
            let r = unsafe {
                libc::tee(
                    self.read.as_raw_fd(),
                    self.peek_write.as_raw_fd(),
                    n,
                    libc::SPLICE_F_NONBLOCK,
                )
            };
            if r >= 0 {
                break r as usize;
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e);
            }
        };
        let got = read_exact(&self.peek_read, &mut buf[..teed]);
        if teed != n {
            // A second tee would copy from the start again: what the private
            // pipe took is not all of it, which `new` rules out.
            return Err(io::Error::other(format!("tee copied {teed} of {n} bytes")));
        }
        got
    }

    /// Takes the waiting chunk out into `buf` (when it cannot be peeked at):
    /// from here on it is only in daimond's memory.
    pub fn take_out(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.held;
        read_exact(&self.read, &mut buf[..n])?;
        self.held = 0;
        Ok(n)
    }

    /// Drops the waiting chunk: it is stored. Its pages move on to the
    /// [`Trash`] pipe when it has room: freeing them (a tenth of the writer
    /// thread's time) is then done by the trash thread, on the other CPU.
    pub fn release(&mut self) -> io::Result<()> {
        while self.held > 0 {
            let moved = match self.trash.pipe() {
                Some(t) => match splice(&self.read, t, self.held) {
                    Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => None,
                    other => Some(other),
                },
                None => None,
            };
            match moved.unwrap_or_else(|| splice(&self.read, &self.null, self.held)) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.held -= n.min(self.held),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// A pipe whose other end a thread of its own empties into /dev/null:
/// released chunks are dropped there, off the writer thread. Started with
/// the first spool pipe; without it (the thread could not start) chunks are
/// dropped in place.
#[derive(Debug, Default)]
struct Trash {
    write: Option<OwnedFd>,
}

impl Trash {
    fn start() -> Trash {
        let made = (|| -> io::Result<OwnedFd> {
            let (r, w) = new_pipe()?;
            // The thread waits for data: its end blocks.
            // SAFETY: fcntl on a descriptor we own, integer arguments only.
            unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFL, 0) };
            let null = File::options().write(true).open("/dev/null")?;
            std::thread::Builder::new()
                .name("daimond-trash".into())
                .spawn(move || drain(&r, &null))?;
            Ok(w)
        })();
        Trash { write: made.ok() }
    }

    fn pipe(&self) -> Option<&OwnedFd> {
        self.write.as_ref()
    }
}

/// Empties `r` into `null` until every writer has closed it.
fn drain(r: &OwnedFd, null: &File) {
    loop {
        // Blocking: the thread waits here for the next chunk.
        match splice_with(r, null, CAPACITY as usize, 0) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(_) => return,
        }
    }
}

/// Why [`SpoolPipe::take`] (or the file's splice) stopped.
pub enum Stop {
    Full,
    Drained,
    Eof,
    /// splice(2) cannot take from this descriptor (EINVAL: not a pipe).
    Unsupported,
}

impl Stop {
    /// Why a `splice` out of a service's pipe that failed with `e` stops;
    /// `None`: interrupted, call again.
    pub fn after(e: &io::Error) -> Option<Stop> {
        match e.raw_os_error() {
            Some(libc::EINTR) => None,
            Some(libc::EAGAIN) => Some(Stop::Drained),
            // Not a pipe (a pty master).
            Some(libc::EINVAL) => Some(Stop::Unsupported),
            _ => Some(Stop::Eof),
        }
    }
}

/// A non-blocking pipe of daimond's own.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    crate::process::spawn::pipe_with(libc::O_NONBLOCK | libc::O_CLOEXEC)
}

fn pipe_size(fd: &OwnedFd) -> io::Result<libc::c_int> {
    // SAFETY: F_GETPIPE_SZ only reads the descriptor.
    let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ) };
    if n > 0 {
        Ok(n)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One non-blocking `splice` of up to `len` bytes from `from` to `to`.
fn splice(from: &impl AsRawFd, to: &impl AsRawFd, len: usize) -> io::Result<usize> {
    splice_with(from, to, len, libc::SPLICE_F_NONBLOCK)
}

/// One `splice` of up to `len` bytes from `from` to `to` with `flags`.
fn splice_with(
    from: &impl AsRawFd,
    to: &impl AsRawFd,
    len: usize,
    flags: libc::c_uint,
) -> io::Result<usize> {
    // SAFETY: both descriptors are open; null offsets (pipes, /dev/null).
    let n = unsafe {
        libc::splice(
            from.as_raw_fd(),
            std::ptr::null_mut(),
            to.as_raw_fd(),
            std::ptr::null_mut(),
            len,
            flags,
        )
    };
    if n >= 0 {
        Ok(n as usize)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads all of `buf` from the private pipe, which holds at least that much.
fn read_exact(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<()> {
    let mut at = 0;
    while at < buf.len() {
        // SAFETY: the rest of `buf` is valid for writes of its length.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                buf[at..].as_mut_ptr().cast(),
                buf.len() - at,
            )
        };
        if n > 0 {
            at += n as usize;
            continue;
        }
        let e = if n == 0 {
            io::ErrorKind::UnexpectedEof.into()
        } else {
            io::Error::last_os_error()
        };
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
    Ok(())
}
