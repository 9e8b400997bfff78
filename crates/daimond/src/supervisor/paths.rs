//! The owner's side of path units: start and stop them as jobs, start their
//! unit when a watched path calls for it, describe them for `status`.
//!
//! systemd.path(5) semantics kept here: `PathExists=`, `PathExistsGlob=` and
//! `DirectoryNotEmpty=` start the unit whenever the condition holds while the
//! path unit waits (at start too, and again after each run); `PathChanged=`
//! and `PathModified=` start it on a change. While the unit runs the path
//! unit is `running` and does not start it again; a change seen meanwhile
//! starts it once more after the run. `MakeDirectory=` creates the
//! `DirectoryNotEmpty=` directories. Stopping a path unit leaves its unit alone.

use std::time::Instant;

use daimon_proto::ActiveState;

use super::jobs::{Reply, Verb};
use super::owner::Owner;
use super::path::{self, Event, Kind, PathRun, PathState};

impl Owner {
    /// Whether `name` is a path unit.
    pub fn is_path_unit(&self, name: &str) -> bool {
        self.units
            .get(name)
            .and_then(|e| e.loaded().or(e.def_unit()))
            .is_some_and(|u| u.path_unit().is_some())
    }

    /// A start/stop/restart job of a path unit; the error says why it failed.
    pub(super) fn path_job(&mut self, name: &str, verb: Verb) -> Option<String> {
        match verb {
            Verb::Start => self.start_path(name).err(),
            Verb::Stop => {
                self.stop_path(name);
                None
            }
            Verb::Restart => {
                self.stop_path(name);
                self.start_path(name).err()
            }
            Verb::Reload => Some(format!(
                "{name}: a path unit cannot be reloaded; restart it"
            )),
        }
    }

    fn start_path(&mut self, name: &str) -> Result<(), String> {
        if self
            .path_units
            .runs
            .get(name)
            .is_some_and(|r| r.state != PathState::Failed)
        {
            return Ok(());
        }
        let Some(section) = self
            .units
            .get(name)
            .and_then(|e| e.loaded())
            .and_then(|u| u.path_unit().cloned())
        else {
            return Err(format!("{name}: not a loaded path unit"));
        };
        if self.resolve(&section.unit).is_err() {
            return Err(format!(
                "{name} activates {}, which is not loaded; create it or set Unit= in [Path]",
                section.unit
            ));
        }
        let specs = path::specs(&section);
        if section.make_directory {
            for d in &section.directory_not_empty {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(section.directory_mode)
                    .create(d)
                    .map_err(|e| {
                        format!("{name}: MakeDirectory=: cannot create {}: {e}", d.display())
                    })?;
            }
        }
        let Some(tx) = self.path_units.events_tx.clone() else {
            return Err(format!("{name}: the daemon is not ready to watch paths"));
        };
        let run = PathRun::start(name, section.unit.clone(), specs, &tx)
            .map_err(|e| format!("{name}: {e}"))?;
        let what: Vec<String> = run
            .specs
            .iter()
            .map(|s| format!("{}={}", kind_directive(s.kind), s.path.display()))
            .collect();
        self.path_units.runs.insert(name.to_string(), run);
        self.message(
            name,
            6,
            format!("Started {name}: watching {}", what.join(", ")),
        );
        self.path_check(name, &[]);
        Ok(())
    }

    fn stop_path(&mut self, name: &str) {
        if let Some(r) = self.path_units.runs.remove(name)
            && r.state != PathState::Failed
        {
            self.message(name, 6, format!("Stopped {name}"));
        }
    }

    /// Events of a path unit's inotify instance.
    pub fn on_path_events(&mut self, (name, events): (String, Vec<Event>)) {
        if self.shutting_down {
            return;
        }
        let Some(run) = self.path_units.runs.get_mut(&name) else {
            return;
        };
        if run.state == PathState::Failed {
            return;
        }
        // The events name the watches they came from: read them before the
        // watches are set again (a directory may have appeared).
        self.path_check(&name, &events);
        if let Some(Err(e)) = self.path_units.runs.get_mut(&name).map(PathRun::rewatch) {
            self.message(&name, 3, format!("{name}: {e}"));
        }
        // What appeared between the check and the new watches is seen now.
        if self
            .path_units
            .runs
            .get(&name)
            .is_some_and(|r| r.state == PathState::Waiting)
        {
            self.path_check(&name, &[]);
        }
    }

    /// Starts the unit if `events` (or, for the "exists" kinds, the file
    /// system now) call for it.
    fn path_check(&mut self, name: &str, events: &[Event]) {
        let Some(run) = self.path_units.runs.get_mut(name) else {
            return;
        };
        let why = run.specs.iter().enumerate().find_map(|(i, s)| {
            let changed = path::triggers(s, &run.watches, i, events);
            let holds = path::holds(s);
            (changed || holds).then(|| match s.kind {
                Kind::Exists => format!("{} exists", s.path.display()),
                Kind::ExistsGlob => format!("{} matches", s.path.display()),
                Kind::DirectoryNotEmpty => format!("{} is not empty", s.path.display()),
                Kind::Changed | Kind::Modified => format!("{} changed", s.path.display()),
            })
        });
        let Some(why) = why else { return };
        match run.state {
            PathState::Waiting => self.path_trigger(name, why),
            PathState::Running => {
                run.pending = true;
                run.last_trigger = Some(why);
            }
            PathState::Failed => {}
        }
    }

    fn path_trigger(&mut self, name: &str, why: String) {
        let now = Instant::now();
        let Some(run) = self.path_units.runs.get_mut(name) else {
            return;
        };
        if !run.count_trigger(now) {
            run.close();
            run.state = PathState::Failed;
            run.result = "trigger-limit-hit";
            run.since = Some(jiff::Timestamp::now());
            self.message(
                name,
                3,
                format!("{name}: failed with result 'trigger-limit-hit' (200 starts in 2s)"),
            );
            return;
        }
        run.state = PathState::Running;
        run.pending = false;
        run.since = Some(jiff::Timestamp::now());
        run.last_trigger = Some(why.clone());
        let unit = run.unit.clone();
        self.message(name, 6, format!("{name}: {why}; starting {unit}"));
        self.run_txn(Verb::Start, vec![unit], Reply::Nobody);
    }

    /// After events were handled: a path unit whose unit finished waits
    /// again, and starts it at once if a change came meanwhile or a
    /// condition still holds (systemd's path_enter_waiting()).
    pub fn paths_after_events(&mut self) {
        if self.path_units.runs.is_empty() {
            return;
        }
        let finished: Vec<(String, bool)> = self
            .path_units
            .runs
            .iter()
            .filter(|(_, r)| r.state == PathState::Running && !self.unit_busy(&r.unit))
            .map(|(n, r)| (n.clone(), r.pending))
            .collect();
        for (name, pending) in finished {
            if let Some(r) = self.path_units.runs.get_mut(&name) {
                r.state = PathState::Waiting;
                r.since = Some(jiff::Timestamp::now());
            }
            if pending {
                let why = self
                    .path_units
                    .runs
                    .get(&name)
                    .and_then(|r| r.last_trigger.clone())
                    .unwrap_or_default();
                self.path_trigger(&name, why);
            } else {
                self.path_check(&name, &[]);
            }
        }
    }

    /// State and sub-state of a path unit, as `status` and `list` show them.
    pub fn path_state(&self, name: &str) -> (ActiveState, &'static str) {
        match self.path_units.runs.get(name).map(|r| r.state) {
            Some(PathState::Failed) => (ActiveState::Failed, "failed"),
            Some(s) => (ActiveState::Active, s.as_str()),
            None => (ActiveState::Inactive, "dead"),
        }
    }

    /// The result and what last triggered the unit, for `status`.
    pub(super) fn path_status(&self, name: &str) -> Option<(&'static str, Option<String>)> {
        if !self.is_path_unit(name) {
            return None;
        }
        let r = self.path_units.runs.get(name);
        Some((
            r.map_or("success", |r| r.result),
            r.and_then(|r| r.last_trigger.as_ref())
                .map(|t| format!("last triggered: {t}")),
        ))
    }

    /// `reset-failed` of a path unit.
    pub(super) fn reset_failed_path(&mut self, name: &str) {
        if self
            .path_units
            .runs
            .get(name)
            .is_some_and(|r| r.state == PathState::Failed)
        {
            self.path_units.runs.remove(name);
        }
    }
}

fn kind_directive(k: Kind) -> &'static str {
    match k {
        Kind::Exists => "PathExists",
        Kind::ExistsGlob => "PathExistsGlob",
        Kind::Changed => "PathChanged",
        Kind::Modified => "PathModified",
        Kind::DirectoryNotEmpty => "DirectoryNotEmpty",
    }
}
