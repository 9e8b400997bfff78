//! Socket units (systemd.socket(5), `Accept=no`): daimond binds, watches, and
//! hands the descriptors to the service with systemd's protocol
//! (sd_listen_fds(3): fds from 3, `LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`).
//!
//! [`machine`] is the pure lifecycle, [`bind`] opens the listeners, and
//! [`SocketRun`] is one started socket as the owner keeps it: its descriptors
//! and the watch on them. The owner's glue (jobs, activation, status) lives in
//! `supervisor::sockets`. Watching never reads or accepts: a task per
//! descriptor waits for readiness (tokio's `AsyncFd` on a copy of it) and
//! tells the owner, which then starts the service and drops the watch, since
//! the queue is the service's to read from then on.

pub mod bind;
pub mod machine;
pub mod recover;

use std::os::fd::OwnedFd;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

use machine::SocketMachine;

/// A watched descriptor became readable: (socket unit, watch generation).
pub type Ready = (String, u64);

/// One socket unit the owner knows in a state other than dead.
#[derive(Debug, Default)]
pub struct SocketRun {
    pub machine: SocketMachine,
    /// Open listeners in `Listen*=` order.
    pub fds: Vec<bind::Opened>,
    /// Counts watches, so readiness reported by a dropped watch is ignored.
    pub generation: u64,
    watches: Vec<tokio::task::AbortHandle>,
    pub since: Option<jiff::Timestamp>,
    /// Why it failed, for `status`.
    pub error: Option<String>,
}

impl SocketRun {
    /// Watches every descriptor; the first readable one reports to `tx`.
    pub fn watch(&mut self, name: &str, tx: &mpsc::UnboundedSender<Ready>) -> Result<(), String> {
        self.unwatch();
        self.generation += 1;
        for o in &self.fds {
            let copy: OwnedFd =
                o.fd.try_clone()
                    .map_err(|e| format!("cannot watch {}: {e}", o.what))?;
            // SAFETY: the `OwnedFd` is moved into the `AsyncFd` and always
            // names the same open descriptor until the `AsyncFd` drops it.
            let afd = unsafe { AsyncFd::register_with_interest(copy, Interest::READABLE) }
                .map_err(|e| format!("cannot watch {}: {}", o.what, e))?;
            let tx = tx.clone();
            let msg = (name.to_string(), self.generation);
            let task = tokio::task::spawn_local(async move {
                // Registration reports a queue that is already there, so a
                // connection made while the service ran is not missed.
                if afd.readable().await.is_ok() {
                    let _ = tx.send(msg);
                }
            });
            self.watches.push(task.abort_handle());
        }
        Ok(())
    }

    pub fn unwatch(&mut self) {
        for w in self.watches.drain(..) {
            w.abort();
        }
    }

    pub fn close(&mut self) {
        self.unwatch();
        self.fds.clear();
    }
}

impl Drop for SocketRun {
    fn drop(&mut self) {
        self.unwatch();
    }
}

/// The owner's socket units: every one not dead, and where watches report.
#[derive(Default)]
pub struct Sockets {
    pub(super) runs: std::collections::BTreeMap<String, SocketRun>,
    pub(super) ready_tx: Option<mpsc::UnboundedSender<Ready>>,
    /// `Accept=yes` connections by service instance.
    pub(super) accepted: std::collections::BTreeMap<String, Accepted>,
    /// Numbers the instances (the `N` of `NAME@N-....service`).
    pub(super) next_connection: u64,
    /// The set of started sockets changed: saved once per loop turn.
    pub(super) changed: bool,
}

/// A connection accepted for an `Accept=yes` socket, held until its service
/// instance is inactive again.
#[derive(Debug)]
pub struct Accepted {
    /// The socket unit it came from (counts toward its `MaxConnections=`).
    pub socket: String,
    pub fd: OwnedFd,
    /// `REMOTE_ADDR`, `REMOTE_PORT` for IP connections (systemd.socket(5)).
    pub remote: Option<std::net::SocketAddr>,
}
