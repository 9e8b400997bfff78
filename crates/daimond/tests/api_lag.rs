//! A client of the state-change stream that falls behind is dropped with
//! `lagged`, never waited for. Its own test binary: the burst it needs (600
//! units started at once) would load a machine enough to upset timing checks
//! of tests running beside it.

mod api_common;
mod common;

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use api_common::Api;
use common::{Daemon, bin, run_bounded};

/// A client of `/api/events` that falls more than the stream's backlog behind
/// (here: starting 600 units at once makes 1,200 state changes in one go,
/// faster than any client reads) is dropped with `lagged` and a message saying
/// what to do, and the units it missed are all started: supervision never
/// waited for it.
#[test]
fn an_event_client_that_falls_behind_is_dropped_as_lagged() {
    const UNITS: usize = 600;
    let mut d = Daemon::start();
    for i in 0..UNITS {
        d.write_unit(
            &format!("burst{i}.service"),
            "[Service]\nExecStart=/bin/sleep 1000\n",
        );
    }
    d.ok(&["daemon-reload"]);
    let api = Api::of(d.path());
    let mut s = api.connect();
    let req = format!(
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {}\r\n\r\n",
        api.port, api.token
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    let mut read = |text: &mut String| match s.read(&mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
            true
        }
    };
    while !text.contains(": subscribed") {
        assert!(
            read(&mut text),
            "the stream ended before it began: {text:?}"
        );
    }
    let names: Vec<String> = (0..UNITS).map(|i| format!("burst{i}")).collect();
    // Started by one request, so their changes come in one go; bounded more
    // loosely than the helper's CLI calls, as 600 starts take a while on a busy
    // machine.
    let out = run_bounded(
        Command::new(bin("daimon"))
            .arg("start")
            .args(&names)
            .env("DAIMON_HOME", d.path()),
        Duration::from_secs(180),
    );
    assert!(
        out.status.success(),
        "start: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // To the end of the stream (the API closes it after the close event).
    while read(&mut text) {}
    let close = text
        .find("event: close")
        .map(|i| &text[i..])
        .unwrap_or_else(|| {
            panic!(
                "no close event; the stream ended with {:?}",
                &text[text.len().saturating_sub(300)..]
            )
        });
    assert!(
        close.contains("\"code\":\"lagged\"") && close.contains("reconnect"),
        "the close event says why and what to do: {close:?}"
    );
    let listed = api.get("api/units").json();
    let active = listed
        .as_array()
        .map(|a| a.iter().filter(|u| u["state"] == "active").count())
        .unwrap_or(0);
    assert_eq!(active, UNITS, "every unit started");
    // A new client is served from now on.
    let mut again = api.connect();
    again.write_all(req.as_bytes()).expect("send");
    let mut got = String::new();
    let mut buf = [0u8; 1024];
    while !got.contains(": subscribed") {
        match again.read(&mut buf) {
            Ok(0) | Err(_) => panic!("a new client was not served: {got:?}"),
            Ok(n) => got.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
}
