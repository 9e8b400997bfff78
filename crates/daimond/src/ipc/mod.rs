//! The socket server, and the request routing it shares with the HTTP API
//! ([`admit`], [`dispatch`], [`LogService::open`]): one implementation behind both doors.
//!
//! Owns: accepting connections, the peer check (SO_PEERCRED), the version
//! handshake, frame size limits, read deadlines, the cap on concurrent connections
//! (`slots`: the oldest idle connection gives way to a newcomer), and routing one
//! request per connection: names are checked first (`admit`), `Logs` (and the log
//! part of `Status`) are answered from the log store here (`logs`), `Shutdown`
//! goes to `main`, everything else to the supervisor. Long list answers go out in
//! parts (`daimon_proto::parts`), so no reply exceeds the frame limit.
//!
//! Bounds, against hostile or broken peers (as s6 and systemd refuse early): a
//! `Hello` of at most [`MAX_HELLO_LEN`] bytes, a request of at most
//! [`MAX_REQUEST_LEN`], both within one [`READ_TIMEOUT`] from accept (a client
//! trickling a byte at a time gains nothing), and memory that follows the bytes
//! that arrived, not the length a header announces.
//!
//! Why one task per connection: the accept loop must never wait on one slow or
//! malicious peer. Why deadlines on reads only: a client that reads slowly (a pager
//! on `daimon logs`) is allowed to; it holds one connection slot, nothing more.

mod admit;
mod attach;
mod events;
mod group_audit;
pub mod logs;
mod slots;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use daimon_proto::{
    ErrorKind, ErrorReply, FrameError, Hello, MAX_HELLO_LEN, MAX_REQUEST_LEN, PROTOCOL_VERSION,
    Request, Response, Welcome,
};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

pub use logs::LogService;

use crate::supervisor::SupervisorHandle;
use slots::{Eviction, Slots};

/// Most connections served at once. When all are taken, the oldest idle one
/// (no request read yet) is closed for the newcomer; when all serve requests,
/// the newcomer is told daimond is busy.
pub const MAX_CONNECTIONS: usize = 128;
/// Longest wait, from accept, for a client's `Hello` and request together.
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
    let slots = Rc::new(Slots::default());
    while let Some((stream, _)) =
        crate::accept::next("socket", &mut stop, || listener.accept()).await
    {
        match slots.admit(MAX_CONNECTIONS) {
            Some((slot, eviction)) => {
                let ctx = ctx.clone();
                tokio::task::spawn_local(async move {
                    connection(stream, &ctx, &slot, eviction).await;
                    drop(slot);
                });
            }
            None => {
                let msg = format!(
                    "daimond is busy serving {MAX_CONNECTIONS} requests (log streams, jobs); \
                     try again in a moment"
                );
                farewell(&stream, &error(ErrorKind::Unavailable, msg));
            }
        }
    }
    drop(listener);
    let deadline = Instant::now() + Duration::from_secs(2);
    while slots.open() > 0 {
        if tokio::time::timeout_at(deadline, slots.freed())
            .await
            .is_err()
        {
            tracing::warn!("some client connections were still open at exit");
            break;
        }
    }
}

pub fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::Error(ErrorReply {
        kind,
        message: message.into(),
    })
}

/// Reads one frame's payload of at most `limit` bytes: the announced size is
/// checked before anything is allocated, and the buffer grows only as bytes
/// arrive.
pub async fn read_payload(s: &mut UnixStream, limit: u32) -> Result<Vec<u8>, FrameError> {
    let mut header = [0u8; 4];
    match s.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = daimon_proto::payload_len_within(header, limit)?;
    let mut payload = Vec::with_capacity(len.min(64 * 1024));
    (&mut *s).take(len as u64).read_to_end(&mut payload).await?;
    if payload.len() != len {
        return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
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

/// One frame's payload by `deadline`; `Err("")` when the peer just left.
async fn read_by(
    s: &mut UnixStream,
    what: &str,
    limit: u32,
    deadline: Instant,
) -> Result<Vec<u8>, String> {
    match tokio::time::timeout_at(deadline, read_payload(s, limit)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(FrameError::Closed)) => Err(String::new()),
        Ok(Err(e)) => Err(format!("bad {what}: {e}")),
        Err(_) => Err(format!(
            "no complete {what} within {}s of connecting",
            READ_TIMEOUT.as_secs()
        )),
    }
}

/// Sends `r`, a long list in parts (see `daimon_proto::parts`) so that no frame
/// exceeds the limit; a reply that cannot be framed becomes an error saying so.
async fn reply(s: &mut UnixStream, r: Response) {
    let mut buf = Vec::new();
    if let Err(e) = daimon_proto::parts::split(r, &mut buf) {
        tracing::warn!("a reply could not be sent: {e}");
        buf.clear();
        let why = error(
            ErrorKind::Internal,
            format!("daimond's answer could not be sent: {e}; ask for fewer units at a time"),
        );
        if daimon_proto::encode_into(&mut buf, &why).is_err() {
            return;
        }
    }
    match tokio::time::timeout(WRITE_TIMEOUT, s.write_all(&buf)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("client went away before its reply: {e}"),
        Err(_) => tracing::debug!("client did not read its reply in time"),
    }
}

/// Tells a connection we will not serve why, without waiting for it: what it
/// already sent is read first (closing a socket with unread data resets it,
/// and the client would see "connection reset" instead of our reason), then
/// the reason goes out if the socket buffer takes it, then we close. Raw
/// non-blocking calls: tokio's `try_*` give up on a socket it has not yet
/// seen ready, as a just-accepted one is.
fn farewell(s: &UnixStream, why: &Response) {
    use nix::sys::socket::{MsgFlags, send};
    use std::os::fd::AsRawFd;
    drain(s);
    if let Ok(frame) = daimon_proto::encode(why) {
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
        let _ = send(s.as_raw_fd(), &frame, flags);
    }
    drain(s);
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

/// Reads and drops what the client already sent (a request pipelined after its
/// `Hello`) before a connection we refused is closed, for the same reason.
fn drain(s: &UnixStream) {
    use nix::sys::socket::{MsgFlags, recv};
    use std::os::fd::AsRawFd;
    let mut buf = [0u8; 4096];
    for _ in 0..64 {
        match recv(s.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

/// The idle part of a connection: `Hello`, our `Welcome`, the request, all by
/// one deadline. `Err(None)`: the peer left; `Err(Some(r))`: answer `r` and close.
async fn handshake(s: &mut UnixStream, ctx: &IpcContext) -> Result<Request, Option<Response>> {
    let deadline = Instant::now() + READ_TIMEOUT;
    let invalid = |why: String| (!why.is_empty()).then(|| error(ErrorKind::Invalid, why));
    let hello = read_by(s, "handshake", MAX_HELLO_LEN, deadline)
        .await
        .and_then(|p| daimon_proto::decode::<Hello>(&p).map_err(|e| format!("bad handshake: {e}")))
        .map_err(invalid)?;
    if !peer_allowed(s, ctx) {
        return Err(Some(error(
            ErrorKind::Invalid,
            "permission denied: this daimond belongs to another user",
        )));
    }
    if hello.version != PROTOCOL_VERSION {
        return Err(Some(error(
            ErrorKind::Version,
            format!(
                "this daimon speaks protocol {} but the running daimond speaks {PROTOCOL_VERSION}; \
                 run \"daimon shutdown\" (with the daimon that started it) and try again",
                hello.version
            ),
        )));
    }
    let welcome = Response::Welcome(Welcome {
        version: PROTOCOL_VERSION,
        daemon_pid: ctx.daemon_pid,
        daemon_version: env!("CARGO_PKG_VERSION").to_string(),
    });
    if tokio::time::timeout_at(deadline, write_frame(s, &welcome))
        .await
        .map_or(true, |r| r.is_err())
    {
        return Err(None);
    }
    read_by(s, "request", MAX_REQUEST_LEN, deadline)
        .await
        .and_then(|p| daimon_proto::decode::<Request>(&p).map_err(|e| format!("bad request: {e}")))
        .and_then(|r| admit(&r).map(|()| r))
        .map_err(invalid)
}

async fn connection(mut s: UnixStream, ctx: &IpcContext, slot: &slots::Slot, eviction: Eviction) {
    let req = tokio::select! {
        r = handshake(&mut s, ctx) => r,
        Ok(()) = eviction => {
            let why = format!(
                "closed: daimond had {MAX_CONNECTIONS} connections open and this one had \
                 sent no request; connect again and send it at once"
            );
            farewell(&s, &error(ErrorKind::Unavailable, why));
            return;
        }
    };
    let req = match req {
        Ok(r) => r,
        Err(Some(why)) => {
            if let Response::Error(e) = &why {
                tracing::debug!("client refused: {}", e.message);
            }
            reply(&mut s, why).await;
            drain(&s);
            return;
        }
        Err(None) => return,
    };
    slot.busy();
    if let Request::Run(run) = &req {
        group_audit::note_run(&s, ctx.uid, ctx.group, run);
    }
    match req {
        Request::Logs(lr) => {
            logs::stream(&mut s, lr, &ctx.logs, &ctx.supervisor, ctx.stopping.clone()).await
        }
        Request::Events => events::stream(&mut s, ctx).await,
        Request::Attach { unit, read_only } => attach::serve(&mut s, ctx, unit, read_only).await,
        Request::Shutdown => {
            // Answered once every service has stopped, so that the client returns
            // when the work is done (as `systemctl stop` does).
            let (tx, rx) = oneshot::channel();
            if ctx.shutdown.send(tx).await.is_ok() {
                let _ = rx.await;
            }
            reply(&mut s, Response::Done).await;
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
            reply(&mut s, r).await;
        }
        req => {
            let r = dispatch(ctx, req).await;
            reply(&mut s, r).await;
        }
    }
}

/// Whether `req` may enter at all: every unit name it carries is checked here,
/// for the socket and the HTTP API alike (see `admit`).
pub fn admit(req: &Request) -> Result<(), String> {
    admit::check(req)
}

/// The one way an admitted request reaches the daemon, whichever door it came
/// through (the socket here, the HTTP API in `http`): everything but `Logs` (a
/// stream, see [`LogService::open`]) and `Shutdown` and `DaemonReexec` (main's
/// business).
pub async fn dispatch(ctx: &IpcContext, req: Request) -> Response {
    match req {
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
            match r {
                Response::Status(list) => {
                    Response::Status(ctx.logs.fill_status(list, log_lines).await)
                }
                other => other,
            }
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
            error(
                ErrorKind::Unavailable,
                "daimond is shutting down; run the command again once it has stopped",
            )
        }
        Request::Attach { .. } => error(
            ErrorKind::Invalid,
            "attach works through daimond's socket only: run \"daimon attach UNIT\" on its machine",
        ),
        req => ctx.supervisor.request(req).await,
    }
}
