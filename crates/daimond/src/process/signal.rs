//! Signals that never reach a recycled PID.
//!
//! Owns [`ProcHandle`] (a child of ours not reaped yet, or an adopted process) and [`signal_verified`]
//! (any process found in /proc, identified by PID and start time). Signals go
//! through a pidfd (pidfd_open(2), pidfd_send_signal(2)) opened while the process
//! is known to be the right one; on kernels without pidfds (ENOSYS) they fall back
//! to kill(2). No pidfd is kept open: a thousand services must not cost a thousand
//! descriptors that every spawn would copy.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A process of ours that the reaper has not reaped yet. Its PID cannot be
/// recycled before we reap it, so it names this process for as long as the
/// handle lives (the owner drops it when the reaper reports the exit).
#[derive(Debug)]
pub struct ProcHandle {
    pub pid: u32,
    /// Set for a process adopted after a daimond restart: not our child, so its
    /// PID may be recycled once it exits; every signal checks the start time.
    adopted_start: Option<u64>,
}

impl ProcHandle {
    pub fn new(pid: u32) -> ProcHandle {
        ProcHandle {
            pid,
            adopted_start: None,
        }
    }

    /// A process that is not our child, identified by PID and start time.
    pub fn adopted(pid: u32, start_time: u64) -> ProcHandle {
        ProcHandle {
            pid,
            adopted_start: Some(start_time),
        }
    }

    /// Sends `sig`. `Ok(false)` when the process is already gone.
    pub fn signal(&self, sig: i32) -> io::Result<bool> {
        if let Some(t) = self.adopted_start {
            return signal_verified(self.pid, t, sig);
        }
        match pidfd_open(self.pid) {
            Some(fd) => send_pidfd(&fd, self.pid, sig),
            None => kill(self.pid, sig),
        }
    }
}

/// Signals a process found in /proc that is not our child: the pidfd is opened
/// first, then the start time is checked, so a PID recycled since the scan is
/// never hit. `Ok(false)` when it is gone (or is another process now).
pub fn signal_verified(pid: u32, start_time: u64, sig: i32) -> io::Result<bool> {
    let fd = pidfd_open(pid);
    if super::tree::stat(pid).map(|s| s.start_time) != Some(start_time) {
        return Ok(false);
    }
    match fd {
        Some(fd) => send_pidfd(&fd, pid, sig),
        None => kill(pid, sig),
    }
}

fn send_pidfd(fd: &OwnedFd, pid: u32, sig: i32) -> io::Result<bool> {
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
        Some(libc::ESRCH) => Ok(false),
        Some(libc::ENOSYS) => kill(pid, sig),
        _ => Err(e),
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

/// A pidfd for `pid` (close-on-exec); `None` if it is gone or the kernel has none.
pub fn pidfd_open(pid: u32) -> Option<OwnedFd> {
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
