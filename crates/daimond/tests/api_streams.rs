//! Live streams of the HTTP API (server-sent events): followers of a unit's
//! logs and of unit state changes see what happens as it happens, several at
//! once, and a client that stops reading is dropped with a reason while
//! supervision goes on.

mod api_common;
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use api_common::Api;
use common::{DEADLINE, Daemon};

/// A `curl -N` reading an event stream; its lines arrive on a channel.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Follower {
    fn open(api: &Api, path: &str) -> Follower {
        let mut child = Command::new("curl")
            .args(["-sN", "-H", &format!("Authorization: Bearer {}", api.token)])
            .arg(format!("{}{path}", api.url))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run curl");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Follower { child, lines }
    }

    /// Waits (bounded) for a line containing every one of `parts`.
    fn expect(&self, parts: &[&str]) -> String {
        let end = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) if parts.iter().all(|p| l.contains(p)) => return l,
                Ok(l) => seen.push(l),
                Err(_) => break,
            }
        }
        panic!("no line with {parts:?} within {DEADLINE:?}; saw {seen:?}");
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        common::kill(self.child.id(), libc::SIGKILL);
        let _ = self.child.wait();
    }
}

#[test]
fn log_followers_see_new_lines_as_they_are_written() {
    let mut d = Daemon::start();
    d.write_unit(
        "chatty.service",
        "[Service]\nExecStart=/bin/sh -c 'echo first line; sleep 300'\n",
    );
    d.ok(&["daemon-reload"]);
    let api = Api::of(d.path());
    let a = Follower::open(
        &api,
        "api/logs/stream?unit=chatty&output=cat&match=_TRANSPORT=stdout",
    );
    let b = Follower::open(&api, "api/logs/stream?unit=chatty.service&output=json");
    // Both streams are open once a unit's first line reaches them; start it
    // after a moment and check that each sees that line once.
    common::wait_until("two open streams", DEADLINE, || {
        api.get("api/units").status == 200
    });
    std::thread::sleep(Duration::from_millis(200));
    d.ok(&["start", "chatty"]);
    assert_eq!(a.expect(&["data: "]), "data: first line");
    let json = b.expect(&["first line"]);
    let v: serde_json::Value =
        serde_json::from_str(json.trim_start_matches("data: ")).expect("a JSON record");
    assert_eq!(v["MESSAGE"], "first line", "{v}");

    let bad = api.get("api/logs/stream?unit=nobody");
    assert_eq!(bad.status, 404);
    let typo = api.get("api/logs/stream?follow=1");
    assert_eq!(typo.status, 400);
}

#[test]
fn state_changes_are_streamed_and_filtered_by_unit() {
    let mut d = Daemon::start();
    d.write_unit("svc.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.write_unit("other.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.ok(&["daemon-reload"]);
    let api = Api::of(d.path());
    let all = Follower::open(&api, "api/events");
    let one = Follower::open(&api, "api/events?unit=svc");
    all.expect(&[": subscribed"]);
    one.expect(&[": subscribed"]);
    d.ok(&["start", "other"]);
    d.ok(&["start", "svc"]);
    let pid = d.wait_main_pid("svc.service");
    all.expect(&["\"unit\":\"other.service\"", "\"state\":\"active\""]);
    all.expect(&["\"unit\":\"svc.service\"", "\"state\":\"active\""]);
    let line = one.expect(&["\"state\":\"active\""]);
    assert!(line.contains("\"unit\":\"svc.service\""), "{line}");
    assert!(line.contains(&format!("\"pid\":{pid}")), "{line}");
    d.ok(&["stop", "svc"]);
    one.expect(&["\"state\":\"inactive\"", "\"sub_state\":\"dead\""]);
    // The filtered stream never showed the other unit.
    while let Ok(l) = one.lines.try_recv() {
        assert!(!l.contains("other.service"), "{l}");
    }
}

/// Live views learn of units that `daemon-reload` adds or removes at once, not
/// at their first state change.
#[test]
fn daemon_reload_announces_added_and_removed_units() {
    let mut d = Daemon::start();
    d.write_unit("old.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.ok(&["daemon-reload"]);
    let api = Api::of(d.path());
    let all = Follower::open(&api, "api/events");
    all.expect(&[": subscribed"]);
    d.write_unit("new.service", "[Service]\nExecStart=/bin/sleep 300\n");
    std::fs::remove_file(d.path().join("units/old.service")).expect("remove old.service");
    d.ok(&["daemon-reload"]);
    let mut told: Vec<String> = Vec::new();
    while told.len() < 2 {
        let line = all.expect(&["\"state\":\"inactive\""]);
        told.push(line);
    }
    told.sort();
    assert!(told[0].contains("\"unit\":\"new.service\""), "{told:?}");
    assert!(told[1].contains("\"unit\":\"old.service\""), "{told:?}");
}

#[test]
fn a_client_that_stops_reading_is_dropped_with_a_reason() {
    let mut d = Daemon::start();
    d.write_unit(
        "spam.service",
        "[Service]\nExecStart=/usr/bin/seq 1 1500000\n",
    );
    d.ok(&["daemon-reload"]);
    let api = Api::of(d.path());
    // The kernel's buffers on both sides fill first (a few MiB), then the
    // stream's own; the spam is far more than all of them.
    let mut s = api.connect();
    let req = format!(
        "GET /api/logs/stream?unit=spam&output=cat HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
         Authorization: Bearer {}\r\n\r\n",
        api.port, api.token
    );
    s.write_all(req.as_bytes()).expect("send");
    d.ok(&["start", "spam"]);
    // While this client reads nothing, daimond answers others (a blocked owner
    // would not answer at all; the bound is generous for a loaded machine). The
    // spam must be all written before the client may read, however slow the
    // machine.
    let produced = Instant::now() + DEADLINE * 4;
    loop {
        let t = Instant::now();
        let state = d.status_json("spam")["state"].clone();
        assert!(t.elapsed() < DEADLINE, "status took {:?}", t.elapsed());
        if state == "inactive" {
            break;
        }
        assert!(Instant::now() < produced, "spam.service still {state}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Then the stream's follower waits on this client with a full buffer: after
    // SLOW_CLIENT (5 s) it gives up. Those seconds are daimond's timeout under
    // test, not an event this side could await.
    std::thread::sleep(Duration::from_secs(7));
    let _ = d.ok(&["status"]);
    // Read until the close event, within a bound (heartbeats keep a stream
    // that was never dropped alive for ever, so read_to_end would not do).
    let mut all = Vec::new();
    let until = Instant::now() + DEADLINE * 4;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = vec![0u8; 1 << 16];
    while Instant::now() < until {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
        let tail = &all[all.len().saturating_sub(400)..];
        if String::from_utf8_lossy(tail).contains("slow_client") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&all);
    assert!(
        text.contains("event: close") && text.contains("slow_client"),
        "the stream ends with its reason; it ended with {:?}",
        &text[text.len().saturating_sub(300)..]
    );
    assert_eq!(api.get("api/units").status, 200, "still serving");
}
