//! The journal's writer thread and the channel that feeds it.
//!
//! Every line a service prints, and every message of daimond itself, reaches the
//! log store through [`LogSender`]: a bounded channel into one dedicated thread that
//! owns the `JournalWriter`. The event loop never blocks on storage: a pipe's reader
//! task awaits channel capacity, so when storage falls behind the service's pipe
//! fills and the service waits — nothing is dropped.

use tokio::sync::mpsc;

/// Identifies one open pipe (one stream of one process), unique for the daemon's life.
pub type SourceKey = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdout,
    Stderr,
}

#[derive(Debug)]
pub enum LogMsg {
    /// A new pipe: what the lines read from it belong to.
    Open {
        source: SourceKey,
        unit: String,
        invocation: String,
        pid: u32,
        stream: StreamKind,
        level_prefix: bool,
    },
    /// Bytes read from the pipe, in the order read.
    Data { source: SourceKey, bytes: Vec<u8> },
    /// The pipe reached end of file: flush a partial last line.
    Close { source: SourceKey },
    /// One message of daimond itself (or about a unit, e.g. "Started bot.service").
    Message {
        unit: String,
        invocation: Option<String>,
        priority: u8,
        text: String,
    },
}

#[derive(Debug, Clone)]
pub struct LogSender {
    pub tx: mpsc::Sender<LogMsg>,
}
