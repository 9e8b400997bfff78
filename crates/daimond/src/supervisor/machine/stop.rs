//! Stopping, dying and restarting: systemd's `service_stop`, `service_enter_stop`,
//! `service_enter_signal`, `service_enter_stop_post`, `service_enter_dead` and the
//! timeouts of every state.

use std::time::Instant;

use daimon_unit::KillMode;

use super::{Def, Effect, Event, Fx, JobKind, KillScope, Machine, Phase, SubState, desc, job_ok};
use crate::supervisor::policy::{self, ServiceResult};

impl Machine {
    pub(super) fn on_stop(&mut self, d: &Def<'_>, restart: bool, now: Instant, fx: &mut Fx) {
        use SubState::*;
        if restart {
            self.restart_pending = true;
        } else {
            self.start_pending = false;
            self.restart_pending = false;
        }
        self.forbid_restart = true;
        match self.state {
            Dead | Failed => {
                if restart {
                    self.start(d, true, now, fx);
                } else {
                    fx.push(job_ok(JobKind::Stop));
                }
            }
            AutoRestart => {
                if restart {
                    self.start(d, true, now, fx);
                } else {
                    // systemd's service_stop: only a restart was scheduled and
                    // nothing runs, so the unit goes straight to dead
                    // (inactive, not failed); Result= still says why it ended.
                    self.set_state(Dead, now);
                    fx.push(job_ok(JobKind::Stop));
                    fx.push(Effect::Log {
                        priority: 6,
                        text: format!("Stopped {}.", desc(d)),
                    });
                }
            }
            Condition | StartPre | Start | StartPost | Reload => {
                if !restart {
                    let error = Some(format!("{} start canceled by a stop request", d.name));
                    fx.push(Effect::JobDone {
                        kind: JobKind::Start,
                        error,
                    });
                }
                self.enter_signal(d, StopSigterm, ServiceResult::Success, now, fx);
            }
            Running | Exited => self.enter_stop(d, ServiceResult::Success, now, fx),
            Stop | StopSigterm | StopSigkill | StopPost | FinalSigterm | FinalSigkill => {}
        }
    }

    pub(super) fn on_reload(&mut self, d: &Def<'_>, now: Instant, fx: &mut Fx) {
        match self.state {
            SubState::Running
                if d.svc.service_type == daimon_unit::ServiceType::NotifyReload
                    && self.main_pid.is_some() =>
            {
                self.reload_by_signal(d, now, fx)
            }
            SubState::Running | SubState::Exited if !d.svc.exec_reload.is_empty() => {
                self.run_control(
                    SubState::Reload,
                    Phase::Reload,
                    0,
                    d.timeout_start(),
                    now,
                    fx,
                );
            }
            SubState::Running if self.main_pid.is_some() => {
                fx.push(Effect::SignalMain(libc::SIGHUP));
                fx.push(job_ok(JobKind::Reload));
            }
            SubState::Reload => {}
            _ => fx.push(Effect::JobDone {
                kind: JobKind::Reload,
                error: Some(format!("{} is not active, cannot reload", d.name)),
            }),
        }
    }

    /// systemd's `service_enter_stop`: ExecStop= (with $MAINPID), then the kill.
    pub(super) fn enter_stop(&mut self, d: &Def<'_>, f: ServiceResult, now: Instant, fx: &mut Fx) {
        self.merge(f);
        if d.svc.exec_stop.is_empty() {
            self.enter_signal(d, SubState::StopSigterm, ServiceResult::Success, now, fx);
        } else {
            let t = d.svc.timeout_stop.as_duration();
            self.run_control(SubState::Stop, Phase::Stop, 0, t, now, fx);
        }
    }

    /// systemd's `service_enter_signal` with KillMode= (systemd.kill(5)):
    /// control-group signals every process of the service, mixed sends KillSignal=
    /// to the main process and the final SIGKILL to all, process only the main
    /// process, none nothing. SendSIGHUP= adds SIGHUP after KillSignal=.
    pub(super) fn enter_signal(
        &mut self,
        d: &Def<'_>,
        state: SubState,
        f: ServiceResult,
        now: Instant,
        fx: &mut Fx,
    ) {
        use SubState::*;
        self.merge(f);
        let term = matches!(state, StopSigterm | FinalSigterm);
        let k = d.svc;
        if !term && !k.send_sigkill {
            return self.after_signal(d, state, now, fx);
        }
        let scope = match (k.kill_mode, term) {
            (KillMode::ControlGroup, _) | (KillMode::Mixed, false) => Some(KillScope::All),
            (KillMode::Mixed, true) | (KillMode::Process, _) => Some(KillScope::Main),
            (KillMode::None, _) => None,
        };
        // Nothing can be left: the previous round found no process and nothing ran
        // since (this keeps a crash -> restart free of needless /proc scans).
        let nothing_left = self.main_pid.is_none()
            && self.control_pid.is_none()
            && !self.leftovers
            && state == FinalSigterm
            && !self.stop_post_ran;
        let Some(scope) = scope.filter(|_| !nothing_left) else {
            if k.kill_mode == KillMode::None {
                // The processes are abandoned, as systemd does.
                self.main_pid = None;
                self.control_pid = None;
            }
            return self.after_signal(d, state, now, fx);
        };
        let signal = if term {
            match k.restart_kill_signal {
                Some(s) if self.restart_pending => s,
                _ => k.kill_signal,
            }
        } else {
            k.final_kill_signal
        };
        self.set_state(state, now);
        self.deadline = k.timeout_stop.as_duration().map(|t| now + t);
        self.leftovers = scope == KillScope::All;
        fx.push(Effect::Kill {
            scope,
            signal,
            sighup: term && k.send_sighup,
        });
        if scope == KillScope::Main {
            self.stop_progress(d, now, fx);
        }
    }

    pub(super) fn after_signal(&mut self, d: &Def<'_>, state: SubState, now: Instant, fx: &mut Fx) {
        use SubState::*;
        match state {
            StopSigterm if d.svc.send_sigkill && self.any_left() => {
                self.enter_signal(d, StopSigkill, ServiceResult::Success, now, fx)
            }
            StopSigterm | StopSigkill => self.enter_stop_post(d, now, fx),
            FinalSigterm if d.svc.send_sigkill && self.any_left() => {
                self.enter_signal(d, FinalSigkill, ServiceResult::Success, now, fx)
            }
            _ => {
                let r = self.result;
                self.enter_dead(d, r, now, fx)
            }
        }
    }

    pub(super) fn any_left(&self) -> bool {
        self.main_pid.is_some() || self.control_pid.is_some() || self.leftovers
    }

    /// In a signal state: move on once every process is gone.
    pub(super) fn stop_progress(&mut self, d: &Def<'_>, now: Instant, fx: &mut Fx) {
        use SubState::*;
        if self.any_left() {
            return;
        }
        // systemd's service_enter_signal(): KillMode=mixed sent KillSignal= to the
        // main process only; once it is gone, what remains of the unit gets the
        // SIGKILL (systemd.kill(5)), e.g. workers of a daemon whose master died.
        let mixed = d.svc.kill_mode == KillMode::Mixed && d.svc.send_sigkill;
        match self.state {
            StopSigterm if mixed => {
                self.enter_signal(d, StopSigkill, ServiceResult::Success, now, fx)
            }
            StopSigterm | StopSigkill => self.enter_stop_post(d, now, fx),
            FinalSigterm | FinalSigkill => {
                let r = self.result;
                self.enter_dead(d, r, now, fx)
            }
            _ => {}
        }
    }

    pub(super) fn enter_stop_post(&mut self, d: &Def<'_>, now: Instant, fx: &mut Fx) {
        if d.svc.exec_stop_post.is_empty() {
            self.enter_signal(d, SubState::FinalSigterm, ServiceResult::Success, now, fx);
        } else {
            self.stop_post_ran = true;
            let t = d.svc.timeout_stop.as_duration();
            self.run_control(SubState::StopPost, Phase::StopPost, 0, t, now, fx);
        }
    }

    /// systemd's `service_enter_dead`: inactive or failed, then maybe an automatic
    /// restart after RestartSec= (with RestartSteps= backoff).
    pub(super) fn enter_dead(&mut self, d: &Def<'_>, f: ServiceResult, now: Instant, fx: &mut Fx) {
        self.merge(f);
        self.main_pid = None;
        self.control_pid = None;
        self.control = None;
        self.leftovers = false;
        let failed = !matches!(
            self.result,
            ServiceResult::Success | ServiceResult::Condition
        );
        self.set_state(
            if failed {
                SubState::Failed
            } else {
                SubState::Dead
            },
            now,
        );
        fx.push(job_ok(JobKind::Stop));
        if failed {
            fx.push(Effect::Log {
                priority: 4,
                text: format!("{}: Failed with result '{}'.", d.name, self.result.as_str()),
            });
        }
        if self.restart_pending || self.start_pending {
            // A new step, so that the owner hands it the unit's current definition
            // (settings changed by daemon-reload apply at this start).
            let manual = self.restart_pending;
            fx.push(Effect::Requeue(Event::Start { manual }));
            return;
        }
        let restart =
            !self.forbid_restart && policy::shall_restart(d.svc, self.result, self.main_exit);
        let error = failed.then(|| self.start_error(d));
        fx.push(Effect::JobDone {
            kind: JobKind::Start,
            error,
        });
        if !restart {
            if !failed && self.forbid_restart {
                fx.push(Effect::Log {
                    priority: 6,
                    text: format!("Stopped {}.", desc(d)),
                });
            }
            return;
        }
        let delay = policy::restart_delay(d.svc, self.restarts + 1);
        self.set_state(SubState::AutoRestart, now);
        self.deadline = Some(now + delay);
        if delay.is_zero() {
            // RestartSec=0: restart in this same pass of the owner, no timer hop.
            fx.push(Effect::Requeue(Event::Timer));
        }
    }

    pub(super) fn auto_restart(&mut self, d: &Def<'_>, now: Instant, fx: &mut Fx) {
        self.restarts += 1;
        fx.push(Effect::Log {
            priority: 6,
            text: format!(
                "{}: Scheduled restart job, restart counter is at {}.",
                d.name, self.restarts
            ),
        });
        self.start(d, false, now, fx);
    }

    pub(super) fn on_timer(&mut self, d: &Def<'_>, now: Instant, fx: &mut Fx) {
        use SubState::*;
        match self.deadline {
            Some(t) if t <= now => {}
            _ => return,
        }
        self.deadline = None;
        let timeout = ServiceResult::Timeout;
        let log = |fx: &mut Fx, what: &str| {
            fx.push(Effect::Log {
                priority: 4,
                text: format!("{}: {what}", d.name),
            })
        };
        match self.state {
            AutoRestart => self.auto_restart(d, now, fx),
            Condition | StartPre => {
                log(fx, "start operation timed out. Terminating.");
                self.enter_signal(d, FinalSigterm, timeout, now, fx);
            }
            Start => {
                log(fx, "start operation timed out. Terminating.");
                self.pid_file_timeout_reason(d);
                self.enter_signal(d, StopSigterm, timeout, now, fx);
            }
            StartPost => {
                log(fx, "start-post operation timed out. Stopping.");
                self.enter_stop(d, timeout, now, fx);
            }
            Running => {
                log(fx, "service reached runtime time limit. Stopping.");
                self.enter_stop(d, timeout, now, fx);
            }
            Reload => {
                log(fx, "reload operation timed out. Killing reload process.");
                fx.push(Effect::JobDone {
                    kind: JobKind::Reload,
                    error: Some(format!("{} reload timed out", d.name)),
                });
                self.control = None;
                self.control_pid = None;
                self.enter_running(d, now, fx);
            }
            Stop => {
                log(fx, "stopping timed out. Terminating.");
                self.enter_signal(d, StopSigterm, timeout, now, fx);
            }
            StopSigterm => {
                if d.svc.send_sigkill {
                    log(fx, "State 'stop-sigterm' timed out. Killing.");
                    self.enter_signal(d, StopSigkill, timeout, now, fx);
                } else {
                    log(fx, "State 'stop-sigterm' timed out. Skipping SIGKILL.");
                    self.merge(timeout);
                    self.forget_processes();
                    self.enter_stop_post(d, now, fx);
                }
            }
            StopSigkill => {
                log(fx, "Processes still around after SIGKILL. Ignoring.");
                self.merge(timeout);
                self.forget_processes();
                self.enter_stop_post(d, now, fx);
            }
            StopPost => {
                log(fx, "State 'stop-post' timed out. Terminating.");
                self.enter_signal(d, FinalSigterm, timeout, now, fx);
            }
            FinalSigterm if d.svc.send_sigkill => {
                log(fx, "State 'final-sigterm' timed out. Killing.");
                self.enter_signal(d, FinalSigkill, timeout, now, fx);
            }
            FinalSigterm | FinalSigkill => {
                log(
                    fx,
                    "Processes still around after final SIGKILL. Entering failed mode.",
                );
                self.forget_processes();
                self.enter_dead(d, timeout, now, fx);
            }
            Dead | Failed | Exited => {}
        }
    }

    pub(super) fn forget_processes(&mut self) {
        self.main_pid = None;
        self.control_pid = None;
        self.control = None;
        self.leftovers = false;
    }
}
