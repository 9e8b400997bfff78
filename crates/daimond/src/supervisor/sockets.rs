//! The owner's side of socket units: start and stop them as jobs, start their
//! service on the first connection, pass the descriptors to it, and describe
//! them for `status` and `list`.
//!
//! systemd semantics kept here: stopping a socket closes daimond's descriptors
//! and leaves a running service alone (it has its own copies); starting the
//! service directly starts its socket first and passes the descriptors all
//! the same (the implicit `Requires=`/`After=` of a socket-activated service);
//! only the main process gets them (systemd's `EXEC_PASS_FDS`).

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::time::Instant;

use daimon_proto::ActiveState;

use super::jobs::{Reply, Verb};
use super::machine::Role;
use super::owner::Owner;
use super::policy::ServiceResult;
use super::socket::machine::{Action, Input, SocketState};
use super::socket::{bind, recover};
use crate::process::spawn::{LISTEN_PID_VAR, SpawnSpec};

impl Owner {
    /// Whether `name` is a socket unit.
    pub fn is_socket(&self, name: &str) -> bool {
        self.units
            .get(name)
            .and_then(|e| e.loaded().or(e.def_unit()))
            .is_some_and(|u| u.socket().is_some())
    }

    /// A start/stop/restart job of a socket; the error says why it failed.
    pub(super) fn socket_job(&mut self, name: &str, verb: Verb) -> Option<String> {
        match verb {
            Verb::Start => self.start_socket(name).err(),
            Verb::Stop => {
                self.socket_input(name, Input::Stop);
                None
            }
            Verb::Restart => {
                self.socket_input(name, Input::Stop);
                self.start_socket(name).err()
            }
            Verb::Reload => Some(format!("{name}: a socket cannot be reloaded; restart it")),
        }
    }

    fn start_socket(&mut self, name: &str) -> Result<(), String> {
        let Some(section) = self
            .units
            .get(name)
            .and_then(|e| e.loaded())
            .and_then(|u| u.socket().cloned())
        else {
            return Err(format!("{name}: not a loaded socket unit"));
        };
        if section.accept {
            let template = accept_template(name);
            if !self.paths().units.join(&template).is_file() {
                return Err(format!(
                    "{name} has Accept=yes, which starts an instance of {template} per connection; create {template}"
                ));
            }
        }
        if section.listen.is_empty() {
            return Err(format!(
                "{name} has nothing to listen on; add ListenStream= (or ListenDatagram=, ListenFIFO=) to [Socket]"
            ));
        }
        if !section.accept && self.resolve(&section.service).is_err() {
            return Err(format!(
                "{name} activates {}, which is not loaded; create it or set Service= in [Socket]",
                section.service
            ));
        }
        self.socket_input(
            name,
            Input::Start {
                accept: section.accept,
            },
        );
        let run = self.sockets.runs.get(name);
        match run.map(|r| r.machine.state) {
            Some(SocketState::Listening | SocketState::Running) => Ok(()),
            _ => Err(run
                .and_then(|r| r.error.clone())
                .unwrap_or_else(|| format!("{name} did not start"))),
        }
    }

    /// Feeds the socket's machine and carries out what it asks.
    fn socket_input(&mut self, name: &str, input: Input) {
        let now = Instant::now();
        if !matches!(input, Input::Start { .. }) && !self.sockets.runs.contains_key(name) {
            return;
        }
        let run = self.sockets.runs.entry(name.to_string()).or_default();
        let before = run.machine.state;
        let actions = run.machine.handle(input, now);
        // This input's own transition: an action may feed the machine again
        // (a bind reports `Bound`), and that call tells of its own.
        let state = run.machine.state;
        if (before == SocketState::Dead) != (state == SocketState::Dead) {
            self.sockets.changed = true;
        }
        let Some(run) = self.sockets.runs.get_mut(name) else {
            return;
        };
        if state != before {
            run.since = Some(jiff::Timestamp::now());
            let text = match state {
                SocketState::Listening if before != SocketState::Running => {
                    let on: Vec<&str> = run.fds.iter().map(|o| o.what.as_str()).collect();
                    Some((6, format!("Listening on {}", on.join(", "))))
                }
                SocketState::Failed => Some((
                    3,
                    format!(
                        "{name}: failed with result '{}'",
                        run.machine.result.as_str()
                    ),
                )),
                SocketState::Dead => Some((6, format!("Stopped {name}; its sockets are closed"))),
                _ => None,
            };
            if let Some((p, t)) = text {
                self.message(name, p, t);
            }
        }
        for a in actions {
            self.socket_action(name, a);
        }
        if self
            .sockets
            .runs
            .get(name)
            .is_some_and(|r| r.machine.state == SocketState::Dead)
        {
            self.sockets.runs.remove(name);
        }
    }

    fn socket_action(&mut self, name: &str, a: Action) {
        match a {
            Action::Bind => {
                let section = self
                    .units
                    .get(name)
                    .and_then(|e| e.loaded())
                    .and_then(|u| u.socket().cloned());
                let recovered = section
                    .as_ref()
                    .and_then(|s| self.recover_listeners(name, s));
                let was_recovered = recovered.is_some();
                let opened = match (recovered, section) {
                    (Some(fds), _) => Ok(fds),
                    (None, Some(s)) => bind::open_all(&s),
                    (None, None) => Err(format!("{name}: not a loaded socket unit")),
                };
                let input = match opened {
                    Ok(fds) => {
                        if let Some(r) = self.sockets.runs.get_mut(name) {
                            r.fds = fds;
                            r.error = None;
                        }
                        Input::Bound
                    }
                    Err(e) => {
                        self.message(name, 3, format!("{name}: {e}"));
                        if let Some(r) = self.sockets.runs.get_mut(name) {
                            r.error = Some(format!("{name}: {e}"));
                        }
                        Input::BindFailed
                    }
                };
                self.socket_input(name, input);
                if was_recovered {
                    self.message(
                        name,
                        6,
                        format!("{name}: listeners taken back from its running service"),
                    );
                    self.socket_input(name, Input::ServiceStarted);
                }
            }
            Action::Watch => {
                let Some(tx) = self.sockets.ready_tx.clone() else {
                    return;
                };
                let result = match self.sockets.runs.get_mut(name) {
                    Some(r) => r.watch(name, &tx),
                    None => Ok(()),
                };
                if let Err(e) = result {
                    self.message(name, 3, format!("{name}: {e}"));
                }
            }
            Action::Unwatch => {
                if let Some(r) = self.sockets.runs.get_mut(name) {
                    r.unwatch();
                }
            }
            Action::Close => {
                if let Some(r) = self.sockets.runs.get_mut(name) {
                    r.close();
                }
                let section = self
                    .units
                    .get(name)
                    .and_then(|e| e.loaded().or(e.def_unit()))
                    .and_then(|u| u.socket().cloned());
                if let Some(s) = section.filter(|s| s.remove_on_stop) {
                    bind::remove_files(&s);
                }
            }
            Action::Accept => self.accept_connections(name),
            Action::StartService => {
                if let Some(svc) = self.socket_service(name) {
                    self.message(name, 6, format!("{name}: a connection starts {svc}"));
                    self.run_txn(Verb::Start, vec![svc], Reply::Nobody);
                }
            }
        }
    }

    fn socket_service(&self, name: &str) -> Option<String> {
        self.units
            .get(name)
            .and_then(|e| e.loaded().or(e.def_unit()))
            .and_then(|u| u.socket())
            .map(|s| s.service.clone())
    }

    /// A watched descriptor became readable.
    pub fn on_socket_ready(&mut self, (name, generation): super::socket::Ready) {
        if self.shutting_down {
            return;
        }
        let current = self
            .sockets
            .runs
            .get(&name)
            .is_some_and(|r| r.generation == generation);
        if current {
            self.socket_input(&name, Input::Readable);
        }
    }

    /// After events were handled: a socket whose service is inactive again is
    /// watched again (or fails, when the service's start limit refused it).
    pub fn sockets_after_events(&mut self) {
        self.release_connections();
        self.fd_store_after_events();
        if std::mem::take(&mut self.sockets.changed) {
            let started = self.sockets.runs.keys();
            if let Err(e) = recover::save_active(&self.paths().state, started) {
                tracing::warn!("cannot save the started sockets: {e}");
            }
        }
        if self.sockets.runs.is_empty() {
            return;
        }
        let done: Vec<(String, bool)> = self
            .sockets
            .runs
            .iter()
            .filter(|(_, r)| r.machine.state == SocketState::Running)
            .filter_map(|(n, _)| {
                let svc = self.socket_service(n)?;
                if self.unit_busy(&svc) {
                    return None;
                }
                let refused = self
                    .units
                    .get(&svc)
                    .is_some_and(|e| e.machine.result == ServiceResult::StartLimitHit);
                Some((n.clone(), refused))
            })
            .collect();
        for (name, start_limit_hit) in done {
            self.socket_input(&name, Input::ServiceInactive { start_limit_hit });
        }
    }

    /// The socket units whose service is `service`.
    fn sockets_of(&self, service: &str) -> Vec<String> {
        self.units
            .iter()
            .filter(|(_, e)| {
                e.loaded()
                    .and_then(|u| u.socket())
                    .is_some_and(|s| s.service == service && !s.accept)
            })
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The main process of a socket-activated service gets the descriptors
    /// of its sockets (started now if they are not yet) and systemd's
    /// variables; `LISTEN_PID` is completed by the child itself.
    pub(super) fn socket_env(
        &mut self,
        unit: &str,
        svc: &daimon_unit::ServiceSection,
        role: Role,
        spec: &mut SpawnSpec,
    ) {
        if role != Role::Main {
            return;
        }
        if self.sockets.accepted.contains_key(unit) {
            return self.connection_env(unit, svc, spec);
        }
        let sockets = self.sockets_of(unit);
        // The fd store's descriptors come after the sockets' (systemd).
        let stored = self.stored_fds(unit);
        if sockets.is_empty() && stored.is_empty() {
            return;
        }
        let mut fds = Vec::new();
        let mut names = Vec::new();
        for s in &sockets {
            if !self.sockets.runs.contains_key(s)
                && let Err(e) = self.start_socket(s)
            {
                self.message(unit, 4, format!("{unit}: {e}; starting it without"));
                continue;
            }
            self.socket_input(s, Input::ServiceStarted);
            let fd_name = self
                .units
                .get(s)
                .and_then(|e| e.loaded())
                .and_then(|u| u.socket())
                .and_then(|x| x.fd_name.clone())
                .unwrap_or_else(|| s.clone());
            if let Some(r) = self.sockets.runs.get(s)
                && matches!(r.machine.state, SocketState::Running)
            {
                for o in &r.fds {
                    fds.push(o.fd.as_raw_fd());
                    names.push(fd_name.clone());
                }
            }
        }
        for (fd, name) in stored {
            fds.push(fd);
            names.push(name);
        }
        if fds.is_empty() {
            return;
        }
        pass_fds(spec, fds, &names);
    }

    /// After a daimond restart: the listeners the running service of `name`
    /// still holds (see `socket::recover`), if it runs and holds them all.
    fn recover_listeners(
        &self,
        name: &str,
        s: &daimon_unit::SocketSection,
    ) -> Option<Vec<bind::Opened>> {
        if s.accept {
            return None;
        }
        let pid = self.units.get(&s.service)?.machine.main_pid?;
        // The service got the sockets of each of its socket units in name order.
        let mut first = 3;
        for other in self.sockets_of(&s.service) {
            if other == name {
                return recover::from_service(pid, first, &s.listen);
            }
            let n = self
                .units
                .get(&other)
                .and_then(|e| e.loaded())
                .and_then(|u| u.socket())
                .map_or(0, |x| x.listen.len());
            first += n as i32;
        }
        None
    }

    /// The socket units a previous daimond had started.
    pub(super) fn sockets_to_resume(&self) -> Vec<String> {
        recover::load_active(&self.paths().state)
            .into_iter()
            .filter(|n| self.is_socket(n))
            .collect()
    }

    /// State and sub-state of a socket unit, as `status` and `list` show them.
    pub fn socket_state(&self, name: &str) -> (ActiveState, &'static str) {
        match self.sockets.runs.get(name).map(|r| r.machine.state) {
            Some(SocketState::Failed) => (ActiveState::Failed, "failed"),
            Some(s @ (SocketState::Listening | SocketState::Running)) => {
                (ActiveState::Active, s.as_str())
            }
            _ => (ActiveState::Inactive, "dead"),
        }
    }

    /// A socket's result (systemd's names), where it is a socket.
    pub(super) fn socket_result(&self, name: &str) -> Option<&'static str> {
        if !self.is_socket(name) {
            return None;
        }
        let r = self.sockets.runs.get(name);
        Some(r.map_or("success", |r| r.machine.result.as_str()))
    }

    /// `reset-failed` of a socket.
    pub(super) fn reset_failed_socket(&mut self, name: &str) {
        self.socket_input(name, Input::ResetFailed);
    }

    /// What a started socket listens on and why it failed, for `status`.
    pub(super) fn socket_text(&self, name: &str) -> Option<String> {
        let r = self.sockets.runs.get(name)?;
        if let Some(e) = &r.error {
            return Some(e.clone());
        }
        let on: Vec<&str> = r.fds.iter().map(|o| o.what.as_str()).collect();
        (!on.is_empty()).then(|| format!("listening on {}", on.join(", ")))
    }
}

/// `Accept=yes`: `NAME.socket` starts instances of `NAME@.service`.
pub(super) fn accept_template(socket: &str) -> String {
    let prefix = socket.strip_suffix(".socket").unwrap_or(socket);
    format!("{prefix}@.service")
}

/// Hands `fds` to the child as 3, 4, ... with systemd's variables (any
/// inherited ones replaced); `LISTEN_PID` is completed by the child.
pub(super) fn pass_fds(spec: &mut SpawnSpec, fds: Vec<std::os::fd::RawFd>, names: &[String]) {
    spec.envp.retain(|e| {
        let b = e.as_bytes();
        !(b.starts_with(b"LISTEN_FDS=")
            || b.starts_with(b"LISTEN_PID=")
            || b.starts_with(b"LISTEN_FDNAMES="))
    });
    let vars = [
        format!("LISTEN_FDS={}", fds.len()),
        LISTEN_PID_VAR.to_string(),
        format!("LISTEN_FDNAMES={}", names.join(":")),
    ];
    spec.envp
        .extend(vars.into_iter().filter_map(|v| CString::new(v).ok()));
    spec.pass_fds = fds;
}
