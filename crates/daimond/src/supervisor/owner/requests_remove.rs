//! `remove`: the inverse of `daimon run --save`/writing a unit file. Each unit
//! is checked first (it must be a saved file of its own under the units
//! directory: not transient, not a template instance), then disabled, its file
//! and its `NAME.d/` drop-ins deleted, the unit files re-read, and what still
//! runs stopped. A unit stopped that way is forgotten once its stop is done,
//! as systemd garbage-collects a unit whose file is gone.

use daimon_proto::{ErrorKind, ErrorReply, JobResult, Response};
use tokio::sync::oneshot;

use super::Owner;
use crate::persist;
use crate::supervisor::jobs::{Reply, Verb};
use crate::supervisor::registry::Load;

fn refuse(kind: ErrorKind, message: String) -> Response {
    Response::Error(ErrorReply { kind, message })
}

impl Owner {
    pub(in crate::supervisor) fn remove_units(
        &mut self,
        typed: &[String],
        reply: oneshot::Sender<Response>,
    ) {
        let names = match self.resolve_patterns(typed) {
            Ok(n) => n,
            Err(r) => {
                let _ = reply.send(r);
                return;
            }
        };
        // Every unit is checked before anything is touched.
        let mut paths = Vec::new();
        for n in &names {
            match self.removable(n) {
                Ok(p) => paths.push(p),
                Err(r) => {
                    let _ = reply.send(r);
                    return;
                }
            }
        }
        for n in &names {
            self.units.set_enabled(n, false);
        }
        if let Err(e) = persist::save_enabled(&self.site.paths().state, self.units.enabled()) {
            let _ = reply.send(refuse(
                ErrorKind::Failed,
                format!("cannot save the enabled units: {e}"),
            ));
            return;
        }
        for (n, path) in names.iter().zip(&paths) {
            if let Err(e) = std::fs::remove_file(path) {
                let _ = reply.send(refuse(
                    ErrorKind::Failed,
                    format!("cannot delete {}: {e}", path.display()),
                ));
                return;
            }
            let dropins = self.site.paths().units.join(format!("{n}.d"));
            if let Err(e) = std::fs::remove_dir_all(&dropins)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                let _ = reply.send(refuse(
                    ErrorKind::Failed,
                    format!("cannot delete {}: {e}", dropins.display()),
                ));
                return;
            }
            tracing::info!("{n}: removed {}", path.display());
        }
        self.daemon_reload();
        let running: Vec<String> = names
            .iter()
            .filter(|n| self.units.get(*n).is_some_and(|e| !e.is_idle()))
            .cloned()
            .collect();
        if running.is_empty() {
            let results = names
                .into_iter()
                .map(|unit| JobResult { unit, error: None })
                .collect();
            let _ = reply.send(Response::Jobs(results));
            return;
        }
        self.units.mark_removed(running.iter().cloned());
        self.run_txn(Verb::Stop, running, Reply::Client(reply));
    }

    /// The file `remove` deletes for `name`, or why it refuses.
    fn removable(&self, name: &str) -> Result<std::path::PathBuf, Response> {
        let Some(e) = self.units.get(name) else {
            return Err(refuse(
                ErrorKind::NotFound,
                format!("unit \"{name}\" not found"),
            ));
        };
        let short = name.strip_suffix(".service").unwrap_or(name);
        if e.transient.is_some() {
            return Err(refuse(
                ErrorKind::Invalid,
                format!(
                    "{name} is a transient unit (daimon run without --save): it has no file to remove; \
                     \"daimon stop {short}\" ends it"
                ),
            ));
        }
        let path = match &e.load {
            Load::Loaded(u) => u.fragment_path.clone(),
            Load::Bad { path, .. } | Load::Masked(path) => path.clone(),
            Load::NotFound => {
                return Err(refuse(
                    ErrorKind::NotFound,
                    format!(
                        "{name} has no unit file in {} any more",
                        self.site.paths().units.display()
                    ),
                ));
            }
        };
        let own = self.site.paths().units.join(name);
        if path != own {
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned());
            let message = match file {
                Some(t) if t.contains("@.") => format!(
                    "{name} has no file of its own: it is an instance of {t}; \
                     stop it with \"daimon stop {name}\", or remove the template with \"daimon remove {t}\""
                ),
                _ => format!(
                    "{name} is read from {}, which is not a saved unit under {}; remove that file yourself",
                    path.display(),
                    self.site.paths().units.display()
                ),
            };
            return Err(refuse(ErrorKind::Invalid, message));
        }
        Ok(path)
    }

    /// Drops removed units whose stop is done (their file is gone).
    pub fn forget_removed(&mut self) {
        if self.units.removed().is_empty() {
            return;
        }
        let done: Vec<String> = self
            .units
            .removed()
            .iter()
            .filter(|n| {
                self.units.get(*n).is_none_or(|e| {
                    e.is_idle() && e.waits.is_empty() && matches!(e.load, Load::NotFound)
                })
            })
            .cloned()
            .collect();
        for n in done {
            self.units.unmark_removed(&n);
            if self
                .units
                .get(&n)
                .is_some_and(|e| matches!(e.load, Load::NotFound))
            {
                self.units.remove(&n);
            }
        }
    }
}
