//! Owns `-o export`: journalctl's export format, the stream that
//! systemd-journal-remote, systemd-journal-upload and log shippers read
//! (<https://systemd.io/JOURNAL_EXPORT_FORMATS/>). Per entry, each field is
//! `FIELD=value\n`, or, when the value is not printable UTF-8 (a newline, an
//! escape sequence, invalid bytes), `FIELD\n`, the value's length as
//! a 64-bit little-endian integer, the bytes and `\n`; an empty line ends the
//! entry. The fields are `json`'s (`format::fields`).

use crate::record::Record;

/// Appends `rec` in the export format, its closing empty line included.
/// `boot`: the kernel boot id of the boot that wrote it, if known.
pub(crate) fn render(rec: &Record<'_>, hostname: &str, boot: Option<&str>, out: &mut Vec<u8>) {
    crate::format::fields(rec, hostname, boot, &mut |k, v| field(k, v, out));
    out.push(b'\n');
}

fn field(name: &str, value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(name.as_bytes());
    if printable(value) {
        out.push(b'=');
        out.extend_from_slice(value);
    } else {
        out.push(b'\n');
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
        out.extend_from_slice(value);
    }
    out.push(b'\n');
}

/// journalctl's test for the text form (`utf8_is_printable_newline(.., false)`
/// in systemd's utf8.c): valid UTF-8 without a newline or a control character
/// of C0 or C1 (`char::is_control`), a tab being harmless.
fn printable(v: &[u8]) -> bool {
    if v.iter().all(|&b| (0x20..0x7f).contains(&b)) {
        return true;
    }
    match std::str::from_utf8(v) {
        Ok(s) => !s.chars().any(|c| c.is_control() && c != '\t'),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Stream;

    fn rec(msg: &[u8]) -> Record<'_> {
        Record {
            stream: Stream::Stderr,
            priority: 3,
            ..crate::record::sample(msg)
        }
    }

    /// Splits an export stream back into entries of (field, value), as
    /// systemd's importer reads it.
    fn parse(mut s: &[u8]) -> Vec<Vec<(String, Vec<u8>)>> {
        let mut entries = vec![];
        let mut cur = vec![];
        while !s.is_empty() {
            let nl = s.iter().position(|&b| b == b'\n').expect("a line end");
            let line = &s[..nl];
            s = &s[nl + 1..];
            if line.is_empty() {
                entries.push(std::mem::take(&mut cur));
                continue;
            }
            match line.iter().position(|&b| b == b'=') {
                Some(eq) => cur.push((
                    String::from_utf8(line[..eq].to_vec()).expect("name"),
                    line[eq + 1..].to_vec(),
                )),
                None => {
                    let len = u64::from_le_bytes(s[..8].try_into().expect("size")) as usize;
                    cur.push((
                        String::from_utf8(line.to_vec()).expect("name"),
                        s[8..8 + len].to_vec(),
                    ));
                    assert_eq!(s[8 + len], b'\n', "a binary field ends with a newline");
                    s = &s[9 + len..];
                }
            }
        }
        assert!(cur.is_empty(), "the last entry ends with an empty line");
        entries
    }

    fn get<'a>(e: &'a [(String, Vec<u8>)], k: &str) -> &'a [u8] {
        &e.iter().find(|(n, _)| n == k).expect(k).1
    }

    #[test]
    fn text_fields_and_entry_end() {
        let mut out = Vec::new();
        render(&rec(b"disk full"), "host", Some(&"e".repeat(32)), &mut out);
        render(
            &rec("gr\u{fc}\u{df}e\tok".as_bytes()),
            "host",
            None,
            &mut out,
        );
        let text = String::from_utf8(out.clone()).expect("all text");
        assert!(text.starts_with(
            "__CURSOR=s=7\n__REALTIME_TIMESTAMP=1763698400000000\n__MONOTONIC_TIMESTAMP=5\n\
             _BOOT_ID=eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\n_HOSTNAME=host\n"
        ));
        assert!(text.contains("\nPRIORITY=3\nSYSLOG_IDENTIFIER=bot\n_PID=42\n_TRANSPORT=stderr\n"));
        assert!(text.contains("\n_SYSTEMD_UNIT=bot.service\n"));
        assert!(text.ends_with("MESSAGE=gr\u{fc}\u{df}e\tok\n\n"));
        let entries = parse(&out);
        assert_eq!(entries.len(), 2);
        assert_eq!(get(&entries[0], "MESSAGE"), b"disk full");
        assert_eq!(get(&entries[0], "SYSLOG_IDENTIFIER"), b"bot");
        assert_eq!(get(&entries[0], "_HOSTNAME"), b"host");
        assert!(
            entries[1].iter().all(|(k, _)| k != "_BOOT_ID"),
            "no boot id when the store has none"
        );
    }

    #[test]
    fn unprintable_values_are_binary_with_their_length() {
        for msg in [
            &b"line\nbreak"[..],
            b"c1 \xc2\x85 next line",
            b"\x1b[31mred",
            b"bad \xff byte",
            b"",
        ] {
            let mut out = Vec::new();
            render(&rec(msg), "host", None, &mut out);
            let entries = parse(&out);
            assert_eq!(entries.len(), 1);
            assert_eq!(get(&entries[0], "MESSAGE"), msg);
        }
        let mut out = Vec::new();
        render(&rec(b"a\nb"), "host", None, &mut out);
        assert!(out.ends_with(b"MESSAGE\n\x03\0\0\0\0\0\0\0a\nb\n\n"));
    }
}
