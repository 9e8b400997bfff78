//! A service's restart history in `status -o json` (`earlier_runs`) and the
//! API: each automatic restart is a run with its own invocation id, start,
//! end, result and exit status, newest first, at most ten kept.

mod api_common;
mod common;

use std::time::Duration;

use api_common::Api;
use common::*;

#[test]
fn a_crash_loop_leaves_a_bounded_history_of_its_runs() {
    let mut d = Daemon::start();
    d.write_unit(
        "crashy.service",
        "[Unit]\nStartLimitIntervalSec=0\n[Service]\n\
         ExecStart=/bin/sh -c 'sleep 0.1; exit 3'\nRestart=always\nRestartSec=50ms\n",
    );
    d.ok(&["start", "crashy"]);
    let mut st = serde_json::Value::Null;
    wait_until("12 restarts", Duration::from_secs(60), || {
        st = d.status_json("crashy");
        st["restarts"].as_u64().unwrap_or(0) >= 12
    });
    let runs = st["earlier_runs"].as_array().cloned().unwrap_or_default();
    assert_eq!(runs.len(), 10, "at most ten kept: {st}");
    let mut ids = std::collections::BTreeSet::new();
    for r in &runs {
        assert_eq!(r["result"], "exit-code", "{r}");
        assert_eq!(r["exit"], "exited, status=3/NOTIMPLEMENTED", "{r}");
        assert!(
            r["finished"].is_string() && r["duration_usec"].is_u64(),
            "{r}"
        );
        ids.insert(r["invocation"].as_str().unwrap_or("").to_owned());
    }
    assert_eq!(ids.len(), 10, "each run its own invocation: {runs:?}");
    let started: Vec<&str> = runs.iter().filter_map(|r| r["started"].as_str()).collect();
    let mut newest_first = started.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(started, newest_first, "newest first");
    // The last run is not repeated in the history.
    let last = st["last_run"]["invocation"].as_str().unwrap_or("");
    assert!(!ids.contains(last), "{st}");
    // The API shows the same.
    let api = Api::of(d.path());
    let one = api.get("api/units/crashy.service").json();
    assert_eq!(
        one["earlier_runs"].as_array().map(Vec::len),
        Some(10),
        "{one}"
    );
    d.ok(&["stop", "crashy"]);
}
