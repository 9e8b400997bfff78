//! Server-sent events: following logs (`/api/logs/stream`, the filters of
//! `/api/logs`) and unit state changes (`/api/events`).
//!
//! Each client has its own bounded buffer ([`BUFFER`] pieces). A client that
//! leaves a piece untaken for [`SLOW_CLIENT`] is dropped: its stream ends with
//! an `event: close` whose data is a JSON error saying why (`slow_client`,
//! `lagged`, `stopping`), and the connection closes once that is written (or
//! after `stall::WRITE_STALL` if the client reads nothing at all). Nothing
//! else ever waits for a client: the log writer and the owner send without
//! waiting (a log follower reads the store on its own thread; state changes go
//! through a bounded broadcast).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use daimon_proto::{Request, Response};
use hyper::body::Bytes;
use tokio::sync::{broadcast, mpsc};

use super::reply::{self, Reply};
use super::{Api, query};
use crate::ipc::{self, logs::Out};

/// Pieces buffered per client (a log piece is up to 256 KiB of lines).
pub const BUFFER: usize = 8;
/// How long a piece may wait for a client to take it.
pub const SLOW_CLIENT: Duration = Duration::from_secs(5);
/// A comment line this often keeps proxies from closing a quiet stream and
/// shows a client that has gone.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// One SSE event of `data` (split into `data:` lines, as the format requires).
fn event(name: Option<&str>, data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 16);
    if let Some(n) = name {
        out.push_str("event: ");
        out.push_str(n);
        out.push('\n');
    }
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push('\n');
    }
    out.push('\n');
    out
}

/// The last event of a dropped stream.
fn close(code: &str, message: &str) -> Bytes {
    let v = serde_json::json!({"code": code, "message": message});
    Bytes::from(event(Some("close"), &v.to_string()))
}

/// A stream's sending side: bounded, never waited on for long.
struct Sender {
    tx: mpsc::Sender<Bytes>,
    tail: Rc<RefCell<Option<Bytes>>>,
}

impl Sender {
    /// False when the stream is over (client gone, or too slow: then the close
    /// reason is set).
    async fn send(&self, b: Bytes) -> bool {
        match tokio::time::timeout(SLOW_CLIENT, self.tx.send(b)).await {
            Ok(r) => r.is_ok(),
            Err(_) => {
                self.close(
                    "slow_client",
                    &format!(
                        "this client read nothing for {}s and was dropped; reconnect to go on",
                        SLOW_CLIENT.as_secs()
                    ),
                );
                false
            }
        }
    }

    fn close(&self, code: &str, message: &str) {
        *self.tail.borrow_mut() = Some(close(code, message));
    }
}

fn open_stream() -> (Sender, Reply) {
    let (tx, rx) = mpsc::channel(BUFFER);
    let tail = Rc::new(RefCell::new(None));
    let mut r = reply::stream("text/event-stream", rx, tail.clone());
    // A stream is the connection's last answer: closed when it ends.
    r.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    r.headers_mut().insert(
        hyper::header::HeaderName::from_static("x-accel-buffering"),
        hyper::header::HeaderValue::from_static("no"),
    );
    (Sender { tx, tail }, r)
}

/// What every stream waits on besides its own items: a heartbeat to send, the
/// daemon stopping (the stream closes with that reason), the client going away.
struct Live {
    out: Sender,
    beat: tokio::time::Interval,
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl Live {
    async fn new(out: Sender, stopping: tokio::sync::watch::Receiver<bool>) -> Live {
        let mut beat = tokio::time::interval(HEARTBEAT);
        beat.tick().await;
        Live {
            out,
            beat,
            stopping,
        }
    }

    /// The next of `item` (a cancel-safe receive), sending heartbeats while it
    /// waits; None when the stream is over.
    async fn next<T>(&mut self, item: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::pin!(item);
        loop {
            tokio::select! {
                v = &mut item => return Some(v),
                _ = self.beat.tick() => {
                    if !self.out.send(Bytes::from_static(b": keep-alive\n\n")).await {
                        return None;
                    }
                }
                _ = self.stopping.wait_for(|s| *s) => {
                    self.out.close("stopping", "daimond is stopping");
                    return None;
                }
                _ = self.out.tx.closed() => return None,
            }
        }
    }
}

/// `GET /api/logs/stream`: the lines a query selects, then new ones as they
/// are written, one event per line.
pub async fn logs(api: &Api, q: Option<&str>) -> Reply {
    let mut lr = match super::routes::logs_request(q, true) {
        Ok(lr) => lr,
        Err(e) => return reply::error(400, "invalid", e),
    };
    // Text outputs: control characters escaped, so a line never breaks an event.
    lr.escape = true;
    if let Err(e) = ipc::admit(&Request::Logs(lr.clone())) {
        return reply::error(400, "invalid", e);
    }
    let mut feed = match api.ipc.logs.open(lr, &api.ipc.supervisor).await {
        Ok(f) => f,
        Err(Response::Error(e)) => return reply::from_kind(e.kind, e.message),
        Err(_) => return reply::error(500, "internal", "the log query could not start"),
    };
    let (out, r) = open_stream();
    let stopping = api.ipc.stopping.clone();
    tokio::task::spawn_local(async move {
        let mut live = Live::new(out, stopping).await;
        while let Some(piece) = live.next(feed.next()).await {
            let out = &live.out;
            let text = match piece {
                Some(Ok(Out::Text(t))) => t,
                Some(Ok(Out::Frame(b))) => String::from_utf8_lossy(&b).into_owned(),
                Some(Err((kind, msg))) => {
                    out.close(super::reply::kind_status(kind).1, &msg);
                    break;
                }
                None => break,
            };
            let mut events = String::with_capacity(text.len() + text.len() / 8);
            for line in text.lines() {
                events.push_str(&event(None, line));
            }
            if !out.send(Bytes::from(events)).await {
                break;
            }
        }
        drop(live);
        feed.finish().await;
    });
    r
}

/// `GET /api/events[?unit=NAME...]`: each unit state change as a `state`
/// event whose data is `{"unit", "state", "sub_state", "pid", "restarts", "time"}`.
pub fn events(api: &Api, q: Option<&str>) -> Reply {
    let units = match query::parse(q, &["unit"]) {
        Ok(p) => p.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        Err(e) => return reply::error(400, "invalid", e),
    };
    let mut wanted = Vec::new();
    for u in &units {
        match daimon_unit::check_requested(u) {
            Ok(n) => wanted.push(n.to_string()),
            Err(e) => return reply::error(400, "invalid", e),
        }
    }
    let mut rx = api.ipc.supervisor.subscribe();
    let (out, r) = open_stream();
    let stopping = api.ipc.stopping.clone();
    tokio::task::spawn_local(async move {
        // Tells the client at once that it is subscribed (no change may come
        // for a long time).
        if !out.send(Bytes::from_static(b": subscribed\n\n")).await {
            return;
        }
        let mut live = Live::new(out, stopping).await;
        while let Some(ev) = live.next(rx.recv()).await {
            let out = &live.out;
            let ev = match ev {
                Ok(ev) => ev,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    out.close(
                        "lagged",
                        &format!(
                            "{n} state changes were not read in time; reconnect and \
                                  read the current states from /api/units"
                        ),
                    );
                    break;
                }
                Err(broadcast::error::RecvError::Closed) => {
                    out.close("stopping", "daimond is stopping");
                    break;
                }
            };
            if !wanted.is_empty() && !wanted.contains(&ev.unit) {
                continue;
            }
            let data = serde_json::to_string(&ev).unwrap_or_default();
            if !out.send(Bytes::from(event(Some("state"), &data))).await {
                break;
            }
        }
    });
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_each_line_a_data_line() {
        assert_eq!(event(None, "hello"), "data: hello\n\n");
        assert_eq!(
            event(Some("close"), "a\nb\r"),
            "event: close\ndata: a\ndata: b\n\n"
        );
    }
}
