//! The owner task: the one place that holds and changes unit state.
//!
//! Owns the event loop (client commands, SIGCHLD, exec-status pipes, one timer for
//! the nearest deadline), feeding events to each unit's [`Machine`] and executing
//! the effects it returns: spawn, signal (pidfds), kill process trees, reply to
//! jobs, log. A main process killed with RestartSec=0 is reaped, decided on and
//! re-spawned within one pass of this loop, with no extra hop. Processes adopted
//! after a daimond restart are not our children; pidfds report their end ([`Watched`]).

mod adopt;
mod deadlines;
mod exec_outcome;
mod log;
mod main_pid;
mod persistence;
mod requests;
mod requests_lists;
mod requests_remove;
mod requests_show;
mod requests_verbs;
mod save;
mod shutdown;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::rc::Rc;
use std::time::Instant;

use daimon_proto::Paths;
use daimon_unit::SpecifierContext;
use tokio::sync::mpsc;

use super::exec::{self, ExecEnv, Host};
use super::jobs::Txn;
use super::machine::{Effect, Event, KillScope, Phase, Role, SubState};
use super::registry::{Entry, def_of};
use super::timer::TimerRun;
use super::timer::schedule::{Clock, SystemClock};
use super::watched::{PendingExec, Watched};
use crate::exit_status::ExitStatus;
use crate::log_writer::{LogSender, StreamKind};
use crate::process::fdstore::{FdStore, PipeMeta, SharedStore};
use crate::process::logpipe::{PipeOrigin, spawn_reader};
use crate::process::signal::{ProcHandle, signal_verified};
use crate::process::spawn::spawn;
use crate::process::{reaper, tree};

pub struct Owner {
    pub paths: Paths,
    /// The way to the log writer ([`log::Logs`]).
    logs: log::Logs,
    pub spec: SpecifierContext,
    pub host: Host,
    pub units: BTreeMap<String, Entry>,
    pub enabled: BTreeSet<String>,
    /// Main and control PIDs -> (unit, role).
    pub(super) pids: HashMap<u32, (String, Role)>,
    /// What a restarted daimond needs to re-adopt the services
    /// ([`persistence::Snapshot`]).
    snapshot: persistence::Snapshot,
    /// Children whose exec outcome is still to come.
    pub(super) pending_exec: HashMap<u32, PendingExec>,
    /// Each unit's nearest machine deadline ([`deadlines::Deadlines`]).
    deadlines: deadlines::Deadlines,
    /// Units with signalled leftovers to watch.
    pub(super) leftover_units: BTreeSet<String>,
    queue: VecDeque<(String, Event)>,
    draining: bool,
    pub txns: BTreeMap<u64, Txn>,
    pub next_txn: u64,
    pub(super) next_source: u64,
    pub shutting_down: bool,
    /// Units `remove` deleted while they ran: forgotten once stopped.
    pub(super) removed: BTreeSet<String>,
    /// Keeps pipe read ends across a daimond killed with SIGKILL.
    pub fdstore: SharedStore,
    /// Ends of processes that are not our children (adopted ones).
    pub watch_tx: Option<mpsc::UnboundedSender<Watched>>,
    /// The sd_notify(3) socket services get as `NOTIFY_SOCKET` (a path or an
    /// abstract `@name`, see `notify`).
    pub notify_socket: Option<String>,
    /// Cgroups of units with resource limits.
    pub(super) cgroups: super::cgroups::Cgroups,
    /// Services restarted on file changes (`--watch`), with their watches.
    pub watches: super::watch::Watches,
    /// Started path units, with their inotify watches.
    pub path_units: super::path::PathUnits,
    /// Socket units not dead, with their descriptors.
    pub sockets: super::socket::Sockets,
    /// Why there is no notification socket, when binding it failed.
    pub notify_failure: Option<String>,
    /// `DAIMON_SYSLOG_SOCKET` for services (see `crate::syslog`).
    pub syslog_socket: Option<String>,
    /// Started timer units.
    pub timer_runs: BTreeMap<String, TimerRun>,
    /// The set of started timers changed and is to be saved.
    pub timers_changed: bool,
    /// Where timers take the time from (tests may inject another clock).
    pub clock: Box<dyn Clock>,
    /// When this daimond started (OnBootSec=, OnStartupSec=).
    pub daemon_start: Instant,
    /// Process trees `status` read lately, and the /proc files it keeps open.
    pub(super) usage: crate::process::usage_cache::UsageCache,
    /// State changes for live viewers (`events`).
    pub events: super::events::Events,
}

impl Owner {
    pub fn new(paths: Paths, log: LogSender, nofile: crate::fd_limits::OriginalNofile) -> Owner {
        let spec = SpecifierContext::from_env(paths.system_mode);
        let host = Host::detect(&paths, nofile);
        Owner {
            paths,
            logs: log::Logs::new(log),
            spec,
            host,
            units: BTreeMap::new(),
            enabled: BTreeSet::new(),
            pids: HashMap::new(),
            pending_exec: HashMap::new(),
            snapshot: Default::default(),
            deadlines: Default::default(),
            leftover_units: BTreeSet::new(),
            queue: VecDeque::new(),
            draining: false,
            txns: BTreeMap::new(),
            next_txn: 1,
            next_source: 1,
            shutting_down: false,
            removed: BTreeSet::new(),
            fdstore: Rc::new(RefCell::new(FdStore::disabled())),
            watch_tx: None,
            notify_socket: None,
            sockets: Default::default(),
            path_units: Default::default(),
            watches: Default::default(),
            cgroups: Default::default(),
            notify_failure: None,
            syslog_socket: None,
            timer_runs: BTreeMap::new(),
            timers_changed: false,
            clock: Box::new(SystemClock),
            daemon_start: Instant::now(),
            usage: Default::default(),
            events: Default::default(),
        }
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
                    exec::remove_runtime_directories(&self.host, def.svc);
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
                        host: &self.host,
                        svc,
                        invocation: &id,
                        main_pid: None,
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

    /// Runs command `index` of `phase`; answers with the events the machine
    /// expects: `Spawned` then `ExecOk`/`ExecFailed`, or `SpawnFailed`.
    fn spawn(
        &mut self,
        unit: &str,
        u: &Rc<daimon_unit::Unit>,
        role: Role,
        phase: Phase,
        index: usize,
        follow: &mut Vec<Event>,
    ) {
        let failed = |error: String| Event::SpawnFailed { role, error };
        let Some(svc) = u.service() else {
            return follow.push(failed("not a service".into()));
        };
        let Some(cmd) = phase.commands(svc).get(index) else {
            return follow.push(failed(format!(
                "{} #{index} does not exist",
                phase.directive()
            )));
        };
        let Some(e) = self.units.get(unit) else {
            return follow.push(failed("unit vanished".into()));
        };
        let main_pid = if role == Role::Control {
            e.machine.main_pid
        } else {
            None
        };
        let invocation = e.invocation.clone();
        let x = ExecEnv {
            host: &self.host,
            svc,
            invocation: &invocation,
            main_pid,
        };
        let mut prepared = match exec::prepare(&x, cmd) {
            Ok(p) => p,
            Err(error) => return follow.push(failed(error)),
        };
        if let Err(why) = self.notify_env(svc, role, &mut prepared.spec) {
            return follow.push(failed(why));
        }
        crate::syslog::add_env(self, &mut prepared.spec);
        self.socket_env(unit, svc, role, &mut prepared.spec);
        self.cgroup_join(unit, svc, role, &mut prepared.spec);
        let child = match spawn(prepared.spec) {
            Ok(c) => c,
            Err(err) => {
                return follow.push(failed(format!("cannot start {}: {err}", prepared.program)));
            }
        };
        let pid = child.pid;
        // Known from the clock almost always; else from /proc, which waits
        // for the child's execve() to finish.
        let start_time = child
            .start_time
            .or_else(|| tree::stat(pid).map(|s| s.start_time));
        if let Some(e) = self.units.get_mut(unit) {
            match role {
                Role::Main => {
                    e.main = Some(ProcHandle::new(pid));
                    e.main_start_time = start_time;
                    e.sessions.push(pid);
                }
                Role::Control => e.control = Some(ProcHandle::new(pid)),
            }
        }
        self.pids.insert(pid, (unit.to_string(), role));
        for (fd, stream) in [
            (child.stdout, StreamKind::Stdout),
            (child.stderr, StreamKind::Stderr),
        ] {
            if let Some(fd) = fd {
                let source = self.next_source;
                self.next_source += 1;
                let origin = PipeOrigin {
                    source,
                    meta: PipeMeta {
                        unit: unit.to_string(),
                        invocation: invocation.clone(),
                        pid,
                        stream,
                        level_prefix: svc.syslog_level_prefix,
                        identifier: svc.syslog_identifier.clone(),
                        main: (role == Role::Main).then_some(start_time).flatten(),
                    },
                };
                spawn_reader(fd, origin, self.logs.sender(), &self.fdstore);
            }
        }
        follow.push(Event::Spawned { role, pid });
        follow.extend(self.exec_outcome(pid, child.exec, prepared.program, prepared.workdir));
    }

    /// SIGCHLD: reap everything that exited.
    pub fn reap(&mut self) {
        let mut exits: Vec<(u32, ExitStatus)> = Vec::new();
        reaper::reap_all(|pid, st| exits.push((pid, st)));
        let mut orphan_died = false;
        for (pid, status) in exits {
            // The exec outcome first, as the machine expects it before the exit.
            self.settle_exec_of_reaped(pid);
            let Some((unit, role)) = self.pids.remove(&pid) else {
                orphan_died = true;
                continue;
            };
            if let Some(e) = self.units.get_mut(&unit) {
                match role {
                    Role::Main => {
                        e.main = None;
                        e.main_start_time = None;
                    }
                    Role::Control => e.control = None,
                }
            }
            let oom = role == Role::Main && self.oom_killed(&unit);
            self.feed(&unit, Event::Exited { pid, status });
            if oom {
                self.mark_oom(&unit);
            }
            if self.leftover_units.contains(&unit) {
                self.recheck_leftovers(&unit);
            }
        }
        if orphan_died {
            let units: Vec<String> = self.leftover_units.iter().cloned().collect();
            for u in units {
                self.recheck_leftovers(&u);
            }
        }
    }

    /// Whether `pid` is no candidate for a process escaped from a service:
    /// some unit's main or control process, or daimond's own fd store.
    pub fn is_accounted_for(&self, pid: u32) -> bool {
        self.pids.contains_key(&pid) || self.fdstore.borrow().pid() == Some(pid)
    }

    /// The daemon's children that are no service's main/control process and
    /// not its own helper: processes that may have escaped from a service.
    pub(super) fn orphan_candidates(&self) -> Vec<u32> {
        tree::orphans(|p| self.is_accounted_for(p))
    }

    /// Executes a kill (systemd.kill(5)); for scope `All` returns whether other
    /// processes than main/control remain, as the machine asked.
    fn kill(&mut self, unit: &str, scope: KillScope, signal: i32, sighup: bool) -> Option<Event> {
        let orphans = if scope == KillScope::All {
            self.escape_candidates(unit)
        } else {
            Vec::new()
        };
        let e = self.units.get_mut(unit)?;
        e.last_signal = Some(signal);
        // Then SIGHUP (SendSIGHUP=) and SIGCONT, so stopped processes see it
        // (systemd.kill(5)).
        let mut sigs = vec![signal];
        if sighup {
            sigs.push(libc::SIGHUP);
        }
        if signal != libc::SIGKILL && signal != libc::SIGCONT {
            sigs.push(libc::SIGCONT);
        }
        let mut roots = Vec::new();
        for h in [e.main.as_ref(), e.control.as_ref()].into_iter().flatten() {
            for &sig in &sigs {
                let _ = h.signal(sig);
            }
            roots.push(h.pid);
        }
        if scope == KillScope::Main {
            return None;
        }
        let others: Vec<(u32, u64)> =
            tree::service_tree(&roots, &e.invocation, &orphans, &e.sessions)
                .into_iter()
                .filter(|(p, _)| !roots.contains(p))
                .map(|(p, st)| (p, st.start_time))
                .collect();
        for &(p, t) in &others {
            for &sig in &sigs {
                let _ = signal_verified(p, t, sig);
            }
        }
        let any = !others.is_empty();
        e.members = others;
        if any {
            self.leftover_units.insert(unit.to_string());
        } else {
            self.leftover_units.remove(unit);
        }
        self.watch_members(unit);
        Some(Event::Leftovers(any))
    }

    /// A process died: are the leftovers of `unit` gone now? New processes forked
    /// meanwhile are found and signalled too.
    pub(super) fn recheck_leftovers(&mut self, unit: &str) {
        let orphans = self.escape_candidates(unit);
        let Some(e) = self.units.get_mut(unit) else {
            return;
        };
        e.members.retain(|(p, t)| {
            tree::stat(*p).is_some_and(|s| s.start_time == *t && s.state != 'Z' && s.state != 'X')
        });
        if !e.members.is_empty() {
            return;
        }
        let roots: Vec<u32> = [e.main.as_ref(), e.control.as_ref()]
            .into_iter()
            .flatten()
            .map(|h| h.pid)
            .collect();
        let rest: Vec<(u32, u64)> =
            tree::service_tree(&roots, &e.invocation, &orphans, &e.sessions)
                .into_iter()
                .filter(|(p, _)| !roots.contains(p))
                .map(|(p, st)| (p, st.start_time))
                .collect();
        if rest.is_empty() {
            self.leftover_units.remove(unit);
            self.feed(unit, Event::Leftovers(false));
        } else {
            if let Some(sig) = e.last_signal {
                for &(p, t) in &rest {
                    let _ = signal_verified(p, t, sig);
                }
            }
            e.members = rest;
            self.watch_members(unit);
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
