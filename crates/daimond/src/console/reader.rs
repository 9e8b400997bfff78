//! The one reader of a service's pty master.
//!
//! Reads whenever the master is readable, attached clients or not: each chunk
//! goes to the console (replay buffer, clients' queues, never waiting) and to
//! the log writer, one chunk in flight at a time (the next is read while the
//! writer stores it), as a log pipe's reader waits for each read
//! (`process::logpipe`): when storage falls behind, the terminal fills and the
//! service waits; nothing is dropped, and the writer's queue holds at most a
//! chunk per terminal. The log gets the bytes as written,
//! escape sequences included (`daimon logs -o cat --strip-escapes` removes
//! them), except the `\r` the terminal adds before each `\n` (ONLCR), which
//! would end every stored line. A master reads EIO once the service's last
//! copy of the slave is closed (pty(7)): that, like end of file, is the end.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::rc::Rc;

use tokio::sync::oneshot;

use super::{Console, Consoles};
use crate::log_writer::{LogMsg, LogSender};
use crate::process::fdstore::SharedStore;
use crate::process::logpipe::PipeOrigin;

/// Most bytes read before they are handed on.
const CHUNK: usize = 64 * 1024;

/// Starts the terminal of `origin.meta.unit` (main process `origin.meta.pid`)
/// on `master`, replacing an earlier one of the unit. `kept`: its id in the fd
/// store when it came back from there; otherwise a copy is handed to the store
/// here. Must run inside the daemon's `LocalSet`.
pub fn start(
    consoles: &Consoles,
    master: OwnedFd,
    origin: PipeOrigin,
    log: LogSender,
    store: &SharedStore,
    kept: Option<u64>,
) {
    let kept = kept.or_else(|| store.borrow_mut().put(master.as_fd(), &origin.meta));
    let store = store.clone();
    let forget = move || {
        if let Some(id) = kept {
            store.borrow_mut().close(id);
        }
    };
    let unit = origin.meta.unit.clone();
    let console = match Console::new(unit.clone(), origin.meta.pid, master) {
        Ok(c) => Rc::new(c),
        Err(e) => {
            tracing::warn!("cannot read the terminal of {unit}: {e}");
            forget();
            return;
        }
    };
    consoles.insert(console.clone());
    let consoles = consoles.clone();
    tokio::task::spawn_local(async move {
        let finished = read_all(&console, origin, log).await;
        console.end();
        consoles.remove(&console);
        // When daimond is ending, the store keeps the master for the next one.
        if finished {
            forget();
        }
    });
}

/// Reads until the terminal hangs up (true) or daimond's log writer has ended
/// (false: daimond is stopping).
async fn read_all(console: &Console, origin: PipeOrigin, log: LogSender) -> bool {
    let (open_msg, source) = origin.into_open(None);
    let mut open = Some(open_msg);
    let mut buf = vec![0u8; CHUNK];
    let mut lines = CrLf::default();
    let mut in_flight: Option<oneshot::Receiver<()>> = None;
    let finished = loop {
        let Ok(mut guard) = console.master.readable().await else {
            break true;
        };
        // Everything the terminal holds, up to a chunk: one message to the
        // log writer per chunk, not per read (a read gives at most what the
        // line discipline has flipped, often 4 KiB).
        let (mut n, mut hangup) = (0, false);
        while n < CHUNK {
            let read = guard.try_io(|fd| {
                let room = &mut buf[n..];
                // SAFETY: reading into a valid buffer of its length from an open descriptor.
                let r = unsafe {
                    libc::read(
                        fd.get_ref().as_raw_fd(),
                        room.as_mut_ptr().cast(),
                        room.len(),
                    )
                };
                if r < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(r as usize)
                }
            });
            match read {
                Err(_would_block) => break,
                Ok(Ok(0)) => hangup = true,
                Ok(Ok(got)) => n += got,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // EIO: the slave's last copy closed (the hang-up).
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => hangup = true,
                Ok(Err(e)) => {
                    tracing::warn!("reading the terminal of {}: {e}", console.unit);
                    hangup = true;
                }
            }
            if hangup {
                break;
            }
        }
        if n == 0 {
            if hangup {
                break true;
            }
            continue;
        }
        console.output(&buf[..n]);
        if let Some(open) = open.take()
            && log.tx.send(open).await.is_err()
        {
            break false;
        }
        let bytes = lines.strip(&buf[..n]);
        // The previous chunk stored first: one in flight at a time, while
        // the next is read.
        if let Some(p) = in_flight.take()
            && p.await.is_err()
        {
            break false;
        }
        let (stored, done) = oneshot::channel();
        let data = LogMsg::Data {
            source,
            bytes,
            stored,
        };
        if log.tx.send(data).await.is_err() {
            break false;
        }
        in_flight = Some(done);
        if hangup {
            break true;
        }
    };
    if finished && open.is_none() {
        let _ = log.tx.send(LogMsg::Close { source }).await;
    }
    finished
}

/// Removes the `\r` of each `\r\n`, across chunk boundaries.
#[derive(Default)]
pub struct CrLf {
    /// The last chunk ended in `\r`, held back.
    pending_cr: bool,
}

impl CrLf {
    pub fn strip(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(chunk.len() + 1);
        if std::mem::take(&mut self.pending_cr) && chunk.first() != Some(&b'\n') {
            out.push(b'\r');
        }
        let mut i = 0;
        while i < chunk.len() {
            let b = chunk[i];
            if b == b'\r' {
                match chunk.get(i + 1) {
                    Some(b'\n') => {}
                    Some(_) => out.push(b),
                    None => self.pending_cr = true,
                }
            } else {
                out.push(b);
            }
            i += 1;
        }
        out
    }
}
