//! One accept of a listening socket for the daemon's doors (the Unix socket and
//! the HTTP API), with the rule both need: stop when daimond stops, and after a
//! failed accept (EMFILE, ENFILE, ENOBUFS: the connection stays queued, so the
//! listener stays readable) wait a little instead of spinning on it.

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::sync::watch;

/// Pause after a failed accept: long enough to let descriptors free up, short
/// enough that a queued client barely notices.
const BACK_OFF: Duration = Duration::from_millis(50);

/// The next accepted connection, or `None` once `stop` turns true.
pub async fn next<T, F, Fut>(
    door: &str,
    stop: &mut watch::Receiver<bool>,
    mut accept: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => return None,
            a = accept() => a,
        };
        match accepted {
            Ok(conn) => return Some(conn),
            Err(e) => {
                tracing::warn!("{door}: accepting a connection failed: {e}");
                tokio::time::sleep(BACK_OFF).await;
            }
        }
    }
}
