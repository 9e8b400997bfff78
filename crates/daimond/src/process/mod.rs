//! The process layer: everything that touches processes.
//!
//! Owns fork/exec ([`spawn`]), the one reaper ([`reaper`]), pidfd signalling
//! ([`signal`]), process trees and their usage from /proc ([`tree`]), service
//! output pipes ([`logpipe`]) and exit-status naming ([`exit`]). It acts and
//! reports; it never decides — the supervisor does.

pub mod exit;
pub mod logpipe;
pub mod reaper;
pub mod signal;
pub mod spawn;
pub mod tree;
