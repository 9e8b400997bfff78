//! The owner's side of `--watch` (`X-DaimonWatch=`): a running service with
//! watched paths has a [`TreeWatch`]; a burst of changes restarts it once,
//! after the debounce, with a message naming the file that changed.

use std::time::Instant;

use super::jobs::{Reply, Verb};
use super::owner::Owner;
use super::watch::{self, TreeWatch};

impl Owner {
    /// After events were handled: running services with watched paths are
    /// watched, stopped ones no longer (a restart in progress keeps its watch).
    pub fn watches_after_events(&mut self) {
        type Wanted = (String, Vec<std::path::PathBuf>, Vec<String>);
        let wanted: Vec<Wanted> = self
            .units
            .values()
            .filter(|e| !e.is_idle())
            .filter_map(|e| {
                let svc = e.def_unit()?.service()?;
                (!svc.watch.is_empty())
                    .then(|| (e.name.clone(), svc.watch.clone(), svc.watch_ignore.clone()))
            })
            .filter(|(n, _, _)| !self.watches.by_service.contains_key(n))
            .collect();
        for (name, roots, globs) in wanted {
            let Some(tx) = self.watches.tx.clone() else {
                return;
            };
            let skip = vec![self.paths().state.clone(), self.paths().runtime.clone()];
            match TreeWatch::start(&name, &roots, &globs, skip, &tx) {
                Ok(w) => {
                    self.watches.by_service.insert(name, w);
                }
                Err(e) => self.message(&name, 3, format!("{name}: --watch: {e}")),
            }
        }
        if self.watches.by_service.is_empty() {
            return;
        }
        let gone: Vec<String> = self
            .watches
            .by_service
            .iter()
            .filter(|(n, w)| w.burst.is_none() && self.units.get(*n).is_none_or(|e| e.is_idle()))
            .filter(|(n, _)| !self.unit_busy(n))
            .map(|(n, _)| n.clone())
            .collect();
        for n in gone {
            self.watches.by_service.remove(&n);
        }
    }

    /// Events of a service's tree watch: a change starts or extends a burst.
    pub fn on_watch_events(
        &mut self,
        (service, events): (String, Vec<nix::sys::inotify::InotifyEvent>),
    ) {
        let Some(w) = self.watches.by_service.get_mut(&service) else {
            return;
        };
        let changes = w.changes(&events);
        let Some(first_path) = changes.into_iter().next() else {
            return;
        };
        let now = Instant::now();
        w.burst = Some(match w.burst.take() {
            Some((first, _, path)) => (first, now, path),
            None => (now, now, first_path),
        });
    }

    /// When the next debounced restart is due.
    pub fn watch_deadline(&self) -> Option<Instant> {
        self.watches
            .by_service
            .values()
            .filter_map(|w| w.burst.as_ref().map(|(f, l, _)| watch::due(*f, *l)))
            .min()
    }

    /// Restarts every service whose burst of changes is over.
    pub fn on_watch_deadline(&mut self) {
        let now = Instant::now();
        let due: Vec<(String, std::path::PathBuf)> = self
            .watches
            .by_service
            .iter_mut()
            .filter(|(_, w)| {
                w.burst
                    .as_ref()
                    .is_some_and(|(f, l, _)| watch::due(*f, *l) <= now)
            })
            .filter_map(|(n, w)| w.burst.take().map(|(_, _, p)| (n.clone(), p)))
            .collect();
        for (service, path) in due {
            if self.shutting_down || self.units.get(&service).is_none_or(|e| e.is_idle()) {
                continue;
            }
            self.message(
                &service,
                6,
                format!("{} changed; restarting {service}", path.display()),
            );
            self.run_txn(Verb::Restart, vec![service], Reply::Nobody);
        }
    }
}
