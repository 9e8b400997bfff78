//! The owner task: the one place that holds and changes unit state.
//!
//! Owns the event loop (client commands, SIGCHLD, exec-status pipes, one timer for
//! the nearest deadline), feeding events to each unit's [`Machine`] and executing
//! the effects it returns: spawn, signal (pidfds), kill process trees, reply to
//! jobs, log. A main process killed with RestartSec=0 is reaped, decided on and
//! re-spawned within one pass of this loop, with no extra hop. Processes adopted
//! after a daimond restart are not our children; pidfds report their end
//! ([`Watched`](super::watched::Watched)).
//!
//! The state is a few private parts, each beside the methods that change it:
//! where daimond runs and what services are told of it (`site.rs`), the
//! units and jobs (`units.rs`), the process watch with spawn, reap and kill
//! (`processes.rs`), the machines' deadlines (`deadlines.rs`), the log plumbing
//! (`log.rs`), the re-adoption snapshot (`persistence.rs`) with the list of main processes
//! being forked (`spawning.rs`), and the started
//! timers (`super::timers`). This file keeps the event queue and turns each
//! effect into a call on them.

mod adopt;
mod deadlines;
mod exec_outcome;
mod log;
mod main_pid;
mod persistence;
mod processes;
mod requests;
mod requests_lists;
mod requests_remove;
mod requests_show;
mod requests_verbs;
mod save;
mod shutdown;
mod site;
mod spawning;
mod units;

use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Instant;

use daimon_proto::Paths;

use super::exec::{self, ExecEnv};
use super::machine::{Effect, Event, SubState};
use super::registry::{Entry, def_of};
use crate::log_writer::LogSender;

pub struct Owner {
    /// Daimond's files, the host, and what services are told of daimond
    /// ([`site::Site`]).
    site: site::Site,
    /// The units and the jobs on them ([`units::Units`]).
    pub(super) units: units::Units,
    /// The processes the owner watches ([`processes::Processes`]).
    procs: processes::Processes,
    /// Started timer units ([`super::timers::Timers`]).
    pub(super) timers: super::timers::Timers,
    /// Each unit's nearest machine deadline ([`deadlines::Deadlines`]).
    deadlines: deadlines::Deadlines,
    /// The way to the log writer ([`log::Logs`]).
    logs: log::Logs,
    /// What a restarted daimond needs to re-adopt the services
    /// ([`persistence::Snapshot`]).
    snapshot: persistence::Snapshot,
    /// Main processes being forked, for a daimond killed before the snapshot
    /// names them ([`spawning::Spawning`]).
    spawning: spawning::Spawning,
    /// Events still to feed to the units' machines, in order.
    queue: VecDeque<(String, Event)>,
    draining: bool,
    pub(super) shutting_down: bool,
    /// Cgroups of units with resource limits.
    pub(super) cgroups: super::cgroups::Cgroups,
    /// Services restarted on file changes (`--watch`), with their watches.
    pub(super) watches: super::watch::Watches,
    /// Started path units, with their inotify watches.
    pub(super) path_units: super::path::PathUnits,
    /// Socket units not dead, with their descriptors.
    pub(super) sockets: super::socket::Sockets,
    /// State changes for live viewers (`events`).
    pub(super) events: super::events::Events,
    /// Terminals of services with `StandardInput=tty`, for `daimon attach`.
    pub(super) consoles: crate::console::Consoles,
}

impl Owner {
    pub fn new(paths: Paths, log: LogSender, nofile: crate::fd_limits::OriginalNofile) -> Owner {
        Owner {
            site: site::Site::new(paths, nofile),
            units: Default::default(),
            procs: Default::default(),
            timers: Default::default(),
            deadlines: Default::default(),
            logs: log::Logs::new(log),
            snapshot: Default::default(),
            spawning: Default::default(),
            queue: VecDeque::new(),
            draining: false,
            shutting_down: false,
            cgroups: Default::default(),
            watches: Default::default(),
            path_units: Default::default(),
            sockets: Default::default(),
            events: Default::default(),
            consoles: Default::default(),
        }
    }

    /// The current invocation id of `unit`, if it has run.
    pub fn invocation_of(&self, unit: &str) -> Option<String> {
        self.units
            .get(unit)
            .map(|e| e.invocation.clone())
            .filter(|i| !i.is_empty())
    }

    /// Queues an event for a unit and processes the queue to the end.
    pub fn feed(&mut self, unit: &str, ev: Event) {
        self.queue.push_back((unit.to_string(), ev));
        self.drain();
    }

    fn drain(&mut self) {
        if self.draining {
            return;
        }
        self.draining = true;
        while let Some((unit, ev)) = self.queue.pop_front() {
            self.step(&unit, ev);
        }
        self.draining = false;
    }

    fn step(&mut self, unit: &str, ev: Event) {
        let now = Instant::now();
        let Some(e) = self.units.get_mut(unit) else {
            return;
        };
        e.refresh_definition();
        let Some(u) = e.def_unit().cloned().filter(|u| def_of(u).is_some()) else {
            // No service definition to run: a job on it must end now, or its
            // transaction (and a shutdown queued behind it) waits forever.
            self.job_without_definition(unit, &ev);
            return;
        };
        let Some(def) = def_of(&u) else { return };
        let before = (e.machine.state, e.machine.main_pid, e.machine.restarts);
        let effects = e.machine.handle(&def, ev, now);
        let mut unbind = false;
        if before != (e.machine.state, e.machine.main_pid, e.machine.restarts) {
            self.snapshot.changed();
            if before.0 != e.machine.state {
                let wall = jiff::Timestamp::now();
                e.since_wall = Some(wall);
                let (was, is) = (before.0.active_state(), e.machine.state.active_state());
                e.stamps.record(was, is, wall);
                record_run(e, before.0, now);
                let state = e.machine.state;
                let (pid, restarts) = (e.machine.main_pid, e.machine.restarts);
                self.events.changed(|| super::events::UnitEvent {
                    unit: unit.to_string(),
                    state: state.active_state(),
                    sub_state: state.as_str(),
                    pid,
                    restarts,
                    time: wall.to_string(),
                });
                if e.machine.state.is_inactive() {
                    exec::remove_runtime_directories(self.site.host(), def.svc);
                    // Not when a restart follows at once (BindsTo= waits for it).
                    unbind = !effects
                        .iter()
                        .any(|fx| matches!(fx, Effect::Requeue(Event::Start { .. })));
                }
            }
        }
        let deadline = e.machine.next_deadline();
        self.deadlines.moved(unit, e.timer_at, deadline);
        e.timer_at = deadline;
        let mut follow = Vec::new();
        for fx in effects {
            self.effect(unit, &u, fx, &mut follow);
        }
        for ev in follow.into_iter().rev() {
            self.queue.push_front((unit.to_string(), ev));
        }
        if unbind {
            self.stop_bound(unit);
        }
    }

    fn effect(
        &mut self,
        unit: &str,
        u: &Rc<daimon_unit::Unit>,
        fx: Effect,
        follow: &mut Vec<Event>,
    ) {
        match fx {
            Effect::NewInvocation => {
                let id = new_invocation_id();
                if let Some(svc) = u.service() {
                    if u.service().is_some_and(|s| {
                        !matches!(
                            s.service_type,
                            daimon_unit::ServiceType::Simple
                                | daimon_unit::ServiceType::Exec
                                | daimon_unit::ServiceType::Oneshot
                                | daimon_unit::ServiceType::Forking
                                | daimon_unit::ServiceType::Notify
                                | daimon_unit::ServiceType::NotifyReload
                        )
                    }) {
                        self.message(
                            unit,
                            4,
                            format!(
                                "{unit}: Type={:?} is not supported yet; running it as Type=simple",
                                svc.service_type
                            ),
                        );
                    }
                    let x = ExecEnv {
                        host: self.site.host(),
                        svc,
                        invocation: &id,
                        main_pid: None,
                        main: false,
                    };
                    if let Err(e) = exec::create_directories(&x, exec::directory_owner(&x)) {
                        self.message(unit, 3, format!("{unit}: {e}"));
                    }
                }
                if let Some(e) = self.units.get_mut(unit) {
                    // An automatic restart is a new invocation: the last run is
                    // the last attempt, timed from its own start, not from the
                    // first attempt of the series (which a start limit ends).
                    if e.last_run.is_some() && !e.machine.state.is_inactive() {
                        e.begin_run(id.clone());
                    }
                    e.invocation = id;
                    e.sessions.clear();
                }
                self.clear_adoption(unit);
            }
            Effect::Spawn { role, phase, index } => self.spawn(unit, u, role, phase, index, follow),
            Effect::Kill {
                scope,
                signal,
                sighup,
            } => {
                if let Some(ev) = self.kill(unit, scope, signal, sighup) {
                    follow.push(ev);
                }
            }
            Effect::SignalMain(sig) => {
                if let Some(h) = self.units.get(unit).and_then(|e| e.main.as_ref()) {
                    let _ = h.signal(sig);
                }
            }
            Effect::JobDone { kind, error } => self.job_done(unit, kind, error),
            Effect::Log { priority, text } => self.message(unit, priority, text),
            Effect::Requeue(ev) => follow.push(ev),
            Effect::FindMainPid { wait_for_exec } => {
                follow.push(Event::MainPid(self.find_main_pid(unit, u, wait_for_exec)));
            }
        }
    }
}

/// 128 random bits as 32 lowercase hex digits (systemd's invocation id format).
fn new_invocation_id() -> String {
    let mut b = [0u8; 16];
    let mut got = 0;
    while got < b.len() {
        // SAFETY: getrandom writes at most the given length into the buffer.
        let n = unsafe { libc::getrandom(b[got..].as_mut_ptr().cast(), b.len() - got, 0) };
        if n > 0 {
            got += n as usize;
        } else if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    if got < b.len() {
        // No entropy source: time and PID still make ids unique on this host.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = (t ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Keeps the unit's run times: leaving Dead/Failed starts a run, entering
/// them ends it (an automatic restart in between is the same run).
///
/// An attempt ends when its unit waits to be restarted: the wait is not part of
/// the attempt's time, and a restart refused by a start limit only changes the
/// result.
fn record_run(e: &mut Entry, before: SubState, now: Instant) {
    let m = &e.machine;
    if before.is_inactive() && !m.state.is_inactive() {
        e.run_started = Some(now);
        let invocation = e.invocation.clone();
        e.begin_run(invocation);
    } else if before != SubState::AutoRestart && m.state == SubState::AutoRestart {
        if let Some(r) = &mut e.last_run {
            r.finish(m);
        }
    } else if !before.is_inactive() && m.state.is_inactive() {
        e.run_stopped = Some(now);
        if let Some(r) = &mut e.last_run {
            if before == SubState::AutoRestart && r.finished.is_some() {
                r.result = Some(m.result.as_str().to_string());
            } else {
                r.finish(m);
            }
        }
    }
}
