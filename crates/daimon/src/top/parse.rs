//! Bytes typed in raw mode to crossterm's key events: printable text (UTF-8),
//! Enter, Esc, Backspace, Tab, Ctrl-letters, and the cursor and page keys in
//! both their CSI (`ESC [ A`, `ESC [ 5 ~`) and SS3 (`ESC O A`) forms, as
//! xterm, tmux and the Linux console send them (ECMA-48 §5.4).
//!
//! Why not crossterm's own reader: it sleeps in an edge-triggered epoll on
//! stdin and on its SIGWINCH pipe, and when one wait reports both it returns
//! the resize alone: the key's edge is spent and the key waits for the next
//! one (a `q` typed right after a resize did not quit). And `attach` must
//! stop all reading of stdin while a child owns the terminal, which a thread
//! blocked inside crossterm cannot do.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Parses what can be parsed; returns the keys and how many bytes were used.
/// An escape sequence cut by the end of `buf` is left for the next read,
/// except a lone ESC at the very end, which is the Esc key.
pub fn keys(buf: &[u8]) -> (Vec<KeyEvent>, usize) {
    let mut out = Vec::new();
    let mut i = 0;
    while i < buf.len() {
        match one(&buf[i..]) {
            Some((key, used)) => {
                if let Some(k) = key {
                    out.push(k);
                }
                i += used;
            }
            None => break,
        }
    }
    (out, i)
}

fn key(code: KeyCode) -> Option<KeyEvent> {
    Some(KeyEvent::new(code, KeyModifiers::NONE))
}

/// The key at the start of `b` (None inside: bytes that mean nothing) and
/// its length, or None when `b` ends inside it.
fn one(b: &[u8]) -> Option<(Option<KeyEvent>, usize)> {
    let first = b[0];
    let k = match first {
        b'\r' | b'\n' => key(KeyCode::Enter),
        b'\t' => key(KeyCode::Tab),
        0x7f | 0x08 => key(KeyCode::Backspace),
        0x1b => return escape(b),
        0x01..=0x1a => Some(KeyEvent::new(
            KeyCode::Char((b'a' + first - 1) as char),
            KeyModifiers::CONTROL,
        )),
        0x00..=0x1f => None,
        0x20..=0x7e => key(KeyCode::Char(first as char)),
        _ => {
            // UTF-8: the length from the lead byte (RFC 3629).
            let len = match first {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf7 => 4,
                _ => return Some((None, 1)),
            };
            if b.len() < len {
                return None;
            }
            let c = std::str::from_utf8(&b[..len])
                .ok()
                .and_then(|s| s.chars().next());
            return Some((c.and_then(|c| key(KeyCode::Char(c))), len));
        }
    };
    Some((k, 1))
}

fn escape(b: &[u8]) -> Option<(Option<KeyEvent>, usize)> {
    match b.get(1) {
        // Alone at the end of what was read: the Esc key.
        None => Some((key(KeyCode::Esc), 1)),
        Some(b'[') => csi(b),
        Some(b'O') => b.get(2).map(|&f| (final_key(f), 3)),
        // ESC ESC, or Alt+key: Esc, then the rest as typed.
        Some(_) => Some((key(KeyCode::Esc), 1)),
    }
}

/// `ESC [ params final`: parameters are digits and `;`, the final byte is in
/// 0x40..=0x7e.
fn csi(b: &[u8]) -> Option<(Option<KeyEvent>, usize)> {
    let mut i = 2;
    while i < b.len() {
        let c = b[i];
        if (0x40..=0x7e).contains(&c) {
            let params = std::str::from_utf8(&b[2..i]).unwrap_or("");
            let first: &str = params.split(';').next().unwrap_or("");
            let k = if c == b'~' {
                match first {
                    "1" | "7" => key(KeyCode::Home),
                    "4" | "8" => key(KeyCode::End),
                    "2" => key(KeyCode::Insert),
                    "3" => key(KeyCode::Delete),
                    "5" => key(KeyCode::PageUp),
                    "6" => key(KeyCode::PageDown),
                    _ => None,
                }
            } else {
                final_key(c)
            };
            return Some((k, i + 1));
        }
        i += 1;
    }
    None
}

fn final_key(f: u8) -> Option<KeyEvent> {
    match f {
        b'A' => key(KeyCode::Up),
        b'B' => key(KeyCode::Down),
        b'C' => key(KeyCode::Right),
        b'D' => key(KeyCode::Left),
        b'H' => key(KeyCode::Home),
        b'F' => key(KeyCode::End),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(b: &[u8]) -> Vec<KeyCode> {
        keys(b).0.into_iter().map(|k| k.code).collect()
    }

    #[test]
    fn text_and_control_keys() {
        use KeyCode::*;
        assert_eq!(
            codes(b"q/\r\x7f\t"),
            [Char('q'), Char('/'), Enter, Backspace, Tab]
        );
        assert_eq!(codes("é".as_bytes()), [Char('é')]);
        let (k, _) = keys(b"\x03");
        assert_eq!(k[0].code, Char('c'));
        assert!(k[0].modifiers.contains(KeyModifiers::CONTROL));
    }

    #[test]
    fn cursor_and_page_keys_in_both_forms() {
        use KeyCode::*;
        assert_eq!(
            codes(b"\x1b[A\x1bOB\x1b[5~\x1b[6~\x1b[1~\x1b[4~\x1b[H\x1bOF\x1b[1;5C"),
            [Up, Down, PageUp, PageDown, Home, End, Home, End, Right]
        );
    }

    #[test]
    fn a_lone_esc_is_the_key_and_a_cut_sequence_waits() {
        assert_eq!(codes(b"\x1b"), [KeyCode::Esc]);
        assert_eq!(keys(b"j\x1b[").1, 1);
        assert_eq!(keys(b"\x1b[5").1, 0);
        assert_eq!(keys("é".as_bytes().split_at(1).0).1, 0);
        // Unknown sequences are skipped whole.
        assert_eq!(codes(b"\x1b[200~x"), [KeyCode::Char('x')]);
    }
}
