//! Keeping the fd holder (`daimond-fdstore`) alive.
//!
//! Owns noticing the holder's death (a pidfd, pidfd_open(2): it may not be our
//! child when an earlier daimond started it) and starting a new one at once,
//! handed every pipe again under the same ids. Without this, a holder killed
//! (`kill -9`, a `pkill daimond` that hits both) was never replaced, and the
//! next death of daimond killed every service that writes output (SIGPIPE).

use super::owner::Owner;
use super::watched::Watched;
use crate::process::pidwatch;
use crate::process::signal::pidfd_open;

impl Owner {
    /// Watches the current holder, if there is one.
    pub fn watch_store(&mut self) {
        let Some(pid) = self.fdstore().borrow().pid() else {
            return;
        };
        let Some(tx) = self.watcher() else {
            return;
        };
        let Some(fd) = pidfd_open(pid) else {
            tracing::warn!(
                "cannot watch the fd holder (PID {pid}, no pidfd); if it dies, it is not replaced"
            );
            return;
        };
        if let Err(e) = pidwatch::watch(fd, move || {
            let _ = tx.send(Watched::Store { pid });
        }) {
            tracing::warn!("cannot watch the fd holder (PID {pid}): {e}");
        }
    }

    /// The holder `pid` ended: start another and hand it every pipe.
    pub fn on_store_died(&mut self, pid: u32) {
        // `last_pid`: a send to the dead store may have dropped the connection already.
        if self.fdstore().borrow().last_pid() != Some(pid) || self.shutting_down {
            return;
        }
        let restarted = self.fdstore().borrow_mut().restart();
        match restarted {
            Ok(new) => {
                let n = self.fdstore().borrow().pipes();
                tracing::warn!(
                    "the fd holder daimond-fdstore (PID {pid}) died; started a new one (PID {new}) and handed it {n} pipe(s)"
                );
                self.watch_store();
            }
            Err(e) => tracing::error!(
                "the fd holder daimond-fdstore (PID {pid}) died and no new one starts ({e}): if daimond dies now, services that write output get SIGPIPE"
            ),
        }
    }
}
