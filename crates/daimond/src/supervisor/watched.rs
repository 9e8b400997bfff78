//! What the owner waits for outside its own children's exits: the ends of
//! processes that are not its children, and exec reports still to come.
//!
//! Only data: `adopt.rs` and `exec_outcome.rs` add the owner's handling of
//! each, and `owner.rs` holds them, so none of the three imports another
//! for a type.

use std::rc::Rc;

use crate::process::spawn::ExecReport;

/// The end of a watched process that is not our child.
#[derive(Debug)]
pub enum Watched {
    /// An adopted main process.
    Main { unit: String, pid: u32 },
    /// A process of an adopted unit that is being stopped.
    Member { unit: String },
    /// The exec-report pipe of a child just spawned became readable (not an
    /// end: see `exec_outcome`).
    Exec { pid: u32 },
    /// The fd holder ended (`store_watch`).
    Store { pid: u32 },
}

/// A child whose exec outcome is not known yet.
pub struct PendingExec {
    pub(super) report: Rc<ExecReport>,
    /// For the message of a failure.
    pub(super) program: String,
    pub(super) workdir: Option<String>,
}
