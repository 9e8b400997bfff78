//! Table tests of Type=notify readiness, notify-reload, STOPPING=1,
//! EXTEND_TIMEOUT_USEC= and the watchdog, with a fake clock.

use std::time::Duration;

use daimon_unit::{RestartPolicy, ServiceType, TimeSpan};

use super::super::notify::WatchdogMsg;
use super::*;

fn notify(f: impl FnOnce(&mut Notify)) -> Event {
    let mut n = Notify::default();
    f(&mut n);
    Event::Notify(n)
}

fn ready() -> Event {
    notify(|n| n.ready = true)
}

fn ping() -> Event {
    notify(|n| n.watchdog = Some(WatchdogMsg::Ping))
}

fn notify_world(f: impl FnOnce(&mut ServiceSection)) -> World {
    World::new(|s| {
        s.service_type = ServiceType::Notify;
        f(s);
    })
}

#[test]
fn notify_is_activating_until_ready_and_only_then_the_start_job_is_done() {
    let mut w = notify_world(|_| {});
    let fx = w.run(Event::Start { manual: true });
    assert_eq!(w.m.state, SubState::Start);
    assert_eq!(
        w.m.state.active_state(),
        daimon_proto::ActiveState::Activating
    );
    assert_eq!(
        job(&fx, JobKind::Start),
        None,
        "no start job result before READY=1"
    );
    w.advance(Duration::from_secs(1));
    let fx = w.run(ready());
    assert_eq!(w.m.state, SubState::Running);
    assert_eq!(job(&fx, JobKind::Start), Some(None));
}

#[test]
fn ready_only_counts_for_notify_types() {
    let mut w = World::new(|_| {});
    w.run(Event::Start { manual: true });
    assert_eq!(w.m.state, SubState::Running);
    let fx = w.run(ready());
    assert!(fx.is_empty());
    assert_eq!(w.m.state, SubState::Running);
}

#[test]
fn no_ready_within_timeout_start_sec_is_a_timeout_then_restart_per_policy() {
    let mut w = notify_world(|s| {
        s.timeout_start = TimeSpan::from_secs(3);
        s.restart = RestartPolicy::OnFailure;
    });
    w.run(Event::Start { manual: true });
    assert_eq!(w.m.deadline, Some(w.t0 + Duration::from_secs(3)));
    let fx = w.fire();
    assert_eq!(w.m.state, SubState::StopSigterm);
    assert!(fx.contains(&Effect::Kill {
        scope: KillScope::All,
        signal: libc::SIGTERM,
        sighup: false
    }));
    w.crash(ExitStatus::Killed {
        signal: libc::SIGTERM,
        core_dumped: false,
    });
    assert_eq!(w.m.result, ServiceResult::Timeout);
    assert_eq!(w.m.state, SubState::AutoRestart);
}

#[test]
fn a_clean_exit_before_ready_is_a_protocol_failure() {
    let mut w = notify_world(|_| {});
    w.run(Event::Start { manual: true });
    let fx = w.crash(ExitStatus::Exited(0));
    assert_eq!(w.m.state, SubState::Failed);
    assert_eq!(w.m.result, ServiceResult::Protocol);
    assert!(
        job(&fx, JobKind::Start)
            .flatten()
            .is_some_and(|e| e.contains("READY=1"))
    );
}

#[test]
fn extend_timeout_usec_pushes_the_start_timeout_out_never_in() {
    let mut w = notify_world(|s| s.timeout_start = TimeSpan::from_secs(3));
    w.run(Event::Start { manual: true });
    w.advance(Duration::from_secs(2));
    w.run(notify(|n| n.extend_timeout = Some(Duration::from_secs(5))));
    assert_eq!(w.m.deadline, Some(w.t0 + Duration::from_secs(7)));
    w.run(notify(|n| n.extend_timeout = Some(Duration::from_secs(1))));
    assert_eq!(w.m.deadline, Some(w.t0 + Duration::from_secs(7)));
    w.advance(Duration::from_secs(4));
    w.run(Event::Timer);
    assert_eq!(
        w.m.state,
        SubState::Start,
        "not timed out at the old deadline"
    );
}

#[test]
fn status_text_is_kept_and_cleared_by_the_next_start() {
    let mut w = notify_world(|_| {});
    w.run(Event::Start { manual: true });
    w.run(notify(|n| {
        n.ready = true;
        n.status = Some("Serving 3 clients".into());
    }));
    assert_eq!(w.m.notify.status_text.as_deref(), Some("Serving 3 clients"));
    w.run(Event::Stop);
    w.crash(ExitStatus::Exited(0));
    w.run(Event::Start { manual: true });
    assert_eq!(w.m.notify.status_text, None);
}

#[test]
fn reloading_then_ready_is_a_reload_and_notify_reload_sends_sighup_first() {
    let mut w = notify_world(|s| s.service_type = ServiceType::NotifyReload);
    w.run(Event::Start { manual: true });
    w.run(ready());
    let fx = w.run(Event::Reload);
    assert!(fx.contains(&Effect::SignalMain(libc::SIGHUP)));
    assert_eq!(w.m.state, SubState::Reload);
    assert_eq!(job(&fx, JobKind::Reload), None, "waits for the service");
    // READY=1 alone does not end a reload the service has not begun.
    assert!(job(&w.run(ready()), JobKind::Reload).is_none());
    w.run(notify(|n| {
        n.reloading = true;
        n.monotonic = Some(w.now);
    }));
    assert_eq!(w.m.state, SubState::Reload);
    let fx = w.run(ready());
    assert_eq!(job(&fx, JobKind::Reload), Some(None));
    assert_eq!(w.m.state, SubState::Running);

    // A reload the service begins itself (Type=notify).
    let mut w = notify_world(|_| {});
    w.run(Event::Start { manual: true });
    w.run(ready());
    w.run(notify(|n| n.reloading = true));
    assert_eq!(
        w.m.state.active_state(),
        daimon_proto::ActiveState::Reloading
    );
    w.run(ready());
    assert_eq!(w.m.state, SubState::Running);
}

#[test]
fn a_reload_without_answer_times_out_and_the_unit_keeps_running() {
    let mut w = notify_world(|s| {
        s.service_type = ServiceType::NotifyReload;
        s.timeout_start = TimeSpan::from_secs(2);
    });
    w.run(Event::Start { manual: true });
    w.run(ready());
    w.run(Event::Reload);
    let fx = w.fire();
    assert!(job(&fx, JobKind::Reload).flatten().is_some());
    assert_eq!(w.m.state, SubState::Running);
}

#[test]
fn stopping_is_deactivating_without_a_signal_and_restart_applies() {
    let mut w = notify_world(|s| {
        s.restart = RestartPolicy::Always;
        s.timeout_stop = TimeSpan::from_secs(5);
    });
    w.run(Event::Start { manual: true });
    w.run(ready());
    let fx = w.run(notify(|n| n.stopping = true));
    assert!(!fx.iter().any(|f| matches!(f, Effect::Kill { .. })));
    assert_eq!(w.m.state, SubState::StopSigterm);
    assert_eq!(w.m.deadline, Some(w.now + Duration::from_secs(5)));
    w.crash(ExitStatus::Exited(0));
    assert_eq!(w.m.state, SubState::AutoRestart, "Restart=always restarts");
}

#[test]
fn a_missed_keep_alive_aborts_the_main_process_and_restarts_on_watchdog() {
    let mut w = notify_world(|s| {
        s.watchdog = Some(Duration::from_secs(1));
        s.restart = RestartPolicy::OnWatchdog;
        s.restart_sec = Duration::from_millis(100);
    });
    w.run(Event::Start { manual: true });
    assert_eq!(w.m.notify.watchdog_at, None, "not armed before READY=1");
    w.advance(Duration::from_millis(500));
    w.run(ready());
    assert_eq!(w.m.next_deadline(), Some(w.now + Duration::from_secs(1)));
    for _ in 0..3 {
        w.advance(Duration::from_millis(800));
        w.run(ping());
        w.run(Event::Timer);
        assert_eq!(w.m.state, SubState::Running, "keep-alives in time");
    }
    w.advance(Duration::from_millis(1000));
    let fx = w.run(Event::Timer);
    assert!(fx.contains(&Effect::Kill {
        scope: KillScope::All,
        signal: libc::SIGABRT,
        sighup: false
    }));
    assert_eq!(w.m.result, ServiceResult::Watchdog);
    let first = w.m.main_pid;
    w.crash(ExitStatus::Killed {
        signal: libc::SIGABRT,
        core_dumped: true,
    });
    assert_eq!(
        w.m.result,
        ServiceResult::Watchdog,
        "the first failure stays"
    );
    assert_eq!(w.m.state, SubState::AutoRestart);
    w.fire();
    assert_eq!(w.m.restarts, 1);
    assert_ne!(w.m.main_pid, first);
    assert_eq!(w.m.state, SubState::Start, "waits for READY=1 again");
}

#[test]
fn watchdog_result_restarts_per_the_systemd_table() {
    for (policy, restarts) in [
        (RestartPolicy::Always, true),
        (RestartPolicy::OnFailure, true),
        (RestartPolicy::OnAbnormal, true),
        (RestartPolicy::OnWatchdog, true),
        (RestartPolicy::OnAbort, false),
        (RestartPolicy::OnSuccess, false),
        (RestartPolicy::No, false),
    ] {
        let mut w = World::new(|s| {
            s.watchdog = Some(Duration::from_secs(2));
            s.restart = policy;
            s.kill_mode = daimon_unit::KillMode::Process;
        });
        w.run(Event::Start { manual: true });
        let fx = w.run(notify(|n| n.watchdog = Some(WatchdogMsg::Trigger)));
        assert!(fx.contains(&Effect::Kill {
            scope: KillScope::Main,
            signal: libc::SIGABRT,
            sighup: false
        }));
        w.crash(ExitStatus::Killed {
            signal: libc::SIGABRT,
            core_dumped: false,
        });
        assert_eq!(
            w.m.state == SubState::AutoRestart,
            restarts,
            "Restart={policy:?}"
        );
    }
}

#[test]
fn watchdog_usec_changes_the_interval_and_zero_disables_it() {
    let mut w = World::new(|s| s.watchdog = Some(Duration::from_secs(10)));
    w.run(Event::Start { manual: true });
    assert_eq!(
        w.m.notify.watchdog_at,
        Some(w.now + Duration::from_secs(10))
    );
    w.run(notify(|n| n.watchdog_usec = Some(Duration::from_secs(2))));
    assert_eq!(w.m.notify.watchdog_at, Some(w.now + Duration::from_secs(2)));
    w.run(notify(|n| n.watchdog_usec = Some(Duration::ZERO)));
    assert_eq!(w.m.notify.watchdog_at, None);
}

#[test]
fn main_pid_is_taken_while_running() {
    let mut w = notify_world(|_| {});
    w.run(Event::Start { manual: true });
    w.run(notify(|n| {
        n.main_pid = Some(4242);
        n.ready = true;
    }));
    assert_eq!(w.m.main_pid, Some(4242));
    assert_eq!(w.m.state, SubState::Running);
}
