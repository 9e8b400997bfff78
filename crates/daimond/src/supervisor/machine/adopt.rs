//! Taking over a run after a daimond restart: the state of a unit whose main
//! process (or pending restart) a killed daimond left behind.

use std::time::Instant;

use super::{Def, Effect, Fx, Machine, SubState};
use crate::supervisor::policy::{self, ServiceResult};

impl Machine {
    /// Like systemd after `daemon-reexec` (deserializing a running service): no
    /// start job, no ExecStart*=, just the state the run is in. Only an idle
    /// unit (a new daimond's) adopts.
    pub(super) fn on_adopt(
        &mut self,
        d: &Def<'_>,
        pid: Option<u32>,
        restarts: u32,
        now: Instant,
        fx: &mut Fx,
    ) {
        if !self.state.is_inactive() {
            return;
        }
        self.result = ServiceResult::Success;
        self.restarts = restarts;
        self.forbid_restart = false;
        let Some(pid) = pid else {
            // The restart was due within RestartSec; waiting it again is the
            // safe side of "not sooner than RestartSec".
            self.set_state(SubState::AutoRestart, now);
            self.deadline = Some(now + policy::restart_delay(d.svc, restarts + 1));
            fx.push(Effect::Log {
                priority: 6,
                text: format!(
                    "{}: resuming its pending restart after a daimond restart",
                    d.name
                ),
            });
            return;
        };
        self.main_pid = Some(pid);
        self.exec_confirmed = true;
        self.set_state(SubState::Running, now);
        // RuntimeMaxSec= still bounds the run; counted from the adoption, so
        // a daimond restart can lengthen it, never cut it short.
        self.deadline = d.svc.runtime_max.as_duration().map(|t| now + t);
        fx.push(Effect::Log {
            priority: 6,
            text: format!(
                "{}: adopted main process {pid} after a daimond restart",
                d.name
            ),
        });
    }
}
