//! systemctl's verbs beyond start/stop/status: `is-active`, `is-enabled`,
//! `is-failed`, `kill`, `reset-failed`, `show`, `edit`, `list-units`,
//! `list-unit-files`, `remove`, and `stop --all`.
//!
//! Each asks the daemon for facts through one request and turns them into
//! systemctl's output and exit codes (systemctl(1), "Exit status"): `is-active`
//! 0 when every unit is active, else 3; `is-failed` 0 when one is failed, else
//! 1; `is-enabled` 0 for enabled, static and transient units, 1 for disabled,
//! masked or bad ones, 4 for a unit without a file.

pub mod args;
mod edit;
mod lists;
mod show;
pub mod suggest;

use daimon_proto::{ActiveState, KillWhom, Paths, Request, Response, UnitState, unit_name};

use crate::client::{JOBS, QUICK, unexpected};
use crate::commands::{connect, report_jobs, with_known_units};
use crate::error::CliResult;
use args::{KillArgs, StateArgs, StopArgs};

pub use edit::edit;
pub use lists::{list_unit_files, list_units};
pub use show::show;

fn full_names(units: &[String]) -> Vec<String> {
    units.iter().map(|u| unit_name(u)).collect()
}

/// The states of `units`; patterns (`web@*`) stand for the loaded units they
/// match. `None` when patterns matched nothing at all.
fn states(paths: &Paths, units: &[String]) -> CliResult<Option<Vec<UnitState>>> {
    let req = Request::UnitStates {
        units: full_names(units),
    };
    match connect(paths)?.call(&req, QUICK)? {
        Response::UnitStates(s) if s.is_empty() => Ok(None),
        Response::UnitStates(s) => Ok(Some(s)),
        other => Err(unexpected(other)),
    }
}

fn say(quiet: bool, text: &str) {
    if !quiet {
        println!("{text}");
    }
}

/// `is-active`: each unit's active state; 0 when all are active (or
/// reloading), else 3 (systemctl's "program is not running"); a pattern
/// that matches no unit counts as not active.
pub fn is_active(paths: &Paths, a: &StateArgs) -> CliResult {
    let Some(list) = states(paths, &a.units)? else {
        return Ok(3);
    };
    let mut all = true;
    for s in list {
        say(a.quiet, s.state.as_str());
        all &= matches!(s.state, ActiveState::Active | ActiveState::Reloading);
    }
    Ok(if all { 0 } else { 3 })
}

/// `is-failed`: each unit's active state; 0 when one of them is failed, else 1.
pub fn is_failed(paths: &Paths, a: &StateArgs) -> CliResult {
    let Some(list) = states(paths, &a.units)? else {
        return Ok(1);
    };
    let mut any = false;
    for s in list {
        say(a.quiet, s.state.as_str());
        any |= s.state == ActiveState::Failed;
    }
    Ok(if any { 0 } else { 1 })
}

/// `is-enabled`: each unit's file state; the exit code of the worst one
/// (systemctl(1)'s table: enabled, static, transient 0; not-found 4; else 1).
pub fn is_enabled(paths: &Paths, a: &StateArgs) -> CliResult {
    let Some(list) = states(paths, &a.units)? else {
        return Ok(4);
    };
    let mut code = 0;
    for s in list {
        say(a.quiet, &s.enabled);
        let c = match s.enabled.as_str() {
            "enabled" | "static" | "transient" => 0,
            "not-found" => 4,
            _ => 1,
        };
        code = code.max(c);
    }
    Ok(code)
}

pub fn kill(paths: &Paths, a: &KillArgs) -> CliResult {
    let whom = match a.kill_whom {
        args::KillWhom::Main => KillWhom::Main,
        args::KillWhom::All => KillWhom::All,
    };
    let req = Request::Kill {
        units: full_names(&a.units),
        signal: a.signal.clone(),
        whom,
    };
    jobs_reply(paths, &req, QUICK)
}

pub fn reset_failed(paths: &Paths, units: &[String]) -> CliResult {
    let req = Request::ResetFailed {
        units: full_names(units),
    };
    jobs_reply(paths, &req, QUICK)
}

fn jobs_reply(paths: &Paths, req: &Request, wait: std::time::Duration) -> CliResult {
    match connect(paths)?
        .call(req, wait)
        .map_err(|e| with_known_units(paths, e))?
    {
        Response::Jobs(results) => Ok(report_jobs(&results)),
        Response::Done => Ok(0),
        other => Err(unexpected(other)),
    }
}

/// `stop UNIT...`, or with `--all` every unit that is not inactive.
pub fn stop(paths: &Paths, a: &StopArgs) -> CliResult {
    let units = if a.all {
        let list = match connect(paths)?.call(&Request::List, QUICK)? {
            Response::List(l) => l,
            other => return Err(unexpected(other)),
        };
        let running: Vec<String> = list
            .into_iter()
            .filter(|u| !matches!(u.state, ActiveState::Inactive | ActiveState::Failed))
            .map(|u| u.name)
            .collect();
        if running.is_empty() {
            return Ok(0);
        }
        running
    } else {
        full_names(&a.units)
    };
    jobs_reply(paths, &Request::Stop { units }, JOBS)
}

/// `remove`: says what went for each unit removed.
pub fn remove(paths: &Paths, units: &[String]) -> CliResult {
    let req = Request::Remove {
        units: full_names(units),
    };
    match connect(paths)?
        .call(&req, JOBS)
        .map_err(|e| with_known_units(paths, e))?
    {
        Response::Jobs(results) => {
            for r in results.iter().filter(|r| r.error.is_none()) {
                println!(
                    "Removed {}: stopped, disabled, unit file and drop-ins deleted.",
                    r.unit
                );
            }
            Ok(report_jobs(&results))
        }
        other => Err(unexpected(other)),
    }
}
