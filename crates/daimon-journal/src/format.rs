//! Owns output formats: `short` and `short-iso` (journalctl's syslog-like
//! lines), `cat` (the message alone), `json` (one object per line with
//! journalctl's field names) and `export` (the same fields in journalctl's
//! export format, in `export`).

use std::io::Write;
use std::str::FromStr;
use std::sync::OnceLock;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::boots::Boot;
use crate::record::Record;

/// journalctl's `-o` choices that daimon supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// `Nov 21 04:13:20 host unit[pid]: message`
    Short,
    /// `2026-11-21T04:13:20+00:00 host unit[pid]: message`
    ShortIso,
    /// The message alone, bytes as stored.
    Cat,
    /// One JSON object per line.
    Json,
    /// journalctl's export format, which systemd-journal-remote reads.
    Export,
}

impl OutputFormat {
    /// A format for programs: never escaped or coloured for a terminal, and
    /// an empty answer is empty (no `-- No entries --`).
    pub fn is_machine(self) -> bool {
        matches!(self, OutputFormat::Json | OutputFormat::Export)
    }
}

impl FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "short" => Ok(OutputFormat::Short),
            "short-iso" => Ok(OutputFormat::ShortIso),
            "cat" => Ok(OutputFormat::Cat),
            "json" => Ok(OutputFormat::Json),
            "export" => Ok(OutputFormat::Export),
            _ => Err(format!(
                "invalid output format {s:?}: expected short, short-iso, cat, json or export"
            )),
        }
    }
}

/// Renders records with a host name and a time zone.
#[derive(Debug, Clone)]
pub struct Renderer {
    pub format: OutputFormat,
    pub hostname: String,
    pub tz: TimeZone,
    /// The store's boots, oldest first (`Journal::boots`): `json` and
    /// `export` name the boot that wrote each record as `_BOOT_ID`, so
    /// journalctl's `-b` works on journal files made from an export.
    pub boots: Vec<Boot>,
}

impl Renderer {
    pub fn new(format: OutputFormat, hostname: impl Into<String>, tz: TimeZone) -> Renderer {
        Renderer {
            format,
            hostname: hostname.into(),
            tz,
            boots: Vec::new(),
        }
    }

    /// The kernel boot id of the boot that wrote `rec`, if the store knows it.
    fn boot_of(&self, rec: &Record<'_>) -> Option<&str> {
        let after = self.boots.partition_point(|b| b.first_seq <= rec.cursor.0);
        after.checked_sub(1).map(|i| self.boots[i].id.as_str())
    }

    /// Appends the rendering of `rec` (with its final newline) to `out`.
    pub fn render(&self, rec: &Record<'_>, out: &mut Vec<u8>) {
        match self.format {
            OutputFormat::Cat => {
                out.extend_from_slice(rec.message);
                out.push(b'\n');
            }
            OutputFormat::Short | OutputFormat::ShortIso => {
                let ts = Timestamp::from_microsecond(rec.realtime_usec as i64)
                    .unwrap_or(Timestamp::UNIX_EPOCH)
                    .to_zoned(self.tz.clone());
                let f = if self.format == OutputFormat::Short {
                    "%b %d %H:%M:%S"
                } else {
                    "%Y-%m-%dT%H:%M:%S%:z"
                };
                let _ = write!(
                    out,
                    "{} {} {}",
                    ts.strftime(f),
                    self.hostname,
                    rec.syslog_identifier()
                );
                if rec.pid != 0 {
                    let _ = write!(out, "[{}]", rec.pid);
                }
                out.extend_from_slice(b": ");
                escape_into(rec.message, out);
                out.push(b'\n');
            }
            OutputFormat::Json => self.json(rec, out),
            OutputFormat::Export => {
                crate::export::render(rec, &self.hostname, self.boot_of(rec), out)
            }
        }
    }

    fn json(&self, rec: &Record<'_>, out: &mut Vec<u8>) {
        let mut first = true;
        out.push(b'{');
        fields(rec, &self.hostname, self.boot_of(rec), &mut |k, v| {
            if !first {
                out.push(b',');
            }
            first = false;
            out.push(b'"');
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"\":");
            match std::str::from_utf8(v) {
                Ok(s) => {
                    let _ = serde_json::to_writer(&mut *out, s);
                }
                Err(_) => {
                    // journalctl's convention for non-UTF-8 data: an array of bytes.
                    out.push(b'[');
                    for (i, b) in v.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        let _ = write!(out, "{b}");
                    }
                    out.push(b']');
                }
            }
        });
        out.extend_from_slice(b"}\n");
    }
}

/// A record's fields with journalctl's names, the ones `json` and `export`
/// both list (so what a shipper reads from either is the same): the address
/// fields first (`_BOOT_ID` after them, where journalctl has it), `MESSAGE`
/// last.
pub(crate) fn fields(
    rec: &Record<'_>,
    hostname: &str,
    boot: Option<&str>,
    f: &mut dyn FnMut(&str, &[u8]),
) {
    f("__CURSOR", rec.cursor.to_string().as_bytes());
    f(
        "__REALTIME_TIMESTAMP",
        rec.realtime_usec.to_string().as_bytes(),
    );
    f(
        "__MONOTONIC_TIMESTAMP",
        rec.monotonic_usec.to_string().as_bytes(),
    );
    if let Some(b) = boot {
        f("_BOOT_ID", b.as_bytes());
    }
    f("_HOSTNAME", hostname.as_bytes());
    f("PRIORITY", rec.priority.to_string().as_bytes());
    f("SYSLOG_IDENTIFIER", rec.syslog_identifier().as_bytes());
    if rec.pid != 0 {
        f("_PID", rec.pid.to_string().as_bytes());
    }
    f("_TRANSPORT", rec.stream.as_str().as_bytes());
    if let Some(fac) = rec.stream.facility() {
        f("SYSLOG_FACILITY", fac.to_string().as_bytes());
    }
    f("UNIT", rec.unit.as_bytes());
    f("_SYSTEMD_UNIT", rec.unit.as_bytes());
    if !rec.invocation.is_empty() {
        f("_SYSTEMD_INVOCATION_ID", rec.invocation.as_bytes());
    }
    if rec.continued {
        f("_LINE_BREAK", b"line-max");
    } else if rec.partial {
        f("_LINE_BREAK", b"eof");
    }
    f("MESSAGE", rec.message);
}

/// Renders with the configured host name of this machine and the local time zone.
pub fn render(rec: &Record<'_>, format: OutputFormat, out: &mut Vec<u8>) {
    static DEFAULT: OnceLock<(String, TimeZone)> = OnceLock::new();
    let (host, tz) = DEFAULT.get_or_init(|| {
        (
            crate::hostname(),
            TimeZone::try_system().unwrap_or(TimeZone::UTC),
        )
    });
    Renderer::new(format, host.clone(), tz.clone()).render(rec, out);
}

/// Copies a message for a terminal: valid UTF-8 as is, tabs and ANSI escapes
/// kept, other control bytes and invalid bytes as `\xNN`.
pub fn escape_into(msg: &[u8], out: &mut Vec<u8>) {
    let mut rest = msg;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                push_escaped_str(s, out);
                return;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                // SAFETY: `valid_up_to` bytes are valid UTF-8 per from_utf8.
                push_escaped_str(unsafe { std::str::from_utf8_unchecked(good) }, out);
                let n = e.error_len().unwrap_or(bad.len());
                for b in &bad[..n] {
                    let _ = write!(out, "\\x{b:02x}");
                }
                rest = &bad[n..];
            }
        }
    }
}

fn push_escaped_str(s: &str, out: &mut Vec<u8>) {
    let b = s.as_bytes();
    if !b
        .iter()
        .any(|&c| c < 0x20 && c != b'\t' && c != 0x1b || c == 0x7f)
    {
        out.extend_from_slice(b);
        return;
    }
    for &c in b {
        if (c < 0x20 && c != b'\t' && c != 0x1b) || c == 0x7f {
            let _ = write!(out, "\\x{c:02x}");
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Cursor;

    fn rec(msg: &[u8]) -> Record<'_> {
        crate::record::sample(msg)
    }

    #[test]
    fn short_and_iso() {
        let r = Renderer::new(OutputFormat::Short, "host", TimeZone::UTC);
        let mut out = Vec::new();
        r.render(&rec(b"hello\xff\x01"), &mut out);
        assert_eq!(out, b"Nov 21 04:13:20 host bot[42]: hello\\xff\\x01\n");
        let r = Renderer::new(OutputFormat::ShortIso, "host", TimeZone::UTC);
        out.clear();
        r.render(&rec(b"hi"), &mut out);
        assert_eq!(out, b"2025-11-21T04:13:20+00:00 host bot[42]: hi\n");
    }

    #[test]
    fn cat_is_raw() {
        let r = Renderer::new(OutputFormat::Cat, "host", TimeZone::UTC);
        let mut out = Vec::new();
        r.render(&rec(b"a\xffb"), &mut out);
        assert_eq!(out, b"a\xffb\n");
    }

    #[test]
    fn json_fields() {
        let r = Renderer::new(OutputFormat::Json, "host", TimeZone::UTC);
        let mut out = Vec::new();
        r.render(&rec(b"hi \"there\""), &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v["MESSAGE"], "hi \"there\"");
        assert_eq!(v["__REALTIME_TIMESTAMP"], "1763698400000000");
        assert_eq!(v["_PID"], "42");
        assert_eq!(v["PRIORITY"], "6");
        assert_eq!(v["_SYSTEMD_UNIT"], "bot.service");
        assert_eq!(v["UNIT"], "bot.service");
        assert_eq!(v["SYSLOG_IDENTIFIER"], "bot");
        assert_eq!(v["_TRANSPORT"], "stdout");
        assert_eq!(v["_HOSTNAME"], "host");
        assert!(
            v.get("_BOOT_ID").is_none(),
            "a store without boots names none"
        );
        out.clear();
        r.render(&rec(b"\xff\x00a"), &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v["MESSAGE"], serde_json::json!([255, 0, 97]));
    }

    #[test]
    fn json_names_the_boot_that_wrote_each_record() {
        let mut r = Renderer::new(OutputFormat::Json, "host", TimeZone::UTC);
        r.boots = vec![
            Boot {
                id: "a".repeat(32),
                first_seq: 0,
            },
            Boot {
                id: "b".repeat(32),
                first_seq: 7,
            },
        ];
        let boot = |r: &Renderer, seq: u64| {
            let mut one = rec(b"x");
            one.cursor = Cursor(seq);
            let mut out = Vec::new();
            r.render(&one, &mut out);
            let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
            v["_BOOT_ID"].as_str().map(str::to_string)
        };
        assert_eq!(boot(&r, 6), Some("a".repeat(32)));
        assert_eq!(boot(&r, 7), Some("b".repeat(32)));
        assert_eq!(boot(&r, 900), Some("b".repeat(32)));
        r.boots[0].first_seq = 3;
        assert_eq!(boot(&r, 2), None, "before the first boot recorded");
    }
}
