//! What `daimon top` shows: the rows it knows, the selection, the filter, and
//! the frame drawn from them (plain text with a few SGR escapes, one `String`
//! per screen line). Pure: no terminal and no socket here, so it is tested
//! beside the code.

use std::collections::HashMap;

use daimon_proto::{ActiveState, UnitRow};

/// Smallest screen the table fits in; below it a message is drawn instead.
pub const MIN_COLS: u16 = 60;
pub const MIN_ROWS: u16 = 6;

/// One unit as shown, CPU % computed from two samples of its CPU time.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub row: UnitRow,
    pub cpu_percent: Option<f64>,
}

/// The order of the rows (`o` goes to the next).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Name,
    /// Busiest first.
    Cpu,
    /// Largest first.
    Memory,
    /// Most restarted first.
    Restarts,
}

impl Sort {
    pub fn next(self) -> Sort {
        match self {
            Sort::Name => Sort::Cpu,
            Sort::Cpu => Sort::Memory,
            Sort::Memory => Sort::Restarts,
            Sort::Restarts => Sort::Name,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Sort::Name => "name",
            Sort::Cpu => "cpu",
            Sort::Memory => "memory",
            Sort::Restarts => "restarts",
        }
    }
}

/// What the bottom line is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// The key help (or the last action's outcome).
    Keys,
    /// Typing a filter after `/`.
    Filter,
    /// Stop asked for this unit: `y` confirms.
    ConfirmStop(String),
}

#[derive(Debug)]
pub struct View {
    pub units: Vec<Shown>,
    /// Last CPU sample per unit: (CPU µs, when, µs since an arbitrary origin).
    samples: HashMap<String, (u64, u64)>,
    pub selected: usize,
    pub filter: String,
    pub prompt: Prompt,
    pub message: Option<String>,
    /// The log pane, when open: the unit and its recent lines.
    pub logs: Option<(String, Vec<String>)>,
    pub sort: Sort,
}

impl View {
    pub fn new() -> View {
        View {
            units: vec![],
            samples: HashMap::new(),
            selected: 0,
            filter: String::new(),
            prompt: Prompt::Keys,
            message: None,
            logs: None,
            sort: Sort::Name,
        }
    }

    /// Takes a fresh table; `now_usec` is a monotonic clock, for CPU %.
    pub fn update(&mut self, rows: Vec<UnitRow>, now_usec: u64) {
        let keep = self.selected_name();
        let mut samples = HashMap::with_capacity(rows.len());
        self.units = rows
            .into_iter()
            .map(|row| {
                let cpu_percent = match (row.cpu_usec, self.samples.get(&row.name)) {
                    (Some(cpu), Some(&(cpu0, t0))) if now_usec > t0 && cpu >= cpu0 => {
                        Some((cpu - cpu0) as f64 * 100.0 / (now_usec - t0) as f64)
                    }
                    _ => None,
                };
                if let Some(cpu) = row.cpu_usec {
                    samples.insert(row.name.clone(), (cpu, now_usec));
                }
                Shown { row, cpu_percent }
            })
            .collect();
        self.samples = samples;
        self.reselect(keep.as_deref());
    }

    /// The units the filter lets through (a substring of the name, any case).
    pub fn visible(&self) -> Vec<&Shown> {
        let f = self.filter.to_lowercase();
        let mut v: Vec<&Shown> = self
            .units
            .iter()
            .filter(|u| f.is_empty() || u.row.name.to_lowercase().contains(&f))
            .collect();
        // Stable sorts over the name order the daemon sends: ties stay by name.
        match self.sort {
            Sort::Name => {}
            Sort::Cpu => v.sort_by(|a, b| {
                let c = |u: &Shown| u.cpu_percent.unwrap_or(-1.0);
                c(b).total_cmp(&c(a))
            }),
            Sort::Memory => v.sort_by_key(|u| std::cmp::Reverse(u.row.memory_bytes)),
            Sort::Restarts => v.sort_by_key(|u| std::cmp::Reverse(u.row.restarts)),
        }
        v
    }

    pub fn selected_name(&self) -> Option<String> {
        self.visible()
            .get(self.selected)
            .map(|u| u.row.name.clone())
    }

    /// Keeps the selection on `name` when it is still visible, else in range.
    pub fn reselect(&mut self, name: Option<&str>) {
        let visible = self.visible();
        if let Some(i) = name.and_then(|n| visible.iter().position(|u| u.row.name == n)) {
            self.selected = i;
        } else {
            self.selected = self.selected.min(visible.len().saturating_sub(1));
        }
    }

    pub fn move_by(&mut self, delta: isize) {
        let n = self.visible().len();
        if n == 0 {
            self.selected = 0;
            return;
        }
        self.selected = self.selected.saturating_add_signed(delta).min(n - 1);
    }

    /// The screen, `rows` lines of at most `cols` characters each.
    pub fn frame(&self, cols: u16, rows: u16, now_sec: i64) -> Vec<String> {
        let (w, h) = (cols as usize, rows as usize);
        if cols < MIN_COLS || rows < MIN_ROWS {
            let mut lines = vec![String::new(); h];
            if let Some(first) = lines.first_mut() {
                *first = fit(
                    &format!(
                        "terminal too small ({cols}x{rows}); need {MIN_COLS}x{MIN_ROWS}, q quits"
                    ),
                    w,
                );
            }
            return lines;
        }
        let visible = self.visible();
        let mut lines = Vec::with_capacity(h);
        let filter = if self.filter.is_empty() {
            String::new()
        } else {
            format!("  filter: {}", self.filter)
        };
        lines.push(fit(
            &format!(
                "daimon top  {} of {} units  sort: {}{filter}",
                visible.len(),
                self.units.len(),
                self.sort.label()
            ),
            w,
        ));
        lines.push(format!(
            "\x1b[7m{}\x1b[0m",
            fit(
                &format!(
                    "{:<28} {:<12} {:<10} {:>8} {:>9} {:>4} {:>6} {:>8}",
                    "UNIT", "STATE", "SUB", "PID", "UPTIME", "RST", "CPU%", "MEM"
                ),
                w
            )
        ));
        // Lines left for the table (and the log pane) under the two header
        // lines and above the bottom line.
        let body = h - 3;
        let pane = if self.logs.is_some() { body / 2 } else { 0 };
        let table = body - pane;
        let top = self.selected.saturating_sub(table.saturating_sub(1));
        for (i, u) in visible.iter().enumerate().skip(top).take(table) {
            let text = fit(&unit_line(u, now_sec), w);
            lines.push(if i == self.selected {
                format!("\x1b[1;7m{text}\x1b[0m")
            } else {
                text
            });
        }
        if visible.is_empty() {
            lines.push(fit("(no units match)", w));
        }
        while lines.len() < 2 + table {
            lines.push(String::new());
        }
        if let Some((unit, log)) = &self.logs {
            lines.push(fit(&format!("── logs: {unit} (l closes) ──"), w));
            let shown = pane.saturating_sub(1);
            let start = log.len().saturating_sub(shown);
            for l in &log[start..] {
                lines.push(fit(l, w));
            }
            while lines.len() < 2 + table + pane {
                lines.push(String::new());
            }
        }
        lines.push(fit(&self.bottom_line(), w));
        lines
    }

    fn bottom_line(&self) -> String {
        match &self.prompt {
            Prompt::Filter => format!("/{}  (Enter keeps, Esc clears)", self.filter),
            Prompt::ConfirmStop(u) => format!("stop {u}? y confirms, any other key cancels"),
            Prompt::Keys => match &self.message {
                Some(m) => m.clone(),
                None => {
                    "↑↓jk s:start S:stop r:restart R:reload l:logs /:filter o:sort q:quit".into()
                }
            },
        }
    }
}

fn unit_line(u: &Shown, now_sec: i64) -> String {
    let r = &u.row;
    let pid = r.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
    let up = match (r.state, r.since_sec) {
        (ActiveState::Active | ActiveState::Reloading, Some(s)) => span(now_sec - s),
        _ => "-".into(),
    };
    let cpu = u
        .cpu_percent
        .map(|c| format!("{c:.1}"))
        .unwrap_or_else(|| "-".into());
    let mem = r.memory_bytes.map(bytes).unwrap_or_else(|| "-".into());
    format!(
        "{:<28} {:<12} {:<10} {:>8} {:>9} {:>4} {:>6} {:>8}",
        clip(&r.name, 28),
        r.state.as_str(),
        clip(&r.sub_state, 10),
        pid,
        up,
        r.restarts,
        cpu,
        mem
    )
}

/// `59s`, `3m05s`, `2h07m`, `4d03h`.
fn span(sec: i64) -> String {
    let s = sec.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// `512B`, `12.0K`, `3.4M`, `1.2G` (powers of 1024).
fn bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["K", "M", "G", "T"];
    if b < 1024 {
        return format!("{b}B");
    }
    let mut v = b as f64 / 1024.0;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1}{}", UNITS[i])
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// At most `w` characters, control characters shown as `?` (a unit's log line
/// must not move the cursor of the screen drawn around it).
fn fit(s: &str, w: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(w)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, state: ActiveState, pid: Option<u32>, cpu: Option<u64>) -> UnitRow {
        UnitRow {
            name: name.into(),
            description: None,
            load_state: "loaded".into(),
            state,
            sub_state: "running".into(),
            pid,
            restarts: 2,
            since_sec: Some(1000),
            memory_bytes: Some(3 * 1024 * 1024),
            cpu_usec: cpu,
        }
    }

    #[test]
    fn cpu_percent_comes_from_two_samples() {
        let mut v = View::new();
        v.update(
            vec![row("a.service", ActiveState::Active, Some(7), Some(0))],
            0,
        );
        assert_eq!(v.units[0].cpu_percent, None);
        v.update(
            vec![row(
                "a.service",
                ActiveState::Active,
                Some(7),
                Some(250_000),
            )],
            1_000_000,
        );
        assert_eq!(v.units[0].cpu_percent, Some(25.0));
    }

    #[test]
    fn the_table_shows_each_column() {
        let mut v = View::new();
        v.update(
            vec![row("web.service", ActiveState::Active, Some(42), None)],
            0,
        );
        let f = v.frame(100, 10, 1125);
        let line = &f[2];
        for want in ["web.service", "active", "running", "42", "2m05s", "3.0M"] {
            assert!(line.contains(want), "{want:?} missing from {line:?}");
        }
        assert_eq!(f.len(), 10);
    }

    #[test]
    fn the_filter_narrows_and_keeps_the_selection_in_range() {
        let mut v = View::new();
        let rows = (0..5)
            .map(|i| row(&format!("u{i}.service"), ActiveState::Active, None, None))
            .collect();
        v.update(rows, 0);
        v.move_by(10);
        assert_eq!(v.selected, 4);
        v.filter = "u1".into();
        v.reselect(None);
        assert_eq!(v.selected_name().as_deref(), Some("u1.service"));
        assert_eq!(v.visible().len(), 1);
    }

    #[test]
    fn o_orders_by_cpu_then_memory_then_restarts() {
        let mut v = View::new();
        let mut a = row("a.service", ActiveState::Active, None, Some(0));
        let mut b = row("b.service", ActiveState::Active, None, Some(0));
        v.update(vec![a.clone(), b.clone()], 0);
        a.cpu_usec = Some(10);
        b.cpu_usec = Some(500_000);
        a.memory_bytes = Some(9 << 20);
        a.restarts = 0;
        b.restarts = 5;
        v.update(vec![a, b], 1_000_000);
        let first = |v: &View| v.visible()[0].row.name.clone();
        assert_eq!(first(&v), "a.service");
        v.sort = v.sort.next();
        assert_eq!(first(&v), "b.service", "cpu");
        v.sort = v.sort.next();
        assert_eq!(first(&v), "a.service", "memory");
        v.sort = v.sort.next();
        assert_eq!(first(&v), "b.service", "restarts");
        assert!(v.frame(100, 10, 0)[0].contains("sort: restarts"));
    }

    #[test]
    fn a_small_terminal_gets_a_message() {
        let v = View::new();
        let f = v.frame(20, 3, 0);
        assert_eq!(f.len(), 3);
        assert!(f[0].starts_with("terminal too small"));
    }

    #[test]
    fn log_lines_cannot_move_the_cursor() {
        let mut v = View::new();
        v.logs = Some(("a".into(), vec!["x\x1b[2Jy".into()]));
        let f = v.frame(80, 10, 0);
        assert!(f.iter().any(|l| l == "x?[2Jy"));
    }

    #[test]
    fn spans_and_sizes_read_like_status() {
        assert_eq!(span(59), "59s");
        assert_eq!(span(3 * 3600 + 60), "3h01m");
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5K");
    }
}
