//! The set of known units and what their files say.
//!
//! Owns [`Entry`] (one unit: its loaded definition, the definition its current run
//! uses, its state machine and process handles) and loading through
//! `daimon_unit`'s loader: the whole units directory at start and on
//! daemon-reload, single names (template instances) on demand, transient units
//! from `daimon run`. A unit with errors is kept with its first diagnostic and
//! never affects another.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use daimon_unit::{LoadedUnit, Severity, SpecifierContext, Unit};

use super::machine::{Def, JobKind, Machine, SubState};
use crate::process::signal::ProcHandle;

/// What the unit's file (or `daimon run`) says now.
#[derive(Debug, Clone)]
pub enum Load {
    Loaded(Rc<Unit>),
    /// The file has errors: the first one, rendered `file:line:col: message`.
    Bad {
        error: String,
        path: PathBuf,
    },
    Masked(PathBuf),
    /// No file (any more); a running unit keeps its old definition.
    NotFound,
}

/// One known unit.
pub struct Entry {
    pub name: String,
    pub load: Load,
    /// `daimon run` without `--save`: the unit text, kept for `cat`.
    pub transient: Option<String>,
    /// The definition the current (or last) run uses; new settings apply at the
    /// next start, as systemd does after daemon-reload.
    pub running: Option<Rc<Unit>>,
    pub machine: Machine,
    pub invocation: String,
    pub since_wall: Option<jiff::Timestamp>,
    pub main: Option<ProcHandle>,
    pub main_start_time: Option<u64>,
    pub control: Option<ProcHandle>,
    /// Processes other than main/control signalled in the current stop (PID,
    /// start time).
    pub members: Vec<(u32, u64)>,
    pub last_signal: Option<i32>,
    /// Open jobs of transactions waiting for this unit: (kind, transaction id).
    pub waits: Vec<(JobKind, u64)>,
    pub timer_at: Option<Instant>,
    /// The current run was adopted after a daimond restart: its processes are
    /// not our children (see `adopt`).
    pub adopted: bool,
    /// Adopted run: processes whose end is watched with a pidfd.
    pub watched: BTreeSet<u32>,
    /// Sessions this run's main processes led (each spawned process starts one;
    /// a forking daemon its own): orphans in them belong to the unit.
    pub sessions: Vec<u32>,
    /// When the unit last left the inactive state (started) and last entered
    /// it (stopped, finished): what OnUnitActiveSec=/OnUnitInactiveSec= count from.
    pub run_started: Option<Instant>,
    pub run_stopped: Option<Instant>,
    /// The last run, for `status` and the timers that activate the unit.
    pub last_run: Option<RunRecord>,
    /// The runs before it (each automatic restart begins one), newest first.
    pub earlier_runs: super::run_history::RunHistory,
    /// A `.target` that was started and not stopped since: targets have no
    /// process, their state is their last job's (systemd's "active (active)").
    pub target_active: bool,
    /// When the active state last changed, for `show`.
    pub stamps: super::stamps::Stamps,
}

/// One run of a unit: from leaving the inactive state to entering it again.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub invocation: String,
    pub started: jiff::Timestamp,
    pub finished: Option<jiff::Timestamp>,
    /// systemd's Result= once finished.
    pub result: Option<String>,
    /// How the last main process ended.
    pub exit: Option<String>,
}

impl RunRecord {
    /// A run that starts now.
    pub fn begin(invocation: String) -> RunRecord {
        RunRecord {
            invocation,
            started: jiff::Timestamp::now(),
            finished: None,
            result: None,
            exit: None,
        }
    }

    /// The run ends now, as the machine says.
    pub fn finish(&mut self, m: &crate::supervisor::machine::Machine) {
        self.finished = Some(jiff::Timestamp::now());
        self.result = Some(m.result.as_str().to_string());
        self.exit = m.last_exit.map(|s| s.to_string());
    }
}

impl Entry {
    /// A run (or an automatic restart's attempt) begins now; the one before
    /// goes to the restart history.
    pub fn begin_run(&mut self, invocation: String) {
        if let Some(old) = self.last_run.take() {
            self.earlier_runs.push(old);
        }
        self.last_run = Some(RunRecord::begin(invocation));
    }

    pub fn new(name: String, load: Load) -> Entry {
        Entry {
            name,
            load,
            transient: None,
            running: None,
            machine: Machine::new(),
            invocation: String::new(),
            since_wall: None,
            main: None,
            main_start_time: None,
            control: None,
            members: Vec::new(),
            last_signal: None,
            waits: Vec::new(),
            timer_at: None,
            adopted: false,
            watched: BTreeSet::new(),
            sessions: Vec::new(),
            run_started: None,
            run_stopped: None,
            target_active: false,
            last_run: None,
            earlier_runs: Default::default(),
            stamps: Default::default(),
        }
    }

    pub fn loaded(&self) -> Option<&Rc<Unit>> {
        match &self.load {
            Load::Loaded(u) => Some(u),
            _ => None,
        }
    }

    /// The definition the machine works with: the run's, else the file's.
    pub fn def_unit(&self) -> Option<&Rc<Unit>> {
        self.running.as_ref().or_else(|| self.loaded())
    }

    /// While the unit is not running, the next start uses the file's definition.
    pub fn refresh_definition(&mut self) {
        let idle = matches!(
            self.machine.state,
            SubState::Dead | SubState::Failed | SubState::AutoRestart
        );
        if idle && let Some(u) = self.loaded() {
            self.running = Some(u.clone());
        }
    }

    /// A timer unit (its state comes from its schedule, not its machine).
    pub fn is_timer(&self) -> bool {
        self.loaded()
            .or(self.def_unit())
            .is_some_and(|u| u.timer().is_some())
    }

    pub fn is_idle(&self) -> bool {
        self.machine.state.is_inactive()
    }

    pub fn load_state(&self) -> &'static str {
        match (&self.load, &self.transient) {
            (_, Some(_)) => "transient",
            (Load::Loaded(_), None) => "loaded",
            (Load::Bad { .. }, None) => "bad-setting",
            (Load::Masked(_), None) => "masked",
            (Load::NotFound, None) => "not-found",
        }
    }

    pub fn fragment_path(&self) -> Option<String> {
        if self.transient.is_some() {
            return None;
        }
        match &self.load {
            Load::Loaded(u) => Some(u.fragment_path.display().to_string()),
            Load::Bad { path, .. } | Load::Masked(path) => Some(path.display().to_string()),
            Load::NotFound => self
                .running
                .as_ref()
                .map(|u| u.fragment_path.display().to_string()),
        }
    }
}

/// Builds the machine's view of `u` (services only).
pub fn def_of<'a>(u: &'a Unit) -> Option<Def<'a>> {
    Some(Def {
        name: &u.name,
        unit: &u.unit,
        svc: u.service()?,
    })
}

/// Turns a loader result into a [`Load`], logging warnings.
pub fn load_of(l: LoadedUnit) -> Load {
    for d in &l.diagnostics {
        if d.severity == Severity::Warning {
            tracing::warn!("{d}");
        }
    }
    if let Some(e) = l.diagnostics.iter().find(|d| d.severity == Severity::Error) {
        return Load::Bad {
            error: e.to_string(),
            path: l.path,
        };
    }
    if l.masked {
        return Load::Masked(l.path);
    }
    match l.unit {
        Some(u) => Load::Loaded(Rc::new(u)),
        None => Load::Bad {
            error: format!("{}: cannot be loaded", l.path.display()),
            path: l.path,
        },
    }
}

/// Every unit file of `dir`, by name.
pub fn load_all(dir: &Path, ctx: &SpecifierContext) -> BTreeMap<String, Load> {
    daimon_unit::load_dir(dir, ctx)
        .into_iter()
        .map(|l| (l.name.clone(), load_of(l)))
        .collect()
}

/// One unit by name (instances of templates included); `None` when no file fits.
pub fn load_one(dir: &Path, name: &str, ctx: &SpecifierContext) -> Option<Load> {
    match daimon_unit::load_by_name(dir, name, ctx) {
        Ok(l) => Some(load_of(l)),
        Err(daimon_unit::LoadError::NotFound { .. }) => None,
        Err(e) => Some(Load::Bad {
            error: e.to_string(),
            path: dir.join(name),
        }),
    }
}

/// Well-known targets that are always reached in daimon (there is no boot
/// sequence to wait for): a dependency on them never fails a unit.
pub fn is_well_known_target(name: &str) -> bool {
    name.ends_with(".target")
}
