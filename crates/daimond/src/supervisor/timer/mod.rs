//! Timer units (systemd.timer(5)): when each one elapses, what it remembers,
//! and the wall-clock alarm that wakes the daemon for calendar events.
//!
//! [`schedule`] is pure (the clock is injected); [`TimerRun`] is one started
//! timer as the owner keeps it; the owner's glue (start, stop, trigger, status)
//! lives in `supervisor::timers`. Nothing polls: the owner sleeps until the
//! earliest wake-up of any timer, on the monotonic clock or, for calendar
//! events, on the wall clock ([`alarm`]).

pub mod alarm;
pub mod schedule;
pub mod stamp;

use std::time::Duration;

use jiff::Timestamp;

use schedule::{History, Next, Plan};

/// A started timer's state, as systemd names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerState {
    /// Waiting for its next elapse.
    Waiting,
    /// It triggered its unit, which has not finished yet: no further trigger
    /// until it has (a timer never overlaps runs of its unit).
    Running,
    /// Nothing left to trigger (only one-shot relative triggers, all spent).
    Elapsed,
}

impl TimerState {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerState::Waiting => "waiting",
            TimerState::Running => "running",
            TimerState::Elapsed => "elapsed",
        }
    }
}

/// One started timer.
#[derive(Debug, Clone)]
pub struct TimerRun {
    pub plan: Plan,
    pub state: TimerState,
    pub history: History,
    /// The next elapse with its randomized delay; empty while running.
    pub next: Next,
    /// The elapse the current randomized delay was drawn for.
    delay_for: Next,
    delay: Duration,
    /// When the timer was started (for `status`).
    pub since: Timestamp,
}

impl TimerRun {
    pub fn new(plan: Plan, history: History) -> TimerRun {
        TimerRun {
            plan,
            state: TimerState::Waiting,
            since: history.activated.wall,
            history,
            next: Next::default(),
            delay_for: Next::default(),
            delay: Duration::ZERO,
        }
    }

    /// Sets the next elapse from the raw one; a new elapse draws a new
    /// randomized delay (`seed`), the same one keeps its delay.
    pub fn set_next(&mut self, raw: Next, name: &str, seed: u64) {
        if raw != self.delay_for {
            self.delay_for = raw;
            self.delay = schedule::random_delay(
                self.plan.randomized_delay,
                self.plan.fixed_random_delay,
                name,
                seed,
            );
        }
        self.next = raw.delayed(self.delay);
    }

    /// When to wake for this timer, if it waits for anything.
    pub fn wake(&self) -> Option<Next> {
        (self.state == TimerState::Waiting && !self.next.is_none())
            .then(|| schedule::wake_time(self.next, self.plan.accuracy))
    }
}
