//! Restart and exit-status rules of systemd.service(5), as pure functions.
//!
//! Owns: what counts as a clean exit, the `Result=` a process end yields, whether
//! `Restart=` restarts after a given result, and the delay before the next restart
//! (`RestartSec=`, `RestartSteps=`, `RestartMaxDelaySec=`).

use std::time::Duration;

use daimon_unit::{ExitStatusSet, RestartPolicy, ServiceSection};

use crate::exit_status::ExitStatus;

/// systemd's service result (`Result=` in `systemctl show`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceResult {
    Success,
    Resources,
    /// Type=forking left no main process to supervise.
    Protocol,
    Timeout,
    ExitCode,
    Signal,
    CoreDump,
    StartLimitHit,
    /// No `WATCHDOG=1` keep-alive within WatchdogSec= (or `WATCHDOG=trigger`).
    Watchdog,
    /// An `ExecCondition=` command exited 1..254: the unit was skipped.
    Condition,
    /// The kernel's OOM killer ended a process of the unit's cgroup (MemoryMax=).
    OomKill,
}

impl ServiceResult {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceResult::Success => "success",
            ServiceResult::Resources => "resources",
            ServiceResult::Protocol => "protocol",
            ServiceResult::Timeout => "timeout",
            ServiceResult::ExitCode => "exit-code",
            ServiceResult::Signal => "signal",
            ServiceResult::CoreDump => "core-dump",
            ServiceResult::StartLimitHit => "start-limit-hit",
            ServiceResult::Watchdog => "watchdog",
            ServiceResult::Condition => "condition",
            ServiceResult::OomKill => "oom-kill",
        }
    }
}

/// Whether an exit is clean. systemd's `is_clean_exit()`: exit code 0 always; for
/// daemons (not oneshot commands) also death by SIGHUP, SIGINT, SIGTERM or SIGPIPE;
/// plus whatever `SuccessExitStatus=` lists.
pub fn is_clean_exit(st: ExitStatus, daemon: bool, success: Option<&ExitStatusSet>) -> bool {
    match st {
        ExitStatus::Exited(0) => true,
        ExitStatus::Exited(c) => success.is_some_and(|s| s.contains_code(c)),
        ExitStatus::Killed { signal, .. } => {
            (daemon
                && matches!(
                    signal,
                    libc::SIGHUP | libc::SIGINT | libc::SIGTERM | libc::SIGPIPE
                ))
                || success.is_some_and(|s| s.contains_signal(signal))
        }
        // Not known to be clean, so not clean (the caller decides otherwise for
        // an end it asked for).
        ExitStatus::Unknown => false,
    }
}

/// The result a process end yields (systemd's `service_sigchld_event`).
pub fn result_of(st: ExitStatus, clean: bool) -> ServiceResult {
    if clean {
        return ServiceResult::Success;
    }
    match st {
        ExitStatus::Exited(_) => ServiceResult::ExitCode,
        ExitStatus::Killed {
            core_dumped: true, ..
        } => ServiceResult::CoreDump,
        ExitStatus::Killed { .. } => ServiceResult::Signal,
        // An adopted main process ended on its own, how is unknown: a failure
        // (Restart=on-failure and always restart it), reported as an exit.
        ExitStatus::Unknown => ServiceResult::ExitCode,
    }
}

fn set_has(set: &ExitStatusSet, st: ExitStatus) -> bool {
    match st {
        ExitStatus::Exited(c) => set.contains_code(c),
        ExitStatus::Killed { signal, .. } => set.contains_signal(signal),
        ExitStatus::Unknown => false,
    }
}

/// systemd's `service_shall_restart()`. `main_exit` is how the last main process
/// ended, if one ran. The table of systemd.service(5):
///
/// | Restart=    | clean | unclean code | unclean signal | timeout | watchdog |
/// |-------------|-------|--------------|----------------|---------|----------|
/// | always      |   x   |      x       |       x        |    x    |    x     |
/// | on-success  |   x   |              |                |         |          |
/// | on-failure  |       |      x       |       x        |    x    |    x     |
/// | on-abnormal |       |              |       x        |    x    |    x     |
/// | on-abort    |       |              |       x        |         |          |
/// | on-watchdog |       |              |                |         |    x     |
///
/// `RestartPreventExitStatus=` wins over everything, then `RestartForceExitStatus=`.
pub fn shall_restart(
    svc: &ServiceSection,
    result: ServiceResult,
    main_exit: Option<ExitStatus>,
) -> bool {
    use ServiceResult as R;
    if let Some(st) = main_exit {
        if set_has(&svc.restart_prevent_exit_status, st) {
            return false;
        }
        if set_has(&svc.restart_force_exit_status, st) {
            return true;
        }
    }
    match svc.restart {
        RestartPolicy::No => false,
        RestartPolicy::Always => result != R::Condition,
        RestartPolicy::OnSuccess => result == R::Success,
        RestartPolicy::OnFailure => !matches!(result, R::Success | R::Condition),
        RestartPolicy::OnAbnormal => !matches!(result, R::Success | R::ExitCode | R::Condition),
        RestartPolicy::OnWatchdog => result == R::Watchdog,
        RestartPolicy::OnAbort => matches!(result, R::Signal | R::CoreDump),
    }
}

/// Delay before restart number `n_next` (1 = the first restart), systemd 254+'s
/// `service_restart_usec_next()`: with `RestartSteps=N` and `RestartMaxDelaySec=M`
/// the delay grows exponentially from RestartSec to M over N steps:
/// `RestartSec * (M / RestartSec) ^ ((n - 1) / N)`, then stays at M.
pub fn restart_delay(svc: &ServiceSection, n_next: u32) -> Duration {
    let base = svc.restart_sec;
    let Some(max) = max_delay(svc) else {
        return base;
    };
    if n_next <= 1 {
        return base;
    }
    if n_next > svc.restart_steps {
        return max;
    }
    let ratio = max.as_secs_f64() / base.as_secs_f64();
    let exp = f64::from(n_next - 1) / f64::from(svc.restart_steps);
    let usec = base.as_secs_f64() * ratio.powf(exp) * 1e6;
    Duration::from_micros(usec.round() as u64)
}

/// The delay grows (RestartSteps= with a finite RestartMaxDelaySec= above
/// RestartSec=): the limit it grows to.
pub fn max_delay(svc: &ServiceSection) -> Option<Duration> {
    let max = svc.restart_max_delay.as_duration()?;
    (svc.restart_steps > 0 && !svc.restart_sec.is_zero() && max > svc.restart_sec).then_some(max)
}

/// A span as systemd prints it: `10s`, `1min 30s`, `250ms`.
pub fn format_span(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0".into();
    }
    if !ms.is_multiple_of(1000) {
        return if ms > 1000 {
            format!("{:.3}s", d.as_secs_f64())
        } else {
            format!("{ms}ms")
        };
    }
    let s = ms / 1000;
    match (s / 3600, (s / 60) % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}min"),
        (0, m, s) => format!("{m}min {s}s"),
        (h, m, s) => format!("{h}h {m}min {s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use daimon_unit::TimeSpan;

    fn killed(sig: i32) -> ExitStatus {
        ExitStatus::Killed {
            signal: sig,
            core_dumped: false,
        }
    }

    #[test]
    fn restart_table_of_systemd_service_5() {
        use RestartPolicy as P;
        use ServiceResult as R;
        let rows: &[(P, [bool; 4])] = &[
            // clean, exit-code, signal, timeout
            (P::No, [false, false, false, false]),
            (P::Always, [true, true, true, true]),
            (P::OnSuccess, [true, false, false, false]),
            (P::OnFailure, [false, true, true, true]),
            (P::OnAbnormal, [false, false, true, true]),
            (P::OnAbort, [false, false, true, false]),
            (P::OnWatchdog, [false, false, false, false]),
        ];
        let cases = [
            (R::Success, Some(ExitStatus::Exited(0))),
            (R::ExitCode, Some(ExitStatus::Exited(1))),
            (R::Signal, Some(killed(libc::SIGKILL))),
            (R::Timeout, None),
        ];
        for (policy, expect) in rows {
            let svc = ServiceSection {
                restart: *policy,
                ..Default::default()
            };
            for ((result, st), want) in cases.iter().zip(expect) {
                assert_eq!(
                    shall_restart(&svc, *result, *st),
                    *want,
                    "{policy:?} {result:?}"
                );
            }
        }
    }

    #[test]
    fn prevent_and_force_exit_status() {
        let mut svc = ServiceSection {
            restart: RestartPolicy::Always,
            ..Default::default()
        };
        svc.restart_prevent_exit_status
            .extend_from("3 SIGUSR1")
            .expect("valid");
        assert!(!shall_restart(
            &svc,
            ServiceResult::ExitCode,
            Some(ExitStatus::Exited(3))
        ));
        assert!(!shall_restart(
            &svc,
            ServiceResult::Signal,
            Some(killed(libc::SIGUSR1))
        ));
        let mut svc = ServiceSection {
            restart: RestartPolicy::No,
            ..Default::default()
        };
        svc.restart_force_exit_status
            .extend_from("7")
            .expect("valid");
        assert!(shall_restart(
            &svc,
            ServiceResult::ExitCode,
            Some(ExitStatus::Exited(7))
        ));
    }

    #[test]
    fn clean_exit_rules() {
        assert!(is_clean_exit(killed(libc::SIGTERM), true, None));
        assert!(!is_clean_exit(killed(libc::SIGTERM), false, None));
        assert!(!is_clean_exit(killed(libc::SIGKILL), true, None));
        let mut ok = ExitStatusSet::default();
        ok.extend_from("42").expect("valid");
        assert!(is_clean_exit(ExitStatus::Exited(42), true, Some(&ok)));
    }

    #[test]
    fn exponential_backoff_like_systemd_254() {
        let svc = ServiceSection {
            restart_sec: Duration::from_secs(1),
            restart_steps: 4,
            restart_max_delay: TimeSpan::from_secs(16),
            ..Default::default()
        };
        let secs: Vec<u64> = (1..=6)
            .map(|n| restart_delay(&svc, n).as_millis() as u64)
            .collect();
        assert_eq!(secs, vec![1000, 2000, 4000, 8000, 16000, 16000]);
        let plain = ServiceSection {
            restart_sec: Duration::from_millis(250),
            ..Default::default()
        };
        assert_eq!(restart_delay(&plain, 9), Duration::from_millis(250));
    }

    #[test]
    fn spans() {
        assert_eq!(format_span(Duration::from_secs(10)), "10s");
        assert_eq!(format_span(Duration::from_secs(90)), "1min 30s");
        assert_eq!(format_span(Duration::from_millis(100)), "100ms");
    }
}
