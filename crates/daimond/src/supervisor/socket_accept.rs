//! `Accept=yes` sockets (systemd.socket(5)): daimond accepts each connection
//! and starts one instance of `NAME@.service` for it, the connection being the
//! instance's only descriptor (fd 3, `LISTEN_FDS=1`, `LISTEN_FDNAMES=connection`)
//! and, with `StandardInput=socket`, its standard input and output too, the
//! way inetd ran its services.
//!
//! Instances are named as systemd names them, `NAME@N-LOCAL-REMOTE.service`
//! for IP and `NAME@N-PID-UID.service` for Unix peers. At most
//! `MaxConnections=` instances run per socket; a connection beyond that is
//! closed at once, as systemd does. A connection is held by daimond until its
//! instance is inactive; an instance that ended well is then forgotten.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use daimon_unit::{ServiceSection, StdInput, StdOutput};

use super::jobs::{Reply, Verb};
use super::machine::SubState;
use super::owner::Owner;
use super::socket::Accepted;
use super::sockets::{accept_template, pass_fds};
use crate::process::spawn::{SpawnSpec, Stdio};

/// At most this many connections are taken per wake-up, so one busy socket
/// never holds up the owner; the watch reports the rest at once.
const ACCEPT_BATCH: usize = 64;

impl Owner {
    /// The listener became readable: accept what waits.
    pub(super) fn accept_connections(&mut self, name: &str) {
        let Some(section) = self
            .units
            .get(name)
            .and_then(|e| e.loaded().or(e.def_unit()))
            .and_then(|u| u.socket().cloned())
        else {
            return;
        };
        let listeners: Vec<std::os::fd::RawFd> = match self.sockets.runs.get(name) {
            Some(r) => r.fds.iter().map(|o| o.fd.as_raw_fd()).collect(),
            None => return,
        };
        let template = accept_template(name);
        let prefix = template.trim_end_matches("@.service").to_string();
        for listener in listeners {
            for _ in 0..ACCEPT_BATCH {
                // SAFETY: accept4 on our listening descriptor; a new
                // descriptor is returned, close-on-exec, owned by nobody else.
                let fd = unsafe {
                    libc::accept4(
                        listener,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        libc::SOCK_CLOEXEC,
                    )
                };
                if fd < 0 {
                    // EAGAIN: nothing more waits. A datagram socket cannot
                    // accept (EOPNOTSUPP/EINVAL): nothing to do for it.
                    break;
                }
                // SAFETY: `fd` was just returned by accept4.
                let conn = unsafe { OwnedFd::from_raw_fd(fd) };
                let running = self
                    .sockets
                    .accepted
                    .values()
                    .filter(|a| a.socket == name)
                    .count();
                if running >= section.max_connections as usize {
                    self.message(
                        name,
                        4,
                        format!(
                            "{name}: too many incoming connections ({running}, MaxConnections={}); dropping one",
                            section.max_connections
                        ),
                    );
                    continue;
                }
                let n = self.sockets.next_connection;
                self.sockets.next_connection += 1;
                let (label, remote) = describe_peer(&conn);
                let instance = format!("{prefix}@{n}-{label}.service");
                if let Err(e) = self.resolve(&instance) {
                    let why = match e {
                        daimon_proto::Response::Error(r) => r.message,
                        _ => format!("{instance} cannot be loaded"),
                    };
                    self.message(name, 3, format!("{name}: {why}"));
                    continue;
                }
                self.sockets.accepted.insert(
                    instance.clone(),
                    Accepted {
                        socket: name.to_string(),
                        fd: conn,
                        remote,
                    },
                );
                self.run_txn(Verb::Start, vec![instance], Reply::Nobody);
            }
        }
    }

    /// An instance's main process gets its connection.
    pub(super) fn connection_env(
        &mut self,
        unit: &str,
        svc: &ServiceSection,
        spec: &mut SpawnSpec,
    ) {
        let Some(a) = self.sockets.accepted.get(unit) else {
            return;
        };
        let fd = a.fd.as_raw_fd();
        if let Some(r) = a.remote {
            for v in [
                format!("REMOTE_ADDR={}", r.ip()),
                format!("REMOTE_PORT={}", r.port()),
            ] {
                if let Ok(c) = std::ffi::CString::new(v) {
                    spec.envp.push(c);
                }
            }
        }
        // StandardOutput= defaults to the input when that is a socket
        // (systemd.exec(5)); daimon cannot tell a default journal from a
        // written one, so only an explicit other destination keeps it.
        if svc.standard_input == StdInput::Socket {
            spec.stdin = Stdio::Fd(fd);
            if matches!(
                svc.standard_output,
                StdOutput::Socket | StdOutput::Inherit | StdOutput::Journal
            ) {
                spec.stdout = Stdio::Fd(fd);
                if svc.standard_error == StdOutput::Inherit {
                    spec.stderr = Stdio::Fd(fd);
                }
            }
        } else if svc.standard_output == StdOutput::Socket {
            spec.stdout = Stdio::Fd(fd);
        }
        if svc.standard_error == StdOutput::Socket {
            spec.stderr = Stdio::Fd(fd);
        }
        pass_fds(spec, vec![fd], &["connection".to_string()]);
    }

    /// Connections whose instance is inactive again are closed; an instance
    /// that ended well is forgotten (a failed one stays for `status`).
    pub(super) fn release_connections(&mut self) {
        if self.sockets.accepted.is_empty() {
            return;
        }
        let done: Vec<String> = self
            .sockets
            .accepted
            .keys()
            .filter(|u| !self.unit_busy(u))
            .cloned()
            .collect();
        for unit in done {
            self.sockets.accepted.remove(&unit);
            let forget = self
                .units
                .get(&unit)
                .is_some_and(|e| e.machine.state == SubState::Dead && e.waits.is_empty());
            if forget {
                self.units.remove(&unit);
            }
        }
    }
}

/// The instance label systemd uses (`LOCAL-REMOTE` for IP, `PID-UID` for a
/// Unix peer), kept to the characters a unit name allows, and the remote
/// address for `REMOTE_ADDR`.
fn describe_peer(conn: &OwnedFd) -> (String, Option<std::net::SocketAddr>) {
    use nix::sys::socket::{SockaddrStorage, getpeername, getsockname, getsockopt, sockopt};
    let fd = conn.as_raw_fd();
    let inet = |s: &SockaddrStorage| -> Option<std::net::SocketAddr> {
        if let Some(v4) = s.as_sockaddr_in() {
            return Some(std::net::SocketAddr::from((v4.ip(), v4.port())));
        }
        s.as_sockaddr_in6()
            .map(|v6| std::net::SocketAddr::from((v6.ip(), v6.port())))
    };
    let local = getsockname::<SockaddrStorage>(fd).ok();
    let peer = getpeername::<SockaddrStorage>(fd).ok();
    let (l, p) = (local.as_ref().and_then(inet), peer.as_ref().and_then(inet));
    let label = match (l, p) {
        (Some(l), Some(p)) => format!("{}:{}-{}:{}", l.ip(), l.port(), p.ip(), p.port()),
        _ => match getsockopt(conn, sockopt::PeerCredentials) {
            Ok(c) => format!("{}-{}", c.pid(), c.uid()),
            Err(_) => "unknown".to_string(),
        },
    };
    let label = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    (label, p)
}
