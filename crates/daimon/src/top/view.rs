//! What `daimon top` knows and shows: the rows, the selection, the filter and
//! sort, the log pane and the detail view. Pure: no terminal and no socket
//! here (`draw` paints it, `keys` changes it), so it is tested beside the code.

use std::collections::{HashMap, VecDeque};

use daimon_proto::UnitRow;

/// Log lines the pane keeps (the oldest go first).
pub const LOG_KEEP: usize = 2000;
/// Shortest span between two CPU samples that gives a CPU % (a state event
/// right after the once-a-second refresh would make a noisy one).
const MIN_SAMPLE_USEC: u64 = 500_000;

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

    pub fn label(self) -> &'static str {
        match self {
            Sort::Name => "name",
            Sort::Cpu => "cpu",
            Sort::Memory => "memory",
            Sort::Restarts => "restarts",
        }
    }

    /// Whether the order needs every unit's CPU and memory, not only the
    /// rows on screen.
    pub fn needs_all(self) -> bool {
        matches!(self, Sort::Cpu | Sort::Memory)
    }
}

/// What the bottom line is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// The key help (or the last action's outcome).
    Keys,
    /// Typing a filter after `/`.
    Filter,
    /// Typing a search of the log pane after `?`.
    Search,
    /// Stop asked for this unit: `y` confirms.
    ConfirmStop(String),
}

/// The log pane: one unit's lines as they come, and the search in them.
#[derive(Debug, Default)]
pub struct LogPane {
    pub unit: String,
    pub lines: VecDeque<String>,
    /// Only lines containing it are shown, it highlighted (any case).
    pub search: String,
}

impl LogPane {
    pub fn push(&mut self, lines: Vec<String>) {
        self.lines.extend(lines);
        while self.lines.len() > LOG_KEEP {
            self.lines.pop_front();
        }
    }

    /// The lines the search lets through, oldest first.
    pub fn shown(&self) -> Vec<&str> {
        let needle = self.search.to_lowercase();
        self.lines
            .iter()
            .filter(|l| needle.is_empty() || l.to_lowercase().contains(&needle))
            .map(String::as_str)
            .collect()
    }
}

/// The detail view of one unit (Enter): `daimon status UNIT`'s text.
#[derive(Debug)]
pub struct Detail {
    pub unit: String,
    pub lines: Vec<String>,
}

#[derive(Debug)]
pub struct View {
    /// In name order, as daimond sends them.
    pub units: Vec<Shown>,
    /// Last CPU sample per unit: (CPU µs, when, µs since an arbitrary origin).
    samples: HashMap<String, (u64, u64)>,
    pub selected: usize,
    /// The first visible row on screen (the table scrolls to the selection).
    pub offset: usize,
    pub filter: String,
    pub prompt: Prompt,
    pub message: Option<String>,
    pub logs: Option<LogPane>,
    pub detail: Option<Detail>,
    pub sort: Sort,
}

impl View {
    pub fn new() -> View {
        View {
            units: vec![],
            samples: HashMap::new(),
            selected: 0,
            offset: 0,
            filter: String::new(),
            prompt: Prompt::Keys,
            message: None,
            logs: None,
            detail: None,
            sort: Sort::Name,
        }
    }

    /// Takes every row afresh; `now_usec` is a monotonic clock, for CPU %.
    pub fn update(&mut self, rows: Vec<UnitRow>, now_usec: u64) {
        let keep = self.selected_name();
        self.units.clear();
        self.samples
            .retain(|n, _| rows.iter().any(|r| &r.name == n));
        self.merge(rows, now_usec);
        self.reselect(keep.as_deref());
    }

    /// Takes fresh rows of some units (new ones are added in name order).
    pub fn merge(&mut self, rows: Vec<UnitRow>, now_usec: u64) {
        let keep = self.selected_name();
        for row in rows {
            let cpu_percent = self.sample(&row, now_usec);
            let shown = Shown { row, cpu_percent };
            match self
                .units
                .binary_search_by(|u| u.row.name.as_str().cmp(&shown.row.name))
            {
                Ok(i) => self.units[i] = shown,
                Err(i) => self.units.insert(i, shown),
            }
        }
        self.reselect(keep.as_deref());
    }

    /// Forgets a unit daimond no longer knows.
    pub fn remove(&mut self, name: &str) {
        let keep = self.selected_name();
        self.units.retain(|u| u.row.name != name);
        self.samples.remove(name);
        self.reselect(keep.as_deref());
    }

    /// The unit's CPU % since its last sample, keeping this one for the next.
    fn sample(&mut self, row: &UnitRow, now_usec: u64) -> Option<f64> {
        let last = self
            .units
            .binary_search_by(|u| u.row.name.as_str().cmp(&row.name))
            .ok()
            .and_then(|i| self.units[i].cpu_percent);
        let Some(cpu) = row.cpu_usec else {
            self.samples.remove(&row.name);
            return None;
        };
        match self.samples.get(&row.name) {
            Some(&(cpu0, t0)) if now_usec < t0 + MIN_SAMPLE_USEC => {
                // Too close to the last sample: keep it and its figure.
                if cpu < cpu0 {
                    self.samples.insert(row.name.clone(), (cpu, now_usec));
                    return None;
                }
                last
            }
            Some(&(cpu0, t0)) => {
                self.samples.insert(row.name.clone(), (cpu, now_usec));
                // A new process (restart) starts its count again.
                (cpu >= cpu0).then(|| (cpu - cpu0) as f64 * 100.0 / (now_usec - t0) as f64)
            }
            None => {
                self.samples.insert(row.name.clone(), (cpu, now_usec));
                None
            }
        }
    }

    /// The units the filter lets through (a substring of the name, any case).
    pub fn visible(&self) -> Vec<&Shown> {
        let f = self.filter.to_lowercase();
        let mut v: Vec<&Shown> = self
            .units
            .iter()
            .filter(|u| f.is_empty() || u.row.name.to_lowercase().contains(&f))
            .collect();
        // Stable sorts over the name order: ties stay by name.
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

    /// Scrolls so that the selection is within `height` rows from `offset`.
    pub fn scroll_to_selection(&mut self, height: usize) {
        let n = self.visible().len();
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if height > 0 && self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        // No empty space under the last row while rows are scrolled away.
        self.offset = self.offset.min(n.saturating_sub(height));
    }

    /// The names of the rows on screen (`height` of them from `offset`).
    pub fn on_screen(&self, height: usize) -> Vec<String> {
        self.visible()
            .iter()
            .skip(self.offset)
            .take(height)
            .map(|u| u.row.name.clone())
            .collect()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use daimon_proto::ActiveState;

    /// A running row as the top tests use it (draw's tests too).
    pub fn row(name: &str, pid: Option<u32>, cpu: Option<u64>) -> UnitRow {
        UnitRow {
            name: name.into(),
            description: None,
            load_state: "loaded".into(),
            state: ActiveState::Active,
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
        v.update(vec![row("a.service", Some(7), Some(0))], 0);
        assert_eq!(v.units[0].cpu_percent, None);
        v.merge(vec![row("a.service", Some(7), Some(250_000))], 1_000_000);
        assert_eq!(v.units[0].cpu_percent, Some(25.0));
        // An event's row 0.1 s later keeps the figure instead of a noisy one.
        v.merge(vec![row("a.service", Some(7), Some(300_000))], 1_100_000);
        assert_eq!(v.units[0].cpu_percent, Some(25.0));
    }

    #[test]
    fn merged_rows_replace_or_join_in_name_order() {
        let mut v = View::new();
        v.update(
            vec![row("a.service", None, None), row("c.service", None, None)],
            0,
        );
        v.move_by(1);
        v.merge(vec![row("b.service", Some(9), None)], 0);
        let names: Vec<_> = v.units.iter().map(|u| u.row.name.as_str()).collect();
        assert_eq!(names, ["a.service", "b.service", "c.service"]);
        assert_eq!(v.selected_name().as_deref(), Some("c.service"));
        v.merge(vec![row("b.service", Some(10), None)], 0);
        assert_eq!(v.units[1].row.pid, Some(10));
        v.remove("c.service");
        assert_eq!(v.selected_name().as_deref(), Some("b.service"));
    }

    #[test]
    fn the_filter_narrows_and_keeps_the_selection_in_range() {
        let mut v = View::new();
        let rows = (0..5)
            .map(|i| row(&format!("u{i}.service"), None, None))
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
    fn the_table_scrolls_to_the_selection() {
        let mut v = View::new();
        let rows = (0..100)
            .map(|i| row(&format!("u{i:03}.service"), None, None))
            .collect();
        v.update(rows, 0);
        v.move_by(30);
        v.scroll_to_selection(10);
        assert_eq!(v.offset, 21);
        assert_eq!(
            v.on_screen(10).last().map(String::as_str),
            Some("u030.service")
        );
        v.move_by(-25);
        v.scroll_to_selection(10);
        assert_eq!(v.offset, 5);
    }

    #[test]
    fn o_orders_by_cpu_then_memory_then_restarts() {
        let mut v = View::new();
        let mut a = row("a.service", None, Some(0));
        let mut b = row("b.service", None, Some(0));
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
    }

    #[test]
    fn the_log_search_keeps_matching_lines_in_any_case() {
        let mut p = LogPane::default();
        p.push(vec![
            "Started".into(),
            "error: disk".into(),
            "ERROR again".into(),
        ]);
        p.search = "error".into();
        assert_eq!(p.shown(), ["error: disk", "ERROR again"]);
        p.push((0..LOG_KEEP).map(|i| i.to_string()).collect());
        assert_eq!(p.lines.len(), LOG_KEEP);
        assert!(p.shown().is_empty());
    }
}
