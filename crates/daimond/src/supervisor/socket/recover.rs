//! Getting a socket unit's listeners back after daimond was killed.
//!
//! Which socket units were started is kept on disk (`state/sockets/active`),
//! and a new daimond starts them again. Their listeners died with the old
//! daimond, except the copies its running service got: binding again would
//! then fail (the address is in use, by that very service). So the new
//! daimond takes copies from the service itself, the descriptors it was
//! given at 3, 4, ... (pidfd_getfd(2), Linux 5.6; the same rights as
//! ptrace), each checked to be a socket bound where its `Listen*=` line says.
//! What cannot be recovered is bound afresh.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use daimon_unit::{Listen, ListenAddress, ListenKind};
use nix::sys::socket::{SockaddrStorage, getsockname};

use super::bind::{Opened, describe};

fn file(state: &Path) -> std::path::PathBuf {
    state.join("sockets").join("active")
}

pub fn load_active(state: &Path) -> std::collections::BTreeSet<String> {
    crate::persist::load_names(&file(state))
}

pub fn save_active<'a>(
    state: &Path,
    names: impl Iterator<Item = &'a String>,
) -> std::io::Result<()> {
    std::fs::create_dir_all(state.join("sockets"))?;
    crate::persist::save_names(&file(state), names)
}

/// A copy of descriptor `fd` of process `pid`.
fn take(pid: u32, fd: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open(2) on a PID; the result is a new descriptor or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0) };
    if pidfd < 0 {
        return None;
    }
    // SAFETY: the descriptor was just returned to us.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    // SAFETY: pidfd_getfd(2) returns a new close-on-exec descriptor or -1.
    let got = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    // SAFETY: a new descriptor owned by nobody else.
    (got >= 0).then(|| unsafe { OwnedFd::from_raw_fd(got as i32) })
}

/// Whether `fd` is a socket bound where `l` says.
fn bound_as(fd: &OwnedFd, l: &Listen) -> bool {
    let Ok(addr) = getsockname::<SockaddrStorage>(fd.as_raw_fd()) else {
        return false;
    };
    match &l.address {
        ListenAddress::Port(p) => {
            let port = addr
                .as_sockaddr_in6()
                .map(|a| a.port())
                .or_else(|| addr.as_sockaddr_in().map(|a| a.port()));
            port == Some(*p)
        }
        ListenAddress::Inet(want) => {
            let got = addr
                .as_sockaddr_in6()
                .map(|a| std::net::SocketAddr::from((a.ip(), a.port())))
                .or_else(|| {
                    addr.as_sockaddr_in()
                        .map(|a| std::net::SocketAddr::from((a.ip(), a.port())))
                });
            got == Some(*want)
        }
        ListenAddress::Path(p) => addr
            .as_unix_addr()
            .and_then(|u| u.path())
            .is_some_and(|got| got == p.as_path()),
        ListenAddress::Abstract(n) => addr
            .as_unix_addr()
            .and_then(|u| u.as_abstract())
            .is_some_and(|got| got == n.as_bytes()),
    }
}

/// The listeners of `listen` as the running main process `pid` holds them
/// at 3, 4, ... (`first` is where this socket unit's start, when a service
/// has several sockets); `None` unless every one is found.
pub fn from_service(pid: u32, first: i32, listen: &[Listen]) -> Option<Vec<Opened>> {
    let mut out = Vec::new();
    for (i, l) in listen.iter().enumerate() {
        if l.kind == ListenKind::Fifo {
            return None;
        }
        let fd = take(pid, first + i as i32)?;
        if fd.as_raw_fd() < 0 || !bound_as(&fd, l) {
            return None;
        }
        out.push(Opened {
            fd,
            what: describe(l),
        });
    }
    Some(out)
}
