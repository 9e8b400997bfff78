//! The owner's log plumbing: messages about units, kept for the end of the
//! loop turn and then handed to the log writer without ever blocking, and the
//! writer's sender that each service output pipe gets a copy of.

use std::cell::RefCell;

use tokio::sync::mpsc;

use super::Owner;
use crate::log_writer::{LogMsg, LogSender};

pub(super) struct Logs {
    sender: LogSender,
    /// Messages of this loop turn, sent when it ends ([`Owner::flush_messages`]):
    /// waking the writer thread in the middle of a turn would let it take the
    /// CPU from a service being started or restarted right then.
    turn: RefCell<Vec<LogMsg>>,
}

impl Logs {
    pub(super) fn new(sender: LogSender) -> Logs {
        Logs {
            sender,
            turn: RefCell::new(Vec::new()),
        }
    }

    /// A sender for a service's output pipe.
    pub(super) fn sender(&self) -> LogSender {
        self.sender.clone()
    }

    fn flush(&self) {
        let mut pending = std::mem::take(&mut *self.turn.borrow_mut()).into_iter();
        for msg in pending.by_ref() {
            if let Err(mpsc::error::TrySendError::Full(msg)) = self.sender.tx.try_send(msg) {
                // Never block the owner on storage: the rest wait, in order, in
                // a task of their own.
                let rest: Vec<LogMsg> = std::iter::once(msg).chain(pending).collect();
                let tx = self.sender.tx.clone();
                tokio::task::spawn_local(async move {
                    for msg in rest {
                        if tx.send(msg).await.is_err() {
                            break;
                        }
                    }
                });
                return;
            }
        }
    }
}

impl Owner {
    /// A message about a unit, stored under the unit's name.
    pub fn message(&self, unit: &str, priority: u8, text: String) {
        let invocation = self
            .units
            .get(unit)
            .map(|e| e.invocation.clone())
            .filter(|i| !i.is_empty());
        self.logs.turn.borrow_mut().push(LogMsg::Message {
            unit: unit.to_string(),
            invocation,
            priority,
            text,
        });
    }

    /// A sender to the log writer, for a task that may wait for room (never
    /// the owner itself).
    pub fn log_sender(&self) -> LogSender {
        self.logs.sender()
    }

    /// Hands a record to the log writer at once, never waiting: false when its
    /// queue is full (the caller counts what it drops, as syslog does).
    pub fn try_log(&self, msg: LogMsg) -> bool {
        self.logs.sender.tx.try_send(msg).is_ok()
    }

    /// Hands this turn's messages to the log writer, in order.
    pub fn flush_messages(&self) {
        self.logs.flush();
    }
}
