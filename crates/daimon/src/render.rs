//! Turning the daemon's answers into text for people: the status table, the
//! status detail (systemctl status's layout), `list`, sizes, durations, colours.
//!
//! Pure functions of their inputs (the time "now", the time zone and whether to
//! colour are parameters), so the layouts are pinned by plain string tests.

use std::fmt::Write as _;

use daimon_proto::{
    ActiveState, RestartInfo, RunSummary, TimerInfo, UnitListEntry, UnitRow, UnitStatus,
};
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

fn since_ts(st: &UnitStatus) -> Option<Timestamp> {
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

/// What one row of the status table shows, borrowed from either form of the
/// daemon's answer.
struct Row<'a> {
    name: &'a str,
    load_state: &'a str,
    state: ActiveState,
    sub_state: &'a str,
    pid: Option<u32>,
    restarts: u32,
    /// Seconds up (active units only).
    uptime: Option<i64>,
    memory_bytes: Option<u64>,
    cpu_usec: Option<u64>,
    description: &'a str,
}

/// `daimon status` without units: one row per unit (systemctl list-units + pm2 ls).
pub fn status_table(list: &[UnitStatus], now: Timestamp, style: Style) -> String {
    let rows: Vec<UnitRow> = list.iter().map(brief_row).collect();
    status_rows(&rows, now, style)
}

/// What a brief status answer carries of a full status: its table row.
fn brief_row(st: &UnitStatus) -> UnitRow {
    UnitRow {
        name: st.name.clone(),
        description: st.description.clone(),
        load_state: st.load_state.clone(),
        state: st.state,
        sub_state: st.sub_state.clone(),
        pid: st.pid,
        restarts: st.restarts,
        since_sec: since_ts(st).map(|t| t.as_second()),
        memory_bytes: st.memory_bytes,
        cpu_usec: st.cpu_usec,
    }
}

/// The status table from a brief status answer's rows.
pub fn status_rows(list: &[UnitRow], now: Timestamp, style: Style) -> String {
    let now = now.as_second();
    let rows = list.iter().map(|st| Row {
        name: &st.name,
        load_state: &st.load_state,
        state: st.state,
        sub_state: &st.sub_state,
        pid: st.pid,
        restarts: st.restarts,
        uptime: uptime(st.state, st.since_sec, now),
        memory_bytes: st.memory_bytes,
        cpu_usec: st.cpu_usec,
        description: st.description.as_deref().unwrap_or_default(),
    });
    status_rows_table(rows.collect(), style)
}

/// Display width of a cell (its characters; ASCII is most of them).
fn width(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// The layout of [`table`] written straight into one buffer: a table of a
/// thousand units costs a few allocations per row, not two per cell.
fn status_rows_table(rows: Vec<Row>, style: Style) -> String {
    const HEADER: [&str; 10] = [
        "UNIT",
        "LOAD",
        "ACTIVE",
        "SUB",
        "PID",
        "RESTARTS",
        "UPTIME",
        "MEM",
        "CPU",
        "DESCRIPTION",
    ];
    // The columns of numbers (PID to CPU) after the four of text.
    const NUMS: usize = 5;
    if rows.is_empty() {
        // The caller says where units come from ([`no_units`]).
        return String::new();
    }
    // The formatted columns (PID, RESTARTS, UPTIME, MEM, CPU) of every row, in
    // one string; `ends` marks where each cell stops.
    let mut nums = String::with_capacity(rows.len() * 30);
    let mut ends = Vec::with_capacity(rows.len() * NUMS);
    let mut widths: [usize; 10] = HEADER.map(str::len);
    for r in &rows {
        let mut cell = |nums: &mut String, i: usize| {
            let start = ends.last().copied().unwrap_or(0);
            widths[i] = widths[i].max(nums.len() - start);
            ends.push(nums.len());
        };
        match r.pid {
            Some(p) => {
                let _ = write!(nums, "{p}");
            }
            None => nums.push('-'),
        }
        cell(&mut nums, 4);
        let _ = write!(nums, "{}", r.restarts);
        cell(&mut nums, 5);
        nums.push_str(&r.uptime.map_or("-".into(), span));
        cell(&mut nums, 6);
        nums.push_str(&r.memory_bytes.map_or("-".into(), bytes));
        cell(&mut nums, 7);
        nums.push_str(&r.cpu_usec.map_or("-".into(), cpu));
        cell(&mut nums, 8);
        for (i, text) in [
            (0, r.name),
            (1, r.load_state),
            (2, r.state.as_str()),
            (3, r.sub_state),
        ] {
            widths[i] = widths[i].max(width(text));
        }
    }
    let line_len: usize = widths[..9].iter().map(|w| w + 1).sum();
    let mut out = String::with_capacity((rows.len() + 3) * (line_len + 32));
    let head: Vec<String> = HEADER
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if i == 9 {
                h.to_string()
            } else {
                pad(h, h.len(), widths[i])
            }
        })
        .collect();
    out.push_str(&style.bold(head.join(" ").trim_end()));
    out.push('\n');
    let padded = |out: &mut String, text: &str, visible: usize, w: usize| {
        out.push_str(text);
        for _ in visible..w + 1 {
            out.push(' ');
        }
    };
    let mut prev = 0;
    for (k, r) in rows.iter().enumerate() {
        let line_start = out.len();
        padded(&mut out, r.name, width(r.name), widths[0]);
        padded(&mut out, r.load_state, width(r.load_state), widths[1]);
        let active = r.state.as_str();
        let code = Style::state_code(r.state);
        if style.color && !code.is_empty() {
            let _ = write!(out, "\x1b[{code}m{active}\x1b[0m");
            padded(&mut out, "", active.len(), widths[2]);
        } else {
            padded(&mut out, active, active.len(), widths[2]);
        }
        padded(&mut out, r.sub_state, width(r.sub_state), widths[3]);
        for i in 0..NUMS {
            let end = ends[k * NUMS + i];
            padded(&mut out, &nums[prev..end], end - prev, widths[4 + i]);
            prev = end;
        }
        out.push_str(r.description);
        let kept = out[line_start..].trim_end().len();
        out.truncate(line_start + kept);
        out.push('\n');
    }
    let n = rows.len();
    let _ = writeln!(out, "\n{n} unit{} listed.", if n == 1 { "" } else { "s" });
    out
}

/// What `daimon status` says when there is no unit at all: where unit files go
/// (the directory this daimon uses) and how to start one without a file.
pub fn no_units(units_dir: &std::path::Path) -> String {
    format!(
        "No units loaded. Put unit files in {} or start one with: daimon run -- COMMAND\n",
        units_dir.display()
    )
}

/// One unit's cells in `list` and `list-units`: UNIT LOAD ACTIVE SUB
/// [ENABLED] DESCRIPTION.
pub(crate) fn unit_list_row(
    u: &UnitListEntry,
    style: Style,
    enabled: bool,
) -> Vec<(String, String)> {
    let active = u.state.as_str().to_string();
    let mut row = vec![
        cell(u.name.clone()),
        cell(u.load_state.clone()),
        (active.clone(), style.state(u.state, &active)),
        cell(u.sub_state.clone()),
    ];
    if enabled {
        row.push(cell(u.enabled.clone()));
    }
    row.push(cell(u.description.clone().unwrap_or_default()));
    row
}

/// `daimon list`: every known unit with its file state.
pub fn list_table(list: &[UnitListEntry], style: Style) -> String {
    if list.is_empty() {
        return "No unit files found.\n".to_string();
    }
    let rows: Vec<Vec<(String, String)>> =
        list.iter().map(|u| unit_list_row(u, style, true)).collect();
    let mut out = table(
        &["UNIT", "LOAD", "ACTIVE", "SUB", "ENABLED", "DESCRIPTION"],
        &rows,
        style,
    );
    let n = list.len();
    let _ = writeln!(out, "\n{n} unit{} listed.", if n == 1 { "" } else { "s" });
    out
}

/// `Sat 2026-11-21 06:10:11 UTC`, systemctl's timestamp.
pub fn timestamp(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone())
        .strftime("%a %Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// `daimon status UNIT`: systemctl status's layout.
pub fn status_detail(st: &UnitStatus, now: Timestamp, tz: &TimeZone, style: Style) -> String {
    let mut out = String::new();
    let dot = match st.state {
        ActiveState::Inactive => "○",
        _ => "●",
    };
    let _ = write!(out, "{} {}", style.state(st.state, dot), st.name);
    if let Some(d) = &st.description {
        let _ = write!(out, " - {d}");
    }
    out.push('\n');

    let loaded = match (&st.fragment_path, st.load_state.as_str()) {
        (_, "transient") => "transient".to_string(),
        (Some(p), state) => format!("{state} ({p}; {})", st.enabled),
        (None, state) => format!("{state} ({})", st.enabled),
    };
    let _ = writeln!(out, "     Loaded: {loaded}");

    // systemctl: "failed (Result: exit-code)", otherwise "active (running)".
    let state_text = if st.state == ActiveState::Failed {
        format!("failed (Result: {})", st.result)
    } else {
        format!("{} ({})", st.state.as_str(), st.sub_state)
    };
    let mut active = style.state(st.state, &state_text);
    if let Some(t) = since_ts(st) {
        let ago = span(now.as_second() - t.as_second());
        let _ = write!(active, " since {}; {ago} ago", timestamp(t, tz));
    }
    let _ = writeln!(out, "     Active: {active}");
    if let Some(timer) = &st.timer {
        out.push_str(&timer_lines(timer, now, tz, style));
    }
    // A service's run that goes on is the Active: line already; a finished
    // one (a job's) and a timer's unit's are worth a line.
    if let Some(run) = st
        .last_run
        .as_ref()
        .filter(|r| r.finished.is_some())
        .or(st.timer.as_ref().and_then(|t| t.last_run.as_ref()))
    {
        let _ = writeln!(out, "   Last run: {}", last_run(run, now, tz));
    }
    if let Some(r) = &st.reason {
        let _ = writeln!(out, "     Reason: {r}");
    }
    if let Some(pid) = st.pid {
        let _ = writeln!(out, "   Main PID: {pid}");
    }
    out.push_str(&crate::render_usage::usage_lines(st));
    if let Some(r) = &st.restart_policy {
        let _ = writeln!(out, "    Restart: {}", restart_line(r));
    }
    if st.restarts > 0 || st.last_exit.is_some() {
        let mut line = st.restarts.to_string();
        if let Some(e) = &st.last_exit {
            let _ = write!(line, " (last exit: {e})");
        }
        let _ = writeln!(out, "   Restarts: {line}");
    }
    if let Some(s) = &st.status_text {
        let _ = writeln!(out, "     Status: \"{s}\"");
    }
    if let Some(e) = st.errno {
        // systemctl's "Error: 2 (No such file or directory)".
        let text = std::io::Error::from_raw_os_error(e).to_string();
        let text = text.split(" (os error").next().unwrap_or(&text).to_string();
        let _ = writeln!(out, "      Error: {e} ({text})");
    }
    if let Some(d) = &st.logs_dropped {
        let _ = writeln!(out, "       Logs: {d}");
    }
    if !st.recent_logs.is_empty() {
        out.push('\n');
        for l in &st.recent_logs {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// A delay: `100ms`, `3.2s`, `30s`, `1min 30s`.
pub fn delay(usec: u64) -> String {
    let ms = usec / 1000;
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 && ms % 1000 != 0 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        span((ms / 1000) as i64)
    }
}

/// The `Restart:` line: the policy, when the next try comes (while one is
/// pending), how the delay grows, and the start limit.
pub fn restart_line(r: &RestartInfo) -> String {
    if r.policy == "no" {
        return "no".to_string();
    }
    let mut parts = Vec::new();
    match (r.next_try_usec, r.max_delay_usec) {
        (Some(next), Some(max)) => {
            parts.push(format!("next try in {}", delay(next)));
            parts.push(format!("delay grows to {}", delay(max)));
        }
        (Some(next), None) => parts.push(format!("next try in {}", delay(next))),
        (None, Some(max)) => parts.push(format!(
            "after {}, growing to {}",
            delay(r.delay_usec),
            delay(max)
        )),
        (None, None) => parts.push(format!("after {}", delay(r.delay_usec))),
    }
    parts.push(match r.start_limit.split_once('/') {
        Some((n, span)) => format!("at most {n} starts in {span}"),
        None => "no start limit".to_string(),
    });
    format!("{} ({})", r.policy, parts.join(", "))
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

/// `Sat 2026-11-21 02:30:00 UTC, took 1.2s, exited, status=0/SUCCESS (result success)`.
pub fn last_run(run: &RunSummary, now: Timestamp, tz: &TimeZone) -> String {
    let mut line = shown_time(&run.started, tz);
    match (&run.finished, run.duration_usec) {
        (Some(_), Some(d)) => {
            let _ = write!(line, ", took {}", run_duration(d));
        }
        (Some(_), None) => {}
        (None, _) => {
            if let Ok(t) = run.started.parse::<Timestamp>() {
                let _ = write!(
                    line,
                    ", running for {}",
                    span(now.as_second() - t.as_second())
                );
            } else {
                line.push_str(", running");
            }
        }
    }
    if let Some(e) = &run.exit {
        let _ = write!(line, ", {e}");
    }
    if let Some(r) = &run.result {
        let _ = write!(line, " (result {r})");
    }
    line
}

/// systemctl status's lines for a timer: `Trigger:` (next elapse) and
/// `Triggers:` (the unit it activates).
fn timer_lines(t: &TimerInfo, now: Timestamp, tz: &TimeZone, style: Style) -> String {
    let trigger = match t.next.as_deref().map(|n| (n, n.parse::<Timestamp>())) {
        Some((_, Ok(next))) => format!(
            "{}; {} left",
            timestamp(next, tz),
            span(next.as_second() - now.as_second())
        ),
        Some((raw, Err(_))) => raw.to_string(),
        None => "n/a".to_string(),
    };
    let dot = if t.sub_state == "running" {
        style.state(ActiveState::Active, "●")
    } else {
        "●".to_string()
    };
    format!(
        "    Trigger: {trigger}\n   Triggers: {dot} {}\n",
        t.activates
    )
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
#[path = "render_tests.rs"]
mod tests;
