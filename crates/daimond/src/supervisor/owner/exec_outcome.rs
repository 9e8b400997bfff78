//! Exec outcomes that arrive after the spawn.
//!
//! `spawn` returns before the child's execve() (see `process/spawn.rs`);
//! whether the child reached its program comes later on its exec-report pipe.
//! The owner keeps each pending report; a small task wakes the owner when the
//! pipe becomes readable (`pidwatch::watch`), and the outcome goes to the
//! unit's machine as `ExecOk` or `ExecFailed`. A child that ended before that
//! is reaped with its outcome read first, so a machine always sees the exec
//! outcome before the exit, as when spawning waited for the exec.

use std::rc::Rc;
use std::time::Duration;

use super::Owner;
use crate::process::spawn::{ExecOutcome, ExecReport};
use crate::process::{child_stack, pidwatch};
use crate::supervisor::machine::Event;
use crate::supervisor::watched::{PendingExec, Watched};

/// How long daimond waits for an outcome where it cannot be told of it later
/// (no event loop yet).
const BLOCKING_WAIT: Duration = Duration::from_secs(10);

impl Owner {
    /// The event that tells the machine about child `pid`'s exec now, or
    /// `None` once it is arranged that the outcome is fed when it comes.
    pub(in crate::supervisor) fn exec_outcome(
        &mut self,
        pid: u32,
        report: ExecReport,
        program: String,
        workdir: Option<String>,
    ) -> Option<Event> {
        let pending = PendingExec {
            report: Rc::new(report),
            program,
            workdir,
        };
        match pending.report.outcome() {
            ExecOutcome::Pending => {}
            done => return Some(outcome_event(pid, done, &pending)),
        }
        if self.watch_exec(pid, &pending) {
            self.procs.await_exec(pid, pending);
            return None;
        }
        let done = pending.report.wait(BLOCKING_WAIT);
        Some(outcome_event(pid, done, &pending))
    }

    /// Wakes the owner with `Watched::Exec` once the report of `pid` is readable.
    fn watch_exec(&self, pid: u32, pending: &PendingExec) -> bool {
        let Some(tx) = self.watcher() else {
            return false;
        };
        pidwatch::watch(pending.report.clone(), move || {
            let _ = tx.send(Watched::Exec { pid });
        })
        .is_ok()
    }

    /// The report of `pid` became readable.
    pub fn on_exec_report(&mut self, pid: u32) {
        let Some(pending) = self.procs.take_pending_exec(pid) else {
            return; // already read when the child was reaped
        };
        let done = pending.report.outcome();
        if done == ExecOutcome::Pending {
            // Readable but empty cannot last; watch again rather than lose it.
            if self.watch_exec(pid, &pending) {
                self.procs.await_exec(pid, pending);
            }
            return;
        }
        self.tell_exec_outcome(pid, done, &pending);
    }

    /// For a child just reaped: tells its exec outcome if not told yet (the
    /// child is gone, so its report is complete).
    pub(in crate::supervisor) fn settle_exec_of_reaped(&mut self, pid: u32) {
        if let Some(pending) = self.procs.take_pending_exec(pid) {
            let done = pending.report.outcome();
            self.tell_exec_outcome(pid, done, &pending);
        }
    }

    fn tell_exec_outcome(&mut self, pid: u32, done: ExecOutcome, pending: &PendingExec) {
        // Past its exec, the child no longer uses its stack.
        child_stack::release_finished();
        let ev = outcome_event(pid, done, pending);
        if let Some((unit, _)) = self.pid_owner(pid) {
            let unit = unit.clone();
            self.feed(&unit, ev);
        }
    }
}

fn outcome_event(pid: u32, done: ExecOutcome, p: &PendingExec) -> Event {
    match done {
        ExecOutcome::Failed(f) => Event::ExecFailed {
            pid,
            message: f.describe(&p.program, p.workdir.as_deref()),
        },
        ExecOutcome::Exec | ExecOutcome::Pending => Event::ExecOk { pid },
    }
}
