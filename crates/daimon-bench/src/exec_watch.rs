//! Exec times from the kernel's process-events connector (netlink,
//! `CONFIG_PROC_EVENTS`): every `execve` is reported with the kernel's
//! CLOCK_MONOTONIC stamp, so the bench learns when a replacement program ran
//! without polling /proc (which on a small machine takes a CPU away from the
//! daemon being measured, and adds its own lag). Needs CAP_NET_ADMIN (root);
//! callers fall back to polling without it.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

const NETLINK_CONNECTOR: i32 = 11;
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_EVENT_EXEC: u32 = 2;
/// nlmsghdr (16 bytes) then cn_msg (20 bytes).
const HEADERS: usize = 16 + 20;

/// A subscription to exec events.
pub struct ExecWatch {
    sock: OwnedFd,
}

/// One exec: when it happened (CLOCK_MONOTONIC, nanoseconds).
#[derive(Debug, Clone, Copy)]
pub struct Exec {
    pub at_ns: u64,
}

impl ExecWatch {
    pub fn open() -> io::Result<ExecWatch> {
        // SAFETY: plain socket creation; the descriptor is owned at once.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                NETLINK_CONNECTOR,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_nl is plain data; zeroed is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        addr.nl_pid = 0;
        addr.nl_groups = CN_IDX_PROC;
        // SAFETY: `addr` is a valid sockaddr_nl of the given size.
        let r = unsafe {
            libc::bind(
                sock.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        // nlmsghdr, cn_msg {idx, val, seq, ack, len, flags}, then the op.
        let mut msg = Vec::with_capacity(HEADERS + 4);
        let total = (HEADERS + 4) as u32;
        msg.extend_from_slice(&total.to_ne_bytes());
        msg.extend_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
        msg.extend_from_slice(&0u16.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(&std::process::id().to_ne_bytes());
        msg.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
        msg.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(&4u16.to_ne_bytes());
        msg.extend_from_slice(&0u16.to_ne_bytes());
        msg.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
        // SAFETY: `msg` is a valid buffer of the given length.
        let n = unsafe { libc::send(sock.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 200_000,
        };
        // SAFETY: a valid timeval for SO_RCVTIMEO.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&timeout as *const libc::timeval).cast(),
                size_of::<libc::timeval>() as u32,
            );
        }
        Ok(ExecWatch { sock })
    }

    /// The next exec of a process for which `wanted` holds, within `limit`.
    pub fn next(&self, limit: Duration, wanted: impl Fn(u32) -> bool) -> Option<Exec> {
        let end = now_ns() + limit.as_nanos() as u64;
        let mut buf = [0u8; 4096];
        while now_ns() < end {
            // SAFETY: `buf` is writable for its whole length.
            let n =
                unsafe { libc::recv(self.sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN)) {
                    continue;
                }
                return None;
            }
            let msg = &buf[..n as usize];
            // proc_event: what, cpu, timestamp_ns, then for exec: pid, tgid.
            let field = |at: usize, len: usize| msg.get(HEADERS + at..HEADERS + at + len);
            let (Some(what), Some(ts), Some(tgid)) = (field(0, 4), field(8, 8), field(20, 4))
            else {
                continue;
            };
            let what = u32::from_ne_bytes(what.try_into().ok()?);
            if what != PROC_EVENT_EXEC {
                continue;
            }
            let pid = u32::from_ne_bytes(tgid.try_into().ok()?);
            if wanted(pid) {
                return Some(Exec {
                    at_ns: u64::from_ne_bytes(ts.try_into().ok()?),
                });
            }
        }
        None
    }
}

/// CLOCK_MONOTONIC now, in nanoseconds (the clock of the events' stamps).
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
