//! daimon-proto: what crosses the daemon's socket.
//!
//! Owns: the request/response/event types (serde), the frame format, the version
//! handshake, error kinds (which the CLI maps to exit codes) and where the discovery
//! files live (`paths`). Shared by the CLI, the daemon and, later, the HTTP API.
//!
//! Must never: do I/O beyond reading/writing one frame on a stream it is handed, or
//! know how the daemon supervises anything.

pub mod attach;
pub mod cgroup;
pub mod frame;
pub mod message;
pub mod parts;
pub mod paths;
pub mod text;
mod unit_status;
pub mod verbs;

pub use cgroup::CgroupStatus;
pub use frame::{
    Frame, FrameError, MAX_FRAME_LEN, MAX_HELLO_LEN, MAX_REQUEST_LEN, RAW_FLAG, decode, encode,
    encode_into, payload_len, payload_len_within, raw_header, read_any_frame, read_frame,
    read_payload, write_frame,
};
pub use message::*;
pub use paths::{Paths, Untrusted, check_runtime_dir, check_socket, effective_uid};
pub use text::{escape_terminal, escape_terminal_str};
pub use verbs::*;

/// Bumped whenever a message changes incompatibly; checked in the handshake.
pub const PROTOCOL_VERSION: u32 = 1;
