//! `daimon logs` and the log part of `daimon status`, served from the log store.
//!
//! Owns: the pool of store readers, starting a `Logs` request's reader thread
//! (a reader has its own SQLite connection and must never run on the event
//! loop), copying what it renders to the socket until done or until the client
//! hangs up, and filling `recent_logs`/`logs_dropped` of statuses. The query
//! is built in `query`, rendered and followed in `produce`; the maintenance
//! verbs (`--vacuum-*`, `--rotate`, `--disk-usage`) are in `maintain`.
//!
//! Why a bounded channel between the reader thread and the socket: a client that
//! reads slowly slows the reader down instead of making the daemon buffer the whole
//! store in memory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use daimon_journal::format::OutputFormat;
use daimon_journal::{Journal, JournalError, JournalReader, Query, Record};
use daimon_proto::{ErrorKind, LogsRequest, Response, UnitStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch};

use super::{error, write_frame};
use crate::supervisor::SupervisorHandle;

mod boots;
mod known;
mod maintain;
mod produce;
mod query;

use produce::{Batch, Output, produce};
pub use query::build_query;
use query::renderer;

/// Readers kept for reuse, and for how long.
const POOL_MAX: usize = 4;
const POOL_TTL: Duration = Duration::from_secs(30);

/// Rendered text per `LogData` frame.
pub const CHUNK: usize = 256 * 1024;
/// How long a follower sleeps between checks that its client is still there, when
/// nothing new is written (new records wake it at once).
const FOLLOW_CHECK: Duration = Duration::from_millis(500);

/// The log store as clients see it. Cheap to clone.
#[derive(Clone)]
pub struct LogService {
    journal: Journal,
    /// Readers kept between requests: opening one costs an SQLite connection.
    /// Kept briefly only ([`POOL_TTL`]): a reader holds segment files open, and
    /// the disk space of a segment deleted by retention is freed only when the
    /// last descriptor closes.
    pool: Arc<Mutex<Vec<(JournalReader, Instant)>>>,
    /// The writer thread's queue, for `--rotate` and `--vacuum-*`.
    writer: Option<mpsc::Sender<crate::log_writer::LogMsg>>,
}

/// The store's disk space, and per unit its lines and their bytes.
pub type StoreTotals = (u64, BTreeMap<String, (u64, u64)>);

/// Rendered text on its way to the socket: a finished raw frame (header included,
/// for clients that asked for raw frames) or the text of a `LogData` frame.
pub enum Out {
    Frame(Vec<u8>),
    Text(String),
}

/// What the reader thread sends: rendered text, or a failure (before any text for
/// bad arguments).
type Chunk = Result<Out, (ErrorKind, String)>;

impl LogService {
    pub fn new(journal: Journal) -> LogService {
        LogService {
            journal,
            pool: Arc::new(Mutex::new(Vec::new())),
            writer: None,
        }
    }

    /// With the writer thread's queue: `--rotate` and `--vacuum-*` work.
    pub fn with_writer(mut self, tx: mpsc::Sender<crate::log_writer::LogMsg>) -> LogService {
        self.writer = Some(tx);
        self
    }

    /// A reader, from the pool or new. Blocking: call from a blocking thread.
    fn take_reader(&self) -> Result<JournalReader, JournalError> {
        let (fresh, stale) = {
            let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
            // Given back in time order: the stale ones are at the front.
            let n = pool
                .iter()
                .take_while(|(_, t)| t.elapsed() > POOL_TTL)
                .count();
            let stale: Vec<_> = pool.drain(..n).collect();
            (pool.pop(), stale)
        };
        drop(stale); // closed outside the lock
        match fresh {
            Some((r, _)) => Ok(r),
            None => self.journal.reader(),
        }
    }

    fn give_back(&self, r: JournalReader) {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_MAX {
            pool.push((r, Instant::now()));
        }
    }

    /// Disk space of the store (segments and index) and, per unit, the lines
    /// it holds and their bytes, read on a blocking thread; `None` when the
    /// store cannot be read.
    pub async fn store_totals(&self) -> Option<StoreTotals> {
        let svc = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut r = svc.take_reader().ok()?;
            let bytes = r.stats().disk_usage;
            let units = r.unit_totals();
            svc.give_back(r);
            Some((bytes, units))
        })
        .await
        .ok()
        .flatten()
    }

    /// Lines dropped so far, all units together (in memory, no reader).
    pub fn dropped_lines(&self) -> u64 {
        self.journal.dropped().values().map(|d| d.total()).sum()
    }

    /// Fills `logs_dropped`/`logs_dropped_lines` and, when `lines > 0`,
    /// `recent_logs` (short format).
    pub async fn fill_status(&self, mut list: Vec<UnitStatus>, lines: usize) -> Vec<UnitStatus> {
        // The drop counts are in memory: shown even when the store cannot be
        // read (a full disk is when they matter most).
        let dropped = self.journal.dropped();
        if !dropped.is_empty() {
            for st in &mut list {
                let d = dropped.get(&st.name).filter(|d| d.total() > 0);
                st.logs_dropped = d.map(|d| d.to_string());
                st.logs_dropped_lines = d.map(|d| d.total());
            }
        }
        if lines == 0 {
            // The table and JSON forms: no reader, no blocking thread.
            return list;
        }
        let svc = self.clone();
        let fallback = list.clone();
        let task = tokio::task::spawn_blocking(move || {
            let mut list = list;
            let mut reader = match svc.take_reader() {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("log store unavailable for status: {e}");
                    return list;
                }
            };
            let short = renderer(OutputFormat::Short);
            for st in &mut list {
                let q = Query {
                    units: vec![st.name.clone()],
                    lines: Some(lines),
                    ..Query::default()
                };
                let mut out = Vec::new();
                let mut buf = Vec::new();
                let res = reader.query(&q, &mut |rec: &Record<'_>| {
                    buf.clear();
                    short.render(rec, &mut buf);
                    while buf.last() == Some(&b'\n') {
                        buf.pop();
                    }
                    out.push(String::from_utf8_lossy(&buf).into_owned());
                    true
                });
                if let Err(e) = res {
                    tracing::warn!("reading recent lines of {}: {e}", st.name);
                }
                st.recent_logs = out;
            }
            svc.give_back(reader);
            list
        });
        task.await.unwrap_or(fallback)
    }
}

/// A log query under way: rendered text arrives from the reader thread through
/// a bounded channel. Dropping it stops the thread (within [`FOLLOW_CHECK`]).
pub struct LogFeed {
    rx: mpsc::Receiver<Chunk>,
    producer: tokio::task::JoinHandle<()>,
}

impl LogFeed {
    /// The next piece of text: `None` once a finite answer is complete, or an
    /// error (`--grep` that does not compile, the store unreadable).
    pub async fn next(&mut self) -> Option<Result<Out, (ErrorKind, String)>> {
        self.rx.recv().await
    }

    /// Stops the reader thread and waits for it, then hands the buffers of a
    /// long answer back to the system.
    pub async fn finish(self) {
        drop(self.rx);
        let _ = self.producer.await;
        crate::memory::release_free_memory();
    }
}

impl LogService {
    /// Starts a `Logs` request (both doors: the socket's `stream` below and the
    /// HTTP API): arguments checked, unit names known, the reader thread started.
    pub async fn open(
        &self,
        req: LogsRequest,
        supervisor: &SupervisorHandle,
    ) -> Result<LogFeed, Response> {
        let (mut query, renderer) = build_query(&req).map_err(|m| error(ErrorKind::Invalid, m))?;
        if let Some(b) = &req.boot {
            query = boots::limit(self, b.clone(), query)
                .await
                .map_err(|m| error(ErrorKind::Invalid, m))?;
        }
        // A typo in a unit name is an error (exit 4, as `status`), not an empty answer.
        if let Some(msg) = known::unknown_unit(&req.units, supervisor, self).await {
            return Err(error(ErrorKind::NotFound, msg));
        }
        let (tx, rx) = mpsc::channel::<Chunk>(4);
        let svc2 = self.clone();
        // JSON and export are for programs: the bytes as stored, no colours.
        let machine = renderer.format.is_machine();
        let mut out = Output {
            renderer,
            color: req.color && !machine,
            escape: req.escape && !machine,
            follow: req.follow,
        };
        let raw = req.raw;
        // The thread ends when the feed is dropped (its next send fails).
        let producer = tokio::task::spawn_blocking(move || {
            if machine {
                // Each record's _BOOT_ID (a small file, read here, off the runtime).
                out.renderer.boots = svc2.journal.boots();
            }
            let mut reader = match svc2.take_reader() {
                Ok(r) => r,
                Err(e) => {
                    let msg = format!("the log store cannot be read: {e}");
                    let _ = tx.blocking_send(Err((ErrorKind::Internal, msg)));
                    return;
                }
            };
            produce(&mut reader, query, &out, Batch::new(raw), &tx);
            svc2.give_back(reader);
        });
        Ok(LogFeed { rx, producer })
    }
}

/// Serves one `Logs` request on `s` until done, or until the client hangs up
/// (follow), or until the daemon stops.
pub async fn stream(
    s: &mut UnixStream,
    req: LogsRequest,
    svc: &LogService,
    supervisor: &SupervisorHandle,
    mut stopping: watch::Receiver<bool>,
) {
    if let Some(answer) = maintain::requested(&req) {
        let frame = match answer {
            Ok(m) => match maintain::run(svc, m).await {
                Ok(text) => Response::LogData(text),
                Err(msg) => error(ErrorKind::Internal, msg),
            },
            Err(msg) => error(ErrorKind::Invalid, msg),
        };
        if write_frame(s, &frame).await.is_ok() && matches!(frame, Response::LogData(_)) {
            let _ = write_frame(s, &Response::Done).await;
        }
        return;
    }
    if req.list_boots {
        let frame = match boots::list(svc, req.output == "json").await {
            Ok(text) => Response::LogData(text),
            Err(msg) => error(ErrorKind::Internal, msg),
        };
        if write_frame(s, &frame).await.is_ok() && matches!(frame, Response::LogData(_)) {
            let _ = write_frame(s, &Response::Done).await;
        }
        return;
    }
    let follow = req.follow;
    let mut feed = match svc.open(req, supervisor).await {
        Ok(f) => f,
        Err(why) => {
            let _ = write_frame(s, &why).await;
            return;
        }
    };
    let (mut rd, mut wr) = s.split();
    let mut probe = [0u8; 64];
    let mut watch_peer = true;
    loop {
        let next = tokio::select! {
            c = feed.next() => c,
            n = rd.read(&mut probe), if watch_peer => match n {
                // The client sends nothing after its request, so end of file means
                // it hung up (or half-closed: then a finite answer is still sent,
                // and a failed write ends it). Stop the reader thread and leave.
                Ok(0) if follow => break,
                Ok(0) => { watch_peer = false; continue }
                Err(_) => break,
                Ok(_) => continue, // stray bytes: ignored
            },
            _ = stopping.wait_for(|s| *s) => {
                let _ = write_frame(&mut wr, &Response::Done).await;
                break;
            }
        };
        let frame = match next {
            Some(Ok(Out::Frame(bytes))) => {
                if wr.write_all(&bytes).await.is_err() {
                    break; // EPIPE: the client hung up (e.g. `| head`).
                }
                continue;
            }
            Some(Ok(Out::Text(text))) => Response::LogData(text),
            Some(Err((kind, msg))) => {
                let _ = write_frame(&mut wr, &error(kind, msg)).await;
                break;
            }
            None => {
                let _ = write_frame(&mut wr, &Response::Done).await;
                break;
            }
        };
        if write_frame(&mut wr, &frame).await.is_err() {
            break; // EPIPE: the client hung up (e.g. `| head`).
        }
    }
    // The thread's next send fails; a follower notices within FOLLOW_CHECK
    // even when nothing new is written.
    feed.finish().await;
}
