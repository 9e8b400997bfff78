//! daimon: the command-line client of daimond.
//!
//! Owns: parsing the command line (`cli`), talking to the daemon (`client`, which
//! starts daimond when none answers), rendering answers (`render`), and the exit
//! codes of PRODUCT.md. `verify`, `completions`, `man` and `import crontab
//! --dry-run` work without a daemon.
//!
//! Must never: hold unit state or read the log store itself; the daemon is the one
//! owner of both.

mod api;
mod attach;
mod cli;
mod client;
mod commands;
mod complete;
mod error;
mod holder;
mod import;
mod logs;
mod logs_strip;
mod man;
mod pager;
mod reexec;
mod remote;
mod render;
mod render_timers;
mod run;
mod run_policy;
mod run_triggers;
mod run_tty;
mod save;
mod schedule;
mod shell_words;
mod startup;
mod top;
mod trust;
mod verbs;
mod web;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use daimon_proto::{Paths, Request};

use crate::cli::{Cli, Command, ImportCommand};
use crate::error::{CliError, CliResult};

fn main() -> ExitCode {
    complete::answer_if_asked();
    // `-H HOST` first: the whole command runs on HOST (see `remote`).
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if let Some((host, rest)) = remote::split_host(&args) {
        return match remote::run(&host, &rest) {
            Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            Err(e) => {
                eprintln!("daimon: {}", e.message);
                ExitCode::from(u8::try_from(e.code).unwrap_or(1))
            }
        };
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors exit 1 (not clap's
            // 2) so that every failure has systemctl's code.
            let code = if e.use_stderr() { 1 } else { 0 };
            if let Some(typed) = unknown_top_command(&e) {
                eprintln!("{}", verbs::suggest::unknown_subcommand(&typed));
                return ExitCode::from(1);
            }
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match dispatch(cli.command) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("daimon: {}", e.message);
            ExitCode::from(u8::try_from(e.code).unwrap_or(1))
        }
    }
}

/// The first word, when clap refused it as an unknown subcommand: its tip
/// could name a command that stops things, so `suggest` answers instead.
fn unknown_top_command(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::InvalidSubcommand {
        return None;
    }
    let Some(ContextValue::String(typed)) = e.get(ContextKind::InvalidSubcommand) else {
        return None;
    };
    let first = std::env::args().nth(1)?;
    (first == *typed).then(|| typed.clone())
}

fn dispatch(cmd: Command) -> CliResult {
    let paths = Paths::from_env();
    match cmd {
        Command::Run(args) => commands::run(&paths, &args),
        Command::Start(u) => commands::jobs(&paths, |units| Request::Start { units }, &u.units),
        Command::Stop(a) => verbs::stop(&paths, &a),
        Command::Restart(u) => commands::jobs(&paths, |units| Request::Restart { units }, &u.units),
        Command::Reload(u) => commands::jobs(&paths, |units| Request::Reload { units }, &u.units),
        Command::Enable(u) => commands::jobs(&paths, |units| Request::Enable { units }, &u.units),
        Command::Disable(u) => commands::jobs(&paths, |units| Request::Disable { units }, &u.units),
        Command::Status(args) => commands::status(&paths, &args),
        Command::List(o) => commands::list(&paths, o.output),
        Command::Logs(args) => logs::run(&args, &paths),
        Command::Verify(args) => verify(&paths, &args.files),
        Command::Cat(args) => commands::cat(&paths, &args.unit),
        Command::Save(args) => save::save(&paths, &args.unit),
        Command::Timers(o) => commands::timers(&paths, o.output),
        Command::Import(ImportCommand::Crontab(args)) => import::crontab(&paths, &args),
        Command::IsActive(a) => verbs::is_active(&paths, &a),
        Command::IsEnabled(a) => verbs::is_enabled(&paths, &a),
        Command::IsFailed(a) => verbs::is_failed(&paths, &a),
        Command::Kill(a) => verbs::kill(&paths, &a),
        Command::ResetFailed(u) => verbs::reset_failed(&paths, &u.units),
        Command::Show(a) => verbs::show(&paths, &a),
        Command::Edit(a) => verbs::edit(&paths, &a),
        Command::ListUnits(a) => verbs::list_units(&paths, &a),
        Command::ListUnitFiles(a) => verbs::list_unit_files(&paths, &a),
        Command::Remove(u) => verbs::remove(&paths, &u.units),
        Command::DaemonReload => commands::daemon_reload(&paths),
        Command::DaemonReexec => reexec::run(&paths),
        Command::Startup(args) => startup::run(&args),
        Command::Shutdown => commands::shutdown(&paths),
        Command::Api(a) => api::run(&paths, a.show_token),
        Command::Top => top::run(&paths),
        Command::Attach(a) => attach::run(&paths, &a),
        Command::Web(a) => web::run(&paths, a.no_open),
        Command::Completions { shell } => complete::script(shell),
        Command::Man(args) => man::run(&args),
    }
}

/// `daimon verify FILE...`: every diagnostic as `file:line[:col]: severity: message`
/// (the compiler convention editors understand); exit 1 if any is an error.
fn verify(paths: &Paths, files: &[std::path::PathBuf]) -> CliResult {
    for f in files {
        if let Some(what) = daimon_unit::not_a_unit_file(f) {
            return Err(CliError::fail(format!(
                "cannot verify \"{}\": {what}",
                f.display()
            )));
        }
    }
    let ctx = daimon_unit::SpecifierContext::from_env(paths.system_mode);
    let diags = daimon_unit::verify_files(files, &ctx);
    let mut out = std::io::stdout().lock();
    for d in &diags {
        let _ = writeln!(out, "{}", render_diagnostic(d));
    }
    let _ = out.flush();
    Ok(if daimon_unit::has_errors(&diags) {
        1
    } else {
        0
    })
}

pub(crate) fn render_diagnostic(d: &daimon_unit::Diagnostic) -> String {
    let mut place = d.file.display().to_string();
    if d.line > 0 {
        place.push_str(&format!(":{}", d.line));
        if let Some(c) = d.column {
            place.push_str(&format!(":{c}"));
        }
    }
    format!("{place}: {}: {}", d.severity, d.message)
}

/// Writes `bytes` to stdout; a reader that went away (`| head`) is no error.
pub(crate) fn print_quietly(bytes: &[u8], what: &str) -> CliResult {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(CliError::fail(format!("writing {what}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        complete::command().debug_assert();
    }
}
