//! Painting a [`View`] with ratatui: a title line, the units table (scrolled
//! to the selection), the log pane, and the bottom line(s) with every key
//! that works in the current mode, or the detail view in place of the table.
//! A terminal too small for that gets one line saying so.

use daimon_proto::ActiveState;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::view::{Prompt, Shown, View};

/// Smallest screen the table fits in; below it a message is drawn instead.
pub const MIN_COLS: u16 = 60;
pub const MIN_ROWS: u16 = 6;

const HELP: &str = "↑↓jk:move Enter:detail s:start S:stop r:restart R:reload a:attach \
                    l:logs ?:search-logs /:filter o:sort q:quit";
const DETAIL_HELP: &str = "Esc:back s:start S:stop r:restart R:reload a:attach q:quit";

/// The rows the table gets on a `cols`x`rows` screen: what `top` samples.
pub fn table_height(view: &View, cols: u16, rows: u16) -> usize {
    Layout::of(view, cols, rows).table as usize
}

/// Where things go: line counts from the top of the screen.
struct Layout {
    /// Unit rows under the title and the header.
    table: u16,
    /// The log pane, its title line included (0: closed).
    pane: u16,
    /// The bottom lines.
    bottom: Vec<String>,
}

impl Layout {
    fn of(view: &View, cols: u16, rows: u16) -> Layout {
        let bottom = bottom_lines(view, cols as usize);
        let body = rows.saturating_sub(2 + bottom.len() as u16);
        let pane = if view.logs.is_some() { body / 2 } else { 0 };
        Layout {
            table: body - pane,
            pane,
            bottom,
        }
    }
}

pub fn frame(f: &mut Frame, view: &View, now_sec: i64) {
    let area = f.area();
    if area.width < MIN_COLS || area.height < MIN_ROWS {
        let text = format!(
            "terminal too small ({}x{}); need {MIN_COLS}x{MIN_ROWS}, q quits",
            area.width, area.height
        );
        f.render_widget(Paragraph::new(text), area);
        return;
    }
    if let Some(d) = &view.detail {
        detail(f, view, &d.unit, &d.lines);
        return;
    }
    let l = Layout::of(view, area.width, area.height);
    let line = |y: u16, h: u16| Rect::new(area.x, area.y + y, area.width, h);
    let visible = view.visible();
    let filter = if view.filter.is_empty() {
        String::new()
    } else {
        format!("  filter: {}", view.filter)
    };
    let title = format!(
        "daimon top  {} of {} units  sort: {}{filter}",
        visible.len(),
        view.units.len(),
        view.sort.label()
    );
    f.render_widget(Paragraph::new(title), line(0, 1));
    let header = format!(
        "{:<28} {:<12} {:<10} {:>8} {:>9} {:>4} {:>6} {:>8}",
        "UNIT", "STATE", "SUB", "PID", "UPTIME", "RST", "CPU%", "MEM"
    );
    f.render_widget(
        Paragraph::new(header).style(Style::new().add_modifier(Modifier::REVERSED)),
        line(1, 1),
    );
    let mut rows: Vec<Line> = visible
        .iter()
        .enumerate()
        .skip(view.offset)
        .take(l.table as usize)
        .map(|(i, u)| {
            let text = unit_line(u, now_sec);
            if i == view.selected {
                Line::styled(
                    text,
                    Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
                )
            } else {
                Line::raw(text)
            }
        })
        .collect();
    if visible.is_empty() {
        rows.push(Line::raw("(no units match)"));
    }
    f.render_widget(Paragraph::new(rows), line(2, l.table));
    if let Some(p) = &view.logs {
        let shown = p.shown();
        let search = if p.search.is_empty() {
            String::new()
        } else {
            format!(
                "  search: {} ({} of {} lines)",
                p.search,
                shown.len(),
                p.lines.len()
            )
        };
        let head = format!("── logs: {}{search} (l closes) ──", p.unit);
        let room = l.pane.saturating_sub(1) as usize;
        let mut lines = vec![Line::raw(head)];
        let start = shown.len().saturating_sub(room);
        lines.extend(shown[start..].iter().map(|t| marked(t, &p.search)));
        f.render_widget(Paragraph::new(lines), line(2 + l.table, l.pane));
    }
    let bottom: Vec<Line> = l.bottom.into_iter().map(Line::raw).collect();
    let n = bottom.len() as u16;
    f.render_widget(Paragraph::new(bottom), line(area.height - n, n));
}

fn detail(f: &mut Frame, view: &View, unit: &str, text: &[String]) {
    let area = f.area();
    let bottom = bottom_lines(view, area.width as usize);
    let n = bottom.len() as u16;
    let body = area.height - 1 - n;
    // The one figure `status` has not: CPU % from top's own samples.
    let cpu = view
        .units
        .iter()
        .find(|u| u.row.name == unit)
        .and_then(|u| u.cpu_percent)
        .map(|c| format!("  CPU {c:.1} %"))
        .unwrap_or_default();
    let title = format!("daimon top  {unit}{cpu}  (Esc returns to the table)");
    f.render_widget(
        Paragraph::new(title).style(Style::new().add_modifier(Modifier::REVERSED)),
        Rect::new(area.x, area.y, area.width, 1),
    );
    let lines: Vec<Line> = text.iter().map(|t| Line::raw(clean(t))).collect();
    f.render_widget(
        Paragraph::new(lines),
        Rect::new(area.x, area.y + 1, area.width, body),
    );
    let bottom: Vec<Line> = bottom.into_iter().map(Line::raw).collect();
    f.render_widget(
        Paragraph::new(bottom),
        Rect::new(area.x, area.y + area.height - n, area.width, n),
    );
}

/// The bottom line: what is being typed, the question asked, the last
/// action's outcome, or the keys (on two lines when one is too narrow).
fn bottom_lines(view: &View, width: usize) -> Vec<String> {
    let one = match &view.prompt {
        Prompt::Filter => format!("/{}  (Enter keeps, Esc clears)", view.filter),
        Prompt::Search => {
            let s = view.logs.as_ref().map(|p| p.search.as_str()).unwrap_or("");
            format!("?{s}  (search the logs: Enter keeps, Esc clears)")
        }
        Prompt::ConfirmStop(u) => format!("stop {u}? y confirms, any other key cancels"),
        Prompt::Keys => match &view.message {
            Some(m) => clean(m),
            None => {
                let help = if view.detail.is_some() {
                    DETAIL_HELP
                } else {
                    HELP
                };
                return wrap2(help, width);
            }
        },
    };
    vec![one]
}

/// `text` on one line, or split at a space into two when it is too wide.
fn wrap2(text: &str, width: usize) -> Vec<String> {
    if text.chars().count() <= width {
        return vec![text.to_string()];
    }
    let words: Vec<&str> = text.split(' ').collect();
    let mut first = String::new();
    let mut i = 0;
    while i < words.len() && first.chars().count() + words[i].chars().count() < width {
        if !first.is_empty() {
            first.push(' ');
        }
        first.push_str(words[i]);
        i += 1;
    }
    vec![first, words[i..].join(" ")]
}

/// A log line with the search's matches highlighted.
fn marked<'a>(line: &str, search: &str) -> Line<'a> {
    let line = clean(line);
    if search.is_empty() {
        return Line::raw(line);
    }
    let hit = Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD);
    let lower = line.to_lowercase();
    let needle = search.to_lowercase();
    // Lowercasing can change byte lengths (rare letters): then no highlight.
    if lower.len() != line.len() {
        return Line::raw(line);
    }
    let mut spans = Vec::new();
    let mut at = 0;
    for (i, _) in lower.match_indices(&needle) {
        if i < at {
            continue;
        }
        spans.push(Span::raw(line[at..i].to_string()));
        spans.push(Span::styled(line[i..i + needle.len()].to_string(), hit));
        at = i + needle.len();
    }
    spans.push(Span::raw(line[at..].to_string()));
    Line::from(spans)
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
        clip(&clean(&r.name), 28),
        r.state.as_str(),
        clip(&clean(&r.sub_state), 10),
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

/// Control characters shown as `?`: a unit's log line must not move the
/// cursor of the screen drawn around it.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::view::{Detail, LogPane};
    use daimon_proto::UnitRow;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn row(name: &str, pid: Option<u32>) -> UnitRow {
        crate::top::view::tests::row(name, pid, None)
    }

    fn screen(view: &View, cols: u16, rows: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(cols, rows)).expect("test backend");
        t.draw(|f| frame(f, view, 1125)).expect("draw");
        let buf = t.backend().buffer().clone();
        (0..rows)
            .map(|y| {
                (0..cols)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn the_table_shows_each_column() {
        let mut v = View::new();
        v.update(vec![row("web.service", Some(42))], 0);
        let s = screen(&v, 100, 10);
        assert!(s[0].contains("1 of 1 units"), "{s:?}");
        for want in ["web.service", "active", "running", "42", "2m05s", "3.0M"] {
            assert!(s[2].contains(want), "{want:?} missing from {:?}", s[2]);
        }
        assert!(s[9].contains("q:quit"), "{s:?}");
    }

    #[test]
    fn every_key_is_on_screen_even_when_narrow() {
        let v = View::new();
        let s = screen(&v, 60, 10);
        let bottom = format!("{} {}", s[8], s[9]);
        for k in [
            "Enter:detail",
            "S:stop",
            "a:attach",
            "?:search-logs",
            "/:filter",
            "q:quit",
        ] {
            assert!(bottom.contains(k), "{k} missing from {bottom:?}");
        }
    }

    #[test]
    fn a_small_terminal_gets_a_message() {
        let v = View::new();
        let s = screen(&v, 20, 3);
        assert!(s[0].starts_with("terminal too s"), "{s:?}");
    }

    #[test]
    fn log_lines_cannot_move_the_cursor_and_matches_stand_out() {
        let mut v = View::new();
        let mut p = LogPane {
            unit: "a".into(),
            ..LogPane::default()
        };
        p.push(vec!["x\x1b[2Jy".into(), "an Error here".into()]);
        v.logs = Some(p);
        let s = screen(&v, 80, 10);
        assert!(s.iter().any(|l| l == "x?[2Jy"), "{s:?}");
        let line = marked("an Error here", "error");
        assert_eq!(line.spans.len(), 3);
        assert_eq!(line.spans[1].content, "Error");
    }

    #[test]
    fn the_detail_view_replaces_the_table() {
        let mut v = View::new();
        v.update(vec![row("web.service", Some(42))], 0);
        v.detail = Some(Detail {
            unit: "web.service".into(),
            lines: vec!["● web.service".into(), "   Main PID: 42".into()],
        });
        let s = screen(&v, 80, 10);
        assert!(s[0].contains("Esc returns"), "{s:?}");
        assert_eq!(s[2], "   Main PID: 42");
        assert!(s[9].contains("Esc:back"), "{s:?}");
    }

    #[test]
    fn spans_and_sizes_read_like_status() {
        assert_eq!(span(59), "59s");
        assert_eq!(span(3 * 3600 + 60), "3h01m");
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5K");
    }
}
