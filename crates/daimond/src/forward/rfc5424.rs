//! One stored line as an RFC 5424 syslog message, and its octet-counted
//! frame for TCP (RFC 6587 §3.4.1). Pure.
//!
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG`: PRI from the
//! line's facility (its own for syslog lines, `user` for what a service
//! printed, `daemon` for daimond's messages) and priority; the time in UTC
//! with microseconds; APP-NAME the line's `SYSLOG_IDENTIFIER`; PROCID its
//! `_PID`; no MSGID and no structured data (an SD-ID of our own would need
//! an IANA enterprise number).

use daimon_journal::{Record, Stream};

const USER: u8 = 1;
const DAEMON: u8 = 3;

/// The header field rules of §6: printable US-ASCII without spaces, at most
/// `max` characters, `-` when empty.
fn field(out: &mut Vec<u8>, v: &str, max: usize) {
    let start = out.len();
    for b in v.bytes().filter(|b| (33..=126).contains(b)).take(max) {
        out.push(b);
    }
    if out.len() == start {
        out.push(b'-');
    }
}

/// Appends the message for `rec` to `out`.
pub fn format(rec: &Record<'_>, hostname: &str, out: &mut Vec<u8>) {
    let facility = match rec.stream {
        Stream::Syslog(f) => f,
        Stream::Daemon => DAEMON,
        _ => USER,
    };
    let pri = u32::from(facility.min(23)) * 8 + u32::from(rec.priority & 7);
    out.extend_from_slice(format!("<{pri}>1 ").as_bytes());
    match jiff::Timestamp::from_microsecond(rec.realtime_usec as i64) {
        Ok(t) => out.extend_from_slice(format!("{t:.6}").as_bytes()),
        Err(_) => out.push(b'-'),
    }
    out.push(b' ');
    field(out, hostname, 255);
    out.push(b' ');
    field(out, rec.syslog_identifier(), 48);
    out.push(b' ');
    if rec.pid != 0 {
        out.extend_from_slice(rec.pid.to_string().as_bytes());
    } else {
        out.push(b'-');
    }
    out.extend_from_slice(b" - - ");
    out.extend_from_slice(rec.message);
}

/// `LEN SP MSG`: the framing rsyslog and syslog-ng read on TCP.
pub fn octet_counted(msg: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{} ", msg.len()).as_bytes());
    out.extend_from_slice(msg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use daimon_journal::Cursor;

    fn rec(stream: Stream, priority: u8, msg: &[u8]) -> Record<'_> {
        Record {
            unit: "bot.service",
            invocation: "",
            identifier: None,
            pid: 42,
            stream,
            priority,
            realtime_usec: 1_796_644_800_123_456,
            monotonic_usec: 0,
            message: msg,
            continued: false,
            partial: false,
            cursor: Cursor(1),
        }
    }

    #[test]
    fn a_line_becomes_rfc5424() {
        let mut out = Vec::new();
        format(&rec(Stream::Stdout, 3, b"disk full"), "web 1", &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "<11>1 2026-12-07T12:00:00.123456Z web1 bot 42 - - disk full"
        );
        let mut out = Vec::new();
        format(&rec(Stream::Syslog(16), 6, b"x"), "", &mut out);
        assert!(
            out.starts_with(b"<134>1 "),
            "{}",
            String::from_utf8_lossy(&out)
        );
        assert!(out.ends_with(b" - bot 42 - - x"));
        let mut out = Vec::new();
        format(&rec(Stream::Daemon, 5, b"Started"), "h", &mut out);
        assert!(out.starts_with(b"<29>1 "));
    }

    #[test]
    fn octet_counting() {
        let mut out = Vec::new();
        octet_counted("héllo".as_bytes(), &mut out);
        assert_eq!(out, "6 héllo".as_bytes());
    }
}
