//! Owns the crate's error type.

use std::path::PathBuf;

/// Everything the log store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("log store I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("log store index error: {0}")]
    Index(#[from] rusqlite::Error),
    #[error("the log store already has a writer")]
    WriterTaken,
    #[error("the log store in {0} is locked by another process")]
    Locked(PathBuf),
    #[error("invalid regular expression {pattern:?}: {message}")]
    Regex { pattern: String, message: String },
    #[error("log store is corrupt: {0}")]
    Corrupt(String),
}

impl JournalError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        JournalError::Io {
            path: path.into(),
            source,
        }
    }
}
