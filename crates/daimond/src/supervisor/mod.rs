//! The supervisor: the single owner of all unit state.
//!
//! One task receives every event (child exited, timer elapsed, client request,
//! signal) as a message and applies it to the unit's state machine.

use daimon_proto::{ErrorKind, ErrorReply, Paths, Request, Response};
use tokio::sync::{mpsc, oneshot};

use crate::log_writer::LogSender;

/// What the supervisor is given when the daemon starts.
pub struct SupervisorContext {
    pub paths: Paths,
    pub log: LogSender,
    pub journal: daimon_journal_handle::JournalHandle,
}

/// Placeholder module name so this seam compiles before the journal crate's API
/// lands; replaced by `daimon_journal::Journal`.
pub mod daimon_journal_handle {
    #[derive(Clone)]
    pub struct JournalHandle;
}

enum Command {
    Request(Request, oneshot::Sender<Response>),
    Reload,
    Shutdown(oneshot::Sender<()>),
}

/// Cheap to clone; every client connection and the signal handler hold one.
#[derive(Clone)]
pub struct SupervisorHandle {
    tx: mpsc::Sender<Command>,
}

impl SupervisorHandle {
    /// Any request except `Logs` (served by the IPC layer from the journal). For
    /// `Status`, `recent_logs` and `logs_dropped` are left empty for the caller to fill.
    pub async fn request(&self, req: Request) -> Response {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Request(req, tx)).await.is_err() {
            return unavailable();
        }
        rx.await.unwrap_or_else(|_| unavailable())
    }

    /// SIGHUP: re-read unit files.
    pub async fn reload(&self) {
        let _ = self.tx.send(Command::Reload).await;
    }

    /// SIGTERM/SIGINT/`daimon shutdown`: stop every service in reverse dependency
    /// order, honouring stop timeouts; resolves when all are stopped.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

fn unavailable() -> Response {
    Response::Error(ErrorReply {
        kind: ErrorKind::Unavailable,
        message: "the daemon is shutting down; run the command again".into(),
    })
}

/// Starts the supervisor task on the current runtime. The returned join handle
/// completes after a shutdown has stopped every service.
pub fn spawn(ctx: SupervisorContext) -> (SupervisorHandle, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel(256);
    let task = tokio::task::spawn_local(async move {
        let _ctx = ctx;
        while let Some(cmd) = rx.recv().await {
            match cmd {
                Command::Request(_, reply) => {
                    let _ = reply.send(Response::Error(ErrorReply {
                        kind: ErrorKind::Internal,
                        message: "supervisor not built yet".into(),
                    }));
                }
                Command::Reload => {}
                Command::Shutdown(done) => {
                    let _ = done.send(());
                    break;
                }
            }
        }
    });
    (SupervisorHandle { tx }, task)
}
