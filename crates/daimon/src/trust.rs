//! Whether the daimond we are about to talk to is really ours.
//!
//! Owns the CLI's checks before anything is sent: the runtime directory passes
//! the same rule daimond applies to it ([`daimon_proto::check_runtime_dir`]:
//! a real directory owned by us, not writable by group or others), the socket
//! is a socket owned by us, and the process at the other end runs as us
//! (SO_PEERCRED, which the kernel fills in and no peer can forge). Root is
//! trusted as well: in system mode the directory and socket are root's, and
//! root could read our requests anyway. Without these checks, a predictable
//! `/tmp/daimon-$UID` created first by another user would receive our requests,
//! secrets in `run -e` included.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use daimon_proto::{Paths, Untrusted, check_runtime_dir, check_socket, effective_uid};

use crate::error::CliError;

/// Who may own the runtime directory, the socket and the daemon: us, or root.
fn owners() -> [u32; 2] {
    [effective_uid(), 0]
}

fn refuse(what: &str, e: Untrusted) -> CliError {
    CliError::fail(format!(
        "refusing to talk to daimond: {what} {e}; nothing was sent"
    ))
}

/// Checks the runtime directory; one that does not exist yet is fine (daimond
/// creates it, 0700, when the CLI starts it).
pub fn runtime_dir(paths: &Paths) -> Result<(), CliError> {
    match check_runtime_dir(&paths.runtime, &owners()) {
        Err(e) if !e.is_missing() => Err(refuse("the runtime directory", e)),
        _ => Ok(()),
    }
}

/// Checks a fresh connection (nothing sent on it yet): the directory again (it
/// may have appeared since), the socket, and the peer's uid.
pub fn daemon(paths: &Paths, stream: UnixStream) -> Result<UnixStream, CliError> {
    let trusted = owners();
    check_runtime_dir(&paths.runtime, &trusted).map_err(|e| refuse("the runtime directory", e))?;
    check_socket(&paths.socket(), &trusted).map_err(|e| refuse("the socket", e))?;
    let uid = peer_uid(&stream).map_err(|e| {
        CliError::fail(format!(
            "cannot tell who listens on {}: {e}; nothing was sent",
            paths.socket().display()
        ))
    })?;
    if !trusted.contains(&uid) {
        return Err(CliError::fail(format!(
            "refusing to talk to daimond: the process listening on {} runs as uid {uid}, not as you (uid {}); nothing was sent",
            paths.socket().display(),
            trusted[0]
        )));
    }
    Ok(stream)
}

/// The uid of the process at the other end of a connected Unix socket.
fn peer_uid(stream: &UnixStream) -> std::io::Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: a valid socket descriptor, and an out-buffer of the size passed.
    let r = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(cred.uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_of_our_own_socket_is_us() {
        let (a, _b) = UnixStream::pair().expect("pair");
        assert_eq!(peer_uid(&a).expect("cred"), effective_uid());
    }
}
