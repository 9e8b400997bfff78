//! fork/exec in one place.
//!
//! Owns the only process creation of the daemon. Everything the child needs (argv,
//! envp, paths, limits, credentials) is prepared as C data by [`SpawnSpec`] before
//! the child exists. The child is created like glibc's `posix_spawn`:
//! `clone(CLONE_VM | CLONE_VFORK)` on a stack of its own, so the daemon's memory is
//! neither copied nor write-protected (no page-table copy, no copy-on-write faults
//! per spawn), and the daemon resumes once the child has called `execve`
//! successfully or exited. Between clone and exec the child makes only
//! async-signal-safe calls (credential changes as raw syscalls, since glibc's
//! wrappers would broadcast them to the daemon's threads) and never allocates. A
//! failing step is written to a shared report as `[code, errno]` before
//! `_exit(code)` with systemd's exit code for that step (systemd.exec(5), "PROCESS
//! EXIT CODES"); so the exec outcome is known when [`spawn`] returns.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::exit::code;

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
    /// socket); it must stay open until [`spawn`] returns.
    Fd(RawFd),
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

/// One resource limit: `RLIMIT_*` number, soft, hard.
pub type Rlimit = (libc::c_int, libc::rlim_t, libc::rlim_t);

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
}

/// A started child and the parent's ends of its pipes.
#[derive(Debug)]
pub struct Spawned {
    pub pid: u32,
    /// `None`: `execve` succeeded; otherwise the step that failed (the child has
    /// exited with its code and is reaped like any other).
    pub exec_error: Option<ExecFailure>,
    /// The child's start time as /proc/PID/stat gives it (field 22, clock
    /// ticks since boot), when the clock showed that it is known exactly (see
    /// [`start_time_between`]); `None` otherwise.
    pub start_time: Option<u64>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
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
        let name = super::exit::exit_code_name(self.code).unwrap_or("?");
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
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Size of the child's stack between clone and exec (it only makes syscalls).
const CHILD_STACK: usize = 256 * 1024;

thread_local! {
    /// This thread's stack for its children between clone and exec, mapped on
    /// first use and kept. A fresh zeroed heap buffer per spawn cost a 256 KiB
    /// memset and its page faults on the restart path; this mapping is only
    /// ever touched near its top. One per thread because a spawning thread is
    /// suspended (CLONE_VFORK) until its child has left the stack.
    static CHILD_STACK_BASE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A page below the child's stack that faults when touched, so that an
/// overflowing child dies of SIGSEGV instead of writing into whatever the
/// kernel mapped below.
const GUARD: usize = 4096;

/// The calling thread's child stack (its lowest usable address).
fn child_stack() -> io::Result<*mut u8> {
    CHILD_STACK_BASE.with(|base| {
        if base.get() == 0 {
            // SAFETY: a new private anonymous mapping; no existing memory is
            // affected.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    GUARD + CHILD_STACK,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: the first page of the mapping just made, used by nothing.
            if unsafe { libc::mprotect(p, GUARD, libc::PROT_NONE) } != 0 {
                let e = io::Error::last_os_error();
                // SAFETY: unmapping the mapping just made, never handed out.
                unsafe { libc::munmap(p, GUARD + CHILD_STACK) };
                return Err(e);
            }
            base.set(p as usize + GUARD);
        }
        Ok(base.get() as *mut u8)
    })
}

/// Creates the child and runs `spec` in it. Returns once the child has exec'd or
/// failed; [`Spawned::exec_error`] says which.
pub fn spawn(spec: &SpawnSpec) -> io::Result<Spawned> {
    // Everything the child touches is built here, before the clone.
    let mut argv: Vec<*const libc::c_char> = spec.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = spec.envp.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // Room for CHILD_PID_VAR, 20 digits and the NUL, written by the child.
    let mut pid_var = [0u8; 40];
    pid_var[..CHILD_PID_VAR.len()].copy_from_slice(CHILD_PID_VAR.as_bytes());
    let pid_slot = spec
        .envp
        .iter()
        .position(|e| e.as_bytes() == CHILD_PID_VAR.as_bytes());
    // One pointer for both the parent's envp and the child's write.
    let pid_ptr = pid_var.as_mut_ptr();
    if let Some(i) = pid_slot {
        envp[i] = pid_ptr.cast_const().cast();
    }
    let out = match spec.stdout {
        Stdio::Pipe => Some(pipe_cloexec()?),
        _ => None,
    };
    let err = match spec.stderr {
        Stdio::Pipe => Some(pipe_cloexec()?),
        _ => None,
    };
    let stack = child_stack()?;
    let mut ctx = ChildCtx {
        spec,
        argv: &argv,
        envp: &envp,
        dev_null: c"/dev/null",
        out_w: out.as_ref().map(|(_, w)| w.as_raw_fd()),
        err_w: err.as_ref().map(|(_, w)| w.as_raw_fd()),
        report: [0; 2],
        pid_var: pid_slot.map(|_| pid_ptr),
    };
    // SAFETY: the stack grows down on every Linux architecture we build for; the
    // top is aligned to 16 bytes as the ABIs require.
    let top = unsafe { stack.add(CHILD_STACK) };
    let top = (top as usize & !15) as *mut libc::c_void;

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
    // SAFETY: `child_entry` only reads `ctx` and writes `ctx.report`; with
    // CLONE_VFORK this thread is suspended until the child exec'd or exited, so
    // `ctx` and `stack` outlive every use by the child.
    let before = boottime_ns();
    let pid = unsafe {
        libc::clone(
            child_entry,
            top,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&mut ctx as *mut ChildCtx<'_>).cast(),
        )
    };
    let clone_err = io::Error::last_os_error();
    let start_time = start_time_between(before, boottime_ns());
    // SAFETY: restoring the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    if pid < 0 {
        return Err(clone_err);
    }
    // SAFETY: the child is gone from our memory (exec'd or exited); read what it
    // wrote without letting the compiler assume the value never changed.
    let report = unsafe { std::ptr::read_volatile(&ctx.report) };
    let exec_error = (report[0] != 0).then_some(ExecFailure {
        code: report[0],
        errno: report[1],
    });
    Ok(Spawned {
        pid: pid as u32,
        exec_error,
        start_time,
        stdout: out.map(|(r, _)| r),
        stderr: err.map(|(r, _)| r),
    })
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

struct ChildCtx<'a> {
    spec: &'a SpawnSpec,
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
    dev_null: &'a std::ffi::CStr,
    out_w: Option<RawFd>,
    err_w: Option<RawFd>,
    /// `[code, errno]` of the failing step; `[0, 0]` while all is well.
    report: [i32; 2],
    /// The 40-byte buffer behind the `CHILD_PID_VAR` entry of `envp`.
    pid_var: Option<*mut u8>,
}

extern "C" fn child_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `ChildCtx` the parent passed to clone and keeps alive.
    unsafe { child(&mut *arg.cast::<ChildCtx<'_>>()) }
}

/// Reports a failing step to the parent and exits with its code. Async-signal-safe.
unsafe fn fail(report: *mut [i32; 2], code: i32) -> ! {
    // SAFETY: errno's location is valid; `report` points into the parent's
    // suspended frame; _exit is async-signal-safe.
    unsafe {
        let errno = *libc::__errno_location();
        std::ptr::write_volatile(report, [code, errno]);
        libc::_exit(code)
    }
}

/// Points `target` (0, 1, 2) at `fd`, clearing close-on-exec if it already is.
unsafe fn install(fd: RawFd, target: RawFd) -> bool {
    // SAFETY: dup2/fcntl on descriptors; AS-safe.
    unsafe {
        if fd == target {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            flags >= 0 && libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) >= 0
        } else {
            libc::dup2(fd, target) >= 0
        }
    }
}

unsafe fn open_stdio(
    s: &Stdio,
    target: RawFd,
    pipe_w: Option<RawFd>,
    dev_null: &std::ffi::CStr,
) -> bool {
    // SAFETY: open/dup2/close are AS-safe; the CStrings were built before fork.
    unsafe {
        match s {
            Stdio::Inherit => true,
            Stdio::Pipe => pipe_w.is_some_and(|w| install(w, target)),
            Stdio::Fd(fd) => install(*fd, target),
            Stdio::Null => {
                let fd = libc::open(dev_null.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
                fd >= 0 && install(fd, target)
            }
            Stdio::File { path, flags } => {
                let fd = libc::open(path.as_ptr(), *flags | libc::O_CLOEXEC, 0o666);
                fd >= 0 && install(fd, target)
            }
        }
    }
}

/// The child between fork and exec. Only async-signal-safe calls; no allocation.
unsafe fn child(c: &mut ChildCtx<'_>) -> ! {
    let s = c.spec;
    let w: *mut [i32; 2] = &mut c.report;
    // SAFETY: every call below is async-signal-safe (signal-safety(7)) and uses data
    // prepared before the fork.
    unsafe {
        // Its own session and process group (systemd does the same for every
        // service), so a terminal's signals never reach it and the group can be
        // signalled as one.
        if libc::setsid() < 0 {
            fail(w, code::SETSID);
        }
        // Every disposition the daemon installed back to default, then the mask
        // (blocked by the parent around the clone) cleared.
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        // 1..=64 covers every Linux signal. glibc's sigaction() refuses the
        // two it reserves for itself (32 and 33), so an ignored disposition
        // inherited there would pass on to the service: those go through the
        // raw system call.
        for sig in 1..=64 {
            if sig != libc::SIGKILL
                && sig != libc::SIGSTOP
                && libc::sigaction(sig, &dfl, std::ptr::null_mut()) < 0
            {
                raw_default_disposition(sig);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        if libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) < 0 {
            fail(w, code::SIGNAL_MASK);
        }
        libc::umask(s.umask);
        if let Some(n) = s.nice {
            if libc::setpriority(libc::PRIO_PROCESS, 0, n) < 0 {
                fail(w, code::NICE);
            }
        }
        for &(res, soft, hard) in &s.rlimits {
            let lim = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(res as _, &lim) < 0 {
                fail(w, code::LIMITS);
            }
        }
        // Standard streams as configured (a service's stdin is /dev/null).
        if !open_stdio(&s.stdin, 0, None, c.dev_null) {
            fail(w, code::STDIN);
        }
        if !open_stdio(&s.stdout, 1, c.out_w, c.dev_null) {
            fail(w, code::STDOUT);
        }
        if !open_stdio(&s.stderr, 2, c.err_w, c.dev_null) {
            fail(w, code::STDERR);
        }
        // Credentials: groups before gid before uid, as only root may change them.
        // Raw syscalls: glibc's wrappers would apply them to the daemon's threads.
        if let Some(cr) = &s.credentials {
            let groups = cr.groups.as_ptr();
            if libc::syscall(libc::SYS_setgroups, cr.groups.len(), groups) < 0 {
                fail(w, code::GROUP);
            }
            if libc::syscall(libc::SYS_setgid, cr.gid) < 0 {
                fail(w, code::GROUP);
            }
            if libc::syscall(libc::SYS_setuid, cr.uid) < 0 {
                fail(w, code::USER);
            }
        }
        // After the user switch, so the directory is checked with the service's rights.
        if let Some((dir, ignore_missing)) = &s.workdir {
            if libc::chdir(dir.as_ptr()) < 0 && !*ignore_missing {
                fail(w, code::CHDIR);
            }
        }
        if s.no_new_privileges && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 {
            fail(w, code::NO_NEW_PRIVILEGES);
        }
        if let Some(buf) = c.pid_var {
            write_own_pid(buf);
        }
        // No daemon descriptor leaks: every one above stderr is marked
        // close-on-exec (they all are already; this covers any that is not).
        cloexec_from(3);
        libc::execve(s.program.as_ptr(), c.argv.as_ptr(), c.envp.as_ptr());
        fail(w, code::EXEC)
    }
}

/// Completes `CHILD_PID_VAR` in `buf` (40 bytes, prefix already there) with the
/// calling process's PID and a NUL. Async-signal-safe: a syscall and stores.
unsafe fn write_own_pid(buf: *mut u8) {
    // SAFETY: getpid cannot fail; `buf` has 40 bytes: the prefix (13), at most
    // 20 digits and the NUL fit.
    unsafe {
        let mut pid = libc::syscall(libc::SYS_getpid) as u64;
        let mut digits = [0u8; 20];
        let mut n = 0;
        loop {
            digits[n] = b'0' + (pid % 10) as u8;
            n += 1;
            pid /= 10;
            if pid == 0 {
                break;
            }
        }
        let mut at = CHILD_PID_VAR.len();
        while n > 0 {
            n -= 1;
            *buf.add(at) = digits[n];
            at += 1;
        }
        *buf.add(at) = 0;
    }
}

/// Marks every descriptor >= `first` close-on-exec. Async-signal-safe.
unsafe fn cloexec_from(first: RawFd) {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range/fcntl on descriptors only.
    unsafe {
        let r = libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        );
        if r != 0 {
            // Kernels before 5.11: a bounded sweep.
            for fd in first..4096 {
                let fl = libc::fcntl(fd, libc::F_GETFD);
                if fl >= 0 && fl & libc::FD_CLOEXEC == 0 {
                    libc::fcntl(fd, libc::F_SETFD, fl | libc::FD_CLOEXEC);
                }
            }
        }
    }
}

/// The kernel's `struct sigaction` for rt_sigaction(2) (the same field order on
/// x86_64 and aarch64: handler, flags, restorer, mask).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

/// Sets `sig` to SIG_DFL with the raw system call (async-signal-safe).
///
/// # Safety
/// Only between fork and exec, or where no handler of `sig` matters.
unsafe fn raw_default_disposition(sig: libc::c_int) {
    let act = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: `act` is a valid kernel sigaction for the duration of the call;
    // the size argument is the kernel's sigset size (8 bytes).
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &act as *const KernelSigaction,
            std::ptr::null_mut::<KernelSigaction>(),
            8usize,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn true_spec() -> SpawnSpec {
        SpawnSpec {
            program: c"/bin/true".into(),
            argv: vec![c"true".into()],
            envp: vec![c"PATH=/usr/bin:/bin".into()],
            workdir: None,
            umask: 0o022,
            nice: None,
            rlimits: Vec::new(),
            no_new_privileges: false,
            credentials: None,
            stdin: Stdio::Null,
            stdout: Stdio::Null,
            stderr: Stdio::Null,
        }
    }

    #[test]
    fn the_start_time_from_the_clock_is_the_one_proc_shows() {
        let mut known = 0;
        for _ in 0..50 {
            let child = spawn(&true_spec()).expect("spawn /bin/true");
            // Exited or not, the child is ours until reaped: /proc still has it.
            let proc_start = super::super::tree::stat(child.pid).map(|s| s.start_time);
            let mut status = 0;
            // SAFETY: reaping our own child by its PID.
            unsafe { libc::waitpid(child.pid as i32, &mut status, 0) };
            if let Some(t) = child.start_time {
                assert_eq!(Some(t), proc_start, "start time of PID {}", child.pid);
                known += 1;
            }
        }
        // A tick (10 ms at USER_HZ=100) seldom passes during one clone.
        assert!(
            known >= 40,
            "the clock gave the start time {known} times in 50"
        );
    }

    #[test]
    fn no_start_time_across_a_tick() {
        let tick = 1_000_000_000 / super::super::tree::clock_ticks();
        assert_eq!(
            start_time_between(Some(5 * tick), Some(5 * tick + 1)),
            Some(5)
        );
        assert_eq!(start_time_between(Some(5 * tick - 1), Some(5 * tick)), None);
        assert_eq!(start_time_between(None, Some(5 * tick)), None);
    }
}
