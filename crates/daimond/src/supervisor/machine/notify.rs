//! Readiness and watchdog: what a service tells its manager over the
//! notification socket (sd_notify(3)) and what `WatchdogSec=` demands.
//!
//! Owns the notification protocol's vocabulary ([`Notify`], parsed from one
//! datagram by [`parse`]), the per-run facts it leaves behind ([`NotifyRun`]:
//! `STATUS=`, `ERRNO=`, readiness, the notify-reload handshake, the watchdog
//! deadline) and the transitions it causes, after systemd's
//! `service_notify_message()`: `READY=1` ends the start of `Type=notify` units
//! (and a reload), `RELOADING=1` enters reloading, `STOPPING=1` deactivating,
//! `EXTEND_TIMEOUT_USEC=` pushes the current timeout out, and the watchdog's
//! keep-alives (`WATCHDOG=1`) or their absence (result `watchdog`, then
//! `WatchdogSignal=`). Which sender may speak is decided by the owner
//! (`NotifyAccess=`) before an event reaches here.

use std::time::{Duration, Instant};

use daimon_unit::{KillMode, NotifyAccess, ServiceType};

use super::{Def, Effect, Fx, JobKind, KillScope, Machine, SubState, job_ok};
use crate::supervisor::policy::{self, ServiceResult};

/// One notification datagram, as far as the manager acts on it (sd_notify(3)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notify {
    /// `READY=1`.
    pub ready: bool,
    /// `RELOADING=1`.
    pub reloading: bool,
    /// `STOPPING=1`.
    pub stopping: bool,
    /// `STATUS=...` (free text, shown by `status`).
    pub status: Option<String>,
    /// `ERRNO=` (a failure's errno, kept beside the status).
    pub errno: Option<i32>,
    /// `MAINPID=`, already checked by the owner (the PID belongs to the service).
    pub main_pid: Option<u32>,
    /// `EXTEND_TIMEOUT_USEC=`.
    pub extend_timeout: Option<Duration>,
    /// `WATCHDOG=1` (keep-alive) or `WATCHDOG=trigger`.
    pub watchdog: Option<WatchdogMsg>,
    /// `WATCHDOG_USEC=`: a new watchdog interval; zero disables it.
    pub watchdog_usec: Option<Duration>,
    /// `MONOTONIC_USEC=` (sent with `RELOADING=1`), converted by the owner to
    /// the manager's clock.
    pub monotonic: Option<Instant>,
    /// Assignments the manager does not act on (`FDSTORE=1`, ...), by name.
    pub ignored: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchdogMsg {
    Ping,
    Trigger,
}

/// `MONOTONIC_USEC=` as sent (microseconds of CLOCK_MONOTONIC); the owner
/// converts it.
pub fn monotonic_usec(text: &str) -> Option<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .next_back()
        .and_then(|v| v.trim().parse().ok())
}

/// Parses a datagram: newline-separated `KEY=VALUE` assignments (sd_notify(3));
/// a later assignment of the same key wins, malformed values are dropped.
pub fn parse(text: &str) -> Notify {
    let mut n = Notify::default();
    for line in text.split('\n') {
        let Some((k, v)) = line.split_once('=') else {
            if !line.is_empty() {
                n.ignored.push(line.to_string());
            }
            continue;
        };
        let usec = || v.parse::<u64>().ok().map(Duration::from_micros);
        match k {
            "READY" => n.ready = v == "1",
            "RELOADING" => n.reloading = v == "1",
            "STOPPING" => n.stopping = v == "1",
            "STATUS" => n.status = Some(v.to_string()),
            "ERRNO" => n.errno = v.parse().ok().filter(|e: &i32| *e >= 0),
            "MAINPID" => n.main_pid = v.parse().ok().filter(|p: &u32| *p > 1),
            "EXTEND_TIMEOUT_USEC" => n.extend_timeout = usec(),
            "WATCHDOG" => {
                n.watchdog = match v {
                    "1" => Some(WatchdogMsg::Ping),
                    "trigger" => Some(WatchdogMsg::Trigger),
                    _ => n.watchdog,
                }
            }
            "WATCHDOG_USEC" => n.watchdog_usec = usec(),
            // Read by the owner (it needs the clock).
            "MONOTONIC_USEC" => {}
            _ => n.ignored.push(k.to_string()),
        }
    }
    n
}

/// Where a notify-reload handshake is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReloadWait {
    #[default]
    No,
    /// ReloadSignal= sent (systemd's `reload-signal`): waiting for `RELOADING=1`.
    Signal { since: Instant },
    /// `RELOADING=1` seen (systemd's `reload-notify`): waiting for `READY=1`.
    Notify,
}

/// What notifications and the watchdog left in the current run; reset at each
/// start (systemd clears the status text then too).
#[derive(Debug, Clone, Default)]
pub struct NotifyRun {
    /// The last `STATUS=`.
    pub status_text: Option<String>,
    /// The last `ERRNO=`.
    pub errno: Option<i32>,
    /// `READY=1` came in this run.
    pub ready: bool,
    pub reload: ReloadWait,
    /// When the watchdog fires unless a keep-alive comes first.
    pub watchdog_at: Option<Instant>,
    /// `WATCHDOG_USEC=` of this run (`Some(None)`: disabled by the service).
    watchdog_override: Option<Option<Duration>>,
}

impl Def<'_> {
    /// Type=notify or Type=notify-reload.
    pub fn is_notify(&self) -> bool {
        matches!(
            self.svc.service_type,
            ServiceType::Notify | ServiceType::NotifyReload
        )
    }

    /// `NotifyAccess=`; unset, systemd's `service_add_extras()` makes it `main`
    /// for notify types and with `WatchdogSec=`, else `none`.
    pub fn notify_access(&self) -> NotifyAccess {
        match self.svc.notify_access {
            Some(a) => a,
            None if self.is_notify() || self.svc.watchdog.is_some() => NotifyAccess::Main,
            None => NotifyAccess::None,
        }
    }
}

impl Machine {
    /// The nearest moment the owner must wake this unit: the state's timeout
    /// or the watchdog.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.deadline,
            self.notify.watchdog_at,
            self.pid_file_retry_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether `MAINPID=` is taken now (systemd: while starting or running).
    pub fn accepts_main_pid(&self) -> bool {
        use SubState::*;
        matches!(self.state, Start | StartPost | Running | Reload)
    }

    pub(super) fn watchdog_due(&self, now: Instant) -> bool {
        self.notify.watchdog_at.is_some_and(|t| t <= now)
    }

    fn watchdog_interval(&self, d: &Def<'_>) -> Option<Duration> {
        self.notify
            .watchdog_override
            .unwrap_or(d.svc.watchdog)
            .filter(|t| !t.is_zero())
    }

    /// systemd's `service_reset_watchdog()`: the interval runs from now.
    /// Armed from the end of the start (start-post) through running and reloads.
    pub(super) fn arm_watchdog(&mut self, d: &Def<'_>, now: Instant) {
        self.notify.watchdog_at = self.watchdog_interval(d).map(|t| now + t);
    }

    /// Called by `set_state`: the watchdog only watches a started service.
    pub(super) fn watchdog_state(&mut self, s: SubState) {
        if !matches!(
            s,
            SubState::StartPost | SubState::Running | SubState::Reload
        ) {
            self.notify.watchdog_at = None;
        }
    }

    pub(super) fn on_notify(&mut self, d: &Def<'_>, n: Notify, now: Instant, fx: &mut Fx) {
        use SubState::*;
        if let Some(pid) = n.main_pid.filter(|_| self.accepts_main_pid())
            && self.main_pid != Some(pid)
        {
            self.main_pid = Some(pid);
            // Not our child necessarily: its exec already happened.
            self.exec_confirmed = true;
        }
        if n.ready {
            self.notify.ready = true;
            match self.state {
                // Type=notify: READY=1 completes the start.
                Start if d.is_notify() => self.enter_start_post(d, now, fx),
                // READY=1 after RELOADING=1: the reload is done.
                Reload if self.notify.reload == ReloadWait::Notify => {
                    self.notify.reload = ReloadWait::No;
                    fx.push(job_ok(JobKind::Reload));
                    self.enter_running(d, now, fx);
                }
                _ => {}
            }
        } else if n.reloading {
            self.notify.ready = false;
            match (self.state, self.notify.reload) {
                // notify-reload: the answer to ReloadSignal=. A MONOTONIC_USEC=
                // older than the signal belongs to an earlier reload.
                (Reload, ReloadWait::Signal { since })
                    if n.monotonic.is_none_or(|m| m >= since) =>
                {
                    self.notify.reload = ReloadWait::Notify;
                }
                // A reload the service started itself.
                (Running, _) => {
                    self.set_state(Reload, now);
                    self.deadline = d.timeout_start().map(|t| now + t);
                    self.notify.reload = ReloadWait::Notify;
                }
                _ => {}
            }
        } else if n.stopping && matches!(self.state, Running | Reload) {
            // systemd's `service_enter_stop_by_notify()`: deactivating, no
            // signal; TimeoutStopSec= bounds the way out.
            if self.state == Reload {
                self.notify.reload = ReloadWait::No;
                fx.push(Effect::JobDone {
                    kind: JobKind::Reload,
                    error: Some(format!("{} is stopping", d.name)),
                });
            }
            self.set_state(StopSigterm, now);
            self.deadline = d.svc.timeout_stop.as_duration().map(|t| now + t);
        }
        if let Some(s) = n.status {
            self.notify.status_text = (!s.is_empty()).then_some(s);
        }
        if let Some(e) = n.errno {
            self.notify.errno = Some(e);
        }
        if let (Some(ext), Some(t)) = (n.extend_timeout, self.deadline) {
            // systemd's `service_extend_timeout()`: only ever later, and only for
            // the timeouts of starting, reloading and stopping.
            let extendable = !matches!(self.state, Running | Exited | AutoRestart | Dead | Failed);
            if extendable && now + ext > t {
                self.deadline = Some(now + ext);
            }
        }
        if let Some(usec) = n.watchdog_usec {
            self.notify.watchdog_override = Some(Some(usec));
            if self.notify.watchdog_at.is_some() || matches!(self.state, StartPost | Running) {
                self.arm_watchdog(d, now);
            }
        }
        match n.watchdog {
            Some(WatchdogMsg::Trigger) if self.watchdog_armed_state() => {
                fx.push(Effect::Log {
                    priority: 3,
                    text: format!("{}: Watchdog request (last status: {}).", d.name, {
                        self.notify.status_text.as_deref().unwrap_or("n/a")
                    }),
                });
                self.watchdog_kill(d, now, fx);
            }
            Some(WatchdogMsg::Ping) if self.watchdog_armed_state() => self.arm_watchdog(d, now),
            _ => {}
        }
    }

    fn watchdog_armed_state(&self) -> bool {
        matches!(
            self.state,
            SubState::StartPost | SubState::Running | SubState::Reload
        )
    }

    /// The watchdog's deadline passed without a keep-alive (systemd's
    /// `service_dispatch_watchdog()`).
    pub(super) fn on_watchdog_timer(&mut self, d: &Def<'_>, now: Instant, fx: &mut Fx) {
        let limit = self
            .watchdog_interval(d)
            .map(policy::format_span)
            .unwrap_or_default();
        fx.push(Effect::Log {
            priority: 3,
            text: format!("{}: Watchdog timeout (limit {limit})!", d.name),
        });
        self.watchdog_kill(d, now, fx);
    }

    /// Result `watchdog`, then WatchdogSignal= (SIGABRT) per KillMode=, as
    /// systemd's `service_enter_signal(SERVICE_STOP_WATCHDOG)`; the way down
    /// (SIGKILL after TimeoutStopSec=, ExecStopPost=, Restart=) is a stop's.
    fn watchdog_kill(&mut self, d: &Def<'_>, now: Instant, fx: &mut Fx) {
        self.notify.watchdog_at = None;
        if self.state == SubState::Reload {
            self.notify.reload = ReloadWait::No;
            fx.push(Effect::JobDone {
                kind: JobKind::Reload,
                error: Some(format!("{} failed: watchdog timeout", d.name)),
            });
        }
        let scope = match d.svc.kill_mode {
            KillMode::ControlGroup => KillScope::All,
            KillMode::Mixed | KillMode::Process => KillScope::Main,
            KillMode::None => {
                return self.enter_signal(
                    d,
                    SubState::StopSigterm,
                    ServiceResult::Watchdog,
                    now,
                    fx,
                );
            }
        };
        self.merge(ServiceResult::Watchdog);
        self.set_state(SubState::StopSigterm, now);
        self.deadline = d.svc.timeout_stop.as_duration().map(|t| now + t);
        self.leftovers = scope == KillScope::All;
        fx.push(Effect::Kill {
            scope,
            signal: d.svc.watchdog_signal,
            sighup: false,
        });
        if scope == KillScope::Main {
            self.stop_progress(d, now, fx);
        }
    }

    /// Type=notify-reload: ReloadSignal= (SIGHUP by default) to the main process, then
    /// wait for `RELOADING=1` and `READY=1` (bounded by TimeoutStartSec=).
    pub(super) fn reload_by_signal(&mut self, d: &Def<'_>, now: Instant, fx: &mut Fx) {
        fx.push(Effect::SignalMain(d.svc.reload_signal));
        self.set_state(SubState::Reload, now);
        self.deadline = d.timeout_start().map(|t| now + t);
        self.notify.reload = ReloadWait::Signal { since: now };
    }

    /// The main process of a notify unit ended while reloading: the reload
    /// job fails; what comes next is what a running unit's end brings.
    pub(super) fn notify_reload_main_exit(&mut self, d: &Def<'_>, now: Instant, fx: &mut Fx) {
        self.notify.reload = ReloadWait::No;
        fx.push(Effect::JobDone {
            kind: JobKind::Reload,
            error: Some(format!("{} reload failed: the main process ended", d.name)),
        });
        self.enter_running(d, now, fx);
    }

    /// Type=notify: the main process exited cleanly before `READY=1`. systemd
    /// fails the start with result `protocol`.
    pub(super) fn notify_exit_before_ready(&mut self, d: &Def<'_>, now: Instant, fx: &mut Fx) {
        self.reason = Some(format!(
            "{} exited before it sent READY=1 (Type=notify); see: daimon logs {}",
            d.name,
            d.short()
        ));
        let f = ServiceResult::Protocol;
        self.enter_signal(d, SubState::StopSigterm, f, now, fx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_sd_notify_assignments() {
        let n = parse(
            "READY=1\nSTATUS=Listening on 8080\nMAINPID=4242\nWATCHDOG=1\nFDSTORE=1\nbogus\n",
        );
        assert!(n.ready);
        assert_eq!(n.status.as_deref(), Some("Listening on 8080"));
        assert_eq!(n.main_pid, Some(4242));
        assert_eq!(n.watchdog, Some(WatchdogMsg::Ping));
        assert_eq!(n.ignored, vec!["FDSTORE".to_string(), "bogus".to_string()]);
        let n =
            parse("RELOADING=1\nMONOTONIC_USEC=123\nEXTEND_TIMEOUT_USEC=5000000\nWATCHDOG=trigger");
        assert!(n.reloading && !n.ready);
        assert_eq!(monotonic_usec("RELOADING=1\nMONOTONIC_USEC=123"), Some(123));
        assert_eq!(n.extend_timeout, Some(Duration::from_secs(5)));
        assert_eq!(n.watchdog, Some(WatchdogMsg::Trigger));
        assert_eq!(parse("MAINPID=0\nMAINPID=x").main_pid, None);
        assert!(!parse("READY=0").ready);
    }
}
