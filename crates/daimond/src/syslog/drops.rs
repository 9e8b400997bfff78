//! Datagrams that could not be kept, and saying so in daimond's own log: at
//! most once per [`REPORT_EVERY`] (a flood must not become a flood of
//! warnings), and never left unsaid once the flood is over. The report goes
//! to the log writer from this task, which waits for room: through `tracing`
//! it would be dropped (only counted) when the writer's queue is full, as it
//! is during the very flood it reports.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::log_writer::{LogMsg, LogSender};
use crate::selflog;

/// Drops are reported at most this often.
const REPORT_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct Drops {
    count: Cell<u64>,
    reported: Cell<u64>,
    wake: Notify,
}

impl Drops {
    /// One more datagram dropped.
    pub fn add(&self) {
        self.count.set(self.count.get() + 1);
        // Stores a permit when the reporter is pausing: it reports after.
        self.wake.notify_one();
    }

    /// Reports drops as they happen; runs for daimond's life.
    pub async fn report(self: Rc<Self>, log: LogSender) {
        loop {
            self.wake.notified().await;
            let n = self.count.get() - self.reported.get();
            if n == 0 {
                continue;
            }
            self.reported.set(self.count.get());
            let msg = LogMsg::Message {
                unit: selflog::UNIT.to_string(),
                invocation: None,
                priority: 4,
                text: format!(
                    "{n} syslog messages dropped: they came faster than they could be stored"
                ),
            };
            if log.tx.send(msg).await.is_err() {
                return;
            }
            tokio::time::sleep(REPORT_EVERY).await;
        }
    }
}
