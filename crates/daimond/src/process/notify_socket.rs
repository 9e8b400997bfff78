//! The notification socket services report readiness on (sd_notify(3)).
//!
//! Owns one Unix datagram socket per daimond — `notify.sock` in the runtime
//! directory, or a name in the abstract namespace when services may run as
//! other users who cannot enter that 0700 directory (see [`NotifyAddr`]) — and
//! reading it without ever blocking the event loop: tokio wakes
//! the owner when a datagram is there, `recvmsg` (non-blocking) takes it with
//! the sender's credentials (SO_PASSCRED: the kernel attaches the real PID and
//! UID of every sender, which cannot be forged by an unprivileged process).
//! Descriptors passed along (`FDSTORE=1`) are closed at once. It reports
//! datagrams; deciding who may speak is the supervisor's.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::SocketAddr;
use std::path::PathBuf;

use nix::sys::socket::{ControlMessageOwned, MsgFlags, UnixAddr, recvmsg, setsockopt, sockopt};
use tokio::io::Interest;
use tokio::net::UnixDatagram;

/// systemd reads at most `NOTIFY_BUFFER_MAX` (PIPE_BUF, 4 KiB) per message; a
/// little more is accepted, longer datagrams are dropped whole.
pub const MAX_DATAGRAM: usize = 8 * 1024;

/// One received notification.
#[derive(Debug)]
pub struct Datagram {
    pub pid: u32,
    pub uid: u32,
    pub text: String,
    /// Descriptors passed with it (`FDSTORE=1`, sd_pid_notify_with_fds(3)).
    pub fds: Vec<OwnedFd>,
}

/// Where the socket lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyAddr {
    Path(PathBuf),
    /// A name in the abstract namespace (no file, gone with the socket).
    Abstract(String),
}

impl NotifyAddr {
    /// `NOTIFY_SOCKET`'s value: the path, or `@name` (sd_notify(3)).
    pub fn env_value(&self) -> String {
        match self {
            NotifyAddr::Path(p) => p.to_string_lossy().into_owned(),
            NotifyAddr::Abstract(n) => format!("@{n}"),
        }
    }
}

pub struct NotifySocket {
    sock: UnixDatagram,
    addr: NotifyAddr,
}

impl NotifySocket {
    /// Binds `addr` (a stale file from an earlier daimond is replaced). The
    /// socket is writable by everyone who can reach it: who may speak for a
    /// unit is decided from the credentials of each datagram. Must run inside
    /// the runtime (the socket joins its reactor).
    pub fn bind(addr: &NotifyAddr) -> io::Result<NotifySocket> {
        let std_sock = match addr {
            NotifyAddr::Path(path) => {
                match std::fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
                let s = std::os::unix::net::UnixDatagram::bind(path)?;
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666));
                s
            }
            NotifyAddr::Abstract(name) => std::os::unix::net::UnixDatagram::bind_addr(
                &SocketAddr::from_abstract_name(name.as_bytes())?,
            )?,
        };
        std_sock.set_nonblocking(true)?;
        let sock = UnixDatagram::from_std(std_sock)?;
        setsockopt(&sock, sockopt::PassCred, &true).map_err(io::Error::from)?;
        Ok(NotifySocket {
            sock,
            addr: addr.clone(),
        })
    }

    /// The next well-formed datagram. Oversized or credential-less datagrams
    /// are dropped (with a debug message); errors other than "nothing there"
    /// are logged and reading goes on.
    pub async fn recv(&self) -> Datagram {
        loop {
            if let Err(e) = self.sock.readable().await {
                tracing::debug!("notification socket: {e}");
                // The reactor is going away; nothing will come.
                std::future::pending::<()>().await;
            }
            match self.sock.try_io(Interest::READABLE, || self.recv_now()) {
                Ok(Some(d)) => return d,
                Ok(None) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => tracing::debug!("notification socket: {e}"),
            }
        }
    }

    /// A datagram already waiting, without waiting for one: `None` when there
    /// is none (or it was dropped).
    pub fn try_recv(&self) -> Option<Datagram> {
        match self.sock.try_io(Interest::READABLE, || self.recv_now()) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(e) => {
                tracing::debug!("notification socket: {e}");
                None
            }
        }
    }

    /// One `recvmsg` (non-blocking; EINTR retried). `Ok(None)`: a datagram
    /// was read and dropped.
    fn recv_now(&self) -> io::Result<Option<Datagram>> {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut cmsg = nix::cmsg_space!(libc::ucred, [std::os::fd::RawFd; 16]);
        let fd = self.sock.as_raw_fd();
        let (len, flags, creds, fds) = loop {
            let mut iov = [io::IoSliceMut::new(&mut buf)];
            match recvmsg::<UnixAddr>(
                fd,
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_TRUNC,
            ) {
                Ok(m) => {
                    let mut creds = None;
                    let mut fds = Vec::new();
                    for c in m.cmsgs().map_err(io::Error::from)? {
                        match c {
                            ControlMessageOwned::ScmCredentials(u) => {
                                creds = Some((u.pid(), u.uid()))
                            }
                            ControlMessageOwned::ScmRights(v) => fds.extend(v),
                            _ => {}
                        }
                    }
                    break (m.bytes, m.flags, creds, fds);
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let fds: Vec<OwnedFd> = fds
            .into_iter()
            // SAFETY: the kernel just installed this descriptor for us
            // (SCM_RIGHTS); nobody else owns it.
            .map(|raw| unsafe { OwnedFd::from_raw_fd(raw) })
            .collect();
        if flags.intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC) || len > MAX_DATAGRAM {
            tracing::debug!("notification socket: dropped an oversized datagram ({len} bytes)");
            return Ok(None);
        }
        let Some((pid, uid)) = creds.filter(|(p, _)| *p > 0) else {
            tracing::debug!("notification socket: dropped a datagram without credentials");
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        Ok(Some(Datagram {
            pid: pid as u32,
            uid,
            text,
            fds,
        }))
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        if let NotifyAddr::Path(p) = &self.addr {
            let _ = std::fs::remove_file(p);
        }
    }
}
