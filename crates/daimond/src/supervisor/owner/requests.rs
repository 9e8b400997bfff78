//! Client requests, applied by the owner.
//!
//! Owns the meaning of each `daimon_proto::Request` the supervisor serves: name
//! resolution (`bot` -> `bot.service`, "not found; known units: ..."), building
//! transactions for start/stop/restart/reload with their dependencies, `run`
//! (transient or saved units), enable/disable, daemon-reload, cat, and the
//! daemon's own start (enabled units) and shutdown (everything, reverse order).

use daimon_proto::{CatFile, ErrorKind, ErrorReply, Request, Response, RunRequest};
use tokio::sync::oneshot;

use super::Owner;
use crate::persist;
use crate::supervisor::Command;
use crate::supervisor::jobs::{ItemState, Reply, Verb};
use crate::supervisor::machine::{Event, JobKind};
use crate::supervisor::registry::{self, Entry, Load, is_well_known_target};

fn err(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::Error(ErrorReply {
        kind,
        message: message.into(),
    })
}

impl Owner {
    pub fn on_command(&mut self, c: Command) {
        match c {
            Command::Request(req, reply) => {
                if self.shutting_down {
                    let _ = reply.send(err(
                        ErrorKind::Unavailable,
                        "the daemon is shutting down; run the command again",
                    ));
                    return;
                }
                self.request(*req, reply);
            }
            Command::Reload => self.daemon_reload(),
            Command::Shutdown(done) => self.begin_shutdown(Some(done)),
            // The event loop takes it before it gets here; dropping `done`
            // tells a waiter it is over either way.
            Command::HandOver(done) => drop(done),
        }
    }

    fn request(&mut self, req: Request, reply: oneshot::Sender<Response>) {
        let resp = match req {
            Request::Start { units } => return self.transaction(Verb::Start, units, reply),
            Request::Stop { units } => return self.transaction(Verb::Stop, units, reply),
            Request::Restart { units } => return self.transaction(Verb::Restart, units, reply),
            Request::Reload { units } => return self.transaction(Verb::Reload, units, reply),
            Request::Run(run) => return self.run_unit(run, reply),
            Request::Status { units, brief, .. } => self.status(&units, brief),
            Request::List => Response::List(self.list()),
            Request::Enable { units } => self.enable(&units, true),
            Request::Disable { units } => self.enable(&units, false),
            Request::Cat { unit } => self.cat(&unit),
            Request::Save { unit } => self.save(&unit),
            Request::Timers => Response::Timers(self.timers()),
            Request::DaemonReload => {
                self.daemon_reload();
                Response::Done
            }
            Request::Shutdown => {
                self.begin_shutdown(None);
                Response::Done
            }
            Request::Logs(_) => err(ErrorKind::Internal, "logs are served by the IPC layer"),
            Request::DaemonReexec => err(ErrorKind::Internal, "daemon-reexec is served by main"),
            Request::Events => err(ErrorKind::Internal, "events are served by the IPC layer"),
            Request::Attach { .. } => err(ErrorKind::Internal, "attach is served by the IPC layer"),
            Request::UnitStates { units } => self.unit_states(&units),
            Request::Kill {
                units,
                signal,
                whom,
            } => self.kill_units(&units, &signal, whom),
            Request::ResetFailed { units } => self.reset_failed(&units),
            Request::Show { units } => self.show(&units),
            Request::ListUnits {
                all,
                states,
                patterns,
            } => self.list_units(all, &states, &patterns),
            Request::ListUnitFiles { patterns } => self.list_unit_files(&patterns),
            Request::Remove { units } => return self.remove_units(&units, reply),
        };
        let _ = reply.send(resp);
    }

    /// `Some(None)`: a Condition*= failed (skip); `Some(Some(error))`: an Assert*=
    /// failed; `None`: the unit may start. Path conditions are checked here; kinds
    /// daimon does not evaluate count as met.
    /// systemd.unit(5): a failed Condition*= skips the start (the job succeeds,
    /// nothing runs); a failed Assert*= fails it. Returns whether the start
    /// fails, and the line that says which directive was not met.
    fn conditions(e: &Entry) -> Option<(bool, String)> {
        let u = e.loaded().or(e.def_unit())?;
        let check = |c: &daimon_unit::Condition| c.check_path().unwrap_or(true);
        if let Some(what) = unmet(&u.unit.asserts, "Assert", check) {
            return Some((true, format!("{}: start assertion failed: {what}", e.name)));
        }
        let what = unmet(&u.unit.conditions, "Condition", check)?;
        Some((
            false,
            format!("{}: start condition unmet: {what}; skipped", e.name),
        ))
    }

    /// Finds (loading on demand, e.g. a template instance) the entry for what a
    /// user typed; the error names the known units.
    pub fn resolve(&mut self, typed: &str) -> Result<String, Response> {
        let name = daimon_unit::with_default_suffix(typed);
        if self.units.contains_key(&name) {
            return Ok(name);
        }
        if let Some(load) = registry::load_one(&self.site.paths().units, &name, self.site.spec()) {
            self.units
                .insert(name.clone(), Entry::new(name.clone(), load));
            return Ok(name);
        }
        Err(err(ErrorKind::NotFound, self.not_found(&name)))
    }

    /// "unit ... not found" with the closest known names, or where units are
    /// looked for when nothing is close.
    fn not_found(&self, name: &str) -> String {
        let close = daimon_unit::suggest::closest(name, self.units.keys().map(String::as_str));
        if !close.is_empty() {
            return format!(
                "unit \"{name}\" not found; did you mean {}?",
                close.join(", ")
            );
        }
        let dir = self.site.paths().units.display();
        match self.units.len() {
            0 => format!("unit \"{name}\" not found; no units are loaded (unit files go in {dir})"),
            n => format!(
                "unit \"{name}\" not found in {dir} or among the {n} loaded units; `daimon list` shows them"
            ),
        }
    }

    /// Why `name` cannot run (bad file, masked, not a service), if so.
    pub(in crate::supervisor) fn refusal(&self, name: &str) -> Option<ErrorReply> {
        let e = self.units.get(name)?;
        if let Some((prefix, rest)) = name.split_once('@')
            && rest.starts_with('.')
        {
            let message =
                format!("{name} is a template; start an instance of it, e.g. {prefix}@NAME{rest}");
            return Some(ErrorReply {
                kind: ErrorKind::Failed,
                message,
            });
        }
        let message = match &e.load {
            Load::Loaded(u)
                if u.service().is_some()
                    || u.timer().is_some()
                    || u.socket().is_some()
                    || u.path_unit().is_some()
                    || is_well_known_target(name) =>
            {
                return None;
            }
            Load::Loaded(u) => format!("{name}: {:?} units are not supported yet", u.kind),
            Load::Bad { error, .. } => error.clone(),
            Load::Masked(_) => format!("{name} is masked"),
            Load::NotFound if e.running.is_some() => return None,
            Load::NotFound => format!("unit \"{name}\" not found"),
        };
        Some(ErrorReply {
            kind: ErrorKind::Failed,
            message,
        })
    }

    fn transaction(&mut self, verb: Verb, typed: Vec<String>, reply: oneshot::Sender<Response>) {
        let names = match self.resolve_patterns(&typed) {
            Ok(n) => n,
            Err(resp) => {
                let _ = reply.send(resp);
                return;
            }
        };
        self.run_txn(verb, names, Reply::Client(reply));
    }

    /// Issues every item that may start now; answers when all are done.
    pub fn advance(&mut self, id: u64) {
        let Some(txn) = self.units.txn_mut(id) else {
            return;
        };
        let ready: Vec<(usize, String, Verb)> = txn
            .ready()
            .into_iter()
            .map(|i| (i, txn.items[i].unit.clone(), txn.items[i].verb))
            .collect();
        // Units that will not start because a dependency failed: their status says why.
        for (unit, why) in std::mem::take(&mut txn.unstarted) {
            if let Some(e) = self.units.get_mut(&unit).filter(|e| e.is_idle()) {
                e.machine.reason = Some(why);
            }
        }
        for (i, unit, verb) in ready {
            if is_well_known_target(&unit) {
                // A target is reached at once (there is no boot to wait for)
                // and stays active until it is stopped.
                if let Some(e) = self.units.get_mut(&unit) {
                    let active = verb != Verb::Stop;
                    if e.target_active != active {
                        e.target_active = active;
                        e.since_wall = Some(jiff::Timestamp::now());
                    }
                }
                if let Some(t) = self.units.txn_mut(id) {
                    t.finish_item(i, None);
                }
                continue;
            }
            let Some(e) = self.units.get(&unit) else {
                if let Some(t) = self.units.txn_mut(id) {
                    t.finish_item(i, Some(format!("unit \"{unit}\" not found")));
                }
                continue;
            };
            if matches!(verb, Verb::Start | Verb::Restart)
                && e.is_idle()
                && let Some((fails, text)) = Self::conditions(e)
            {
                self.message(&unit, if fails { 3 } else { 6 }, text.clone());
                if let Some(e) = self.units.get_mut(&unit) {
                    // Shown by `status` until the next start attempt.
                    e.machine.reason = Some(text.clone());
                }
                if let Some(t) = self.units.txn_mut(id) {
                    t.finish_item(i, fails.then_some(text));
                }
                continue;
            }
            if self.is_timer(&unit) || self.is_socket(&unit) || self.is_path_unit(&unit) {
                let error = if self.is_timer(&unit) {
                    self.timer_job(&unit, verb)
                } else if self.is_socket(&unit) {
                    self.socket_job(&unit, verb)
                } else {
                    self.path_job(&unit, verb)
                };
                if let Some(t) = self.units.txn_mut(id) {
                    t.finish_item(i, error);
                }
                continue;
            }
            let Some(e) = self.units.get_mut(&unit) else {
                continue;
            };
            e.waits.push((verb.job(), id));
            let ev = match verb {
                Verb::Start => Event::Start { manual: true },
                Verb::Stop => Event::Stop,
                Verb::Restart => Event::Restart,
                Verb::Reload => Event::Reload,
            };
            self.feed(&unit, ev);
        }
        let complete = self.units.txn(id).is_some_and(|t| t.is_complete());
        if complete {
            if let Some(t) = self.units.remove_txn(id) {
                self.forget_removed();
                t.respond();
            }
        } else if self
            .units
            .txn(id)
            .is_some_and(|t| !t.items.iter().any(|i| i.state == ItemState::Issued))
        {
            // Something became ready while we issued: go again.
            self.advance(id);
        }
    }

    /// A machine finished a job: every transaction waiting for it moves on.
    pub fn job_done(&mut self, unit: &str, kind: JobKind, error: Option<String>) {
        let Some(e) = self.units.get_mut(unit) else {
            return;
        };
        let mut done = Vec::new();
        e.waits.retain(|(k, id)| {
            if *k == kind {
                done.push(*id);
                false
            } else {
                true
            }
        });
        for id in done {
            if let Some(t) = self.units.txn_mut(id)
                && let Some(i) = t.index_of(unit)
                && t.items[i].state == ItemState::Issued
            {
                t.finish_item(i, error.clone());
            }
            self.advance(id);
        }
    }

    /// The daemon starts: load every unit file, adopt what a killed daimond left
    /// running, and start the enabled units that are not running.
    pub fn startup(&mut self) {
        for (name, load) in registry::load_all(&self.site.paths().units, self.site.spec()) {
            self.units.insert(name.clone(), Entry::new(name, load));
        }
        self.report_cycles();
        // What a killed daimond left running is adopted first, never started twice.
        self.adopt_previous();
        self.units
            .replace_enabled(persist::load_enabled(&self.site.paths().state));
        let mut enabled: Vec<String> = self
            .units
            .enabled()
            .iter()
            .filter(|n| self.is_idle_unit(n))
            .cloned()
            .collect();
        // Timers started by hand before a daimond restart go on too.
        for t in self
            .timers_to_resume()
            .into_iter()
            .chain(self.sockets_to_resume())
        {
            if !enabled.contains(&t) {
                enabled.push(t);
            }
        }
        if !enabled.is_empty() {
            tracing::info!("starting {} enabled unit(s)", enabled.len());
            self.run_txn(Verb::Start, enabled, Reply::Nobody);
        }
    }

    /// daemon-reload/SIGHUP: re-read every unit file. Running units keep their
    /// definition until they are started again.
    pub fn daemon_reload(&mut self) {
        let mut fresh = registry::load_all(&self.site.paths().units, self.site.spec());
        let names: Vec<String> = self.units.keys().cloned().collect();
        let mut appeared_or_gone = Vec::new();
        for name in names {
            let Some(e) = self.units.get_mut(&name) else {
                continue;
            };
            if e.transient.is_some() {
                continue;
            }
            let load = fresh
                .remove(&name)
                .or_else(|| registry::load_one(&self.site.paths().units, &name, self.site.spec()));
            match load {
                Some(l) => e.load = l,
                None if e.is_idle() && e.waits.is_empty() => {
                    self.units.remove(&name);
                    appeared_or_gone.push(name);
                }
                None => e.load = Load::NotFound,
            }
        }
        for (name, load) in fresh {
            self.units
                .insert(name.clone(), Entry::new(name.clone(), load));
            appeared_or_gone.push(name);
        }
        for e in self.units.values_mut() {
            e.refresh_definition();
        }
        self.report_cycles();
        self.reload_timers();
        // Live views (top, the dashboard) learn of new and removed units now,
        // not at their first state change: each is told as an inactive unit,
        // and a view that re-reads one no longer listed drops its row.
        let wall = jiff::Timestamp::now().to_string();
        for unit in appeared_or_gone {
            self.events
                .changed(|| crate::supervisor::events::UnitEvent {
                    unit,
                    state: daimon_proto::ActiveState::Inactive,
                    sub_state: "dead",
                    pid: None,
                    restarts: 0,
                    time: wall.clone(),
                });
        }
        tracing::info!("unit files re-read ({} units)", self.units.len());
    }

    fn run_unit(&mut self, r: RunRequest, reply: oneshot::Sender<Response>) {
        let name = daimon_unit::with_default_suffix(&r.name);
        let save = r.save || r.enable;
        if self.units.get(&name).is_some_and(|e| !e.is_idle()) {
            let _ = reply.send(self.run_on_running(&r, &name));
            return;
        }
        // A schedule: the service is only loaded; its timer is what starts.
        let timer = r.timer.as_ref().map(|t| {
            (
                daimon_unit::with_default_suffix(&t.name),
                t.unit_text.as_str(),
            )
        });
        let socket = r.socket.as_ref().map(|s| {
            (
                daimon_unit::with_default_suffix(&s.name),
                s.unit_text.as_str(),
            )
        });
        let mut installs = vec![(name.clone(), r.unit_text.as_str())];
        installs.extend(timer.clone());
        installs.extend(socket.clone());
        // Parse everything before writing anything: a bad timer leaves no half pair.
        let mut loads = Vec::new();
        for (n, text) in &installs {
            let path = self.site.paths().units.join(n);
            let loaded = daimon_unit::parse_unit(n, &path, text.as_bytes(), &[], self.site.spec());
            let load = registry::load_of(loaded);
            if let Load::Bad { error, .. } = &load {
                let _ = reply.send(err(ErrorKind::Invalid, error.clone()));
                return;
            }
            loads.push(load);
        }
        for ((n, text), load) in installs.iter().zip(loads) {
            if let Err(resp) = self.install_unit(n, text, load, save) {
                let _ = reply.send(resp);
                return;
            }
        }
        if let Some((s, _)) = &socket {
            // New listeners take effect now; bound before the service
            // starts, so a port in use is the run's error, not a warning.
            self.socket_job(s, Verb::Stop);
            if let Some(e) = self.socket_job(s, Verb::Start) {
                let _ = reply.send(err(ErrorKind::Failed, e));
                return;
            }
        }
        let start = match &timer {
            Some((t, _)) => {
                // New settings for a started timer take effect now.
                self.timer_job(t, Verb::Stop);
                t.clone()
            }
            None => name,
        };
        if r.enable {
            self.units.set_enabled(&start, true);
            if let Err(e) = persist::save_enabled(&self.site.paths().state, self.units.enabled()) {
                let _ = reply.send(err(
                    ErrorKind::Failed,
                    format!("cannot save the enabled units: {e}"),
                ));
                return;
            }
        }
        self.run_txn(Verb::Start, vec![start], Reply::Client(reply));
    }

    /// Makes `text` the unit `name`: written to the units directory (`save`)
    /// or kept as a transient unit that a restarted daimond loads again.
    fn install_unit(
        &mut self,
        name: &str,
        text: &str,
        load: Load,
        save: bool,
    ) -> Result<(), Response> {
        if save {
            let path = self.site.paths().units.join(name);
            if let Err(e) = persist::write_atomic(&path, text.as_bytes(), true) {
                return Err(err(
                    ErrorKind::Failed,
                    format!("cannot write {}: {e}", path.display()),
                ));
            }
        }
        let entry = self
            .units
            .entry(name.to_string())
            .or_insert_with(|| Entry::new(name.to_string(), Load::NotFound));
        entry.load = load;
        entry.transient = (!save).then(|| text.to_string());
        entry.refresh_definition();
        if save {
            persist::remove_transient(&self.site.paths().state, name);
        } else if let Err(e) = persist::save_transient(&self.site.paths().state, name, text) {
            tracing::warn!("{name}: cannot keep the transient unit for a restarted daimond: {e}");
        }
        Ok(())
    }

    fn enable(&mut self, typed: &[String], on: bool) -> Response {
        let mut results = Vec::new();
        for t in typed {
            let name = match self.resolve(t) {
                Ok(n) => n,
                Err(resp) => return resp,
            };
            let transient = self.units.get(&name).is_some_and(|e| e.transient.is_some());
            let error = if on && transient {
                Some(ErrorReply {
                    kind: ErrorKind::Invalid,
                    message: format!(
                        "{name} is transient; save it first: daimon save {}",
                        name.strip_suffix(".service").unwrap_or(&name)
                    ),
                })
            } else {
                if on {
                    self.units.set_enabled(&name, true);
                } else {
                    self.units.set_enabled(&name, false);
                }
                None
            };
            results.push(daimon_proto::JobResult { unit: name, error });
        }
        if let Err(e) = persist::save_enabled(&self.site.paths().state, self.units.enabled()) {
            return err(
                ErrorKind::Failed,
                format!("cannot save the enabled units: {e}"),
            );
        }
        Response::Jobs(results)
    }

    fn cat(&mut self, typed: &str) -> Response {
        let name = match self.resolve(typed) {
            Ok(n) => n,
            Err(r) => return r,
        };
        if let Some(text) = self.units.get(&name).and_then(|e| e.transient.clone()) {
            return Response::Cat(vec![CatFile {
                path: format!("{name} (transient)"),
                text,
            }]);
        }
        match daimon_unit::cat_unit(&self.site.paths().units, &name) {
            Ok(files) => Response::Cat(
                files
                    .into_iter()
                    .map(|(p, text)| CatFile {
                        path: p.display().to_string(),
                        text,
                    })
                    .collect(),
            ),
            Err(e) => err(ErrorKind::NotFound, e.to_string()),
        }
    }

    /// Stops every unit that runs, in reverse dependency order, then lets the
    /// owner loop end.
    pub fn begin_shutdown(&mut self, done: Option<oneshot::Sender<()>>) {
        let first = !self.shutting_down;
        self.shutting_down = true;
        let active: Vec<String> = self
            .units
            .values()
            .filter(|e| !e.is_idle())
            .map(|e| e.name.clone())
            .collect();
        let reply = match done {
            Some(tx) => Reply::Shutdown(tx),
            None => Reply::Nobody,
        };
        if first || !active.is_empty() {
            self.run_txn(Verb::Stop, active, reply);
        } else if let Reply::Shutdown(tx) = reply {
            let _ = tx.send(());
        }
    }
}

/// The first directive of `list` that does not hold, written as in the unit
/// file (`ConditionPathExists=!/etc/foo`), following systemd's rule: every
/// plain one must hold, and one of the triggering (`|`) ones if there are any.
fn unmet(
    list: &[daimon_unit::Condition],
    prefix: &str,
    check: impl Fn(&daimon_unit::Condition) -> bool,
) -> Option<String> {
    if daimon_unit::conditions_met(list, &check) {
        return None;
    }
    let show = |c: &daimon_unit::Condition| {
        format!(
            "{prefix}{}={}{}{}",
            c.kind,
            if c.trigger { "|" } else { "" },
            if c.negate { "!" } else { "" },
            c.value
        )
    };
    Some(match list.iter().find(|c| !c.trigger && !check(c)) {
        Some(c) => show(c),
        None => {
            let triggers: Vec<String> = list.iter().filter(|c| c.trigger).map(show).collect();
            format!("none of {} holds", triggers.join(", "))
        }
    })
}
