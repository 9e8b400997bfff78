//! Table tests of `daimon run --restart always`'s settings (RestartSec=100ms,
//! RestartSteps=8, RestartMaxDelaySec=30s, StartLimitIntervalSec=0): the delay
//! grows as systemd's `service_restart_usec_next()` computes it, and the unit
//! never fails with start-limit-hit however fast it crashes.

use std::time::Duration;

use daimon_unit::{RestartPolicy, TimeSpan};

use super::*;

fn always() -> World {
    let mut w = World::new(|s| {
        s.restart = RestartPolicy::Always;
        s.restart_sec = Duration::from_millis(100);
        s.restart_steps = 8;
        s.restart_max_delay = TimeSpan::from_secs(30);
    });
    w.unit.start_limit_interval = Duration::ZERO;
    w
}

#[test]
fn always_backs_off_from_100ms_to_30s_and_never_hits_the_start_limit() {
    let mut w = always();
    w.run(Event::Start { manual: true });
    let mut delays = vec![];
    for _ in 0..40 {
        // Crashes at once, and cleanly too: `always` restarts after any exit.
        w.crash(ExitStatus::Exited(0));
        assert_eq!(w.m.state, SubState::AutoRestart);
        let d = w.m.deadline.expect("restart armed") - w.now;
        delays.push(d.as_millis());
        w.fire();
        assert_eq!(w.m.state, SubState::Running);
    }
    assert_eq!(
        delays[..10],
        [100, 204, 416, 849, 1732, 3533, 7208, 14705, 30000, 30000]
    );
    assert!(delays[9..].iter().all(|d| *d == 30000));
    assert_ne!(w.m.result, ServiceResult::StartLimitHit);
    assert_eq!(w.m.restarts, 40);
}

#[test]
fn starting_it_by_hand_resets_the_delay() {
    let mut w = always();
    w.run(Event::Start { manual: true });
    for _ in 0..5 {
        w.crash(KILLED);
        w.fire();
    }
    w.crash(KILLED);
    assert!(w.m.deadline.expect("restart armed") - w.now > Duration::from_secs(3));
    // `daimon start` while the restart waits: a start by a user.
    w.run(Event::Start { manual: true });
    assert_eq!((w.m.state, w.m.restarts), (SubState::Running, 0));
    w.crash(KILLED);
    let d = w.m.deadline.expect("restart armed") - w.now;
    assert_eq!(d, Duration::from_millis(100));
}
