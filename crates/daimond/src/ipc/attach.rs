//! `Request::Attach` on the socket: one client connected to a service's
//! terminal (`crate::console`), with the frames of `daimon_proto::attach`.
//!
//! The client's output comes from its queue in the console, which never
//! waits for it; this task alone waits for the client's socket, each write
//! bounded by [`WRITE_TIMEOUT`]. Input goes to the terminal (never from a
//! `--read-only` client). When the terminal hangs up, the client is told how
//! the main process ended, from the owner's status once the exit is known (a
//! state event wakes the wait; bounded by [`EXIT_WAIT`]).

use std::rc::Rc;
use std::time::Duration;

use daimon_proto::attach::{self, DROPPED, EXIT, INPUT, OUTPUT, RESIZE};
use daimon_proto::{ErrorKind, Request, Response, UnitStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::net::unix::{ReadHalf, WriteHalf};
use tokio::sync::broadcast;

use super::{IpcContext, WRITE_TIMEOUT, error, reply};
use crate::console::{ClientSlot, Console};
use crate::supervisor::events::UnitEvent;

/// Longest wait, after the terminal hung up, for the main process's exit.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// How a client's session ended.
enum End {
    /// The client hung up (detached).
    Left,
    /// The terminal hung up.
    Hangup,
    /// daimond stops serving the client, for this reason.
    Dropped(String),
}

pub async fn serve(s: &mut UnixStream, ctx: &IpcContext, unit: String, read_only: bool) {
    // Subscribed before anything else, so that no exit event is missed.
    let mut events = ctx.supervisor.subscribe();
    let Some(console) = ctx.supervisor.consoles.get(&unit) else {
        let why = refusal(ctx, &unit).await;
        reply(s, why).await;
        return;
    };
    let mut hello = Vec::new();
    if daimon_proto::encode_into(&mut hello, &Response::Done).is_err()
        || write(s, &hello).await.is_err()
    {
        return;
    }
    let slot = console.join();
    let end = {
        let (r, w) = s.split();
        let mut stopping = ctx.stopping.clone();
        tokio::select! {
            e = outgoing(w, &slot) => e,
            e = incoming(r, &console, read_only) => e,
            _ = stopping.wait_for(|s| *s) => End::Dropped("daimond is stopping".into()),
        }
    };
    console.leave(slot.id);
    let (kind, text) = match end {
        End::Left => return,
        End::Dropped(why) => (DROPPED, why),
        End::Hangup => (EXIT, exit_line(ctx, &console, &mut events).await),
    };
    let mut frame = Vec::new();
    attach::push_frame(&mut frame, kind, text.as_bytes());
    let _ = write(s, &frame).await;
}

async fn write(s: &mut (impl AsyncWriteExt + Unpin), bytes: &[u8]) -> Result<(), ()> {
    match tokio::time::timeout(WRITE_TIMEOUT, s.write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// The client's queue to its socket.
async fn outgoing(mut w: WriteHalf<'_>, slot: &Rc<ClientSlot>) -> End {
    let mut frame = Vec::new();
    loop {
        slot.wake.notified().await;
        let (output, dropped, ended) = {
            let mut q = slot.queue.borrow_mut();
            (std::mem::take(&mut q.output), q.dropped.take(), q.ended)
        };
        if let Some(why) = dropped {
            return End::Dropped(why);
        }
        if !output.is_empty() {
            frame.clear();
            attach::push_frame(&mut frame, OUTPUT, &output);
            if write(&mut w, &frame).await.is_err() {
                return End::Left;
            }
        }
        if ended {
            return End::Hangup;
        }
    }
}

/// The client's frames to the terminal.
async fn incoming(mut r: ReadHalf<'_>, console: &Console, read_only: bool) -> End {
    loop {
        let mut header = [0u8; attach::HEADER];
        if r.read_exact(&mut header).await.is_err() {
            return End::Left;
        }
        let Ok((kind, len)) = attach::parse_header(header) else {
            return End::Left;
        };
        let mut payload = vec![0u8; len];
        if r.read_exact(&mut payload).await.is_err() {
            return End::Left;
        }
        if read_only {
            continue;
        }
        match kind {
            INPUT => {
                if let Err(e) = console.input(&payload).await {
                    tracing::debug!("writing to the terminal of {}: {e}", console.unit);
                }
            }
            RESIZE => {
                if let Some((rows, cols)) = attach::parse_resize(&payload) {
                    console.resize(rows, cols);
                }
            }
            _ => {}
        }
    }
}

/// The unit's status, if it is loaded.
async fn status(ctx: &IpcContext, unit: &str) -> Result<UnitStatus, Response> {
    let req = Request::Status {
        units: vec![unit.to_string()],
        log_lines: 0,
        brief: false,
    };
    match ctx.supervisor.request(req).await {
        Response::Status(mut v) if !v.is_empty() => Ok(v.swap_remove(0)),
        Response::Error(e) => Err(Response::Error(e)),
        _ => Err(error(
            ErrorKind::NotFound,
            format!("unit \"{unit}\" not found"),
        )),
    }
}

/// Why `unit` has no terminal to attach to, and what to do.
async fn refusal(ctx: &IpcContext, unit: &str) -> Response {
    let st = match status(ctx, unit).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    if st.pid.is_some() {
        error(
            ErrorKind::Failed,
            format!(
                "{unit} has no terminal (it was not started with StandardInput=tty); run the \
                 command with \"daimon run --tty -- CMD\", or add StandardInput=tty to its \
                 [Service] section and restart it"
            ),
        )
    } else {
        error(
            ErrorKind::Failed,
            format!(
                "{unit} is not running ({}); start it with \"daimon start {unit}\", then attach",
                st.state.as_str()
            ),
        )
    }
}

/// How the terminal's main process ended, once the owner knows.
async fn exit_line(
    ctx: &IpcContext,
    console: &Console,
    events: &mut broadcast::Receiver<UnitEvent>,
) -> String {
    let unit = &console.unit;
    let deadline = tokio::time::Instant::now() + EXIT_WAIT;
    loop {
        match status(ctx, unit).await {
            Ok(st) if st.pid != Some(console.pid) => {
                let how = st
                    .last_exit
                    .map(|e| format!("main process {e}"))
                    .unwrap_or_else(|| "main process ended".into());
                return format!(
                    "{unit}: {how}; the unit is {} ({})",
                    st.state.as_str(),
                    st.sub_state
                );
            }
            Ok(_) => {}
            Err(_) => return format!("{unit}: its terminal closed"),
        }
        let next = async {
            loop {
                match events.recv().await {
                    Ok(e) if &e.unit == unit => return,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
                }
            }
        };
        if tokio::time::timeout_at(deadline, next).await.is_err() {
            return format!(
                "{unit}: its terminal closed; the main process (PID {}) still runs",
                console.pid
            );
        }
    }
}
