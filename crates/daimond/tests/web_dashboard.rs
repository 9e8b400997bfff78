//! The dashboard in a real browser: Debian's Chromium, headless, driven by
//! Playwright for Python (`tests/web/dashboard.py`) against a real daimond.
//! Logs in through the link `daimon web` prints, watches a crashing service
//! restart live, stops and starts it with the buttons, follows filtered logs,
//! reads a timer's next run, and checks the refusals (no cookie, a foreign
//! Origin, a change without Origin, a used code). Screenshots of each page go
//! to target/web-screenshots/. CI installs chromium and playwright (.ci/run);
//! without them the test fails with the command that installs them.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;

/// The browser test needs Debian's Chromium and Playwright for Python; it never
/// passes without running.
fn need_browser() {
    let chromium = std::path::Path::new("/usr/bin/chromium").exists();
    let playwright = Command::new("python3")
        .args(["-c", "import playwright"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        chromium && playwright,
        "the browser test needs /usr/bin/chromium and Playwright for Python: \
         apt-get install chromium && python3 -m pip install playwright \
         (or run `bash .ci/run`, which installs every test dependency)"
    );
}

#[test]
fn the_dashboard_in_chromium() {
    need_browser();
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

/// One raw HTTP/1.1 request to the API's port; the status line and headers,
/// lower-cased, and the body.
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (head.to_ascii_lowercase(), body.to_owned())
}

/// The login flow without a browser: code, cookie, page, and every refusal.
#[test]
fn a_login_code_buys_a_cookie_once_and_the_cookie_is_guarded() {
    let mut d = Daemon::start();
    let out = run_bounded(
        Command::new(bin("daimon"))
            .args(["web"])
            .env("DAIMON_HOME", d.home.path())
            .env("SSH_CONNECTION", "10.0.0.9 50000 10.0.0.2 22")
            .env("USER", "ann")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY"),
        Duration::from_secs(30),
    );
    d.record_descendants();
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "daimon web: {printed}");
    let url = printed.lines().next().unwrap_or("");
    let port: u16 = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {printed:?}"));
    assert!(
        printed.contains(&format!("ssh -L {port}:127.0.0.1:{port} ann@10.0.0.2")),
        "{printed}"
    );
    let token = std::fs::read_to_string(d.home.path().join("run/api.json")).expect("api.json");
    let token: serde_json::Value = serde_json::from_str(&token).expect("json");
    let token = token["token"].as_str().expect("token");
    assert!(!url.contains(token), "the token is in the link");

    let path = &url[url.find("/?").expect("path")..];
    let (head, _) = http(port, "GET", path, &[]);
    assert!(head.starts_with("http/1.1 303"), "{head}");
    assert!(head.contains("\r\nlocation: ./"), "{head}");
    let cookie_line = head
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .expect("a cookie");
    for attr in ["httponly", "samesite=strict", "path=/"] {
        assert!(cookie_line.contains(attr), "{cookie_line}");
    }
    let cookie = cookie_line["set-cookie: ".len()..]
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let (again, _) = http(port, "GET", path, &[]);
    assert!(again.starts_with("http/1.1 403"), "a used code: {again}");

    let (page, body) = http(port, "GET", "/", &[("Cookie", &cookie)]);
    assert!(page.starts_with("http/1.1 200"), "{page}");
    assert!(body.contains("app.js") && !body.contains(token));
    let (no, _) = http(port, "GET", "/", &[]);
    assert!(no.starts_with("http/1.1 401"), "{no}");
    let (units, _) = http(port, "GET", "/api/units", &[("Cookie", &cookie)]);
    assert!(units.starts_with("http/1.1 200"), "{units}");
    let (bare, _) = http(port, "GET", "/api/units", &[]);
    assert!(bare.starts_with("http/1.1 401"), "{bare}");
    let (forged, _) = http(
        port,
        "GET",
        "/api/units",
        &[(
            "Cookie",
            &format!("{}=0000", cookie.split('=').next().unwrap_or("")),
        )],
    );
    assert!(forged.starts_with("http/1.1 401"), "{forged}");
    let own = format!("http://127.0.0.1:{port}");
    let evil = [
        ("Cookie", cookie.as_str()),
        ("Origin", "http://evil.example"),
    ];
    let (foreign, _) = http(port, "GET", "/api/units", &evil);
    assert!(foreign.starts_with("http/1.1 403"), "{foreign}");
    let (blind, body) = http(port, "POST", "/api/daemon-reload", &[("Cookie", &cookie)]);
    assert!(blind.starts_with("http/1.1 403"), "{blind}");
    assert!(body.contains("origin_required"), "{body}");
    let same = [("Cookie", cookie.as_str()), ("Origin", own.as_str())];
    let (ok, _) = http(port, "POST", "/api/daemon-reload", &same);
    assert!(ok.starts_with("http/1.1 200"), "{ok}");
    // A session cannot mint more logins; only the token's holder can.
    let (mint, _) = http(port, "POST", "/api/web/code", &same);
    assert!(mint.starts_with("http/1.1 401"), "{mint}");
}
