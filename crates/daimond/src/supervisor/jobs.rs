//! Transactions: one client request over several units, in dependency order.
//!
//! Owns [`Txn`]: the jobs of one request (each a verb on a unit; which jobs a
//! request becomes is decided by [`super::deps::plan`]), which must wait for which,
//! which failures propagate (Requires=, BindsTo=: `web.service failed to start:
//! dependency db.service failed: ...`), and the reply once every job is done.

use std::collections::BTreeMap;

use daimon_proto::{ErrorKind, ErrorReply, JobResult, Response};
use tokio::sync::oneshot;

use super::machine::JobKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Start,
    Stop,
    Restart,
    Reload,
}

impl Verb {
    /// The job whose completion answers this verb.
    pub fn job(self) -> JobKind {
        match self {
            Verb::Start | Verb::Restart => JobKind::Start,
            Verb::Stop => JobKind::Stop,
            Verb::Reload => JobKind::Reload,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemState {
    Pending,
    Issued,
    Done(Option<ErrorReply>),
}

#[derive(Debug)]
pub struct Item {
    pub unit: String,
    /// This job's verb: a start may stop conflicting units, a stop stops dependents.
    pub verb: Verb,
    /// Items that must be done before this one is issued.
    pub after: Vec<usize>,
    /// Items whose failure fails this one (Requires=).
    pub requires: Vec<usize>,
    pub state: ItemState,
}

/// Who gets the outcome.
pub enum Reply {
    Client(oneshot::Sender<Response>),
    Shutdown(oneshot::Sender<()>),
    /// Enabled units started by the daemon itself.
    Nobody,
}

pub struct Txn {
    pub items: Vec<Item>,
    pub reply: Reply,
    /// Results decided before the transaction ran (e.g. a bad unit file), by unit.
    pub early: BTreeMap<String, ErrorReply>,
    /// The order the client named units in, for the reply.
    pub order: Vec<String>,
    /// Units failed without running (a dependency failed), not yet told to
    /// their status: (unit, message).
    pub unstarted: Vec<(String, String)>,
}

impl Txn {
    pub fn index_of(&self, unit: &str) -> Option<usize> {
        self.items.iter().position(|i| i.unit == unit)
    }

    /// Items that may be issued now; marks them issued. Items whose required
    /// dependency failed are failed instead.
    pub fn ready(&mut self) -> Vec<usize> {
        let mut out = Vec::new();
        loop {
            let mut progressed = false;
            for i in 0..self.items.len() {
                if self.items[i].state != ItemState::Pending {
                    continue;
                }
                let waiting = self.items[i]
                    .after
                    .iter()
                    .any(|&p| !matches!(self.items[p].state, ItemState::Done(_)));
                if waiting {
                    continue;
                }
                let failed_dep =
                    self.items[i]
                        .requires
                        .iter()
                        .find_map(|&p| match &self.items[p].state {
                            ItemState::Done(Some(e)) => {
                                Some((self.items[p].unit.clone(), e.message.clone()))
                            }
                            _ => None,
                        });
                if let Some((dep, why)) = failed_dep {
                    // systemd.unit(5) Requires=: with After= on the failing unit,
                    // this unit is not started.
                    let unit = self.items[i].unit.clone();
                    let message = super::deps::chain(&unit, &dep, &why);
                    self.unstarted.push((unit, message.clone()));
                    self.items[i].state = ItemState::Done(Some(ErrorReply {
                        kind: ErrorKind::Failed,
                        message,
                    }));
                    progressed = true;
                    continue;
                }
                self.items[i].state = ItemState::Issued;
                out.push(i);
            }
            if !progressed {
                return out;
            }
        }
    }

    pub fn finish_item(&mut self, i: usize, error: Option<String>) {
        let error = error.map(|message| ErrorReply {
            kind: ErrorKind::Failed,
            message,
        });
        if let Some(item) = self.items.get_mut(i) {
            item.state = ItemState::Done(error);
        }
    }

    pub fn is_complete(&self) -> bool {
        self.items
            .iter()
            .all(|i| matches!(i.state, ItemState::Done(_)))
    }

    /// Per requested unit, in the order the client named them.
    pub fn results(&self) -> Vec<JobResult> {
        // By name once: a transaction of N units answers in N lookups, not N x N.
        let by_unit: std::collections::HashMap<&str, &ItemState> = self
            .items
            .iter()
            .rev()
            .map(|i| (i.unit.as_str(), &i.state))
            .collect();
        self.order
            .iter()
            .map(|unit| {
                let error = self.early.get(unit).cloned().or_else(|| {
                    by_unit.get(unit.as_str()).and_then(|s| match s {
                        ItemState::Done(e) => e.clone(),
                        _ => None,
                    })
                });
                JobResult {
                    unit: unit.clone(),
                    error,
                }
            })
            .collect()
    }

    /// Sends the outcome to whoever waits.
    pub fn respond(self) {
        let results = self.results();
        match self.reply {
            Reply::Client(tx) => {
                let _ = tx.send(Response::Jobs(results));
            }
            Reply::Shutdown(tx) => {
                let _ = tx.send(());
            }
            Reply::Nobody => {}
        }
    }
}

/// Adds ordering edges `(first, then)`: `then` waits for `first`. An edge that
/// would close a loop is left out (the graph refuses units on ordering cycles
/// before this; what remains are stop/start mixes that must still progress).
pub fn order(items: &mut [Item], edges: &[(usize, usize)]) {
    for &(first, then) in edges {
        if first != then
            && !items[then].after.contains(&first)
            && !creates_cycle(items, first, then)
        {
            items[then].after.push(first);
        }
    }
}

/// Whether `then` already (transitively) precedes `first`.
fn creates_cycle(items: &[Item], first: usize, then: usize) -> bool {
    let mut stack = vec![first];
    let mut seen = vec![false; items.len()];
    while let Some(n) = stack.pop() {
        if n == then {
            return true;
        }
        if std::mem::replace(&mut seen[n], true) {
            continue;
        }
        stack.extend(items[n].after.iter().copied());
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(unit: &str) -> Item {
        Item {
            unit: unit.into(),
            verb: Verb::Start,
            after: vec![],
            requires: vec![],
            state: ItemState::Pending,
        }
    }

    fn txn(items: Vec<Item>) -> Txn {
        let order = items.iter().map(|i| i.unit.clone()).collect();
        Txn {
            items,
            reply: Reply::Nobody,
            early: BTreeMap::new(),
            order,
            unstarted: vec![],
        }
    }

    #[test]
    fn after_orders_start_and_reverses_stop() {
        let mut items = vec![item("db"), item("app")];
        order(&mut items, &[(0, 1)]);
        let mut t = txn(items);
        assert_eq!(t.ready(), vec![0]);
        t.finish_item(0, None);
        assert_eq!(t.ready(), vec![1]);

        let mut items = vec![item("db"), item("app")];
        order(&mut items, &[(1, 0)]);
        let mut t = txn(items);
        assert_eq!(t.ready(), vec![1]);
    }

    #[test]
    fn required_failure_propagates() {
        let mut items = vec![item("db"), item("app")];
        items[1].requires.push(0);
        order(&mut items, &[(0, 1)]);
        let mut t = txn(items);
        assert_eq!(t.ready(), vec![0]);
        t.finish_item(0, Some("db failed to start: exited with status 1".into()));
        assert!(t.ready().is_empty());
        assert!(t.is_complete());
        let r = t.results();
        assert!(r[1].error.as_ref().is_some_and(
            |e| e.message == "app failed to start: dependency db failed: exited with status 1"
        ));
        assert_eq!(t.unstarted.len(), 1);
    }

    #[test]
    fn cycles_are_broken() {
        let mut items = vec![item("a"), item("b")];
        order(&mut items, &[(0, 1), (1, 0)]);
        let mut t = txn(items);
        assert_eq!(t.ready(), vec![0]);
    }
}
