//! `daimon top`: a live full-screen view of the units, a client of daimond.
//!
//! Drawn with plain ANSI escapes (no TUI library: one table, a pane and a
//! prompt line need no widget tree, and the CLI stays without new
//! dependencies). The loop sleeps in poll(2) on stdin and a signal pipe with
//! a 1 s timeout. A thread holds an `Events` stream from daimond and wakes the
//! loop on each unit state change, which re-reads the table at once; each
//! second the table is read anyway for CPU and memory (the brief status
//! table, as `daimon status` asks for). The terminal is written only when the
//! screen changed, so an idle `top` costs close to nothing on either side.

mod term;
mod view;

use std::io::Write;
use std::time::{Duration, Instant};

use daimon_proto::{LogsRequest, Paths, Request, Response};

use crate::client::{Client, JOBS, QUICK, unexpected};
use crate::error::{CliError, CliResult};
use term::Terminal;
use view::{Prompt, View};

/// Between two refreshes of the table.
const TICK: Duration = Duration::from_secs(1);
/// Log lines the pane fetches.
const LOG_LINES: usize = 200;

pub fn run(paths: &Paths) -> CliResult {
    // SAFETY: isatty only inspects the fd.
    if unsafe { libc::isatty(0) } != 1 || unsafe { libc::isatty(1) } != 1 {
        return Err(CliError::fail(
            "daimon top needs a terminal on stdin and stdout; use `daimon status` in scripts",
        ));
    }
    // Fails early, before the screen is taken, when daimond cannot be reached.
    let first = table(paths)?;
    let start = Instant::now();
    let mut view = View::new();
    view.update(first, 0);
    let term =
        Terminal::enter().map_err(|e| CliError::fail(format!("daimon top: terminal: {e}")))?;
    follow_events(paths);
    let mut last: Vec<String> = vec![];
    let mut next_tick = Instant::now() + TICK;
    loop {
        draw(&view, &mut last);
        let wait = next_tick.saturating_duration_since(Instant::now());
        let (input, signal) = term::wait(term.signals, wait.as_millis() as i32 + 1);
        if signal {
            for sig in term::read_some(term.signals) {
                match sig as i32 {
                    libc::SIGWINCH => last.clear(),
                    // A state changed: read the table now.
                    s if s == term::WAKE as i32 => next_tick = Instant::now(),
                    _ => return Ok(0),
                }
            }
        }
        if input {
            let keys = term::read_some(0);
            if keys.is_empty() {
                // stdin hung up: nobody is there to read the screen.
                return Ok(0);
            }
            if !on_keys(paths, &mut view, &keys) {
                return Ok(0);
            }
        }
        if Instant::now() >= next_tick {
            next_tick = Instant::now() + TICK;
            match table(paths) {
                Ok(rows) => {
                    view.update(rows, start.elapsed().as_micros() as u64);
                    if view
                        .message
                        .as_deref()
                        .is_some_and(|m| m.starts_with("daimond"))
                    {
                        view.message = None;
                    }
                }
                Err(e) => view.message = Some(format!("daimond: {e}")),
            }
            if let Some((unit, _)) = &view.logs {
                let unit = unit.clone();
                view.logs = Some((unit.clone(), logs(paths, &unit)));
            }
        }
    }
}

/// Starts the thread that wakes the loop on each state change. Without it
/// (an older daimond, or the stream ended) the 1 s refresh still shows them.
fn follow_events(paths: &Paths) {
    let Ok(mut c) = connect(paths) else {
        return;
    };
    if c.send(&Request::Events, None).is_err() {
        return;
    }
    std::thread::spawn(move || {
        while let Ok(Response::Event(_)) = c.next() {
            term::wake();
        }
    });
}

/// Writes the lines that differ from the last frame (all of them after a
/// resize, which clears `last`).
fn draw(view: &View, last: &mut Vec<String>) {
    let (cols, rows) = Terminal::size();
    let now = jiff::Timestamp::now().as_second();
    let frame = view.frame(cols, rows, now);
    let mut out = String::new();
    if last.len() != frame.len() {
        out.push_str("\x1b[2J");
        last.clear();
    }
    for (i, line) in frame.iter().enumerate() {
        if last.get(i) != Some(line) {
            out.push_str(&format!("\x1b[{};1H{line}\x1b[K", i + 1));
        }
    }
    if !out.is_empty() {
        let mut so = std::io::stdout().lock();
        let _ = so.write_all(out.as_bytes());
        let _ = so.flush();
    }
    *last = frame;
}

/// Handles typed bytes; false to quit.
fn on_keys(paths: &Paths, view: &mut View, keys: &[u8]) -> bool {
    let mut i = 0;
    while i < keys.len() {
        // Arrow keys: ESC [ A / ESC [ B (and the ESC O form of some terminals).
        let arrow = match keys.get(i..i + 3) {
            Some([0x1b, b'[' | b'O', b'A']) => Some(-1),
            Some([0x1b, b'[' | b'O', b'B']) => Some(1),
            _ => None,
        };
        if let Some(d) = arrow {
            if view.prompt == Prompt::Keys {
                view.move_by(d);
            }
            i += 3;
            continue;
        }
        if !on_key(paths, view, keys[i]) {
            return false;
        }
        i += 1;
    }
    true
}

fn on_key(paths: &Paths, view: &mut View, k: u8) -> bool {
    match view.prompt.clone() {
        Prompt::Filter => {
            match k {
                b'\r' | b'\n' => view.prompt = Prompt::Keys,
                0x1b => {
                    view.filter.clear();
                    view.prompt = Prompt::Keys;
                }
                0x7f | 0x08 => {
                    view.filter.pop();
                }
                c if c.is_ascii_graphic() || c == b' ' => view.filter.push(c as char),
                _ => {}
            }
            let keep = view.selected_name();
            view.reselect(keep.as_deref());
            return true;
        }
        Prompt::ConfirmStop(unit) => {
            view.prompt = Prompt::Keys;
            view.message = Some(if k == b'y' || k == b'Y' {
                job(
                    paths,
                    Request::Stop {
                        units: vec![unit.clone()],
                    },
                    "stopped",
                    &unit,
                )
            } else {
                format!("stop of {unit} cancelled")
            });
            return true;
        }
        Prompt::Keys => {}
    }
    view.message = None;
    match k {
        b'q' | 0x03 => return false,
        b'j' => view.move_by(1),
        b'k' => view.move_by(-1),
        b'/' => view.prompt = Prompt::Filter,
        b'o' => {
            let keep = view.selected_name();
            view.sort = view.sort.next();
            view.reselect(keep.as_deref());
        }
        b's' | b'S' | b'r' | b'R' | b'l' => {
            let Some(unit) = view.selected_name() else {
                return true;
            };
            match k {
                b's' => {
                    let m = job(
                        paths,
                        Request::Start {
                            units: vec![unit.clone()],
                        },
                        "started",
                        &unit,
                    );
                    view.message = Some(m);
                }
                b'r' => {
                    let req = Request::Restart {
                        units: vec![unit.clone()],
                    };
                    view.message = Some(job(paths, req, "restarted", &unit));
                }
                b'R' => {
                    let req = Request::Reload {
                        units: vec![unit.clone()],
                    };
                    view.message = Some(job(paths, req, "reloaded", &unit));
                }
                b'S' => view.prompt = Prompt::ConfirmStop(unit),
                _ => {
                    view.logs = match &view.logs {
                        Some((u, _)) if *u == unit => None,
                        _ => Some((unit.clone(), logs(paths, &unit))),
                    }
                }
            }
        }
        _ => {}
    }
    true
}

/// Runs a start/stop/restart and says how it went, in one line.
fn job(paths: &Paths, req: Request, done: &str, unit: &str) -> String {
    let r = connect(paths).and_then(|c| c.call(&req, JOBS));
    match r {
        Ok(Response::Jobs(results)) => match results.iter().find_map(|j| j.error.as_ref()) {
            Some(e) => format!("{unit}: {}", e.message),
            None => format!("{unit} {done}"),
        },
        Ok(Response::Done) => format!("{unit} {done}"),
        Ok(other) => unexpected(other).to_string(),
        Err(e) => format!("{unit}: {e}"),
    }
}

fn connect(paths: &Paths) -> Result<Client, CliError> {
    Client::connect(paths, false)?.ok_or_else(|| CliError::fail("daimond is not running"))
}

/// The brief status table.
fn table(paths: &Paths) -> Result<Vec<daimon_proto::UnitRow>, CliError> {
    let req = Request::Status {
        units: vec![],
        log_lines: 0,
        brief: true,
    };
    match connect(paths)?.call(&req, QUICK)? {
        Response::StatusTable(rows) => Ok(rows),
        other => Err(unexpected(other)),
    }
}

/// The unit's last log lines (short format), or one line saying why not.
fn logs(paths: &Paths, unit: &str) -> Vec<String> {
    let req = Request::Logs(LogsRequest {
        units: vec![unit.to_string()],
        lines: Some(LOG_LINES),
        escape: true,
        ..LogsRequest::default()
    });
    let mut text = String::new();
    let r = connect(paths).and_then(|mut c| {
        c.send(&req, Some(QUICK))?;
        loop {
            match c.next()? {
                Response::LogData(s) => text.push_str(&s),
                Response::Done => return Ok(()),
                other => return Err(unexpected(other)),
            }
        }
    });
    match r {
        Ok(()) => text.lines().map(str::to_string).collect(),
        Err(e) => vec![format!("logs: {e}")],
    }
}
