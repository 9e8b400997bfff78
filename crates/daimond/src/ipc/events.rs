//! `Request::Events` on the socket: one `Response::Event` frame per unit state
//! change, from the owner's broadcast (`supervisor::events`), until the client
//! hangs up or the daemon stops. Nothing is sent while nothing changes, so a
//! client such as `daimon top` sleeps between changes instead of polling.

use daimon_proto::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::broadcast::error::RecvError;

use super::{IpcContext, WRITE_TIMEOUT};

pub async fn stream(s: &mut UnixStream, ctx: &IpcContext) {
    let mut rx = ctx.supervisor.subscribe();
    let mut stopping = ctx.stopping.clone();
    let mut scratch = [0u8; 64];
    loop {
        let unit = tokio::select! {
            e = rx.recv() => match e {
                Ok(ev) => ev.unit,
                // Fell behind a burst: the changes it missed are coalesced
                // into one event (the client re-reads every state on any).
                Err(RecvError::Lagged(_)) => String::new(),
                Err(RecvError::Closed) => return,
            },
            // The client sends nothing more: a read that ends means it left.
            r = s.read(&mut scratch) => match r {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            },
            _ = stopping.wait_for(|s| *s) => return,
        };
        let Ok(frame) = daimon_proto::encode(&Response::Event(unit)) else {
            return;
        };
        match tokio::time::timeout(WRITE_TIMEOUT, s.write_all(&frame)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}
