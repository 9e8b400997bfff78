//! Becoming a daemon: the classic double fork, and the readiness pipe back to
//! whoever started us.
//!
//! Owns: closing inherited descriptors, fork/setsid/fork, `chdir("/")`, the umask,
//! the standard streams on `/dev/null`, and telling the original process whether
//! start-up succeeded. It must run before any thread or runtime exists: `fork` only
//! copies the calling thread.
//!
//! Why a readiness pipe: the original process stays until the daemon has bound its
//! socket (or failed), then exits 0 (or 1 with the daemon's error on its stderr). A
//! caller that waits for it — the CLI's auto-start, a `Type=forking` unit — knows
//! the daemon answers as soon as it returns, and sees start-up errors that the
//! daemon itself could only write to `/dev/null`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::stat::{Mode, umask};
use nix::unistd::{ForkResult, chdir, dup2_stderr, dup2_stdin, dup2_stdout, fork, pipe2, setsid};

/// Closes every descriptor above 2 that this process inherited, so that nothing
/// its parent leaked (a terminal, a socket) reaches the services it starts.
pub fn close_inherited_fds(keep: Option<i32>) {
    let ranges = match keep.and_then(|k| u32::try_from(k).ok()).filter(|k| *k > 2) {
        Some(k) => vec![(3u32, k - 1), (k + 1, u32::MAX)],
        None => vec![(3u32, u32::MAX)],
    };
    // SAFETY: close_range only closes descriptors; nothing in this process uses
    // any of them yet (no thread, no runtime, std opens nothing before main).
    let rc = ranges
        .iter()
        .filter(|(a, b)| a <= b)
        .map(|(a, b)| unsafe { libc::syscall(libc::SYS_close_range, *a, *b, 0u32) })
        .fold(0, |acc, r| if r != 0 { r } else { acc });
    if rc == 0 {
        return;
    }
    // Older kernels: walk /proc/self/fd. Collect first: closing while iterating
    // would close the directory's own descriptor under us.
    let fds: Vec<i32> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
            .filter(|fd| *fd > 2 && Some(*fd) != keep)
            .collect(),
        Err(_) => (3..1024).filter(|fd| Some(*fd) != keep).collect(),
    };
    for fd in fds {
        // SAFETY: as above; EBADF for the read_dir descriptor (already closed) is harmless.
        unsafe {
            libc::close(fd);
        }
    }
}

/// What `daemonize` returns in each process that comes back from it.
pub enum Daemonized {
    /// The original process: exit with this code (the daemon's start-up outcome).
    Parent(u8),
    /// The daemon itself.
    Daemon(Ready),
}

/// The daemon's end of the readiness pipe. Dropping it without calling `ok` tells
/// the original process that start-up failed.
pub struct Ready {
    pipe: Option<File>,
}

impl Ready {
    /// For `--foreground`: nobody waits.
    pub fn none() -> Ready {
        Ready { pipe: None }
    }

    /// Start-up succeeded: the socket answers.
    pub fn ok(&mut self) {
        if let Some(mut p) = self.pipe.take() {
            let _ = p.write_all(b"0");
        }
    }

    /// Start-up failed; `message` (one complete line) is printed by the original
    /// process. In foreground mode it goes to our own stderr instead.
    pub fn fail(&mut self, message: &str) {
        match self.pipe.take() {
            Some(mut p) => {
                let _ = p.write_all(format!("1{message}").as_bytes());
            }
            None => eprintln!("{message}"),
        }
    }
}

/// Performs the ritual. Must be called while the process has a single thread.
pub fn daemonize() -> io::Result<Daemonized> {
    let (read_end, write_end) = pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    // SAFETY: the process is single-threaded here (called first thing in main,
    // before any runtime or thread exists), so the child may run arbitrary code.
    match unsafe { fork() }.map_err(io::Error::from)? {
        ForkResult::Parent { child } => {
            drop(write_end);
            let code = wait_for_ready(read_end);
            // Reap the intermediate child, which exits right after its own fork.
            let _ = nix::sys::wait::waitpid(child, None);
            Ok(Daemonized::Parent(code))
        }
        ForkResult::Child => {
            drop(read_end);
            // A new session without a controlling terminal: a logout's SIGHUP to the
            // old session can no longer reach us.
            if setsid().is_err() {
                // SAFETY: _exit is always safe; we must not run the parent's atexit
                // handlers or flush its stdio buffers twice.
                unsafe { libc::_exit(1) };
            }
            // SAFETY: still single-threaded.
            match unsafe { fork() } {
                Ok(ForkResult::Parent { .. }) => {
                    // SAFETY: as above; the session leader leaves so that the daemon
                    // can never acquire a controlling terminal again.
                    unsafe { libc::_exit(0) }
                }
                Ok(ForkResult::Child) => {}
                Err(_) => {
                    // SAFETY: as above.
                    unsafe { libc::_exit(1) }
                }
            }
            // Do not keep any mount point busy, and create files with known modes.
            chdir("/").map_err(io::Error::from)?;
            umask(Mode::from_bits_truncate(0o022));
            redirect_std_streams()?;
            Ok(Daemonized::Daemon(Ready {
                pipe: Some(File::from(write_end)),
            }))
        }
    }
}

fn redirect_std_streams() -> io::Result<()> {
    let null = File::options().read(true).write(true).open("/dev/null")?;
    let fd: OwnedFd = null.into();
    dup2_stdin(&fd).map_err(io::Error::from)?;
    dup2_stdout(&fd).map_err(io::Error::from)?;
    dup2_stderr(&fd).map_err(io::Error::from)?;
    debug_assert!(fd.as_raw_fd() > 2);
    Ok(())
}

/// The original process: wait for the daemon's verdict and relay it.
fn wait_for_ready(read_end: OwnedFd) -> u8 {
    let mut text = String::new();
    let mut f = File::from(read_end);
    if f.read_to_string(&mut text).is_err() {
        eprintln!("daimond: could not read the daemon's start-up status");
        return 1;
    }
    match text.split_at_checked(1) {
        Some(("0", _)) => 0,
        Some(("1", msg)) => {
            eprintln!("{msg}");
            1
        }
        _ => {
            eprintln!("daimond: the daemon exited during start-up");
            1
        }
    }
}
