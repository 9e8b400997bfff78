//! Re-adoption: a daimond started after one was killed takes over what still runs.
//!
//! Owns the start-up hand-over and the supervision of adopted processes. Before
//! enabled units start, the owner connects to the fd store (starting it if none
//! runs), reads the previous daimond's snapshot (`persist`) and, for every unit
//! whose main process still lives (same PID and /proc start time) and whose unit
//! still loads, makes it running again with that process, its invocation id and
//! its restart counter — so autostart never starts a second copy. Every pipe the
//! store kept gets a reader again with its original metadata, so lines keep going
//! to the same unit and invocation; pipes whose writers are gone are drained and
//! closed at end of file. Processes of units that no longer load are left
//! running and reported. Transient units (`daimon run`) come back from their
//! kept text (`persist`) while their process runs; the others are forgotten.
//!
//! A main process the snapshot missed (daimond killed right after spawning it)
//! is found through the metadata of its pipes in the store, or, killed before
//! the pipes got there, through the list of main processes being forked
//! (`spawning.rs`).
//!
//! A unit whose main process ended while no daimond ran is handled as if that
//! end had been seen (status unknown, so Restart= applies); one that waited for
//! its automatic restart waits RestartSec= again, then restarts.
//!
//! An adopted process is not our child: no SIGCHLD, no `waitpid`. Its end is
//! noticed through a pidfd (`process::pidwatch`) and reported with an unknown
//! status (a failure, so Restart= applies). Stopping it reaches its descendants
//! and every process carrying its `INVOCATION_ID=` (escaped ones were
//! re-parented away from us), each watched by a pidfd too.

use std::os::fd::AsFd;

use super::{Owner, spawning};
use crate::exit_status::ExitStatus;
use crate::persist::{self, UnitRecord};
use crate::process::fdstore::{FdStore, StoredPipe};
use crate::process::logpipe::PipeOrigin;
use crate::process::signal::{ProcHandle, pidfd_open};
use crate::process::spool_import;
use crate::process::{pidwatch, tree};
use crate::supervisor::machine::{Event, Role};
use crate::supervisor::registry::{self, Entry};
use crate::supervisor::watched::Watched;

/// States in which the previous daimond was stopping the unit.
const STOPPING: [&str; 6] = [
    "stop",
    "stop-sigterm",
    "stop-sigkill",
    "stop-post",
    "final-sigterm",
    "final-sigkill",
];

impl Owner {
    /// Connects to the fd store, adopts what the previous daimond left running
    /// and resumes reading the pipes the store kept. Units are loaded already;
    /// enabled units are started after this.
    pub fn adopt_previous(&mut self) {
        let (store, pipes) = FdStore::open(&self.site.paths().runtime);
        *self.fdstore().borrow_mut() = store;
        self.restore_fd_store();
        if crate::supervisor::boot::first_start_of_this_boot(&self.site.paths().runtime) {
            // Nothing of the previous boot runs: what ran then, and the timers
            // started by hand then, are not brought back; enabled units start.
            self.forget_previous_boot();
        }
        let transient = self.load_transient();
        let mut records = persist::load_snapshot(&self.site.paths().state);
        let listed = spawning::load(&self.site.paths().state);
        if !listed.is_empty() {
            spawning::complete(&mut records, &listed);
            self.spawning.mark_loaded();
            self.snapshot.changed();
        }
        for r in &records {
            self.adopt(r.clone());
        }
        self.adopt_from_store(&pipes, &records);
        // A transient unit lives as long as its run, or its started timer's:
        // the rest are forgotten.
        let scheduled = self.kept_by_started_timers();
        for name in transient {
            if self.is_idle_unit(&name) && !scheduled.contains(&name) {
                self.units.remove(&name);
                persist::remove_transient(&self.site.paths().state, &name);
            }
        }
        self.reattach(pipes);
        self.watch_store();
    }

    /// A new boot: the snapshot, the started timers and the transient units of
    /// the previous one go.
    fn forget_previous_boot(&mut self) {
        if !persist::load_snapshot(&self.site.paths().state).is_empty() {
            tracing::info!(
                "first start since boot: the units that ran before it are not re-adopted or restarted"
            );
        }
        persist::forget_snapshot(&self.site.paths().state);
        spawning::forget(&self.site.paths().state);
        let _ = crate::supervisor::timer::stamp::save_active(
            &self.site.paths().state,
            std::iter::empty(),
        );
        for (name, _) in persist::load_transient(&self.site.paths().state) {
            persist::remove_transient(&self.site.paths().state, &name);
        }
    }

    /// The transient units a killed daimond ran (unit files take precedence).
    fn load_transient(&mut self) -> Vec<String> {
        let mut names = Vec::new();
        for (name, text) in persist::load_transient(&self.site.paths().state) {
            if self.units.contains_key(&name) {
                persist::remove_transient(&self.site.paths().state, &name);
                continue;
            }
            let path = self.site.paths().units.join(&name);
            let parsed =
                daimon_unit::parse_unit(&name, &path, text.as_bytes(), &[], self.site.spec());
            let mut e = Entry::new(name.clone(), registry::load_of(parsed));
            e.transient = Some(text);
            self.units.insert(name.clone(), e);
            names.push(name);
        }
        names
    }

    fn adopt(&mut self, r: UnitRecord) {
        let name = r.name.clone();
        let load = self.units.get(&name);
        let runnable = load
            .and_then(|e| e.loaded())
            .is_some_and(|u| u.service().is_some());
        let why = match load {
            Some(e) => format!("its unit is {}", e.load_state()),
            None => "its unit file is gone".to_string(),
        };
        let restarts = r.restarts;
        let Some((pid, t)) = r.main_pid.zip(r.main_start_time) else {
            // No process: only a pending automatic restart is carried over.
            if runnable && r.state == "auto-restart" {
                self.feed(
                    &name,
                    Event::Adopt {
                        pid: None,
                        restarts,
                    },
                );
            }
            return;
        };
        let alive = || tree::stat(pid).is_some_and(|s| s.start_time == t && s.state != 'Z');
        if !alive() {
            if runnable {
                // It ended while no daimond ran: as if we had seen it end.
                self.set_adopted(&name, &r.invocation, None);
                self.feed(
                    &name,
                    Event::Adopt {
                        pid: Some(pid),
                        restarts,
                    },
                );
                let status = ExitStatus::Unknown;
                self.feed(&name, Event::Exited { pid, status });
            }
            return;
        }
        if !runnable {
            tracing::warn!(
                "{name} (PID {pid}, invocation {}) still runs from a previous daimond, but \
                 {why}: it is left running, unsupervised (end it with: kill {pid})",
                r.invocation
            );
            return;
        }
        // Opened first, then checked again: the pidfd names this very process.
        let Some(pidfd) = pidfd_open(pid).filter(|_| alive()) else {
            tracing::warn!(
                "{name} (PID {pid}) still runs from a previous daimond but cannot be \
                 watched (no pidfd); it is left running, unsupervised"
            );
            return;
        };
        let Some(tx) = self.watcher() else {
            return;
        };
        let unit = name.clone();
        let watched = pidwatch::watch(pidfd, move || {
            let _ = tx.send(Watched::Main { unit, pid });
        });
        if let Err(e) = watched {
            tracing::warn!("{name} (PID {pid}) cannot be watched ({e}); left running");
            return;
        }
        self.set_adopted(&name, &r.invocation, Some((pid, t)));
        self.procs.claim(pid, &name, Role::Main);
        self.feed(
            &name,
            Event::Adopt {
                pid: Some(pid),
                restarts,
            },
        );
        // Active since the process started, not since this daimond saw it.
        if let Some(e) = self.units.get_mut(&name) {
            e.since_wall = tree::started_at(t).or(e.since_wall);
        }
        if STOPPING.contains(&r.state.as_str()) {
            // The previous daimond was stopping it: finish that.
            self.feed(&name, Event::Stop);
        }
    }

    /// The snapshot is written once per pass of the owner's loop: a daimond
    /// killed between a spawn and that write leaves a main process the snapshot
    /// does not name. Its pipes in the store do (unit, invocation, PID, start
    /// time): a live one of a unit not running yet is adopted from there.
    fn adopt_from_store(&mut self, pipes: &[StoredPipe], records: &[UnitRecord]) {
        let mut seen = std::collections::BTreeSet::new();
        for m in pipes.iter().filter_map(|p| p.meta.as_ref()) {
            let Some(t) = m.main else {
                continue;
            };
            let pid = m.pid;
            if !seen.insert(pid) || records.iter().any(|r| r.main_pid == Some(pid)) {
                continue;
            }
            let alive = tree::stat(pid).is_some_and(|s| s.start_time == t && s.state != 'Z');
            let running = self.units.get(&m.unit).is_some_and(|e| !e.is_idle());
            if !alive || running || !tree::has_invocation(pid, &m.invocation) {
                continue;
            }
            let restarts = records
                .iter()
                .find(|r| r.name == m.unit)
                .map_or(0, |r| r.restarts);
            self.adopt(UnitRecord {
                name: m.unit.clone(),
                state: "running".into(),
                result: "success".into(),
                main_pid: Some(pid),
                main_start_time: Some(t),
                invocation: m.invocation.clone(),
                restarts,
            });
        }
    }

    fn set_adopted(&mut self, unit: &str, invocation: &str, main: Option<(u32, u64)>) {
        if let Some(e) = self.units.get_mut(unit) {
            e.invocation = invocation.to_string();
            e.main = main.map(|(pid, t)| ProcHandle::adopted(pid, t));
            e.main_start_time = main.map(|(_, t)| t);
            e.adopted = true;
            e.watched.clear();
            // The snapshot keeps no sessions. The one named after the main
            // process (which it leads, if any: a spawned main or a daemon that
            // called setsid()) holds only its own processes; the one it is in
            // might not, and every process is a candidate for an adopted run.
            e.sessions = main.map(|(pid, _)| pid).into_iter().collect();
        }
    }

    /// Readers for the pipes the store kept, under their original metadata,
    /// once what the store spooled from them while no daimond ran is stored
    /// (`process::spool_import`).
    fn reattach(&mut self, pipes: Vec<StoredPipe>) {
        let n = pipes.len();
        let mut kept = Vec::new();
        let mut ptys = Vec::new();
        for p in pipes {
            let Some(meta) = p.meta else {
                self.fdstore().borrow_mut().close(p.id);
                continue;
            };
            let source = self.procs.new_source();
            self.fdstore()
                .borrow_mut()
                .remember(p.id, p.fd.as_fd(), &meta);
            let pty = meta.pty;
            let origin = PipeOrigin { source, meta };
            if pty {
                // Read by its console once the spool is stored (below).
                ptys.push((p.fd, origin, p.id));
                continue;
            }
            kept.push(spool_import::Kept {
                fd: p.fd,
                origin,
                id: p.id,
            });
        }
        if n > 0 {
            tracing::info!("resumed reading {n} service output pipe(s) kept by the fd store");
        }
        let (log, store) = (self.logs.sender(), self.fdstore().clone());
        let consoles = self.consoles.clone();
        let (log2, store2) = (log.clone(), store.clone());
        let start_ptys = Box::new(move || {
            for (fd, origin, id) in ptys {
                crate::console::reader::start(
                    &consoles,
                    fd,
                    origin,
                    log2.clone(),
                    &store2,
                    Some(id),
                );
            }
        });
        spool_import::hand_over(&self.paths().runtime, kept, start_ptys, log, store);
    }

    /// A watched process that is not our child has ended.
    pub fn on_watched(&mut self, w: Watched) {
        match w {
            Watched::Main { unit, pid } => {
                let Some(e) = self.units.get_mut(&unit) else {
                    return;
                };
                if e.machine.main_pid != Some(pid) || e.main.as_ref().map(|h| h.pid) != Some(pid) {
                    return;
                }
                e.main = None;
                e.main_start_time = None;
                self.procs.release(pid);
                let status = ExitStatus::Unknown;
                self.feed(&unit, Event::Exited { pid, status });
                if self.procs.has_leftovers(&unit) {
                    self.recheck_leftovers(&unit);
                }
            }
            Watched::Member { unit } => {
                if self.procs.has_leftovers(&unit) {
                    self.recheck_leftovers(&unit);
                }
            }
            Watched::Exec { pid } => self.on_exec_report(pid),
            Watched::Store { pid } => self.on_store_died(pid),
        }
    }

    /// Where processes that left a unit's tree may be: the daemon's children not
    /// known as main/control; for an adopted run every process (those escaped
    /// under the previous daimond were re-parented elsewhere), filtered by
    /// `INVOCATION_ID=` by the caller.
    pub fn escape_candidates(&self, unit: &str) -> Vec<u32> {
        if self.units.get(unit).is_some_and(|e| e.adopted) {
            self.escape_candidates_all()
        } else {
            self.orphan_candidates()
        }
    }

    /// Every process but this daimond, its fd store and the tracked
    /// main/control processes.
    pub fn escape_candidates_all(&self) -> Vec<u32> {
        let me = std::process::id();
        tree::all_pids()
            .into_iter()
            .filter(|p| *p != me && !self.is_accounted_for(*p))
            .collect()
    }

    /// Adopted run being stopped: watch the end of each signalled process, since
    /// none of them sends us SIGCHLD.
    pub fn watch_members(&mut self, unit: &str) {
        let Some(tx) = self.watcher() else {
            return;
        };
        let Some(e) = self.units.get_mut(unit) else {
            return;
        };
        if !e.adopted {
            return;
        }
        for &(p, t) in &e.members {
            if e.watched.contains(&p) {
                continue;
            }
            let same = || tree::stat(p).is_some_and(|s| s.start_time == t && s.state != 'Z');
            let Some(fd) = pidfd_open(p).filter(|_| same()) else {
                continue;
            };
            let tx = tx.clone();
            let unit = unit.to_string();
            let ok = pidwatch::watch(fd, move || {
                let _ = tx.send(Watched::Member { unit });
            });
            if ok.is_ok() {
                e.watched.insert(p);
            }
        }
    }

    /// A new run starts: it is ours.
    pub fn clear_adoption(&mut self, unit: &str) {
        if let Some(e) = self.units.get_mut(unit) {
            e.adopted = false;
            e.watched.clear();
        }
    }

    /// Whether a unit is idle (for autostart: an adopted one is not).
    pub fn is_idle_unit(&self, unit: &str) -> bool {
        self.units.get(unit).is_some_and(Entry::is_idle)
    }
}
