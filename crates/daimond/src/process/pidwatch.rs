//! Noticing the end of a process that is not our child.
//!
//! Owns one small task per watched process: a pidfd (pidfd_open(2)) becomes
//! readable when the process exits, and tokio's `AsyncFd` wakes the task then —
//! no polling. Used for services adopted after a daimond restart, which the
//! reaper cannot wait for (their parent is whoever re-parented them). The exit
//! status of such a process cannot be known.

use std::io;
use std::os::fd::OwnedFd;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Calls `on_exit` once the process behind `pidfd` has exited. Must run inside
/// the daemon's `LocalSet`. Fails if the pidfd cannot join the event loop.
pub fn watch(pidfd: OwnedFd, on_exit: impl FnOnce() + 'static) -> io::Result<()> {
    // SAFETY: an `OwnedFd` is an open descriptor that only the `AsyncFd` owns
    // from here on; it returns the same descriptor until dropped.
    let fd = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) }
        .map_err(io::Error::from)?;
    tokio::task::spawn_local(async move {
        // An error here means the event loop is going away; say "exited" then
        // too, so nothing waits for this process forever.
        let _ = fd.readable().await;
        on_exit();
    });
    Ok(())
}
