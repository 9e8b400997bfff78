//! Signals sent to daimond itself, turned into messages for `main`'s loop.
//!
//! Owns: SIGHUP (re-read unit files, as `systemctl daemon-reload`), SIGTERM and
//! SIGINT (stop every service, then exit 0), SIGUSR2 (hand over: exit 0 leaving
//! every service running for the next daimond, as `KillSignal=` of the unit that
//! `daimon startup` writes, so `systemctl restart daimond` keeps them), and ignoring SIGPIPE (a client that
//! hangs up mid-reply is an error on that write, not the daemon's death).
//! SIGCHLD is not here: the supervisor's reaper owns it.
//!
//! tokio's signal streams run no code in the handler itself beyond a wake-up, so
//! there are no flags or locks touched from signal context.

use std::io;

use tokio::signal::unix::{Signal, SignalKind, signal};

/// What a signal asks of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalRequest {
    /// SIGHUP.
    Reload,
    /// SIGTERM or SIGINT; the name is for the log line.
    Shutdown(&'static str),
    /// SIGUSR2: save the state and exit, services left running.
    HandOver,
}

pub struct Signals {
    hup: Signal,
    term: Signal,
    int: Signal,
    usr2: Signal,
}

impl Signals {
    /// Registers the handlers; must run inside the runtime.
    pub fn new() -> io::Result<Signals> {
        Ok(Signals {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            usr2: signal(SignalKind::user_defined2())?,
        })
    }

    /// The next signal. Never resolves if every stream has closed (they do not).
    pub async fn recv(&mut self) -> SignalRequest {
        loop {
            tokio::select! {
                Some(()) = self.hup.recv() => return SignalRequest::Reload,
                Some(()) = self.term.recv() => return SignalRequest::Shutdown("SIGTERM"),
                Some(()) = self.int.recv() => return SignalRequest::Shutdown("SIGINT"),
                Some(()) = self.usr2.recv() => return SignalRequest::HandOver,
                else => std::future::pending::<()>().await,
            }
        }
    }
}

/// SIGPIPE to "ignore" (std already does this before `main`; stated here so the
/// daemon does not depend on it). The process layer restores the default in each
/// service before exec, as a shell would.
pub fn ignore_sigpipe() {
    // SAFETY: installing SIG_IGN has no preconditions and runs no handler code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}
