//! `daimon logs`: ask the daemon, copy what it streams to stdout.
//!
//! Owns: turning flags into a `LogsRequest` (`-f` without `-n` shows the last 10
//! lines first, as journalctl does) and copying `LogData` frames to stdout as they
//! arrive — buffered, flushed once per frame, and quiet when the reader goes away
//! (`daimon logs | head`), through a pager on a terminal (`pager`). The daemon does the querying and rendering and sends
//! raw frames (no JSON escaping, bytes exactly as stored), so 1,000,000 lines cost
//! one socket stream and one `write` per 256 KiB here.

use std::io::{self, BufWriter, Write};
use std::time::Duration;

use daimon_proto::{LogsRequest, Paths, Request, Response};

use crate::cli::{LogFormat, LogsArgs};
use crate::client::{Client, LogFrame, unexpected};
use crate::error::{CliError, CliResult};
use crate::logs_strip::Stripper;
use crate::pager::Pager;

/// Longest silence from the daemon while it searches (not following).
const QUERY_TIMEOUT: Duration = Duration::from_secs(120);

pub fn request(args: &LogsArgs) -> LogsRequest {
    // Names go as typed; the daemon matches `bot` to `bot.service`. A word with
    // `=` is a field match, as in journalctl (unit names never contain `=`).
    let (matches, positional): (Vec<String>, Vec<String>) =
        args.units.iter().cloned().partition(|w| w.contains('='));
    let units = positional
        .into_iter()
        .chain(args.unit.iter().cloned())
        .collect();
    LogsRequest {
        units,
        matches,
        invocation: args.invocation.clone(),
        since: args.since.clone(),
        until: args.until.clone(),
        priority: args.priority.clone(),
        grep: args.grep.clone(),
        lines: args.lines.or(if args.follow { Some(10) } else { None }),
        follow: args.follow,
        output: args.output.as_str().to_string(),
        raw: true,
        color: crate::render::Style::detect().color,
        escape: !args.strip_escapes && crate::render::escape_for_terminal(args.raw_escapes),
        boot: args.boot.clone(),
        list_boots: args.list_boots,
        disk_usage: args.disk_usage,
        rotate: args.rotate,
        vacuum_size: args.vacuum_size.clone(),
        vacuum_time: args.vacuum_time.clone(),
        reverse: args.reverse,
    }
}

pub fn run(args: &LogsArgs, paths: &Paths) -> CliResult {
    let req = request(args);
    for u in &req.units {
        crate::commands::checked_name(u)?;
    }
    let follow = req.follow;
    // journalctl's marker for an empty answer; JSON and export stay pure for machines.
    let machine = matches!(args.output, LogFormat::Json | LogFormat::Export);
    let mark_empty = !follow && !machine;
    let mut client =
        Client::connect(paths, true)?.ok_or_else(|| CliError::fail("daimond is not running"))?;
    client.send(
        &Request::Logs(req),
        if follow { None } else { Some(QUERY_TIMEOUT) },
    )?;
    // An error (a bad argument, an unknown unit) is printed by `main` once
    // the pager has quit, so it stays on the terminal.
    let mut pager = None;
    let sink: Box<dyn Write> = match Pager::start(args.no_pager, follow) {
        Some(mut p) => match p.input() {
            Some(input) => {
                pager = Some(p);
                Box::new(input)
            }
            None => Box::new(io::stdout().lock()),
        },
        None => Box::new(io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(256 * 1024, sink);
    let res = copy(args, &mut client, &mut out, mark_empty);
    drop(out);
    if let Some(p) = pager {
        p.wait();
    }
    res
}

/// Copies the daemon's answer to `out` (stdout or the pager).
fn copy(args: &LogsArgs, client: &mut Client, out: &mut impl Write, mark_empty: bool) -> CliResult {
    let mut shown = false;
    let machine = matches!(args.output, LogFormat::Json | LogFormat::Export);
    let mut strip =
        (args.strip_escapes && !machine).then(|| Stripper::new(args.output == LogFormat::Cat));
    let mut stripped = Vec::new();
    loop {
        let text = match client.next_log()? {
            LogFrame::Bytes(bytes) => bytes,
            LogFrame::Response(Response::LogData(text)) => text.into_bytes(),
            LogFrame::Response(Response::Done) => break,
            LogFrame::Response(other) => return Err(unexpected(other)),
        };
        shown |= !text.is_empty();
        let text = match strip.as_mut() {
            Some(s) => {
                stripped.clear();
                s.push(&text, &mut stripped);
                &stripped
            }
            None => &text,
        };
        if let Err(e) = out.write_all(text).and_then(|_| out.flush()) {
            return quiet_on_pipe(e);
        }
    }
    if let Some(s) = strip.as_mut() {
        stripped.clear();
        s.finish(&mut stripped);
        if let Err(e) = out.write_all(&stripped) {
            return quiet_on_pipe(e);
        }
    }
    if !shown
        && mark_empty
        && let Err(e) = out.write_all(b"-- No entries --\n")
    {
        return quiet_on_pipe(e);
    }
    match out.flush() {
        Ok(()) => Ok(0),
        Err(e) => quiet_on_pipe(e),
    }
}

/// The reader of our stdout went away (`| head`): not an error worth a message.
fn quiet_on_pipe(e: io::Error) -> CliResult {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(0)
    } else {
        Err(CliError::fail(format!("writing the logs: {e}")))
    }
}
