//! The owner's side of timer units: start and stop them as jobs, trigger their
//! unit when they elapse, and describe them for `timers` and `status`.
//!
//! systemd.timer(5) semantics kept here: a timer starts its unit only when that
//! unit is not already running (it waits for the run to end before it
//! schedules again, so runs never overlap); `Persistent=` remembers the last
//! trigger on disk and catches up one missed elapse at start; stopping a timer
//! leaves a running unit alone.

use std::collections::BTreeMap;
use std::time::Instant;

use daimon_proto::{ActiveState, RunSummary, TimerInfo};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::jobs::{ItemState, Reply, Verb};
use super::owner::Owner;
use super::registry::Entry;
use super::timer::schedule::{self, Clock, History, Next, Now, Plan, SystemClock};
use super::timer::{TimerRun, TimerState, stamp};

/// The owner's timer state: the started timer units and what they are
/// scheduled by.
pub(super) struct Timers {
    /// Started timer units.
    runs: BTreeMap<String, TimerRun>,
    /// The set of started timers changed and is to be saved.
    changed: bool,
    /// Where timers take the time from (tests may inject another clock).
    clock: Box<dyn Clock>,
    /// When this daimond started (OnBootSec=, OnStartupSec=).
    daemon_start: Instant,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            runs: BTreeMap::new(),
            changed: false,
            clock: Box::new(SystemClock),
            daemon_start: Instant::now(),
        }
    }
}

impl Timers {
    /// Whether the timer unit `name` is started.
    pub(super) fn is_started(&self, name: &str) -> bool {
        self.runs.contains_key(name)
    }

    /// The started timer `name`, if any (`None` at once when none is started).
    pub(super) fn run(&self, name: &str) -> Option<&TimerRun> {
        if self.runs.is_empty() {
            return None;
        }
        self.runs.get(name)
    }
}

impl Owner {
    /// Whether `name` is a timer unit.
    pub fn is_timer(&self, name: &str) -> bool {
        self.units.get(name).is_some_and(Entry::is_timer)
    }

    /// A start/stop/restart job of a timer; the error says why it failed.
    pub(super) fn timer_job(&mut self, name: &str, verb: Verb) -> Option<String> {
        match verb {
            Verb::Start => self.start_timer(name).err(),
            Verb::Stop => {
                self.stop_timer(name);
                None
            }
            Verb::Restart => {
                self.stop_timer(name);
                self.start_timer(name).err()
            }
            Verb::Reload => Some(format!("{name}: a timer cannot be reloaded; restart it")),
        }
    }

    fn start_timer(&mut self, name: &str) -> Result<(), String> {
        if self.timers.runs.contains_key(name) {
            return Ok(());
        }
        let Some(section) = self
            .units
            .get(name)
            .and_then(|e| e.loaded())
            .and_then(|u| u.timer().cloned())
        else {
            return Err(format!("{name}: not a loaded timer unit"));
        };
        let (plan, errors) = Plan::new(&section);
        for e in errors {
            self.message(name, 4, format!("{name}: {e}"));
        }
        if !section.has_triggers() {
            return Err(format!(
                "{name} has no trigger; add OnCalendar= or OnActiveSec= (or another On*=) to [Timer]"
            ));
        }
        if self.resolve(&plan.unit).is_err() {
            return Err(format!(
                "{name} activates {}, which is not loaded; create it or set Unit= in [Timer]",
                plan.unit
            ));
        }
        let now = self.timers.clock.now();
        let (started, stopped) = self.unit_times(&plan.unit);
        let history = History {
            activated: now,
            daemon_start: self.timers.daemon_start,
            last_trigger_wall: plan
                .persistent
                .then(|| stamp::last_trigger(&self.paths().state, name))
                .flatten(),
            last_trigger_mono: None,
            unit_started: started,
            unit_stopped: stopped,
        };
        self.timers
            .runs
            .insert(name.to_string(), TimerRun::new(plan, history));
        self.reschedule(name, now);
        self.save_active_timers();
        if let Some(r) = self.timers.runs.get(name) {
            let when = r
                .next
                .as_wall(now)
                .map(|t| format!("next elapse {}", local(t)))
                .unwrap_or_else(|| "nothing to trigger".into());
            self.message(name, 6, format!("Started {name}: {when}"));
        }
        Ok(())
    }

    fn stop_timer(&mut self, name: &str) {
        if self.timers.runs.remove(name).is_some() {
            self.save_active_timers();
            self.message(name, 6, format!("Stopped {name}"));
        }
    }

    /// The started set changed; it is written once per turn of the event loop
    /// (starting 10,000 enabled timers writes it once, not 10,000 times).
    fn save_active_timers(&mut self) {
        self.timers.changed = true;
    }

    /// The timers a previous daimond had started (enabled ones start anyway).
    pub(super) fn timers_to_resume(&self) -> Vec<String> {
        stamp::load_active(&self.paths().state)
            .into_iter()
            .filter(|n| self.is_timer(n))
            .collect()
    }

    /// The timers a previous daimond had started and the units they activate:
    /// transient ones among them (`daimon run --on-calendar` without `--save`)
    /// live on with the schedule.
    pub(super) fn kept_by_started_timers(&self) -> std::collections::BTreeSet<String> {
        let mut keep = std::collections::BTreeSet::new();
        for t in stamp::load_active(&self.paths().state) {
            let unit = self
                .units
                .get(&t)
                .and_then(|e| e.loaded())
                .and_then(|u| u.timer())
                .map(|s| s.unit.clone());
            if let Some(unit) = unit {
                keep.insert(unit);
                keep.insert(t);
            }
        }
        keep
    }

    /// When the unit last left and last entered the inactive state.
    fn unit_times(&self, unit: &str) -> (Option<Instant>, Option<Instant>) {
        self.units
            .get(unit)
            .map(|e| (e.run_started, e.run_stopped))
            .unwrap_or((None, None))
    }

    /// Computes the next elapse of a waiting timer.
    fn reschedule(&mut self, name: &str, now: Now) {
        let seed = now.mono.elapsed().as_nanos() as u64 ^ now.wall.as_nanosecond() as u64;
        let (started, stopped) = self.unit_times(
            &self
                .timers
                .runs
                .get(name)
                .map(|r| r.plan.unit.clone())
                .unwrap_or_default(),
        );
        let Some(run) = self.timers.runs.get_mut(name) else {
            return;
        };
        run.history.unit_started = started;
        run.history.unit_stopped = stopped;
        let raw = schedule::next_elapse(&run.plan, &run.history, &TimeZone::system());
        if raw.is_none() {
            run.next = Next::default();
            if run.plan.remain_after_elapse {
                run.state = TimerState::Elapsed;
            } else {
                self.timers.runs.remove(name);
                self.save_active_timers();
            }
            return;
        }
        run.state = TimerState::Waiting;
        run.set_next(raw, name, seed);
    }

    /// The earliest wake-up any timer needs, on the monotonic clock
    /// (relative triggers) and on the wall clock (calendar events): one pass
    /// over the timers for each turn of the event loop.
    pub fn next_timer_wakes(&self) -> (Option<Instant>, Option<Timestamp>) {
        let mut mono: Option<Instant> = None;
        let mut wall: Option<Timestamp> = None;
        for w in self.timers.runs.values().filter_map(TimerRun::wake) {
            mono = match (mono, w.mono) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            wall = match (wall, w.wall) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        (mono, wall)
    }

    /// A timer deadline or the wall-clock alarm passed: triggers every timer
    /// whose elapse has come.
    pub fn on_timer_wake(&mut self) {
        if self.shutting_down {
            return;
        }
        let now = self.timers.clock.now();
        let due: Vec<String> = self
            .timers
            .runs
            .iter()
            .filter(|(_, r)| r.state == TimerState::Waiting && r.next.is_due(now))
            .map(|(n, _)| n.clone())
            .collect();
        // One transaction for everything due: timers elapsing together (the
        // top of the hour) cost one dependency plan, not one each.
        let mut start: Vec<String> = Vec::new();
        for name in due {
            if let Some(unit) = self.trigger(&name, now)
                && !start.contains(&unit)
            {
                start.push(unit);
            }
        }
        if !start.is_empty() {
            self.run_txn(Verb::Start, start, Reply::Nobody);
        }
    }

    /// systemd's timer_enter_running(): the unit to start unless it runs
    /// already; the timer waits for it to finish before scheduling again.
    fn trigger(&mut self, name: &str, now: Now) -> Option<String> {
        let run = self.timers.runs.get_mut(name)?;
        run.history.last_trigger_wall = Some(now.wall);
        run.history.last_trigger_mono = Some(now.mono);
        run.state = TimerState::Running;
        run.next = Next::default();
        let unit = run.plan.unit.clone();
        if run.plan.persistent
            && let Err(e) = stamp::save_trigger(&self.paths().state, name, now.wall)
        {
            self.message(
                name,
                4,
                format!("{name}: cannot record the trigger time ({e}); a missed run may repeat"),
            );
        }
        if self.unit_busy(&unit) {
            self.message(
                name,
                5,
                format!("{name}: {unit} is still running; this elapse does not start it again"),
            );
            return None;
        }
        self.message(name, 6, format!("{name}: triggering {unit}"));
        Some(unit)
    }

    /// The unit runs, or a job for it is still open.
    pub(super) fn unit_busy(&self, unit: &str) -> bool {
        let running = self.units.get(unit).is_some_and(|e| !e.is_idle());
        running
            || self.units.txns().any(|t| {
                t.items
                    .iter()
                    .any(|i| i.unit == unit && !matches!(i.state, ItemState::Done(_)))
            })
    }

    /// The wall clock was set (systemd's timer_time_change()): a last trigger
    /// now in the future is taken as now, and every waiting timer is scheduled
    /// again, so a clock set back does not hold a timer back by the jump.
    pub fn on_clock_set(&mut self) {
        let now = self.timers.clock.now();
        tracing::info!("the system clock was set; timers scheduled again");
        let names: Vec<String> = self.timers.runs.keys().cloned().collect();
        for name in names {
            let Some(run) = self.timers.runs.get_mut(&name) else {
                continue;
            };
            let h = &mut run.history;
            if h.last_trigger_wall.is_some_and(|t| t > now.wall) {
                h.last_trigger_wall = Some(now.wall);
            }
            if h.activated.wall > now.wall {
                h.activated.wall = now.wall;
            }
            if run.state == TimerState::Waiting {
                self.reschedule(&name, now);
            }
        }
    }

    /// After events were handled: a running timer whose unit finished waits
    /// for its next elapse again (at once, if one passed during the run).
    pub fn timers_after_events(&mut self) {
        if std::mem::take(&mut self.timers.changed)
            && let Err(e) = stamp::save_active(&self.paths().state, self.timers.runs.keys())
        {
            tracing::warn!("cannot save the started timers: {e}");
        }
        let finished: Vec<String> = self
            .timers
            .runs
            .iter()
            .filter(|(_, r)| r.state == TimerState::Running && !self.unit_busy(&r.plan.unit))
            .map(|(n, _)| n.clone())
            .collect();
        if finished.is_empty() {
            return;
        }
        let now = self.timers.clock.now();
        for name in finished {
            self.reschedule(&name, now);
        }
    }

    /// Re-reads a started timer's settings after daemon-reload; its history
    /// (last trigger) is kept, as systemd keeps it.
    pub(super) fn reload_timers(&mut self) {
        let now = self.timers.clock.now();
        let names: Vec<String> = self.timers.runs.keys().cloned().collect();
        for name in names {
            let section = self
                .units
                .get(&name)
                .and_then(|e| e.loaded())
                .and_then(|u| u.timer().cloned());
            match section {
                Some(s) => {
                    if let Some(r) = self.timers.runs.get_mut(&name) {
                        r.plan = Plan::new(&s).0;
                    }
                    if self
                        .timers
                        .runs
                        .get(&name)
                        .is_some_and(|r| r.state != TimerState::Running)
                    {
                        self.reschedule(&name, now);
                    }
                }
                None => self.stop_timer(&name),
            }
        }
    }

    /// State and sub-state of a timer unit, as `status` and `list` show them.
    pub fn timer_state(&self, name: &str) -> (ActiveState, &'static str) {
        match self.timers.runs.get(name) {
            Some(r) => (ActiveState::Active, r.state.as_str()),
            None => (ActiveState::Inactive, "dead"),
        }
    }

    /// `daimon timers` and the timer half of `status`.
    pub fn timer_info(&self, e: &Entry) -> Option<TimerInfo> {
        let section = e.loaded().or(e.def_unit())?.timer()?;
        let now = self.timers.clock.now();
        let run = self.timers.runs.get(&e.name);
        let fresh;
        let plan = match run {
            Some(r) => &r.plan,
            None => {
                fresh = Plan::new(section).0;
                &fresh
            }
        };
        let (state, sub) = self.timer_state(&e.name);
        let next = run.and_then(|r| r.next.as_wall(now));
        // A started timer knows its last trigger (a Persistent= one read its
        // stamp when it started); a stopped one shows its stamp, if it keeps one.
        let last = match run {
            Some(r) => r.history.last_trigger_wall,
            None if plan.persistent => stamp::last_trigger(&self.paths().state, &e.name),
            None => None,
        };
        let usec = |from: Timestamp, to: Timestamp| {
            u64::try_from(to.duration_since(from).as_micros()).unwrap_or(0)
        };
        Some(TimerInfo {
            unit: e.name.clone(),
            activates: plan.unit.clone(),
            state,
            sub_state: sub.to_string(),
            next: next.map(|t| t.to_string()),
            left_usec: next.map(|t| usec(now.wall, t)),
            last: last.map(|t| t.to_string()),
            passed_usec: last.map(|t| usec(t, now.wall)),
            triggers: plan.triggers(),
            persistent: plan.persistent,
            last_run: self.units.get(&plan.unit).and_then(run_summary),
        })
    }

    /// Every timer, soonest first (`daimon timers`).
    pub fn timers(&self) -> Vec<TimerInfo> {
        let mut out: Vec<TimerInfo> = self
            .units
            .values()
            .filter_map(|e| self.timer_info(e))
            .collect();
        out.sort_by(|a, b| {
            (a.left_usec.is_none(), a.left_usec, &a.unit).cmp(&(
                b.left_usec.is_none(),
                b.left_usec,
                &b.unit,
            ))
        });
        out
    }
}

/// How the unit's last run went.
pub fn run_summary(e: &Entry) -> Option<RunSummary> {
    e.last_run.as_ref().map(super::run_history::summary)
}

/// A time for daimond's own messages, in local time.
fn local(t: Timestamp) -> String {
    t.to_zoned(TimeZone::system())
        .strftime("%a %Y-%m-%d %H:%M:%S %Z")
        .to_string()
}
