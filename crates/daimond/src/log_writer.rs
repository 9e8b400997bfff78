//! The journal's writer thread and the channel that feeds it.
//!
//! Every line a service prints, and every message of daimond itself, reaches the
//! log store through [`LogSender`]: a bounded channel into one dedicated thread that
//! owns the `JournalWriter`. The event loop never blocks on storage: a pipe's reader
//! task awaits channel capacity, so when storage falls behind the service's pipe
//! fills and the service waits — nothing is dropped.
//!
//! The thread also reads the services' pipes, when their reader task has seen
//! them readable (`LogMsg::Read`): each chunk is written to the log store right
//! after it is read, in the same thread — no chunk waits in a queue between
//! threads after it left its pipe. A pipe the fd store keeps is read through
//! the spool (`crate::log_spool`): its bytes go from the pipe to the spool
//! file in one `splice`, so a daimond killed with SIGKILL between that and the
//! segment's `writev` loses nothing (the next one stores the chunk from the
//! spool).
//!
//! The thread drains what is queued, hands it to the writer, and commits once per
//! drained batch (lines become visible to `logs -f` then). It calls the writer's
//! `tick` (fsync, sealing, retention) one sync interval after the first
//! uncommitted write, sooner when the store asks (compression steps; a quarter
//! second while a full disk pauses writing, so that writing resumes by itself),
//! and once a minute otherwise: deadlines, not a poll loop. Lines that arrive
//! while writing is paused are counted per unit (`status` shows them), not kept.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use daimon_journal::{JournalWriter, SourceId, SourceMeta, Stream};

use crate::log_spool::{LiveSpool, Taken};
use crate::process::fdstore::PipeMeta;
use crate::process::logpipe::{Idle, idle_state};
use tokio::sync::{mpsc, oneshot};

/// Identifies one open pipe (one stream of one process), unique for the daemon's life.
pub type SourceKey = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdout,
    Stderr,
}

#[derive(Debug)]
pub enum LogMsg {
    /// A new pipe: what the lines read from it belong to.
    Open {
        source: SourceKey,
        unit: String,
        invocation: String,
        pid: u32,
        stream: StreamKind,
        level_prefix: bool,
        /// SyslogIdentifier=; `None` = the unit name without its suffix.
        identifier: Option<String>,
        /// Its id in the fd store, which has a copy: its chunks go through
        /// the spool (`crate::log_spool`).
        kept: Option<u64>,
    },
    /// The pipe is readable: read what it holds now, store it, and say how it
    /// went (the reader task waits for the answer before watching again).
    Read {
        source: SourceKey,
        fd: Arc<OwnedFd>,
        done: oneshot::Sender<ReadOutcome>,
    },
    /// Bytes read by the event loop itself (a service's terminal, which
    /// `crate::console` reads for its clients too): stored like a pipe's,
    /// then `stored` is answered (the reader keeps one chunk in flight, so
    /// the queue never holds more than a chunk per terminal).
    Data {
        source: SourceKey,
        bytes: Vec<u8>,
        stored: oneshot::Sender<()>,
    },
    /// The pipe reached end of file: flush a partial last line.
    Close { source: SourceKey },
    /// Opens `source` with what the fd store read from its pipe while no
    /// daimond did (see `process::spool_import`); `close`: the pipe is gone.
    Import {
        source: SourceKey,
        meta: SourceMeta,
        chunks: Vec<crate::process::spool_import::Chunk>,
        /// The first chunks of this pipe: open the source, skip what an
        /// earlier daimond stored.
        first: bool,
        /// Its id in the fd store, if it still keeps it.
        kept: Option<u64>,
        close: bool,
        done: oneshot::Sender<()>,
    },
    /// Every spool the fd store wrote is stored (the imports before this on
    /// the channel): the writer thread starts its own. `hold`: a copy of the
    /// connection to the store: the store spools only once every copy is
    /// closed, so never while this thread still moves chunks through the spool.
    SpoolStart {
        hold: Option<OwnedFd>,
        /// Where chunks wait while they are stored (`crate::log_spool`).
        pipe: Option<crate::log_spool::SpoolPipe>,
    },
    /// A new store replaced a dead one: hold this connection instead.
    SpoolHold { hold: Option<OwnedFd> },
    /// `logs --rotate` / `--vacuum-size=` / `--vacuum-time=`, done between
    /// two batches by the writer that owns the segments.
    Maintain {
        rotate: bool,
        max_bytes: Option<u64>,
        max_age: Option<std::time::Duration>,
        reply: oneshot::Sender<Result<daimon_journal::Vacuumed, String>>,
    },
    /// One syslog datagram, placed in its sender's unit (see `crate::syslog`).
    Syslog {
        unit: String,
        invocation: Option<String>,
        pid: u32,
        facility: u8,
        priority: u8,
        identifier: Option<String>,
        message: Vec<u8>,
    },
    /// One message of daimond itself (or about a unit, e.g. "Started bot.service").
    Message {
        unit: String,
        invocation: Option<String>,
        priority: u8,
        text: String,
    },
}

/// What a [`LogMsg::Read`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Data was read and more may be waiting.
    More,
    /// The pipe is empty for now.
    Drained,
    /// End of file (every writer closed it) or a read error.
    Eof,
}

#[derive(Debug, Clone)]
pub struct LogSender {
    pub tx: mpsc::Sender<LogMsg>,
}

/// Messages queued between the event loop and the writer thread.
const CAPACITY: usize = 1024;
/// Most messages handed to the writer between two commits.
const BATCH: usize = 4096;
/// Largest chunk read from a pipe at once: one block in the store. As large
/// as a grown pipe ([`GROWN_PIPE`]), so a full one is taken in one go: each
/// chunk costs a few calls (FIONREAD, the spool's header, splice, read-back,
/// the segment's writev) and a block, and the kernel fills the page cache
/// in larger folios for larger writes. 1 MiB instead of 256 KiB took about
/// a tenth off the writer thread's CPU time per 100 MB of 100-byte lines.
const CHUNK: usize = 1 << 20;
/// Chunks read from one pipe per request before other pipes get their turn
/// (2 MiB), when another request waits; and before what was read becomes
/// visible to queries (committed).
const CHUNKS_PER_READ: usize = 2;
/// Chunks read from one pipe per request when nothing else waits (64 MiB):
/// a service flooding alone is read without a round trip through the event
/// loop every 2 MiB, each of which woke two threads (about 50 per 100 MB,
/// and the writer thread then waited for a CPU after each).
const CHUNKS_ALONE: usize = 64;
/// A pipe found full at its default size (64 KiB on Linux) is grown to this
/// (the unprivileged maximum, `/proc/sys/fs/pipe-max-size`): a chatty service
/// then hands over up to 1 MiB per wake-up of daimond instead of 64 KiB, and
/// waits on a full pipe 16 times less often. Only such pipes: every page of
/// a user's pipes counts against `pipe-user-pages-soft`, past which the
/// kernel gives the user's new pipes a single page; quiet services keep the
/// default.
const GROWN_PIPE: libc::c_int = 1 << 20;
/// A read this large means the pipe was full (its default capacity).
const FULL_READ: usize = 64 * 1024;
/// Most pipes grown at once, so that many chatty services cannot take the
/// user's whole pipe allowance (64 MiB by default).
const MAX_GROWN: usize = 16;
/// How long the writer thread waits on a pipe it has been reading and just
/// found empty, when nothing else waits for it. A flooding service's pipe is
/// often empty for a moment (the writer thread reads faster than `cat`
/// writes); handing it back to the event loop each time cost a round trip
/// that woke both threads, up to 200 times per 100 MB.
const LINGER_MS: libc::c_int = 1;
/// Maintenance when nothing was written (sealing, retention).
const IDLE_TICK: Duration = Duration::from_secs(60);

/// The writer thread; [`LogWriterThread::finish`] flushes and joins it.
pub struct LogWriterThread {
    thread: std::thread::JoinHandle<()>,
    stop: oneshot::Sender<()>,
}

impl LogWriterThread {
    /// Stores everything already queued, commits, syncs and joins the thread.
    pub fn finish(self) {
        let _ = self.stop.send(());
        if self.thread.join().is_err() {
            eprintln!("daimond: the log writer thread panicked; recent lines may be lost");
        }
    }
}

/// Starts the thread that owns `writer`; `spool`: the fd store's spool file.
pub fn start(writer: JournalWriter, spool: std::path::PathBuf) -> (LogSender, LogWriterThread) {
    let (tx, rx) = mpsc::channel(CAPACITY);
    let (stop_tx, stop_rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("daimond-journal".into())
        .spawn(move || run(writer, LiveSpool::new(spool), rx, stop_rx))
        .unwrap_or_else(|e| {
            // Without a thread nothing can be stored; the daemon cannot work.
            eprintln!("daimond: cannot start the log writer thread: {e}");
            std::process::exit(1)
        });
    (
        LogSender { tx },
        LogWriterThread {
            thread,
            stop: stop_tx,
        },
    )
}

/// Pipes grown to [`GROWN_PIPE`], until their source closes.
#[derive(Default)]
struct Grown(std::collections::HashSet<SourceKey>);

impl Grown {
    /// Grows the pipe of `source` once it was read full. A refusal (EPERM
    /// past the user's allowance, EBUSY) leaves it as it is: only slower.
    fn note_full(&mut self, source: SourceKey, fd: &OwnedFd) {
        if self.0.len() >= MAX_GROWN || self.0.contains(&source) {
            return;
        }
        // SAFETY: fcntl on an open descriptor with an integer argument.
        let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, GROWN_PIPE) };
        if r >= 0 {
            self.0.insert(source);
        }
    }

    fn closed(&mut self, source: SourceKey) {
        self.0.remove(&source);
    }
}

/// Waits up to [`LINGER_MS`] for more in `fd`, unless another message
/// waits; what was read so far is committed first, so queries see it while
/// the thread waits. True when there is more to read.
fn linger(w: &mut JournalWriter, fd: &OwnedFd, others_waiting: &dyn Fn() -> bool) -> bool {
    if others_waiting() {
        return false;
    }
    w.commit();
    // Empty, closed, EINTR or an error: the event loop takes the pipe back.
    matches!(idle_state(fd, LINGER_MS), Idle::Data)
}

/// Reads `fd` (non-blocking) until it is empty or its turn is over
/// (`others_waiting`: another message is queued), storing each chunk as soon
/// as it is read (through the spool when it is kept).
fn read_pipe(
    w: &mut JournalWriter,
    spool: &mut LiveSpool,
    source: SourceKey,
    fd: &OwnedFd,
    buf: &mut [u8],
    grown: &mut Grown,
    others_waiting: &dyn Fn() -> bool,
) -> ReadOutcome {
    let mut chunks = 0;
    loop {
        if chunks > 0 && chunks % CHUNKS_PER_READ == 0 {
            if chunks >= CHUNKS_ALONE || others_waiting() {
                return ReadOutcome::More;
            }
            w.commit();
        }
        match spool.take(source, fd, buf) {
            Some(Taken::Data { n, rt, mono }) => {
                if n >= FULL_READ {
                    grown.note_full(source, fd);
                }
                w.ingest_at(SourceId(source), &buf[..n], rt, mono);
                spool.settle(w.partial(SourceId(source)));
                chunks += 1;
                if spool.due() {
                    spool.compact(|s| w.partial(SourceId(s)).map(<[u8]>::to_vec));
                }
                continue;
            }
            Some(Taken::Drained) if chunks > 0 && linger(w, fd, others_waiting) => continue,
            Some(Taken::Drained) => return ReadOutcome::Drained,
            Some(Taken::Eof) => return ReadOutcome::Eof,
            None => {}
        }
        // SAFETY: `buf` is valid for writes of its length; `fd` is open.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            if n as usize >= FULL_READ {
                grown.note_full(source, fd);
            }
            w.ingest(SourceId(source), &buf[..n as usize]);
            chunks += 1;
            continue;
        }
        if n == 0 {
            return ReadOutcome::Eof;
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EAGAIN) if chunks > 0 && linger(w, fd, others_waiting) => {}
            Some(libc::EAGAIN) => return ReadOutcome::Drained,
            _ => {
                tracing::warn!("reading a service's output failed: {e}");
                return ReadOutcome::Eof;
            }
        }
    }
}

/// What the writer thread keeps between messages.
struct ThreadState {
    pid: u32,
    buf: Vec<u8>,
    grown: Grown,
    spool: LiveSpool,
}

fn apply(w: &mut JournalWriter, m: LogMsg, st: &mut ThreadState, queued: &mpsc::Receiver<LogMsg>) {
    let ThreadState {
        pid,
        buf,
        grown,
        spool,
    } = st;
    let pid = *pid;
    match m {
        LogMsg::Open {
            source,
            unit,
            invocation,
            pid,
            stream,
            level_prefix,
            identifier,
            kept,
        } => {
            if let Some(id) = kept {
                let meta = PipeMeta {
                    unit: unit.clone(),
                    invocation: invocation.clone(),
                    pid,
                    stream,
                    level_prefix,
                    identifier: identifier.clone(),
                    main: None,
                    pty: false,
                };
                spool.open_pipe(source, id, meta.to_bytes());
            }
            let stream = match stream {
                StreamKind::Stdout => Stream::Stdout,
                StreamKind::Stderr => Stream::Stderr,
            };
            let meta = SourceMeta {
                unit,
                invocation,
                pid,
                stream,
                level_prefix,
                identifier,
            };
            w.open_source(SourceId(source), meta);
        }
        LogMsg::Read { source, fd, done } => {
            let others = || !queued.is_empty();
            let outcome = read_pipe(w, spool, source, &fd, buf, grown, &others);
            let _ = done.send(outcome);
        }
        LogMsg::Data {
            source,
            bytes,
            stored,
        } => {
            w.ingest(SourceId(source), &bytes);
            let _ = stored.send(());
        }
        LogMsg::Close { source } => {
            grown.closed(source);
            spool.close_pipe(source);
            w.close_source(SourceId(source));
        }
        LogMsg::SpoolStart { hold, pipe } => {
            spool.start(hold, pipe, |s| w.partial(SourceId(s)).map(<[u8]>::to_vec));
        }
        LogMsg::SpoolHold { hold } => spool.hold(hold),
        LogMsg::Import {
            source,
            meta,
            chunks,
            first,
            kept,
            close,
            done,
        } => {
            if let Some(id) = kept.filter(|_| first) {
                let m = crate::process::spool_import::pipe_meta(&meta);
                spool.open_pipe(source, id, m.to_bytes());
            }
            crate::process::spool_import::store(w, source, meta, &chunks, first, close);
            // Stored before the answer: the spool may go once all are in.
            w.commit();
            let _ = done.send(());
        }
        LogMsg::Maintain {
            rotate,
            max_bytes,
            max_age,
            reply,
        } => {
            if rotate {
                w.rotate();
            }
            let _ = reply.send(w.vacuum(max_bytes, max_age).map_err(|e| e.to_string()));
        }
        LogMsg::Syslog {
            unit,
            invocation,
            pid,
            facility,
            priority,
            identifier,
            message,
        } => w.append_syslog(
            &unit,
            invocation.as_deref(),
            pid,
            facility,
            priority,
            identifier.as_deref(),
            &message,
        ),
        LogMsg::Message {
            unit,
            invocation,
            priority,
            text,
        } => {
            w.append(
                &unit,
                invocation.as_deref(),
                pid,
                Stream::Daemon,
                priority,
                text.as_bytes(),
            );
        }
    }
}

fn run(
    mut w: JournalWriter,
    spool: LiveSpool,
    mut rx: mpsc::Receiver<LogMsg>,
    mut stop: oneshot::Receiver<()>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("daimond: log writer: {e}");
            return;
        }
    };
    let mut st = ThreadState {
        pid: std::process::id(),
        buf: vec![0u8; CHUNK],
        grown: Grown::default(),
        spool,
    };
    let sync_interval = Duration::from_secs(1);
    rt.block_on(async {
        // When the next `tick` is due: soon after a write, rarely when idle.
        let mut next_tick = Instant::now() + IDLE_TICK;
        loop {
            let first = tokio::select! {
                m = rx.recv() => m,
                _ = &mut stop => None,
                _ = tokio::time::sleep_until(next_tick.into()) => {
                    // The store says when it wants to run again (sealing and
                    // retention go in bounded steps); otherwise rarely.
                    let again = w.tick(Instant::now());
                    next_tick = Instant::now() + again.unwrap_or(IDLE_TICK);
                    // Quiet since the last batch: hand its buffers back.
                    crate::memory::release_free_memory();
                    continue;
                }
            };
            let Some(first) = first else { break };
            apply(&mut w, first, &mut st, &rx);
            let mut n = 1;
            while n < BATCH {
                match rx.try_recv() {
                    Ok(m) => apply(&mut w, m, &mut st, &rx),
                    Err(_) => break,
                }
                n += 1;
            }
            w.commit();
            next_tick = next_tick.min(Instant::now() + sync_interval);
            if Instant::now() >= next_tick {
                let again = w.tick(Instant::now());
                next_tick = Instant::now() + again.unwrap_or(IDLE_TICK);
            }
        }
        // Shutdown: keep what is already queued.
        rx.close();
        while let Ok(m) = rx.try_recv() {
            apply(&mut w, m, &mut st, &rx);
        }
        w.commit();
        w.tick(Instant::now());
    });
    // Dropping the writer closes open sources, flushes the index and syncs.
    drop(w);
    // All of it is stored now, partial lines included.
    st.spool.finish();
}

#[cfg(test)]
mod tests {
    use std::os::fd::FromRawFd;

    use super::*;

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two descriptors into the array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: both were just opened and are owned by nobody else.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn size(fd: &OwnedFd) -> libc::c_int {
        // SAFETY: F_GETPIPE_SZ only reads the descriptor.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ) }
    }

    #[test]
    fn only_pipes_found_full_grow_and_only_so_many() {
        let mut grown = Grown::default();
        let (r, _w) = pipe();
        let default = size(&r);
        grown.note_full(1, &r);
        assert_eq!(size(&r), GROWN_PIPE, "a full pipe grows");
        let others: Vec<_> = (0..MAX_GROWN + 2).map(|_| pipe()).collect();
        for (i, (r, _)) in others.iter().enumerate() {
            grown.note_full(10 + i as u64, r);
        }
        let big = others.iter().filter(|(r, _)| size(r) == GROWN_PIPE).count();
        assert_eq!(big, MAX_GROWN - 1, "at most MAX_GROWN at once");
        assert_eq!(size(&others[MAX_GROWN + 1].0), default);
        // A closed source gives its place back.
        grown.closed(1);
        grown.note_full(10 + MAX_GROWN as u64 + 1, &others[MAX_GROWN + 1].0);
        assert_eq!(size(&others[MAX_GROWN + 1].0), GROWN_PIPE);
    }
}
