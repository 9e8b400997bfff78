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
//! after it is read, in the same thread, so a daimond killed with SIGKILL loses
//! at most the chunk between one `read` and the next `writev` — no chunk waits
//! in a queue between threads after it left its pipe.
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
    },
    /// The pipe is readable: read what it holds now, store it, and say how it
    /// went (the reader task waits for the answer before watching again).
    Read {
        source: SourceKey,
        fd: Arc<OwnedFd>,
        done: oneshot::Sender<ReadOutcome>,
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
        close: bool,
        done: oneshot::Sender<()>,
    },
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
/// Largest chunk read from a pipe at once.
const CHUNK: usize = 64 * 1024;
/// Chunks read from one pipe per request before other pipes get their turn.
const CHUNKS_PER_READ: usize = 4;
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

/// Starts the thread that owns `writer`.
pub fn start(writer: JournalWriter) -> (LogSender, LogWriterThread) {
    let (tx, rx) = mpsc::channel(CAPACITY);
    let (stop_tx, stop_rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("daimond-journal".into())
        .spawn(move || run(writer, rx, stop_rx))
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

/// Reads `fd` (non-blocking) until it is empty or its turn is over, storing
/// each chunk as soon as it is read.
fn read_pipe(
    w: &mut JournalWriter,
    source: SourceKey,
    fd: &OwnedFd,
    buf: &mut [u8],
) -> ReadOutcome {
    let mut chunks = 0;
    while chunks < CHUNKS_PER_READ {
        // SAFETY: `buf` is valid for writes of its length; `fd` is open.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
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
            Some(libc::EAGAIN) => return ReadOutcome::Drained,
            _ => {
                tracing::warn!("reading a service's output failed: {e}");
                return ReadOutcome::Eof;
            }
        }
    }
    ReadOutcome::More
}

fn apply(w: &mut JournalWriter, m: LogMsg, pid: u32, buf: &mut [u8]) {
    match m {
        LogMsg::Open {
            source,
            unit,
            invocation,
            pid,
            stream,
            level_prefix,
            identifier,
        } => {
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
            let outcome = read_pipe(w, source, &fd, buf);
            let _ = done.send(outcome);
        }
        LogMsg::Close { source } => w.close_source(SourceId(source)),
        LogMsg::Import {
            source,
            meta,
            chunks,
            first,
            close,
            done,
        } => {
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

fn run(mut w: JournalWriter, mut rx: mpsc::Receiver<LogMsg>, mut stop: oneshot::Receiver<()>) {
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
    let pid = std::process::id();
    let mut buf = vec![0u8; CHUNK];
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
            apply(&mut w, first, pid, &mut buf);
            let mut n = 1;
            while n < BATCH {
                match rx.try_recv() {
                    Ok(m) => apply(&mut w, m, pid, &mut buf),
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
            apply(&mut w, m, pid, &mut buf);
        }
        w.commit();
        w.tick(Instant::now());
    });
    // Dropping the writer closes open sources, flushes the index and syncs.
    drop(w);
}
