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
        // Who declares a conflict with whom, read once (few units declare any).
        let mut declared_by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (other, n) in self.u {
            for c in n.deps.map(|d| d.conflicts.as_slice()).unwrap_or_default() {
                declared_by
                    .entry(c.as_str())
                    .or_default()
                    .push(other.as_str());
            }
        }
        for (i, name) in starts {
            let mut others: BTreeSet<String> = self
                .deps(&name)
                .map(|d| d.conflicts.iter().cloned().collect())
                .unwrap_or_default();
            for other in declared_by.get(name.as_str()).into_iter().flatten() {
                others.insert((*other).to_string());
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
        let reverse = self.reverse_dependencies();
        let mut i = 0;
        while i < self.plan.items.len() {
            if self.plan.items[i].verb != Verb::Stop {
                i += 1;
                continue;
            }
            let name = self.plan.items[i].unit.clone();
            for d in self.dependents(&reverse, &name) {
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
        let reverse = self.reverse_dependencies();
        let mut i = 0;
        while i < self.plan.items.len() {
            if self.plan.items[i].verb != Verb::Restart {
                i += 1;
                continue;
            }
            let name = self.plan.items[i].unit.clone();
            for d in self.dependents(&reverse, &name) {
                self.add(&d, Verb::Restart);
            }
            i += 1;
        }
    }

    /// For each unit, the active units that Require=, BindsTo=, are PartOf=
    /// or Requisite= it: read once per plan, so stopping N units does not scan
    /// every unit N times.
    fn reverse_dependencies(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (other, n) in self.u {
            let Some(d) = n.deps.filter(|_| n.active) else {
                continue;
            };
            let targets = d
                .requires
                .iter()
                .chain(&d.binds_to)
                .chain(&d.part_of)
                .chain(&d.requisite);
            for t in targets {
                let list = out.entry(t.clone()).or_default();
                if !list.contains(other) {
                    list.push(other.clone());
                }
            }
        }
        out
    }

    /// Active units depending on `name` (see above) without a job yet.
    fn dependents(&self, reverse: &BTreeMap<String, Vec<String>>, name: &str) -> Vec<String> {
        reverse
            .get(name)
            .into_iter()
            .flatten()
            .filter(|other| !self.index.contains_key(other.as_str()))
            .cloned()
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
        // Each job's own After=/Before=/Conflicts= lists name the jobs it is
        // ordered against (looked up in the index), so ordering N jobs costs
        // their dependencies, not N x N comparisons.
        let mut edges = BTreeSet::new();
        for a in 0..n {
            let Some(d) = self.deps(&self.plan.items[a].unit) else {
                continue;
            };
            let others = |list: &Vec<String>| -> Vec<usize> {
                list.iter()
                    .filter_map(|x| self.index.get(x).copied())
                    .filter(|&b| b != a)
                    .collect()
            };
            // (first, then): `a` Before= `b`, and `b` After= ... is `b`'s own list.
            let pairs = others(&d.before)
                .into_iter()
                .map(|b| (a, b))
                .chain(others(&d.after).into_iter().map(|b| (b, a)));
            for (x, y) in pairs {
                let (vx, vy) = (self.plan.items[x].verb, self.plan.items[y].verb);
                // systemd's job_compare(): with an ordering between two units, a
                // stop job always goes first; two stops run in reverse order.
                let edge = match (vx == Verb::Stop, vy == Verb::Stop) {
                    (false, false) => (x, y),
                    (true, true) => (y, x),
                    (true, false) => (x, y),
                    (false, true) => (y, x),
                };
                edges.insert(edge);
            }
            // Conflicts= implies no order, but the stop must end before the
            // start begins, or both would run at once (either side may say it).
            for b in others(&d.conflicts) {
                match (
                    self.plan.items[a].verb == Verb::Stop,
                    self.plan.items[b].verb == Verb::Stop,
                ) {
                    (false, true) => {
                        edges.insert((b, a));
                    }
                    (true, false) => {
                        edges.insert((a, b));
                    }
                    _ => {}
                }
            }
        }
        let edges: Vec<(usize, usize)> = edges.into_iter().collect();
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
