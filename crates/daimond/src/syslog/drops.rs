//! Datagrams that could not be kept, and saying so in daimond's own log: at
//! most once per [`REPORT_EVERY`] (a flood must not become a flood of
//! warnings), and never left unsaid once the flood is over.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::Notify;

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
    pub async fn report(self: Rc<Self>) {
        loop {
            self.wake.notified().await;
            let n = self.count.get() - self.reported.get();
            if n == 0 {
                continue;
            }
            tracing::warn!(
                "{n} syslog messages dropped: they came faster than they could be stored"
            );
            self.reported.set(self.count.get());
            tokio::time::sleep(REPORT_EVERY).await;
        }
    }
}
