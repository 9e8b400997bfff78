//! The frame format: a 4-byte big-endian payload length, then that many bytes of JSON.
//!
//! The length is checked against [`MAX_FRAME_LEN`] before anything is allocated, so a
//! hostile or confused peer cannot make either side allocate gigabytes.
//!
//! Raw frames: a client that sets `LogsRequest::raw` may receive log text as a frame
//! whose header has [`RAW_FLAG`] set; its payload is the rendered bytes as they are
//! (no JSON, not necessarily UTF-8) and means the same as `Response::LogData`. That
//! keeps a million lines from being JSON-escaped and unescaped on their way to a
//! terminal, and `-o cat` output byte-exact. Other clients never see one.

use std::io::{self, Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Largest payload either side accepts. Log output is streamed in many frames, and
/// long lists are sent in parts (see `Response::Part`), so no legitimate message
/// comes near this.
pub const MAX_FRAME_LEN: u32 = 16 * 1024 * 1024;

/// Largest `Hello` the daemon reads: the first frame of a connection comes from a
/// peer nothing is known of yet, so it may cost only a few KiB.
pub const MAX_HELLO_LEN: u32 = 4 * 1024;

/// Largest request the daemon reads. The biggest legitimate ones are a `run` with
/// its unit text or a start of a few thousand units (255 bytes a name at most).
pub const MAX_REQUEST_LEN: u32 = 1024 * 1024;

/// How much of a frame is allocated before its bytes arrive: a header may
/// announce up to the limit, but memory follows what the peer actually sent.
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection closed")]
    Closed,
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME_LEN} bytes")]
    TooLarge(u32),
    #[error("frame of {len} bytes exceeds the limit of {limit} bytes for this message")]
    Oversized { len: u32, limit: u32 },
    #[error("malformed message: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Serializes `msg` into one complete frame (header included).
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let mut buf = Vec::new();
    encode_into(&mut buf, msg)?;
    Ok(buf)
}

/// Appends one complete frame of `msg` to `buf` (so that several frames can
/// go out in one write); on error `buf` is left as it was.
pub fn encode_into<T: Serialize>(buf: &mut Vec<u8>, msg: &T) -> Result<(), FrameError> {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    let framed = serde_json::to_writer(&mut *buf, msg)
        .map_err(FrameError::from)
        .and_then(|()| {
            let len =
                u32::try_from(buf.len() - start - 4).map_err(|_| FrameError::TooLarge(u32::MAX))?;
            if len > MAX_FRAME_LEN {
                return Err(FrameError::TooLarge(len));
            }
            Ok(len)
        });
    match framed {
        Ok(len) => {
            buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
            Ok(())
        }
        Err(e) => {
            buf.truncate(start);
            Err(e)
        }
    }
}

/// Parses a frame's payload (without its 4-byte header).
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    Ok(serde_json::from_slice(payload)?)
}

/// Set in a frame header's length for a raw (not JSON) payload.
pub const RAW_FLAG: u32 = 0x8000_0000;

/// The header of a raw frame of `len` bytes.
pub fn raw_header(len: usize) -> Result<[u8; 4], FrameError> {
    let len = u32::try_from(len).map_err(|_| FrameError::TooLarge(u32::MAX))?;
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge(len));
    }
    Ok((len | RAW_FLAG).to_be_bytes())
}

/// One frame of either kind, payload not yet decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// JSON of a message; decode with [`decode`].
    Json(Vec<u8>),
    /// Raw log bytes (see the module docs).
    Raw(Vec<u8>),
}

/// Reads one frame of either kind; `Closed` when the peer closed the stream cleanly between frames.
pub fn read_any_frame<R: Read>(r: &mut R) -> Result<Frame, FrameError> {
    let mut header = [0u8; 4];
    match r.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    let word = u32::from_be_bytes(header);
    let raw = word & RAW_FLAG != 0;
    let len = payload_len((word & !RAW_FLAG).to_be_bytes())?;
    let payload = read_payload(r, len)?;
    Ok(if raw {
        Frame::Raw(payload)
    } else {
        Frame::Json(payload)
    })
}

/// Checks a frame header and returns the payload length it announces.
pub fn payload_len(header: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header);
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge(len));
    }
    Ok(len as usize)
}

/// Like [`payload_len`], for a reader that accepts less than [`MAX_FRAME_LEN`]
/// (the daemon reading a `Hello` or a request).
pub fn payload_len_within(header: [u8; 4], limit: u32) -> Result<usize, FrameError> {
    let len = payload_len(header)?;
    if len > limit as usize {
        return Err(FrameError::Oversized {
            len: len as u32,
            limit,
        });
    }
    Ok(len)
}

/// Reads exactly `len` payload bytes, allocating as they arrive (a chunk at a
/// time), so a header that lies about its length costs nothing.
pub fn read_payload<R: Read>(r: &mut R, len: usize) -> Result<Vec<u8>, FrameError> {
    let mut payload = Vec::with_capacity(len.min(READ_CHUNK));
    r.take(len as u64).read_to_end(&mut payload)?;
    if payload.len() != len {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
    }
    Ok(payload)
}

/// Writes one frame with a single `write_all` (one syscall for small messages).
pub fn write_frame<W: Write, T: Serialize>(w: &mut W, msg: &T) -> Result<(), FrameError> {
    let buf = encode(msg)?;
    w.write_all(&buf)?;
    Ok(())
}

/// Reads one frame; `Closed` when the peer closed the stream cleanly between frames.
pub fn read_frame<R: Read, T: DeserializeOwned>(r: &mut R) -> Result<T, FrameError> {
    let mut header = [0u8; 4];
    match r.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = payload_len(header)?;
    let payload = read_payload(r, len)?;
    decode(&payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Request, Response};

    #[test]
    fn round_trip() {
        let req = Request::Start {
            units: vec!["a.service".into()],
        };
        let buf = encode(&req).unwrap();
        let back: Request = read_frame(&mut &buf[..]).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn oversized_header_is_refused_before_allocating() {
        let mut buf = (MAX_FRAME_LEN + 1).to_be_bytes().to_vec();
        buf.extend_from_slice(b"{}");
        let err = read_frame::<_, Response>(&mut &buf[..]).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge(_)));
    }

    #[test]
    fn raw_and_json_frames_interleave() {
        let mut buf = raw_header(3).unwrap().to_vec();
        buf.extend_from_slice(b"a\xffb");
        buf.extend(encode(&Response::Done).unwrap());
        let mut r = &buf[..];
        assert_eq!(
            read_any_frame(&mut r).unwrap(),
            Frame::Raw(b"a\xffb".to_vec())
        );
        match read_any_frame(&mut r).unwrap() {
            Frame::Json(p) => assert_eq!(decode::<Response>(&p).unwrap(), Response::Done),
            other => panic!("expected JSON, got {other:?}"),
        }
        // A JSON-only reader refuses a raw frame instead of misreading it.
        let raw = raw_header(3).unwrap();
        assert!(matches!(payload_len(raw), Err(FrameError::TooLarge(_))));
    }

    #[test]
    fn clean_close_is_not_an_error_kind_of_io() {
        let err = read_frame::<_, Response>(&mut &b""[..]).unwrap_err();
        assert!(matches!(err, FrameError::Closed));
    }
}
