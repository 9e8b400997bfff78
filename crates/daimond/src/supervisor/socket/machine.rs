//! A socket unit's lifecycle as data: `(state, input, now) -> (state, actions)`.
//!
//! systemd.socket(5) with `Accept=no`, as systemd's socket.c runs it: a started
//! socket is `listening` (daimond holds the descriptors and watches them); the
//! first connection or datagram starts the service and the socket is `running`
//! (not watched: the service reads the queue); when the service is inactive
//! again it is watched again, so a connection queued meanwhile starts it at once.
//! Two limits keep a service that never takes its connections from spinning:
//! the trigger limit (TriggerLimitIntervalSec=2s, TriggerLimitBurst=20) and the
//! service's own start limit; either puts the socket in `failed` with its
//! descriptors closed.
//!
//! With `Accept=yes` the socket never leaves `listening`: daimond accepts each
//! connection and starts one service instance for it, and watches again at
//! once (systemd's trigger limit is then 200 in 2 seconds).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// systemd's defaults for `Accept=no` sockets.
const TRIGGER_LIMIT_INTERVAL: Duration = Duration::from_secs(2);
const TRIGGER_LIMIT_BURST: usize = 20;
const TRIGGER_LIMIT_BURST_ACCEPT: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketState {
    Dead,
    Listening,
    Running,
    Failed,
}

impl SocketState {
    pub fn as_str(self) -> &'static str {
        match self {
            SocketState::Dead => "dead",
            SocketState::Listening => "listening",
            SocketState::Running => "running",
            SocketState::Failed => "failed",
        }
    }
}

/// Why a socket failed, with systemd's result names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketResult {
    Success,
    /// Binding or opening a listener failed.
    Resources,
    TriggerLimitHit,
    ServiceStartLimitHit,
}

impl SocketResult {
    pub fn as_str(self) -> &'static str {
        match self {
            SocketResult::Success => "success",
            SocketResult::Resources => "resources",
            SocketResult::TriggerLimitHit => "trigger-limit-hit",
            SocketResult::ServiceStartLimitHit => "service-start-limit-hit",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A start job: bind if not bound. `accept`: `Accept=yes`.
    Start {
        accept: bool,
    },
    /// The listeners are open (after `Action::Bind`).
    Bound,
    BindFailed,
    /// A watched descriptor became readable.
    Readable,
    /// The service was started another way (`daimon start web.service`): it
    /// has the descriptors now, so they are not watched.
    ServiceStarted,
    /// The service is inactive again; `start_limit_hit` when its start was refused.
    ServiceInactive {
        start_limit_hit: bool,
    },
    Stop,
    ResetFailed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Bind,
    Watch,
    Unwatch,
    StartService,
    /// Accept the waiting connections, one service instance each (`Accept=yes`).
    Accept,
    /// Close the descriptors (and stop watching them).
    Close,
}

#[derive(Debug, Clone)]
pub struct SocketMachine {
    pub state: SocketState,
    pub result: SocketResult,
    triggers: VecDeque<Instant>,
    accept: bool,
}

impl Default for SocketMachine {
    fn default() -> Self {
        SocketMachine {
            state: SocketState::Dead,
            result: SocketResult::Success,
            triggers: VecDeque::new(),
            accept: false,
        }
    }
}

impl SocketMachine {
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Action> {
        use SocketState::*;
        match (self.state, input) {
            (Dead | Failed, Input::Start { accept }) => {
                self.accept = accept;
                self.result = SocketResult::Success;
                self.triggers.clear();
                vec![Action::Bind]
            }
            (Dead | Failed, Input::Bound) => {
                self.state = Listening;
                vec![Action::Watch]
            }
            (Dead | Failed, Input::BindFailed) => self.fail(SocketResult::Resources),
            (Listening, Input::Readable) => {
                while self
                    .triggers
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= TRIGGER_LIMIT_INTERVAL)
                {
                    self.triggers.pop_front();
                }
                let burst = if self.accept {
                    TRIGGER_LIMIT_BURST_ACCEPT
                } else {
                    TRIGGER_LIMIT_BURST
                };
                if self.triggers.len() >= burst {
                    return self.fail(SocketResult::TriggerLimitHit);
                }
                self.triggers.push_back(now);
                if self.accept {
                    return vec![Action::Accept, Action::Watch];
                }
                self.state = Running;
                vec![Action::Unwatch, Action::StartService]
            }
            (Listening, Input::ServiceStarted) if !self.accept => {
                self.state = Running;
                vec![Action::Unwatch]
            }
            (Running, Input::ServiceInactive { start_limit_hit }) => {
                if start_limit_hit {
                    return self.fail(SocketResult::ServiceStartLimitHit);
                }
                self.state = Listening;
                vec![Action::Watch]
            }
            (Listening | Running, Input::Stop) => {
                self.state = Dead;
                vec![Action::Close]
            }
            (Failed, Input::Stop | Input::ResetFailed) => {
                self.state = Dead;
                self.result = SocketResult::Success;
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn fail(&mut self, why: SocketResult) -> Vec<Action> {
        self.state = SocketState::Failed;
        self.result = why;
        vec![Action::Close]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listening(now: Instant) -> SocketMachine {
        let mut m = SocketMachine::default();
        assert_eq!(
            m.handle(Input::Start { accept: false }, now),
            [Action::Bind]
        );
        assert_eq!(m.handle(Input::Bound, now), [Action::Watch]);
        assert_eq!(m.state, SocketState::Listening);
        m
    }

    #[test]
    fn a_connection_starts_the_service_and_its_end_rearms_the_watch() {
        let t = Instant::now();
        let mut m = listening(t);
        assert_eq!(
            m.handle(Input::Readable, t),
            [Action::Unwatch, Action::StartService]
        );
        assert_eq!(m.state, SocketState::Running);
        // A second readiness while the service runs does nothing.
        assert!(m.handle(Input::Readable, t).is_empty());
        let idle = Input::ServiceInactive {
            start_limit_hit: false,
        };
        assert_eq!(m.handle(idle, t), [Action::Watch]);
        assert_eq!(m.state, SocketState::Listening);
    }

    #[test]
    fn a_bind_failure_fails_the_socket_and_a_start_tries_again() {
        let t = Instant::now();
        let mut m = SocketMachine::default();
        m.handle(Input::Start { accept: false }, t);
        assert_eq!(m.handle(Input::BindFailed, t), [Action::Close]);
        assert_eq!(
            (m.state, m.result),
            (SocketState::Failed, SocketResult::Resources)
        );
        assert_eq!(m.handle(Input::Start { accept: false }, t), [Action::Bind]);
        assert_eq!(m.result, SocketResult::Success);
    }

    #[test]
    fn stop_closes_and_a_stopped_socket_ignores_readiness() {
        let t = Instant::now();
        let mut m = listening(t);
        assert_eq!(m.handle(Input::Stop, t), [Action::Close]);
        assert_eq!(m.state, SocketState::Dead);
        assert!(m.handle(Input::Readable, t).is_empty());
        assert!(m.handle(Input::Stop, t).is_empty());
    }

    #[test]
    fn a_service_started_by_hand_takes_the_socket_off_the_watch() {
        let t = Instant::now();
        let mut m = listening(t);
        assert_eq!(m.handle(Input::ServiceStarted, t), [Action::Unwatch]);
        assert_eq!(m.state, SocketState::Running);
    }

    #[test]
    fn twenty_triggers_in_two_seconds_is_the_limit() {
        let t = Instant::now();
        let mut m = listening(t);
        let idle = Input::ServiceInactive {
            start_limit_hit: false,
        };
        for i in 0..20 {
            let now = t + Duration::from_millis(50 * i);
            assert_eq!(
                m.handle(Input::Readable, now),
                [Action::Unwatch, Action::StartService],
                "trigger {i}"
            );
            m.handle(idle, now);
        }
        assert_eq!(
            m.handle(Input::Readable, t + Duration::from_millis(1000)),
            [Action::Close]
        );
        assert_eq!(m.result, SocketResult::TriggerLimitHit);
        // Spread out over time, triggers never hit it.
        let mut m = listening(t);
        for i in 0..100 {
            let now = t + Duration::from_millis(200 * i);
            assert_eq!(m.handle(Input::Readable, now).len(), 2, "trigger {i}");
            m.handle(idle, now);
        }
    }

    #[test]
    fn with_accept_each_readiness_accepts_and_the_socket_stays_listening() {
        let t = Instant::now();
        let mut m = SocketMachine::default();
        m.handle(Input::Start { accept: true }, t);
        m.handle(Input::Bound, t);
        for i in 0..200 {
            assert_eq!(
                m.handle(Input::Readable, t),
                [Action::Accept, Action::Watch],
                "trigger {i}"
            );
            assert_eq!(m.state, SocketState::Listening);
        }
        assert!(m.handle(Input::ServiceStarted, t).is_empty());
        assert_eq!(m.handle(Input::Readable, t), [Action::Close]);
        assert_eq!(m.result, SocketResult::TriggerLimitHit);
    }

    #[test]
    fn a_service_refused_by_its_start_limit_fails_the_socket() {
        let t = Instant::now();
        let mut m = listening(t);
        m.handle(Input::Readable, t);
        let refused = Input::ServiceInactive {
            start_limit_hit: true,
        };
        assert_eq!(m.handle(refused, t), [Action::Close]);
        assert_eq!(m.result, SocketResult::ServiceStartLimitHit);
        assert_eq!(m.handle(Input::ResetFailed, t), []);
        assert_eq!(m.state, SocketState::Dead);
    }
}
