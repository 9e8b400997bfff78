//! A unit's restart history: the runs before its last one, newest first, at
//! most [`KEPT`] of them.
//!
//! Owns only that bounded list. A run (`registry::RunRecord`) ends when the
//! unit becomes inactive or waits for an automatic restart; each automatic
//! restart is a new run with its own invocation id, so a crash loop shows as
//! one entry per crash, with the time, result and exit status of each (what
//! `status` shows of the last one only). Kept in memory: a daimond restart
//! starts the list anew.

use std::collections::VecDeque;

use daimon_proto::RunSummary;

use super::registry::RunRecord;

/// Runs kept per unit: enough to see a pattern in a crash loop, small enough
/// for thousands of units.
pub const KEPT: usize = 10;

#[derive(Debug, Default, Clone)]
pub struct RunHistory {
    runs: VecDeque<RunRecord>,
}

impl RunHistory {
    /// Keeps `run` as the newest, if it has ended (a run cut short without an
    /// end, e.g. by adoption, says nothing worth keeping).
    pub fn push(&mut self, run: RunRecord) {
        if run.finished.is_none() {
            return;
        }
        self.runs.push_front(run);
        self.runs.truncate(KEPT);
    }

    /// Newest first, as the protocol shows them.
    pub fn summaries(&self) -> Vec<RunSummary> {
        self.runs.iter().map(summary).collect()
    }
}

/// One run as `status -o json` shows it.
pub fn summary(r: &RunRecord) -> RunSummary {
    RunSummary {
        invocation: r.invocation.clone(),
        started: r.started.to_string(),
        finished: r.finished.map(|t| t.to_string()),
        duration_usec: r
            .finished
            .map(|f| u64::try_from(f.duration_since(r.started).as_micros()).unwrap_or(0)),
        result: r.result.clone(),
        exit: r.exit.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: usize, finished: bool) -> RunRecord {
        let mut r = RunRecord::begin(format!("inv{id}"));
        if finished {
            r.finished = Some(r.started);
            r.result = Some("exit-code".into());
            r.exit = Some("exited, status=1/FAILURE".into());
        }
        r
    }

    #[test]
    fn keeps_the_newest_ended_runs_first_and_no_more_than_kept() {
        let mut h = RunHistory::default();
        h.push(run(0, false));
        assert!(h.summaries().is_empty(), "a run without an end is not kept");
        for i in 1..=KEPT + 3 {
            h.push(run(i, true));
        }
        let s = h.summaries();
        assert_eq!(s.len(), KEPT);
        assert_eq!(s[0].invocation, format!("inv{}", KEPT + 3));
        assert_eq!(s[KEPT - 1].invocation, "inv4");
        assert_eq!(s[0].exit.as_deref(), Some("exited, status=1/FAILURE"));
        assert_eq!(s[0].duration_usec, Some(0));
    }
}
