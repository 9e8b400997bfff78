//! `daimon top`: a live full-screen view of the units, a client of daimond,
//! drawn with ratatui on crossterm.
//!
//! The main loop sleeps on one channel (`input::Msg`): keys, signals, state
//! events, log lines and finished jobs all wake it, and a 1 s timeout samples
//! CPU and memory of the running rows on screen. Rows change by events (one
//! unit re-read per change); every unit is read only at start, after a burst
//! of changes too large to follow, when daimond is back after a restart, on
//! Ctrl-L, after attach, and each second while sorting by CPU or memory. So an
//! idle `top` over 1,000 units costs one small status request a second on
//! either side (about 0.1 % of a core each, `bench/top.sh`), and nothing at
//! all while no row on screen runs. ratatui writes only the cells that changed.

mod draw;
mod feed;
mod input;
mod keys;
mod parse;
mod term;
mod view;

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::process::{Command, ExitStatus};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use daimon_proto::{ActiveState, Paths};

use crate::error::{CliError, CliResult};
use feed::LogFollow;
use input::Msg;
use keys::Action;
use term::Screen;
use view::{Detail, View};

/// Between two samples of CPU and memory.
const TICK: Duration = Duration::from_secs(1);
/// Shortest time between two frames drawn for log lines.
const FRAME: Duration = Duration::from_millis(33);
/// More changed units than this at once: one read of the whole table instead.
const MANY: usize = 64;

pub fn run(paths: &Paths) -> CliResult {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(CliError::fail(
            "daimon top needs a terminal on stdin and stdout; use `daimon status` in scripts",
        ));
    }
    // Fails early, before the screen is taken, when daimond cannot be reached.
    let first = feed::rows(paths, &[])?;
    let mut view = View::new();
    view.update(first, 0);
    let terminal = |e: std::io::Error| CliError::fail(format!("daimon top: terminal: {e}"));
    let screen = Screen::enter().map_err(terminal)?;
    let (tx, rx) = channel();
    let keys = input::start(&tx).map_err(terminal)?;
    feed::follow_events(paths, tx.clone());
    let mut top = Top {
        paths,
        view,
        screen,
        keys,
        tx,
        start: Instant::now(),
        pane: None,
        generation: 0,
    };
    top.run(rx)
}

struct Top<'a> {
    paths: &'a Paths,
    view: View,
    screen: Screen,
    keys: input::Keys,
    tx: Sender<Msg>,
    start: Instant,
    /// The log pane's follow stream and the unit it follows.
    pane: Option<(String, LogFollow)>,
    /// Tags the current stream's lines (a replaced stream's are dropped).
    generation: u64,
}

impl Top<'_> {
    fn run(&mut self, rx: Receiver<Msg>) -> CliResult {
        let mut next_tick = Instant::now() + TICK;
        loop {
            self.follow_selection();
            self.draw()?;
            let wait = next_tick.saturating_duration_since(Instant::now());
            let first = match rx.recv_timeout(wait) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Ok(0),
            };
            let mut msgs: Vec<Msg> = first.into_iter().collect();
            // A busy unit's lines come in many small frames: they are
            // gathered for a frame's time, so they redraw the screen at most
            // about 30 times a second (a key ends the wait).
            if matches!(msgs.first(), Some(Msg::Logs { .. })) {
                let until = Instant::now() + FRAME;
                while let Ok(m) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                    let key = matches!(m, Msg::Key(_));
                    msgs.push(m);
                    if key {
                        break;
                    }
                }
            }
            // Everything else waiting, so a burst of events costs one read
            // (bounded, so that a flood still lets the screen be drawn).
            msgs.extend(std::iter::from_fn(|| rx.try_recv().ok()).take(4096));
            let mut changed = BTreeSet::new();
            let mut all = false;
            let page = self.page();
            for msg in msgs {
                match msg {
                    Msg::Key(k) => match keys::on_key(&mut self.view, k, page) {
                        Action::None => {}
                        Action::Quit => return Ok(0),
                        Action::Job(verb, unit) => {
                            feed::job(self.paths, verb, unit, self.tx.clone())
                        }
                        Action::Attach(unit) => {
                            self.attach(&unit)?;
                        }
                        Action::Detail(unit) => self.detail(&unit),
                        Action::Reload => {
                            all = true;
                            self.screen.repaint().map_err(draw_err)?;
                        }
                    },
                    // ratatui notices the new size on the next draw.
                    Msg::Resize => {}
                    Msg::Quit => return Ok(0),
                    Msg::Changed(u) if u.is_empty() => all = true,
                    Msg::Changed(u) => {
                        changed.insert(u);
                    }
                    Msg::Logs { generation, lines } => {
                        if generation == self.generation
                            && let Some(p) = self.view.logs.as_mut()
                        {
                            p.push(lines);
                        }
                    }
                    Msg::JobDone(line) => self.view.message = Some(line),
                }
            }
            if all || changed.len() > MANY {
                self.reread(&[]);
            } else if !changed.is_empty() {
                let names: Vec<String> = changed.iter().cloned().collect();
                self.reread(&names);
            }
            let detail = self.view.detail.as_ref().map(|d| d.unit.clone());
            if Instant::now() >= next_tick {
                next_tick = Instant::now() + TICK;
                self.sample();
                if let Some(u) = detail {
                    self.detail(&u);
                }
            } else if let Some(u) = detail.filter(|u| all || changed.contains(u)) {
                self.detail(&u);
            }
        }
    }

    fn draw(&mut self) -> CliResult {
        let size = self.screen.term.size().map_err(draw_err)?;
        let height = draw::table_height(&self.view, size.width, size.height);
        self.view.scroll_to_selection(height);
        let now = jiff::Timestamp::now().as_second();
        let view = &self.view;
        self.screen
            .term
            .draw(|f| draw::frame(f, view, now))
            .map_err(draw_err)?;
        Ok(0)
    }

    /// Rows a page key moves: the table's height.
    fn page(&self) -> usize {
        match self.screen.term.size() {
            Ok(s) => draw::table_height(&self.view, s.width, s.height),
            Err(_) => 10,
        }
    }

    /// Reads the rows of `units` again (all when empty).
    fn reread(&mut self, units: &[String]) {
        let now = self.start.elapsed().as_micros() as u64;
        match feed::rows(self.paths, units) {
            Ok(rows) if units.is_empty() => self.view.update(rows, now),
            Ok(rows) => {
                // A unit daimond no longer lists is gone (daemon-reload).
                for u in units {
                    if !rows.iter().any(|r| &r.name == u) {
                        self.view.remove(u);
                    }
                }
                self.view.merge(rows, now);
            }
            // One of them is gone (removed by daemon-reload): read them all.
            Err(_) if !units.is_empty() => return self.reread(&[]),
            Err(e) => {
                self.view.message = Some(format!("daimond: {e}"));
                return;
            }
        }
        if self
            .view
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("daimond: "))
        {
            self.view.message = None;
        }
    }

    /// CPU and memory of the rows on screen that run (of every unit when the
    /// order depends on them).
    fn sample(&mut self) {
        let names: Vec<String> = if self.view.sort.needs_all() {
            vec![]
        } else {
            let height = self.page();
            let on_screen = self.view.on_screen(height);
            self.view
                .units
                .iter()
                .filter(|u| on_screen.contains(&u.row.name))
                .filter(|u| !matches!(u.row.state, ActiveState::Inactive | ActiveState::Failed))
                .map(|u| u.row.name.clone())
                .collect()
        };
        if names.is_empty() && !self.view.sort.needs_all() {
            return;
        }
        self.reread(&names);
    }

    /// Keeps the log pane on the selected unit (or the detail's), following it.
    fn follow_selection(&mut self) {
        if self.view.logs.is_none() {
            self.pane = None;
            return;
        }
        let want = match &self.view.detail {
            Some(d) => Some(d.unit.clone()),
            None => self.view.selected_name(),
        };
        let (Some(want), Some(pane)) = (want, self.view.logs.as_mut()) else {
            return;
        };
        if self.pane.as_ref().is_some_and(|(u, _)| *u == want) {
            return;
        }
        if pane.unit != want {
            pane.unit = want.clone();
            pane.lines.clear();
        }
        self.generation += 1;
        // The old stream (if any) ends as it is dropped here.
        let follow = feed::follow_logs(self.paths, &want, self.generation, self.tx.clone());
        self.pane = Some((want, follow));
    }

    fn detail(&mut self, unit: &str) {
        let lines = match feed::status(self.paths, unit) {
            Ok(st) => {
                let tz = jiff::tz::TimeZone::system();
                let style = crate::render::Style { color: false };
                crate::render::status_detail(&st, jiff::Timestamp::now(), &tz, style)
                    .lines()
                    .map(str::to_string)
                    .collect()
            }
            Err(e) => vec![format!("{unit}: {e}")],
        };
        self.view.detail = Some(Detail {
            unit: unit.to_string(),
            lines,
        });
    }

    /// Gives the terminal to `daimon attach UNIT` until it returns (the user
    /// detached, or it failed), then takes it back and redraws. A failure's
    /// message stays on the normal screen until Enter, so it can be read.
    fn attach(&mut self, unit: &str) -> CliResult {
        self.keys.pause();
        self.screen.suspend();
        let status = std::env::current_exe()
            .map_err(|e| format!("cannot find daimon's own executable: {e}"))
            .and_then(|exe| {
                Command::new(exe)
                    .arg("attach")
                    .arg(unit)
                    .status()
                    .map_err(|e| format!("cannot run `daimon attach {unit}`: {e}"))
            });
        let outcome = match status {
            Ok(s) if s.success() => None,
            Ok(s) => Some(format!("`daimon attach {unit}` {}", exit_text(s))),
            Err(e) => Some(e),
        };
        if let Some(o) = &outcome {
            eprint!("\r\ndaimon top: {o}; press Enter to return to top ");
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        }
        self.view.message = outcome.or_else(|| Some(format!("detached from {unit}")));
        self.screen.resume().map_err(draw_err)?;
        self.keys.resume();
        // What changed meanwhile came as events, queued; a full read is cheap
        // once and covers units added meanwhile too.
        self.reread(&[]);
        Ok(0)
    }
}

fn exit_text(s: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => s.to_string(),
    }
}

fn draw_err(e: std::io::Error) -> CliError {
    CliError::fail(format!("daimon top: terminal: {e}"))
}
