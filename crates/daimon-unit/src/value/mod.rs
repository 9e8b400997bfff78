//! Value grammars: one small module per kind of value a directive takes.
//!
//! Each parser takes the (specifier-expanded) value text and returns the typed value or a
//! `ValueError` whose message says what was found and what was expected; the caller
//! prefixes the directive name and the position.

pub mod boolean;
pub mod env;
pub mod exec;
pub mod exit_status;
pub mod listen;
pub mod number;
pub mod rlimit;
pub mod signal;
pub mod size;
pub mod timespan;
pub mod words;

use std::fmt;

/// A value that does not fit its grammar. The message reads
/// `"<found>" is not <what>; expected <examples>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(pub String);

impl ValueError {
    pub(crate) fn new(found: &str, what: &str, expected: &str) -> Self {
        ValueError(format!("{found:?} is not {what}; expected {expected}"))
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}
