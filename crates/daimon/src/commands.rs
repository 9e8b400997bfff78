//! The commands that talk to the daemon (everything but `logs`, `verify`,
//! `completions` and `man`): build the request, send it, print the answer, and
//! choose the exit code.
//!
//! Output follows systemctl: jobs that succeed print nothing, failures print one
//! line each on stderr; `status` exits 3 when a named unit is not active.

use std::io::Write;

use daimon_proto::{
    ActiveState, ErrorKind, JobResult, Paths, Request, Response, escape_terminal_str, unit_name,
};

use crate::cli::{ListFormat, RunArgs, StatusArgs};
use crate::client::{Client, JOBS, QUICK, unexpected};
use crate::error::{CliError, CliResult};
use crate::render::{self, Style};
use crate::{render_timers, run, save, schedule};

pub(crate) fn connect(paths: &Paths) -> CliResult<Client> {
    Client::connect(paths, true)?.ok_or_else(|| CliError::fail("daimond is not running"))
}

pub(crate) fn print(text: &str) -> CliResult {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(CliError::fail(format!("writing output: {e}"))),
    }
}

pub(crate) fn json_err(e: serde_json::Error) -> CliError {
    CliError::fail(format!("JSON: {e}"))
}

/// Adds the closest known names to a bare "... not found" error (the daemon's own
/// not-found errors already carry them).
pub(crate) fn with_known_units(paths: &Paths, e: CliError) -> CliError {
    if e.code != ErrorKind::NotFound.exit_code() || !e.message.ends_with("not found") {
        return e;
    }
    let Some(typed) = e.message.split('"').nth(1) else {
        return e;
    };
    let known = Client::connect(paths, false)
        .ok()
        .flatten()
        .and_then(|c| c.call(&Request::List, QUICK).ok());
    match known {
        Some(Response::List(list)) => {
            let close = daimon_unit::suggest::closest(typed, list.iter().map(|u| u.name.as_str()));
            if close.is_empty() {
                return e;
            }
            let message = format!("{}; did you mean {}?", e.message, close.join(", "));
            CliError::new(e.code, message)
        }
        _ => e,
    }
}

/// The full unit name of what a user typed (`bot` -> `bot.service`), checked
/// by systemd's rules as daimond checks it, so that the message comes before
/// anything is sent.
pub(crate) fn checked_name(typed: &str) -> CliResult<String> {
    let name = unit_name(typed);
    daimon_unit::check_requested(&name).map_err(CliError::fail)?;
    Ok(name)
}

/// Names, or patterns (`'web@*'`) for the daemon to match and check.
fn checked_names(typed: &[String]) -> CliResult<Vec<String>> {
    typed
        .iter()
        .map(|u| {
            if daimon_proto::is_glob(u) {
                Ok(u.clone())
            } else {
                checked_name(u)
            }
        })
        .collect()
}

/// Prints failed jobs; the exit code is the worst of them.
pub(crate) fn report_jobs(results: &[JobResult]) -> i32 {
    let mut code = 0;
    for r in results {
        if let Some(e) = &r.error {
            eprintln!("daimon: {}", e.message);
            code = code.max(e.kind.exit_code());
        }
    }
    code
}

/// start/stop/restart/reload/enable/disable.
pub fn jobs(paths: &Paths, make: fn(Vec<String>) -> Request, units: &[String]) -> CliResult {
    let units = checked_names(units)?;
    let resp = connect(paths)?
        .call(&make(units), JOBS)
        .map_err(|e| with_known_units(paths, e))?;
    match resp {
        Response::Jobs(results) => Ok(report_jobs(&results)),
        Response::Done => Ok(0),
        other => Err(unexpected(other)),
    }
}

pub fn run(paths: &Paths, args: &RunArgs) -> CliResult {
    let ctx = run::RunContext::from_env()?;
    let req = run::build(args, &ctx)?;
    checked_name(&req.name)?;
    if let Some(t) = &req.timer {
        checked_name(&t.name)?;
    }
    let name = req.name.clone();
    let short = name.strip_suffix(".service").unwrap_or(&name).to_string();
    // Saving a unit that runs keeps it running: look first, to say so after.
    let before = if (args.save || args.enable) && req.timer.is_none() {
        save::before(paths, &name)
    } else {
        None
    };
    let text = req.unit_text.clone();
    match connect(paths)?.call(&Request::Run(req), JOBS)? {
        Response::Jobs(results) => {
            let code = report_jobs(&results);
            if code != 0 {
                return Ok(code);
            }
        }
        Response::Done => {}
        other => return Err(unexpected(other)),
    }
    if let Some(s) = schedule::from_run_args(&args.on_calendar, args.cron.as_deref())? {
        let tz = schedule::local_zone();
        println!(
            "{}",
            schedule::next_run_line(&short, &s.trigger, jiff::Timestamp::now(), &tz)
        );
        if args.enable {
            println!("Enabled: {short}.timer starts whenever the daemon starts.");
        } else if args.save {
            println!(
                "Saved: \"daimon start {short}.timer\" starts the schedule again after a daemon restart."
            );
        }
        return Ok(0);
    }
    if let Some(b) = &before {
        save::report_kept(paths, b, &name, &text);
        if args.enable {
            println!("Enabled: {name} starts whenever the daemon starts.");
        }
        return Ok(0);
    }
    let status = connect(paths)?.call(
        &Request::Status {
            units: vec![name.clone()],
            log_lines: 0,
            brief: false,
        },
        QUICK,
    );
    let st = match status {
        Ok(Response::Status(mut list)) if !list.is_empty() => Some(list.remove(0)),
        _ => None,
    };
    let hint = match args.tty {
        true => format!("Attach to its terminal with: daimon attach {short}"),
        false => format!("Follow its output with: daimon logs {short} -f"),
    };
    match st {
        Some(st) if st.state == ActiveState::Failed || st.pid.is_none() => {
            let mut why = format!("{} ({})", st.state.as_str(), st.sub_state);
            if let Some(e) = &st.last_exit {
                why.push_str(&format!(": {e}"));
            }
            eprintln!("daimon: {name} started but is now {why}; see: daimon logs {short}");
        }
        Some(st) => {
            let pid = st.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            println!("Started {name}{pid}. {hint}");
        }
        None => println!("Started {name}. {hint}"),
    }
    if args.enable {
        println!("Enabled: {name} starts whenever the daemon starts.");
    } else if args.save {
        println!("Saved: \"daimon start {short}\" starts it again after a daemon restart.");
    }
    Ok(0)
}

pub fn status(paths: &Paths, args: &StatusArgs) -> CliResult {
    let detail = !args.units.is_empty();
    let table = !detail && args.output == ListFormat::Table;
    let units = checked_names(&args.units)?;
    let req = Request::Status {
        units: units.clone(),
        log_lines: if detail && args.output == ListFormat::Table {
            args.lines
        } else {
            0
        },
        // The table of all units needs only its columns.
        brief: table,
    };
    let list = match connect(paths)?
        .call(&req, QUICK)
        .map_err(|e| with_known_units(paths, e))?
    {
        Response::Status(list) => list,
        // Never in answer to a full request; a brief one always gets it (an
        // older daemon answers `Status`, rendered below like any).
        Response::StatusTable(mut rows) if table => {
            if render::escape_for_terminal(args.raw_escapes) {
                for r in &mut rows {
                    r.description = r.description.as_deref().map(escape_terminal_str);
                }
            }
            if let Some(missing) = rows.iter().find(|s| s.load_state == "not-found") {
                let e = CliError::new(4, format!("unit \"{}\" not found", missing.name));
                return Err(with_known_units(paths, e));
            }
            let mut text = if rows.is_empty() {
                render::no_units(&paths.units)
            } else {
                let mut text = render::status_rows(&rows, jiff::Timestamp::now(), Style::detect());
                // Whether the daemon itself comes back after a reboot (`daimon startup`).
                text.push_str(&format!("\n{}\n", crate::startup::boot_line()));
                if let Some(warning) = crate::holder::missing_line(paths) {
                    text.push_str(&format!("{warning}\n"));
                }
                text
            };
            // Last, where scripts and people find it: the HTTP API's URL.
            if let Some(line) = crate::api::status_line(paths) {
                text.push_str(&line);
            }
            print(&text)?;
            return Ok(0);
        }
        other => return Err(unexpected(other)),
    };
    if let Some(missing) = list.iter().find(|s| s.load_state == "not-found") {
        let e = CliError::new(4, format!("unit \"{}\" not found", missing.name));
        return Err(with_known_units(paths, e));
    }
    let mut list = list;
    if args.output == ListFormat::Table && render::escape_for_terminal(args.raw_escapes) {
        list.iter_mut().for_each(render::escape_status);
    }
    let text = match (args.output, detail) {
        (ListFormat::Json, _) => serde_json::to_string_pretty(&list).map_err(json_err)? + "\n",
        (ListFormat::Table, false) if list.is_empty() => render::no_units(&paths.units),
        (ListFormat::Table, false) => {
            render::status_table(&list, jiff::Timestamp::now(), Style::detect())
        }
        (ListFormat::Table, true) => {
            let tz = jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC);
            let now = jiff::Timestamp::now();
            let style = Style::detect();
            let parts: Vec<String> = list
                .iter()
                .map(|st| render::status_detail(st, now, &tz, style))
                .collect();
            parts.join("\n")
        }
    };
    print(&text)?;
    let inactive = detail
        && list
            .iter()
            .any(|s| !matches!(s.state, ActiveState::Active | ActiveState::Reloading));
    Ok(if inactive { 3 } else { 0 })
}

pub fn list(paths: &Paths, output: ListFormat) -> CliResult {
    let mut list = match connect(paths)?.call(&Request::List, QUICK)? {
        Response::List(l) => l,
        other => return Err(unexpected(other)),
    };
    if output == ListFormat::Table && render::escape_for_terminal(false) {
        for u in &mut list {
            u.description = u.description.as_deref().map(escape_terminal_str);
        }
    }
    let text = match output {
        ListFormat::Json => serde_json::to_string_pretty(&list).map_err(json_err)? + "\n",
        ListFormat::Table => render::list_table(&list, Style::detect()),
    };
    print(&text)
}

/// `daimon timers`: systemctl list-timers.
pub fn timers(paths: &Paths, output: ListFormat) -> CliResult {
    let list = match connect(paths)?.call(&Request::Timers, QUICK)? {
        Response::Timers(l) => l,
        other => return Err(unexpected(other)),
    };
    let text = match output {
        ListFormat::Json => serde_json::to_string_pretty(&list).map_err(json_err)? + "\n",
        ListFormat::Table => render_timers::timers_table(
            &list,
            jiff::Timestamp::now(),
            &schedule::local_zone(),
            Style::detect(),
        ),
    };
    print(&text)
}

pub fn cat(paths: &Paths, unit: &str) -> CliResult {
    let req = Request::Cat {
        unit: checked_name(unit)?,
    };
    match connect(paths)?
        .call(&req, QUICK)
        .map_err(|e| with_known_units(paths, e))?
    {
        Response::Cat(files) => print(&render::cat(&files, Style::detect())),
        other => Err(unexpected(other)),
    }
}

pub fn daemon_reload(paths: &Paths) -> CliResult {
    match connect(paths)?.call(&Request::DaemonReload, JOBS)? {
        Response::Done => Ok(0),
        Response::Jobs(results) => Ok(report_jobs(&results)),
        other => Err(unexpected(other)),
    }
}

pub fn shutdown(paths: &Paths) -> CliResult {
    let Some(client) = Client::connect(paths, false)? else {
        println!("daimond is not running.");
        return Ok(0);
    };
    let mut client = client;
    client.send(&Request::Shutdown, Some(JOBS))?;
    match client.next()? {
        Response::Done => {
            // Return once the daemon has let go of its files, so that a command
            // right after this one starts a fresh daemon.
            client.wait_closed(QUICK);
            let pid_file = paths.pid_file();
            let start = std::time::Instant::now();
            while pid_file.exists() && start.elapsed() < QUICK {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Ok(0)
        }
        other => Err(unexpected(other)),
    }
}
