//! The socket server: every client (the CLI, later the HTTP API's bridge) talks to
//! the daemon here.
//!
//! Owns: accepting connections, the peer check (SO_PEERCRED), the version
//! handshake, frame size limits, read timeouts, the cap on concurrent connections,
//! and routing one request per connection: `Logs` (and the log part of `Status`)
//! are answered from the log store here (`logs`), `Shutdown` goes to `main`,
//! everything else to the supervisor.
//!
//! Why one task per connection: the accept loop must never wait on one slow or
//! malicious peer. Why timeouts on reads only: a client that reads slowly (a pager
//! on `daimon logs`) is allowed to; it holds one connection slot, nothing more.

mod logs;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use daimon_proto::{
    ErrorKind, ErrorReply, FrameError, Hello, PROTOCOL_VERSION, Request, Response, Welcome,
};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

pub use logs::LogService;

use crate::supervisor::SupervisorHandle;

/// Most connections served at once; one more gets `Unavailable` and is closed.
pub const MAX_CONNECTIONS: usize = 128;
/// Longest wait for each frame a client owes us.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait to hand a (non-streaming) reply to the kernel.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything a connection needs; shared by all connection tasks on this thread.
pub struct IpcContext {
    pub supervisor: SupervisorHandle,
    pub logs: LogService,
    pub daemon_pid: u32,
    /// Peers with this uid (and root) may talk to us.
    pub uid: u32,
    /// In system mode, members of group `daimon` may too.
    pub group: Option<u32>,
    /// `daimon shutdown`: main replies through the sender once services stopped.
    pub shutdown: mpsc::Sender<oneshot::Sender<()>>,
    /// `daimon daemon-reexec`: main replies once the state is handed over, then execs.
    pub reexec: mpsc::Sender<oneshot::Sender<()>>,
    /// Becomes true when the daemon stops; followers end their streams.
    pub stopping: watch::Receiver<bool>,
    /// Set by main once a shutdown began: new starts are refused.
    pub shutting_down: Cell<bool>,
}

/// Accepts until `stop` turns true, then waits (bounded) for open connections to
/// finish their replies.
pub async fn serve(listener: UnixListener, ctx: Rc<IpcContext>, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    // Connections being told "busy" (each lives at most READ_TIMEOUT).
    let refusals = Arc::new(Semaphore::new(MAX_CONNECTIONS / 2));
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                // EMFILE and friends: back off a little instead of spinning.
                tracing::warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                let ctx = ctx.clone();
                tokio::task::spawn_local(async move {
                    let _permit = permit;
                    connection(stream, &ctx).await;
                });
            }
            Err(_) => match refusals.clone().try_acquire_owned() {
                Ok(permit) => {
                    tokio::task::spawn_local(async move {
                        let _permit = permit;
                        let msg = format!(
                            "daimond is serving {MAX_CONNECTIONS} connections already; try again"
                        );
                        refuse(stream, error(ErrorKind::Unavailable, msg)).await;
                    });
                }
                // Beyond even that: hang up without a word.
                Err(_) => drop(stream),
            },
        }
    }
    drop(listener);
    let all = MAX_CONNECTIONS as u32;
    if tokio::time::timeout(Duration::from_secs(2), slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("some client connections were still open at exit");
    }
}

pub fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::Error(ErrorReply {
        kind,
        message: message.into(),
    })
}

/// Reads one frame's payload, checking the announced size before allocating.
pub async fn read_payload(s: &mut UnixStream) -> Result<Vec<u8>, FrameError> {
    let mut header = [0u8; 4];
    match s.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = daimon_proto::payload_len(header)?;
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).await?;
    Ok(payload)
}

pub async fn write_frame<W: AsyncWrite + Unpin>(
    s: &mut W,
    msg: &Response,
) -> Result<(), FrameError> {
    let buf = daimon_proto::encode(msg)?;
    s.write_all(&buf).await?;
    Ok(())
}

/// One frame's payload within [`READ_TIMEOUT`]; `Err("")` when the peer just left.
async fn read_with_timeout(s: &mut UnixStream, what: &str) -> Result<Vec<u8>, String> {
    match tokio::time::timeout(READ_TIMEOUT, read_payload(s)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(FrameError::Closed)) => Err(String::new()),
        Ok(Err(e)) => Err(format!("bad {what}: {e}")),
        Err(_) => Err(format!("no {what} within {}s", READ_TIMEOUT.as_secs())),
    }
}

async fn reply(s: &mut UnixStream, r: &Response) {
    match tokio::time::timeout(WRITE_TIMEOUT, write_frame(s, r)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("client went away before its reply: {e}"),
        Err(_) => tracing::debug!("client did not read its reply in time"),
    }
}

/// Same uid or root; in system mode also members of group `daimon` (primary group
/// from SO_PEERCRED, supplementary groups from the peer's /proc entry).
fn peer_allowed(s: &UnixStream, ctx: &IpcContext) -> bool {
    let Ok(c) = s.peer_cred() else {
        return false;
    };
    if c.uid() == ctx.uid || c.uid() == 0 {
        return true;
    }
    let Some(group) = ctx.group else {
        return false;
    };
    if c.gid() == group {
        return true;
    }
    let Some(pid) = c.pid() else {
        return false;
    };
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|st| {
        st.lines()
            .find_map(|l| l.strip_prefix("Groups:"))
            .is_some_and(|g| g.split_whitespace().any(|x| x.parse() == Ok(group)))
    })
}

/// Answers a connection we will not serve. The client's handshake is read first:
/// closing a socket with unread data resets it, and the client would see
/// "connection reset" instead of our reason.
async fn refuse(mut s: UnixStream, why: Response) {
    let _ = read_with_timeout(&mut s, "handshake").await;
    reply(&mut s, &why).await;
    drain(&s);
}

/// Reads and drops what the client already sent (a request pipelined after its
/// `Hello`) before a connection we refused is closed, for the same reason.
fn drain(s: &UnixStream) {
    let mut buf = [0u8; 4096];
    for _ in 0..64 {
        match s.try_read(&mut buf) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

async fn connection(mut s: UnixStream, ctx: &IpcContext) {
    if !peer_allowed(&s, ctx) {
        let r = error(
            ErrorKind::Invalid,
            "permission denied: this daimond belongs to another user",
        );
        refuse(s, r).await;
        return;
    }
    let hello = read_with_timeout(&mut s, "handshake")
        .await
        .and_then(|p| daimon_proto::decode::<Hello>(&p).map_err(|e| format!("bad handshake: {e}")));
    let hello = match hello {
        Ok(h) => h,
        Err(why) => {
            if !why.is_empty() {
                tracing::debug!("client dropped: {why}");
                reply(&mut s, &error(ErrorKind::Invalid, why)).await;
            }
            return;
        }
    };
    if hello.version != PROTOCOL_VERSION {
        let r = error(
            ErrorKind::Version,
            format!(
                "this daimon speaks protocol {} but the running daimond speaks {PROTOCOL_VERSION}; \
                 run \"daimon shutdown\" (with the daimon that started it) and try again",
                hello.version
            ),
        );
        reply(&mut s, &r).await;
        drain(&s);
        return;
    }
    let welcome = Response::Welcome(Welcome {
        version: PROTOCOL_VERSION,
        daemon_pid: ctx.daemon_pid,
        daemon_version: env!("CARGO_PKG_VERSION").to_string(),
    });
    if write_frame(&mut s, &welcome).await.is_err() {
        return;
    }
    let req = read_with_timeout(&mut s, "request")
        .await
        .and_then(|p| daimon_proto::decode::<Request>(&p).map_err(|e| format!("bad request: {e}")));
    let req = match req {
        Ok(r) => r,
        Err(why) => {
            if !why.is_empty() {
                reply(&mut s, &error(ErrorKind::Invalid, why)).await;
            }
            return;
        }
    };
    match req {
        Request::Logs(lr) => logs::stream(&mut s, lr, &ctx.logs, ctx.stopping.clone()).await,
        Request::Shutdown => {
            // Answered once every service has stopped, so that the client returns
            // when the work is done (as `systemctl stop` does).
            let (tx, rx) = oneshot::channel();
            if ctx.shutdown.send(tx).await.is_ok() {
                let _ = rx.await;
            }
            reply(&mut s, &Response::Done).await;
        }
        Request::DaemonReexec => {
            let (tx, rx) = oneshot::channel();
            let r = if ctx.reexec.send(tx).await.is_ok() && rx.await.is_ok() {
                Response::Done
            } else {
                error(
                    ErrorKind::Unavailable,
                    "daimond is shutting down; nothing to re-execute",
                )
            };
            reply(&mut s, &r).await;
        }
        Request::Status {
            units,
            log_lines,
            brief,
        } => {
            let r = ctx
                .supervisor
                .request(Request::Status {
                    units,
                    log_lines,
                    brief,
                })
                .await;
            let r = match r {
                Response::Status(list) => {
                    Response::Status(ctx.logs.fill_status(list, log_lines).await)
                }
                other => other,
            };
            reply(&mut s, &r).await;
        }
        req @ (Request::Run(_)
        | Request::Start { .. }
        | Request::Restart { .. }
        | Request::Reload { .. }
        | Request::Enable { .. }
        | Request::DaemonReload)
            if ctx.shutting_down.get() =>
        {
            let _ = req;
            let r = error(
                ErrorKind::Unavailable,
                "daimond is shutting down; run the command again once it has stopped",
            );
            reply(&mut s, &r).await;
        }
        req => {
            let r = ctx.supervisor.request(req).await;
            reply(&mut s, &r).await;
        }
    }
}
