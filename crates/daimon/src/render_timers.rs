//! `daimon timers`: systemctl list-timers' table, soonest first.
//!
//! Pure like `render`: "now", the time zone and the colours are parameters.

use std::fmt::Write as _;

use daimon_proto::TimerInfo;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::render::{Style, cell, span, table, timestamp};

fn parse(t: Option<&str>) -> Option<Timestamp> {
    t.and_then(|t| t.parse().ok())
}

/// A time and the distance to it: from the timestamp when it parses, else
/// from the daemon's microseconds; `-` when there is none.
fn when(t: Option<&str>, usec: Option<u64>, now: Timestamp, tz: &TimeZone) -> (String, String) {
    match (t, parse(t)) {
        (_, Some(ts)) => (
            timestamp(ts, tz),
            span((ts.as_second() - now.as_second()).abs()),
        ),
        (Some(raw), None) => (
            raw.to_string(),
            usec.map_or("-".into(), |u| span((u / 1_000_000) as i64)),
        ),
        (None, None) => ("-".into(), "-".into()),
    }
}

/// NEXT LEFT LAST PASSED UNIT ACTIVATES, by next elapse (timers with none last).
pub fn timers_table(list: &[TimerInfo], now: Timestamp, tz: &TimeZone, style: Style) -> String {
    if list.is_empty() {
        return "0 timers listed.\nSchedule a job with: daimon run --name NAME --on-calendar daily -- COMMAND\n".to_string();
    }
    let mut sorted: Vec<&TimerInfo> = list.iter().collect();
    sorted.sort_by_key(|t| {
        let next = parse(t.next.as_deref());
        (next.is_none(), next, t.unit.clone())
    });
    let rows: Vec<Vec<(String, String)>> = sorted
        .iter()
        .map(|t| {
            let (next, left) = when(t.next.as_deref(), t.left_usec, now, tz);
            let (last, passed) = when(t.last.as_deref(), t.passed_usec, now, tz);
            vec![
                cell(next),
                cell(left),
                cell(last),
                cell(passed),
                cell(t.unit.clone()),
                cell(t.activates.clone()),
            ]
        })
        .collect();
    let mut out = table(
        &["NEXT", "LEFT", "LAST", "PASSED", "UNIT", "ACTIVATES"],
        &rows,
        style,
    );
    let n = list.len();
    let _ = writeln!(out, "\n{n} timer{} listed.", if n == 1 { "" } else { "s" });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use daimon_proto::{ActiveState, RunSummary};

    const PLAIN: Style = Style { color: false };

    fn now() -> Timestamp {
        "2026-11-21T13:25:00Z".parse().expect("time")
    }

    fn timer(unit: &str, next: Option<&str>, last: Option<&str>) -> TimerInfo {
        TimerInfo {
            unit: format!("{unit}.timer"),
            activates: format!("{unit}.service"),
            state: ActiveState::Active,
            sub_state: "waiting".into(),
            next: next.map(str::to_owned),
            left_usec: None,
            last: last.map(str::to_owned),
            passed_usec: None,
            triggers: vec!["OnCalendar=*-*-* 02:30:00".into()],
            persistent: true,
            last_run: None,
        }
    }

    #[test]
    fn soonest_first_with_dashes_for_what_is_absent() {
        let list = vec![
            timer(
                "backup",
                Some("2026-11-22T02:30:00Z"),
                Some("2026-11-21T02:30:00Z"),
            ),
            timer("warm", None, Some("2026-11-21T08:00:00Z")),
            timer("report", Some("2026-11-21T13:30:00Z"), None),
        ];
        assert_eq!(
            timers_table(&list, now(), &TimeZone::UTC, PLAIN),
            "\
NEXT                        LEFT     LAST                        PASSED    UNIT         ACTIVATES
Sat 2026-11-21 13:30:00 UTC 5min     -                           -         report.timer report.service
Sun 2026-11-22 02:30:00 UTC 13h 5min Sat 2026-11-21 02:30:00 UTC 10h 55min backup.timer backup.service
-                           -        Sat 2026-11-21 08:00:00 UTC 5h 25min  warm.timer   warm.service

3 timers listed.
"
        );
    }

    #[test]
    fn local_time_and_one_timer() {
        let berlin = jiff::tz::db().get("Europe/Berlin").expect("zone");
        let mut t = timer("backup", Some("2026-11-22T01:30:00Z"), None);
        t.last_run = Some(RunSummary {
            invocation: "abc".into(),
            started: "2026-11-21T01:30:00Z".into(),
            finished: Some("2026-11-21T01:30:01Z".into()),
            duration_usec: Some(1_200_000),
            result: Some("success".into()),
            exit: Some("exited, status=0/SUCCESS".into()),
        });
        assert_eq!(
            timers_table(&[t], now(), &berlin, PLAIN),
            "\
NEXT                        LEFT     LAST PASSED UNIT         ACTIVATES
Sun 2026-11-22 02:30:00 CET 12h 5min -    -      backup.timer backup.service

1 timer listed.
"
        );
    }

    #[test]
    fn microseconds_when_a_time_does_not_parse() {
        let mut t = timer("odd", Some("soon"), None);
        t.left_usec = Some(90_000_000);
        let text = timers_table(&[t], now(), &TimeZone::UTC, PLAIN);
        assert!(text.contains("soon 1min 30s -"), "{text}");
    }

    #[test]
    fn none_at_all() {
        assert_eq!(
            timers_table(&[], now(), &TimeZone::UTC, PLAIN),
            "0 timers listed.\nSchedule a job with: daimon run --name NAME --on-calendar daily -- COMMAND\n"
        );
    }
}
