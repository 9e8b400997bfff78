//! Reading a service's stdout/stderr pipe into the journal channel.
//!
//! Owns one small task per pipe: it announces the pipe (`LogMsg::Open`), reads
//! chunks of up to 64 KiB without blocking the event loop, forwards them
//! (`LogMsg::Data`) and says `Close` at end of file. Sending awaits channel
//! capacity: when storage falls behind, the pipe fills and the service waits —
//! nothing is dropped. The 64 KiB read buffer is shared by every pipe of the
//! thread; each chunk is copied out at its exact size.
//!
//! A copy of each read end is kept by the fd store ([`super::fdstore`]) until
//! end of file, so the pipe outlives a daimond killed with SIGKILL; the next
//! daimond resumes reading it with [`reattach_reader`].

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use tokio::net::unix::pipe;

use super::fdstore::{PipeMeta, SharedStore};
use crate::log_writer::{LogMsg, LogSender, SourceKey, StreamKind};

const CHUNK: usize = 64 * 1024;

thread_local! {
    static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; CHUNK]);
}

/// Who wrote what comes through a pipe.
pub struct PipeOrigin {
    pub source: SourceKey,
    pub unit: String,
    pub invocation: String,
    pub pid: u32,
    pub stream: StreamKind,
    /// SyslogLevelPrefix=: `<N>` at the start of a line sets its priority.
    pub level_prefix: bool,
    /// SyslogIdentifier=.
    pub identifier: Option<String>,
}

impl PipeOrigin {
    /// Builds the origin of a pipe kept by the fd store, under a new source key.
    pub fn from_meta(source: SourceKey, m: PipeMeta) -> PipeOrigin {
        PipeOrigin {
            source,
            unit: m.unit,
            invocation: m.invocation,
            pid: m.pid,
            stream: m.stream,
            level_prefix: m.level_prefix,
            identifier: m.identifier,
        }
    }

    fn meta(&self) -> PipeMeta {
        PipeMeta {
            unit: self.unit.clone(),
            invocation: self.invocation.clone(),
            pid: self.pid,
            stream: self.stream,
            level_prefix: self.level_prefix,
            identifier: self.identifier.clone(),
        }
    }
}

enum Read {
    Data(Vec<u8>),
    Again,
    Eof,
}

/// Starts the reader task for `fd` (the read end of a service's new pipe) and
/// hands a copy of it to the fd store. Must run inside the daemon's `LocalSet`.
pub fn spawn_reader(fd: OwnedFd, origin: PipeOrigin, log: LogSender, store: &SharedStore) {
    let kept = store.borrow_mut().put(fd.as_fd(), &origin.meta());
    start(fd, origin, log, store.clone(), kept);
}

/// Resumes reading a pipe the fd store kept from an earlier daimond (`kept`: its
/// id there).
pub fn reattach_reader(
    fd: OwnedFd,
    origin: PipeOrigin,
    log: LogSender,
    store: &SharedStore,
    kept: u64,
) {
    start(fd, origin, log, store.clone(), Some(kept));
}

fn start(fd: OwnedFd, origin: PipeOrigin, log: LogSender, store: SharedStore, kept: Option<u64>) {
    let forget = move || {
        if let Some(id) = kept {
            store.borrow_mut().close(id);
        }
    };
    tokio::task::spawn_local(async move {
        let rx = match pipe::Receiver::from_owned_fd(fd) {
            Ok(rx) => rx,
            Err(e) => {
                tracing::warn!("cannot read the output of {}: {e}", origin.unit);
                forget();
                return;
            }
        };
        let source = origin.source;
        let open = LogMsg::Open {
            source,
            unit: origin.unit,
            invocation: origin.invocation,
            pid: origin.pid,
            stream: origin.stream,
            level_prefix: origin.level_prefix,
            identifier: origin.identifier,
        };
        if log.tx.send(open).await.is_err() {
            // The daemon is ending: the store keeps the pipe.
            return;
        }
        loop {
            if rx.readable().await.is_err() {
                break;
            }
            let got = BUF.with(|b| {
                let mut b = b.borrow_mut();
                match rx.try_read(&mut b[..]) {
                    Ok(0) => Ok(Read::Eof),
                    Ok(n) => Ok(Read::Data(b[..n].to_vec())),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Read::Again),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Read::Again),
                    Err(e) => Err(e),
                }
            });
            match got {
                Ok(Read::Data(bytes)) => {
                    if log.tx.send(LogMsg::Data { source, bytes }).await.is_err() {
                        return;
                    }
                }
                Ok(Read::Again) => {}
                Ok(Read::Eof) => break,
                Err(e) => {
                    tracing::warn!("reading a service's output failed: {e}");
                    break;
                }
            }
        }
        let _ = log.tx.send(LogMsg::Close { source }).await;
        forget();
    });
}
