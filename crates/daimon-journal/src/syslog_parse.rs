//! Owns reading one syslog datagram: RFC 5424, RFC 3164 (with or without a
//! host name) and glibc's `syslog(3)` format, into the fields journald keeps
//! (`PRIORITY`, `SYSLOG_FACILITY`, `SYSLOG_IDENTIFIER`, `SYSLOG_PID`,
//! `MESSAGE`).
//!
//! Pure and total: any bytes give a message. What cannot be read as a header
//! stays in the message, as journald keeps a malformed datagram whole. The
//! sender's own claims (host name, time stamp, PID) are only claims: the
//! daemon stamps the reception time and takes `_PID` from the kernel.

/// journald's default for a datagram without `<PRI>`: `LOG_USER | LOG_INFO`.
const DEFAULT_FACILITY: u8 = 1;
const DEFAULT_SEVERITY: u8 = 6;

/// One datagram, read. Borrows from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage<'a> {
    /// 0–23 (`kern`, `user`, ... `local7`).
    pub facility: u8,
    /// 0–7 (`emerg` ... `debug`).
    pub severity: u8,
    /// The tag (RFC 3164) or APP-NAME (RFC 5424): valid UTF-8, at most 128 bytes.
    pub identifier: Option<&'a str>,
    /// The PID the sender claims (`tag[PID]:` or PROCID).
    pub pid: Option<u32>,
    /// The host name the sender claims, if the header had one.
    pub hostname: Option<&'a [u8]>,
    pub message: &'a [u8],
}

/// Reads `dg`. Trailing newlines, carriage returns and NULs are dropped
/// (`logger` and some libcs end a datagram with one).
pub fn parse(dg: &[u8]) -> SyslogMessage<'_> {
    let mut end = dg.len();
    while end > 0 && matches!(dg[end - 1], b'\n' | b'\r' | 0) {
        end -= 1;
    }
    let dg = &dg[..end];
    let (facility, severity, rest) = match priority(dg) {
        Some((pri, n)) => (pri >> 3, pri & 7, &dg[n..]),
        None => (DEFAULT_FACILITY, DEFAULT_SEVERITY, dg),
    };
    let mut m = SyslogMessage {
        facility,
        severity,
        identifier: None,
        pid: None,
        hostname: None,
        message: rest,
    };
    if let Some(r) = rest.strip_prefix(b"1 ") {
        if rfc5424(r, &mut m) {
            return m;
        }
        m.message = rest;
    }
    rfc3164(rest, &mut m);
    m
}

/// `<N>`: one to three digits, at most 191 (facility 23, severity 7).
fn priority(b: &[u8]) -> Option<(u8, usize)> {
    if b.first() != Some(&b'<') {
        return None;
    }
    let mut v: u32 = 0;
    let mut i = 1;
    while i < b.len() && i <= 3 && b[i].is_ascii_digit() {
        v = v * 10 + u32::from(b[i] - b'0');
        i += 1;
    }
    if i == 1 || b.get(i) != Some(&b'>') || v > 191 {
        return None;
    }
    Some((v as u8, i + 1))
}

/// The next space-separated token and what follows its space.
fn token(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = memchr::memchr(b' ', b)?;
    (i > 0).then(|| (&b[..i], &b[i + 1..]))
}

/// A header field of RFC 5424: `-` is none.
fn nil(t: &[u8]) -> Option<&[u8]> {
    (t != b"-").then_some(t)
}

/// `VERSION SP` already read: TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [SP MSG]
/// (RFC 5424 §6). `false` if the header does not have that shape.
fn rfc5424<'a>(b: &'a [u8], m: &mut SyslogMessage<'a>) -> bool {
    let Some((_time, b)) = token(b) else {
        return false;
    };
    let Some((host, b)) = token(b) else {
        return false;
    };
    let Some((app, b)) = token(b) else {
        return false;
    };
    let Some((procid, b)) = token(b) else {
        return false;
    };
    let Some((_msgid, b)) = token(b).or_else(|| nil_tail(b)) else {
        return false;
    };
    let Some(after_sd) = skip_structured_data(b) else {
        return false;
    };
    let msg = match after_sd.first() {
        None => after_sd,
        Some(b' ') => &after_sd[1..],
        Some(_) => return false,
    };
    m.hostname = nil(host);
    m.identifier = nil(app).and_then(ident);
    m.pid = nil(procid).and_then(number);
    // A UTF-8 message may begin with a BOM (§6.4).
    m.message = msg.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(msg);
    true
}

/// A last header field with nothing after it (`... MSGID` then end): lets
/// the structured data be empty instead of failing.
fn nil_tail(b: &[u8]) -> Option<(&[u8], &[u8])> {
    (!b.is_empty() && !b.contains(&b' ')).then_some((b, &[][..]))
}

/// STRUCTURED-DATA: `-` or one or more `[...]` whose quoted values may hold
/// `\"`, `\\` and `\]` (§6.3). Returns what follows it.
fn skip_structured_data(b: &[u8]) -> Option<&[u8]> {
    if let Some(r) = b.strip_prefix(b"-") {
        return Some(r);
    }
    if b.first() != Some(&b'[') {
        return None;
    }
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        i += 1;
        let mut quoted = false;
        loop {
            match *b.get(i)? {
                b'\\' if quoted => i += 2,
                b'"' => {
                    quoted = !quoted;
                    i += 1;
                }
                b']' if !quoted => {
                    i += 1;
                    break;
                }
                _ => i += 1,
            }
        }
    }
    b.get(i..)
}

fn number(t: &[u8]) -> Option<u32> {
    if t.is_empty() || t.len() > 10 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(t).ok()?.parse().ok()
}

/// An identifier as kept: UTF-8, printable, not too long.
fn ident(t: &[u8]) -> Option<&str> {
    if t.is_empty() || t.len() > 128 || t.iter().any(|&c| c < 0x21 || c == 0x7f) {
        return None;
    }
    std::str::from_utf8(t).ok()
}

/// RFC 3164 and glibc: `[TIMESTAMP SP [HOSTNAME SP]] [TAG[\[PID\]]: ]MSG`.
/// glibc's `syslog(3)` writes no host name; `logger --rfc3164` and relays do.
fn rfc3164<'a>(b: &'a [u8], m: &mut SyslogMessage<'a>) {
    let (dated, b) = match skip_date(b) {
        Some(r) => (true, r),
        None => (false, b),
    };
    m.message = b;
    if let Some((id, pid, msg)) = tag(b) {
        (m.identifier, m.pid, m.message) = (Some(id), pid, msg);
        return;
    }
    // A host name only comes after a time stamp (the HEADER of §4.1.2), and
    // only counts when a tag follows it.
    if dated
        && let Some((host, r)) = token(b)
        && let Some((id, pid, msg)) = tag(r)
    {
        (m.hostname, m.identifier, m.pid, m.message) = (Some(host), Some(id), pid, msg);
    }
}

/// `Mmm dd hh:mm:ss ` (§4.1.2; a day below 10 has a leading space), or an
/// RFC 3339 time stamp (`2026-12-07T11:30:00.123+01:00 `, rsyslog's
/// high-precision format), and the space after it.
fn skip_date(b: &[u8]) -> Option<&[u8]> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    if b.len() >= 16 && MONTHS.contains(&&b[..3]) {
        let d = &b[..16];
        let digit = |i: usize| d[i].is_ascii_digit();
        let ok = d[3] == b' '
            && (d[4] == b' ' || digit(4))
            && digit(5)
            && d[6] == b' '
            && digit(7)
            && digit(8)
            && d[9] == b':'
            && digit(10)
            && digit(11)
            && d[12] == b':'
            && digit(13)
            && digit(14)
            && d[15] == b' ';
        return ok.then(|| &b[16..]);
    }
    let (t, rest) = token(b)?;
    let iso = t.len() >= 19
        && t[..4].iter().all(u8::is_ascii_digit)
        && t[4] == b'-'
        && t[7] == b'-'
        && t[10] == b'T'
        && t[13] == b':';
    iso.then_some(rest)
}

/// `TAG: ` or `TAG[PID]: ` at the start of `b` (journald's
/// `syslog_parse_identifier`): the tag, the claimed PID, the message after it.
fn tag(b: &[u8]) -> Option<(&str, Option<u32>, &[u8])> {
    let end = b.iter().position(|&c| matches!(c, b':' | b'[' | b' '))?;
    let id = ident(&b[..end])?;
    let (pid, r) = match b[end] {
        b'[' => {
            let close = memchr::memchr(b']', &b[end..])? + end;
            (number(&b[end + 1..close]), &b[close + 1..])
        }
        b':' => (None, &b[end..]),
        _ => return None,
    };
    let r = r.strip_prefix(b":")?;
    Some((id, pid, r.strip_prefix(b" ").unwrap_or(r)))
}

/// The names of the facilities (syslog(3), RFC 5424 table 1).
pub fn facility_name(f: u8) -> &'static str {
    const NAMES: [&str; 24] = [
        "kern",
        "user",
        "mail",
        "daemon",
        "auth",
        "syslog",
        "lpr",
        "news",
        "uucp",
        "cron",
        "authpriv",
        "ftp",
        "ntp",
        "security",
        "console",
        "solaris-cron",
        "local0",
        "local1",
        "local2",
        "local3",
        "local4",
        "local5",
        "local6",
        "local7",
    ];
    NAMES.get(usize::from(f)).copied().unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> SyslogMessage<'_> {
        parse(s.as_bytes())
    }

    #[test]
    fn glibc_without_host_name() {
        let m = p("<11>Dec  7 11:30:00 bot[4242]: disk on fire\n");
        assert_eq!((m.facility, m.severity), (1, 3));
        assert_eq!(m.identifier, Some("bot"));
        assert_eq!(m.pid, Some(4242));
        assert_eq!(m.hostname, None);
        assert_eq!(m.message, b"disk on fire");
    }

    #[test]
    fn rfc3164_with_host_name() {
        let m = p("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8");
        assert_eq!((m.facility, m.severity), (4, 2));
        assert_eq!(m.hostname, Some(&b"mymachine"[..]));
        assert_eq!(m.identifier, Some("su"));
        assert_eq!(m.pid, None);
        assert_eq!(m.message, b"'su root' failed for lonvick on /dev/pts/8");
    }

    #[test]
    fn logger_default_local_format() {
        // util-linux logger to a local socket: no host name, a tag, no PID.
        let m = p("<13>Dec  7 09:05:01 alice: hello there");
        assert_eq!((m.facility, m.severity), (1, 5));
        assert_eq!(m.identifier, Some("alice"));
        assert_eq!(m.message, b"hello there");
    }

    #[test]
    fn rfc5424_full() {
        let m = p(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 77 ID47 \
             [exampleSDID@32473 iut=\"3\" eventSource=\"App\\]lication\"] \u{feff}An application event",
        );
        assert_eq!((m.facility, m.severity), (20, 5));
        assert_eq!(m.hostname, Some(&b"mymachine.example.com"[..]));
        assert_eq!(m.identifier, Some("evntslog"));
        assert_eq!(m.pid, Some(77));
        assert_eq!(m.message, b"An application event");
    }

    #[test]
    fn rfc5424_nil_fields_and_no_message() {
        let m = p("<14>1 - - - - - -");
        assert_eq!(m.identifier, None);
        assert_eq!(m.hostname, None);
        assert_eq!(m.message, b"");
        let m = p("<14>1 2026-12-07T10:00:00Z host app - - - hi");
        assert_eq!(m.identifier, Some("app"));
        assert_eq!(m.pid, None);
        assert_eq!(m.message, b"hi");
    }

    #[test]
    fn malformed_stays_whole() {
        let m = p("no header at all: really");
        assert_eq!(m.identifier, None);
        assert_eq!(m.message, b"no header at all: really");
        assert_eq!((m.facility, m.severity), (1, 6));
        let m = p("<999>x");
        assert_eq!(m.message, b"<999>x");
        let m = p("<13>1 broken");
        assert_eq!(m.message, b"1 broken");
        let m = p("<13>");
        assert_eq!(m.message, b"");
        let m = p("<13>bot[12: oops");
        assert_eq!(m.identifier, None);
        assert_eq!(m.message, b"bot[12: oops");
    }

    #[test]
    fn no_time_stamp_but_a_tag() {
        let m = p("<30>myapp[7]: started");
        assert_eq!((m.facility, m.severity), (3, 6));
        assert_eq!(m.identifier, Some("myapp"));
        assert_eq!(m.pid, Some(7));
        assert_eq!(m.message, b"started");
    }

    #[test]
    fn rfc3339_time_stamp_then_host_and_tag() {
        let m = p("<86>2026-12-07T11:30:00.123456+01:00 web sshd[99]: Accepted key");
        assert_eq!(m.hostname, Some(&b"web"[..]));
        assert_eq!(m.identifier, Some("sshd"));
        assert_eq!(m.pid, Some(99));
        assert_eq!(m.message, b"Accepted key");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_the_message_is_theirs(
            b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)
        ) {
            let m = parse(&b);
            proptest::prop_assert!(m.facility <= 23 && m.severity <= 7);
            // The message is a piece of the datagram: nothing invented.
            let (start, end) = (b.as_ptr() as usize, b.as_ptr() as usize + b.len());
            let ms = m.message.as_ptr() as usize;
            proptest::prop_assert!(m.message.is_empty() || (ms >= start && ms + m.message.len() <= end));
        }

        #[test]
        fn glibc_lines_read_back(
            pri in 0u8..192,
            id in "[a-zA-Z0-9_.-]{1,20}",
            pid in proptest::option::of(1u32..4_000_000),
            host in proptest::option::of("[a-z][a-z0-9-]{0,15}"),
            msg in "[ -~]{0,80}",
        ) {
            let tag = match pid {
                Some(p) => format!("{id}[{p}]"),
                None => id.clone(),
            };
            let host = host.map(|h| format!("{h} ")).unwrap_or_default();
            let line = format!("<{pri}>Jan  2 03:04:05 {host}{tag}: {msg}\n");
            let m = parse(line.as_bytes());
            proptest::prop_assert_eq!((m.facility, m.severity), (pri >> 3, pri & 7));
            proptest::prop_assert_eq!(m.identifier, Some(id.as_str()));
            proptest::prop_assert_eq!(m.pid, pid);
            proptest::prop_assert_eq!(m.message, msg.trim_end_matches(['\r', '\0']).as_bytes());
        }
    }

    #[test]
    fn facility_names() {
        assert_eq!(facility_name(0), "kern");
        assert_eq!(facility_name(23), "local7");
        assert_eq!(facility_name(24), "unknown");
    }
}
