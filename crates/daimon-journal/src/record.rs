//! Owns the record model: streams, priorities, cursors, the record handed to
//! query sinks, and the parsing of syslog `<N>` level prefixes.

use std::fmt;
use std::str::FromStr;

/// Where a line came from (journald's `_TRANSPORT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
    /// A message the daemon wrote itself (about the unit or about itself).
    Daemon,
    /// A datagram on the syslog socket, with its facility (0–23).
    Syslog(u8),
}

impl Stream {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
            Stream::Daemon => 2,
            // The facility rides in the stream byte: a block holds one source,
            // and a syslog record is a block of its own.
            Stream::Syslog(f) => SYSLOG_BASE | (f & 0x1f),
        }
    }
    pub(crate) fn from_u8(v: u8) -> Stream {
        match v {
            0 => Stream::Stdout,
            1 => Stream::Stderr,
            v if v & 0xe0 == SYSLOG_BASE => Stream::Syslog(v & 0x1f),
            _ => Stream::Daemon,
        }
    }
    /// The same transport (`_TRANSPORT=syslog` matches every facility).
    pub fn same_transport(self, other: Stream) -> bool {
        std::mem::discriminant(&self) == std::mem::discriminant(&other)
    }
    /// `SYSLOG_FACILITY` of a syslog record.
    pub fn facility(self) -> Option<u8> {
        match self {
            Stream::Syslog(f) => Some(f),
            _ => None,
        }
    }
    /// The `_TRANSPORT`-like name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
            Stream::Daemon => "daemon",
            Stream::Syslog(_) => "syslog",
        }
    }
}

/// Stream bytes `0x20..=0x3f`: syslog, facility in the low five bits.
const SYSLOG_BASE: u8 = 0x20;

/// syslog priorities (RFC 5424 severity).
pub mod priority {
    pub const EMERG: u8 = 0;
    pub const ALERT: u8 = 1;
    pub const CRIT: u8 = 2;
    pub const ERR: u8 = 3;
    pub const WARNING: u8 = 4;
    pub const NOTICE: u8 = 5;
    pub const INFO: u8 = 6;
    pub const DEBUG: u8 = 7;

    const NAMES: [&str; 8] = [
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
    ];

    /// Parses a priority as journalctl's `-p` does: a number 0–7 or a name
    /// (`err`, `warning`, also `error`, `warn`, `panic`).
    pub fn parse(s: &str) -> Option<u8> {
        let s = s.trim();
        if let Ok(n) = s.parse::<u8>() {
            return (n <= 7).then_some(n);
        }
        let l = s.to_ascii_lowercase();
        match l.as_str() {
            "error" => Some(ERR),
            "warn" => Some(WARNING),
            "panic" => Some(EMERG),
            _ => NAMES.iter().position(|n| *n == l).map(|p| p as u8),
        }
    }

    /// The syslog name of a priority.
    pub fn name(p: u8) -> &'static str {
        NAMES[(p & 7) as usize]
    }
}

/// Position of a record in the store: a sequence number that grows with every
/// stored line. Pass it back in [`crate::Query::after`] to continue (follow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cursor(pub u64);

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s={:x}", self.0)
    }
}

impl FromStr for Cursor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s.strip_prefix("s=").unwrap_or(s);
        u64::from_str_radix(hex, 16)
            .map(Cursor)
            .map_err(|_| format!("invalid cursor {s:?}: expected s=HEX"))
    }
}

/// Record flag: the line was longer than `line_max`; this record holds one
/// piece and the next record of the same source continues it.
pub const FLAG_CONTINUED: u8 = 0x08;
/// Record flag: the last line of a stream, flushed at close without a newline.
pub const FLAG_PARTIAL: u8 = 0x10;

/// One stored line, as handed to query sinks. Borrowed from the reader's buffers.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub unit: &'a str,
    pub invocation: &'a str,
    pub identifier: Option<&'a str>,
    pub pid: u32,
    pub stream: Stream,
    pub priority: u8,
    /// Microseconds since the Unix epoch.
    pub realtime_usec: u64,
    /// Microseconds of CLOCK_MONOTONIC.
    pub monotonic_usec: u64,
    pub message: &'a [u8],
    /// The original line was longer than `line_max` and continues in the next record.
    pub continued: bool,
    /// The stream closed before this line got its newline.
    pub partial: bool,
    pub cursor: Cursor,
}

impl Record<'_> {
    /// SYSLOG_IDENTIFIER: the configured identifier, else the unit name
    /// without its `.service` suffix.
    pub fn syslog_identifier(&self) -> &str {
        match self.identifier {
            Some(i) => i,
            None => self.unit.strip_suffix(".service").unwrap_or(self.unit),
        }
    }
}

/// Parses a leading `<N>` the way systemd does for SyslogLevelPrefix= on
/// stream transports (no facility allowed: the value must be 0–7, written with
/// 1 to 3 digits). Returns the priority and the number of bytes to strip.
pub fn parse_level_prefix(line: &[u8]) -> Option<(u8, usize)> {
    if line.first() != Some(&b'<') {
        return None;
    }
    let mut v: u32 = 0;
    let mut i = 1;
    while i < line.len() && i <= 3 && line[i].is_ascii_digit() {
        v = v * 10 + u32::from(line[i] - b'0');
        i += 1;
    }
    if i == 1 || line.get(i) != Some(&b'>') || v > 7 {
        return None;
    }
    Some((v as u8, i + 1))
}

/// A record of `bot.service` (stdout, info) with message `msg`, for the
/// tests of the modules that render records.
#[cfg(test)]
pub(crate) fn sample(msg: &[u8]) -> Record<'_> {
    Record {
        unit: "bot.service",
        invocation: "0123456789abcdef0123456789abcdef",
        identifier: None,
        pid: 42,
        stream: Stream::Stdout,
        priority: priority::INFO,
        realtime_usec: 1_763_698_400_000_000,
        monotonic_usec: 5,
        message: msg,
        continued: false,
        partial: false,
        cursor: Cursor(7),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_prefixes() {
        assert_eq!(parse_level_prefix(b"<3>boom"), Some((3, 3)));
        assert_eq!(parse_level_prefix(b"<007>x"), Some((7, 5)));
        assert_eq!(parse_level_prefix(b"<8>x"), None);
        assert_eq!(parse_level_prefix(b"<>x"), None);
        assert_eq!(parse_level_prefix(b"<3x"), None);
        assert_eq!(parse_level_prefix(b"<0003>x"), None);
        assert_eq!(parse_level_prefix(b"x<3>"), None);
        assert_eq!(parse_level_prefix(b"<12>x"), None);
    }

    #[test]
    fn priority_names() {
        assert_eq!(priority::parse("err"), Some(3));
        assert_eq!(priority::parse("warning"), Some(4));
        assert_eq!(priority::parse("5"), Some(5));
        assert_eq!(priority::parse("9"), None);
        assert_eq!(priority::name(3), "err");
    }

    #[test]
    fn streams_round_trip_through_their_byte() {
        for s in [
            Stream::Stdout,
            Stream::Stderr,
            Stream::Daemon,
            Stream::Syslog(0),
            Stream::Syslog(23),
        ] {
            assert_eq!(Stream::from_u8(s.to_u8()), s);
        }
        assert!(Stream::Syslog(3).same_transport(Stream::Syslog(16)));
        assert!(!Stream::Syslog(3).same_transport(Stream::Daemon));
    }

    #[test]
    fn cursor_round_trip() {
        let c = Cursor(0xabc);
        assert_eq!(c.to_string().parse::<Cursor>(), Ok(c));
    }
}
