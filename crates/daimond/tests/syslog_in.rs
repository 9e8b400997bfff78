//! syslog in, end to end: services log through `DAIMON_SYSLOG_SOCKET` with
//! `logger(1)` and Python's `SysLogHandler`, and `daimon logs` shows the lines
//! in their unit with journalctl's fields; senders of no unit go under
//! `syslog`.

mod common;

use std::os::unix::net::UnixDatagram;

use common::*;

/// `daimon logs ARGS -o json`, one object per line.
fn json_lines(d: &mut Daemon, args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = vec!["logs", "-o", "json"];
    a.extend_from_slice(args);
    d.ok(&a)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect()
}

/// Waits until `daimon logs ARGS` has a line whose MESSAGE is `msg`; returns it.
/// (`logs syslog` exits 4 until a first line is stored under `syslog`.)
fn wait_for(d: &mut Daemon, args: &[&str], msg: &str) -> serde_json::Value {
    let mut found = None;
    wait_until(&format!("{msg:?} in logs {args:?}"), DEADLINE, || {
        let mut a = vec!["logs", "-o", "json"];
        a.extend_from_slice(args);
        let out = d.cli(&a);
        found = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["MESSAGE"] == msg);
        found.is_some()
    });
    found.expect("found")
}

fn syslog_socket(d: &Daemon) -> std::path::PathBuf {
    d.path().join("run/syslog.sock")
}

#[test]
fn logger_lines_land_in_the_unit_with_their_fields() {
    let mut d = Daemon::start();
    // The service's last act is logger itself: it is the main process, so the
    // line is placed before daimond reaps it.
    d.write_unit(
        "shout.service",
        "[Service]\nExecStart=/bin/sh -c 'exec logger -u \"$DAIMON_SYSLOG_SOCKET\" -t shout -p daemon.err \"disk on fire\"'\n",
    );
    d.write_unit(
        "shout5424.service",
        "[Service]\nExecStart=/bin/sh -c 'exec logger --rfc5424 -u \"$DAIMON_SYSLOG_SOCKET\" -t five -p local3.warning \"five four two four\"'\n",
    );
    d.ok(&["start", "shout", "shout5424"]);

    let v = wait_for(&mut d, &["shout"], "disk on fire");
    assert_eq!(v["PRIORITY"], "3", "{v}");
    assert_eq!(v["SYSLOG_FACILITY"], "3", "{v}");
    assert_eq!(v["SYSLOG_IDENTIFIER"], "shout", "{v}");
    assert_eq!(v["_TRANSPORT"], "syslog", "{v}");
    assert_eq!(v["UNIT"], "shout.service", "{v}");
    let pid: u32 = v["_PID"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .expect("_PID");
    assert!(pid > 1, "{v}");
    assert!(v["_SYSTEMD_INVOCATION_ID"].as_str().is_some(), "{v}");

    let v = wait_for(&mut d, &["shout5424"], "five four two four");
    assert_eq!(v["PRIORITY"], "4", "{v}");
    assert_eq!(v["SYSLOG_FACILITY"], "19", "{v}");
    assert_eq!(v["SYSLOG_IDENTIFIER"], "five", "{v}");

    // Priority and transport filters apply to syslog lines as to any other.
    let errs = json_lines(&mut d, &["-p", "err", "shout", "shout5424"]);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0]["MESSAGE"], "disk on fire");
    let via_syslog = json_lines(&mut d, &["_TRANSPORT=syslog"]);
    assert!(
        via_syslog.iter().all(|v| v["_TRANSPORT"] == "syslog") && via_syslog.len() >= 2,
        "{via_syslog:?}"
    );
    let short = d.ok(&["logs", "shout", "-o", "short"]);
    assert!(
        short.contains(&format!(" shout[{pid}]: disk on fire")),
        "{short}"
    );
}

#[test]
fn python_syslog_handler_from_a_service() {
    let mut d = Daemon::start();
    // Read by python3, never executed itself: a plain write is enough.
    let code = "import logging, logging.handlers, os, time\n\
                h = logging.handlers.SysLogHandler(address=os.environ['DAIMON_SYSLOG_SOCKET'])\n\
                h.ident = 'billing: '\n\
                log = logging.getLogger('app')\n\
                log.addHandler(h)\n\
                log.error('payment failed')\n\
                log.warning('slow answer')\n\
                time.sleep(60)\n";
    std::fs::write(d.path().join("app.py"), code).expect("write app.py");
    d.write_unit(
        "billing.service",
        &format!(
            "[Service]\nExecStart=/usr/bin/python3 {}\n",
            d.path().join("app.py").display()
        ),
    );
    d.ok(&["start", "billing"]);
    let v = wait_for(&mut d, &["billing"], "payment failed");
    assert_eq!(v["PRIORITY"], "3", "{v}");
    assert_eq!(v["SYSLOG_FACILITY"], "1", "{v}");
    assert_eq!(v["SYSLOG_IDENTIFIER"], "billing", "{v}");
    assert_eq!(v["UNIT"], "billing.service", "{v}");
    let main = d.wait_main_pid("billing");
    assert_eq!(v["_PID"], main.to_string(), "{v}");
    let v = wait_for(&mut d, &["billing"], "slow answer");
    assert_eq!(v["PRIORITY"], "4", "{v}");
    let errs = json_lines(&mut d, &["billing", "-p", "err"]);
    assert_eq!(errs.len(), 1, "{errs:?}");
    d.ok(&["stop", "billing"]);
}

#[test]
fn a_sender_of_no_unit_goes_under_syslog_and_garbage_is_kept_raw() {
    let mut d = Daemon::start();
    let sock = syslog_socket(&d);
    wait_until("the syslog socket", DEADLINE, || sock.exists());
    let c = UnixDatagram::unbound().expect("socket");
    c.send_to(b"<12>Dec  7 11:30:00 cron[99]: job done", &sock)
        .expect("send");
    c.send_to(b"\xff\xfe<<not syslog at all", &sock)
        .expect("send");
    let v = wait_for(&mut d, &["syslog"], "job done");
    assert_eq!(v["UNIT"], "syslog", "{v}");
    assert_eq!(v["SYSLOG_IDENTIFIER"], "cron", "{v}");
    assert_eq!(v["PRIORITY"], "4", "{v}");
    // The kernel's PID (this test), not the claimed 99.
    assert_eq!(v["_PID"], std::process::id().to_string(), "{v}");
    wait_until("the raw datagram", DEADLINE, || {
        json_lines(&mut d, &["syslog"])
            .iter()
            .any(|v| v["MESSAGE"].is_array() && v["PRIORITY"] == "6")
    });
}

/// `prog | logger` (logger forwarding another program's lines) from a
/// service: logger is a descendant of the main process, placed by its ancestry.
#[test]
fn a_pipeline_into_logger_is_placed_in_its_unit() {
    let mut d = Daemon::start();
    let script = d.script(
        "chatty.sh",
        "{ for i in 1 2 3 4 5; do echo \"line $i\"; done; sleep 30; } | logger -u \"$DAIMON_SYSLOG_SOCKET\" -t chatty -p user.warning &\nexec sleep 60",
    );
    d.write_unit(
        "chatty.service",
        &format!("[Service]\nExecStart={}\n", script.display()),
    );
    d.ok(&["start", "chatty"]);
    wait_for(&mut d, &["chatty"], "line 5");
    let lines = json_lines(&mut d, &["chatty", "_TRANSPORT=syslog"]);
    let msgs: Vec<_> = lines.iter().map(|v| v["MESSAGE"].clone()).collect();
    assert_eq!(
        msgs,
        ["line 1", "line 2", "line 3", "line 4", "line 5"],
        "{lines:?}"
    );
    assert!(lines.iter().all(|v| v["PRIORITY"] == "4"), "{lines:?}");
    let all = json_lines(&mut d, &["_TRANSPORT=syslog"]);
    assert!(
        all.iter().all(|v| v["UNIT"] == "chatty.service"),
        "nothing unplaced: {all:?}"
    );
    d.ok(&["stop", "chatty"]);
}

/// A flood never stalls daimond, and what it could not store is counted in
/// its own log: stored + reported dropped = sent.
#[test]
fn a_flood_is_bounded_and_its_drops_are_reported() {
    let mut d = Daemon::start();
    let sock = syslog_socket(&d);
    wait_until("the syslog socket", DEADLINE, || sock.exists());
    const N: usize = 20_000;
    let flood = std::thread::spawn(move || {
        let c = UnixDatagram::unbound().expect("socket");
        c.set_write_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("timeout");
        let mut sent = 0;
        for i in 0..N {
            if c.send_to(format!("<14>flood: n{i}").as_bytes(), &sock)
                .is_ok()
            {
                sent += 1;
            }
        }
        sent
    });
    // daimond keeps answering while the flood runs.
    while !flood.is_finished() {
        let t = std::time::Instant::now();
        d.ok(&["list"]);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(3),
            "{:?}",
            t.elapsed()
        );
    }
    let sent = flood.join().expect("flood thread");
    let dropped_in = |d: &mut Daemon| -> usize {
        d.ok(&[
            "logs",
            "daimond",
            "-o",
            "cat",
            "-g",
            "syslog messages dropped",
        ])
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse::<usize>().ok())
        .sum()
    };
    let stored_in = |d: &mut Daemon| d.ok(&["logs", "syslog", "-o", "cat"]).lines().count();
    wait_until("every datagram stored or counted", DEADLINE, || {
        stored_in(&mut d) + dropped_in(&mut d) == sent
    });
}

/// journalctl's field matches on syslog lines: `PRIORITY=` is exactly that
/// priority (alternatives when repeated), `SYSLOG_IDENTIFIER=` the tag.
#[test]
fn priority_and_identifier_matches() {
    let mut d = Daemon::start();
    let sock = syslog_socket(&d);
    wait_until("the syslog socket", DEADLINE, || sock.exists());
    let c = UnixDatagram::unbound().expect("socket");
    for dg in [
        "<11>cron: three",
        "<12>cron: four",
        "<14>cron: six",
        "<11>backup: three too",
    ] {
        c.send_to(dg.as_bytes(), &sock).expect("send");
    }
    wait_for(&mut d, &["syslog"], "three too");
    let msgs = |d: &mut Daemon, args: &[&str]| -> Vec<String> {
        json_lines(d, args)
            .iter()
            .map(|v| v["MESSAGE"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        msgs(&mut d, &["syslog", "PRIORITY=3"]),
        ["three", "three too"]
    );
    assert_eq!(
        msgs(&mut d, &["syslog", "PRIORITY=3", "PRIORITY=6"]),
        ["three", "six", "three too"]
    );
    assert_eq!(
        msgs(&mut d, &["syslog", "SYSLOG_IDENTIFIER=cron"]),
        ["three", "four", "six"]
    );
    assert_eq!(
        msgs(&mut d, &["SYSLOG_IDENTIFIER=cron", "PRIORITY=4"]),
        ["four"]
    );
    // -p is "this or more important"; with PRIORITY= both apply.
    assert_eq!(
        msgs(
            &mut d,
            &["syslog", "-p", "warning", "SYSLOG_IDENTIFIER=cron"]
        ),
        ["three", "four"]
    );
    let bad = d.cli(&["logs", "PRIORITY=err"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("PRIORITY is a number"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// `[Syslog] ListenSocket=` in daimond.conf chooses the socket; a path that
/// another daemon serves is left to it, and the runtime directory's is used.
#[test]
fn the_listen_socket_setting() {
    let mut d = Daemon::home_only();
    let custom = d.path().join("custom-log.sock");
    std::fs::write(
        d.path().join("daimond.conf"),
        format!("[Syslog]\nListenSocket={}\n", custom.display()),
    )
    .expect("daimond.conf");
    d.spawn_daemon();
    wait_until("the configured socket", DEADLINE, || custom.exists());
    assert!(!syslog_socket(&d).exists());
    d.write_unit(
        "custom.service",
        "[Service]\nExecStart=/bin/sh -c 'exec logger -u \"$DAIMON_SYSLOG_SOCKET\" -t custom \"via the setting\"'\n",
    );
    d.ok(&["start", "custom"]);
    let v = wait_for(&mut d, &["custom"], "via the setting");
    assert_eq!(v["UNIT"], "custom.service", "{v}");

    let mut d = Daemon::home_only();
    let taken = d.path().join("taken.sock");
    let other = UnixDatagram::bind(&taken).expect("another daemon's socket");
    std::fs::write(
        d.path().join("daimond.conf"),
        format!("[Syslog]\nListenSocket={}\n", taken.display()),
    )
    .expect("daimond.conf");
    d.spawn_daemon();
    let sock = syslog_socket(&d);
    wait_until("the runtime directory's socket", DEADLINE, || sock.exists());
    let c = UnixDatagram::unbound().expect("socket");
    c.send_to(b"<14>x: to the other", &taken).expect("send");
    let mut buf = [0u8; 64];
    other.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let n = other.recv(&mut buf).expect("still the other daemon's");
    assert_eq!(&buf[..n], b"<14>x: to the other");
}
