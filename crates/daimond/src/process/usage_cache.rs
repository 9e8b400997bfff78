//! Per-run process trees with their memory and CPU, kept for a short while so
//! that a listing of many units does not walk /proc for every process of
//! every unit on each request.
//!
//! Owns: the trees last read for each run (keyed by invocation id, with the
//! main and control PIDs they were read for) and the /proc files the walks
//! keep open ([`ProcFiles`]). Knows nothing of units beyond an invocation id.
//!
//! Why: a listing of 1,000 running services read ~2,000 /proc files each
//! time (a `stat` and a `children` per process), most of a `GET /api/units`
//! or `status -o json` (~20 ms of ~40 ms). Viewers that refresh (the
//! dashboard, `top`, a Prometheus scrape) ask again and again, and usage
//! figures a second old are what `top` shows anyway.
//!
//! Rules, so that nothing stale is shown:
//! - A tree is reused only for [`FRESH`] after it was read, only for the same
//!   run (invocation id) with the same main and control PIDs: a new run, a
//!   restart, an exit of the main or control process all miss it and are
//!   read anew. A unit that does not run has no tree at all (the caller asks
//!   for none), so a stopped unit never shows usage.
//! - A caller that needs exact processes (the detail of a named unit) asks
//!   with a `max_age` of zero; what it reads refreshes the cache.
//! - Nothing is refreshed in the background: a tree is read only when a
//!   request asks for it, so an idle daimond reads nothing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::proc_files::{ProcFiles, Walk};
use super::tree::Stat;

/// How long a tree read for a listing answers later listings (`top`'s
/// default refresh is a second too).
pub const FRESH: Duration = Duration::from_secs(1);

/// One run whose processes are asked for: its invocation id and the PIDs the
/// walk starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run<'a> {
    pub invocation: &'a str,
    pub roots: [Option<u32>; 2],
}

#[derive(Debug)]
struct Cached {
    roots: [Option<u32>; 2],
    read_at: Instant,
    procs: Vec<(u32, Stat)>,
}

#[derive(Debug, Default)]
pub struct UsageCache {
    files: ProcFiles,
    runs: HashMap<String, Cached>,
}

/// The processes of each asked run, in the order asked (empty for `None`).
pub type Trees<'c> = Vec<&'c [(u32, Stat)]>;

impl UsageCache {
    /// The process tree of each run in `runs` (`None`: the unit does not run,
    /// no processes). A tree read less than `max_age` ago for the same run and
    /// roots is reused; the others are walked, from their roots and from the
    /// escaped processes `escaped` finds for them (called once, with the
    /// indexes into `runs` of those walked, only when there are any: finding
    /// escaped processes lists daimond's children).
    pub fn trees(
        &mut self,
        runs: &[Option<Run<'_>>],
        max_age: Duration,
        now: Instant,
        escaped: impl FnOnce(&[usize]) -> Vec<Vec<u32>>,
    ) -> Trees<'_> {
        // What is too old for this request may still serve none later:
        // dropped, so the map holds only runs asked for within FRESH.
        let keep = max_age.max(FRESH);
        self.runs
            .retain(|_, c| now.saturating_duration_since(c.read_at) < keep);
        let hit = |c: &Cached, r: &Run<'_>| {
            c.roots == r.roots && now.saturating_duration_since(c.read_at) < max_age
        };
        let stale: Vec<usize> = runs
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let r = r.as_ref()?;
                let fresh = self.runs.get(r.invocation).is_some_and(|c| hit(c, r));
                (!fresh).then_some(i)
            })
            .collect();
        if !stale.is_empty() {
            self.walk(runs, &stale, now, escaped);
        }
        runs.iter()
            .map(|r| {
                r.and_then(|r| self.runs.get(r.invocation))
                    .map_or(&[][..], |c| c.procs.as_slice())
            })
            .collect()
    }

    fn walk(
        &mut self,
        runs: &[Option<Run<'_>>],
        stale: &[usize],
        now: Instant,
        escaped: impl FnOnce(&[usize]) -> Vec<Vec<u32>>,
    ) {
        let mut found = escaped(stale);
        found.resize(stale.len(), Vec::new());
        let walks: Vec<Walk> = stale
            .iter()
            .zip(found)
            .filter_map(|(i, escaped)| {
                let r = runs.get(*i).copied().flatten()?;
                Some(Walk {
                    roots: r.roots,
                    escaped,
                })
            })
            .collect();
        // Every running unit walked: the files of processes no walk reached
        // belong to processes gone or to units stopped, and are closed.
        let all = stale.len() == runs.iter().filter(|r| r.is_some()).count();
        self.files.begin();
        let trees = self.files.trees(&walks);
        self.files.end(all);
        for (i, procs) in stale.iter().zip(trees) {
            let Some(r) = runs.get(*i).copied().flatten() else {
                continue;
            };
            let c = Cached {
                roots: r.roots,
                read_at: now,
                procs,
            };
            self.runs.insert(r.invocation.to_string(), c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sleeper() -> std::process::Child {
        std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .expect("spawn sleep")
    }

    fn pids(t: &[(u32, Stat)]) -> Vec<u32> {
        t.iter().map(|(p, _)| *p).collect()
    }

    #[test]
    fn reuses_a_fresh_tree_and_reads_a_new_run_or_main_pid() {
        let mut a = sleeper();
        let mut b = sleeper();
        let (pa, pb) = (a.id(), b.id());
        let mut cache = UsageCache::default();
        let t0 = Instant::now();
        let run = |inv, pid| {
            Some(Run {
                invocation: inv,
                roots: [Some(pid), None],
            })
        };
        let mut asked = Vec::new();
        let trees = cache.trees(&[run("x", pa), None], FRESH, t0, |i| {
            asked.push(i.to_vec());
            Vec::new()
        });
        assert_eq!(pids(trees[0]), [pa]);
        assert!(trees[1].is_empty(), "a unit that does not run has none");
        // Fresh: answered from the cache, nothing walked (nor escaped sought).
        let later = t0 + Duration::from_millis(500);
        let trees = cache.trees(&[run("x", pa)], FRESH, later, |_| {
            panic!("walked a fresh tree")
        });
        assert_eq!(pids(trees[0]), [pa]);
        // Another main PID (a restart in the same run) or another run: read.
        let trees = cache.trees(&[run("x", pb), run("y", pa)], FRESH, later, |i| {
            asked.push(i.to_vec());
            Vec::new()
        });
        assert_eq!((pids(trees[0]), pids(trees[1])), (vec![pb], vec![pa]));
        // Too old, or asked with no age allowed: read again.
        let trees = cache.trees(&[run("y", pa)], FRESH, later + FRESH, |i| {
            asked.push(i.to_vec());
            Vec::new()
        });
        assert_eq!(pids(trees[0]), [pa]);
        let trees = cache.trees(&[run("y", pa)], Duration::ZERO, later + FRESH, |i| {
            asked.push(i.to_vec());
            vec![vec![pb]]
        });
        assert_eq!(pids(trees[0]).len(), 2, "escaped processes walked too");
        assert_eq!(asked, [vec![0], vec![0, 1], vec![0], vec![0]]);
        for c in [&mut a, &mut b] {
            c.kill().expect("kill sleep");
            c.wait().expect("reap sleep");
        }
    }

    #[test]
    fn forgets_runs_not_asked_for_within_fresh() {
        let mut a = sleeper();
        let mut cache = UsageCache::default();
        let t0 = Instant::now();
        let r = [Some(Run {
            invocation: "x",
            roots: [Some(a.id()), None],
        })];
        cache.trees(&r, FRESH, t0, |_| Vec::new());
        assert_eq!(cache.runs.len(), 1);
        cache.trees(&[None], FRESH, t0 + FRESH, |_| Vec::new());
        assert!(cache.runs.is_empty());
        a.kill().expect("kill sleep");
        a.wait().expect("reap sleep");
    }
}
