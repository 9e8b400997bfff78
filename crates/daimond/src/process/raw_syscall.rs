//! System calls that never touch `errno`, for the child between clone and exec,
//! where rustix (which the child uses for everything else, see `spawn_child.rs`)
//! has none to offer.
//!
//! The child runs in daimond's memory at the same time as daimond (see
//! `spawn.rs`), with the thread pointer of the thread that cloned it. A libc
//! wrapper that fails writes `errno`, a thread-local of that thread: the
//! child would change daimond's `errno` under its feet. These calls return
//! the kernel's answer as is: a value >= 0, or `-errno`.
//!
//! Kept for these calls only, as rustix 1.1's public API lacks them:
//! `execve`, `exit_group`, `rt_sigaction` and `rt_sigprocmask` (rustix has
//! them only in its `runtime` module, meant for programs without a libc and
//! published under a name it changes from release to release so that no one
//! else depends on it), and `close_range` (with its `fcntl` sweep for
//! kernels before 5.11, which goes over descriptor numbers that may not be
//! open, where rustix wants a `BorrowedFd` of an open one).
//!
//! On x86_64 and aarch64 they are the `syscall`/`svc` instruction itself. On
//! any other architecture they go through libc's `syscall()`, and `spawn`
//! then keeps daimond's thread suspended until the child has exec'd
//! (CLONE_VFORK), so that the `errno` they write harms nothing.

/// Whether these calls leave `errno` alone, so that the child may run
/// alongside daimond.
pub const ERRNO_FREE: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// A system call with up to six arguments; returns `-errno` on failure.
///
/// # Safety
/// The arguments must be what system call `nr` expects (valid pointers for
/// the duration of the call and so on); the caller answers for the effects.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub unsafe fn syscall6(nr: libc::c_long, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the x86_64 Linux system call convention: number in rax,
    // arguments in rdi, rsi, rdx, r10, r8, r9; the kernel clobbers rcx and
    // r11 and returns in rax. The caller vouches for the arguments.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a[0],
            in("rsi") a[1],
            in("rdx") a[2],
            in("r10") a[3],
            in("r8") a[4],
            in("r9") a[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// A system call with up to six arguments; returns `-errno` on failure.
///
/// # Safety
/// As for the x86_64 version.
#[cfg(target_arch = "aarch64")]
#[inline(always)]
pub unsafe fn syscall6(nr: libc::c_long, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the aarch64 Linux system call convention: number in x8,
    // arguments in x0..x5, result in x0. The caller vouches for the arguments.
    unsafe {
        std::arch::asm!(
            "svc 0",
            in("x8") nr,
            inlateout("x0") a[0] as isize => ret,
            in("x1") a[1],
            in("x2") a[2],
            in("x3") a[3],
            in("x4") a[4],
            in("x5") a[5],
            options(nostack),
        );
    }
    ret
}

/// A system call with up to six arguments; returns `-errno` on failure.
///
/// # Safety
/// As for the x86_64 version.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub unsafe fn syscall6(nr: libc::c_long, a: [usize; 6]) -> isize {
    // SAFETY: the caller vouches for the arguments; `errno` is read right
    // after the call that set it.
    unsafe {
        let r = libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        if r < 0 {
            -(*libc::__errno_location() as isize)
        } else {
            r as isize
        }
    }
}

/// [`syscall6`] with fewer arguments (the rest are zero).
///
/// # Safety
/// As for [`syscall6`].
#[inline(always)]
pub unsafe fn syscall(nr: libc::c_long, args: &[usize]) -> isize {
    let mut a = [0usize; 6];
    a[..args.len()].copy_from_slice(args);
    // SAFETY: forwarded; unused registers are zero.
    unsafe { syscall6(nr, a) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_errors_come_back_in_the_result_and_errno_is_untouched() {
        // SAFETY: getpid takes no argument.
        let pid = unsafe { syscall(libc::SYS_getpid, &[]) };
        assert_eq!(pid, std::process::id() as isize);
        // SAFETY: setting errno to a marker, then a call that fails (a
        // descriptor that cannot be open).
        unsafe { *libc::__errno_location() = 12345 };
        let r = unsafe { syscall(libc::SYS_close, &[(i32::MAX - 1) as usize]) };
        assert_eq!(r, -(libc::EBADF as isize));
        if ERRNO_FREE {
            // SAFETY: reading this thread's errno.
            assert_eq!(unsafe { *libc::__errno_location() }, 12345);
        }
    }
}
