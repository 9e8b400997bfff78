//! `RuntimeMaxSec=` (systemd.service(5)): a service active for longer is
//! terminated, and the unit fails with the result `timeout`; with
//! `Restart=on-failure` it starts again, as systemd restarts on a timeout.

use std::time::Duration;

use daimon_unit::{RestartPolicy, TimeSpan};

use super::*;

const TERMINATED: ExitStatus = ExitStatus::Killed {
    signal: libc::SIGTERM,
    core_dumped: false,
};

#[test]
fn a_service_past_its_runtime_is_stopped_and_fails_with_timeout() {
    let mut w = World::new(|s| s.runtime_max = TimeSpan::from_secs(2));
    w.run(Event::Start { manual: true });
    assert_eq!(w.m.state, SubState::Running);
    assert_eq!(w.m.deadline, Some(w.now + Duration::from_secs(2)));
    let fx = w.fire();
    assert!(fx.iter().any(|f| matches!(f, Effect::Log { text, .. }
        if text.contains("service reached runtime time limit"))));
    assert!(fx.contains(&Effect::Kill {
        scope: KillScope::All,
        signal: libc::SIGTERM,
        sighup: false
    }));
    w.crash(TERMINATED);
    assert_eq!(w.m.state, SubState::Failed);
    assert_eq!(w.m.result, ServiceResult::Timeout);
}

#[test]
fn on_failure_restarts_a_service_that_ran_too_long() {
    let mut w = World::new(|s| {
        s.runtime_max = TimeSpan::from_secs(2);
        s.restart = RestartPolicy::OnFailure;
    });
    w.run(Event::Start { manual: true });
    w.fire();
    w.crash(TERMINATED);
    assert_eq!(w.m.state, SubState::AutoRestart);
    w.fire();
    assert_eq!((w.m.state, w.m.restarts), (SubState::Running, 1));
    // The new run has its own limit, from its own start.
    assert_eq!(w.m.deadline, Some(w.now + Duration::from_secs(2)));
}

#[test]
fn without_a_limit_a_running_service_arms_no_timer() {
    let mut w = World::new(|_| {});
    w.run(Event::Start { manual: true });
    assert_eq!(w.m.deadline, None);
}

#[test]
fn an_adopted_run_keeps_a_runtime_limit() {
    let mut w = World::new(|s| s.runtime_max = TimeSpan::from_secs(5));
    w.run(Event::Adopt {
        pid: Some(4242),
        restarts: 0,
    });
    assert_eq!(w.m.state, SubState::Running);
    assert_eq!(w.m.deadline, Some(w.now + Duration::from_secs(5)));
}
