//! The child between clone and exec.
//!
//! It runs in daimond's memory, on a stack of its own, while daimond goes on
//! (see `spawn.rs`). So it only reads what [`Launch`] holds, writes nothing of
//! daimond's but its own stack and `Launch::pid_vars`, never allocates, and
//! makes every system call through rustix: its linux_raw backend makes the
//! system call itself, with no libc wrapper in between, so no call writes the
//! `errno` of the daimond thread whose thread pointer the child shares (see
//! [`errno_free`]). Paths are handed over as `&CStr`, which rustix passes on
//! as is (a `&str` or `&Path` could make it allocate). A failing step is
//! written to the exec-report pipe as `[code, errno]` before `exit_group(code)`,
//! with systemd's exit code for that step (systemd.exec(5), "PROCESS EXIT
//! CODES"). At a successful execve() the pipe, close-on-exec, closes: its
//! reader sees end of file.
//!
//! execve, exit_group, rt_sigaction and rt_sigprocmask come from rustix's
//! `runtime` module, which exists only on the linux_raw backend. That module
//! is meant for runtimes that replace libc, as libc expects to own signal
//! handlers and process exit; here it is used only where libc is out of the
//! picture: in a child that runs no libc code before it execs or exits. rustix
//! publishes the module under a name that changes between releases, hence the
//! exact version pinned in the workspace's Cargo.toml and the one alias below.

use std::cell::UnsafeCell;
use std::ffi::CStr;
use std::mem::ManuallyDrop;
use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::AtomicI32;

use rustix::fs::{Mode, OFlags};
use rustix::io::{DupFlags, Errno, FdFlags};
use rustix::process::Rlimit;
// The one place that names rustix's runtime module (see the module comment).
use runtime::{How, KERNEL_SIG_DFL, KernelSigSet, KernelSigaction, Signal};
use rustix::runtime_448b8ad740e2a26f as runtime;
use rustix::thread::{Gid, Uid};
use rustix::thread::{set_thread_gid, set_thread_groups, set_thread_uid};

use super::spawn::{CHILD_PID_VARS, SpawnSpec, Stdio};
use crate::exit_status::code;

/// Everything the child uses, in one place that stays put (boxed) until the
/// kernel says the child is done with daimond's memory.
pub struct Launch {
    /// Non-zero until the child has exec'd or exited; the kernel then writes
    /// 0 here (CLONE_CHILD_CLEARTID, at the moment it releases daimond's
    /// memory from the child). From then on neither this record nor the
    /// child's stack is in use.
    pub tid: AtomicI32,
    pub spec: SpawnSpec,
    pub argv: Vec<*const libc::c_char>,
    pub envp: Vec<*const libc::c_char>,
    /// `CHILD_PID_VARS`, completed by the child with its PID (see `envp`).
    pub pid_vars: [UnsafeCell<[u8; 40]>; 2],
    pub has_pid_var: [bool; 2],
    /// `SpawnSpec::pass_fds`, raised above 2 + their count, to be placed at 3, 4, ...
    pub pass: Vec<RawFd>,
    /// Write ends of the output pipes and of the exec report, as numbered in
    /// the child's copy of the descriptor table.
    pub out_w: Option<RawFd>,
    pub err_w: Option<RawFd>,
    /// The pty slave, when a stream is `Stdio::Pty`.
    pub pty_slave: Option<RawFd>,
    pub report_w: RawFd,
}

/// Entry point handed to clone(2).
pub extern "C" fn child_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the boxed `Launch` the parent passed to clone; it
    // stays alive and unchanged until `tid` is cleared, after this child's
    // last use of it.
    unsafe { child(&*arg.cast::<Launch>()) }
}

/// Whether the child's system calls leave `errno` alone, so that it may run
/// alongside daimond; otherwise `spawn` keeps daimond's thread suspended
/// until the child has exec'd (CLONE_VFORK), so that the `errno` they write
/// harms nothing. rustix's runtime module, which the child needs, exists only
/// on its linux_raw backend, which never writes `errno`; this checks the
/// same at run time, in case a later rustix routes some call through libc:
/// a call that fails is made once and `errno` looked at.
pub fn errno_free() -> bool {
    static RUSTIX_ERRNO_FREE: OnceLock<bool> = OnceLock::new();
    *RUSTIX_ERRNO_FREE.get_or_init(|| {
        const MARK: i32 = 0x7a11;
        // SAFETY: this thread's errno, written and read right here.
        unsafe { *libc::__errno_location() = MARK };
        // An empty path never names a file: ENOENT, and nothing changes.
        let failed = rustix::fs::access(c"", rustix::fs::Access::EXISTS).is_err();
        // SAFETY: as above.
        failed && unsafe { *libc::__errno_location() } == MARK
    })
}

/// Reports a failing step on the exec-report pipe and exits with its code.
unsafe fn fail(l: &Launch, code: i32, err: Errno) -> ! {
    let errno = err.raw_os_error();
    let mut report = [0u8; 8];
    report[..4].copy_from_slice(&code.to_ne_bytes());
    report[4..].copy_from_slice(&errno.to_ne_bytes());
    // SAFETY: the report pipe's write end stays open in the child until its
    // exec; an 8-byte write to a pipe is atomic (below PIPE_BUF).
    unsafe {
        let _ = rustix::io::write(BorrowedFd::borrow_raw(l.report_w), &report);
    }
    // _exit(2): no atexit handler or stdio flush of daimond's runs here.
    runtime::exit_group(code)
}

/// Points `target` (0, 1, 2) at `fd`, clearing close-on-exec if it already is.
///
/// # Safety
/// `fd` is a descriptor of the child's table (a pipe end made for it, one
/// daimond hands over, one it just opened); a closed one fails with EBADF.
unsafe fn install(fd: RawFd, target: RawFd) -> Result<(), Errno> {
    // SAFETY: see above; the descriptor is only used for these calls.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    if fd == target {
        let flags = rustix::io::fcntl_getfd(borrowed)?;
        return rustix::io::fcntl_setfd(borrowed, flags - FdFlags::CLOEXEC);
    }
    match target {
        0 => rustix::stdio::dup2_stdin(borrowed),
        1 => rustix::stdio::dup2_stdout(borrowed),
        _ => rustix::stdio::dup2_stderr(borrowed),
    }
}

/// Opens `path` close-on-exec. The descriptor is left open on purpose: it is
/// installed as a standard stream, and close-on-exec closes the original.
fn open(path: &CStr, flags: libc::c_int) -> Result<RawFd, Errno> {
    let flags = OFlags::from_bits_retain(flags as _) | OFlags::CLOEXEC;
    rustix::fs::open(path, flags, Mode::from_raw_mode(0o666)).map(IntoRawFd::into_raw_fd)
}

/// Sets up one standard stream.
unsafe fn open_stdio(
    s: &Stdio,
    target: RawFd,
    pipe_w: Option<RawFd>,
    pty: Option<RawFd>,
) -> Result<(), Errno> {
    // SAFETY: every descriptor is one of the child's (see `install`).
    unsafe {
        match s {
            Stdio::Inherit => Ok(()),
            Stdio::Pipe => install(pipe_w.ok_or(Errno::BADF)?, target),
            Stdio::Fd(fd) => install(*fd, target),
            Stdio::Pty => install(pty.ok_or(Errno::BADF)?, target),
            Stdio::Null => install(open(c"/dev/null", libc::O_RDWR)?, target),
            Stdio::File { path, flags } => install(open(path, *flags)?, target),
        }
    }
}

/// A resource limit as rustix takes it (`None`: infinity).
fn rlimit(soft: libc::rlim_t, hard: libc::rlim_t) -> Rlimit {
    // rlim_t is narrower than u64 on 32-bit targets.
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    let finite = |v: libc::rlim_t| (v != libc::RLIM_INFINITY).then_some(v as u64);
    Rlimit {
        current: finite(soft),
        maximum: finite(hard),
    }
}

unsafe fn child(l: &Launch) -> ! {
    let s = &l.spec;
    // SAFETY: every call is a system call on data prepared before the clone
    // (see the module comment).
    unsafe {
        // Its own session and process group (systemd does the same for every
        // service), so a terminal's signals never reach it and the group can be
        // signalled as one.
        if let Err(e) = rustix::process::setsid() {
            fail(l, code::SETSID, e);
        }
        // Every disposition daimond installed back to default (1..=64 is
        // every Linux signal; execve resets caught ones, not ignored ones),
        // then the mask, which the parent filled around the clone so that no
        // handler of daimond ever runs here, cleared. The child has its own
        // table of handlers (no CLONE_SIGHAND): daimond's stay as they are.
        // The signals glibc keeps for itself (32, 33) are reset too, as
        // posix_spawn's POSIX_SPAWN_SETSIGDEF does: no libc code runs here
        // any more to rely on them.
        let dfl = KernelSigaction {
            sa_handler_kernel: KERNEL_SIG_DFL,
            ..KernelSigaction::default()
        };
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                // SAFETY (from_raw_unchecked): 1..=64 are valid, non-zero
                // signal numbers; libc's reserved ones are only reset to
                // default, in a process where libc no longer runs.
                let _ =
                    runtime::kernel_sigaction(Signal::from_raw_unchecked(sig), Some(dfl.clone()));
            }
        }
        if let Err(e) = runtime::kernel_sigprocmask(How::SETMASK, Some(&KernelSigSet::empty())) {
            fail(l, code::SIGNAL_MASK, e);
        }
        // Into the unit's cgroups first, before any other step of the child.
        for file in &s.join_cgroups {
            let fd = match open(file, libc::O_WRONLY) {
                Ok(fd) => fd,
                Err(e) => fail(l, code::CGROUP, e),
            };
            // "0": the writing process itself (cgroups(7)).
            let r = rustix::io::write(BorrowedFd::borrow_raw(fd), b"0");
            rustix::io::close(fd);
            if let Err(e) = r {
                fail(l, code::CGROUP, e);
            }
        }
        rustix::process::umask(Mode::from_raw_mode(s.umask));
        if let Some(n) = s.nice
            && let Err(e) = rustix::process::setpriority_process(None, n)
        {
            fail(l, code::NICE, e);
        }
        for &(res, soft, hard) in &s.rlimits {
            if let Err(e) = rustix::process::setrlimit(res, rlimit(soft, hard)) {
                fail(l, code::LIMITS, e);
            }
        }
        // Standard streams as configured (a service's stdin is /dev/null).
        if let Err(e) = open_stdio(&s.stdin, 0, None, l.pty_slave) {
            fail(l, code::STDIN, e);
        }
        // A terminal as stdin becomes the controlling terminal of the session
        // setsid() made above (tty_ioctl(4), TIOCSCTTY: the caller must be a
        // session leader without one), so that Ctrl-C typed by an attached
        // client reaches the service as SIGINT and its hang-up as SIGHUP.
        if matches!(s.stdin, Stdio::Pty) {
            // Argument 0: never steal a terminal that is another session's.
            if let Err(e) = rustix::process::ioctl_tiocsctty(BorrowedFd::borrow_raw(0)) {
                fail(l, code::STDIN, e);
            }
        }
        if let Err(e) = open_stdio(&s.stdout, 1, l.out_w, l.pty_slave) {
            fail(l, code::STDOUT, e);
        }
        if let Err(e) = open_stdio(&s.stderr, 2, l.err_w, l.pty_slave) {
            fail(l, code::STDERR, e);
        }
        // Credentials: groups before gid before uid, as only root may change
        // them. rustix's `set_thread_*` are the raw calls, which change this
        // process only (glibc's wrappers would apply them to every thread of
        // daimond as well).
        if let Some(cr) = &s.credentials {
            // SAFETY: `Gid` is `repr(transparent)` over `gid_t`.
            let groups =
                std::slice::from_raw_parts(cr.groups.as_ptr().cast::<Gid>(), cr.groups.len());
            if let Err(e) = set_thread_groups(groups) {
                fail(l, code::GROUP, e);
            }
            if let Err(e) = set_thread_gid(Gid::from_raw_unchecked(cr.gid)) {
                fail(l, code::GROUP, e);
            }
            if let Err(e) = set_thread_uid(Uid::from_raw_unchecked(cr.uid)) {
                fail(l, code::USER, e);
            }
        }
        // After the user switch, so the directory is checked with the service's rights.
        if let Some((dir, ignore_missing)) = &s.workdir
            && let Err(e) = rustix::process::chdir(dir.as_c_str())
            && !*ignore_missing
        {
            fail(l, code::CHDIR, e);
        }
        if s.no_new_privileges
            && let Err(e) = rustix::thread::set_no_new_privs(true)
        {
            fail(l, code::NO_NEW_PRIVILEGES, e);
        }
        for (k, var) in CHILD_PID_VARS.iter().enumerate() {
            if l.has_pid_var[k] {
                write_own_pid(l.pid_vars[k].get().cast(), var.len());
            }
        }
        // Passed descriptors at 3, 4, ... (sd_listen_fds(3)); dup3 without
        // flags leaves the copy open across execve. Their sources and the
        // exec report are numbered above this range (see `spawn`).
        for (i, &fd) in l.pass.iter().enumerate() {
            // SAFETY (from_raw_fd): the number is only dup3's target, which
            // need not be open (dup2(2)); ManuallyDrop never closes it.
            let mut target = ManuallyDrop::new(OwnedFd::from_raw_fd(3 + i as RawFd));
            if let Err(e) =
                rustix::io::dup3(BorrowedFd::borrow_raw(fd), &mut target, DupFlags::empty())
            {
                fail(l, code::FDS, e);
            }
        }
        // Every other descriptor of daimond is close-on-exec: the parent
        // made sure of it just before the clone (`spawn::cloexec_from`).
        let e = runtime::execve(&s.program, l.argv.as_ptr().cast(), l.envp.as_ptr().cast());
        fail(l, code::EXEC, e)
    }
}

/// Completes a `CHILD_PID_VARS` entry in `buf` (40 bytes, its `prefix` bytes
/// already there) with the calling process's PID and a NUL.
unsafe fn write_own_pid(buf: *mut u8, prefix: usize) {
    // SAFETY: `buf` has 40 bytes: the prefix (at most 13), at most 20 digits
    // and the NUL fit.
    unsafe {
        let mut pid = rustix::process::getpid().as_raw_nonzero().get() as u64;
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
        let mut at = prefix;
        while n > 0 {
            n -= 1;
            *buf.add(at) = digits[n];
            at += 1;
        }
        *buf.add(at) = 0;
    }
}
