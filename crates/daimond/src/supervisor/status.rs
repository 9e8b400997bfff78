//! `status` and `list`: what the owner knows, rendered as the protocol's types.
//!
//! Owns the per-unit status (PRODUCT.md's `status -o json` contract) including
//! the process tree with memory and CPU: one read of /proc/PID/stat (plus the
//! children list) per process, from files kept open between two `status`
//! requests, reused for a second by listings of all units
//! ([`crate::process::usage_cache`]), and one listing of the daemon's own children to
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
use crate::process::{tree, usage_cache};

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
        let kind = Kind::of(e);
        if kind == Kind::Timer {
            self.timer_state(&e.name)
        } else if kind == Kind::Socket {
            self.socket_state(&e.name)
        } else if kind == Kind::Path {
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
        match (self.timers.run(&e.name), Kind::of(e)) {
            (Some(r), _) => Some(r.since),
            (None, Kind::Socket) => self.sockets.runs.get(&e.name).and_then(|r| r.since),
            (None, Kind::Path) => self.path_units.runs.get(&e.name).and_then(|r| r.since),
            (None, _) => e.since_wall,
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
        // A listing of all units may answer from trees read less than a
        // second ago (see `process::usage_cache`); a named unit's detail is
        // read afresh.
        let max_age = if typed.is_empty() {
            usage_cache::FRESH
        } else {
            std::time::Duration::ZERO
        };
        let runs: Vec<Option<usage_cache::Run<'_>>> =
            entries.iter().map(|e| Self::run(e)).collect();
        let mut cache = self.usage().take();
        let procs = cache.trees(&runs, max_age, std::time::Instant::now(), |stale| {
            self.escaped(stale.iter().filter_map(|i| entries.get(*i).copied()))
        });
        let units = entries.iter().zip(procs);
        let r = if brief {
            Response::StatusTable(units.map(|(e, p)| self.unit_row(e, p)).collect())
        } else {
            Response::Status(units.map(|(e, p)| self.unit_status(e, p)).collect())
        };
        self.usage().set(cache);
        r
    }

    /// What a unit's process walk starts from; None when it does not run.
    fn run(e: &Entry) -> Option<usage_cache::Run<'_>> {
        if e.is_idle() || e.invocation.is_empty() {
            return None;
        }
        Some(usage_cache::Run {
            invocation: &e.invocation,
            roots: [e.machine.main_pid, e.machine.control_pid],
        })
    }

    /// The escaped processes of each of `running` (units with a run), in order.
    fn escaped<'e>(&self, running: impl Iterator<Item = &'e Entry> + Clone) -> Vec<Vec<u32>> {
        // The daemon's children not known as a main/control process (escaped
        // processes of some service).
        let mut orphans = self.orphan_candidates();
        // Processes that escaped an adopted run were re-parented away from us:
        // every process is a candidate (filtered by INVOCATION_ID=), read once.
        if running.clone().any(|e| e.adopted) {
            orphans = self.escape_candidates_all();
        }
        // Most often there is none (or only daimond's own helpers).
        let orphans = if orphans.is_empty() {
            Vec::new()
        } else {
            let invocations: HashSet<&str> =
                running.clone().map(|e| e.invocation.as_str()).collect();
            let sessions: HashSet<u32> = running
                .clone()
                .flat_map(|e| e.sessions.iter().copied())
                .collect();
            tree::narrow_candidates(orphans, &invocations, &sessions)
        };
        running
            .map(|e| {
                if orphans.is_empty() {
                    return Vec::new();
                }
                orphans
                    .iter()
                    .filter(|c| c.belongs(&e.invocation, &e.sessions))
                    .map(|c| c.pid)
                    .collect()
            })
            .collect()
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
        let kind = Kind::of(e);
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
            result: match kind {
                Kind::Socket => self.socket_result(&e.name),
                Kind::Path => self.path_status(&e.name).map(|p| p.0),
                _ => None,
            }
            .unwrap_or(m.result.as_str())
            .to_string(),
            status_text: m.notify.status_text.clone().or_else(|| match kind {
                Kind::Socket => self.socket_text(&e.name),
                Kind::Path => self.path_status(&e.name).and_then(|p| p.1),
                _ => None,
            }),
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
            earlier_runs: e.earlier_runs.summaries(),
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

/// What kind of unit an entry is, read from the entry itself: the owner's
/// `is_socket(name)` and `is_path_unit(name)` look the name up again, which was
/// a visible part of listing 1,000 units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Timer,
    Socket,
    Path,
    Other,
}

impl Kind {
    fn of(e: &Entry) -> Kind {
        match e.loaded().or(e.def_unit()) {
            Some(u) if u.timer().is_some() => Kind::Timer,
            Some(u) if u.socket().is_some() => Kind::Socket,
            Some(u) if u.path_unit().is_some() => Kind::Path,
            _ => Kind::Other,
        }
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
