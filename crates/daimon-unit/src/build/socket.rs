//! `[Socket]` directives (systemd.socket(5)).
//!
//! Every `Listen*=` line goes into one list in file order, because that order
//! is the order of the descriptors the service receives; an empty assignment
//! of any of them resets the whole list, as systemd's
//! `config_parse_socket_listen()` does.

use super::other::one_unit;
use super::{Cx, Outcome};
use crate::model::{BindIpv6Only, Listen, ListenKind, SocketSection};
use crate::syntax::Entry;
use crate::value::ValueError;
use crate::value::boolean::parse_bool;
use crate::value::listen::{ListenAddress, parse_fifo_path, parse_listen_address};
use crate::value::number::{parse_mode, parse_unsigned};

pub(crate) fn new_socket(service: String) -> SocketSection {
    SocketSection {
        listen: Vec::new(),
        accept: false,
        backlog: 4096,
        reuse_port: false,
        bind_ipv6_only: BindIpv6Only::Default,
        socket_user: None,
        socket_group: None,
        socket_mode: 0o666,
        directory_mode: 0o755,
        fd_name: None,
        remove_on_stop: false,
        max_connections: 64,
        service,
    }
}

fn listen(s: &mut SocketSection, cx: &mut Cx<'_, '_>, e: &Entry, kind: ListenKind) {
    let Some(v) = cx.expanded(e) else { return };
    if v.trim().is_empty() {
        s.listen.clear();
        return;
    }
    let parsed = match kind {
        ListenKind::Fifo => parse_fifo_path(&v),
        _ => parse_listen_address(&v),
    };
    let Some(address) = cx.ok(e, parsed) else {
        return;
    };
    // AF_UNIX only (systemd.socket(5): "only valid for AF_UNIX sockets").
    if kind == ListenKind::SequentialPacket
        && !matches!(address, ListenAddress::Path(_) | ListenAddress::Abstract(_))
    {
        cx.error(
            e,
            ValueError::new(
                &v,
                "a Unix socket",
                "a path or @name; SOCK_SEQPACKET is Unix only",
            ),
        );
        return;
    }
    s.listen.push(Listen { kind, address });
}

/// `FileDescriptorName=`: at most 255 printable ASCII characters, no `:`
/// (the separator of `LISTEN_FDNAMES`).
fn fd_name(v: &str) -> Result<String, ValueError> {
    let ok =
        !v.is_empty() && v.len() <= 255 && v.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if ok {
        Ok(v.to_string())
    } else {
        Err(ValueError::new(
            v,
            "a descriptor name",
            "up to 255 printable ASCII characters without ':' or spaces",
        ))
    }
}

fn name(v: &str, what: &str) -> Result<String, ValueError> {
    if v.is_empty() || v.contains(char::is_whitespace) {
        Err(ValueError::new(
            v,
            what,
            "a name or a number, e.g. www-data",
        ))
    } else {
        Ok(v.to_string())
    }
}

pub(crate) fn apply_socket(s: &mut SocketSection, cx: &mut Cx<'_, '_>, e: &Entry) -> Outcome {
    match e.key.as_str() {
        "ListenStream" => listen(s, cx, e, ListenKind::Stream),
        "ListenDatagram" => listen(s, cx, e, ListenKind::Datagram),
        "ListenSequentialPacket" => listen(s, cx, e, ListenKind::SequentialPacket),
        "ListenFIFO" => listen(s, cx, e, ListenKind::Fifo),
        "Accept" => {
            if let Some(b) = cx.parse(e, parse_bool) {
                s.accept = b;
            }
        }
        "Backlog" => {
            if let Some(n) = cx.parse(e, parse_unsigned) {
                s.backlog = n;
            }
        }
        "MaxConnections" => {
            if let Some(n) = cx.parse(e, parse_unsigned) {
                s.max_connections = n.max(1);
            }
        }
        "ReusePort" => {
            if let Some(b) = cx.parse(e, parse_bool) {
                s.reuse_port = b;
            }
        }
        "RemoveOnStop" => {
            if let Some(b) = cx.parse(e, parse_bool) {
                s.remove_on_stop = b;
            }
        }
        "BindIPv6Only" => {
            let v = cx.parse(e, |v| match v {
                "default" => Ok(BindIpv6Only::Default),
                "both" => Ok(BindIpv6Only::Both),
                "ipv6-only" => Ok(BindIpv6Only::Ipv6Only),
                _ => Err(ValueError::new(
                    v,
                    "a BindIPv6Only= mode",
                    "default, both or ipv6-only",
                )),
            });
            if let Some(v) = v {
                s.bind_ipv6_only = v;
            }
        }
        "SocketUser" => s.socket_user = cx.parse(e, |v| name(v, "a user")),
        "SocketGroup" => s.socket_group = cx.parse(e, |v| name(v, "a group")),
        "SocketMode" => {
            if let Some(m) = cx.parse(e, parse_mode) {
                s.socket_mode = m;
            }
        }
        "DirectoryMode" => {
            if let Some(m) = cx.parse(e, parse_mode) {
                s.directory_mode = m;
            }
        }
        "FileDescriptorName" => {
            if let Some(n) = cx.parse(e, fd_name) {
                s.fd_name = Some(n);
            }
        }
        "Service" => {
            if let Some(n) = one_unit(cx, e, ".service") {
                s.service = n;
            }
        }
        _ => return Outcome::Unhandled,
    }
    Outcome::Done
}
