//! Text from services made safe for a terminal.
//!
//! What a service prints (and its `STATUS=`, its unit's `Description=`) can
//! carry escape sequences that act on the terminal of whoever reads it: OSC 52
//! writes the clipboard, CSI `2J` clears the screen, a C1 `CSI` (U+009B) does
//! the same in one character. journalctl shows such text escaped unless told
//! `--all`; so does daimon on a terminal. One rule, here, for the daemon (which
//! renders logs) and the CLI (which renders `status`):
//!
//! - C0 controls except tab (ESC included) and DEL become `\xNN`
//!   (`\x1b[2J`), as systemd's `cescape` writes them;
//! - C1 controls (U+0080 to U+009F) become `\u00NN` (`\u009b`);
//! - bytes that are not UTF-8 become `\xNN`;
//! - everything else is kept. With ESC and C1 gone, no escape sequence (CSI,
//!   OSC, DCS, ...) can start.
//!
//! Pipes and JSON get the text as stored; only output for a terminal is escaped.

use std::fmt::Write as _;

fn is_control(c: char) -> bool {
    (c.is_control() && c != '\t') || c == '\u{7f}'
}

/// Appends `s` with the characters a terminal would act on escaped.
fn push_str(s: &str, out: &mut Vec<u8>) {
    if !s.chars().any(is_control) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    let mut text = String::new();
    for c in s.chars() {
        let n = u32::from(c);
        if !is_control(c) {
            text.push(c);
        } else if n < 0x80 {
            let _ = write!(text, "\\x{n:02x}");
        } else {
            let _ = write!(text, "\\u{n:04x}");
        }
    }
    out.extend_from_slice(text.as_bytes());
}

/// Appends `bytes` escaped for a terminal (see the module's rule).
pub fn escape_terminal(bytes: &[u8], out: &mut Vec<u8>) {
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => return push_str(s, out),
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                if let Ok(s) = std::str::from_utf8(good) {
                    push_str(s, out);
                }
                let n = e.error_len().unwrap_or(bad.len());
                for b in &bad[..n] {
                    out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
                }
                rest = &bad[n..];
            }
        }
    }
}

/// `s` escaped for a terminal (see the module's rule).
pub fn escape_terminal_str(s: &str) -> String {
    if !s.chars().any(is_control) {
        return s.to_string();
    }
    let mut out = Vec::with_capacity(s.len() + 16);
    push_str(s, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(b: &[u8]) -> String {
        let mut out = Vec::new();
        escape_terminal(b, &mut out);
        String::from_utf8(out).expect("escaped text is UTF-8")
    }

    #[test]
    fn sequences_that_act_on_a_terminal_are_shown_not_sent() {
        assert_eq!(
            esc(b"\x1b]52;c;aGk=\x1b\\ clip"),
            "\\x1b]52;c;aGk=\\x1b\\ clip"
        );
        assert_eq!(esc(b"\x1b[2Jcleared"), "\\x1b[2Jcleared");
        assert_eq!(esc("\u{9b}2J".as_bytes()), "\\u009b2J");
        assert_eq!(
            esc(b"bell\x07 nul\x00 del\x7f cr\r"),
            "bell\\x07 nul\\x00 del\\x7f cr\\x0d"
        );
    }

    #[test]
    fn tabs_text_and_non_utf8_bytes() {
        assert_eq!(esc("a\tb é ✓ 日本".as_bytes()), "a\tb é ✓ 日本");
        assert_eq!(esc(b"bad \xff\xfe end"), "bad \\xff\\xfe end");
        // A lone 0x9b byte is not UTF-8 (and not a C1 character here either).
        assert_eq!(esc(b"\x9b2J"), "\\x9b2J");
        assert_eq!(escape_terminal_str("ok"), "ok");
        assert_eq!(escape_terminal_str("\u{1b}[31mred"), "\\x1b[31mred");
    }
}
