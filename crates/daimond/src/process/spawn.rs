//! fork/exec in one place.
//!
//! Owns the only `fork()` of the daemon. Everything the child needs (argv, envp,
//! paths, limits, credentials) is prepared as C data by [`SpawnSpec`] before the
//! fork; between fork and exec the child makes only async-signal-safe calls, never
//! allocates, and reports a failing step through a close-on-exec pipe as
//! `[code, errno]` before `_exit(code)` with systemd's exit code for that step
//! (systemd.exec(5), "PROCESS EXIT CODES"). End of file on that pipe means `execve`
//! succeeded.

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
}

/// Supplementary groups, gid and uid to switch to (root only).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    pub groups: Vec<libc::gid_t>,
}

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
    pub stdout: Stdio,
    pub stderr: Stdio,
}

/// A started child and the parent's ends of its pipes.
#[derive(Debug)]
pub struct Spawned {
    pub pid: u32,
    /// Read end of the exec-status pipe: EOF = exec succeeded; 8 bytes = failure.
    pub exec_status: OwnedFd,
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
    pub fn decode(buf: &[u8]) -> Option<ExecFailure> {
        let code = i32::from_ne_bytes(buf.get(0..4)?.try_into().ok()?);
        let errno = i32::from_ne_bytes(buf.get(4..8)?.try_into().ok()?);
        Some(ExecFailure { code, errno })
    }

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

/// Forks and execs `spec`. Returns once the child exists; whether `execve`
/// succeeded is learnt from [`Spawned::exec_status`].
pub fn spawn(spec: &SpawnSpec) -> io::Result<Spawned> {
    // Everything the child touches is built here, before the fork.
    let mut argv: Vec<*const libc::c_char> = spec.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = spec.envp.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    let dev_null = c"/dev/null";

    let (status_r, status_w) = pipe_cloexec()?;
    let out = match spec.stdout {
        Stdio::Pipe => Some(pipe_cloexec()?),
        _ => None,
    };
    let err = match spec.stderr {
        Stdio::Pipe => Some(pipe_cloexec()?),
        _ => None,
    };
    let out_w = out.as_ref().map(|(_, w)| w.as_raw_fd());
    let err_w = err.as_ref().map(|(_, w)| w.as_raw_fd());

    // SAFETY: fork(2) has no memory-safety preconditions; in the child only
    // async-signal-safe calls are made (see `child`) and it never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        let ctx = ChildCtx {
            spec,
            argv: &argv,
            envp: &envp,
            dev_null,
            status_w: status_w.as_raw_fd(),
            out_w,
            err_w,
        };
        // SAFETY: we are the freshly forked child; `child` never returns.
        unsafe { child(&ctx) }
    }
    drop(status_w);
    Ok(Spawned {
        pid: pid as u32,
        exec_status: status_r,
        stdout: out.map(|(r, _)| r),
        stderr: err.map(|(r, _)| r),
    })
}

struct ChildCtx<'a> {
    spec: &'a SpawnSpec,
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
    dev_null: &'a std::ffi::CStr,
    status_w: RawFd,
    out_w: Option<RawFd>,
    err_w: Option<RawFd>,
}

/// Reports a failing step to the parent and exits with its code. Async-signal-safe.
unsafe fn fail(status_w: RawFd, code: i32) -> ! {
    // SAFETY: errno location is thread-local and valid; write/_exit are AS-safe.
    unsafe {
        let errno = *libc::__errno_location();
        let mut buf = [0u8; 8];
        buf[..4].copy_from_slice(&code.to_ne_bytes());
        buf[4..].copy_from_slice(&errno.to_ne_bytes());
        // A pipe write of 8 bytes is atomic; EINTR cannot happen with default
        // dispositions and no handlers, and there is nothing else to do on error.
        libc::write(status_w, buf.as_ptr().cast(), buf.len());
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
unsafe fn child(c: &ChildCtx<'_>) -> ! {
    let s = c.spec;
    let w = c.status_w;
    // SAFETY: every call below is async-signal-safe (signal-safety(7)) and uses data
    // prepared before the fork.
    unsafe {
        // Its own session and process group (systemd does the same for every
        // service), so a terminal's signals never reach it and the group can be
        // signalled as one.
        if libc::setsid() < 0 {
            fail(w, code::SETSID);
        }
        // Reset the signal mask and every disposition the daemon installed.
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        if libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) < 0 {
            fail(w, code::SIGNAL_MASK);
        }
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        // 1..=64 covers every Linux signal; sigaction rejects the few reserved ones.
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
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
        // Standard streams: stdin is /dev/null; stdout/stderr as configured.
        if !open_stdio(&Stdio::Null, 0, None, c.dev_null) {
            fail(w, code::STDIN);
        }
        if !open_stdio(&s.stdout, 1, c.out_w, c.dev_null) {
            fail(w, code::STDOUT);
        }
        if !open_stdio(&s.stderr, 2, c.err_w, c.dev_null) {
            fail(w, code::STDERR);
        }
        // Credentials: groups before gid before uid, as only root may change them.
        if let Some(cr) = &s.credentials {
            if libc::setgroups(cr.groups.len() as _, cr.groups.as_ptr()) < 0 {
                fail(w, code::GROUP);
            }
            if libc::setgid(cr.gid) < 0 {
                fail(w, code::GROUP);
            }
            if libc::setuid(cr.uid) < 0 {
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
        // No daemon descriptor leaks: close everything above stderr except the
        // status pipe (which is close-on-exec itself).
        close_from(3, w);
        libc::execve(s.program.as_ptr(), c.argv.as_ptr(), c.envp.as_ptr());
        fail(w, code::EXEC)
    }
}

/// Closes every descriptor >= `first` except `keep`. Async-signal-safe.
unsafe fn close_from(first: RawFd, keep: RawFd) {
    // SAFETY: close_range/close on descriptors only.
    unsafe {
        let ok = |lo: RawFd, hi: libc::c_uint| {
            lo as libc::c_uint > hi
                || libc::syscall(libc::SYS_close_range, lo as libc::c_uint, hi, 0) == 0
        };
        let below = ok(first, (keep - 1).max(0) as libc::c_uint);
        let above = ok(keep + 1, libc::c_uint::MAX);
        if !(below && above) {
            // Old kernel without close_range: every daemon fd is close-on-exec
            // anyway; this is belt and braces for a bounded range.
            for fd in first..4096 {
                if fd != keep {
                    libc::close(fd);
                }
            }
        }
    }
}
