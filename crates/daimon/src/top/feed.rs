//! What `daimon top` asks daimond, and the streams it keeps open.
//!
//! Rows come from the brief status table: all of them once at start (and after
//! a burst of changes too large to follow one by one), then one unit per state
//! event, and each second only the rows on screen, for their CPU and memory.
//! The log pane is a `Logs` follow stream of its own, ended (socket shut down)
//! when the pane closes or moves to another unit.

use std::collections::VecDeque;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::Sender;

use daimon_proto::{LogsRequest, Paths, Request, Response, UnitRow, UnitStatus};

use super::input::Msg;
use crate::client::{Client, JOBS, QUICK, unexpected};
use crate::error::CliError;

/// Lines the log pane starts with (what it keeps is bounded in `view`).
pub const LOG_LINES: usize = 200;
/// Between two tries to reach daimond again for its events.
const RECONNECT: std::time::Duration = std::time::Duration::from_secs(1);
/// Recent lines the detail view asks for.
const DETAIL_LINES: usize = 30;

fn connect(paths: &Paths) -> Result<Client, CliError> {
    Client::connect(paths, false)?.ok_or_else(|| CliError::fail("daimond is not running"))
}

/// The brief rows of `units` (every unit when empty).
pub fn rows(paths: &Paths, units: &[String]) -> Result<Vec<UnitRow>, CliError> {
    let req = Request::Status {
        units: units.to_vec(),
        log_lines: 0,
        brief: true,
    };
    match connect(paths)?.call(&req, QUICK)? {
        Response::StatusTable(rows) => Ok(rows),
        other => Err(unexpected(other)),
    }
}

/// One unit's full status, as `daimon status UNIT` shows it.
pub fn status(paths: &Paths, unit: &str) -> Result<UnitStatus, CliError> {
    let req = Request::Status {
        units: vec![unit.to_string()],
        log_lines: DETAIL_LINES,
        brief: false,
    };
    match connect(paths)?.call(&req, QUICK)? {
        Response::Status(mut list) if list.len() == 1 => {
            let mut st = list.remove(0);
            crate::render::escape_status(&mut st);
            Ok(st)
        }
        other => Err(unexpected(other)),
    }
}

/// What a key asks daimond to do to a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Start,
    Stop,
    Restart,
    Reload,
}

impl Verb {
    fn done(self) -> &'static str {
        match self {
            Verb::Start => "started",
            Verb::Stop => "stopped",
            Verb::Restart => "restarted",
            Verb::Reload => "reloaded",
        }
    }

    pub fn doing(self) -> &'static str {
        match self {
            Verb::Start => "starting",
            Verb::Stop => "stopping",
            Verb::Restart => "restarting",
            Verb::Reload => "reloading",
        }
    }
}

/// Runs the job on a thread of its own (a stop may wait for a stop timeout;
/// the screen goes on meanwhile) and sends its one-line outcome.
pub fn job(paths: &Paths, verb: Verb, unit: String, tx: Sender<Msg>) {
    let paths = paths.clone();
    std::thread::spawn(move || {
        let units = vec![unit.clone()];
        let req = match verb {
            Verb::Start => Request::Start { units },
            Verb::Stop => Request::Stop { units },
            Verb::Restart => Request::Restart { units },
            Verb::Reload => Request::Reload { units },
        };
        let line = match connect(&paths).and_then(|c| c.call(&req, JOBS)) {
            Ok(Response::Jobs(results)) => match results.iter().find_map(|j| j.error.as_ref()) {
                Some(e) => format!("{unit}: {}", e.message),
                None => format!("{unit} {}", verb.done()),
            },
            Ok(Response::Done) => format!("{unit} {}", verb.done()),
            Ok(other) => unexpected(other).to_string(),
            Err(e) => format!("{unit}: {e}"),
        };
        let _ = tx.send(Msg::JobDone(line));
    });
}

/// Starts the thread that turns daimond's state events into messages. When
/// the stream ends (daimond restarted, or was killed and started again) it
/// connects again, once a second while none answers, and asks for every row
/// once it is back: changes in between were not seen. An older daimond
/// without the stream gets no events; the running rows on screen still
/// refresh each second.
pub fn follow_events(paths: &Paths, tx: Sender<Msg>) {
    let paths = paths.clone();
    std::thread::spawn(move || {
        let mut first = true;
        loop {
            let stream = connect(&paths).and_then(|mut c| {
                c.send(&Request::Events, None)?;
                Ok(c)
            });
            if let Ok(mut c) = stream {
                if !first && tx.send(Msg::Changed(String::new())).is_err() {
                    return;
                }
                first = false;
                loop {
                    match c.next() {
                        Ok(Response::Event(unit)) => {
                            if tx.send(Msg::Changed(unit)).is_err() {
                                return;
                            }
                        }
                        // Too old to stream events: nothing to wait for.
                        Ok(_) => return,
                        Err(_) => break,
                    }
                }
            }
            std::thread::sleep(RECONNECT);
        }
    });
}

/// A log follow stream for the pane; ends when dropped.
pub struct LogFollow {
    stream: Option<UnixStream>,
}

impl Drop for LogFollow {
    fn drop(&mut self) {
        if let Some(s) = &self.stream {
            // Wakes the thread blocked reading it, which then ends.
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Follows `unit`'s log from its last [`LOG_LINES`] lines on, sending them as
/// `Msg::Logs` tagged with `generation` (older streams' lines are dropped).
pub fn follow_logs(paths: &Paths, unit: &str, generation: u64, tx: Sender<Msg>) -> LogFollow {
    let req = Request::Logs(LogsRequest {
        units: vec![unit.to_string()],
        lines: Some(LOG_LINES),
        follow: true,
        escape: true,
        ..LogsRequest::default()
    });
    let fail = |e: CliError, tx: &Sender<Msg>| {
        let _ = tx.send(Msg::Logs {
            generation,
            lines: vec![format!("logs: {e}")],
        });
        LogFollow { stream: None }
    };
    let mut c = match connect(paths) {
        Ok(c) => c,
        Err(e) => return fail(e, &tx),
    };
    if let Err(e) = c.send(&req, None) {
        return fail(e, &tx);
    }
    let stream = c.stream_clone();
    std::thread::spawn(move || {
        // A frame may end inside a line: the rest comes with the next.
        let mut partial = String::new();
        loop {
            let text = match c.next() {
                Ok(Response::LogData(s)) => s,
                Ok(Response::Done) => return,
                Ok(other) => format!("{}\n", unexpected(other)),
                // Also how a stream we shut down ends: its generation is
                // past by then, and the line is dropped.
                Err(e) => {
                    let lines = vec![format!("logs: {e}")];
                    let _ = tx.send(Msg::Logs { generation, lines });
                    return;
                }
            };
            partial.push_str(&text);
            let mut lines: VecDeque<String> = partial.split('\n').map(str::to_string).collect();
            partial = lines.pop_back().unwrap_or_default();
            if !lines.is_empty() {
                let lines = lines.into();
                if tx.send(Msg::Logs { generation, lines }).is_err() {
                    return;
                }
            }
        }
    });
    LogFollow { stream }
}
