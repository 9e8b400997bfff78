//! The child between clone and exec.
//!
//! It runs in daimond's memory, on a stack of its own, while daimond goes on
//! (see `spawn.rs`). So it only reads what [`Launch`] holds, writes nothing of
//! daimond's but its own stack and `Launch::pid_vars`, never allocates, and
//! makes its system calls through `raw_syscall`, which leave daimond's `errno`
//! alone. A failing step is written to the exec-report pipe as `[code, errno]`
//! before `exit_group(code)`, with systemd's exit code for that step
//! (systemd.exec(5), "PROCESS EXIT CODES"). At a successful execve() the pipe,
//! close-on-exec, closes: its reader sees end of file.

use std::cell::UnsafeCell;
use std::os::fd::RawFd;
use std::sync::atomic::AtomicI32;

use super::exit::code;
use super::raw_syscall::syscall;
use super::spawn::{CHILD_PID_VARS, SpawnSpec, Stdio};

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
    pub report_w: RawFd,
}

/// Entry point handed to clone(2).
pub extern "C" fn child_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the boxed `Launch` the parent passed to clone; it
    // stays alive and unchanged until `tid` is cleared, after this child's
    // last use of it.
    unsafe { child(&*arg.cast::<Launch>()) }
}

/// Reports a failing step on the exec-report pipe and exits with its code.
unsafe fn fail(l: &Launch, code: i32, ret: isize) -> ! {
    let errno = (-ret) as i32;
    let mut report = [0u8; 8];
    report[..4].copy_from_slice(&code.to_ne_bytes());
    report[4..].copy_from_slice(&errno.to_ne_bytes());
    // SAFETY: an 8-byte write to a pipe (atomic, below PIPE_BUF) from a
    // buffer on this stack, then the end of this process.
    unsafe {
        syscall(
            libc::SYS_write,
            &[l.report_w as usize, report.as_ptr() as usize, report.len()],
        );
        loop {
            syscall(libc::SYS_exit_group, &[code as usize]);
        }
    }
}

/// Points `target` (0, 1, 2) at `fd`, clearing close-on-exec if it already is.
/// Returns the failing call's result, or 0.
unsafe fn install(fd: RawFd, target: RawFd) -> isize {
    // SAFETY: fcntl/dup3 on descriptor numbers only.
    unsafe {
        if fd == target {
            let flags = syscall(libc::SYS_fcntl, &[fd as usize, libc::F_GETFD as usize]);
            if flags < 0 {
                return flags;
            }
            let cleared = flags as usize & !(libc::FD_CLOEXEC as usize);
            syscall(
                libc::SYS_fcntl,
                &[fd as usize, libc::F_SETFD as usize, cleared],
            )
            .min(0)
        } else {
            syscall(libc::SYS_dup3, &[fd as usize, target as usize, 0]).min(0)
        }
    }
}

/// Opens `path` (a NUL-terminated C string) close-on-exec.
unsafe fn open(path: *const libc::c_char, flags: libc::c_int) -> isize {
    // SAFETY: `path` is a valid C string kept alive by the `Launch`.
    unsafe {
        syscall(
            libc::SYS_openat,
            &[
                libc::AT_FDCWD as usize,
                path as usize,
                (flags | libc::O_CLOEXEC) as usize,
                0o666,
            ],
        )
    }
}

/// Sets up one standard stream; returns the failing call's result, or 0.
unsafe fn open_stdio(s: &Stdio, target: RawFd, pipe_w: Option<RawFd>) -> isize {
    // SAFETY: descriptor calls on data prepared before the clone.
    unsafe {
        match s {
            Stdio::Inherit => 0,
            Stdio::Pipe => match pipe_w {
                Some(w) => install(w, target),
                None => -(libc::EBADF as isize),
            },
            Stdio::Fd(fd) => install(*fd, target),
            Stdio::Null => match open(c"/dev/null".as_ptr(), libc::O_RDWR) {
                fd if fd < 0 => fd,
                fd => install(fd as RawFd, target),
            },
            Stdio::File { path, flags } => match open(path.as_ptr(), *flags) {
                fd if fd < 0 => fd,
                fd => install(fd as RawFd, target),
            },
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

/// The size of the kernel's signal set, as rt_sigaction/rt_sigprocmask want it.
const KERNEL_SIGSET: usize = 8;

unsafe fn child(l: &Launch) -> ! {
    let s = &l.spec;
    // SAFETY: every call is a raw system call on data prepared before the
    // clone (see the module comment).
    unsafe {
        // Its own session and process group (systemd does the same for every
        // service), so a terminal's signals never reach it and the group can be
        // signalled as one.
        let r = syscall(libc::SYS_setsid, &[]);
        if r < 0 {
            fail(l, code::SETSID, r);
        }
        // Every disposition daimond installed back to default (1..=64 is
        // every Linux signal), then the mask, which the parent filled around
        // the clone so that no handler of daimond ever runs here, cleared.
        let dfl = KernelSigaction {
            handler: libc::SIG_DFL,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        for sig in 1..=64usize {
            if sig != libc::SIGKILL as usize && sig != libc::SIGSTOP as usize {
                syscall(
                    libc::SYS_rt_sigaction,
                    &[sig, &dfl as *const _ as usize, 0, KERNEL_SIGSET],
                );
            }
        }
        let empty: u64 = 0;
        let r = syscall(
            libc::SYS_rt_sigprocmask,
            &[
                libc::SIG_SETMASK as usize,
                &empty as *const u64 as usize,
                0,
                KERNEL_SIGSET,
            ],
        );
        if r < 0 {
            fail(l, code::SIGNAL_MASK, r);
        }
        // Into the unit's cgroups first, before any other step of the child.
        for file in &s.join_cgroups {
            let fd = open(file.as_ptr(), libc::O_WRONLY);
            if fd < 0 {
                fail(l, code::CGROUP, fd);
            }
            // "0": the writing process itself (cgroups(7)).
            let r = syscall(libc::SYS_write, &[fd as usize, b"0".as_ptr() as usize, 1]);
            syscall(libc::SYS_close, &[fd as usize]);
            if r < 0 {
                fail(l, code::CGROUP, r);
            }
        }
        syscall(libc::SYS_umask, &[s.umask as usize]);
        if let Some(n) = s.nice {
            let r = syscall(
                libc::SYS_setpriority,
                &[libc::PRIO_PROCESS as usize, 0, n as isize as usize],
            );
            if r < 0 {
                fail(l, code::NICE, r);
            }
        }
        for &(res, soft, hard) in &s.rlimits {
            // prlimit64 takes 64-bit limits; rlim_t is narrower on 32-bit targets.
            #[allow(clippy::unnecessary_cast)]
            let lim: [u64; 2] = [soft as u64, hard as u64];
            let r = syscall(
                libc::SYS_prlimit64,
                &[0, res as usize, lim.as_ptr() as usize, 0],
            );
            if r < 0 {
                fail(l, code::LIMITS, r);
            }
        }
        // Standard streams as configured (a service's stdin is /dev/null).
        let r = open_stdio(&s.stdin, 0, None);
        if r < 0 {
            fail(l, code::STDIN, r);
        }
        let r = open_stdio(&s.stdout, 1, l.out_w);
        if r < 0 {
            fail(l, code::STDOUT, r);
        }
        let r = open_stdio(&s.stderr, 2, l.err_w);
        if r < 0 {
            fail(l, code::STDERR, r);
        }
        // Credentials: groups before gid before uid, as only root may change
        // them. Raw calls change this process only (glibc's wrappers would
        // apply them to every thread of daimond as well).
        if let Some(cr) = &s.credentials {
            let r = syscall(
                libc::SYS_setgroups,
                &[cr.groups.len(), cr.groups.as_ptr() as usize],
            );
            if r < 0 {
                fail(l, code::GROUP, r);
            }
            let r = syscall(libc::SYS_setgid, &[cr.gid as usize]);
            if r < 0 {
                fail(l, code::GROUP, r);
            }
            let r = syscall(libc::SYS_setuid, &[cr.uid as usize]);
            if r < 0 {
                fail(l, code::USER, r);
            }
        }
        // After the user switch, so the directory is checked with the service's rights.
        if let Some((dir, ignore_missing)) = &s.workdir {
            let r = syscall(libc::SYS_chdir, &[dir.as_ptr() as usize]);
            if r < 0 && !*ignore_missing {
                fail(l, code::CHDIR, r);
            }
        }
        if s.no_new_privileges {
            let r = syscall(libc::SYS_prctl, &[libc::PR_SET_NO_NEW_PRIVS as usize, 1]);
            if r < 0 {
                fail(l, code::NO_NEW_PRIVILEGES, r);
            }
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
            let r = syscall(libc::SYS_dup3, &[fd as usize, 3 + i, 0]);
            if r < 0 {
                fail(l, code::FDS, r);
            }
        }
        // No daemon descriptor leaks: every one above the passed ones is marked
        // close-on-exec (they all are already; this covers any that is not).
        cloexec_from(3 + l.pass.len() as RawFd);
        let r = syscall(
            libc::SYS_execve,
            &[
                s.program.as_ptr() as usize,
                l.argv.as_ptr() as usize,
                l.envp.as_ptr() as usize,
            ],
        );
        fail(l, code::EXEC, r)
    }
}

/// Completes a `CHILD_PID_VARS` entry in `buf` (40 bytes, its `prefix` bytes
/// already there) with the calling process's PID and a NUL.
unsafe fn write_own_pid(buf: *mut u8, prefix: usize) {
    // SAFETY: getpid cannot fail; `buf` has 40 bytes: the prefix (at most 13),
    // at most 20 digits and the NUL fit.
    unsafe {
        let mut pid = syscall(libc::SYS_getpid, &[]) as u64;
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

/// Marks every descriptor >= `first` close-on-exec.
unsafe fn cloexec_from(first: RawFd) {
    const CLOSE_RANGE_CLOEXEC: usize = 1 << 2;
    // SAFETY: close_range/fcntl on descriptor numbers only.
    unsafe {
        let r = syscall(
            libc::SYS_close_range,
            &[first as usize, u32::MAX as usize, CLOSE_RANGE_CLOEXEC],
        );
        if r != 0 {
            // Kernels before 5.11: a bounded sweep.
            for fd in first as usize..4096 {
                let fl = syscall(libc::SYS_fcntl, &[fd, libc::F_GETFD as usize]);
                if fl >= 0 && fl as usize & libc::FD_CLOEXEC as usize == 0 {
                    syscall(
                        libc::SYS_fcntl,
                        &[
                            fd,
                            libc::F_SETFD as usize,
                            fl as usize | libc::FD_CLOEXEC as usize,
                        ],
                    );
                }
            }
        }
    }
}
