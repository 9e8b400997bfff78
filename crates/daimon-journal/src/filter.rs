//! Owns what a query asks for ([`Query`]) and the line-level filtering of a
//! decoded block: sequence, time, priority and the `-g` regex, which runs over
//! a block's whole text at once and checks only candidate lines one by one.

use regex::bytes::{Regex, RegexBuilder};

use crate::JournalError;
use crate::codec::Block;
use crate::record::{Cursor, Stream};

/// The priorities a query wants, as a bit mask (bit `p`: priority `p`).
pub(crate) fn priority_mask(q: &Query) -> u32 {
    let max = q.max_priority.unwrap_or(7).min(7);
    let mut mask = (1u32 << (max + 1)) - 1;
    if !q.priorities.is_empty() {
        mask &= q.priorities.iter().fold(0, |m, p| m | 1u32 << (p & 7));
    }
    mask
}

/// What to read. Empty/`None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Unit names; a name without a dot also matches `NAME.service`.
    pub units: Vec<String>,
    pub invocation: Option<String>,
    pub since: Option<jiff::Timestamp>,
    pub until: Option<jiff::Timestamp>,
    /// Lines at this priority or more important (journalctl `-p`).
    pub max_priority: Option<u8>,
    /// Lines of exactly these priorities (journalctl's `PRIORITY=` matches,
    /// alternatives); empty means every priority. Both this and
    /// `max_priority` apply.
    pub priorities: Vec<u8>,
    /// Lines with one of these `SYSLOG_IDENTIFIER`s (an identifier of its
    /// own, or the unit name without `.service`); empty means any.
    pub identifiers: Vec<String>,
    /// A regular expression over the message (journalctl `-g`); case-insensitive
    /// when it has no uppercase letter, like journalctl.
    pub grep: Option<String>,
    /// Only the last N matching lines (delivered oldest first, unless
    /// `reverse`).
    pub lines: Option<usize>,
    /// Newest first (journalctl `-r`); with `lines`, the newest N, newest
    /// first. Streamed: the whole store is never held in memory.
    pub reverse: bool,
    /// Only lines after this cursor (follow).
    pub after: Option<Cursor>,
    /// Only lines before this cursor (the end of a boot, `-b -1`).
    pub before: Option<Cursor>,
    /// Only lines from these streams (journalctl's `_TRANSPORT=` match); empty
    /// means every stream.
    pub streams: Vec<Stream>,
}

pub(crate) struct Grep {
    pub pattern: String,
    /// The user's regex, checked against one message.
    pub line: Regex,
    /// The same with `^`/`$` at line boundaries, run over a block's text to
    /// find candidate lines in one pass.
    pub block: Regex,
}

impl Grep {
    /// Compiles `pattern` like journalctl's `-g`: case-insensitive unless it
    /// has an uppercase letter.
    pub fn new(pattern: &str) -> Result<Grep, JournalError> {
        let ci = !pattern.chars().any(|c| c.is_uppercase());
        let build = |ml: bool| {
            RegexBuilder::new(pattern)
                .case_insensitive(ci)
                .multi_line(ml)
                .build()
                .map_err(|e| JournalError::Regex {
                    pattern: pattern.to_string(),
                    message: e
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .to_string(),
                })
        };
        Ok(Grep {
            pattern: pattern.to_string(),
            line: build(false)?,
            block: build(true)?,
        })
    }
}

pub(crate) struct Filter<'a> {
    pub after: u64,
    pub before: u64,
    pub since: i64,
    pub until: i64,
    /// Bit `p` set: priority `p` is wanted.
    pub prio_mask: u32,
    pub identifiers: &'a [String],
    pub grep: Option<&'a Grep>,
    pub streams: &'a [Stream],
}

pub(crate) fn select(block: &Block, f: &Filter<'_>) -> Vec<u32> {
    // A block holds the lines of one stream, so a stream match is all or nothing.
    if !f.streams.is_empty() && !f.streams.iter().any(|s| s.same_transport(block.stream)) {
        return Vec::new();
    }
    // So is an identifier match: a block has one identifier.
    if !f.identifiers.is_empty() && !f.identifiers.iter().any(|i| i == block.identifier()) {
        return Vec::new();
    }
    let mut cand: Option<Vec<bool>> = None;
    if let Some(g) = f.grep {
        let mut marks = vec![false; block.lines.len()];
        let text = block.text();
        let base = block.lines.first().map_or(0, |l| l.off as usize);
        let mut pos = 0usize;
        let mut li = 0usize;
        while pos <= text.len() && li < block.lines.len() {
            let Some(m) = g.block.find_at(text, pos) else {
                break;
            };
            // The line holding the match start (its newline belongs to it).
            while li < block.lines.len() {
                let l = &block.lines[li];
                let end = l.off as usize - base + l.len as usize;
                if m.start() <= end {
                    break;
                }
                li += 1;
            }
            let Some(l) = block.lines.get(li) else {
                break;
            };
            if g.line.is_match(block.message(l)) {
                marks[li] = true;
            }
            pos = l.off as usize - base + l.len as usize + 1;
            li += 1;
        }
        cand = Some(marks);
    }
    let mut out = Vec::new();
    for (i, l) in block.lines.iter().enumerate() {
        if l.seq > f.after
            && l.seq < f.before
            && l.rt >= f.since
            && l.rt <= f.until
            && (1u32 << (l.prio_flags & 7)) & f.prio_mask != 0
            && cand.as_ref().is_none_or(|c| c[i])
        {
            out.push(i as u32);
        }
    }
    out
}
