//! `daimon status UNIT`: systemctl status's layout, and the lines it is
//! made of that others reuse (`Restart:`, a job's last run). `daimon top`'s
//! detail view shows the same text.

use std::fmt::Write as _;

use daimon_proto::{ActiveState, RestartInfo, RunSummary, TimerInfo, UnitStatus};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{Style, bytes, cpu, delay, run_duration, shown_time, since_ts, span, timestamp};

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
    if !st.tasks.is_empty() {
        let pids: Vec<String> = st.tasks.iter().map(u32::to_string).collect();
        let _ = writeln!(out, "      Tasks: {} ({})", st.tasks.len(), pids.join(" "));
    }
    if let Some(m) = st.memory_bytes {
        let _ = writeln!(out, "     Memory: {}", bytes(m));
    }
    if let Some(c) = st.cpu_usec {
        let _ = writeln!(out, "        CPU: {}", cpu(c));
    }
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
