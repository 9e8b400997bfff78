//! Turning the daemon's answers into text for people: the status table, the
//! status detail (systemctl status's layout), `list`, sizes, durations, colours.
//!
//! Pure functions of their inputs (the time "now", the time zone and whether to
//! colour are parameters), so the layouts are pinned by plain string tests.

//!
//! Here: the style, escaping, and the small formats (sizes, spans, times) the
//! others share. The status table, the status detail and the unit list each
//! have a file of their own below.

mod detail;
mod list;
mod status_table;

pub use detail::status_detail;
pub(crate) use list::unit_list_row;
pub use list::{list_table, no_units};
pub use status_table::{status_rows, status_table};

use daimon_proto::{ActiveState, UnitStatus};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// How to paint text: colours only for a terminal without NO_COLOR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

/// Whether text from services is escaped: on a terminal, unless `--raw-escapes`
/// (see `daimon_proto::text`; NO_COLOR does not change it).
pub fn escape_for_terminal(raw_escapes: bool) -> bool {
    use std::io::IsTerminal;
    !raw_escapes && std::io::stdout().is_terminal()
}

/// The text in a status that services or unit files control, escaped for a
/// terminal: the description, `STATUS=`, the reason and the recent log lines.
pub fn escape_status(st: &mut UnitStatus) {
    use daimon_proto::escape_terminal_str as esc;
    for s in [&mut st.description, &mut st.status_text, &mut st.reason]
        .into_iter()
        .flatten()
    {
        *s = esc(s);
    }
    for l in &mut st.recent_logs {
        *l = esc(l);
    }
}

impl Style {
    /// Colours when stdout is a terminal and NO_COLOR is unset (no-color.org).
    pub fn detect() -> Style {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color && std::io::stdout().is_terminal(),
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color && !code.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn state_code(state: ActiveState) -> &'static str {
        match state {
            ActiveState::Active | ActiveState::Reloading => "1;32",
            ActiveState::Failed => "1;31",
            ActiveState::Activating | ActiveState::Deactivating => "1;33",
            ActiveState::Inactive => "",
        }
    }

    pub fn state(self, state: ActiveState, text: &str) -> String {
        self.paint(Self::state_code(state), text)
    }

    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// `31.2M`, like systemd: powers of 1024, one decimal below 10 units.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "K", "M", "G", "T", "P"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else if v < 10.0 {
        format!("{v:.1}{}", UNITS[i])
    } else {
        format!("{v:.0}{}", UNITS[i])
    }
}

/// A duration the way systemd prints it: `45s`, `3min 5s`, `2h 10min`, `4 days 2h`.
pub fn span(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m, sec) = (s / 86400, s % 86400 / 3600, s % 3600 / 60, s % 60);
    let day = if d == 1 { "day" } else { "days" };
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) if sec == 0 => format!("{m}min"),
        (0, 0, _) => format!("{m}min {sec}s"),
        (0, _, _) if m == 0 => format!("{h}h"),
        (0, _, _) => format!("{h}h {m}min"),
        (_, 0, _) => format!("{d} {day}"),
        _ => format!("{d} {day} {h}h"),
    }
}

/// CPU time: `230ms`, `1.234s`, `2min 3.500s`.
pub fn cpu(usec: u64) -> String {
    if usec < 1_000_000 {
        format!("{}ms", usec / 1000)
    } else if usec < 60_000_000 {
        format!("{:.3}s", usec as f64 / 1e6)
    } else {
        let secs = usec / 1_000_000;
        format!("{}min {:.3}s", secs / 60, (usec % 60_000_000) as f64 / 1e6)
    }
}

pub(super) fn since_ts(st: &UnitStatus) -> Option<Timestamp> {
    st.since
        .as_deref()
        .and_then(|s| s.parse::<Timestamp>().ok())
}

/// Seconds a unit has been up (active units only), from when it entered its
/// state, in Unix seconds.
fn uptime(state: ActiveState, since_sec: Option<i64>, now_sec: i64) -> Option<i64> {
    matches!(state, ActiveState::Active | ActiveState::Reloading)
        .then_some(since_sec)
        .flatten()
        .map(|t| now_sec - t)
}

/// Pads to `width` display columns (text may carry colour codes).
fn pad(text: &str, visible: usize, width: usize) -> String {
    let mut s = text.to_string();
    for _ in visible..width {
        s.push(' ');
    }
    s
}

/// A table with a bold header; each cell is (visible text, painted text). The last
/// column is not padded.
pub(crate) fn table(header: &[&str], rows: &[Vec<(String, String)>], style: Style) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, (plain, _)) in r.iter().enumerate() {
            widths[i] = widths[i].max(plain.chars().count());
        }
    }
    let last = header.len() - 1;
    let mut out = String::new();
    let head: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if i == last {
                h.to_string()
            } else {
                pad(h, h.chars().count(), widths[i])
            }
        })
        .collect();
    out.push_str(&style.bold(head.join(" ").trim_end()));
    out.push('\n');
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, (plain, painted))| {
                if i == last {
                    painted.clone()
                } else {
                    pad(painted, plain.chars().count(), widths[i])
                }
            })
            .collect();
        out.push_str(cells.join(" ").trim_end());
        out.push('\n');
    }
    out
}

pub(crate) fn cell(s: impl Into<String>) -> (String, String) {
    let s = s.into();
    (s.clone(), s)
}

/// `Sat 2026-11-21 06:10:11 UTC`, systemctl's timestamp.
pub fn timestamp(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone())
        .strftime("%a %Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// A delay: `100ms`, `3.2s`, `30s`, `1min 30s`.
pub fn delay(usec: u64) -> String {
    let ms = usec / 1000;
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 && !ms.is_multiple_of(1000) {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        span((ms / 1000) as i64)
    }
}

/// A duration of a run: `230ms`, `1.2s`, `3min 5s`.
pub fn run_duration(usec: u64) -> String {
    if usec < 1_000_000 {
        format!("{}ms", usec / 1000)
    } else if usec < 60_000_000 {
        format!("{:.1}s", usec as f64 / 1e6)
    } else {
        span((usec / 1_000_000) as i64)
    }
}

/// An RFC 3339 time from the daemon as systemctl shows times (the text as
/// it came if it is not one).
fn shown_time(t: &str, tz: &TimeZone) -> String {
    t.parse::<Timestamp>()
        .map(|t| timestamp(t, tz))
        .unwrap_or_else(|_| t.to_string())
}

/// `daimon cat`: systemctl cat's `# /path` header before each file.
pub fn cat(files: &[daimon_proto::CatFile], style: Style) -> String {
    let mut out = String::new();
    for (i, f) in files.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&style.dim(&format!("# {}", f.path)));
        out.push('\n');
        out.push_str(&f.text);
        if !f.text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests;
