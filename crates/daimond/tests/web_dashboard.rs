//! The dashboard in a real browser: Debian's Chromium, headless, driven by
//! Playwright for Python (`tests/web/dashboard.py`) against a real daimond.
//! Logs in through the link `daimon web` prints, watches a crashing service
//! restart live, stops and starts it with the buttons, follows filtered logs,
//! reads a timer's next run, and checks the refusals (no cookie, a foreign
//! Origin, a change without Origin, a used code). Screenshots of each page go
//! to target/web-screenshots/. CI installs chromium and playwright (.ci/run);
//! elsewhere their absence is said and the test skipped.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;

fn have_browser() -> bool {
    let chromium = std::path::Path::new("/usr/bin/chromium").exists();
    let playwright = Command::new("python3")
        .args(["-c", "import playwright"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !(chromium && playwright) && std::env::var_os("CI").is_some() {
        panic!("CI must have /usr/bin/chromium and playwright for Python (.ci/run installs them)");
    }
    chromium && playwright
}

#[test]
fn the_dashboard_in_chromium() {
    if !have_browser() {
        eprintln!("chromium or playwright for Python not installed: browser test skipped");
        return;
    }
    let mut d = Daemon::start();
    d.write_unit(
        "crashy.service",
        "[Unit]\nDescription=exits every second\nStartLimitIntervalSec=0\n\n\
         [Service]\nExecStart=/bin/sh -c 'echo crashy up; echo other line; sleep 1; exit 3'\n\
         Restart=always\nRestartSec=300ms\n",
    );
    d.write_unit(
        "ticker.service",
        "[Service]\nType=oneshot\nExecStart=/bin/true\n",
    );
    d.write_unit("ticker.timer", "[Timer]\nOnCalendar=hourly\n");
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "crashy.service", "ticker.timer"]);
    let printed = d.ok(&["web", "--no-open"]);
    let url = printed.lines().next().unwrap_or("").to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.contains("/?code="),
        "daimon web printed {printed:?}"
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/web/dashboard.py");
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/web-screenshots");
    let out = run_bounded(
        Command::new("python3").arg(&script).arg(&url).arg(&shots),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "the browser test failed ({:?}):\n{}\n{}\ndaimond:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        d.daemon_stderr()
    );
}
