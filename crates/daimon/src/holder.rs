//! Whether daimond's fd holder (`daimond-fdstore`) is there, for `status`.
//!
//! The holder keeps every service's output pipe open while no daimond reads
//! it; without it, the next death of daimond kills every service that writes
//! output (SIGPIPE). daimond replaces a dead holder at once, so a missing one
//! means that failed: `status` says so.
//!
//! The probe connects a stream socket to the holder's `SOCK_SEQPACKET` socket:
//! a listening holder refuses it with EPROTOTYPE (unix(7): the types differ)
//! before any connection exists, so the holder never sees the CLI; a dead one
//! leaves a socket file that refuses with ECONNREFUSED.

use std::os::unix::net::UnixStream;

use daimon_proto::Paths;

/// `run/fdstore.sock`: process/fdstore_proto.rs in daimond.
const SOCKET_NAME: &str = "fdstore.sock";

/// A warning line when daimond runs without its fd holder.
pub fn missing_line(paths: &Paths) -> Option<String> {
    let path = paths.runtime.join(SOCKET_NAME);
    match UnixStream::connect(&path) {
        // EPROTOTYPE: a holder listens (a SOCK_SEQPACKET socket).
        Err(e) if e.raw_os_error() == Some(EPROTOTYPE) => None,
        // Some other stream listener: not ours to judge.
        Ok(_) => None,
        Err(_) => Some(
            "Warning: daimond's fd holder (daimond-fdstore) is not running: if daimond dies now, \
             services that write output die of SIGPIPE; \"daimon daemon-reexec\" starts a new one"
                .to_string(),
        ),
    }
}

/// EPROTOTYPE on Linux (asm-generic/errno.h); the CLI links no libc crate.
const EPROTOTYPE: i32 = 91;
