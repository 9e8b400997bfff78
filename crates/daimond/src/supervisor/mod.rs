//! The supervisor: the single owner of all unit state.
//!
//! One task ([`owner`]) receives every event — a child exited, an exec status, a
//! timer elapsed, a client request, a signal — and applies it to the unit's state
//! machine ([`machine`], pure and table-tested). Side effects go to the process
//! layer ([`crate::process`]). This module is the seam the daemon's plumbing codes
//! against: [`SupervisorContext`], [`spawn`] and [`SupervisorHandle`].

mod boot;
pub mod cgroup;
mod cgroups;
pub mod deps;
mod event_loop;
pub mod events;
pub mod exec;
pub mod jobs;
pub mod machine;
pub mod notify;
mod notify_name;
pub mod owner;
pub mod path;
mod paths;
pub mod policy;
pub mod registry;
pub mod socket;
mod socket_accept;
mod sockets;
pub mod stamps;
pub mod status;
mod store_watch;
pub mod timer;
pub mod timers;
pub mod transaction;
pub mod watch;
mod watched;
mod watches;

use daimon_proto::{ErrorKind, ErrorReply, Paths, Request, Response};
use tokio::sync::{mpsc, oneshot};

use crate::log_writer::LogSender;

/// What the supervisor is given when the daemon starts.
pub struct SupervisorContext {
    pub paths: Paths,
    pub log: LogSender,
    /// The log store, for reading (the writer belongs to the log writer thread).
    #[allow(dead_code)] // Kept for unit state that will come from the store.
    pub journal: daimon_journal::Journal,
    /// The descriptor limits daimond started with, which services inherit.
    pub nofile: crate::fd_limits::OriginalNofile,
}

impl SupervisorContext {
    pub fn new(
        paths: Paths,
        log: LogSender,
        journal: daimon_journal::Journal,
        nofile: crate::fd_limits::OriginalNofile,
    ) -> SupervisorContext {
        SupervisorContext {
            paths,
            log,
            journal,
            nofile,
        }
    }
}

pub enum Command {
    // Boxed: a request is far larger than the other commands.
    Request(Box<Request>, oneshot::Sender<Response>),
    Reload,
    Shutdown(oneshot::Sender<()>),
    /// Save the state and stop supervising, leaving every service, pipe and the
    /// fd store running for the next daimond (handled by the event loop).
    HandOver(oneshot::Sender<()>),
}

/// Cheap to clone; every client connection and the signal handler hold one.
#[derive(Clone)]
pub struct SupervisorHandle {
    tx: mpsc::Sender<Command>,
    events: events::Events,
    /// Service terminals, which `attach` connects to without the owner.
    pub consoles: crate::console::Consoles,
}

impl SupervisorHandle {
    /// Any request except `Logs` (served by the IPC layer from the journal). For
    /// `Status`, `recent_logs` and `logs_dropped` are left empty for the caller to fill.
    pub async fn request(&self, req: Request) -> Response {
        let (tx, rx) = oneshot::channel();
        if self
            .tx
            .send(Command::Request(Box::new(req), tx))
            .await
            .is_err()
        {
            return unavailable();
        }
        rx.await.unwrap_or_else(|_| unavailable())
    }

    /// Unit state changes from now on (see `events`).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<events::UnitEvent> {
        self.events.subscribe()
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

impl SupervisorHandle {
    /// Hand over (SIGUSR2): resolves once the state is saved and the supervisor
    /// has let go of its services without stopping any.
    pub async fn hand_over(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::HandOver(tx)).await.is_ok() {
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

/// Starts the supervisor task on the current runtime (inside a `LocalSet`). The
/// returned join handle completes after a shutdown has stopped every service.
pub fn spawn(ctx: SupervisorContext) -> (SupervisorHandle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(256);
    let owner = owner::Owner::new(ctx.paths, ctx.log, ctx.nofile);
    let events = owner.events.clone();
    let consoles = owner.consoles.clone();
    let task = tokio::task::spawn_local(event_loop::run(owner, rx));
    (
        SupervisorHandle {
            tx,
            events,
            consoles,
        },
        task,
    )
}
