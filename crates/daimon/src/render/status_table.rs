//! `daimon status` with no unit: the table of every unit.

use std::fmt::Write as _;

use daimon_proto::{ActiveState, UnitRow, UnitStatus};
use jiff::Timestamp;

use super::{Style, bytes, cpu, pad, since_ts, span, uptime};

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
pub(super) fn brief_row(st: &UnitStatus) -> UnitRow {
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
