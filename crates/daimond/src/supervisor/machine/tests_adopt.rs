//! Table tests of adoption after a daimond restart.

use std::time::Duration;

use daimon_unit::RestartPolicy;

use super::*;

#[test]
fn an_adopted_run_is_running_and_its_unknown_end_follows_restart() {
    let mut w = World::new(|s| {
        s.restart = RestartPolicy::OnFailure;
        s.restart_sec = Duration::from_millis(100);
    });
    let fx = w.run(Event::Adopt {
        pid: Some(42),
        restarts: 3,
    });
    assert_eq!(w.m.state, SubState::Running);
    assert_eq!((w.m.main_pid, w.m.restarts), (Some(42), 3));
    assert!(!fx.iter().any(|f| matches!(f, Effect::Spawn { .. })));
    w.crash(ExitStatus::Unknown);
    assert_eq!(w.m.state, SubState::AutoRestart);
    assert_eq!(w.m.result, ServiceResult::ExitCode);
    w.fire();
    assert_eq!(w.m.state, SubState::Running);
    assert_eq!(w.m.restarts, 4);
}

#[test]
fn stopping_an_adopted_run_ends_clean_although_the_status_is_unknown() {
    let mut w = World::new(|_| {});
    w.run(Event::Adopt {
        pid: Some(42),
        restarts: 0,
    });
    let fx = w.run(Event::Stop);
    assert!(fx.iter().any(|f| matches!(f, Effect::Kill { .. })));
    w.crash(ExitStatus::Unknown);
    assert_eq!(w.m.state, SubState::Dead);
    assert_eq!(w.m.result, ServiceResult::Success);
}

#[test]
fn a_pending_restart_is_resumed_after_restart_sec() {
    let mut w = World::new(|s| {
        s.restart = RestartPolicy::Always;
        s.restart_sec = Duration::from_secs(1);
    });
    w.run(Event::Adopt {
        pid: None,
        restarts: 2,
    });
    assert_eq!(w.m.state, SubState::AutoRestart);
    assert_eq!(w.m.deadline, Some(w.now + Duration::from_secs(1)));
    w.fire();
    assert_eq!(w.m.state, SubState::Running);
    assert_eq!(w.m.restarts, 3);
}
