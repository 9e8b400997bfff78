//! fork/exec in one place: the parent's side.
//!
//! Owns the only process creation of the daemon. Everything the child needs (argv,
//! envp, paths, limits, credentials) is prepared as C data by [`SpawnSpec`] before
//! the child exists. The child is created with `clone(CLONE_VM)` on a stack of
//! its own (`child_stack`), like glibc's `posix_spawn`, so daimond's memory is
//! neither copied nor write-protected (no page-table copy, no copy-on-write
//! faults per spawn); what the child does until execve() is `spawn_child`.
//!
//! Unlike `posix_spawn`, daimond does not wait for the child's execve()
//! (CLONE_VFORK): [`spawn`] returns at once and the outcome comes later, on an
//! exec-report pipe ([`ExecReport`]). Waiting cost more than the exec itself:
//! woken by the kernel in the middle of the child's execve(), daimond took the
//! CPU from it to finish its own turn (traces showed a restarted service
//! waiting 400 us for it), and a start of 100 services spent a third of its
//! time in those waits while the other CPU idled. The child's record and stack
//! stay reserved until the kernel says the child has left daimond's memory
//! (CLONE_CHILD_CLEARTID). Where the child's system calls would write
//! daimond's `errno`, daimond does wait ([`ExecWait`], `spawn_child::errno_free`).

use std::cell::UnsafeCell;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicI32;
use std::time::{Duration, Instant};

use super::child_stack;
use super::spawn_child::{Launch, child_entry, errno_free};
use crate::exit_status::code;

/// Where one of the child's standard streams goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stdio {
    /// `/dev/null`.
    Null,
    /// The daemon's own descriptor (a terminal under `--foreground`, else `/dev/null`).
    Inherit,
    /// A pipe whose read end the daemon keeps (the journal).
    Pipe,
    /// `file:`, `append:`, `truncate:` — opened by the child with these `open` flags.
    File { path: CString, flags: libc::c_int },
    /// A descriptor of the daemon, handed over as is (the fd store's listening
    /// socket); the child gets its own copy at the clone.
    Fd(RawFd),
    /// The slave of a pseudo-terminal made for this child (one per spawn,
    /// shared by every stream that says `Pty`); the daemon keeps the master
    /// ([`Spawned::pty`]). As stdin, it also becomes the child's controlling
    /// terminal (`StandardInput=tty`).
    Pty,
}

impl Stdio {
    fn is_pipe(&self) -> bool {
        matches!(self, Stdio::Pipe)
    }
}

/// Supplementary groups, gid and uid to switch to (root only).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    pub groups: Vec<libc::gid_t>,
}

/// An `envp` entry exactly this (`VAR=` with no value) is completed in the child
/// with the child's own PID: `WATCHDOG_PID` names the main process
/// (sd_watchdog_enabled(3)), whose PID exists only after the clone.
pub const CHILD_PID_VAR: &str = "WATCHDOG_PID=";

/// Like [`CHILD_PID_VAR`], for socket activation: `LISTEN_PID` names the
/// process the passed descriptors are for (sd_listen_fds(3)), so it is
/// written after the clone, never inherited by a fork in between.
pub const LISTEN_PID_VAR: &str = "LISTEN_PID=";

/// The `envp` entries the child completes with its PID, in `Launch::pid_vars` order.
pub const CHILD_PID_VARS: [&str; 2] = [CHILD_PID_VAR, LISTEN_PID_VAR];

/// One resource limit: which, soft, hard.
pub type Rlimit = (rustix::process::Resource, libc::rlim_t, libc::rlim_t);

/// Everything the child does, prepared before the fork.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    /// Path handed to `execve` (already resolved against `PATH`).
    pub program: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    /// `WorkingDirectory=`; the flag is the `-` prefix (ignore a missing directory).
    pub workdir: Option<(CString, bool)>,
    pub umask: libc::mode_t,
    pub nice: Option<libc::c_int>,
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
    pub credentials: Option<Credentials>,
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
    /// Descriptors of the daemon the child gets as 3, 4, ... in this order
    /// (sd_listen_fds(3): `SD_LISTEN_FDS_START` is 3), without close-on-exec.
    pub pass_fds: Vec<RawFd>,
    /// `cgroup.procs` files the child writes itself to before anything else
    /// (its unit's cgroups: no code of the service runs outside its limits).
    pub join_cgroups: Vec<CString>,
}

/// A started child and the parent's ends of its pipes.
#[derive(Debug)]
pub struct Spawned {
    pub pid: u32,
    /// Whether the child reached its program: read it when it becomes
    /// readable, or at the latest once the child has been reaped.
    pub exec: ExecReport,
    /// The child's start time as /proc/PID/stat gives it (field 22, clock
    /// ticks since boot), when the clock showed that it is known exactly (see
    /// [`start_time_between`]); `None` otherwise.
    pub start_time: Option<u64>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    /// The pty master, when a stream is [`Stdio::Pty`].
    pub pty: Option<OwnedFd>,
}

/// Why the child did not reach `execve` (or `execve` failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecFailure {
    /// systemd exit code of the failing step (203 = EXEC, 200 = CHDIR, ...).
    pub code: i32,
    pub errno: i32,
}

impl ExecFailure {
    /// One clear line, e.g. `/usr/bin/foo: No such file or directory (203/EXEC)`.
    pub fn describe(&self, program: &str, workdir: Option<&str>) -> String {
        let err = io::Error::from_raw_os_error(self.errno);
        let err = strip_os_error(&err);
        let name = crate::exit_status::exit_code_name(self.code).unwrap_or("?");
        let what = match self.code {
            code::EXEC => format!("{program}: {err}"),
            code::CHDIR => format!(
                "changing to the working directory {} failed: {err}",
                workdir.unwrap_or("?")
            ),
            code::STDOUT | code::STDERR => format!("opening the output file failed: {err}"),
            code::USER | code::GROUP => format!("switching user/group failed: {err}"),
            code::LIMITS => format!("setting resource limits failed: {err}"),
            code::NICE => format!("setting the nice level failed: {err}"),
            _ => format!("preparing {program} failed: {err}"),
        };
        format!("{what} ({}/{name})", self.code)
    }
}

/// `io::Error`'s text without the trailing ` (os error N)`.
pub fn strip_os_error(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    pipe_with(libc::O_CLOEXEC)
}

pub(crate) fn pipe_with(flags: libc::c_int) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Whether daimond's thread waits for the child's execve().
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecWait {
    /// It goes on at once (the module comment says why). Only where the
    /// child's system calls leave daimond's `errno` alone.
    No,
    /// CLONE_VFORK: suspended until the child has exec'd or exited.
    Vfork,
}

/// Creates the child and runs `spec` in it. Returns once the child exists;
/// [`Spawned::exec`] tells later whether it reached its program.
pub fn spawn(spec: SpawnSpec) -> io::Result<Spawned> {
    let wait = if errno_free() {
        ExecWait::No
    } else {
        ExecWait::Vfork
    };
    spawn_with(spec, wait)
}

/// [`spawn`] with the way of waiting given (the tests run both).
fn spawn_with(spec: SpawnSpec, wait: ExecWait) -> io::Result<Spawned> {
    let out = match spec.stdout.is_pipe() {
        true => Some(pipe_cloexec()?),
        false => None,
    };
    let err = match spec.stderr.is_pipe() {
        true => Some(pipe_cloexec()?),
        false => None,
    };
    let pty = match [&spec.stdin, &spec.stdout, &spec.stderr].contains(&&Stdio::Pty) {
        true => Some(super::pty::open()?),
        false => None,
    };
    // Non-blocking: daimond reads it when it is readable, never waits on it.
    let (report_r, report_w) = pipe_with(libc::O_CLOEXEC | libc::O_NONBLOCK)?;
    // Passed descriptors become 3..3+n in the child: every descriptor the
    // child still needs after placing them (the exec report, their sources)
    // is first raised above that range, so no placement closes another.
    let floor = 3 + spec.pass_fds.len() as RawFd;
    let report_w = raise_above(report_w, floor)?;
    let raised: Vec<OwnedFd> = spec
        .pass_fds
        .iter()
        .map(|&fd| dup_above(fd, floor))
        .collect::<io::Result<_>>()?;
    // Everything the child touches is built here, before the clone, in a box
    // that stays where it is until the child is done with it.
    let mut launch = Box::new(Launch {
        tid: AtomicI32::new(1),
        argv: Vec::new(),
        envp: Vec::new(),
        pid_vars: [UnsafeCell::new([0u8; 40]), UnsafeCell::new([0u8; 40])],
        has_pid_var: [false; 2],
        pass: raised.iter().map(|f| f.as_raw_fd()).collect(),
        out_w: out.as_ref().map(|(_, w)| w.as_raw_fd()),
        err_w: err.as_ref().map(|(_, w)| w.as_raw_fd()),
        pty_slave: pty.as_ref().map(|p| p.slave.as_raw_fd()),
        report_w: report_w.as_raw_fd(),
        spec,
    });
    let l = &mut *launch;
    l.argv = l.spec.argv.iter().map(|a| a.as_ptr()).collect();
    l.argv.push(std::ptr::null());
    l.envp = l.spec.envp.iter().map(|e| e.as_ptr()).collect();
    l.envp.push(std::ptr::null());
    for (k, var) in CHILD_PID_VARS.iter().enumerate() {
        // Room for the name, 20 digits and the NUL, written by the child.
        l.pid_vars[k].get_mut()[..var.len()].copy_from_slice(var.as_bytes());
        let slot = l
            .spec
            .envp
            .iter()
            .position(|e| e.as_bytes() == var.as_bytes());
        if let Some(i) = slot {
            l.envp[i] = l.pid_vars[k].get().cast_const().cast();
            l.has_pid_var[k] = true;
        }
    }
    // No daemon descriptor leaks into the service: every one is close-on-exec
    // already; this covers any that is not. The passed ones are the child's
    // own copies, placed at 3, 4, ... without the flag.
    cloexec_from(3);
    let stack = child_stack::take()?;

    // No signal handler of the daemon may run in the child (it shares our memory):
    // block everything around the clone; the child resets dispositions, then
    // unblocks.
    // SAFETY: valid sigset pointers.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    let wait = match wait {
        ExecWait::No => 0,
        ExecWait::Vfork => libc::CLONE_VFORK,
    };
    let launch_ptr: *mut Launch = &mut *launch;
    let before = boottime_ns();
    // SAFETY: `child_entry` reads the boxed `Launch` and writes its `pid_var`;
    // the box and the stack are kept (`keep_until_exec`) until the kernel
    // clears `tid`, after the child's last use of either.
    let pid = unsafe {
        libc::clone(
            child_entry,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_CHILD_CLEARTID | wait | libc::SIGCHLD,
            launch_ptr.cast(),
            std::ptr::null_mut::<libc::pid_t>(),
            std::ptr::null_mut::<libc::c_void>(),
            launch.tid.as_ptr(),
        )
    };
    let clone_err = io::Error::last_os_error();
    let start_time = start_time_between(before, boottime_ns());
    // SAFETY: restoring the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    if pid < 0 {
        child_stack::give_back(stack);
        return Err(clone_err);
    }
    child_stack::keep_until_exec(launch, stack);
    // Our copies of the write ends close here (the child has its own), before
    // any other child is cloned with a copy of them.
    drop(report_w);
    drop(raised);
    Ok(Spawned {
        pid: pid as u32,
        exec: ExecReport(report_r),
        start_time,
        stdout: out.map(|(r, _)| r),
        stderr: err.map(|(r, _)| r),
        // Our copy of the slave closes here (the child has its own): the
        // master then reads EIO once the service's last copy is closed.
        pty: pty.map(|p| p.master),
    })
}

/// Marks every descriptor of daimond numbered `first` or above close-on-exec.
///
/// Here, in daimond, rather than in the child: rustix has no close_range, and
/// a libc call in the child could write daimond's `errno` (`spawn_child`).
/// Nothing in daimond keeps a descriptor open across an exec of its own while
/// it spawns (a re-exec clears the PID file's flag after the last spawn).
fn cloexec_from(first: RawFd) {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range(2) on descriptor numbers only; it changes flags,
    // closes nothing.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return;
    }
    // Kernels before 5.11: the open descriptors, as /proc lists them.
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for fd in dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<RawFd>().ok())
    {
        if fd < first {
            continue;
        }
        // SAFETY: fcntl on a descriptor number; a closed one fails with EBADF.
        unsafe {
            let fl = libc::fcntl(fd, libc::F_GETFD);
            if fl >= 0 && fl & libc::FD_CLOEXEC == 0 {
                libc::fcntl(fd, libc::F_SETFD, fl | libc::FD_CLOEXEC);
            }
        }
    }
}

/// A close-on-exec copy of `fd` numbered `floor` or above.
fn dup_above(fd: RawFd, floor: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor number; the result is new and ours.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, floor) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fcntl succeeded, so `n` is an open descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

/// `fd` itself if numbered `floor` or above, else a copy that is.
fn raise_above(fd: OwnedFd, floor: RawFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() >= floor {
        Ok(fd)
    } else {
        dup_above(fd.as_raw_fd(), floor)
    }
}

/// The read end of a child's exec-report pipe: end of file once the child has
/// exec'd (the write end is close-on-exec), `[code, errno]` if a step before
/// that failed. Non-blocking.
#[derive(Debug)]
pub struct ExecReport(OwnedFd);

/// What an [`ExecReport`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecOutcome {
    /// Not known yet: the child is still before its execve().
    Pending,
    /// execve() succeeded (or the child was killed before writing anything;
    /// its exit status then tells).
    Exec,
    Failed(ExecFailure),
}

impl ExecReport {
    /// What the pipe holds now.
    pub fn outcome(&self) -> ExecOutcome {
        let mut buf = [0u8; 8];
        loop {
            // SAFETY: reading at most 8 bytes into an 8-byte buffer.
            let n = unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n == 8 {
                let word =
                    |i: usize| i32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
                return ExecOutcome::Failed(ExecFailure {
                    code: word(0),
                    errno: word(4),
                });
            }
            if n >= 0 {
                // End of file. (A shorter report cannot be: an 8-byte write to
                // a pipe is atomic.)
                return ExecOutcome::Exec;
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => return ExecOutcome::Pending,
                _ => return ExecOutcome::Exec,
            }
        }
    }

    /// Waits up to `limit` for the outcome (for the fd store, which daimond
    /// needs before anything else).
    pub fn wait(&self, limit: Duration) -> ExecOutcome {
        let deadline = Instant::now() + limit;
        loop {
            let outcome = self.outcome();
            let left = deadline.saturating_duration_since(Instant::now());
            if outcome != ExecOutcome::Pending || left.is_zero() {
                return outcome;
            }
            let mut pfd = libc::pollfd {
                fd: self.0.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd; EINTR and timeouts loop back to the read.
            unsafe { libc::poll(&mut pfd, 1, ms) };
        }
    }
}

impl AsFd for ExecReport {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for ExecReport {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// CLOCK_BOOTTIME now, in nanoseconds (the clock of a process's start time).
fn boottime_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } != 0 {
        return None;
    }
    Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// The start time /proc will show for a child created between the clock
/// readings `before` and `after`, if both fall in the same clock tick.
///
/// The kernel stamps a new process with CLOCK_BOOTTIME inside clone() and
/// /proc shows that stamp in whole clock ticks (proc(5), field 22). Reading
/// /proc/PID/stat instead would wait for the child's execve() to finish (the
/// kernel holds the child's exec lock meanwhile), and then for the CPU the
/// child keeps running its program's start-up: on a start of 100 services
/// that wait was a third of the time.
fn start_time_between(before: Option<u64>, after: Option<u64>) -> Option<u64> {
    let tick = 1_000_000_000 / super::tree::clock_ticks();
    let (b, a) = (before? / tick, after? / tick);
    (b == a).then_some(b)
}

#[cfg(test)]
mod tests;
