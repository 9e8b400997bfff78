//! Owns turning a source's bytes into records: `<N>` prefixes (systemd's
//! SyslogLevelPrefix=), splitting at `line_max` (journald's LineMax=), and
//! keeping lines that need no rewriting in the read buffer (not copied).

use crate::codec::BlockBuilder;
use crate::record::{FLAG_CONTINUED, parse_level_prefix, priority};
use crate::writer::Source;

/// Turns lines of one source into block entries.
pub(crate) struct Emitter<'a> {
    pub bb: &'a mut BlockBuilder,
    /// The chunk being ingested: lines still in it are not copied.
    pub input: &'a [u8],
    pub seq: &'a mut u64,
    pub rt: i64,
    pub mono: i64,
    pub line_max: usize,
}

impl Emitter<'_> {
    #[inline]
    fn prio_of<'l>(&self, src: &mut Source, line: &'l [u8]) -> (u8, &'l [u8]) {
        if let Some(p) = src.cont_prio.take() {
            return (p, line);
        }
        if src.level_prefix
            && let Some((p, n)) = parse_level_prefix(line)
        {
            return (p, &line[n..]);
        }
        (priority::INFO, line)
    }

    #[inline]
    fn push(&mut self, prio_flags: u8, msg: &[u8]) {
        self.bb.push(*self.seq, self.rt, self.mono, prio_flags, msg);
        *self.seq += 1;
    }

    /// Where `body` starts in the input, if it lies there followed by `\n`.
    #[inline]
    fn in_input(&self, body: &[u8]) -> Option<usize> {
        let off = (body.as_ptr() as usize).wrapping_sub(self.input.as_ptr() as usize);
        let end = off.checked_add(body.len())?;
        (end < self.input.len() && self.input[end] == b'\n').then_some(off)
    }

    /// A complete line (or the final partial one, with `FLAG_PARTIAL`).
    #[inline]
    pub fn line(&mut self, src: &mut Source, line: &[u8], flag: u8) {
        let (prio, mut body) = self.prio_of(src, line);
        while body.len() > self.line_max {
            self.push(prio | FLAG_CONTINUED, &body[..self.line_max]);
            body = &body[self.line_max..];
        }
        match self.in_input(body) {
            Some(off) if flag == 0 => {
                self.bb
                    .push_input(*self.seq, self.rt, self.mono, prio, off, body.len());
                *self.seq += 1;
            }
            _ => self.push(prio | flag, body),
        }
    }

    /// A `line_max` piece of a line whose end has not arrived.
    pub fn piece(&mut self, src: &mut Source, piece: &[u8]) {
        let (prio, body) = self.prio_of(src, piece);
        self.push(prio | FLAG_CONTINUED, body);
        src.cont_prio = Some(prio);
    }
}
