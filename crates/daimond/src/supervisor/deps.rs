//! The dependency graph between units, as pure functions (systemd.unit(5)).
//!
//! Owns what a request becomes: the jobs of a transaction (the start closure over
//! Requires=, Wants=, BindsTo= and Requisite=; the stop closure over the reverse
//! of Requires=, BindsTo= and PartOf=; Conflicts= both ways), their order
//! (After=/Before=), which failure fails which job, and ordering-cycle detection.
//! It reads a [`Universe`] snapshot that the owner builds and never touches a
//! process or the owner's state.
//!
//! Ordering cycles are refused rather than broken: systemd drops a job that is
//! not required to break a cycle at transaction time; daimon reports the cycle
//! when unit files are loaded and fails the start of every unit on it with the
//! cycle printed, because a cycle is a unit-file bug that a silently dropped job
//! hides.
//!
//! Units of other kinds (`.mount`, `.socket`, `.device`, `.slice`, ...) and
//! targets have no process here: a dependency on one is satisfied when daimon
//! does not manage it (targets are always-reached synchronisation points).

use std::collections::{BTreeMap, BTreeSet};

use daimon_proto::{ErrorKind, ErrorReply};
use daimon_unit::UnitSection;

use super::jobs::{Item, ItemState, Verb};

mod cycles;
pub use cycles::ordering_cycles;

/// What the graph knows of one unit.
#[derive(Debug, Clone, Default)]
pub struct Node<'a> {
    /// Its `[Unit]` section, when its file loaded.
    pub deps: Option<&'a UnitSection>,
    /// Why it cannot run (bad file, masked, a kind daimon does not run).
    pub refused: Option<String>,
    /// Not inactive or failed: running, starting, stopping or waiting to restart.
    pub active: bool,
}

/// Every known unit by name.
pub type Universe<'a> = BTreeMap<String, Node<'a>>;

/// A transaction's jobs, ready for [`super::jobs::Txn`].
#[derive(Debug, Default)]
pub struct Plan {
    pub items: Vec<Item>,
    /// Requested units refused before anything runs.
    pub early: BTreeMap<String, ErrorReply>,
    /// Units whose job failed before running (dependency, cycle, Requisite=):
    /// (unit, message), for their status.
    pub unstarted: Vec<(String, String)>,
    /// Debug notes (dependencies on units daimon does not manage).
    pub notes: Vec<String>,
}

/// A service is the only kind with processes here; targets are always reached.
pub fn is_service(name: &str) -> bool {
    name.ends_with(".service")
}

/// The message of a unit that did not start because `dep` failed with `error`:
/// `web.service failed to start: dependency db.service failed: <why db failed>`.
pub fn chain(unit: &str, dep: &str, error: &str) -> String {
    let prefix = format!("{dep} failed to start: ");
    let why = error.strip_prefix(&prefix).unwrap_or(error);
    format!("{unit} failed to start: dependency {dep} failed: {why}")
}

/// Whether `a` is ordered before `b` (`a` Before=`b` or `b` After=`a`).
fn ordered_before(u: &Universe<'_>, a: &str, b: &str) -> bool {
    let before = |x: &str, y: &str| {
        u.get(x)
            .and_then(|n| n.deps)
            .is_some_and(|d| d.before.iter().any(|n| n == y))
    };
    let after = |x: &str, y: &str| {
        u.get(x)
            .and_then(|n| n.deps)
            .is_some_and(|d| d.after.iter().any(|n| n == y))
    };
    a != b && (before(a, b) || after(b, a))
}

/// Builds the jobs of `verb` over `requested` (already resolved names).
pub fn plan(verb: Verb, requested: &[String], u: &Universe<'_>) -> Plan {
    let mut p = Planner {
        u,
        plan: Plan::default(),
        index: BTreeMap::new(),
        requested: requested.iter().cloned().collect(),
    };
    let starting = matches!(verb, Verb::Start | Verb::Restart);
    for name in requested {
        if p.index.contains_key(name) || p.plan.early.contains_key(name) {
            continue;
        }
        let node = u.get(name);
        if verb != Verb::Stop {
            if let Some(why) = node.and_then(|n| n.refused.clone()) {
                p.plan.early.insert(
                    name.clone(),
                    ErrorReply {
                        kind: ErrorKind::Failed,
                        message: why,
                    },
                );
                continue;
            }
            // A target without a file is always reached: nothing to do.
            if node.is_none() && !is_service(name) {
                continue;
            }
        }
        p.add(name, verb);
    }
    if verb == Verb::Restart {
        p.restart_closure();
    }
    if starting {
        p.start_closure();
        p.conflicts();
    }
    p.stop_closure();
    if starting {
        p.cycles_and_requisites();
    }
    p.finish();
    p.plan
}

struct Planner<'a, 'b> {
    u: &'b Universe<'a>,
    plan: Plan,
    index: BTreeMap<String, usize>,
    requested: BTreeSet<String>,
}

impl Planner<'_, '_> {
    fn add(&mut self, name: &str, verb: Verb) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.plan.items.len();
        self.plan.items.push(Item {
            unit: name.to_string(),
            verb,
            after: vec![],
            requires: vec![],
            state: ItemState::Pending,
        });
        self.index.insert(name.to_string(), i);
        i
    }

    fn fail(&mut self, i: usize, message: String) {
        let item = &mut self.plan.items[i];
        if matches!(item.state, ItemState::Done(Some(_))) {
            return;
        }
        item.state = ItemState::Done(Some(ErrorReply {
            kind: ErrorKind::Failed,
            message: message.clone(),
        }));
        self.plan.unstarted.push((item.unit.clone(), message));
    }

    fn deps(&self, name: &str) -> Option<&UnitSection> {
        self.u.get(name).and_then(|n| n.deps)
    }

    /// systemd.unit(5): starting a unit starts what it Requires=, Wants= and
    /// BindsTo=, and what those pull in, in turn.
    fn start_closure(&mut self) {
        let mut i = 0;
        while i < self.plan.items.len() {
            let item = &self.plan.items[i];
            if !matches!(item.verb, Verb::Start | Verb::Restart) {
                i += 1;
                continue;
            }
            let name = item.unit.clone();
            let Some(d) = self.deps(&name) else {
                i += 1;
                continue;
            };
            let strong: Vec<String> = d.requires.iter().chain(&d.binds_to).cloned().collect();
            let weak = d.wants.clone();
            for (dep, required) in strong
                .into_iter()
                .map(|n| (n, true))
                .chain(weak.into_iter().map(|n| (n, false)))
            {
                self.pull(&name, &dep, required);
            }
            i += 1;
        }
    }

    fn pull(&mut self, by: &str, dep: &str, required: bool) {
        if self.index.contains_key(dep) {
            return;
        }
        match self.u.get(dep) {
            Some(n) if n.refused.is_none() && n.deps.is_some() => {
                self.add(dep, Verb::Start);
            }
            // Targets, mounts, sockets, devices, slices...: daimon does not manage
            // them, so a dependency on one is satisfied.
            _ if !is_service(dep) => {
                if required {
                    self.plan.notes.push(format!(
                        "{by}: requirement {dep} is not a service daimon runs; treated as met"
                    ));
                }
            }
            // Wants= of a unit that cannot start is dropped; the wanter goes on.
            _ if !required => {}
            Some(n) => {
                let why = n
                    .refused
                    .clone()
                    .unwrap_or_else(|| "cannot be loaded".into());
                let i = self.add(dep, Verb::Start);
                self.fail(i, format!("{dep} failed to start: {why}"));
            }
            None => {
                let i = self.add(dep, Verb::Start);
                self.fail(i, format!("{dep} failed to start: unit not found"));
            }
        }
    }

    /// systemd.unit(5) Conflicts=: starting one stops the other, either way round
    /// it is declared. A conflict inside the transaction fails the pulled-in side.
    fn conflicts(&mut self) {
        let starts: Vec<(usize, String)> = self
            .plan
            .items
            .iter()
            .enumerate()
            .filter(|(_, it)| matches!(it.verb, Verb::Start | Verb::Restart))
            .map(|(i, it)| (i, it.unit.clone()))
            .collect();
        for (i, name) in starts {
            let mut others: BTreeSet<String> = self
                .deps(&name)
                .map(|d| d.conflicts.iter().cloned().collect())
                .unwrap_or_default();
            for (other, n) in self.u {
                if n.deps.is_some_and(|d| d.conflicts.contains(&name)) {
                    others.insert(other.clone());
                }
            }
            for other in others {
                if other == name {
                    continue;
                }
                match self.index.get(&other).copied() {
                    Some(j) if matches!(self.plan.items[j].verb, Verb::Stop) => {}
                    Some(j) => {
                        // Both would start: the one the user asked for wins.
                        let (loser, winner) = if self.requested.contains(&other) {
                            (i, other.clone())
                        } else {
                            (j, name.clone())
                        };
                        let unit = self.plan.items[loser].unit.clone();
                        self.fail(
                            loser,
                            format!("{unit} failed to start: it conflicts with {winner}"),
                        );
                    }
                    None => {
                        if self.u.get(&other).is_some_and(|n| n.active) {
                            self.add(&other, Verb::Stop);
                        }
                    }
                }
            }
        }
    }

    /// systemd.unit(5): stopping a unit stops the units that Require=, BindsTo=
    /// or are PartOf= it (and Requisite= it), transitively.
    fn stop_closure(&mut self) {
        let mut i = 0;
        while i < self.plan.items.len() {
            if self.plan.items[i].verb != Verb::Stop {
                i += 1;
                continue;
            }
            let name = self.plan.items[i].unit.clone();
            for d in self.dependents(&name) {
                self.add(&d, Verb::Stop);
            }
            i += 1;
        }
    }

    /// systemd.unit(5) Requires=, BindsTo=, PartOf=: a restart is propagated to the
    /// active units that depend on the restarted one. A restart here is one job
    /// (stop, then start), so a dependent ordered After= it restarts once it is
    /// back, rather than stopping before it as systemd's split jobs would.
    fn restart_closure(&mut self) {
        let mut i = 0;
        while i < self.plan.items.len() {
            if self.plan.items[i].verb != Verb::Restart {
                i += 1;
                continue;
            }
            let name = self.plan.items[i].unit.clone();
            for d in self.dependents(&name) {
                self.add(&d, Verb::Restart);
            }
            i += 1;
        }
    }

    /// Active units that Require=, BindsTo=, are PartOf= or Requisite= `name`,
    /// without a job yet.
    fn dependents(&self, name: &str) -> Vec<String> {
        self.u
            .iter()
            .filter(|(other, n)| {
                n.active
                    && !self.index.contains_key(other.as_str())
                    && n.deps.is_some_and(|d| {
                        let names = |v: &Vec<String>| v.iter().any(|x| x == name);
                        names(&d.requires)
                            || names(&d.binds_to)
                            || names(&d.part_of)
                            || names(&d.requisite)
                    })
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// A start job of a unit on an ordering cycle fails with the cycle; one whose
    /// Requisite= is not active (and not started here) fails too.
    fn cycles_and_requisites(&mut self) {
        let cycles = ordering_cycles(self.u);
        for i in 0..self.plan.items.len() {
            let item = &self.plan.items[i];
            if !matches!(item.verb, Verb::Start | Verb::Restart) {
                continue;
            }
            let name = item.unit.clone();
            if let Some(c) = cycles.get(&name) {
                self.fail(i, format!("{name} failed to start: {c}"));
                continue;
            }
            let requisites = self
                .deps(&name)
                .map(|d| d.requisite.clone())
                .unwrap_or_default();
            for r in requisites {
                let starting_here = self
                    .index
                    .get(&r)
                    .is_some_and(|&j| self.plan.items[j].verb != Verb::Stop);
                let met = starting_here
                    || !is_service(&r) && self.u.get(&r).is_none_or(|n| n.refused.is_some())
                    || self.u.get(&r).is_some_and(|n| n.active);
                if !met {
                    self.fail(
                        i,
                        format!(
                            "{name} failed to start: dependency {r} is not active (Requisite=)"
                        ),
                    );
                }
            }
        }
    }

    /// Ordering and failure edges between the jobs.
    fn finish(&mut self) {
        let n = self.plan.items.len();
        let mut edges = Vec::new();
        for a in 0..n {
            for b in 0..n {
                let (ua, ub) = (&self.plan.items[a].unit, &self.plan.items[b].unit);
                if !ordered_before(self.u, ua, ub) {
                    continue;
                }
                let (va, vb) = (self.plan.items[a].verb, self.plan.items[b].verb);
                // systemd's job_compare(): with an ordering between two units, a
                // stop job always goes first; two stops run in reverse order.
                let edge = match (va == Verb::Stop, vb == Verb::Stop) {
                    (false, false) => (a, b),
                    (true, true) => (b, a),
                    (true, false) => (a, b),
                    (false, true) => (b, a),
                };
                edges.push(edge);
            }
        }
        // Conflicts= implies no order, but the stop must end before the start
        // begins, or both would run at once.
        for s in 0..n {
            if self.plan.items[s].verb == Verb::Stop {
                continue;
            }
            for c in 0..n {
                if self.plan.items[c].verb != Verb::Stop {
                    continue;
                }
                let (us, uc) = (&self.plan.items[s].unit, &self.plan.items[c].unit);
                let conflict = |x: &str, y: &String| {
                    self.u
                        .get(x)
                        .and_then(|n| n.deps)
                        .is_some_and(|d| d.conflicts.contains(y))
                };
                if conflict(us, uc) || conflict(uc, us) {
                    edges.push((c, s));
                }
            }
        }
        super::jobs::order(&mut self.plan.items, &edges);
        // Requires=/BindsTo=/Requisite=: a failed start fails the dependent start.
        for i in 0..n {
            if self.plan.items[i].verb == Verb::Stop {
                continue;
            }
            let Some(d) = self.deps(&self.plan.items[i].unit) else {
                continue;
            };
            let strong: Vec<usize> = d
                .requires
                .iter()
                .chain(&d.binds_to)
                .chain(&d.requisite)
                .filter_map(|r| self.index.get(r).copied())
                .filter(|&j| j != i && self.plan.items[j].verb != Verb::Stop)
                .collect();
            self.plan.items[i].requires.extend(strong);
        }
    }
}

#[cfg(test)]
mod tests;
