//! `reset-failed` (systemctl(1)): a failed unit becomes inactive (dead) with
//! result `success`, and its start rate limit and restart counter start over,
//! as systemd's `service_reset_failed()` and `ratelimit_reset()` do. A unit that
//! is not failed keeps its state; only its counters are reset.

use std::time::Instant;

use super::{Machine, SubState};
use crate::supervisor::policy::ServiceResult;

impl Machine {
    pub(super) fn reset_failed(&mut self, now: Instant) {
        if self.state == SubState::Failed {
            self.set_state(SubState::Dead, now);
            self.reason = None;
        }
        if self.state.is_inactive() {
            self.result = ServiceResult::Success;
        }
        self.restarts = 0;
        self.starts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_unit_becomes_dead_with_its_counters_cleared() {
        let now = Instant::now();
        let mut m = Machine::new();
        m.state = SubState::Failed;
        m.result = ServiceResult::StartLimitHit;
        m.restarts = 5;
        m.starts.push_back(now);
        m.reason = Some("restarted too quickly".into());
        m.reset_failed(now);
        assert_eq!(m.state, SubState::Dead);
        assert_eq!(m.result, ServiceResult::Success);
        assert_eq!(m.restarts, 0);
        assert!(m.starts.is_empty());
        assert!(m.reason.is_none());
    }

    #[test]
    fn a_running_unit_keeps_its_state_and_result() {
        let now = Instant::now();
        let mut m = Machine::new();
        m.state = SubState::Running;
        m.restarts = 2;
        m.reset_failed(now);
        assert_eq!(m.state, SubState::Running);
        assert_eq!(m.restarts, 0);
    }
}
