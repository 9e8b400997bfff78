//! Watching a service's stdout/stderr pipe for the journal's writer thread.
//!
//! Owns one small task per pipe: it waits until the pipe is readable without
//! blocking the event loop, announces the pipe (`LogMsg::Open`, once) and asks
//! the writer thread to read it (`LogMsg::Read`): the thread that reads a chunk is
//! the one that writes it to the log store, at once, so a chunk is never held
//! only in daimond's memory on its way between threads (and the writer thread
//! moves it through the spool first: `crate::log_spool`). At end of file it
//! says `Close` (if it ever
//! opened). Requests wait for channel capacity: when storage falls behind, the
//! pipe fills and the service waits — nothing is dropped.
//!
//! A copy of each read end is kept by the fd store ([`super::fdstore`]) until
//! end of file, so the pipe outlives a daimond killed with SIGKILL; the next
//! daimond resumes reading it with [`reattach_reader`].

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;

use super::fdstore::{PipeMeta, SharedStore};
use crate::log_writer::{LogMsg, LogSender, ReadOutcome, SourceKey};

/// Who wrote what comes through a pipe: what the fd store keeps of it
/// ([`PipeMeta`]), and the log source it is read into.
pub struct PipeOrigin {
    pub source: SourceKey,
    pub meta: PipeMeta,
}

impl PipeOrigin {
    /// The writer thread's `Open` for this output (`kept`: its id in the fd
    /// store), and the source key that names it in the messages after it.
    pub fn into_open(self, kept: Option<u64>) -> (LogMsg, SourceKey) {
        let PipeOrigin { source, meta } = self;
        let open = LogMsg::Open {
            source,
            unit: meta.unit,
            invocation: meta.invocation,
            pid: meta.pid,
            stream: meta.stream,
            level_prefix: meta.level_prefix,
            identifier: meta.identifier,
            kept,
        };
        (open, source)
    }
}

/// Starts the reader task for `fd` (the read end of a service's new pipe) and
/// hands a copy of it to the fd store. Must run inside the daemon's `LocalSet`.
pub fn spawn_reader(fd: OwnedFd, origin: PipeOrigin, log: LogSender, store: &SharedStore) {
    let kept = store.borrow_mut().put(fd.as_fd(), &origin.meta);
    start(fd, origin, log, store.clone(), kept, false);
}

/// Resumes reading a pipe the fd store kept from an earlier daimond (`kept`: its
/// id there). `imported`: the writer thread has its source open already, with
/// what the store spooled from it (the partial line it ended on continues).
pub fn reattach_reader(
    fd: OwnedFd,
    origin: PipeOrigin,
    log: LogSender,
    store: &SharedStore,
    kept: u64,
    imported: bool,
) {
    start(fd, origin, log, store.clone(), Some(kept), imported);
}

fn start(
    fd: OwnedFd,
    origin: PipeOrigin,
    log: LogSender,
    store: SharedStore,
    kept: Option<u64>,
    imported: bool,
) {
    let forget = move || {
        if let Some(id) = kept {
            store.borrow_mut().close(id);
        }
    };
    tokio::task::spawn_local(async move {
        let fd = Arc::new(fd);
        if let Err(e) = set_nonblocking(&fd) {
            tracing::warn!("cannot read the output of {}: {e}", origin.meta.unit);
            if imported {
                let source = origin.source;
                let _ = log.tx.send(LogMsg::Close { source }).await;
            }
            forget();
            return;
        }
        // Announced to the writer thread with the first read, not before: a
        // service that never prints costs the writer thread no wake-up, at
        // its start (where it took the CPU from the new process) or its end.
        let unit = origin.meta.unit.clone();
        let (open_msg, source) = origin.into_open(kept);
        let mut open = (!imported).then_some(open_msg);
        let mut read_once = false;
        let mut failing = false;
        loop {
            // Registered only while waiting: while the writer thread reads,
            // every write of the service into the pipe would be a new edge
            // and wake the event loop for nothing (about 400 wake-ups for
            // 100 MB from `cat`, 10 ms of CPU taken from the writer).
            let afd = match watch(&fd) {
                Ok(a) => {
                    failing = false;
                    a
                }
                // Not even once: this pipe cannot be watched.
                Err(e) if !read_once => {
                    tracing::warn!("cannot read the output of {unit}: {e}");
                    break;
                }
                // It was watched before (epoll out of memory or past
                // max_user_watches for a moment): the service waits on its
                // full pipe meanwhile, and nothing it wrote is lost.
                Err(e) => {
                    if !failing {
                        tracing::warn!("cannot watch the output of {unit} for now, retrying: {e}");
                    }
                    failing = true;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(ready) = afd.readable().await else {
                break;
            };
            // Hung up with nothing left: end of file, known without asking
            // the writer thread (see `bytes_waiting`).
            let hung_up = ready.ready().is_read_closed();
            drop(ready);
            drop(afd);
            if hung_up && bytes_waiting(&fd) == Some(0) {
                break;
            }
            if let Some(open) = open.take()
                && log.tx.send(open).await.is_err()
            {
                // The daemon is ending: the store keeps the pipe.
                return;
            }
            read_once = true;
            let (done, outcome) = oneshot::channel();
            let fd = fd.clone();
            if log
                .tx
                .send(LogMsg::Read { source, fd, done })
                .await
                .is_err()
            {
                return;
            }
            match outcome.await {
                // Still readable (other pipes had their turn), or empty for
                // now: the next registration reports whichever it is, since
                // adding a descriptor to epoll reports its current state.
                Ok(ReadOutcome::More | ReadOutcome::Drained) => {}
                Ok(ReadOutcome::Eof) => break,
                // The writer thread has ended (daimond is stopping).
                Err(_) => return,
            }
        }
        if open.is_none() {
            let _ = log.tx.send(LogMsg::Close { source }).await;
        }
        forget();
    });
}

/// Registers the pipe with the event loop for one wait.
fn watch(fd: &Arc<OwnedFd>) -> std::io::Result<AsyncFd<Arc<OwnedFd>>> {
    // SAFETY: the `Arc` keeps the descriptor open for as long as the
    // `AsyncFd` holds its clone; an `OwnedFd` always names the same one.
    unsafe {
        AsyncFd::register_with_interest(fd.clone(), Interest::READABLE)
            .map_err(std::io::Error::from)
    }
}

/// How many bytes a pipe holds. Once every writer has gone (the event loop
/// saw the hang-up) no byte can come any more, so none left means end of file.
/// That saves a round trip to the writer thread when a service exits: both
/// its pipes reach end of file just before its SIGCHLD, and each round trip
/// woke the writer thread and then daimond on the CPU where the service was
/// still exiting, ahead of its restart.
pub(crate) fn bytes_waiting(fd: &OwnedFd) -> Option<usize> {
    let mut bytes: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut bytes) };
    (r == 0).then_some(bytes.max(0) as usize)
}

/// What `poll(2)` says of a pipe that had no byte waiting.
pub(crate) enum Idle {
    Empty,
    /// Every writer closed it and it is empty (POLLHUP without POLLIN).
    Closed,
    /// Bytes arrived since.
    Data,
    /// An error (EINTR too) or an event this code does not expect.
    Unknown,
}

/// The state of a pipe that had no byte waiting, after waiting up to
/// `timeout_ms` for one (0: none).
pub(crate) fn idle_state(fd: &OwnedFd, timeout_ms: libc::c_int) -> Idle {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    match unsafe { libc::poll(&mut p, 1, timeout_ms) } {
        0 => Idle::Empty,
        1 if p.revents & libc::POLLIN != 0 => Idle::Data,
        1 if p.revents == libc::POLLHUP => Idle::Closed,
        _ => Idle::Unknown,
    }
}

fn set_nonblocking(fd: &OwnedFd) -> std::io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, integer arguments only.
    let ok = unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        fl >= 0 && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) >= 0
    };
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
