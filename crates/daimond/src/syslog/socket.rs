//! The syslog datagram socket: where it is, taking it over from a dead
//! daemon, and receiving datagrams with their sender's credentials.
//!
//! A path such as `/dev/log` may already be served by another syslog daemon
//! (journald, rsyslog): then `connect()` to it succeeds and daimond leaves it
//! alone. A socket file nobody serves (`connect()` is refused) is a leftover
//! and is replaced, as rsyslog and journald do at start. Every datagram is
//! read with `SO_PASSCRED`: the kernel attaches the sender's real PID and UID
//! (`SCM_CREDENTIALS`), which an unprivileged process cannot forge; that PID,
//! never the one a message claims, places the line in a unit.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, UnixAddr, recvmsg, setsockopt, sockopt};
use tokio::io::Interest;
use tokio::net::UnixDatagram;

/// Longest datagram kept; a longer one is kept cut to this length (journald
/// cuts at its line limit too).
pub const MAX_DATAGRAM: usize = 64 * 1024;

/// Receive buffer asked for (journald asks 8 MiB for /dev/log); the kernel
/// caps it at `net.core.rmem_max` for us.
const RCVBUF: usize = 8 << 20;

/// One received datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// The sender's PID as the kernel reported it.
    pub pid: u32,
    pub bytes: Vec<u8>,
}

/// Whether a live daemon serves the datagram socket at `path`.
pub fn served(path: &Path) -> bool {
    let Ok(probe) = std::os::unix::net::UnixDatagram::unbound() else {
        return false;
    };
    match probe.connect(path) {
        Ok(()) => true,
        // Nobody bound it (a leftover file), or no file at all.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNREFUSED | libc::ENOENT)) => false,
        // Not ours to judge (EACCES, a path that is not a socket): leave it.
        Err(_) => true,
    }
}

pub struct SyslogSocket {
    sock: UnixDatagram,
    path: PathBuf,
}

impl SyslogSocket {
    /// Binds `path`, replacing a leftover socket (or a dangling symlink, as
    /// `/dev/log` often is) that no daemon serves. Refuses a path another
    /// daemon serves or that holds something else. World-writable (0666) as
    /// `/dev/log` is: the credentials of each datagram say who sent it. Must
    /// run inside the runtime (the socket joins its reactor).
    pub fn bind(path: &Path) -> io::Result<SyslogSocket> {
        if served(path) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "another syslog daemon serves it",
            ));
        }
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_socket() || m.file_type().is_symlink() => {
                std::fs::remove_file(path)?;
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "it exists and is not a socket",
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let std_sock = std::os::unix::net::UnixDatagram::bind(path)?;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666));
        std_sock.set_nonblocking(true)?;
        let sock = UnixDatagram::from_std(std_sock)?;
        setsockopt(&sock, sockopt::PassCred, &true).map_err(io::Error::from)?;
        let _ = setsockopt(&sock, sockopt::RcvBuf, &RCVBUF);
        Ok(SyslogSocket {
            sock,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until a datagram may be there.
    pub async fn readable(&self) -> io::Result<()> {
        self.sock.readable().await
    }

    /// A datagram already waiting: `Ok(None)` when one was read and dropped
    /// (no credentials); `WouldBlock` when there is none.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<Datagram>> {
        self.sock
            .try_io(Interest::READABLE, || recv_now(self.sock.as_raw_fd(), buf))
    }

    /// [`Self::try_recv`] even when the reactor has not yet seen the socket
    /// readable: for a look at what arrived during this turn of the loop.
    pub fn recv_waiting(&self, buf: &mut [u8]) -> io::Result<Option<Datagram>> {
        recv_now(self.sock.as_raw_fd(), buf)
    }
}

impl Drop for SyslogSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One `recvmsg` (non-blocking; EINTR retried).
fn recv_now(fd: std::os::fd::RawFd, buf: &mut [u8]) -> io::Result<Option<Datagram>> {
    let mut cmsg = nix::cmsg_space!(libc::ucred, [std::os::fd::RawFd; 16]);
    let (len, creds, fds) = loop {
        let mut iov = [io::IoSliceMut::new(buf)];
        match recvmsg::<UnixAddr>(
            fd,
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => {
                let mut creds = None;
                let mut fds = Vec::new();
                for c in m.cmsgs().map_err(io::Error::from)? {
                    match c {
                        ControlMessageOwned::ScmCredentials(u) => creds = Some(u.pid()),
                        ControlMessageOwned::ScmRights(v) => fds.extend(v),
                        _ => {}
                    }
                }
                break (m.bytes, creds, fds);
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    for raw in fds {
        // SAFETY: the kernel just installed this descriptor for us (SCM_RIGHTS);
        // nobody else owns it, and syslog has no use for it.
        drop(unsafe { OwnedFd::from_raw_fd(raw) });
    }
    let Some(pid) = creds.filter(|p| *p > 0) else {
        return Ok(None);
    };
    Ok(Some(Datagram {
        pid: pid as u32,
        bytes: buf[..len.min(buf.len())].to_vec(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn a_served_socket_is_left_alone_and_a_leftover_is_taken_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        assert!(!served(&path));
        let other = std::os::unix::net::UnixDatagram::bind(&path).expect("bind");
        assert!(served(&path));
        let rt = rt();
        rt.block_on(async {
            let e = SyslogSocket::bind(&path).err().expect("refused");
            assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        });
        // The other daemon died and left its file behind.
        drop(other);
        assert!(path.exists() && !served(&path));
        rt.block_on(async {
            let s = SyslogSocket::bind(&path).expect("taken over");
            let client = std::os::unix::net::UnixDatagram::unbound().expect("client");
            client.send_to(b"<11>bot: hi", &path).expect("send");
            let mut buf = vec![0u8; MAX_DATAGRAM];
            s.readable().await.expect("readable");
            let dg = s.try_recv(&mut buf).expect("recv").expect("a datagram");
            assert_eq!(dg.bytes, b"<11>bot: hi");
            assert_eq!(dg.pid, std::process::id());
            drop(s);
        });
        assert!(!path.exists(), "removed at close");
    }

    #[test]
    fn a_regular_file_is_never_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        std::fs::write(&path, b"keep me").expect("write");
        rt().block_on(async {
            assert!(SyslogSocket::bind(&path).is_err());
        });
        assert_eq!(std::fs::read(&path).expect("read"), b"keep me");
    }

    #[test]
    fn a_dangling_symlink_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        std::os::unix::fs::symlink(dir.path().join("gone"), &path).expect("symlink");
        rt().block_on(async {
            let s = SyslogSocket::bind(&path).expect("bound");
            assert!(served(s.path()));
        });
    }
}
