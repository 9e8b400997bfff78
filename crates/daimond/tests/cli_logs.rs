//! `daimon logs` end to end, on daimond's own messages (stored as unit
//! `daimond`): formats, filters, last-N, and follow until the client hangs up.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;

const NO_ENTRIES: &str = "-- No entries --\n";

fn text(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "daimon logs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sends SIGHUP and waits until its log line is stored; returns how many there are.
fn reload_and_wait(d: &mut Daemon, n: usize) {
    kill(d.daemon_pid().expect("pid"), libc::SIGHUP);
    wait_until("the SIGHUP line", DEADLINE, || {
        let t = text(&d.cli(&["logs", "-o", "cat", "-g", "SIGHUP"]));
        t.lines().filter(|l| *l != NO_ENTRIES.trim_end()).count() >= n
    });
}

#[test]
fn formats_and_filters() {
    let mut d = Daemon::start();
    let pid = d.daemon_pid().expect("pid");
    reload_and_wait(&mut d, 1);

    let cat = text(&d.cli(&["logs", "-o", "cat"]));
    assert!(
        cat.lines()
            .any(|l| l.starts_with("daimond 0.1.0 started (pid ")),
        "{cat}"
    );
    assert!(
        cat.lines().any(|l| l == "SIGHUP: re-reading unit files"),
        "{cat}"
    );

    let short = text(&d.cli(&["logs", "-n", "1", "-g", "SIGHUP"]));
    assert_eq!(short.lines().count(), 1, "{short}");
    let line = short.trim_end();
    assert!(
        line.ends_with(&format!(" daimond[{pid}]: SIGHUP: re-reading unit files")),
        "{line}"
    );
    // `Nov 21 06:10:11 host ...`: month, day, time.
    let redacted = redact_numbers(line);
    assert!(redacted.contains(" N N:N:N "), "{redacted}");

    let json = text(&d.cli(&["logs", "-o", "json", "-n", "1", "-g", "SIGHUP"]));
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON object");
    assert_eq!(v["MESSAGE"], "SIGHUP: re-reading unit files");
    assert_eq!(v["PRIORITY"], "6");
    assert_eq!(v["_PID"], pid.to_string());
    assert!(
        v["__REALTIME_TIMESTAMP"]
            .as_str()
            .is_some_and(|t| t.len() >= 16)
    );

    let iso = text(&d.cli(&["logs", "-o", "short-iso", "-n", "1"]));
    assert!(iso.starts_with("20"), "{iso}");

    // Filters: priority, time, regex (case-insensitive without capitals). An
    // empty answer says so, as journalctl does, except in JSON.
    assert_eq!(
        text(&d.cli(&["logs", "-p", "err", "-u", "daimond"])),
        NO_ENTRIES
    );
    assert_eq!(text(&d.cli(&["logs", "--since", "+1h"])), NO_ENTRIES);
    assert_eq!(text(&d.cli(&["logs", "--until", "-1h"])), NO_ENTRIES);
    assert_eq!(text(&d.cli(&["logs", "--until", "-1h", "-o", "json"])), "");
    let g = text(&d.cli(&["logs", "-o", "cat", "-g", "sighup"]));
    assert_eq!(g, "SIGHUP: re-reading unit files\n");
    let all_today = text(&d.cli(&["logs", "--since", "today", "-o", "cat"]));
    assert_eq!(all_today, cat);
    // An unknown unit is an error (exit 4, as `status`): see logs_units.rs.
    assert_eq!(d.cli(&["logs", "-u", "nosuch"]).status.code(), Some(4));
}

#[test]
fn follow_streams_new_lines_once_and_stops_when_the_client_leaves() {
    let mut d = Daemon::start();
    // One matching line before the follower starts: the follower prints it
    // first, which says it is connected and following.
    let daemon = d.daemon_pid().expect("pid");
    kill(daemon, libc::SIGHUP);
    wait_until("the first reload logged", DEADLINE, || {
        String::from_utf8_lossy(&d.cli(&["logs", "-o", "cat", "-g", "SIGHUP"]).stdout)
            .contains("SIGHUP")
    });
    let mut child = Command::new(bin("daimon"))
        .args(["logs", "-f", "-o", "cat", "-g", "SIGHUP"])
        .env("DAIMON_HOME", d.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn follower");
    d.extra.push(child.id());
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(DEADLINE)
        .expect("the earlier line within the deadline");
    assert_eq!(first, "SIGHUP: re-reading unit files");
    // Three new lines; each must arrive exactly once, in order.
    for _ in 0..3 {
        kill(daemon, libc::SIGHUP);
        let line = rx
            .recv_timeout(DEADLINE)
            .expect("a followed line within the deadline");
        assert_eq!(line, "SIGHUP: re-reading unit files");
    }
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "no line twice"
    );

    // The client hangs up; the daemon notices and keeps serving others.
    kill(child.id(), libc::SIGKILL);
    let _ = child.wait();
    let out = d.cli(&["logs", "-n", "1", "-o", "cat"]);
    assert!(out.status.success());

    // ...and shuts down promptly (no follower thread left waiting on a dead client).
    let mut daemon_child = d.child.take().expect("daemon child");
    kill(daemon, libc::SIGTERM);
    let st = wait_child(&mut daemon_child, DEADLINE).expect("daimond exits");
    assert_eq!(st.code(), Some(0));
}

#[test]
fn a_follower_ends_cleanly_when_the_daemon_shuts_down() {
    let mut d = Daemon::start();
    let mut follower = d.start_follower();
    let out = d.cli(&["shutdown"]);
    assert!(out.status.success());
    let st = wait_child(&mut follower, DEADLINE).expect("the follower ends with the daemon");
    assert_eq!(
        st.code(),
        Some(0),
        "a daemon that stops ends the stream normally"
    );
}

#[test]
fn cat_output_is_byte_exact_and_json_clients_still_get_text() {
    let mut d = Daemon::start();
    // Latin-1 "café": not UTF-8; `-o cat` must give back the very bytes.
    let script = d.script("latin1.sh", "printf 'caf\\351\\n'\nexec sleep 10000");
    d.ok(&[
        "run",
        "--name",
        "latin1",
        "--",
        script.to_str().expect("utf-8"),
    ]);
    wait_until("the line to be stored", DEADLINE, || {
        d.cli(&["logs", "latin1", "-o", "cat"])
            .stdout
            .windows(3)
            .any(|w| w == b"caf")
    });
    let out = d.cli(&["logs", "latin1", "-o", "cat", "-g", "caf"]);
    assert_eq!(out.stdout, b"caf\xe9\n");

    // A client that does not ask for raw frames gets LogData text, then Done.
    let mut s = std::os::unix::net::UnixStream::connect(d.socket()).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    use daimon_proto::{Hello, LogsRequest, PROTOCOL_VERSION, Request, Response};
    daimon_proto::write_frame(
        &mut s,
        &Hello {
            version: PROTOCOL_VERSION,
        },
    )
    .expect("hello");
    let _welcome: Response = daimon_proto::read_frame(&mut s).expect("welcome");
    let req = Request::Logs(LogsRequest {
        units: vec!["latin1".into()],
        invocation: None,
        since: None,
        until: None,
        priority: None,
        grep: Some("caf".into()),
        lines: None,
        follow: false,
        output: "cat".into(),
        raw: false,
        color: false,
        escape: false,
        matches: vec![],
        ..LogsRequest::default()
    });
    daimon_proto::write_frame(&mut s, &req).expect("request");
    let mut text = String::new();
    loop {
        match daimon_proto::read_frame::<_, Response>(&mut s).expect("frame") {
            Response::LogData(t) => text.push_str(&t),
            Response::Done => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(text, "caf\u{fffd}\n");
}

#[test]
fn a_transport_match_shows_only_what_the_service_wrote() {
    let mut d = Daemon::start();
    d.write_unit(
        "talk.service",
        "[Service]\nExecStart=/bin/sh -c 'echo first; echo oops >&2; echo last; exec sleep 1000'\n",
    );
    d.ok(&["start", "talk"]);
    d.wait_main_pid("talk");
    wait_until("the last stdout line", DEADLINE, || {
        text(&d.cli(&["logs", "talk", "_TRANSPORT=stdout", "-n", "1", "-o", "cat"])) == "last\n"
    });
    // Without the match, daimond's own lines about the unit are there too, as
    // systemd's are in `journalctl -u`.
    let all = text(&d.cli(&["logs", "talk", "-o", "cat"]));
    assert!(all.lines().any(|l| l.starts_with("Started ")), "{all}");
    let out = text(&d.cli(&["logs", "talk", "_TRANSPORT=stdout", "-o", "cat"]));
    assert_eq!(out, "first\nlast\n");
    let err = text(&d.cli(&["logs", "talk", "_TRANSPORT=stderr", "-o", "cat"]));
    assert_eq!(err, "oops\n");
    // Everything the service wrote, minus daimond's lines: two values of one
    // field are ORed (as in journalctl). stdout and stderr are two pipes, so
    // their relative order is the order daimond read them in.
    let both = text(&d.cli(&[
        "logs",
        "talk",
        "_TRANSPORT=stdout",
        "_TRANSPORT=stderr",
        "-o",
        "cat",
    ]));
    let mut lines: Vec<&str> = both.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["first", "last", "oops"], "{both}");
    let daemon = text(&d.cli(&["logs", "talk", "_TRANSPORT=daemon", "-o", "cat"]));
    assert!(
        daemon
            .lines()
            .all(|l| !l.contains("first") && !l.contains("oops")),
        "{daemon}"
    );
    assert!(
        daemon.lines().any(|l| l.starts_with("Started ")),
        "{daemon}"
    );
    let bad = d.cli(&["logs", "talk", "_COMM=sh"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("unsupported match \"_COMM=sh\""),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
