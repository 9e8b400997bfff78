//! Opening a socket unit's listeners, as systemd's `socket_address_listen()`
//! and `fifo_address_create()` do: close-on-exec and non-blocking descriptors,
//! `SO_REUSEADDR` on IP sockets (a restarted daimond binds again at once),
//! `IPV6_V6ONLY` from `BindIPv6Only=`, a port alone on `[::]` (both families)
//! where the host has IPv6, Unix socket files and FIFOs created with
//! `SocketMode=` and owned by `SocketUser=`/`SocketGroup=`.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt};
use std::path::{Path, PathBuf};

use daimon_unit::{BindIpv6Only, Listen, ListenAddress, ListenKind, SocketSection};
use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, SockaddrIn6, UnixAddr, bind, listen,
    setsockopt, socket, sockopt,
};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Group, Uid, User};

/// One open listener.
#[derive(Debug)]
pub struct Opened {
    pub fd: OwnedFd,
    /// What it listens on, for messages and `status` (`stream 127.0.0.1:8080`).
    pub what: String,
}

/// Opens every listener of `s` in order; the first failure closes what was
/// opened and names the listener.
pub fn open_all(s: &SocketSection) -> Result<Vec<Opened>, String> {
    let owner = owner(s)?;
    s.listen
        .iter()
        .map(|l| {
            let what = describe(l);
            open_one(l, s, owner)
                .map(|fd| Opened {
                    fd,
                    what: what.clone(),
                })
                .map_err(|e| format!("cannot listen on {what}: {e}"))
        })
        .collect()
}

pub fn describe(l: &Listen) -> String {
    let kind = match l.kind {
        ListenKind::Stream => "stream",
        ListenKind::Datagram => "datagram",
        ListenKind::SequentialPacket => "sequential-packet",
        ListenKind::Fifo => "fifo",
    };
    format!("{kind} {}", l.address)
}

type Owner = (Option<Uid>, Option<Gid>);

/// `SocketUser=`/`SocketGroup=`, resolved before anything is created.
fn owner(s: &SocketSection) -> Result<Owner, String> {
    let uid = match &s.socket_user {
        None => None,
        Some(u) => Some(match u.parse::<u32>() {
            Ok(n) => Uid::from_raw(n),
            Err(_) => User::from_name(u)
                .ok()
                .flatten()
                .map(|x| x.uid)
                .ok_or_else(|| format!("SocketUser={u}: no such user"))?,
        }),
    };
    let gid = match &s.socket_group {
        None => None,
        Some(g) => Some(match g.parse::<u32>() {
            Ok(n) => Gid::from_raw(n),
            Err(_) => Group::from_name(g)
                .ok()
                .flatten()
                .map(|x| x.gid)
                .ok_or_else(|| format!("SocketGroup={g}: no such group"))?,
        }),
    };
    Ok((uid, gid))
}

fn open_one(l: &Listen, s: &SocketSection, owner: Owner) -> Result<OwnedFd, String> {
    if l.kind == ListenKind::Fifo {
        let ListenAddress::Path(p) = &l.address else {
            return Err("a FIFO needs a path".into());
        };
        return fifo(p, s, owner);
    }
    let ty = match l.kind {
        ListenKind::Datagram => SockType::Datagram,
        ListenKind::SequentialPacket => SockType::SeqPacket,
        _ => SockType::Stream,
    };
    let fd = match &l.address {
        ListenAddress::Port(port) => {
            match inet(ListenAddress::any_v6(*port), ty, s) {
                // No IPv6 on this host: IPv4's any address.
                Err(Errno::EAFNOSUPPORT) => {
                    inet(std::net::SocketAddr::from(([0, 0, 0, 0], *port)), ty, s)
                }
                r => r,
            }
            .map_err(|e| e.desc().to_string())?
        }
        ListenAddress::Inet(a) => inet(*a, ty, s).map_err(|e| e.desc().to_string())?,
        ListenAddress::Path(p) => unix_path(p, ty, s, owner)?,
        ListenAddress::Abstract(name) => {
            let fd = new_socket(AddressFamily::Unix, ty).map_err(|e| e.desc().to_string())?;
            let addr = UnixAddr::new_abstract(name.as_bytes()).map_err(|e| e.desc().to_string())?;
            bind(fd.as_raw_fd(), &addr).map_err(|e| e.desc().to_string())?;
            fd
        }
    };
    if ty != SockType::Datagram {
        let backlog =
            Backlog::new(s.backlog.min(i32::MAX as u32) as i32).unwrap_or(Backlog::MAXCONN);
        listen(&fd, backlog).map_err(|e| e.desc().to_string())?;
    }
    Ok(fd)
}

fn new_socket(family: AddressFamily, ty: SockType) -> Result<OwnedFd, Errno> {
    socket(
        family,
        ty,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
}

fn inet(a: std::net::SocketAddr, ty: SockType, s: &SocketSection) -> Result<OwnedFd, Errno> {
    let family = if a.is_ipv6() {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    let fd = new_socket(family, ty)?;
    setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    if s.reuse_port {
        setsockopt(&fd, sockopt::ReusePort, &true)?;
    }
    match a {
        std::net::SocketAddr::V6(v6) => {
            match s.bind_ipv6_only {
                BindIpv6Only::Default => {}
                BindIpv6Only::Both => setsockopt(&fd, sockopt::Ipv6V6Only, &false)?,
                BindIpv6Only::Ipv6Only => setsockopt(&fd, sockopt::Ipv6V6Only, &true)?,
            }
            bind(fd.as_raw_fd(), &SockaddrIn6::from(v6))?;
        }
        std::net::SocketAddr::V4(v4) => bind(fd.as_raw_fd(), &SockaddrIn::from(v4))?,
    }
    Ok(fd)
}

/// The parent directories of a socket file or FIFO, with `DirectoryMode=`.
fn parents(p: &Path, s: &SocketSection) -> Result<(), String> {
    match p.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(s.directory_mode)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display())),
        _ => Ok(()),
    }
}

/// `SocketMode=` and the owner on the file just created.
fn finish_file(p: &Path, s: &SocketSection, owner: Owner) -> Result<(), String> {
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        p,
        Mode::from_bits_truncate(s.socket_mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(|e| format!("SocketMode= on {}: {}", p.display(), e.desc()))?;
    if owner.0.is_some() || owner.1.is_some() {
        nix::unistd::chown(p, owner.0, owner.1)
            .map_err(|e| format!("SocketUser=/SocketGroup= on {}: {}", p.display(), e.desc()))?;
    }
    Ok(())
}

fn unix_path(
    p: &PathBuf,
    ty: SockType,
    s: &SocketSection,
    owner: Owner,
) -> Result<OwnedFd, String> {
    parents(p, s)?;
    let fd = new_socket(AddressFamily::Unix, ty).map_err(|e| e.desc().to_string())?;
    let addr = UnixAddr::new(p.as_path()).map_err(|e| e.desc().to_string())?;
    match bind(fd.as_raw_fd(), &addr) {
        Ok(()) => {}
        // A socket file left by an earlier run (nothing listens on a file
        // once its listener is closed): replace it, as systemd does. Any
        // other kind of file stays.
        Err(Errno::EADDRINUSE)
            if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket()) =>
        {
            std::fs::remove_file(p).map_err(|e| format!("cannot replace {}: {e}", p.display()))?;
            bind(fd.as_raw_fd(), &addr).map_err(|e| e.desc().to_string())?;
        }
        Err(e) => return Err(e.desc().to_string()),
    }
    finish_file(p, s, owner)?;
    Ok(fd)
}

/// A FIFO opened read-write, so that it never reads end of file when the
/// last writer goes (systemd opens it O_RDWR for the same reason).
fn fifo(p: &Path, s: &SocketSection, owner: Owner) -> Result<OwnedFd, String> {
    parents(p, s)?;
    match nix::unistd::mkfifo(p, Mode::from_bits_truncate(s.socket_mode)) {
        Ok(()) => {}
        Err(Errno::EEXIST)
            if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_fifo()) => {}
        Err(e) => return Err(format!("{}: {}", p.display(), e.desc())),
    }
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("{}: a NUL byte in the path", p.display()))?;
    // SAFETY: a valid C string; the descriptor returned is new and ours.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY,
        )
    };
    if fd < 0 {
        return Err(format!(
            "{}: {}",
            p.display(),
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    finish_file(p, s, owner)?;
    Ok(fd)
}

/// `RemoveOnStop=yes`: the socket files and FIFOs go when the unit stops.
pub fn remove_files(s: &SocketSection) {
    for l in &s.listen {
        if let ListenAddress::Path(p) = &l.address {
            let kind = std::fs::symlink_metadata(p).map(|m| m.file_type());
            if kind.is_ok_and(|k| k.is_socket() || k.is_fifo()) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(listen: Vec<Listen>) -> SocketSection {
        let mut s = daimon_unit::parse_unit(
            "t.socket",
            Path::new("/t.socket"),
            b"[Socket]\nListenStream=1\n",
            &[],
            &daimon_unit::SpecifierContext::from_env(false),
        )
        .unit
        .and_then(|u| u.socket().cloned())
        .expect("a socket section");
        s.listen = listen;
        s
    }

    #[test]
    fn a_stream_on_loopback_accepts_a_connection() {
        let s = section(vec![Listen {
            kind: ListenKind::Stream,
            address: ListenAddress::Inet("127.0.0.1:0".parse().unwrap()),
        }]);
        let opened = open_all(&s).expect("open");
        let addr = nix::sys::socket::getsockname::<SockaddrIn>(opened[0].fd.as_raw_fd())
            .expect("getsockname");
        std::net::TcpStream::connect(("127.0.0.1", addr.port())).expect("connect");
    }

    #[test]
    fn unix_files_get_their_mode_and_a_stale_one_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/app.sock");
        let fifo_path = dir.path().join("app.fifo");
        let mut s = section(vec![
            Listen {
                kind: ListenKind::Stream,
                address: ListenAddress::Path(path.clone()),
            },
            Listen {
                kind: ListenKind::Fifo,
                address: ListenAddress::Path(fifo_path.clone()),
            },
        ]);
        s.socket_mode = 0o600;
        let first = open_all(&s).expect("open");
        drop(first);
        // The file stays after close; a second start replaces it.
        let again = open_all(&s).expect("open again");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::os::unix::net::UnixStream::connect(&path).expect("connect");
        assert!(
            std::fs::metadata(&fifo_path)
                .expect("fifo")
                .file_type()
                .is_fifo()
        );
        assert_eq!(again.len(), 2);
    }

    #[test]
    fn a_port_in_use_is_named_in_the_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let s = section(vec![Listen {
            kind: ListenKind::Stream,
            address: ListenAddress::Inet(taken.local_addr().unwrap()),
        }]);
        let e = open_all(&s).expect_err("in use");
        assert!(e.contains("cannot listen on stream 127.0.0.1:"), "{e}");
        assert!(e.contains("in use"), "{e}");
    }
}
