//! daimond as a service of a service manager: sd_notify(3) to whoever started it.
//!
//! Owns the client side of the notification protocol for daimond itself: when
//! `daimond --foreground` runs with `NOTIFY_SOCKET` set (as `Type=notify` under
//! systemd, or under a daimond), `READY=1` with `MAINPID=` and `STATUS=` once the socket
//! accepts connections, and `STOPPING=1` when shutdown begins. The address is a
//! socket path or, starting with `@`, an abstract name (sd_notify(3)). Sending
//! never blocks and a failure is only logged: the manager's timeout speaks then.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// The address `NOTIFY_SOCKET` names: a path, or `@name` in the abstract namespace.
fn address(value: &str) -> io::Result<SocketAddr> {
    match value.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())
        }
        None if value.starts_with('/') => SocketAddr::from_pathname(value),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "NOTIFY_SOCKET must be an absolute path or start with @",
        )),
    }
}

/// A daimond started in the background (by the `daimon` CLI) is nobody's
/// notify service: a `NOTIFY_SOCKET` it inherited belongs to whatever ran the
/// CLI, which must not hear `READY=1` from us. Call before any thread exists.
pub fn only_in_foreground(foreground: bool) {
    if !foreground {
        // SAFETY: called first thing in `main`, while the process has one thread
        // (before daemonizing, the log thread and the runtime), so nothing reads
        // the environment concurrently.
        unsafe { std::env::remove_var("NOTIFY_SOCKET") };
    }
}

/// Sends `state` to `NOTIFY_SOCKET`; `Ok(false)` when it is not set.
pub fn notify(state: &str) -> io::Result<bool> {
    let Some(value) = std::env::var_os("NOTIFY_SOCKET").filter(|v| !v.is_empty()) else {
        return Ok(false);
    };
    let addr = address(&value.to_string_lossy())?;
    let sock = UnixDatagram::unbound()?;
    sock.set_nonblocking(true)?;
    sock.send_to_addr(state.as_bytes(), &addr)?;
    Ok(true)
}

fn send(state: &str) {
    if let Err(e) = notify(state) {
        tracing::warn!("cannot notify the service manager (NOTIFY_SOCKET): {e}");
    }
}

/// The socket accepts connections: ready.
pub fn ready(socket: &std::path::Path) {
    send(&format!(
        "READY=1\nMAINPID={}\nSTATUS=Listening on {}",
        std::process::id(),
        socket.display()
    ));
}

/// Shutdown has begun.
pub fn stopping() {
    send("STOPPING=1\nSTATUS=Stopping every service");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(address("/run/x/notify").is_ok_and(|a| a.as_pathname().is_some()));
        assert!(address("@daimon/test").is_ok_and(|a| {
            use std::os::linux::net::SocketAddrExt;
            a.as_abstract_name() == Some(b"daimon/test".as_slice())
        }));
        assert!(address("relative").is_err());
    }
}
