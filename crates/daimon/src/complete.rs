//! Shell completion that knows the units: `daimon completions SHELL` prints a
//! small script that asks `daimon` itself at each Tab (clap's `COMPLETE=SHELL`
//! protocol), so `daimon status we<Tab>` completes `web.service` from the running
//! daemon, and flags and subcommands complete from the clap definitions.
//!
//! Unit names come from the daemon when one answers (never started for a Tab),
//! else from the unit files in the units directory.

use std::time::Duration;

use clap::CommandFactory;
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use clap_complete::env::{CompleteEnv, Shells};
use daimon_proto::{Paths, Request, Response};

use crate::cli::{Cli, Shell};
use crate::client::Client;
use crate::error::{CliError, CliResult};

/// The variable through which the shell asks for completions.
const VAR: &str = "COMPLETE";

/// Answers a completion request and exits, when the shell made one; returns at
/// once otherwise.
pub fn answer_if_asked() {
    CompleteEnv::with_factory(command).var(VAR).complete();
}

/// The clap command with unit-name candidates on every `UNIT` argument.
pub fn command() -> clap::Command {
    with_unit_candidates(Cli::command())
}

fn with_unit_candidates(mut cmd: clap::Command) -> clap::Command {
    let ids: Vec<clap::Id> = cmd
        .get_arguments()
        .filter(|a| {
            a.get_value_names()
                .is_some_and(|names| names.iter().any(|n| n.as_str().starts_with("UNIT")))
        })
        .map(|a| a.get_id().clone())
        .collect();
    for id in ids {
        cmd = cmd.mut_arg(id, |a| a.add(ArgValueCandidates::new(unit_candidates)));
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for s in subs {
        cmd = cmd.mut_subcommand(s, with_unit_candidates);
    }
    cmd
}

/// Every known unit: the daemon's list, or the unit files on disk.
fn unit_candidates() -> Vec<CompletionCandidate> {
    unit_names(&Paths::from_env())
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}

fn unit_names(paths: &Paths) -> Vec<String> {
    let listed = Client::connect(paths, false)
        .ok()
        .flatten()
        .and_then(|c| c.call(&Request::List, Duration::from_millis(500)).ok());
    if let Some(Response::List(list)) = listed {
        return list.into_iter().map(|u| u.name).collect();
    }
    let Ok(dir) = std::fs::read_dir(&paths.units) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| {
            n.rsplit_once('.')
                .is_some_and(|(_, suffix)| daimon_unit::UnitKind::from_suffix(suffix).is_some())
        })
        .collect();
    names.sort();
    names
}

/// `daimon completions SHELL`: the script that registers `daimon` as its own
/// completer for SHELL.
pub fn script(shell: Shell) -> CliResult {
    let name = match shell {
        Shell::Bash => "bash",
        Shell::Zsh => "zsh",
        Shell::Fish => "fish",
        Shell::Elvish => "elvish",
        Shell::Powershell => "powershell",
    };
    let builtins = Shells::builtins();
    let completer = builtins
        .completer(name)
        .ok_or_else(|| CliError::fail(format!("no completion support for {name}")))?;
    // The shell calls this very binary back: by its path when it is not the
    // `daimon` found in PATH.
    let me = std::env::current_exe()
        .ok()
        .filter(|p| !on_path_as_daimon(p))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "daimon".to_string());
    let mut buf = Vec::new();
    completer
        .write_registration(VAR, "daimon", "daimon", &me, &mut buf)
        .map_err(|e| CliError::fail(format!("writing the completion script: {e}")))?;
    crate::print_quietly(&buf, "the completion script")
}

/// Whether `exe` is what `daimon` resolves to in PATH.
fn on_path_as_daimon(exe: &std::path::Path) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path)
        .map(|d| d.join("daimon"))
        .any(|p| same_file(&p, exe))
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_argument_gets_candidates() {
        let mut cmd = command();
        cmd.build();
        let mut missing = Vec::new();
        for sub in cmd.get_subcommands() {
            for a in sub.get_arguments() {
                let is_unit = a
                    .get_value_names()
                    .is_some_and(|n| n.iter().any(|n| n.as_str().starts_with("UNIT")));
                if is_unit && a.get::<ArgValueCandidates>().is_none() {
                    missing.push(format!("{} {}", sub.get_name(), a.get_id()));
                }
            }
        }
        assert!(missing.is_empty(), "{missing:?}");
    }
}
