//! `daimon top` in a real terminal: tmux runs it, `capture-pane` reads the
//! screen and `send-keys` types. Without tmux the tests fail with the command that
//! installs it (`bash .ci/run` does).

mod common;
mod top_tmux;

use std::process::Command;
use std::time::Duration;

use common::*;
use top_tmux::*;

#[test]
fn top_shows_units_filters_restarts_resizes_and_quits_cleanly() {
    need_tmux();
    let mut d = Daemon::start();
    sleeper(&mut d, "alpha");
    sleeper(&mut d, "beta");
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "alpha", "beta"]);
    let beta = d.wait_main_pid("beta");
    let tmux = top_in_tmux(&mut d);

    // Both rows, with their state and beta's PID.
    let screen = tmux.wait_screen("both units in the table", |s| {
        s.contains("alpha.service") && s.contains("beta.service") && s.contains(&beta.to_string())
    });
    assert!(screen.contains("2 of 2 units"), "{screen}");
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("beta.service") && l.contains("active")),
        "{screen}"
    );

    // `/beta` Enter: only beta is left, and it is selected.
    tmux.keys(&["/", "b", "e", "t", "a", "Enter"]);
    tmux.wait_screen("the filter to narrow the table", |s| {
        s.contains("1 of 2 units") && !s.contains("alpha.service")
    });

    // `r` restarts the selected unit: a new PID in its row.
    tmux.keys(&["r"]);
    let mut new = 0;
    wait_until("beta restarted with a new PID", DEADLINE, || {
        new = d.wait_main_pid("beta");
        new != beta
    });
    tmux.wait_screen("the new PID in the table", |s| s.contains(&new.to_string()));

    // A smaller window: the frame fits it, the bottom line (the restart's
    // outcome until the next key) on its last row.
    assert!(
        tmux.cmd(&["resize-window", "-t", "top", "-x", "70", "-y", "12"])
            .status
            .success()
    );
    let screen = tmux.wait_screen("the layout to follow the resize", |s| {
        s.lines()
            .nth(11)
            .is_some_and(|l| l.contains("beta.service restarted"))
    });
    assert!(screen.lines().all(|l| l.chars().count() <= 70), "{screen}");

    // `q`: top exits 0 and the terminal is as it was.
    tmux.keys(&["q"]);
    tmux.wait_screen("top to exit", |s| s.contains("top-exit=0"));
    assert!(restored(d.path()), "stty settings differ after top");
}

#[test]
fn sigterm_restores_the_terminal() {
    need_tmux();
    let mut d = Daemon::start();
    sleeper(&mut d, "alpha");
    d.ok(&["daemon-reload"]);
    let tmux = top_in_tmux(&mut d);
    tmux.wait_screen("the table", |s| s.contains("alpha.service"));
    signal_top_and_expect_restored(d.path(), &tmux, libc::SIGTERM, "SIGTERM");
}

/// The stream `top` wakes on: an `Events` request gets one frame per state
/// change of a unit, and nothing while nothing changes.
#[test]
fn an_events_stream_names_each_unit_that_changes() {
    use daimon_proto::{Hello, PROTOCOL_VERSION, Request, Response, read_frame, write_frame};
    let mut d = Daemon::start();
    sleeper(&mut d, "alpha");
    d.ok(&["daemon-reload"]);
    let mut s = std::os::unix::net::UnixStream::connect(d.socket()).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let hello = Hello {
        version: PROTOCOL_VERSION,
    };
    write_frame(&mut s, &hello).expect("hello");
    assert!(matches!(
        read_frame::<_, Response>(&mut s),
        Ok(Response::Welcome(_))
    ));
    write_frame(&mut s, &Request::Events).expect("request");
    // Quiet while nothing changes.
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    assert!(
        read_frame::<_, Response>(&mut s).is_err(),
        "an event with no change"
    );
    // The read timed out mid-nothing: the stream is still aligned on frames.
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    d.ok(&["start", "alpha"]);
    match read_frame::<_, Response>(&mut s) {
        Ok(Response::Event(unit)) => assert_eq!(unit, "alpha.service"),
        other => panic!("expected an Event for alpha.service, got {other:?}"),
    }
}

#[test]
fn stop_asks_first_and_the_log_pane_follows_the_unit() {
    need_tmux();
    let mut d = Daemon::start();
    let script = d.script(
        "talk.sh",
        // Held open read-write: reopening per line would race the test's writer
        // closing, and read EOF (the script would end with status 0).
        "echo first-line\nexec 3<>fifo\nwhile read -r line <&3; do echo \"$line\"; done\n",
    );
    let fifo = d.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success())
    );
    d.write_unit(
        "talk.service",
        &format!(
            "[Service]\nWorkingDirectory={}\nExecStart=/bin/sh {}\n",
            d.path().display(),
            script.display()
        ),
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "talk"]);
    let pid = d.wait_main_pid("talk");
    let tmux = top_in_tmux(&mut d);
    tmux.wait_screen("the unit's row", |s| s.contains(&pid.to_string()));

    // `l`: the pane shows what the unit wrote, and what it writes next.
    tmux.keys(&["l"]);
    tmux.wait_screen("the log pane", |s| {
        s.contains("logs: talk.service") && s.contains("first-line")
    });
    // Non-blocking: a writer never waits on a reader that is not there.
    wait_until("the service to read its fifo", DEADLINE, || {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .and_then(|mut f| f.write_all(b"second-line\n"))
            .is_ok()
    });
    tmux.wait_screen("the pane to follow", |s| s.contains("second-line"));

    // `S` asks; any key but `y` cancels; `y` stops.
    tmux.keys(&["S"]);
    tmux.wait_screen("the question", |s| {
        s.contains("stop talk.service? y confirms")
    });
    tmux.keys(&["n"]);
    tmux.wait_screen("the cancel", |s| {
        s.contains("stop of talk.service cancelled")
    });
    assert!(pid_alive(pid), "a cancelled stop stopped the unit");
    tmux.keys(&["S"]);
    tmux.wait_screen("the question", |s| {
        s.contains("stop talk.service? y confirms")
    });
    tmux.keys(&["y"]);
    tmux.wait_screen("the row to say inactive", |s| {
        s.lines()
            .any(|l| l.starts_with("talk.service") && l.contains("inactive"))
    });
    assert!(!pid_alive(pid), "the unit's process still runs after stop");
    tmux.keys(&["q"]);
    tmux.wait_screen("top to exit", |s| s.contains("top-exit=0"));
}
