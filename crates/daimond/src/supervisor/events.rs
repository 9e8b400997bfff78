//! Unit state changes as a stream, for the doors that show them live (the HTTP
//! API's `/api/events`; later the dashboard and `top`).
//!
//! A bounded `broadcast` channel fed by the owner where it records a state
//! change: sending never waits, and a subscriber that falls more than
//! [`CAPACITY`] changes behind learns it (`Lagged`) and is dropped by its door
//! with a reason. With nobody subscribed, nothing is built or sent.

use serde::Serialize;
use tokio::sync::broadcast;

/// Changes kept for subscribers that have not read them yet.
pub const CAPACITY: usize = 1024;

/// One state change of one unit (the JSON of an `/api/events` event).
#[derive(Debug, Clone, Serialize)]
pub struct UnitEvent {
    pub unit: String,
    pub state: daimon_proto::ActiveState,
    pub sub_state: &'static str,
    pub pid: Option<u32>,
    pub restarts: u32,
    /// When it changed, RFC 3339.
    pub time: String,
}

/// The sending side, kept by the owner.
#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<UnitEvent>,
}

impl Default for Events {
    fn default() -> Events {
        Events {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Events {
    pub fn subscribe(&self) -> broadcast::Receiver<UnitEvent> {
        self.tx.subscribe()
    }

    /// Publishes a change; `make` runs only when someone listens.
    pub fn changed(&self, make: impl FnOnce() -> UnitEvent) {
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(make());
        }
    }
}
