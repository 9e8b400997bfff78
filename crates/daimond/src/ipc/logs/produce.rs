//! The reader thread of a `Logs` request: runs the query, renders each record
//! (escaped for a terminal, coloured by priority as journalctl does), sends the
//! text in chunks of about [`CHUNK`] bytes through a bounded channel, then
//! follows new records until the client goes away.

use daimon_journal::format::Renderer;
use daimon_journal::{JournalError, JournalReader, Query, Record};
use daimon_proto::ErrorKind;
use tokio::sync::mpsc;

use super::{CHUNK, Chunk, FOLLOW_CHECK, Out};

/// How the reader thread renders and whether it follows.
pub(super) struct Output {
    pub renderer: Renderer,
    pub color: bool,
    /// For a terminal: what services wrote is escaped (`daimon_proto::text`).
    pub escape: bool,
    pub follow: bool,
}

/// Escapes the line just rendered at `buf[start..]` for a terminal (its final
/// newline kept). The whole line, not just the message: the identifier comes
/// from the service too (`SYSLOG_IDENTIFIER=`). Colours are added after this.
fn escape_line(buf: &mut Vec<u8>, start: usize, scratch: &mut Vec<u8>) {
    let end = if buf.last() == Some(&b'\n') {
        buf.len() - 1
    } else {
        buf.len()
    };
    let line = &buf[start..end];
    if !line.iter().any(|&b| b < 0x20 && b != b'\t' || b >= 0x7f) {
        return;
    }
    scratch.clear();
    daimon_proto::escape_terminal(line, scratch);
    buf.splice(start..end, scratch.iter().copied());
}

/// journalctl's colours by priority, around the line just rendered at
/// `buf[start..]` (its final newline stays outside the colour).
fn paint(buf: &mut Vec<u8>, start: usize, priority: u8) {
    let code: &[u8] = match priority {
        0..=3 => b"\x1b[1;31m",
        4 => b"\x1b[1;33m",
        5 => b"\x1b[1m",
        7 => b"\x1b[2m",
        _ => return,
    };
    let newline = buf.last() == Some(&b'\n');
    if newline {
        buf.pop();
    }
    buf.splice(start..start, code.iter().copied());
    buf.extend_from_slice(b"\x1b[0m");
    if newline {
        buf.push(b'\n');
    }
}

/// Rendered records collected for one frame. For raw frames the buffer starts
/// with room for the frame header, so a frame leaves without being copied.
pub(super) struct Batch {
    buf: Vec<u8>,
    raw: bool,
}

impl Batch {
    pub(super) fn new(raw: bool) -> Batch {
        let mut b = Batch {
            buf: Vec::new(),
            raw,
        };
        b.reset();
        b
    }

    fn reset(&mut self) {
        self.buf = Vec::with_capacity(CHUNK + 64 * 1024);
        if self.raw {
            self.buf.extend_from_slice(&[0; 4]);
        }
    }

    fn text_len(&self) -> usize {
        self.buf.len() - if self.raw { 4 } else { 0 }
    }

    fn take(&mut self) -> Out {
        let mut v = std::mem::take(&mut self.buf);
        self.reset();
        if self.raw {
            // At most CHUNK plus one line (LineMax), far below the frame limit.
            if let Ok(h) = daimon_proto::raw_header(v.len() - 4) {
                v[..4].copy_from_slice(&h);
            }
            return Out::Frame(v);
        }
        Out::Text(match String::from_utf8(v) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Hands the batch to the socket task; false when the client has gone.
    fn send(&mut self, tx: &mpsc::Sender<Chunk>) -> bool {
        tx.blocking_send(Ok(self.take())).is_ok()
    }
}

/// The reader thread: query, render, send in chunks; then follow.
pub(super) fn produce(
    reader: &mut JournalReader,
    mut q: Query,
    out: &Output,
    mut batch: Batch,
    tx: &mpsc::Sender<Chunk>,
) {
    let Output {
        renderer,
        color,
        escape,
        follow,
    } = out;
    let (color, escape, follow) = (*color, *escape, *follow);
    let mut gone = false;
    let mut scratch = Vec::new();
    let mut run = |reader: &mut JournalReader, q: &Query, batch: &mut Batch, gone: &mut bool| {
        let res = reader.query(q, &mut |rec: &Record<'_>| {
            let start = batch.buf.len();
            renderer.render(rec, &mut batch.buf);
            if escape {
                escape_line(&mut batch.buf, start, &mut scratch);
            }
            if color {
                paint(&mut batch.buf, start, rec.priority);
            }
            if batch.text_len() >= CHUNK && !batch.send(tx) {
                *gone = true;
                return false;
            }
            true
        });
        match res {
            Ok(cursor) => {
                if batch.text_len() > 0 && !batch.send(tx) {
                    *gone = true;
                }
                Some(cursor)
            }
            Err(JournalError::Regex { pattern, message }) => {
                let msg = format!("invalid --grep \"{pattern}\": {message}");
                let _ = tx.blocking_send(Err((ErrorKind::Invalid, msg)));
                None
            }
            Err(e) => {
                let _ = tx.blocking_send(Err((ErrorKind::Internal, e.to_string())));
                None
            }
        }
    };
    let Some(mut cursor) = run(reader, &q, &mut batch, &mut gone) else {
        return;
    };
    if !follow {
        return;
    }
    // Follow: only what comes after the cursor, all of it, each record once.
    q.lines = None;
    while !gone && !tx.is_closed() {
        if !reader.wait_for_new(&cursor, FOLLOW_CHECK) {
            continue;
        }
        q.after = Some(cursor);
        match run(reader, &q, &mut batch, &mut gone) {
            Some(c) => cursor = c,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_the_line_but_keeps_its_newline() {
        let mut buf = b"old\n".to_vec();
        let start = buf.len();
        buf.extend_from_slice(b"id[1]: \x1b]52;c;aGk=\x1b\\ \xc2\x9b2J\n");
        escape_line(&mut buf, start, &mut Vec::new());
        assert_eq!(
            String::from_utf8_lossy(&buf),
            "old\nid[1]: \\x1b]52;c;aGk=\\x1b\\ \\u009b2J\n"
        );
        let mut plain = b"tab\there\n".to_vec();
        escape_line(&mut plain, 0, &mut Vec::new());
        assert_eq!(plain, b"tab\there\n");
    }

    #[test]
    fn colours_wrap_the_line_but_not_its_newline() {
        let mut buf = b"old\n".to_vec();
        let start = buf.len();
        buf.extend_from_slice(b"boom\n");
        paint(&mut buf, start, 3);
        assert_eq!(buf, b"old\n\x1b[1;31mboom\x1b[0m\n");
        let mut info = b"fine\n".to_vec();
        paint(&mut info, 0, 6);
        assert_eq!(info, b"fine\n");
    }
}
