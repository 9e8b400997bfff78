//! `/metrics` as Prometheus scrapes it: the text format promtool accepts,
//! values that agree with `status -o json`, the token required unless
//! `DAIMON_METRICS_OPEN=1`. One test in this binary: it sets an environment
//! variable for a second daemon.

mod api_common;
mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use api_common::Api;
use common::{DEADLINE, Daemon, wait_until};

/// The value of the series `name{labels}` in a scrape.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// `promtool check metrics` on `text`; CI installs it (.ci/run), elsewhere a
/// missing promtool fails the test with the command that installs it.
fn promtool(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => panic!(
            "promtool: {e}; install it with `apt-get install prometheus` (or run `bash .ci/run`, which installs every test dependency)"
        ),
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn metrics_follow_prometheus_and_agree_with_status() {
    let mut d = Daemon::start();
    let api = Api::of(d.path());
    assert_eq!(api.curl_bare(&[], "metrics").status, 401, "token required");
    d.ok(&["run", "--name", "worker", "--", "/bin/sleep", "300"]);
    d.write_unit("nightly.timer", "[Timer]\nOnCalendar=*-*-* 03:00:00\n");
    d.write_unit(
        "nightly.service",
        "[Service]\nType=oneshot\nExecStart=/bin/true\n",
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "nightly.timer"]);
    let pid = d.wait_main_pid("worker.service");
    let mut text = String::new();
    wait_until("a snapshot with worker active", DEADLINE, || {
        let a = api.get("metrics");
        text = a.body;
        a.status == 200
            && value(
                &text,
                r#"daimon_unit_state{unit="worker.service",state="active"}"#,
            ) == Some(1.0)
            && value(
                &text,
                r#"daimon_timer_next_trigger_seconds{unit="nightly.timer"}"#,
            )
            .is_some()
    });
    promtool(&text);
    let st = d.status_json("worker.service");
    assert_eq!(st["pid"], pid);
    assert_eq!(
        value(
            &text,
            r#"daimon_unit_state{unit="worker.service",state="failed"}"#
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &text,
            r#"daimon_unit_restarts_total{unit="worker.service"}"#
        ),
        st["restarts"].as_f64()
    );
    assert_eq!(
        value(&text, r#"daimon_unit_tasks{unit="worker.service"}"#),
        Some(1.0)
    );
    let started: jiff::Timestamp = st["last_run"]["started"]
        .as_str()
        .expect("last_run.started")
        .parse()
        .expect("RFC 3339");
    let metric = value(
        &text,
        r#"daimon_unit_start_time_seconds{unit="worker.service"}"#,
    )
    .expect("start time");
    assert!((metric - started.as_millisecond() as f64 / 1000.0).abs() < 0.01);
    let mem = value(&text, r#"daimon_unit_memory_bytes{unit="worker.service"}"#).expect("memory");
    assert!(mem > 0.0);
    assert!(value(&text, r#"daimon_units{state="active"}"#).is_some_and(|n| n >= 2.0));
    assert!(value(&text, "daimon_log_store_bytes").is_some_and(|b| b > 0.0));
    assert_eq!(value(&text, "daimon_log_dropped_lines_total"), Some(0.0));
    // The lines the store holds for a unit are the lines `logs` shows of it.
    d.ok(&[
        "run",
        "--name",
        "talker",
        "--",
        "/bin/sh",
        "-c",
        "echo a; echo b; echo c",
    ]);
    wait_until("talker's lines stored", DEADLINE, || {
        d.ok(&["logs", "talker", "-o", "cat"]).contains("c\n")
    });
    let shown = d.ok(&["logs", "talker", "-o", "json"]).lines().count() as f64;
    wait_until("a snapshot with talker's lines", DEADLINE, || {
        text = api.get("metrics").body;
        value(&text, r#"daimon_unit_log_lines{unit="talker.service"}"#) == Some(shown)
    });
    assert!(
        value(&text, r#"daimon_unit_log_bytes{unit="talker.service"}"#).is_some_and(|b| b > 0.0)
    );
    assert!(value(&text, "daimon_log_store_lines").is_some_and(|n| n >= shown));
    promtool(&text);
    assert!(text.contains("# TYPE daimon_unit_cpu_seconds_total counter"));
    let bad = api.get("metrics?x=1");
    assert_eq!(bad.status, 400);
    drop(d);

    // SAFETY: this binary's only test; no other thread reads the environment.
    unsafe { std::env::set_var("DAIMON_METRICS_OPEN", "1") };
    let d = Daemon::start();
    let api = Api::of(d.path());
    wait_until("an open /metrics", DEADLINE, || {
        api.curl_bare(&[], "metrics").status == 200
    });
    assert_eq!(
        api.curl_bare(&[], "api/units").status,
        401,
        "only /metrics opens"
    );
    let rebinding = format!("Host: evil.example:{}", api.port);
    assert_eq!(api.curl_bare(&["-H", &rebinding], "metrics").status, 421);
}
