//! Noticing the end of a process that is not our child.
//!
//! Owns one small task per watched process: a pidfd (pidfd_open(2)) becomes
//! readable when the process exits, and tokio's `AsyncFd` wakes the task then —
//! no polling. Used for services adopted after a daimond restart, which the
//! reaper cannot wait for (their parent is whoever re-parented them). The exit
//! status of such a process cannot be known. The same wake-up serves a new
//! child's exec report (`spawn::ExecReport`), readable once the child has
//! exec'd or failed.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;

use super::spawn::ExecReport;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Calls `on_exit` once the process behind pidfd `fd` has exited (or, for any
/// other descriptor, once it is readable: a child's exec report). Must run
/// inside the daemon's `LocalSet`. Fails if the descriptor cannot join the
/// event loop.
pub fn watch(fd: impl OwnsFd, on_exit: impl FnOnce() + 'static) -> io::Result<()> {
    // SAFETY: an `OwnsFd` keeps its descriptor open, the same one, for as
    // long as it lives, and the `AsyncFd` owns it from here on.
    let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
        .map_err(io::Error::from)?;
    tokio::task::spawn_local(async move {
        // An error here means the event loop is going away; say "exited" then
        // too, so nothing waits for this process forever.
        let _ = fd.readable().await;
        on_exit();
    });
    Ok(())
}

/// A value that owns an open descriptor and keeps it, unchanged, until dropped
/// (what the event loop needs of a descriptor it watches).
pub trait OwnsFd: AsRawFd + 'static {}

impl OwnsFd for OwnedFd {}

/// Shared with the owner, which reads the report when woken: the descriptor
/// stays open while either holds it.
impl OwnsFd for Rc<ExecReport> {}
