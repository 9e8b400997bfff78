//! The one reaper.
//!
//! Owns child-subreaper registration and the `waitpid(-1, WNOHANG)` loop. The daemon
//! is a child subreaper (prctl(2) `PR_SET_CHILD_SUBREAPER`), so grandchildren that
//! double-fork are re-parented to it; every child that ever exits is reaped here,
//! known or not — no zombies. Nothing else in the daemon may wait for children.

use std::io;

use crate::exit_status::ExitStatus;

/// Makes this process the reaper of its orphaned descendants.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    #[cfg(target_os = "linux")]
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reaps every child that has exited, calling `on_exit` for each, until none is
/// left to reap (ECHILD) or the rest are still running.
pub fn reap_all(mut on_exit: impl FnMut(u32, ExitStatus)) {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `status` is a valid out-pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            if let Some(st) = ExitStatus::from_raw(status) {
                on_exit(pid as u32, st);
            }
            continue;
        }
        if pid < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        // 0: children exist but none has exited; ECHILD: no children at all.
        return;
    }
}
