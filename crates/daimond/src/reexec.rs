//! `daimon daemon-reexec`: daimond replaces itself with the binary now on disk.
//!
//! Owns the exec and what crosses it. The old image hands over first (its
//! state saved, every service and the fd holder left running, as on SIGUSR2),
//! then executes the file on disk in the same PID, so the PID file stays true
//! and services stay its children. Its lock on the PID file crosses the exec
//! (the descriptor's close-on-exec flag cleared, its number in
//! `DAIMOND_REEXEC_PIDFILE_FD`): no other daimond can start in between. The new
//! image re-adopts everything as after a crash, with the same PIDs, pipes,
//! timers, restart counters and invocation ids.

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

const ENV: &str = "DAIMOND_REEXEC_PIDFILE_FD";

/// The file daimond was started from, as it is now on disk: after an upgrade
/// replaced it, /proc/self/exe names the old, deleted file as "PATH (deleted)".
fn binary_on_disk() -> io::Result<PathBuf> {
    let exe = std::fs::read_link("/proc/self/exe")?;
    let s = exe.as_os_str().as_bytes();
    let s = s.strip_suffix(b" (deleted)").unwrap_or(s);
    Ok(PathBuf::from(std::ffi::OsStr::from_bytes(s)))
}

/// Executes the binary on disk as `daimond --foreground` (the process is a
/// daemon already: no second daemonization, which would change its PID),
/// keeping `pid_fd` open. Returns only on failure.
pub fn exec(pid_fd: RawFd) -> io::Error {
    let bin = match binary_on_disk() {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Ok(path) = CString::new(bin.as_os_str().as_bytes()) else {
        return io::Error::other("the binary's path holds a NUL byte");
    };
    // SAFETY: fcntl on a descriptor this process owns, integer arguments only.
    if unsafe { libc::fcntl(pid_fd, libc::F_SETFD, 0) } < 0 {
        return io::Error::last_os_error();
    }
    // SAFETY: every thread that could read the environment has ended (the
    // runtime is shut down and the log writer joined) before the exec.
    unsafe { std::env::set_var(ENV, pid_fd.to_string()) };
    let argv = [c"daimond".to_owned(), c"--foreground".to_owned()];
    match nix::unistd::execv(&path, &argv) {
        Err(e) => io::Error::other(format!("cannot execute {}: {e}", bin.display())),
        Ok(never) => match never {},
    }
}

/// The PID file descriptor an earlier image of this process handed over, if
/// this start is a re-exec. Call first thing in `main` (single thread).
pub fn inherited_pid_fd() -> Option<RawFd> {
    let fd = std::env::var(ENV).ok()?.parse().ok()?;
    // SAFETY: called while the process has a single thread.
    unsafe { std::env::remove_var(ENV) };
    Some(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binary_on_disk_is_this_one() {
        let on_disk = binary_on_disk().expect("the binary");
        assert_eq!(on_disk, std::env::current_exe().expect("current exe"));
    }
}
