//! Signals that never reach a recycled PID.
//!
//! Owns [`ProcHandle`]: a PID plus, where the kernel has them, a pidfd
//! (pidfd_open(2)) opened while the process is known to be ours. Signals go through
//! pidfd_send_signal(2); on kernels without it (ENOSYS) they fall back to kill(2).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

#[derive(Debug)]
pub struct ProcHandle {
    pub pid: u32,
    pidfd: Option<OwnedFd>,
}

impl ProcHandle {
    /// Opens a pidfd for `pid`. Call it while the process cannot have been reaped
    /// yet (our own child before the reaper saw it exit), so it names this process.
    pub fn open(pid: u32) -> ProcHandle {
        ProcHandle {
            pid,
            pidfd: pidfd_open(pid),
        }
    }

    /// Sends `sig`. `Ok(false)` when the process is already gone.
    pub fn signal(&self, sig: i32) -> io::Result<bool> {
        if let Some(fd) = &self.pidfd {
            // SAFETY: a valid pidfd, a null siginfo and flags 0.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    sig,
                    std::ptr::null::<libc::siginfo_t>(),
                    0u32,
                )
            };
            if r == 0 {
                return Ok(true);
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ESRCH) => return Ok(false),
                Some(libc::ENOSYS) => {}
                _ => return Err(e),
            }
        }
        kill(self.pid, sig)
    }
}

/// kill(2) by PID, for processes found by scanning /proc (their identity was just
/// checked); `Ok(false)` when gone.
pub fn kill(pid: u32, sig: i32) -> io::Result<bool> {
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return Ok(false);
    };
    if p <= 0 {
        return Ok(false);
    }
    // SAFETY: kill(2) has no memory-safety preconditions; p > 0 names one process.
    if unsafe { libc::kill(p, sig) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ESRCH) {
        Ok(false)
    } else {
        Err(e)
    }
}

fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: pidfd_open(pid, 0) returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0u32) };
        if fd >= 0 {
            // SAFETY: the kernel just returned this descriptor to us; pidfds are
            // close-on-exec by default.
            return Some(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
    }
    let _ = pid;
    None
}
