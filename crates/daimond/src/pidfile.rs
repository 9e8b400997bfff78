//! The runtime directory and `daimond.pid`: exactly one daemon per home.
//!
//! Owns: creating the runtime directory (0700), taking the PID file's exclusive
//! `flock` for the daemon's whole life, writing it atomically, and removing it on
//! the way out.
//!
//! Why a short lock on the directory as well: replacing a stale file is "check the
//! lock, then rename a new file over it". Two daemons starting at once could both
//! see the old file unlocked and both rename; the directory lock makes that check
//! and replace one step. The PID file's own lock is what everyone else (a second
//! daemon, `flock -n`) sees while the daemon lives; it is taken on the new file
//! before it becomes visible, so there is no moment where the visible file is
//! unlocked while a daemon runs.

use std::fs::{self, DirBuilder, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Creates `dir` (and its parents) and makes sure it is ours and 0700 (or, with
/// `group_may_enter`, 0750 at most). The trust rule (a real directory, ours)
/// is the one the CLI applies before it connects
/// ([`daimon_proto::check_runtime_dir`]); a mode too open on a directory of
/// ours is mended rather than refused.
pub fn ensure_private_dir(dir: &Path, group_may_enter: bool) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    match daimon_proto::check_runtime_dir(dir, &[euid]) {
        Ok(()) | Err(daimon_proto::Untrusted::Writable { .. }) => {}
        Err(e) => return Err(io::Error::other(e.to_string())),
    }
    let meta = fs::symlink_metadata(dir)?;
    // 0700, or 0750 as set up for group `daimon` in system mode.
    let mask = if group_may_enter { 0o727 } else { 0o777 };
    if meta.permissions().mode() & mask != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[derive(Debug)]
pub enum LockError {
    /// Another daemon holds the lock; its PID when the file says so.
    Held(Option<u32>),
    Io(io::Error),
}

impl From<io::Error> for LockError {
    fn from(e: io::Error) -> Self {
        LockError::Io(e)
    }
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held(Some(pid)) => write!(
                f,
                "daimond is already running (pid {pid}); use \"daimon shutdown\" to stop it"
            ),
            LockError::Held(None) => write!(
                f,
                "daimond is already running; use \"daimon shutdown\" to stop it"
            ),
            LockError::Io(e) => write!(f, "daimond: PID file: {e}"),
        }
    }
}

/// The held PID file. Dropping it removes the file (while still locked, so a new
/// daemon's file is never removed) and releases the lock.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    file: Option<File>,
}

enum Flock {
    Taken,
    Held,
}

fn flock(file: &File, op: libc::c_int) -> io::Result<Flock> {
    loop {
        // SAFETY: `file` is an open descriptor for the duration of the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
        if rc == 0 {
            return Ok(Flock::Taken);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(Flock::Held),
            Some(libc::EINTR) => continue,
            _ => return Err(err),
        }
    }
}

/// Longest wait for the lock of a daemon that is already dead.
const DYING_HOLDER_WAIT: Duration = Duration::from_secs(2);

/// Whether a daemon holds `file`'s lock. A SIGKILLed daimond's lock outlives
/// the PID named in the file for a moment: the leader thread shows as a zombie
/// while its other threads still exit (the descriptor table, and with it the
/// lock, goes with the last one), and a child caught between `clone` and
/// `execve` holds copies of every descriptor until its exec closes them. A
/// new daimond that gave up at once there left no daemon at all (and the CLI
/// that started it waiting for a socket nobody would open), so while the
/// named PID is gone the lock is awaited, within a bound.
fn held_by_live_daemon(file: &File) -> io::Result<Flock> {
    let deadline = Instant::now() + DYING_HOLDER_WAIT;
    loop {
        let held = flock(file, libc::LOCK_SH | libc::LOCK_NB)?;
        if matches!(held, Flock::Taken) || Instant::now() >= deadline {
            return Ok(held);
        }
        match read_pid(file) {
            Some(pid) if process_gone(pid) => std::thread::sleep(Duration::from_millis(2)),
            _ => return Ok(held),
        }
    }
}

/// No such process, or only its zombie (state Z or X).
fn process_gone(pid: u32) -> bool {
    crate::process::tree::stat(pid).is_none_or(|s| matches!(s.state, 'Z' | 'X'))
}

fn read_pid(mut file: &File) -> Option<u32> {
    let mut s = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

impl PidFile {
    /// Takes the lock on `path` (in an existing private directory) and writes our PID.
    pub fn acquire(path: &Path) -> Result<PidFile, LockError> {
        let dir = path
            .parent()
            .ok_or_else(|| io::Error::other("PID file path has no directory"))?;
        // Serializes check-and-replace among starting daemons; held only here.
        let dir_lock = File::open(dir)?;
        flock(&dir_lock, libc::LOCK_EX)?;

        match File::open(path) {
            Ok(existing) => {
                if let Flock::Held = held_by_live_daemon(&existing)? {
                    return Err(LockError::Held(read_pid(&existing)));
                }
                // Stale: no daemon holds it. Replaced below.
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }

        let tmp = dir.join(format!(".daimond.pid.{}", std::process::id()));
        let result = (|| -> io::Result<File> {
            let mut f = File::options()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.set_permissions(fs::Permissions::from_mode(0o644))?;
            match flock(&f, libc::LOCK_EX | libc::LOCK_NB)? {
                Flock::Taken => {}
                Flock::Held => return Err(io::Error::other("fresh PID file already locked")),
            }
            writeln!(f, "{}", std::process::id())?;
            f.sync_all()?;
            fs::rename(&tmp, path)?;
            dir_lock.sync_all()?;
            Ok(f)
        })();
        match result {
            Ok(file) => Ok(PidFile {
                path: path.to_path_buf(),
                file: Some(file),
            }),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e.into())
            }
        }
    }
}

impl PidFile {
    /// Leaves the file in place and its lock held by the open descriptor, for
    /// the image this process execs next ([`crate::reexec`]).
    pub fn keep_across_exec(mut self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::IntoRawFd;
        self.file.take().map(File::into_raw_fd)
    }

    /// The PID file whose lock an earlier image of this process held on `fd`.
    pub fn inherited(path: &Path, fd: std::os::fd::RawFd) -> Result<PidFile, LockError> {
        use std::os::fd::FromRawFd;
        // SAFETY: the earlier image handed this descriptor over to us alone
        // (`keep_across_exec`), and nothing else in this process uses it.
        let file = unsafe { File::from_raw_fd(fd) };
        // Still ours: taking the lock again on the same open file succeeds.
        if let Flock::Held = flock(&file, libc::LOCK_EX | libc::LOCK_NB)? {
            return Err(
                io::Error::other("the inherited PID file is locked by another daimond").into(),
            );
        }
        // SAFETY: as in `daemonize`, integer arguments only.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        Ok(PidFile {
            path: path.to_path_buf(),
            file: Some(file),
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Kept across an exec: the file stays, true for the next image.
        if self.file.is_none() {
            return;
        }
        let _ = fs::remove_file(&self.path);
        drop(self.file.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "daimond-pidfile-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&d);
        ensure_private_dir(&d, false).expect("dir");
        d
    }

    #[test]
    fn second_acquire_is_refused_with_the_pid_and_stale_files_are_replaced() {
        let d = tempdir();
        let p = d.join("daimond.pid");
        fs::write(&p, "999999999\n").expect("stale");
        let held = PidFile::acquire(&p).expect("stale file replaced");
        let text = fs::read_to_string(&p).expect("read");
        assert_eq!(text.trim(), std::process::id().to_string());
        match PidFile::acquire(&p) {
            Err(LockError::Held(Some(pid))) => assert_eq!(pid, std::process::id()),
            other => panic!("expected Held, got {other:?}"),
        }
        drop(held);
        assert!(!p.exists());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn the_lock_of_a_dead_daemon_is_awaited_and_a_live_ones_is_not() {
        let d = tempdir();
        let p = d.join("daimond.pid");
        // A PID that is gone: a child already reaped.
        let mut child = std::process::Command::new("true").spawn().expect("true");
        let gone = child.id();
        child.wait().expect("wait");
        fs::write(&p, format!("{gone}\n")).expect("write");
        // Its lock still held by a leftover (here another open file), let go soon.
        let leftover = File::open(&p).expect("open");
        assert!(matches!(
            flock(&leftover, libc::LOCK_EX | libc::LOCK_NB),
            Ok(Flock::Taken)
        ));
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            drop(leftover);
        });
        let held = PidFile::acquire(&p).expect("taken once the leftover let go");
        release.join().expect("thread");
        // A live daemon (this process) is refused at once.
        let t = Instant::now();
        match PidFile::acquire(&p) {
            Err(LockError::Held(Some(pid))) => assert_eq!(pid, std::process::id()),
            other => panic!("expected Held, got {other:?}"),
        }
        assert!(t.elapsed() < DYING_HOLDER_WAIT, "no wait for a live daemon");
        drop(held);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn private_dir_is_0700() {
        let d = tempdir();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).expect("chmod");
        ensure_private_dir(&d, false).expect("fix");
        let mode = fs::metadata(&d).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_linked_or_foreign_runtime_dir_is_refused() {
        let d = tempdir();
        let real = d.join("real");
        ensure_private_dir(&real, false).expect("real");
        let link = d.join("link");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let e = ensure_private_dir(&link, false).expect_err("a link is refused");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let foreign = d.join("foreign");
            fs::create_dir(&foreign).expect("mkdir");
            std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).expect("chown");
            let e = ensure_private_dir(&foreign, false).expect_err("not ours");
            assert!(e.to_string().contains("belongs to uid 65534"), "{e}");
        }
        let _ = fs::remove_dir_all(&d);
    }
}
