//! Type=forking: waiting for the daemon's PID (systemd.service(5) PIDFile=).

use std::time::{Duration, Instant};

use super::{Def, Fx, Machine, ServiceResult, SubState};

/// Retries of a main PID that is not there yet (a PID file not written, a
/// guessed daemon still inside execve()): soon at first, then less often,
/// until it appears or the start times out. The owner never waits: it answers
/// `NotYet` and this timer asks again.
#[derive(Debug, Clone)]
pub(super) struct PidFileWait {
    /// When to look again (None while a look is under way).
    pub(super) next: Option<Instant>,
    /// The first `NotYet` of this start.
    first: Instant,
    delay: Duration,
    /// What the last look saw, for the error if the start times out.
    why: String,
}

/// Without TimeoutStartSec= (infinity), a PID file is awaited this long.
const PID_FILE_PATIENCE: Duration = Duration::from_secs(90);

/// GuessMainPID=: how long a process caught inside execve() is asked again
/// before it counts as not the unit's. execve() takes well under a
/// millisecond; a process whose environment still reads empty after this
/// was started with none, and cannot be told apart from a stranger.
const EXEC_PATIENCE: Duration = Duration::from_millis(50);

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

    /// A retry is due: marks it under way and says whether a process caught
    /// inside execve() may still be waited for ([`EXEC_PATIENCE`]).
    pub(super) fn begin_main_pid_retry(&mut self, now: Instant) -> bool {
        match self.pid_file_wait.as_mut() {
            Some(w) => {
                w.next = None;
                now.saturating_duration_since(w.first) < EXEC_PATIENCE
            }
            None => true,
        }
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
        let first = self.pid_file_wait.as_ref().map_or(now, |w| w.first);
        self.pid_file_wait = Some(PidFileWait {
            next: Some(now + delay),
            first,
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
