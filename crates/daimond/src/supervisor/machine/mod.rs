//! One service's lifecycle as a pure function: `(state, event, now) -> (new state,
//! effects)`.
//!
//! Owns the states of systemd's service.c (`SERVICE_DEAD`, `SERVICE_START_PRE`, ...)
//! and every transition between them. It never touches a process, a clock or a
//! file: the owner task feeds it [`Event`]s with the current time and executes the
//! returned [`Effect`]s (spawn, signal, reply to jobs, log), then arms one timer at
//! [`Machine::deadline`]. Tests drive it with a fake clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use daimon_unit::ServiceType;

use crate::exit_status::ExitStatus;
use crate::supervisor::policy::{self, ServiceResult};
mod adopt;
mod forking;
mod notify;
mod reset;
mod stop;
mod types;

pub use notify::{Notify, NotifyRun, monotonic_usec, parse as parse_notify};
pub use types::*;

/// One service's state. Fields are read by `status`; only [`Machine::handle`] changes them.
#[derive(Debug, Clone)]
pub struct Machine {
    pub state: SubState,
    pub result: ServiceResult,
    pub main_pid: Option<u32>,
    pub control_pid: Option<u32>,
    /// The running control command.
    control: Option<(Phase, usize)>,
    /// Index of the running ExecStart= command (oneshot runs them in turn).
    main_index: usize,
    exec_confirmed: bool,
    leftovers: bool,
    /// Whether ExecStopPost= ran in this stop (it may leave processes behind).
    stop_post_ran: bool,
    pub deadline: Option<Instant>,
    /// Automatic restarts since the last start by a user.
    pub restarts: u32,
    starts: VecDeque<Instant>,
    /// A user stop: no automatic restart.
    forbid_restart: bool,
    /// A user restart: start again once stopped.
    restart_pending: bool,
    /// A start request arrived while stopping.
    start_pending: bool,
    pub last_exit: Option<ExitStatus>,
    /// How the last main process of this run ended (RestartPreventExitStatus=).
    main_exit: Option<ExitStatus>,
    pub reason: Option<String>,
    exec_error: Option<String>,
    pub since: Option<Instant>,
    /// What sd_notify(3) messages and the watchdog left in this run.
    pub notify: NotifyRun,
    /// Type=forking: the PID file is awaited (see [`MainPidLookup::NotYet`]).
    pid_file_wait: Option<forking::PidFileWait>,
}

impl Default for Machine {
    fn default() -> Self {
        Machine::new()
    }
}

type Fx = Vec<Effect>;

impl Machine {
    pub fn new() -> Machine {
        Machine {
            state: SubState::Dead,
            result: ServiceResult::Success,
            main_pid: None,
            control_pid: None,
            control: None,
            main_index: 0,
            exec_confirmed: false,
            leftovers: false,
            stop_post_ran: false,
            deadline: None,
            restarts: 0,
            starts: VecDeque::new(),
            forbid_restart: false,
            restart_pending: false,
            start_pending: false,
            last_exit: None,
            main_exit: None,
            reason: None,
            exec_error: None,
            since: None,
            notify: NotifyRun::default(),
            pid_file_wait: None,
        }
    }

    /// Applies one event; returns what the owner must do, in order.
    pub fn handle(&mut self, d: &Def<'_>, ev: Event, now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        match ev {
            Event::Start { manual } => self.on_start(d, manual, now, &mut fx),
            Event::Stop => self.on_stop(d, false, now, &mut fx),
            Event::Restart => self.on_stop(d, true, now, &mut fx),
            Event::Reload => self.on_reload(d, now, &mut fx),
            Event::Spawned { role, pid } => self.on_spawned(d, role, pid, now, &mut fx),
            Event::SpawnFailed { role, error } => {
                fx.push(Effect::Log {
                    priority: 3,
                    text: format!("{}: {error}", d.name),
                });
                self.exec_error = Some(error);
                self.step_failed(d, role, ServiceResult::Resources, now, &mut fx);
            }
            Event::ExecOk { pid } => {
                if self.main_pid == Some(pid) {
                    self.exec_confirmed = true;
                    if self.state == SubState::Start && d.ty() == ServiceType::Exec {
                        self.enter_start_post(d, now, &mut fx);
                    } else {
                        self.maybe_started(&mut fx);
                    }
                }
            }
            Event::ExecFailed { pid, message } => {
                if self.main_pid == Some(pid) || self.control_pid == Some(pid) {
                    fx.push(Effect::Log {
                        priority: 3,
                        text: format!("{}: {message}", d.name),
                    });
                    self.exec_error = Some(message);
                }
            }
            Event::Exited { pid, status } => {
                if self.main_pid == Some(pid) {
                    self.on_main_exit(d, status, now, &mut fx);
                } else if self.control_pid == Some(pid) {
                    self.on_control_exit(d, status, now, &mut fx);
                }
            }
            Event::Leftovers(any) => {
                self.leftovers = any;
                self.stop_progress(d, now, &mut fx);
            }
            Event::Timer if self.pid_file_retry_due(now) => {
                let wait_for_exec = self.begin_main_pid_retry(now);
                fx.push(Effect::FindMainPid { wait_for_exec });
            }
            Event::Timer if self.watchdog_due(now) => self.on_watchdog_timer(d, now, &mut fx),
            Event::Timer => self.on_timer(d, now, &mut fx),
            Event::Notify(n) => self.on_notify(d, n, now, &mut fx),
            Event::Adopt { pid, restarts } => self.on_adopt(d, pid, restarts, now, &mut fx),
            Event::ResetFailed => self.reset_failed(now),
            Event::MainPid(found) => {
                if self.state != SubState::Start {
                    return fx;
                }
                match found {
                    MainPidLookup::Found(pid) => {
                        self.pid_file_wait = None;
                        self.main_pid = Some(pid);
                        self.exec_confirmed = true;
                        self.enter_start_post(d, now, &mut fx);
                    }
                    MainPidLookup::NotYet(why) => self.wait_for_pid_file(d, why, now, &mut fx),
                    MainPidLookup::Refused(why) => self.refuse_main_pid(d, why, now, &mut fx),
                }
            }
        }
        fx
    }

    pub(super) fn set_state(&mut self, s: SubState, now: Instant) {
        if self.state != s {
            self.since = Some(now);
            self.pid_file_wait = None;
        }
        self.state = s;
        self.deadline = None;
        self.watchdog_state(s);
    }

    pub(super) fn merge(&mut self, r: ServiceResult) {
        // systemd keeps the first failure of a run.
        if self.result == ServiceResult::Success {
            self.result = r;
        }
    }

    pub(super) fn start_error(&self, d: &Def<'_>) -> String {
        let why = if let Some(e) = &self.exec_error {
            e.clone()
        } else if let Some(r) = &self.reason {
            r.clone()
        } else if let Some(st) = self.last_exit {
            format!("main process {st}; see: daimon logs {}", d.short())
        } else {
            format!("result {}", self.result.as_str())
        };
        format!("{} failed to start: {why}", d.name)
    }

    // ----- start -----

    pub(super) fn on_start(&mut self, d: &Def<'_>, manual: bool, now: Instant, fx: &mut Fx) {
        use SubState::*;
        match self.state {
            Dead | Failed | AutoRestart => self.start(d, manual, now, fx),
            Running | Exited | Reload => fx.push(job_ok(JobKind::Start)),
            Condition | StartPre | Start | StartPost => {}
            Stop | StopSigterm | StopSigkill | StopPost | FinalSigterm | FinalSigkill => {
                self.start_pending = true;
            }
        }
    }

    pub(super) fn start(&mut self, d: &Def<'_>, manual: bool, now: Instant, fx: &mut Fx) {
        if manual {
            self.starts.clear();
            self.restarts = 0;
        }
        self.reason = None;
        // Start rate limit (systemd.unit(5) StartLimitIntervalSec=/StartLimitBurst=):
        // more than `burst` starts within `interval` fail the unit.
        let interval = d.unit.start_limit_interval;
        let burst = d.unit.start_limit_burst as usize;
        if !interval.is_zero() && burst > 0 {
            while self
                .starts
                .front()
                .is_some_and(|t| now.duration_since(*t) >= interval)
            {
                self.starts.pop_front();
            }
            if self.starts.len() >= burst {
                let why = format!(
                    "restarted too quickly ({burst} times in {}); fix it and run: daimon start {}",
                    policy::format_span(interval),
                    d.short()
                );
                fx.push(Effect::Log {
                    priority: 3,
                    text: format!("{}: start request repeated too quickly: {why}", d.name),
                });
                self.set_state(SubState::Failed, now);
                self.result = ServiceResult::StartLimitHit;
                self.reason = Some(why);
                fx.push(Effect::JobDone {
                    kind: JobKind::Start,
                    error: Some(self.start_error(d)),
                });
                return;
            }
            self.starts.push_back(now);
        }
        self.result = ServiceResult::Success;
        self.main_index = 0;
        self.exec_confirmed = false;
        self.exec_error = None;
        self.forbid_restart = false;
        self.restart_pending = false;
        self.start_pending = false;
        self.leftovers = false;
        self.stop_post_ran = false;
        self.main_exit = None;
        self.notify = NotifyRun::default();
        fx.push(Effect::NewInvocation);
        if d.svc.exec_condition.is_empty() {
            self.enter_start_pre(d, now, fx);
        } else {
            self.run_control(
                SubState::Condition,
                Phase::Condition,
                0,
                d.timeout_start(),
                now,
                fx,
            );
        }
    }

    pub(super) fn run_control(
        &mut self,
        state: SubState,
        phase: Phase,
        index: usize,
        timeout: Option<Duration>,
        now: Instant,
        fx: &mut Fx,
    ) {
        self.set_state(state, now);
        self.deadline = timeout.map(|t| now + t);
        self.control = Some((phase, index));
        fx.push(Effect::Spawn {
            role: Role::Control,
            phase,
            index,
        });
    }

    pub(super) fn enter_start_pre(&mut self, d: &Def<'_>, now: Instant, fx: &mut Fx) {
        if d.svc.exec_start_pre.is_empty() {
            self.enter_start(d, now, fx);
        } else {
            self.run_control(
                SubState::StartPre,
                Phase::StartPre,
                0,
                d.timeout_start(),
                now,
                fx,
            );
        }
    }

    pub(super) fn enter_start(&mut self, d: &Def<'_>, now: Instant, fx: &mut Fx) {
        if d.svc.exec_start.len() <= self.main_index {
            // Only oneshot units may have no ExecStart= (the parser enforces it).
            self.enter_start_post(d, now, fx);
            return;
        }
        self.set_state(SubState::Start, now);
        self.deadline = d.timeout_start().map(|t| now + t);
        fx.push(Effect::Spawn {
            role: Role::Main,
            phase: Phase::Start,
            index: self.main_index,
        });
    }

    pub(super) fn on_spawned(
        &mut self,
        d: &Def<'_>,
        role: Role,
        pid: u32,
        now: Instant,
        fx: &mut Fx,
    ) {
        match role {
            Role::Control => self.control_pid = Some(pid),
            Role::Main => {
                self.main_pid = Some(pid);
                self.exec_confirmed = false;
                // Type=simple is started as soon as the fork succeeded.
                if d.ty() == ServiceType::Simple && self.state == SubState::Start {
                    self.enter_start_post(d, now, fx);
                }
            }
        }
    }

    pub(super) fn enter_start_post(&mut self, d: &Def<'_>, now: Instant, fx: &mut Fx) {
        self.arm_watchdog(d, now);
        if d.svc.exec_start_post.is_empty() {
            self.enter_running(d, now, fx);
        } else {
            self.run_control(
                SubState::StartPost,
                Phase::StartPost,
                0,
                d.timeout_start(),
                now,
                fx,
            );
        }
    }

    /// systemd's `service_enter_running`: active while the main process lives (or
    /// RemainAfterExit=), else the stop sequence with the run's result.
    pub(super) fn enter_running(&mut self, d: &Def<'_>, now: Instant, fx: &mut Fx) {
        if self.result != ServiceResult::Success {
            self.enter_stop(d, ServiceResult::Success, now, fx);
        } else if self.main_pid.is_some() {
            let was = self.state;
            self.set_state(SubState::Running, now);
            self.deadline = d.svc.runtime_max.as_duration().map(|t| now + t);
            if was != SubState::Reload {
                fx.push(Effect::Log {
                    priority: 6,
                    text: format!("Started {}.", desc(d)),
                });
            }
            self.maybe_started(fx);
        } else if d.svc.remain_after_exit {
            self.set_state(SubState::Exited, now);
            fx.push(Effect::Log {
                priority: 6,
                text: format!("Finished {}.", desc(d)),
            });
            self.maybe_started(fx);
        } else {
            self.enter_stop(d, ServiceResult::Success, now, fx);
        }
    }

    /// A start job is done once active and, with a main process, once its `execve`
    /// succeeded.
    pub(super) fn maybe_started(&mut self, fx: &mut Fx) {
        let active = matches!(self.state, SubState::Running | SubState::Exited);
        if active && (self.main_pid.is_none() || self.exec_confirmed) {
            fx.push(job_ok(JobKind::Start));
        }
    }

    // ----- process exits -----

    pub(super) fn on_main_exit(&mut self, d: &Def<'_>, st: ExitStatus, now: Instant, fx: &mut Fx) {
        self.main_pid = None;
        self.last_exit = Some(st);
        self.main_exit = Some(st);
        let ignore = d
            .svc
            .exec_start
            .get(self.main_index)
            .is_some_and(|c| c.ignore_failure);
        let oneshot = d.ty() == ServiceType::Oneshot;
        // An adopted process whose end we asked for (its status is unknown):
        // clean, as its KillSignal= would be.
        let asked = st == ExitStatus::Unknown
            && self.state.active_state() == daimon_proto::ActiveState::Deactivating;
        let clean = ignore
            || asked
            || policy::is_clean_exit(st, !oneshot, Some(&d.svc.success_exit_status));
        let f = policy::result_of(st, clean);
        // systemd logs a clean end of the main process at debug level, which its
        // journal does not keep: a service that ends on the KillSignal= of a stop
        // it was asked for has stopped as it should, and "Stopped ..." says so.
        let stopping = self.state.active_state() == daimon_proto::ActiveState::Deactivating;
        if !(clean && stopping) {
            fx.push(Effect::Log {
                priority: if clean { 6 } else { 4 },
                text: format!("{}: Main process {st}", d.name),
            });
        }
        use SubState::*;
        match self.state {
            Start if oneshot => {
                if f == ServiceResult::Success {
                    self.main_index += 1;
                    if self.main_index < d.svc.exec_start.len() {
                        self.enter_start(d, now, fx);
                    } else {
                        self.enter_start_post(d, now, fx);
                    }
                } else {
                    self.enter_signal(d, StopSigterm, f, now, fx);
                }
            }
            // systemd.service(5) Type=forking: the start is done when the first
            // process exited successfully, leaving the daemon behind.
            Start if d.ty() == ServiceType::Forking && f == ServiceResult::Success => {
                fx.push(Effect::FindMainPid {
                    wait_for_exec: true,
                });
            }
            Start if d.is_notify() && f == ServiceResult::Success => {
                self.notify_exit_before_ready(d, now, fx)
            }
            Reload if d.is_notify() && self.control.is_none() => {
                self.merge(f);
                self.notify_reload_main_exit(d, now, fx);
            }
            Start => {
                self.merge(f);
                if f == ServiceResult::Success {
                    self.enter_running(d, now, fx);
                } else {
                    self.enter_signal(d, StopSigterm, f, now, fx);
                }
            }
            Running => {
                self.merge(f);
                self.enter_running(d, now, fx);
            }
            StartPost | Reload | Stop | Condition | StartPre => self.merge(f),
            StopSigterm | StopSigkill | StopPost | FinalSigterm | FinalSigkill => {
                self.merge(f);
                self.stop_progress(d, now, fx);
            }
            Exited | Dead | Failed | AutoRestart => {}
        }
    }

    pub(super) fn on_control_exit(
        &mut self,
        d: &Def<'_>,
        st: ExitStatus,
        now: Instant,
        fx: &mut Fx,
    ) {
        self.control_pid = None;
        let Some((phase, index)) = self.control.take() else {
            return;
        };
        let cmd = phase.commands(d.svc).get(index);
        let ignore = cmd.is_some_and(|c| c.ignore_failure);
        // Control commands are clean only with status 0 (EXIT_CLEAN_COMMAND).
        let f = policy::result_of(st, ignore || policy::is_clean_exit(st, false, None));
        if f != ServiceResult::Success {
            fx.push(Effect::Log {
                priority: 4,
                text: format!("{}: Control process ({}) {st}", d.name, phase.directive()),
            });
        }
        if f == ServiceResult::Success && index + 1 < phase.commands(d.svc).len() {
            let timeout = match phase {
                Phase::Stop | Phase::StopPost => d.svc.timeout_stop.as_duration(),
                _ => d.timeout_start(),
            };
            let state = self.state;
            self.run_control(state, phase, index + 1, timeout, now, fx);
            return;
        }
        match phase {
            Phase::Condition => match st {
                // systemd.service(5) ExecCondition=: 1..254 skips the unit quietly,
                // 255 or a signal is a failure.
                ExitStatus::Exited(c) if (1..255).contains(&c) && !ignore => {
                    self.result = ServiceResult::Condition;
                    fx.push(Effect::Log {
                        priority: 6,
                        text: format!("{}: skipped, unmet condition check", d.name),
                    });
                    self.forbid_restart = true;
                    self.enter_dead(d, ServiceResult::Condition, now, fx);
                }
                _ if f == ServiceResult::Success => self.enter_start_pre(d, now, fx),
                _ => self.enter_signal(d, SubState::FinalSigterm, f, now, fx),
            },
            Phase::StartPre if f == ServiceResult::Success => self.enter_start(d, now, fx),
            Phase::StartPre => self.enter_signal(d, SubState::FinalSigterm, f, now, fx),
            Phase::StartPost if f == ServiceResult::Success => self.enter_running(d, now, fx),
            Phase::StartPost => self.enter_stop(d, f, now, fx),
            Phase::Start => {}
            Phase::Reload => {
                let error = (f != ServiceResult::Success)
                    .then(|| format!("{} reload failed: ExecReload= {st}", d.name));
                fx.push(Effect::JobDone {
                    kind: JobKind::Reload,
                    error,
                });
                self.enter_running(d, now, fx);
            }
            Phase::Stop => self.enter_signal(d, SubState::StopSigterm, f, now, fx),
            Phase::StopPost => self.enter_signal(d, SubState::FinalSigterm, f, now, fx),
        }
    }

    /// A spawn that failed counts as that step failing.
    pub(super) fn step_failed(
        &mut self,
        d: &Def<'_>,
        role: Role,
        f: ServiceResult,
        now: Instant,
        fx: &mut Fx,
    ) {
        use SubState::*;
        match role {
            Role::Main => match self.state {
                Start => self.enter_signal(d, StopSigterm, f, now, fx),
                _ => self.merge(f),
            },
            Role::Control => {
                let phase = self.control.take().map(|(p, _)| p);
                match phase {
                    Some(Phase::Condition | Phase::StartPre) => {
                        self.enter_signal(d, FinalSigterm, f, now, fx)
                    }
                    Some(Phase::StartPost) => self.enter_stop(d, f, now, fx),
                    Some(Phase::Reload) => {
                        let error = Some(format!("{} reload failed: {}", d.name, f.as_str()));
                        fx.push(Effect::JobDone {
                            kind: JobKind::Reload,
                            error,
                        });
                        self.enter_running(d, now, fx);
                    }
                    Some(Phase::Stop) => self.enter_signal(d, StopSigterm, f, now, fx),
                    Some(Phase::StopPost) => self.enter_signal(d, FinalSigterm, f, now, fx),
                    Some(Phase::Start) | None => self.merge(f),
                }
            }
        }
    }
}

fn job_ok(kind: JobKind) -> Effect {
    Effect::JobDone { kind, error: None }
}

fn desc(d: &Def<'_>) -> String {
    d.unit
        .description
        .clone()
        .unwrap_or_else(|| d.name.to_string())
}

#[cfg(test)]
mod notify_props;
#[cfg(test)]
mod tests;
