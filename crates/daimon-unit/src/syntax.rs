//! Lexing and parsing of the unit-file syntax, per systemd.syntax(7).
//!
//! Owns: bytes -> sections of `Key=value` entries with their line and value column.
//! Knows nothing of what keys mean. Rules implemented (as systemd's `config_parse()`):
//! - lines are split at `\n` (a trailing `\r` is dropped);
//! - leading and trailing whitespace of a line is ignored; empty lines and lines whose
//!   first non-blank character is `#` or `;` are comments;
//! - a line ending in an unescaped `\` continues on the next line; the backslash is
//!   replaced by a space; comment lines inside a continuation are skipped;
//! - `[Name]` opens a section; `Key=value` splits at the first `=`, both sides trimmed;
//! - a line that is not valid UTF-8 is an error, never a panic; a leading byte-order
//!   mark is skipped.

use crate::diagnostic::Diagnostic;
use std::path::Path;

/// One `Key=value` assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    /// 1-based line where the assignment starts.
    pub line: u32,
    /// 1-based column (in characters) where the value starts.
    pub column: u32,
}

/// A `[Section]` and its entries, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub line: u32,
    pub entries: Vec<Entry>,
}

/// Whitespace as systemd's `WHITESPACE` (" \t\n\r").
fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Whether the line ends in a backslash that is not itself escaped.
fn ends_with_continuation(line: &str) -> bool {
    let trailing = line.bytes().rev().take_while(|&b| b == b'\\').count();
    trailing % 2 == 1
}

/// Parse `bytes` into sections. Problems are appended to `diags` as errors naming `file`.
pub fn parse(file: &Path, bytes: &[u8], diags: &mut Vec<Diagnostic>) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    // The logical line being assembled: (text, first line number, physical start column offset).
    let mut pending: Option<(String, u32, u32)> = None;
    let mut outside_reported = false;

    // A UTF-8 byte-order mark at the start is skipped, as systemd does.
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut lineno: u32 = 0;
    for raw in bytes.split(|&b| b == b'\n') {
        lineno = lineno.saturating_add(1);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t,
            Err(e) => {
                let col = String::from_utf8_lossy(&raw[..e.valid_up_to()])
                    .chars()
                    .count()
                    + 1;
                diags.push(Diagnostic::error(
                    file,
                    lineno,
                    Some(col as u32),
                    "line is not valid UTF-8; ignored",
                ));
                // systemd drops the whole assignment; so do we, including a continuation.
                pending = None;
                continue;
            }
        };
        let trimmed_start = text.trim_start_matches(is_ws);
        let (mut logical, start_line, lead) = match pending.take() {
            Some((mut acc, start, lead)) => {
                if trimmed_start.starts_with(['#', ';']) {
                    // Comment inside a continuation: skipped, the continuation goes on.
                    pending = Some((acc, start, lead));
                    continue;
                }
                acc.push_str(text);
                (acc, start, lead)
            }
            None => {
                if trimmed_start.is_empty() || trimmed_start.starts_with(['#', ';']) {
                    continue;
                }
                let lead = (text.chars().count() - trimmed_start.chars().count()) as u32;
                (trimmed_start.to_string(), lineno, lead)
            }
        };
        if ends_with_continuation(&logical) {
            logical.pop();
            logical.push(' ');
            pending = Some((logical, start_line, lead));
            continue;
        }
        handle_line(
            file,
            &logical,
            start_line,
            lead,
            &mut sections,
            &mut outside_reported,
            diags,
        );
    }
    if let Some((logical, start_line, lead)) = pending {
        // File ended inside a continuation: systemd processes what it has.
        handle_line(
            file,
            &logical,
            start_line,
            lead,
            &mut sections,
            &mut outside_reported,
            diags,
        );
    }
    sections
}

fn handle_line(
    file: &Path,
    line: &str,
    lineno: u32,
    lead: u32,
    sections: &mut Vec<Section>,
    outside_reported: &mut bool,
    diags: &mut Vec<Diagnostic>,
) {
    let line = line.trim_end_matches(is_ws);
    if line.is_empty() {
        return;
    }
    if let Some(rest) = line.strip_prefix('[') {
        match rest.strip_suffix(']') {
            Some(name) if !name.is_empty() && !name.contains(['[', ']']) => {
                sections.push(Section {
                    name: name.to_string(),
                    line: lineno,
                    entries: Vec::new(),
                });
            }
            _ => diags.push(Diagnostic::error(
                file,
                lineno,
                Some(lead + 1),
                format!("invalid section header {line:?}; expected [Name]"),
            )),
        }
        return;
    }
    let Some(eq) = line.find('=') else {
        diags.push(Diagnostic::error(
            file,
            lineno,
            Some(lead + 1),
            format!("{line:?} is not an assignment; expected Key=value"),
        ));
        return;
    };
    let key = line[..eq].trim_end_matches(is_ws);
    let after = &line[eq + 1..];
    let value = after.trim_start_matches(is_ws);
    let column =
        lead + line[..eq + 1].chars().count() as u32 + (after.len() - value.len()) as u32 + 1;
    if key.is_empty() {
        diags.push(Diagnostic::error(
            file,
            lineno,
            Some(lead + 1),
            format!("{line:?} has no key before '='; expected Key=value"),
        ));
        return;
    }
    let Some(section) = sections.last_mut() else {
        if !*outside_reported {
            *outside_reported = true;
            diags.push(Diagnostic::error(
                file,
                lineno,
                Some(lead + 1),
                format!("{key}= is outside of any section; expected a [Section] header first"),
            ));
        }
        return;
    };
    section.entries.push(Entry {
        key: key.to_string(),
        value: value.to_string(),
        line: lineno,
        column,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> (Vec<Section>, Vec<Diagnostic>) {
        let mut d = Vec::new();
        let s = parse(Path::new("t.service"), s.as_bytes(), &mut d);
        (s, d)
    }

    #[test]
    fn basic_sections_and_comments() {
        let (s, d) =
            p("# c\n; c\n[Unit]\nDescription = hello world  \n\n[Service]\nExecStart=/bin/true\n");
        assert!(d.is_empty());
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].entries[0].key, "Description");
        assert_eq!(s[0].entries[0].value, "hello world");
        assert_eq!(s[0].entries[0].line, 4);
        assert_eq!(s[0].entries[0].column, 15);
        assert_eq!(s[1].entries[0].column, 11);
    }

    #[test]
    fn continuation_with_comment_inside() {
        let (s, d) = p("[Service]\nExecStart=/bin/echo a \\\n# skipped\n  b \\\n c\nUser=x\n");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(s[0].entries[0].value, "/bin/echo a    b   c");
        assert_eq!(s[0].entries[0].line, 2);
        assert_eq!(s[0].entries[1].line, 6);
    }

    #[test]
    fn bom_and_crlf() {
        let (s, d) = p("\u{feff}[Unit]\r\nDescription=x\r\n");
        assert!(d.is_empty());
        assert_eq!(s[0].name, "Unit");
        assert_eq!(s[0].entries[0].value, "x");
    }

    #[test]
    fn escaped_backslash_is_not_continuation() {
        let (s, _) = p("[S]\nA=x\\\\\nB=y\n");
        assert_eq!(s[0].entries.len(), 2);
        assert_eq!(s[0].entries[0].value, "x\\\\");
    }

    #[test]
    fn errors_are_reported() {
        let (_, d) = p("A=1\n[Unit\nnoequals\n");
        let msgs: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            msgs,
            [
                "t.service:1:1: A= is outside of any section; expected a [Section] header first",
                "t.service:2:1: invalid section header \"[Unit\"; expected [Name]",
                "t.service:3:1: \"noequals\" is not an assignment; expected Key=value",
            ]
        );
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let (s, d) = p("[Unit]\nDescription=ab\u{e9}\nX=\u{0}");
        assert!(d.is_empty());
        assert_eq!(s[0].entries.len(), 2);
        let mut d = Vec::new();
        let s = parse(
            Path::new("t"),
            b"[Unit]\nDescription=a\xffb\nAfter=x\n",
            &mut d,
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].to_string(), "t:2:14: line is not valid UTF-8; ignored");
        assert_eq!(s[0].entries.len(), 1);
    }
}
