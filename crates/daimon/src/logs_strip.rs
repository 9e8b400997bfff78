//! `daimon logs --strip-escapes`: what services wrote to a terminal, as text.
//!
//! The log store keeps a pty service's output as written, escape sequences
//! included (colours, cursor moves, a line editor redrawing its prompt). This
//! filter removes ANSI escape sequences (ECMA-48: CSI `ESC [ ... final`, OSC
//! and the other strings up to BEL or `ESC \`, two-byte `ESC x`) and control
//! characters but tab and newline. With `-o cat`, a carriage return inside a
//! line keeps what follows it, as a terminal shows it (a prompt redrawn over
//! itself shows once); other formats show control characters as `\xNN`
//! already (journalctl's way) and a raw one is dropped, so that the line's
//! prefix (time, unit) stays. Streaming: a sequence or a line split between
//! two reads is handled whole.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    /// After ESC.
    Esc,
    /// Inside `ESC [`, until a final byte (0x40..=0x7e).
    Csi,
    /// Inside a string (OSC, DCS, ...), until BEL or `ESC \`.
    Str,
    /// ESC inside a string.
    StrEsc,
}

pub struct Stripper {
    state: State,
    line: Vec<u8>,
    /// A carriage return starts the line again (`-o cat`).
    cr_overwrites: bool,
}

impl Stripper {
    pub fn new(cr_overwrites: bool) -> Stripper {
        Stripper {
            state: State::Text,
            line: Vec::new(),
            cr_overwrites,
        }
    }

    /// Filters `input` into `out`; complete lines only (the rest waits).
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if b == b'\n' {
                // A newline ends any sequence that lost its end.
                self.state = State::Text;
                self.end_line(out);
                out.push(b'\n');
                continue;
            }
            self.state = match (self.state, b) {
                (State::Text, 0x1b) => State::Esc,
                (State::Text, b'\r') => {
                    if self.cr_overwrites {
                        self.line.push(b'\r');
                    }
                    State::Text
                }
                (State::Text, b'\t') => {
                    self.line.push(b);
                    State::Text
                }
                (State::Text, 0x00..=0x1f | 0x7f) => State::Text,
                (State::Text, _) => {
                    self.line.push(b);
                    State::Text
                }
                (State::Esc, b'[') => State::Csi,
                (State::Esc, b']' | b'P' | b'X' | b'^' | b'_') => State::Str,
                // Intermediate bytes, then the final one.
                (State::Esc, 0x20..=0x2f) => State::Esc,
                (State::Esc, _) => State::Text,
                (State::Csi, 0x40..=0x7e) => State::Text,
                (State::Csi, _) => State::Csi,
                (State::Str, 0x07) => State::Text,
                (State::Str, 0x1b) => State::StrEsc,
                (State::Str, _) => State::Str,
                (State::StrEsc, b'\\') => State::Text,
                (State::StrEsc, _) => State::Str,
            };
        }
    }

    /// The last line, if it had no newline.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.end_line(out);
    }

    fn end_line(&mut self, out: &mut Vec<u8>) {
        let line = std::mem::take(&mut self.line);
        let shown = line
            .split(|&b| b == b'\r')
            .rfind(|seg| !seg.is_empty())
            .unwrap_or(&[]);
        out.extend_from_slice(shown);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(cr: bool, chunks: &[&[u8]]) -> String {
        let mut s = Stripper::new(cr);
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut out);
        }
        s.finish(&mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn sequences_go_and_text_stays() {
        assert_eq!(
            strip(
                true,
                &[b"\x1b[1;31mred\x1b[0m and \x1b]0;title\x07plain\tx\n"]
            ),
            "red and plain\tx\n"
        );
        // Split anywhere, even inside a sequence.
        assert_eq!(
            strip(true, &[b"a\x1b[3", b"2mb\x1b", b"]8;;u\x1b\\c\n"]),
            "abc\n"
        );
        assert_eq!(strip(true, &[b"\x1b(Bx\x08y"]), "xy");
    }

    #[test]
    fn a_redrawn_prompt_shows_once_with_cat_only() {
        let line: &[u8] = b">>> \r\x1b[K\r>>> 6*7\n";
        assert_eq!(strip(true, &[line]), ">>> 6*7\n");
        assert_eq!(
            strip(false, &[b"Dec 07 h u[1]: ", line]),
            "Dec 07 h u[1]: >>> >>> 6*7\n"
        );
        assert_eq!(strip(true, &[b"50%\r100%\r\n"]), "100%\n");
    }
}
