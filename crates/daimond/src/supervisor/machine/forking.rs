//! Type=forking: waiting for the daemon's PID (systemd.service(5) PIDFile=).

use std::time::{Duration, Instant};

use super::{Def, Fx, Machine, ServiceResult, SubState};

/// Retries of a PID file that is not there yet: soon at first, then less
/// often, until it appears or the start times out.
#[derive(Debug, Clone)]
pub(super) struct PidFileWait {
    /// When to look again (None while a look is under way).
    pub(super) next: Option<Instant>,
    delay: Duration,
    /// What the last look saw, for the error if the start times out.
    why: String,
}

/// Without TimeoutStartSec= (infinity), a PID file is awaited this long.
const PID_FILE_PATIENCE: Duration = Duration::from_secs(90);

impl Machine {
    pub(super) fn pid_file_retry_due(&self, now: Instant) -> bool {
        self.pid_file_wait
            .as_ref()
            .and_then(|w| w.next)
            .is_some_and(|t| t <= now)
    }

    /// The earliest retry of the PID file, for the owner's timer.
    pub(super) fn pid_file_retry_at(&self) -> Option<Instant> {
        self.pid_file_wait.as_ref().and_then(|w| w.next)
    }

    /// systemd.service(5) PIDFile=: the file is read once the start process has
    /// exited; a daemon may write it a little later, so it is looked for again
    /// (5 ms, doubling up to 250 ms) until TimeoutStartSec= ends the start.
    pub(super) fn wait_for_pid_file(
        &mut self,
        d: &Def<'_>,
        why: String,
        now: Instant,
        fx: &mut Fx,
    ) {
        let delay = match &self.pid_file_wait {
            Some(w) => (w.delay * 2).min(Duration::from_millis(250)),
            None => Duration::from_millis(5),
        };
        let gave_up = self.deadline.is_none()
            && self
                .since
                .is_some_and(|s| now.saturating_duration_since(s) >= PID_FILE_PATIENCE);
        if gave_up {
            let why = format!("{why} (waited {} s)", PID_FILE_PATIENCE.as_secs());
            self.refuse_main_pid(d, why, now, fx);
            return;
        }
        self.pid_file_wait = Some(PidFileWait {
            next: Some(now + delay),
            delay,
            why,
        });
    }

    pub(super) fn refuse_main_pid(&mut self, d: &Def<'_>, why: String, now: Instant, fx: &mut Fx) {
        self.pid_file_wait = None;
        self.reason = Some(format!("{}: {why}", d.name));
        let f = ServiceResult::Protocol;
        self.enter_signal(d, SubState::StopSigterm, f, now, fx);
    }

    /// A start that timed out while the PID file was awaited says what was seen.
    pub(super) fn pid_file_timeout_reason(&mut self, d: &Def<'_>) {
        if let Some(w) = self.pid_file_wait.take() {
            self.reason = Some(format!(
                "{} failed to start: {} when TimeoutStartSec= ran out",
                d.name, w.why
            ));
        }
    }
}
