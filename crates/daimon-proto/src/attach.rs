//! The stream of `daimon attach`, after [`crate::Request::Attach`].
//!
//! Once daimond has answered the request with `Response::Done`, the connection
//! carries these frames in both directions until either side closes it: a kind
//! byte, a 4-byte big-endian payload length, the payload (at most
//! [`MAX_PAYLOAD`]). Binary and small on purpose: every keystroke is one frame,
//! and output goes to the terminal as it came from the service's pty.
//!
//! Client to daimond: [`INPUT`] (bytes for the service's terminal; ignored from
//! a `--read-only` client), [`RESIZE`] (rows and columns, two u16). Detaching
//! is closing the connection. daimond to client: [`OUTPUT`] (the replay of
//! recent output first, then what the service writes), [`EXIT`] (the service's
//! terminal closed, with a line saying how its main process ended; daimond
//! closes next), [`DROPPED`] (daimond stopped serving this client, with the
//! reason: it fell behind, or daimond is stopping).

/// Largest payload either side sends or accepts.
pub const MAX_PAYLOAD: usize = 64 * 1024;
/// Kind byte and length.
pub const HEADER: usize = 5;

pub const INPUT: u8 = 1;
pub const RESIZE: u8 = 2;
pub const OUTPUT: u8 = 3;
pub const EXIT: u8 = 4;
pub const DROPPED: u8 = 5;

/// Appends one frame to `buf`; a payload over [`MAX_PAYLOAD`] is split into
/// several frames of the same kind (only output and input are ever that long).
pub fn push_frame(buf: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    let mut chunks = payload.chunks(MAX_PAYLOAD).peekable();
    if chunks.peek().is_none() {
        buf.push(kind);
        buf.extend_from_slice(&0u32.to_be_bytes());
        return;
    }
    for c in chunks {
        buf.push(kind);
        buf.extend_from_slice(&(c.len() as u32).to_be_bytes());
        buf.extend_from_slice(c);
    }
}

/// A [`RESIZE`] frame's payload.
pub fn resize_payload(rows: u16, cols: u16) -> [u8; 4] {
    let (r, c) = (rows.to_be_bytes(), cols.to_be_bytes());
    [r[0], r[1], c[0], c[1]]
}

/// Rows and columns from a [`RESIZE`] payload.
pub fn parse_resize(p: &[u8]) -> Option<(u16, u16)> {
    match p {
        [r0, r1, c0, c1] => Some((
            u16::from_be_bytes([*r0, *r1]),
            u16::from_be_bytes([*c0, *c1]),
        )),
        _ => None,
    }
}

/// A frame's kind and payload length from its header; `Err` when the length
/// is over [`MAX_PAYLOAD`] (checked before anything is allocated).
pub fn parse_header(h: [u8; HEADER]) -> Result<(u8, usize), String> {
    let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
    if len > MAX_PAYLOAD {
        return Err(format!(
            "attach frame of {len} bytes exceeds the limit of {MAX_PAYLOAD}"
        ));
    }
    Ok((h[0], len))
}

/// Splits complete frames off the front of bytes read from a stream.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `Ok(None)` until one is complete.
    pub fn next_frame(&mut self) -> Result<Option<(u8, Vec<u8>)>, String> {
        let Some(h) = self.buf.get(..HEADER) else {
            return Ok(None);
        };
        let mut header = [0u8; HEADER];
        header.copy_from_slice(h);
        let (kind, len) = parse_header(header)?;
        if self.buf.len() < HEADER + len {
            return Ok(None);
        }
        let payload = self.buf[HEADER..HEADER + len].to_vec();
        self.buf.drain(..HEADER + len);
        Ok(Some((kind, payload)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_the_decoder_byte_by_byte() {
        let mut wire = Vec::new();
        push_frame(&mut wire, OUTPUT, b"hello");
        push_frame(&mut wire, RESIZE, &resize_payload(50, 132));
        push_frame(&mut wire, EXIT, b"");
        let mut d = Decoder::default();
        let mut got = Vec::new();
        for b in &wire {
            d.push(&[*b]);
            while let Some(f) = d.next_frame().expect("valid") {
                got.push(f);
            }
        }
        assert_eq!(got[0], (OUTPUT, b"hello".to_vec()));
        assert_eq!(parse_resize(&got[1].1), Some((50, 132)));
        assert_eq!(got[2], (EXIT, Vec::new()));
    }

    #[test]
    fn long_payloads_are_split_and_oversized_headers_refused() {
        let mut wire = Vec::new();
        push_frame(&mut wire, OUTPUT, &vec![7u8; MAX_PAYLOAD + 10]);
        let mut d = Decoder::default();
        d.push(&wire);
        assert_eq!(d.next_frame().unwrap().unwrap().1.len(), MAX_PAYLOAD);
        assert_eq!(d.next_frame().unwrap().unwrap().1.len(), 10);
        let mut bad = Decoder::default();
        bad.push(&[OUTPUT, 0xff, 0xff, 0xff, 0xff]);
        assert!(bad.next_frame().is_err());
    }
}
