//! Unit names given to `daimon logs`: an unknown one exits 4 as `status` does,
//! a known one without lines prints "-- No entries --", a unit that is gone but
//! left lines is still queryable, and dotted names (`bot.sh.service`) are found
//! by the name the user typed.

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};

use common::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn unknown_units_exit_4_and_known_ones_without_lines_say_no_entries() {
    let mut d = Daemon::start();
    d.write_unit("idle.service", "[Service]\nExecStart=/bin/sleep 100\n");
    d.ok(&["daemon-reload"]);
    let units = d.units_dir();
    for args in [
        &["logs", "nosuch"][..],
        &["logs", "-u", "nosuch"][..],
        &["logs", "nosuch", "-f"][..],
        &["logs", "idle", "nosuch", "-o", "json"][..],
    ] {
        let out = d.cli(args);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!(
                "daimon: unit \"nosuch.service\" not found in {} or among the 1 loaded \
                 units; `daimon list` shows them\n",
                units.display()
            ),
            "{args:?}"
        );
        assert_eq!(stdout(&out), "", "{args:?}");
    }
    // Known (it has a file), never ran: journalctl's marker and exit 0.
    let out = d.cli(&["logs", "idle"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "-- No entries --\n");
    // daimond's own messages are a unit of the store.
    let out = d.cli(&["logs", "daimond", "-n", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // `status` names the directory too.
    let out = d.cli(&["status", "nosuch"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains(&format!(" in {} ", units.display())));
}

#[test]
fn a_unit_that_is_gone_keeps_its_logs() {
    let mut d = Daemon::start();
    d.ok(&[
        "run",
        "--name",
        "once",
        "--restart",
        "no",
        "--save",
        "--",
        "echo",
        "hello once",
    ]);
    wait_until("once's line", DEADLINE, || {
        stdout(&d.cli(&["logs", "once", "-o", "cat"])).contains("hello once")
    });
    std::fs::remove_file(d.units_dir().join("once.service")).expect("remove the file");
    d.ok(&["daemon-reload"]);
    let out = d.cli(&["status", "once"]);
    assert_eq!(out.status.code(), Some(4), "no longer loaded");
    let out = d.cli(&["logs", "once", "-o", "cat", "_TRANSPORT=stdout"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello once\n");
}

#[test]
fn dotted_names_are_found_by_logs_as_by_status() {
    let mut d = Daemon::start();
    let dir = d.path().to_path_buf();
    d.script("bot.sh", "echo hello from bot.sh\nexec sleep 1000");
    let out = d.cli_in(&dir, &["run", "--", "./bot.sh"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("Started bot.sh.service"),
        "{}",
        stdout(&out)
    );
    d.wait_main_pid("bot.sh");
    wait_until("bot.sh's line", DEADLINE, || {
        stdout(&d.cli(&["logs", "bot.sh", "-o", "cat"])).contains("hello from bot.sh")
    });
    for args in [
        &["logs", "bot.sh", "-o", "cat", "_TRANSPORT=stdout"][..],
        &["logs", "-u", "bot.sh", "-o", "cat", "_TRANSPORT=stdout"][..],
        &["logs", "bot.sh.service", "-o", "cat", "_TRANSPORT=stdout"][..],
    ] {
        let out = d.cli(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "hello from bot.sh\n", "{args:?}");
    }

    // -f prints it too, then follows.
    let mut follower = Command::new(bin("daimon"))
        .args(["logs", "bot.sh", "-f", "-o", "cat", "_TRANSPORT=stdout"])
        .env("DAIMON_HOME", d.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn follower");
    d.extra.push(follower.id());
    let out = follower.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let first = rx
        .recv_timeout(DEADLINE)
        .expect("the follower printed a line");
    assert_eq!(first, "hello from bot.sh\n");
    kill(follower.id(), libc::SIGTERM);
    let _ = follower.wait();
}
