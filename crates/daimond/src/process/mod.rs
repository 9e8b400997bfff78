//! The process layer: everything that touches processes.
//!
//! Owns fork/exec ([`spawn`]), the one reaper ([`reaper`]), pidfd signalling
//! ([`signal`]), process trees and their usage from /proc ([`tree`], with the files `status` keeps open in [`proc_files`] and the trees it
//! reuses for a second in [`usage_cache`]), service
//! output pipes ([`logpipe`]), pseudo-terminals ([`pty`]), the sd_notify socket ([`notify_socket`]) kept safe in the fd store ([`fdstore`]), what that store read while daimond was down ([`spool_import`]), watching
//! processes that are not our children ([`pidwatch`]). How a process ended is
//! [`crate::exit_status`], shared with the machine. It acts and reports; it never
//! decides — the supervisor does.

pub mod child_stack;
pub mod fdstore;
pub mod logpipe;
pub mod notify_socket;
pub mod pidwatch;
pub mod proc_files;
pub mod pty;
pub mod reaper;
pub mod signal;
pub mod spawn;
pub mod spawn_child;
pub mod spool_import;
pub mod tree;
pub mod usage_cache;
