//! `GET /metrics`: Prometheus' text format (version 0.0.4), answered from a
//! snapshot so that a scrape never waits on the owner.
//!
//! The snapshot is built by a background task through the same dispatch as
//! `status -o json` and `timers -o json` (so the values are theirs), at the
//! API's start and again after any scrape that found it older than
//! [`MAX_AGE`]: a scrape sees the state as of at most one scrape interval ago,
//! and `daimon_metrics_snapshot_age_seconds` says how old. Naming follows
//! Prometheus: base units (bytes, seconds), `_total` for counters, one 0/1
//! series per state (as node_exporter's `node_systemd_unit_state`).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::{Duration, Instant};

use daimon_proto::{ActiveState, Request, Response, TimerInfo, UnitStatus};

use super::reply::{self, Reply};
use crate::ipc::logs::StoreTotals;
use crate::ipc::{self, IpcContext};

/// A snapshot older than this is rebuilt after the scrape that found it.
pub const MAX_AGE: Duration = Duration::from_secs(1);

const STATES: [ActiveState; 6] = [
    ActiveState::Active,
    ActiveState::Activating,
    ActiveState::Deactivating,
    ActiveState::Reloading,
    ActiveState::Inactive,
    ActiveState::Failed,
];

#[derive(Default)]
pub struct Metrics {
    text: RefCell<Rc<String>>,
    taken: Cell<Option<Instant>>,
    refreshing: Cell<bool>,
}

/// Answers with the snapshot at hand and, if it is old, starts a new one.
pub fn scrape(ipc: &Rc<IpcContext>, m: &Rc<Metrics>) -> Reply {
    let age = m.taken.get().map(|t| t.elapsed());
    if age.is_none_or(|a| a >= MAX_AGE) {
        refresh(ipc.clone(), m.clone());
    }
    let Some(age) = age else {
        return reply::error(
            503,
            "unavailable",
            "the first metrics snapshot is being taken; scrape again in a moment",
        );
    };
    let mut text = String::from(m.text.borrow().as_str());
    family(
        &mut text,
        "daimon_metrics_snapshot_age_seconds",
        "gauge",
        "How old the snapshot these metrics come from is.",
    );
    let _ = writeln!(
        text,
        "daimon_metrics_snapshot_age_seconds {}",
        age.as_secs_f64()
    );
    reply::bytes(200, "text/plain; version=0.0.4; charset=utf-8", text)
}

/// Starts building a snapshot unless one is under way.
pub fn refresh(ipc: Rc<IpcContext>, m: Rc<Metrics>) {
    if m.refreshing.replace(true) {
        return;
    }
    tokio::task::spawn_local(async move {
        let start = Instant::now();
        let units = ipc::dispatch(
            &ipc,
            Request::Status {
                units: Vec::new(),
                log_lines: 0,
                brief: false,
            },
        )
        .await;
        let timers = ipc::dispatch(&ipc, Request::Timers).await;
        let store = ipc.logs.store_totals().await;
        let dropped: u64 = ipc.logs.dropped_lines();
        let units = match units {
            Response::Status(u) => u,
            _ => Vec::new(),
        };
        let timers = match timers {
            Response::Timers(t) => t,
            _ => Vec::new(),
        };
        let text = render(&units, &timers, store, dropped, start.elapsed());
        *m.text.borrow_mut() = Rc::new(text);
        m.taken.set(Some(Instant::now()));
        m.refreshing.set(false);
    });
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value: backslash, double quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn unix_seconds(rfc3339: Option<&str>) -> Option<f64> {
    let t: jiff::Timestamp = rfc3339?.parse().ok()?;
    Some(t.as_millisecond() as f64 / 1000.0)
}

/// The exit status in `exited, status=3/NOTIMPLEMENTED`.
fn exit_status(last_exit: Option<&str>) -> Option<i64> {
    let rest = last_exit?.split_once("status=")?.1;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Per-unit series with one value each.
fn per_unit(
    out: &mut String,
    units: &[UnitStatus],
    name: &str,
    kind: &str,
    help: &str,
    value: impl Fn(&UnitStatus) -> Option<f64>,
) {
    family(out, name, kind, help);
    for u in units {
        if let Some(v) = value(u) {
            let _ = writeln!(out, "{name}{{unit=\"{}\"}} {v}", label(&u.name));
        }
    }
}

pub fn render(
    units: &[UnitStatus],
    timers: &[TimerInfo],
    store: Option<StoreTotals>,
    dropped: u64,
    took: Duration,
) -> String {
    let mut out = String::with_capacity(256 + units.len() * 900);
    let empty = BTreeMap::new();
    let logged = store.as_ref().map_or(&empty, |(_, u)| u);
    family(
        &mut out,
        "daimon_unit_state",
        "gauge",
        "Whether the unit is in this active state (1) or not (0).",
    );
    for u in units {
        for s in STATES {
            let v = u8::from(u.state == s);
            let _ = writeln!(
                out,
                "daimon_unit_state{{unit=\"{}\",state=\"{}\"}} {v}",
                label(&u.name),
                s.as_str()
            );
        }
    }
    let f = |v: u64| Some(v as f64);
    per_unit(
        &mut out,
        units,
        "daimon_unit_restarts_total",
        "counter",
        "Automatic restarts since the unit was last started by a user.",
        |u| f(u64::from(u.restarts)),
    );
    per_unit(
        &mut out,
        units,
        "daimon_unit_memory_bytes",
        "gauge",
        "Resident memory of the unit's process tree.",
        |u| u.memory_bytes.map(|b| b as f64),
    );
    per_unit(
        &mut out,
        units,
        "daimon_unit_cpu_seconds_total",
        "counter",
        "CPU time (user and system) of the unit's process tree.",
        |u| u.cpu_usec.map(|c| c as f64 / 1e6),
    );
    per_unit(
        &mut out,
        units,
        "daimon_unit_tasks",
        "gauge",
        "Processes in the unit's tree.",
        |u| f(u.tasks.len() as u64),
    );
    per_unit(
        &mut out,
        units,
        "daimon_unit_start_time_seconds",
        "gauge",
        "When the unit's current or last run started, Unix time.",
        |u| unix_seconds(u.last_run.as_ref().map(|r| r.started.as_str())),
    );
    per_unit(
        &mut out,
        units,
        "daimon_unit_last_exit_status",
        "gauge",
        "Exit status of the unit's last main process that exited (not killed).",
        |u| exit_status(u.last_exit.as_deref()).map(|s| s as f64),
    );
    per_unit(
        &mut out,
        units,
        "daimon_unit_log_lines",
        "gauge",
        "Lines of the unit the log store holds (retention removes old ones).",
        |u| logged.get(&u.name).map(|t| t.0 as f64),
    );
    per_unit(
        &mut out,
        units,
        "daimon_unit_log_bytes",
        "gauge",
        "Bytes those lines take in the log store, before compression.",
        |u| logged.get(&u.name).map(|t| t.1 as f64),
    );
    family(
        &mut out,
        "daimon_timer_last_trigger_seconds",
        "gauge",
        "When the timer last triggered its unit, Unix time.",
    );
    for t in timers {
        if let Some(v) = unix_seconds(t.last.as_deref()) {
            let _ = writeln!(
                out,
                "daimon_timer_last_trigger_seconds{{unit=\"{}\"}} {v}",
                label(&t.unit)
            );
        }
    }
    family(
        &mut out,
        "daimon_timer_next_trigger_seconds",
        "gauge",
        "When the timer triggers next, Unix time.",
    );
    for t in timers {
        if let Some(v) = unix_seconds(t.next.as_deref()) {
            let _ = writeln!(
                out,
                "daimon_timer_next_trigger_seconds{{unit=\"{}\"}} {v}",
                label(&t.unit)
            );
        }
    }
    family(
        &mut out,
        "daimon_units",
        "gauge",
        "Loaded units by active state.",
    );
    for s in STATES {
        let n = units.iter().filter(|u| u.state == s).count();
        let _ = writeln!(out, "daimon_units{{state=\"{}\"}} {n}", s.as_str());
    }
    if let Some((b, per_unit)) = &store {
        family(
            &mut out,
            "daimon_log_store_bytes",
            "gauge",
            "Disk space of the log store (segments and index).",
        );
        let _ = writeln!(out, "daimon_log_store_bytes {b}");
        family(
            &mut out,
            "daimon_log_store_lines",
            "gauge",
            "Lines the log store holds, all units (daimond's own included).",
        );
        let lines: u64 = per_unit.values().map(|t| t.0).sum();
        let _ = writeln!(out, "daimon_log_store_lines {lines}");
    }
    family(
        &mut out,
        "daimon_log_dropped_lines_total",
        "counter",
        "Log lines the store could not keep (disk full, quota, I/O errors).",
    );
    let _ = writeln!(out, "daimon_log_dropped_lines_total {dropped}");
    family(
        &mut out,
        "daimon_metrics_snapshot_duration_seconds",
        "gauge",
        "How long taking the snapshot these metrics come from took.",
    );
    let _ = writeln!(
        out,
        "daimon_metrics_snapshot_duration_seconds {}",
        took.as_secs_f64()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_from_the_status_text() {
        assert_eq!(
            exit_status(Some("exited, status=3/NOTIMPLEMENTED")),
            Some(3)
        );
        assert_eq!(exit_status(Some("killed, signal=KILL")), None);
        assert_eq!(unix_seconds(Some("1970-01-01T00:00:01.5Z")), Some(1.5));
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
