//! The fd store's wire format, shared by daimond's client ([`crate::process::fdstore`])
//! and the store itself ([`super`]).
//!
//! Owns the message layout. The socket is `SOCK_SEQPACKET`: one message is one
//! packet, so a descriptor passed with `SCM_RIGHTS` belongs to exactly one
//! message. A message is `op` (1 byte), `id` (8 bytes, little endian) and an
//! opaque payload (the metadata daimond stores beside a descriptor); it never
//! exceeds [`MAX_MSG`] bytes.
//!
//! | op  | from    | meaning                                                      |
//! |-----|---------|--------------------------------------------------------------|
//! | `P` | daimond | keep the attached descriptor under `id` with this payload    |
//! | `C` | daimond | close the descriptor kept under `id`                         |
//! | `L` | daimond | send me everything you keep                                  |
//! | `T` | daimond | stop spooling: I read the pipes now (answered with `D`)      |
//! | `E` | store   | one kept descriptor (attached), its `id` and payload         |
//! | `D` | store   | end of the list (or of a `T`); `id` is the store's PID       |
//! | `Q` | daimond | clean shutdown: close everything and exit                    |

/// Largest message either side sends or accepts.
pub const MAX_MSG: usize = 4096;
/// Header: op and id.
pub const HEADER: usize = 9;
/// Largest payload.
pub const MAX_META: usize = MAX_MSG - HEADER;
/// Most descriptors the store keeps (two per running service is typical).
pub const MAX_ENTRIES: usize = 1 << 16;
/// The socket's file name in the runtime directory.
pub const SOCKET_NAME: &str = "fdstore.sock";
/// daimond's hidden argument that makes it the store (followed by the socket's
/// path).
pub const STORE_ARG: &str = "--fd-store";

pub const OP_PUT: u8 = b'P';
pub const OP_CLOSE: u8 = b'C';
pub const OP_LIST: u8 = b'L';
pub const OP_ENTRY: u8 = b'E';
pub const OP_DONE: u8 = b'D';
pub const OP_QUIT: u8 = b'Q';
pub const OP_TAKE: u8 = b'T';

/// One message's bytes; `None` if the payload is too large.
pub fn encode(op: u8, id: u64, meta: &[u8]) -> Option<Vec<u8>> {
    if meta.len() > MAX_META {
        return None;
    }
    let mut v = Vec::with_capacity(HEADER + meta.len());
    v.push(op);
    v.extend_from_slice(&id.to_le_bytes());
    v.extend_from_slice(meta);
    Some(v)
}

/// `(op, id, payload)` of a message; `None` if it is shorter than the header.
pub fn decode(msg: &[u8]) -> Option<(u8, u64, &[u8])> {
    let op = *msg.first()?;
    let id: [u8; 8] = msg.get(1..HEADER)?.try_into().ok()?;
    Some((op, u64::from_le_bytes(id), &msg[HEADER..]))
}
