//! daimond's own diagnostics: `tracing` events become log-store lines of unit
//! `daimond` (as systemd logs about itself in the journal).
//!
//! Owns: the global `tracing` subscriber. Each event is rendered to one line and
//! handed to the log writer with a non-blocking `try_send`: the event loop must
//! never wait on storage, so what does not fit in the channel is counted (and the
//! count reported in the next line that does get through) rather than awaited.
//! Until the log writer runs, and always in `--foreground` mode, lines also go to
//! stderr, where a supervisor of daimond itself (systemd, a container) collects them.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};

use crate::log_writer::{LogMsg, LogSender};

/// The unit name daimond's own lines are stored under.
pub const UNIT: &str = "daimond";

struct Shared {
    sender: Mutex<Option<LogSender>>,
    stderr: bool,
    dropped: AtomicU64,
}

/// Handle to the installed subscriber, to connect it to the log writer.
#[derive(Clone)]
pub struct SelfLog {
    shared: Arc<Shared>,
}

impl SelfLog {
    /// Installs the global subscriber. `stderr`: also print every line there.
    /// The level comes from `DAIMOND_LOG` (`error`..`trace`), default `info`.
    pub fn install(stderr: bool) -> SelfLog {
        let shared = Arc::new(Shared {
            sender: Mutex::new(None),
            stderr,
            dropped: AtomicU64::new(0),
        });
        let level = std::env::var("DAIMOND_LOG")
            .ok()
            .and_then(|v| v.parse::<LevelFilter>().ok())
            .unwrap_or(LevelFilter::INFO);
        let layer = StoreLayer {
            shared: shared.clone(),
        }
        .with_filter(level);
        let subscriber = tracing_subscriber::registry().with(layer);
        // Fails only if a subscriber is already installed (never in the daemon).
        let _ = tracing::subscriber::set_global_default(subscriber);
        SelfLog { shared }
    }

    /// From now on lines go to the log store.
    pub fn attach(&self, sender: LogSender) {
        *lock(&self.shared.sender) = Some(sender);
    }

    /// Stops sending to the log store (before the writer is finished), so this
    /// handle holds no sender that would keep the writer's channel open.
    pub fn detach(&self) {
        lock(&self.shared.sender).take();
    }

    /// Lines that could not be handed to the log store.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct StoreLayer {
    shared: Arc<Shared>,
}

/// syslog priority of a tracing level.
fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// Renders `message` first, then other fields as ` key=value`.
#[derive(Default)]
struct LineVisitor {
    message: String,
    fields: String,
}

impl Visit for LineVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

impl<S: Subscriber> Layer<S> for StoreLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut v = LineVisitor::default();
        event.record(&mut v);
        let mut text = v.message;
        text.push_str(&v.fields);
        let prio = priority(event.metadata().level());
        if self.shared.stderr {
            let _ = writeln!(std::io::stderr().lock(), "daimond: {text}");
        }
        let guard = lock(&self.shared.sender);
        let Some(sender) = guard.as_ref() else {
            return;
        };
        let lost = self.shared.dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            text.push_str(&format!(
                " ({lost} earlier daimond messages could not be stored)"
            ));
        }
        let msg = LogMsg::Message {
            unit: UNIT.to_string(),
            invocation: None,
            priority: prio,
            text,
        };
        if sender.tx.try_send(msg).is_err() {
            self.shared.dropped.fetch_add(lost + 1, Ordering::Relaxed);
        }
    }
}
