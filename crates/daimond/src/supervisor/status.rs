//! `status` and `list`: what the owner knows, rendered as the protocol's types.
//!
//! Owns the per-unit status (PRODUCT.md's `status -o json` contract) including
//! the process tree with memory and CPU: one read of /proc/PID/stat (plus the
//! children list) per process, from files kept open between two `status`
//! requests ([`tree::ProcFiles`]), and one listing of the daemon's own children to
//! find processes that escaped their service (of all processes, when a unit was
//! adopted after a daimond restart: its escaped processes are not our children).

use std::collections::HashSet;

use daimon_proto::{
    ErrorKind, ErrorReply, Response, RestartInfo, UnitListEntry, UnitRow, UnitStatus,
};

use super::machine::SubState;
use super::owner::Owner;
use super::policy;
use super::registry::Entry;
use crate::process::tree;

impl Owner {
    pub(super) fn enabled_state(&self, e: &Entry) -> &'static str {
        if e.transient.is_some() {
            "transient"
        } else if self.units.is_enabled(&e.name) {
            "enabled"
        } else if e
            .loaded()
            .is_some_and(|u| u.install.wanted_by.is_empty() && u.install.required_by.is_empty())
        {
            "static"
        } else {
            "disabled"
        }
    }

    /// State and sub-state; a timer's come from its schedule and a target's
    /// from its last job, not a machine.
    pub(super) fn active_state(&self, e: &Entry) -> (daimon_proto::ActiveState, &'static str) {
        if e.is_timer() {
            self.timer_state(&e.name)
        } else if self.is_socket(&e.name) {
            self.socket_state(&e.name)
        } else if self.is_path_unit(&e.name) {
            self.path_state(&e.name)
        } else if super::registry::is_well_known_target(&e.name) {
            if e.target_active {
                (daimon_proto::ActiveState::Active, "active")
            } else {
                (daimon_proto::ActiveState::Inactive, "dead")
            }
        } else {
            (e.machine.state.active_state(), e.machine.state.as_str())
        }
    }

    /// When the unit entered its state: a started timer's start, else the
    /// machine's last change (a lookup of timers only when any run at all).
    pub(super) fn since(&self, e: &Entry) -> Option<jiff::Timestamp> {
        match self.timers.run(&e.name) {
            Some(r) => Some(r.since),
            None if self.is_socket(&e.name) => self.sockets.runs.get(&e.name).and_then(|r| r.since),
            None if self.is_path_unit(&e.name) => {
                self.path_units.runs.get(&e.name).and_then(|r| r.since)
            }
            None => e.since_wall,
        }
    }

    pub(super) fn description(e: &Entry) -> Option<String> {
        e.def_unit().and_then(|u| u.unit.description.clone())
    }

    pub fn list(&self) -> Vec<UnitListEntry> {
        self.units
            .values()
            .map(|e| {
                let (state, sub_state) = self.active_state(e);
                UnitListEntry {
                    name: e.name.clone(),
                    load_state: e.load_state().to_string(),
                    state,
                    sub_state: sub_state.to_string(),
                    enabled: self.enabled_state(e).to_string(),
                    description: Self::description(e),
                }
            })
            .collect()
    }

    /// `brief`: the table's rows ([`Response::StatusTable`]) instead of full
    /// statuses; the same process walk, without what only the detail and JSON
    /// forms show.
    pub fn status(&mut self, typed: &[String], brief: bool) -> Response {
        let names: Vec<String> = if typed.is_empty() {
            Vec::new()
        } else {
            // Patterns (`web@*`) name the loaded units they match.
            match self.resolve_patterns(typed) {
                Ok(v) => v,
                Err(r) => return r,
            }
        };
        // Each unit looked up once (a table of all units is most of the calls).
        let entries: Vec<&Entry> = if typed.is_empty() {
            // A template (`worker@.service`) is a file, not a unit: its instances
            // are listed, it is not (as `systemctl list-units`).
            self.units
                .values()
                .filter(|e| !is_template(&e.name))
                .collect()
        } else {
            let mut v = Vec::with_capacity(names.len());
            for n in &names {
                match self.units.get(n) {
                    Some(e) => v.push(e),
                    None => {
                        return Response::Error(ErrorReply {
                            kind: ErrorKind::NotFound,
                            message: format!("unit \"{n}\" not found"),
                        });
                    }
                }
            }
            v
        };
        let running = || {
            entries
                .iter()
                .filter(|e| !e.invocation.is_empty() && !e.is_idle())
        };
        // Only needed when some unit runs: the daemon's children not known as a
        // main/control process (escaped processes of some service).
        let mut orphans = if running().next().is_some() {
            self.orphan_candidates()
        } else {
            Vec::new()
        };
        // Processes that escaped an adopted run were re-parented away from us:
        // every process is a candidate (filtered by INVOCATION_ID=), read once.
        if running().any(|e| e.adopted) {
            orphans = self.escape_candidates_all();
        }
        // Most often there is none (or only daimond's own helpers).
        let orphans = if orphans.is_empty() {
            Vec::new()
        } else {
            let invocations: HashSet<&str> = running().map(|e| e.invocation.as_str()).collect();
            let sessions: HashSet<u32> =
                running().flat_map(|e| e.sessions.iter().copied()).collect();
            tree::narrow_candidates(orphans, &invocations, &sessions)
        };
        let walks: Vec<tree::Walk> = entries.iter().map(|e| Self::walk(e, &orphans)).collect();
        let mut files = self.proc_files().take();
        files.begin();
        let procs = files.trees(&walks);
        files.end();
        // Kept with the files it holds open for the next status.
        self.proc_files().set(files);
        let units = entries.iter().zip(procs);
        if brief {
            Response::StatusTable(units.map(|(e, p)| self.unit_row(e, &p)).collect())
        } else {
            Response::Status(units.map(|(e, p)| self.unit_status(e, &p)).collect())
        }
    }

    /// Where the walk of a unit's processes starts (nowhere when it does not run).
    fn walk(e: &Entry, orphans: &[tree::Candidate]) -> tree::Walk {
        if e.is_idle() || e.invocation.is_empty() {
            return tree::Walk::default();
        }
        let m = &e.machine;
        let escaped: Vec<u32> = if orphans.is_empty() {
            Vec::new()
        } else {
            orphans
                .iter()
                .filter(|c| c.belongs(&e.invocation, &e.sessions))
                .map(|c| c.pid)
                .collect()
        };
        tree::Walk {
            roots: [m.main_pid, m.control_pid],
            escaped,
        }
    }

    fn unit_row(&self, e: &Entry, procs: &[(u32, tree::Stat)]) -> UnitRow {
        let m = &e.machine;
        let mut usage = (!procs.is_empty()).then(|| tree::usage(procs));
        // The cgroup counts the whole unit, escaped processes included.
        if let Some(cg) = self.cgroup_usage(&e.name) {
            usage = cgroup_totals(&cg, usage);
        }
        let (state, sub_state) = self.active_state(e);
        UnitRow {
            name: e.name.clone(),
            description: Self::description(e),
            load_state: e.load_state().to_string(),
            state,
            sub_state: sub_state.to_string(),
            pid: m.main_pid,
            restarts: m.restarts,
            since_sec: self.since(e).map(|t| t.as_second()),
            memory_bytes: usage.map(|u| u.0),
            cpu_usec: usage.map(|u| u.1),
        }
    }

    fn unit_status(&self, e: &Entry, procs: &[(u32, tree::Stat)]) -> UnitStatus {
        let m = &e.machine;
        let (state, sub_state) = self.active_state(e);
        let mut usage = (!procs.is_empty()).then(|| tree::usage(procs));
        let cgroup = self.cgroup_usage(&e.name);
        if let Some(cg) = &cgroup {
            usage = cgroup_totals(cg, usage);
        }
        let (memory_bytes, cpu_usec) = (usage.map(|u| u.0), usage.map(|u| u.1));
        let mut tasks: Vec<u32> = procs.iter().map(|(p, _)| *p).collect();
        // Main first, then the rest in PID order.
        tasks.sort_by_key(|p| (Some(*p) != m.main_pid, *p));
        let reason = match &e.load {
            super::registry::Load::Bad { error, .. } => Some(error.clone()),
            _ => m.reason.clone(),
        };
        UnitStatus {
            name: e.name.clone(),
            description: Self::description(e),
            load_state: e.load_state().to_string(),
            state,
            sub_state: sub_state.to_string(),
            enabled: self.enabled_state(e).to_string(),
            pid: m.main_pid,
            restarts: m.restarts,
            since: self.since(e).map(|t| t.to_string()),
            result: self
                .socket_result(&e.name)
                .or_else(|| self.path_status(&e.name).map(|p| p.0))
                .unwrap_or(m.result.as_str())
                .to_string(),
            status_text: m
                .notify
                .status_text
                .clone()
                .or_else(|| self.socket_text(&e.name))
                .or_else(|| self.path_status(&e.name).and_then(|p| p.1)),
            errno: m.notify.errno,
            memory_bytes,
            cpu_usec,
            tasks,
            cgroup,
            last_exit: m.last_exit.map(|s| s.to_string()),
            reason,
            fragment_path: e.fragment_path(),
            logs_dropped: None,
            logs_dropped_lines: None,
            recent_logs: Vec::new(),
            timer: self.timer_info(e),
            last_run: super::timers::run_summary(e),
            restart_policy: restart_info(e, std::time::Instant::now()),
        }
    }
}

/// Memory and CPU from the cgroup where it counts them, else from the
/// process tree.
fn cgroup_totals(cg: &daimon_proto::CgroupStatus, tree: Option<(u64, u64)>) -> Option<(u64, u64)> {
    match (cg.memory_current, cg.cpu_usec, tree) {
        (Some(m), Some(c), _) => Some((m, c)),
        (Some(m), None, t) => Some((m, t.map_or(0, |t| t.1))),
        (None, Some(c), t) => Some((t.map_or(0, |t| t.0), c)),
        (None, None, t) => t,
    }
}

/// A service's restart policy as its current run uses it, and the time left
/// until a pending restart (systemctl shows none of this; pm2 users look for it).
fn restart_info(e: &Entry, now: std::time::Instant) -> Option<RestartInfo> {
    let u = e.def_unit()?;
    let svc = u.service()?;
    let usec = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    let next_try_usec = match (e.machine.state, e.machine.deadline) {
        (SubState::AutoRestart, Some(t)) => Some(usec(t.saturating_duration_since(now))),
        _ => None,
    };
    let interval = u.unit.start_limit_interval;
    let burst = u.unit.start_limit_burst;
    // systemd.unit(5): an interval or a burst of 0 disables rate limiting.
    let start_limit = if interval.is_zero() || burst == 0 {
        "off".to_string()
    } else {
        format!("{burst}/{}", policy::format_span(interval))
    };
    Some(RestartInfo {
        policy: svc.restart.as_str().to_string(),
        delay_usec: usec(svc.restart_sec),
        max_delay_usec: policy::max_delay(svc).map(usec),
        next_try_usec,
        start_limit,
    })
}

/// `prefix@.suffix`: a template's own name, which no unit runs under.
fn is_template(name: &str) -> bool {
    name.split_once('@')
        .is_some_and(|(_, rest)| rest.starts_with('.'))
}
