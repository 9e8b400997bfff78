//! `daimon logs` and the log part of `daimon status`, served from the log store.
//!
//! Owns: turning a `LogsRequest` into a journal `Query` (with one-line `Invalid`
//! errors naming the bad argument), running it on a blocking thread (a reader has
//! its own SQLite connection and must never run on the event loop), streaming the
//! rendered text in `LogData` frames of about [`CHUNK`] bytes, following new records
//! until the client hangs up, and filling `recent_logs`/`logs_dropped` of statuses.
//!
//! Why a bounded channel between the reader thread and the socket: a client that
//! reads slowly slows the reader down instead of making the daemon buffer the whole
//! store in memory.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use daimon_journal::format::{OutputFormat, Renderer};
use daimon_journal::timeexpr::parse_time;
use daimon_journal::{Journal, JournalError, JournalReader, Query, Record, Stream};
use daimon_proto::{ErrorKind, LogsRequest, Response, UnitStatus};
use jiff::tz::TimeZone;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch};

use super::{error, write_frame};
use crate::supervisor::SupervisorHandle;

mod known;

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
}

/// Rendered text on its way to the socket: a finished raw frame (header included,
/// for clients that asked for raw frames) or the text of a `LogData` frame.
enum Out {
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
        }
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

/// The query a request asks for and how to render it, or the one-line complaint
/// about its arguments.
pub fn build_query(req: &LogsRequest) -> Result<(Query, Renderer), String> {
    let format: OutputFormat = req.output.parse().map_err(|e| format!("--output: {e}"))?;
    let now = jiff::Timestamp::now();
    let tz = TimeZone::try_system().unwrap_or(TimeZone::UTC);
    let time = |flag: &str, v: &Option<String>| -> Result<Option<jiff::Timestamp>, String> {
        match v {
            None => Ok(None),
            Some(expr) => parse_time(expr, now, &tz)
                .map(Some)
                .map_err(|e| format!("--{flag}: {e}")),
        }
    };
    let since = time("since", &req.since)?;
    let until = time("until", &req.until)?;
    let max_priority = match &req.priority {
        None => None,
        Some(p) => Some(daimon_journal::priority::parse(p).ok_or_else(|| {
            format!(
                "invalid --priority \"{p}\": expected 0-7 or one of emerg, alert, crit, err, \
                 warning, notice, info, debug"
            )
        })?),
    };
    let mut query = Query {
        // As typed and as a unit name: `bot` is `bot.service`, `bot.sh` (from
        // `daimon run -- ./bot.sh`) is `bot.sh.service`, `daimond` is daimond's
        // own messages.
        units: known::store_names(&req.units),
        invocation: req.invocation.clone(),
        since,
        until,
        max_priority,
        grep: req.grep.clone(),
        lines: req.lines,
        after: None,
        streams: Vec::new(),
    };
    for m in &req.matches {
        apply_match(m, &mut query)?;
    }
    Ok((query, renderer(format)))
}

/// One journalctl-style `FIELD=VALUE` match, for the fields the store indexes.
/// Several values of one field are alternatives, as in journalctl.
fn apply_match(m: &str, q: &mut Query) -> Result<(), String> {
    let (field, value) = m.split_once('=').unwrap_or((m, ""));
    match field {
        "_TRANSPORT" => q.streams.push(match value {
            "stdout" => Stream::Stdout,
            "stderr" => Stream::Stderr,
            "daemon" => Stream::Daemon,
            _ => {
                return Err(format!(
                    "invalid match \"{m}\": _TRANSPORT is stdout, stderr or daemon"
                ));
            }
        }),
        // The store keeps one unit name per line, whether the service wrote it
        // or daimond wrote it about the service.
        "_SYSTEMD_UNIT" | "UNIT" if !value.is_empty() => q.units.push(value.to_string()),
        "_SYSTEMD_INVOCATION_ID" if !value.is_empty() => match &q.invocation {
            Some(other) if other != value => {
                return Err(format!(
                    "invalid match \"{m}\": only one invocation at a time (already {other})"
                ));
            }
            _ => q.invocation = Some(value.to_string()),
        },
        _ => {
            return Err(format!(
                "unsupported match \"{m}\": daimon matches _TRANSPORT=, _SYSTEMD_UNIT=, \
                 UNIT= and _SYSTEMD_INVOCATION_ID="
            ));
        }
    }
    Ok(())
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
    let (query, renderer) = match build_query(&req) {
        Ok(q) => q,
        Err(msg) => {
            let _ = write_frame(s, &error(ErrorKind::Invalid, msg)).await;
            return;
        }
    };
    // A typo in a unit name is an error (exit 4, as `status`), not an empty answer.
    if let Some(msg) = known::unknown_unit(&req.units, supervisor, svc).await {
        let _ = write_frame(s, &error(ErrorKind::NotFound, msg)).await;
        return;
    }
    let (tx, mut rx) = mpsc::channel::<Chunk>(4);
    let svc2 = svc.clone();
    let follow = req.follow;
    let raw = req.raw;
    let color = req.color && req.output != "json";
    let escape = req.escape && req.output != "json";
    let producer = tokio::task::spawn_blocking(move || {
        let mut reader = match svc2.take_reader() {
            Ok(r) => r,
            Err(e) => {
                let msg = format!("the log store cannot be read: {e}");
                let _ = tx.blocking_send(Err((ErrorKind::Internal, msg)));
                return;
            }
        };
        let out = Output {
            renderer,
            color,
            escape,
            follow,
        };
        produce(&mut reader, query, &out, Batch::new(raw), &tx);
        svc2.give_back(reader);
    });

    let (mut rd, mut wr) = s.split();
    let mut probe = [0u8; 64];
    let mut watch_peer = true;
    loop {
        let next = tokio::select! {
            c = rx.recv() => c,
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
    // Dropping the receiver makes the thread's next send fail; a follower notices
    // within FOLLOW_CHECK even when nothing new is written.
    drop(rx);
    let _ = producer.await;
    // The buffers of a long answer are free now: hand them back.
    crate::memory::release_free_memory();
}

/// How the reader thread renders and whether it follows.
struct Output {
    renderer: Renderer,
    color: bool,
    /// For a terminal: what services wrote is escaped (`daimon_proto::text`).
    escape: bool,
    follow: bool,
}

/// Escapes the line just rendered at `buf[start..]` for a terminal (its final
/// newline kept). The whole line, not just the message: the identifier comes
/// from the service too (`SYSLOG_IDENTIFIER=`). Colours are added after this.
fn escape_line(buf: &mut Vec<u8>, start: usize, scratch: &mut Vec<u8>) {
    let end = if buf.last() == Some(&b'\n') {
        buf.len() - 1
    } else {
        buf.len()
    };
    let line = &buf[start..end];
    if !line.iter().any(|&b| b < 0x20 && b != b'\t' || b >= 0x7f) {
        return;
    }
    scratch.clear();
    daimon_proto::escape_terminal(line, scratch);
    buf.splice(start..end, scratch.iter().copied());
}

/// journalctl's colours by priority, around the line just rendered at
/// `buf[start..]` (its final newline stays outside the colour).
fn paint(buf: &mut Vec<u8>, start: usize, priority: u8) {
    let code: &[u8] = match priority {
        0..=3 => b"\x1b[1;31m",
        4 => b"\x1b[1;33m",
        5 => b"\x1b[1m",
        7 => b"\x1b[2m",
        _ => return,
    };
    let newline = buf.last() == Some(&b'\n');
    if newline {
        buf.pop();
    }
    buf.splice(start..start, code.iter().copied());
    buf.extend_from_slice(b"\x1b[0m");
    if newline {
        buf.push(b'\n');
    }
}

/// Rendered records collected for one frame. For raw frames the buffer starts
/// with room for the frame header, so a frame leaves without being copied.
struct Batch {
    buf: Vec<u8>,
    raw: bool,
}

impl Batch {
    fn new(raw: bool) -> Batch {
        let mut b = Batch {
            buf: Vec::new(),
            raw,
        };
        b.reset();
        b
    }

    fn reset(&mut self) {
        self.buf = Vec::with_capacity(CHUNK + 64 * 1024);
        if self.raw {
            self.buf.extend_from_slice(&[0; 4]);
        }
    }

    fn text_len(&self) -> usize {
        self.buf.len() - if self.raw { 4 } else { 0 }
    }

    fn take(&mut self) -> Out {
        let mut v = std::mem::take(&mut self.buf);
        self.reset();
        if self.raw {
            // At most CHUNK plus one line (LineMax), far below the frame limit.
            if let Ok(h) = daimon_proto::raw_header(v.len() - 4) {
                v[..4].copy_from_slice(&h);
            }
            return Out::Frame(v);
        }
        Out::Text(match String::from_utf8(v) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Hands the batch to the socket task; false when the client has gone.
    fn send(&mut self, tx: &mpsc::Sender<Chunk>) -> bool {
        tx.blocking_send(Ok(self.take())).is_ok()
    }
}

/// The reader thread: query, render, send in chunks; then follow.
fn produce(
    reader: &mut JournalReader,
    mut q: Query,
    out: &Output,
    mut batch: Batch,
    tx: &mpsc::Sender<Chunk>,
) {
    let Output {
        renderer,
        color,
        escape,
        follow,
    } = out;
    let (color, escape, follow) = (*color, *escape, *follow);
    let mut gone = false;
    let mut scratch = Vec::new();
    let mut run = |reader: &mut JournalReader, q: &Query, batch: &mut Batch, gone: &mut bool| {
        let res = reader.query(q, &mut |rec: &Record<'_>| {
            let start = batch.buf.len();
            renderer.render(rec, &mut batch.buf);
            if escape {
                escape_line(&mut batch.buf, start, &mut scratch);
            }
            if color {
                paint(&mut batch.buf, start, rec.priority);
            }
            if batch.text_len() >= CHUNK && !batch.send(tx) {
                *gone = true;
                return false;
            }
            true
        });
        match res {
            Ok(cursor) => {
                if batch.text_len() > 0 && !batch.send(tx) {
                    *gone = true;
                }
                Some(cursor)
            }
            Err(JournalError::Regex { pattern, message }) => {
                let msg = format!("invalid --grep \"{pattern}\": {message}");
                let _ = tx.blocking_send(Err((ErrorKind::Invalid, msg)));
                None
            }
            Err(e) => {
                let _ = tx.blocking_send(Err((ErrorKind::Internal, e.to_string())));
                None
            }
        }
    };
    let Some(mut cursor) = run(reader, &q, &mut batch, &mut gone) else {
        return;
    };
    if !follow {
        return;
    }
    // Follow: only what comes after the cursor, all of it, each record once.
    q.lines = None;
    while !gone && !tx.is_closed() {
        if !reader.wait_for_new(&cursor, FOLLOW_CHECK) {
            continue;
        }
        q.after = Some(cursor);
        match run(reader, &q, &mut batch, &mut gone) {
            Some(c) => cursor = c,
            None => return,
        }
    }
}

fn renderer(format: OutputFormat) -> Renderer {
    let tz = TimeZone::try_system().unwrap_or(TimeZone::UTC);
    Renderer::new(format, daimon_journal::hostname(), tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_the_line_but_keeps_its_newline() {
        let mut buf = b"old\n".to_vec();
        let start = buf.len();
        buf.extend_from_slice(b"id[1]: \x1b]52;c;aGk=\x1b\\ \xc2\x9b2J\n");
        escape_line(&mut buf, start, &mut Vec::new());
        assert_eq!(
            String::from_utf8_lossy(&buf),
            "old\nid[1]: \\x1b]52;c;aGk=\\x1b\\ \\u009b2J\n"
        );
        let mut plain = b"tab\there\n".to_vec();
        escape_line(&mut plain, 0, &mut Vec::new());
        assert_eq!(plain, b"tab\there\n");
    }

    #[test]
    fn colours_wrap_the_line_but_not_its_newline() {
        let mut buf = b"old\n".to_vec();
        let start = buf.len();
        buf.extend_from_slice(b"boom\n");
        paint(&mut buf, start, 3);
        assert_eq!(buf, b"old\n\x1b[1;31mboom\x1b[0m\n");
        let mut info = b"fine\n".to_vec();
        paint(&mut info, 0, 6);
        assert_eq!(info, b"fine\n");
    }

    fn req() -> LogsRequest {
        LogsRequest {
            ..Default::default()
        }
    }

    #[test]
    fn field_matches_narrow_the_query_like_journalctl() {
        let mut r = req();
        r.matches = vec![
            "_TRANSPORT=stdout".into(),
            "_SYSTEMD_UNIT=bot.service".into(),
        ];
        let (q, _) = build_query(&r).expect("valid matches");
        assert_eq!(q.streams, vec![Stream::Stdout]);
        assert_eq!(q.units, vec!["bot.service".to_string()]);
        let mut r = req();
        r.matches = vec!["_TRANSPORT=carrier-pigeon".into()];
        let err = build_query(&r).err().unwrap_or_default();
        assert!(
            err.starts_with("invalid match \"_TRANSPORT=carrier-pigeon\""),
            "{err}"
        );
        let mut r = req();
        r.matches = vec!["_COMM=python3".into()];
        let err = build_query(&r).err().unwrap_or_default();
        assert!(
            err.starts_with("unsupported match \"_COMM=python3\""),
            "{err}"
        );
    }

    #[test]
    fn bad_arguments_are_one_line_naming_the_flag() {
        let err = |r: LogsRequest| build_query(&r).err().unwrap_or_default();
        let mut r = req();
        r.output = "xml".into();
        assert!(err(r).starts_with("--output: "));
        let mut r = req();
        r.since = Some("soon".into());
        assert!(err(r).starts_with("--since: invalid time \"soon\""));
        let mut r = req();
        r.priority = Some("loud".into());
        assert!(err(r).starts_with("invalid --priority \"loud\""));
        let mut r = req();
        r.priority = Some("warning".into());
        r.units = vec!["bot".into()];
        let (q, _) = build_query(&r).expect("valid");
        assert_eq!(q.max_priority, Some(4));
        assert_eq!(q.units, ["bot", "bot.service"]);
    }
}
