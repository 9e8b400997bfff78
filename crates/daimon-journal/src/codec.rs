//! Owns the on-disk block format: how a group of lines of one source is
//! encoded, checksummed and decoded.
//!
//! A block is self-describing so that a torn segment tail can be re-indexed
//! from the file alone:
//!
//! ```text
//! 0  magic u32          4  total_len u32 (whole block)   8  hash u64 of [16..total_len)
//! 16 count u32          20 pid u32       24 seq_base u64  32 rt_base i64  40 mono_base i64
//! 48 text_len u32       52 stream u8     53 unit_len u8   54 inv_len u8   55 ident_len u8 (255 = none)
//! 56 unit, invocation, identifier bytes
//!    text: every message followed by b'\n' (so a regex can scan the block at once)
//!    meta: per line: prio|flags u8, realtime delta (zigzag varint), monotonic skew
//!          (zigzag varint), seq delta - 1 (varint), message length (varint)
//! ```
//! Per-line overhead is 6 bytes for a line of < 128 bytes (5 of them metadata).

use crate::checksum::{Hasher, hash};
use crate::record::{Cursor, Record, Stream};

pub(crate) const MAGIC: u32 = 0x3146_4A44; // "DJF1"
pub(crate) const HEADER_LEN: usize = 56;
/// Blocks never exceed this (a corrupt length beyond it marks a torn tail).
pub(crate) const MAX_BLOCK: usize = 64 << 20;

/// The identity shared by every line of a block.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SourceKey {
    pub unit: String,
    pub invocation: String,
    pub identifier: Option<String>,
    pub pid: u32,
    pub stream: Stream,
}

/// Summary of an encoded block, as stored in the index.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BlockSummary {
    pub count: u32,
    pub seq_min: u64,
    pub seq_max: u64,
    pub rt_min: i64,
    pub rt_max: i64,
    pub prio_mask: u8,
}

fn clip(s: &str, max: usize) -> &[u8] {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s.as_bytes()[..end]
}

/// Most bytes of one line's metadata: a byte and four varints.
const META_MAX: usize = 1 + 4 * 10;

/// Writes `v` as a LEB128 varint into `out` at `at`; where it ends (`out`
/// has room for a whole varint, 10 bytes, from `at`).
#[inline(always)]
fn put_varint_at(out: &mut [std::mem::MaybeUninit<u8>], mut at: usize, mut v: u64) -> usize {
    while v >= 0x80 {
        out[at].write((v as u8) | 0x80);
        at += 1;
        v >>= 7;
    }
    out[at].write(v as u8);
    at + 1
}

#[inline]
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[inline]
fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    let mut shift = 0;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

fn rd_u32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

pub(crate) fn rd_u64(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

/// Where a piece of a block's text lives: in the builder, or in the chunk
/// being ingested (most lines go to disk straight from the read buffer).
#[derive(Debug, Clone, Copy)]
enum Part {
    Own(usize, usize),
    Input(usize, usize),
}

/// Beyond this many pieces the text is copied into one buffer instead.
const MAX_PARTS: usize = 32;

/// Builds one block in reusable buffers.
pub(crate) struct BlockBuilder {
    /// Header and names; after `finish_contiguous`, the whole block.
    pub buf: Vec<u8>,
    own: Vec<u8>,
    parts: Vec<Part>,
    text_len: usize,
    meta: Vec<u8>,
    pub sum: BlockSummary,
    prev_seq: u64,
    prev_rt: i64,
    prev_mono: i64,
}

impl BlockBuilder {
    pub fn new() -> Self {
        BlockBuilder {
            buf: Vec::with_capacity(1 << 10),
            own: Vec::with_capacity(64 << 10),
            parts: Vec::new(),
            text_len: 0,
            meta: Vec::with_capacity(8 << 10),
            sum: BlockSummary::default(),
            prev_seq: 0,
            prev_rt: 0,
            prev_mono: 0,
        }
    }

    /// Starts a block; `rt`/`mono` are the base timestamps, `seq` the first
    /// sequence number.
    pub fn begin(&mut self, key: &SourceKey, seq: u64, rt: i64, mono: i64) {
        self.buf.clear();
        self.own.clear();
        self.parts.clear();
        self.meta.clear();
        self.text_len = 0;
        self.buf.resize(HEADER_LEN, 0);
        let unit = clip(&key.unit, 255);
        let inv = clip(&key.invocation, 255);
        let ident = key.identifier.as_deref().map(|i| clip(i, 254));
        self.buf[20..24].copy_from_slice(&key.pid.to_le_bytes());
        self.buf[24..32].copy_from_slice(&seq.to_le_bytes());
        self.buf[32..40].copy_from_slice(&rt.to_le_bytes());
        self.buf[40..48].copy_from_slice(&mono.to_le_bytes());
        self.buf[52] = key.stream.to_u8();
        self.buf[53] = unit.len() as u8;
        self.buf[54] = inv.len() as u8;
        self.buf[55] = ident.map_or(255, |i| i.len() as u8);
        self.buf.extend_from_slice(unit);
        self.buf.extend_from_slice(inv);
        if let Some(i) = ident {
            self.buf.extend_from_slice(i);
        }
        self.sum = BlockSummary {
            count: 0,
            seq_min: seq,
            seq_max: seq,
            rt_min: rt,
            rt_max: rt,
            prio_mask: 0,
        };
        self.prev_seq = seq.wrapping_sub(1);
        self.prev_rt = rt;
        self.prev_mono = mono;
    }

    pub fn count(&self) -> u32 {
        self.sum.count
    }

    #[inline]
    fn meta(&mut self, seq: u64, rt: i64, mono: i64, prio_flags: u8, len: usize) {
        let m = &mut self.meta;
        let drt = zigzag(rt.wrapping_sub(self.prev_rt));
        let skew = zigzag(
            mono.wrapping_sub(self.prev_mono)
                .wrapping_sub(rt.wrapping_sub(self.prev_rt)),
        );
        let dseq = seq.wrapping_sub(self.prev_seq).wrapping_sub(1);
        // Written straight into reserved room: one capacity check per line
        // instead of one per byte, and no copy of a variable length (a call
        // to memcpy for five bytes).
        m.reserve(META_MAX);
        let old = m.len();
        let room = &mut m.spare_capacity_mut()[..META_MAX];
        room[0].write(prio_flags);
        let mut n = 1;
        for v in [drt, skew, dseq, len as u64] {
            n = put_varint_at(room, n, v);
        }
        // SAFETY: `reserve` made room for META_MAX bytes past `old`, and
        // the first `n` <= META_MAX of them were just written.
        unsafe { m.set_len(old + n) };
        self.prev_seq = seq;
        self.prev_rt = rt;
        self.prev_mono = mono;
        let s = &mut self.sum;
        if s.count == 0 {
            s.seq_min = seq;
            s.rt_min = rt;
            s.rt_max = rt;
        }
        s.count += 1;
        s.seq_max = seq;
        s.rt_min = s.rt_min.min(rt);
        s.rt_max = s.rt_max.max(rt);
        s.prio_mask |= 1 << (prio_flags & 7);
        self.text_len += len + 1;
    }

    /// Appends one line, copying it. `prio_flags` is the priority (low 3
    /// bits) or'ed with `FLAG_*`. Sequence numbers must grow.
    #[inline]
    pub fn push(&mut self, seq: u64, rt: i64, mono: i64, prio_flags: u8, msg: &[u8]) {
        let start = self.own.len();
        self.own.extend_from_slice(msg);
        self.own.push(b'\n');
        match self.parts.last_mut() {
            Some(Part::Own(_, e)) if *e == start => *e = self.own.len(),
            _ => self.parts.push(Part::Own(start, self.own.len())),
        }
        self.meta(seq, rt, mono, prio_flags, msg.len());
    }

    /// Appends one line that is `input[start..start + len]` followed by a
    /// newline in the chunk passed to `write_to`; it is not copied.
    #[inline]
    pub fn push_input(
        &mut self,
        seq: u64,
        rt: i64,
        mono: i64,
        prio_flags: u8,
        start: usize,
        len: usize,
    ) {
        let end = start + len + 1;
        match self.parts.last_mut() {
            Some(Part::Input(_, e)) if *e == start => *e = end,
            _ => self.parts.push(Part::Input(start, end)),
        }
        self.meta(seq, rt, mono, prio_flags, len);
    }

    /// True when pieces are so fragmented that copying is cheaper.
    pub fn fragmented(&self) -> bool {
        self.parts.len() > MAX_PARTS
    }

    fn seal_header(&mut self, hash: u64) {
        let total = (self.buf.len() + self.text_len + self.meta.len()) as u32;
        self.buf[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        self.buf[4..8].copy_from_slice(&total.to_le_bytes());
        self.buf[8..16].copy_from_slice(&hash.to_le_bytes());
    }

    fn fill_counts(&mut self) {
        self.buf[16..20].copy_from_slice(&self.sum.count.to_le_bytes());
        self.buf[48..52].copy_from_slice(&(self.text_len as u32).to_le_bytes());
    }

    /// Total size of the finished block.
    pub fn total_len(&self) -> usize {
        self.buf.len() + self.text_len + self.meta.len()
    }

    /// Completes the block into `self.buf` as one contiguous buffer.
    /// `input` is the chunk that `push_input` referred to (empty if none).
    pub fn finish_contiguous(&mut self, input: &[u8]) -> &[u8] {
        self.fill_counts();
        for p in &self.parts {
            match *p {
                Part::Own(a, b) => self.buf.extend_from_slice(&self.own[a..b]),
                Part::Input(a, b) => self.buf.extend_from_slice(&input[a..b]),
            }
        }
        self.parts.clear();
        self.buf.extend_from_slice(&self.meta);
        self.text_len = 0;
        self.meta.clear();
        let h = hash(&self.buf[16..]);
        self.buf[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        let total = self.buf.len() as u32;
        self.buf[4..8].copy_from_slice(&total.to_le_bytes());
        self.buf[8..16].copy_from_slice(&h.to_le_bytes());
        &self.buf
    }

    /// Completes the block and returns its pieces, to be written with one
    /// `writev`, without copying the text.
    pub fn finish_slices<'a>(&'a mut self, input: &'a [u8]) -> Vec<std::io::IoSlice<'a>> {
        self.fill_counts();
        let mut h = Hasher::new();
        h.update(&self.buf[16..]);
        for p in &self.parts {
            match *p {
                Part::Own(a, b) => h.update(&self.own[a..b]),
                Part::Input(a, b) => h.update(&input[a..b]),
            }
        }
        h.update(&self.meta);
        self.seal_header(h.finish());
        let mut v = Vec::with_capacity(self.parts.len() + 2);
        v.push(std::io::IoSlice::new(&self.buf));
        for p in &self.parts {
            v.push(std::io::IoSlice::new(match *p {
                Part::Own(a, b) => &self.own[a..b],
                Part::Input(a, b) => &input[a..b],
            }));
        }
        v.push(std::io::IoSlice::new(&self.meta));
        v
    }
}

/// Reads the total length of a block from its first 8 bytes, if the magic is right.
pub(crate) fn peek_len(head: &[u8]) -> Option<usize> {
    if head.len() < 8 || rd_u32(head, 0) != MAGIC {
        return None;
    }
    let len = rd_u32(head, 4) as usize;
    (HEADER_LEN..=MAX_BLOCK).contains(&len).then_some(len)
}

/// The unit and invocation bytes of a block, without verifying it.
pub(crate) fn peek_key(b: &[u8]) -> Option<(&[u8], &[u8])> {
    if b.len() < HEADER_LEN {
        return None;
    }
    let u = HEADER_LEN + b[53] as usize;
    let i = u + b[54] as usize;
    Some((b.get(HEADER_LEN..u)?, b.get(u..i)?))
}

/// One decoded line: offsets into the block's buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line {
    pub off: u32,
    pub len: u32,
    pub prio_flags: u8,
    pub seq: u64,
    pub rt: i64,
    pub mono: i64,
}

/// A decoded block: the raw bytes plus a line table.
pub(crate) struct Block {
    pub buf: Vec<u8>,
    pub lines: Vec<Line>,
    pub pid: u32,
    pub stream: Stream,
    unit: (usize, usize),
    inv: (usize, usize),
    ident: Option<(usize, usize)>,
    pub text: (usize, usize),
}

impl Block {
    /// Decodes and verifies a block. `None` means corrupt.
    pub fn decode(buf: Vec<u8>) -> Option<Block> {
        Self::decode_with(buf, true)
    }

    /// Decodes without the checksum: for blocks that zstd just decompressed
    /// from a synced, compressed segment (structure is still checked).
    pub fn decode_unverified(buf: Vec<u8>) -> Option<Block> {
        Self::decode_with(buf, false)
    }

    fn decode_with(buf: Vec<u8>, verify: bool) -> Option<Block> {
        let total = peek_len(&buf)?;
        if buf.len() < total {
            return None;
        }
        let b = &buf[..total];
        if verify && rd_u64(b, 8) != hash(&b[16..]) {
            return None;
        }
        let count = rd_u32(b, 16) as usize;
        let pid = rd_u32(b, 20);
        let seq_base = rd_u64(b, 24);
        let rt_base = rd_u64(b, 32) as i64;
        let mono_base = rd_u64(b, 40) as i64;
        let text_len = rd_u32(b, 48) as usize;
        let stream = Stream::from_u8(b[52]);
        let mut p = HEADER_LEN;
        let unit = (p, p + b[53] as usize);
        p = unit.1;
        let inv = (p, p + b[54] as usize);
        p = inv.1;
        let ident = if b[55] == 255 {
            None
        } else {
            let r = (p, p + b[55] as usize);
            p = r.1;
            Some(r)
        };
        let text = (p, p.checked_add(text_len)?);
        if text.1 > total
            || std::str::from_utf8(&b[unit.0..unit.1]).is_err()
            || std::str::from_utf8(&b[inv.0..inv.1]).is_err()
            || ident.is_some_and(|(s, e)| std::str::from_utf8(&b[s..e]).is_err())
        {
            return None;
        }
        let mut lines = Vec::with_capacity(count);
        let mut mp = text.1;
        let mut toff = text.0;
        let (mut seq, mut rt, mut mono) = (seq_base.wrapping_sub(1), rt_base, mono_base);
        for _ in 0..count {
            let pf = *b.get(mp)?;
            mp += 1;
            let drt = unzigzag(get_varint(b, &mut mp)?);
            let skew = unzigzag(get_varint(b, &mut mp)?);
            let dseq = get_varint(b, &mut mp)?;
            let len = get_varint(b, &mut mp)? as usize;
            rt = rt.wrapping_add(drt);
            mono = mono.wrapping_add(drt).wrapping_add(skew);
            seq = seq.wrapping_add(dseq).wrapping_add(1);
            if toff + len + 1 > text.1 {
                return None;
            }
            lines.push(Line {
                off: toff as u32,
                len: len as u32,
                prio_flags: pf,
                seq,
                rt,
                mono,
            });
            toff += len + 1;
        }
        if mp != total || toff != text.1 {
            return None;
        }
        Some(Block {
            buf,
            lines,
            pid,
            stream,
            unit,
            inv,
            ident,
            text,
        })
    }

    fn s(&self, r: (usize, usize)) -> &str {
        std::str::from_utf8(&self.buf[r.0..r.1]).unwrap_or("?")
    }

    pub fn key(&self) -> SourceKey {
        SourceKey {
            unit: self.s(self.unit).to_string(),
            invocation: self.s(self.inv).to_string(),
            identifier: self.ident.map(|r| self.s(r).to_string()),
            pid: self.pid,
            stream: self.stream,
        }
    }

    pub fn unit(&self) -> &str {
        self.s(self.unit)
    }

    /// SYSLOG_IDENTIFIER of every line: its own, or the unit name without
    /// `.service` (as [`Record::syslog_identifier`]).
    pub fn identifier(&self) -> &str {
        match self.ident {
            Some(r) => self.s(r),
            None => {
                let u = self.unit();
                u.strip_suffix(".service").unwrap_or(u)
            }
        }
    }

    pub fn invocation(&self) -> &str {
        self.s(self.inv)
    }

    pub fn message(&self, l: &Line) -> &[u8] {
        &self.buf[l.off as usize..(l.off + l.len) as usize]
    }

    /// The text section: every message followed by `\n`.
    pub fn text(&self) -> &[u8] {
        &self.buf[self.text.0..self.text.1]
    }

    pub fn record(&self, l: &Line) -> Record<'_> {
        Record {
            unit: self.s(self.unit),
            invocation: self.s(self.inv),
            identifier: self.ident.map(|r| self.s(r)),
            pid: self.pid,
            stream: self.stream,
            priority: l.prio_flags & 7,
            realtime_usec: l.rt.max(0) as u64,
            monotonic_usec: l.mono.max(0) as u64,
            message: self.message(l),
            continued: l.prio_flags & crate::record::FLAG_CONTINUED != 0,
            partial: l.prio_flags & crate::record::FLAG_PARTIAL != 0,
            cursor: Cursor(l.seq),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let key = SourceKey {
            unit: "bot.service".into(),
            invocation: "0123456789abcdef0123456789abcdef".into(),
            identifier: Some("bot".into()),
            pid: 42,
            stream: Stream::Stderr,
        };
        let mut b = BlockBuilder::new();
        b.begin(&key, 10, 1_000_000, 5_000);
        b.push(10, 1_000_000, 5_000, 6, b"hello");
        b.push(
            11,
            999_000,
            6_000,
            3 | crate::record::FLAG_CONTINUED,
            b"\xff\0bin\n",
        );
        b.push(15, 2_000_000, 7_000, 7, b"");
        let sum = b.sum;
        let bytes = b.finish_contiguous(&[]).to_vec();
        assert_eq!(sum.count, 3);
        assert_eq!((sum.seq_min, sum.seq_max), (10, 15));
        assert_eq!((sum.rt_min, sum.rt_max), (999_000, 2_000_000));
        let blk = Block::decode(bytes.clone()).expect("decodes");
        assert_eq!(blk.key(), key);
        let r: Vec<_> = blk.lines.iter().map(|l| blk.record(l)).collect();
        assert_eq!(r[0].message, b"hello");
        assert_eq!(r[1].message, b"\xff\0bin\n");
        assert!(r[1].continued);
        assert_eq!(r[1].priority, 3);
        assert_eq!(r[1].realtime_usec, 999_000);
        assert_eq!(r[1].monotonic_usec, 6_000);
        assert_eq!(r[2].cursor, Cursor(15));
        assert_eq!(r[2].monotonic_usec, 7_000);
        let mut bad = bytes.clone();
        let n = bad.len();
        bad[n - 3] ^= 1;
        assert!(Block::decode(bad).is_none());
        assert!(Block::decode(bytes[..n - 1].to_vec()).is_none());
    }
}
