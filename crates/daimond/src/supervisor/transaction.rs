//! The owner's side of the dependency graph.
//!
//! Owns turning a request into a running [`Txn`] (a snapshot of the units for
//! [`deps::plan`], loading template instances that dependencies name), the
//! runtime half of BindsTo= (a unit whose bound unit stopped or failed is
//! stopped) and the report of ordering cycles when unit files are (re)loaded.

use std::collections::BTreeMap;

use super::deps::{self, Node, Universe};
use super::jobs::{Reply, Txn, Verb};
use super::machine::{Event, JobKind};
use super::owner::Owner;

impl Owner {
    /// Builds and starts a transaction over `names` with what they pull in
    /// (systemd.unit(5) Requires=/Wants=/BindsTo=/Conflicts=; for stop, the
    /// units that Require=/BindsTo=/are PartOf= them), ordered by After=/Before=.
    pub fn run_txn(&mut self, verb: Verb, names: Vec<String>, reply: Reply) {
        if verb != Verb::Stop {
            self.load_dependencies(&names);
        }
        let plan = deps::plan(verb, &names, &self.universe());
        for note in &plan.notes {
            tracing::debug!("{note}");
        }
        let txn = Txn {
            items: plan.items,
            reply,
            early: plan.early,
            order: names,
            unstarted: plan.unstarted,
        };
        let id = self.units.add_txn(txn);
        self.advance(id);
    }

    /// Units a start pulls in may be template instances not loaded yet.
    fn load_dependencies(&mut self, names: &[String]) {
        let mut todo: Vec<String> = names.to_vec();
        let mut seen = std::collections::BTreeSet::new();
        while let Some(name) = todo.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let Some(u) = self.units.get(&name).and_then(|e| e.loaded().cloned()) else {
                continue;
            };
            let d = &u.unit;
            for dep in d.requires.iter().chain(&d.wants).chain(&d.binds_to) {
                if !deps::is_service(dep) {
                    continue;
                }
                if self.units.contains_key(dep) || self.resolve(dep).is_ok() {
                    todo.push(dep.clone());
                }
            }
        }
    }

    /// What the graph needs to know of every unit.
    pub(super) fn universe(&self) -> Universe<'_> {
        self.units
            .iter()
            .map(|(name, e)| {
                let node = Node {
                    deps: e.loaded().or(e.def_unit()).map(|u| &u.unit),
                    refused: self.refusal(name).map(|r| r.message),
                    active: !e.is_idle()
                        || self.timers.is_started(name)
                        || self.sockets.runs.contains_key(name)
                        || self.path_units.runs.contains_key(name),
                };
                (name.clone(), node)
            })
            .collect()
    }

    /// A job event for a unit that has no service definition (a bad or missing
    /// file, a name that can never be loaded) finishes its job at once: a stop
    /// of what does not run succeeds, anything else fails with the reason. The
    /// machine is never fed, since it has nothing to run or stop.
    pub(super) fn job_without_definition(&mut self, unit: &str, ev: &Event) {
        let kind = match ev {
            Event::Start { .. } | Event::Restart => JobKind::Start,
            Event::Stop => JobKind::Stop,
            Event::Reload => JobKind::Reload,
            _ => return,
        };
        let idle = self.units.get(unit).is_none_or(|e| e.is_idle());
        let error = if kind == JobKind::Stop && idle {
            None
        } else {
            Some(self.refusal(unit).map_or_else(
                || format!("{unit} has no service definition to run"),
                |r| r.message,
            ))
        };
        self.job_done(unit, kind, error);
    }

    /// systemd.unit(5) BindsTo=: when `unit` stopped or failed (and is not about
    /// to start again), the units bound to it are stopped too.
    pub(super) fn stop_bound(&mut self, unit: &str) {
        if self.shutting_down {
            return;
        }
        let bound: Vec<String> = self
            .units
            .values()
            .filter(|e| {
                !e.is_idle()
                    && e.machine.state.active_state() != daimon_proto::ActiveState::Deactivating
                    && e.def_unit()
                        .is_some_and(|u| u.unit.binds_to.iter().any(|b| b == unit))
            })
            .map(|e| e.name.clone())
            .collect();
        for b in bound {
            self.message(
                &b,
                5,
                format!("{b}: stopping, because {unit} it is bound to (BindsTo=) is inactive"),
            );
            self.run_txn(Verb::Stop, vec![b], Reply::Nobody);
        }
    }

    /// After unit files are (re)loaded: every ordering cycle is logged, and the
    /// status of each idle unit on one says so until the files are fixed.
    pub(super) fn report_cycles(&mut self) {
        let cycles: BTreeMap<String, String> = deps::ordering_cycles(&self.universe());
        let mut printed = std::collections::BTreeSet::new();
        for c in cycles.values() {
            if printed.insert(c.clone()) {
                tracing::warn!("{c}; units on it will not start until it is broken");
            }
        }
        for e in self.units.values_mut() {
            let idle = e.machine.state.is_inactive();
            let stale = e
                .machine
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("ordering cycle: "));
            match cycles.get(&e.name) {
                Some(c) if idle && (stale || e.machine.reason.is_none()) => {
                    e.machine.reason = Some(format!("{} failed to start: {c}", e.name));
                }
                None if stale => e.machine.reason = None,
                _ => {}
            }
        }
    }
}
