//! Escape sequences a service prints never reach the reader's terminal as
//! such: `logs` and `status UNIT` on a terminal show them escaped (as
//! journalctl does); pipes, `-o cat` to a pipe and JSON get them as stored;
//! `--raw-escapes` lets them through on a terminal.
//!
//! A terminal is script(1)'s pseudo-terminal: the CLI's stdout is a tty there.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

/// What the service writes: OSC 52 (sets the clipboard), CSI 2J (clears the
/// screen), a C1 CSI (U+009B, two bytes in UTF-8), a BEL, and a tab.
const HOSTILE: &[u8] = b"osc \x1b]52;c;aGk=\x1b\\ clear \x1b[2J c1 \xc2\x9b2J bell \x07 tab\tend";
/// How a terminal shows it.
const SHOWN: &str = "osc \\x1b]52;c;aGk=\\x1b\\ clear \\x1b[2J c1 \\u009b2J bell \\x07 tab\tend";

/// The python3 interpreter itself (PATH may hold a wrapper that needs more
/// environment than a service has).
fn python() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is installed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A Type=notify service that prints [`HOSTILE`] and sends it as STATUS=,
/// with a description holding an escape sequence too.
fn hostile_service(d: &mut Daemon) {
    let prog = d.path().join("hostile.py");
    std::fs::write(
        &prog,
        r#"
import os, socket, sys, time
text = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(text + b"\n")
sys.stdout.flush()
addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1\nSTATUS=" + text, addr)
time.sleep(1000)
"#,
    )
    .expect("write hostile.py");
    let text = d.path().join("hostile.txt");
    std::fs::write(&text, HOSTILE).expect("write hostile.txt");
    d.write_unit(
        "hostile.service",
        &format!(
            "[Unit]\nDescription=nice \x1b[2J unit\n[Service]\nType=notify\nExecStart={} {} {}\n",
            python(),
            prog.display(),
            text.display()
        ),
    );
    d.ok(&["start", "hostile"]);
    d.wait_main_pid("hostile");
    wait_until("the service's line stored", DEADLINE, || {
        d.cli(&["logs", "hostile", "-o", "cat"])
            .stdout
            .windows(HOSTILE.len())
            .any(|w| w == HOSTILE)
    });
}

/// Runs `daimon ARGS` with its stdout on a pseudo-terminal; returns what the
/// terminal received (the pty turns "\n" into "\r\n": undone here).
fn on_terminal(d: &mut Daemon, args: &[&str]) -> Vec<u8> {
    let mut cmd = bin("daimon").display().to_string();
    for a in args {
        cmd.push_str(&format!(" '{a}'"));
    }
    let out = run_bounded(
        Command::new("script")
            .args(["-q", "-e", "-c", &cmd, "/dev/null"])
            .env("DAIMON_HOME", d.path())
            // `logs` on a terminal opens a pager; this test reads what the
            // terminal gets, so the pager passes it through.
            .env("DAIMON_PAGER", "cat")
            .env("NO_COLOR", "1"),
        Duration::from_secs(30),
    );
    d.record_descendants();
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 3),
        "daimon {args:?} under script: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut text = Vec::with_capacity(out.stdout.len());
    for (i, b) in out.stdout.iter().enumerate() {
        if *b == b'\r' && out.stdout.get(i + 1) == Some(&b'\n') {
            continue;
        }
        text.push(*b);
    }
    text
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// No byte that starts an escape sequence or a C1 control.
fn inert(text: &[u8]) -> bool {
    !text.contains(&0x1b) && !contains(text, b"\xc2\x9b") && !text.contains(&0x07)
}

#[test]
fn logs_on_a_terminal_are_escaped_and_pipes_get_the_bytes_as_stored() {
    let mut d = Daemon::start();
    hostile_service(&mut d);

    for format in ["short", "cat"] {
        let shown = on_terminal(&mut d, &["logs", "hostile", "-o", format]);
        assert!(
            inert(&shown),
            "{format}: {}",
            String::from_utf8_lossy(&shown)
        );
        assert!(
            contains(&shown, SHOWN.as_bytes()),
            "{format}: {}",
            String::from_utf8_lossy(&shown)
        );
        // To a pipe: as stored (the short format still shows C0 controls
        // other than tab and ESC as \xNN, so that a line stays a line).
        let piped = d.cli(&["logs", "hostile", "-o", format]).stdout;
        let expect: &[u8] = if format == "cat" {
            HOSTILE
        } else {
            b"osc \x1b]52;c;aGk=\x1b\\ clear \x1b[2J c1 \xc2\x9b2J bell \\x07 tab\tend"
        };
        assert!(contains(&piped, expect), "{format} piped: {piped:?}");
    }

    // Asked for: as stored, on the terminal too.
    for flag in ["--raw-escapes", "-a", "--all"] {
        let raw = on_terminal(&mut d, &["logs", "hostile", "-o", "cat", flag]);
        assert!(contains(&raw, HOSTILE), "{flag}: {raw:?}");
    }

    // JSON is JSON: the message as stored, whatever the output is.
    let json = on_terminal(&mut d, &["logs", "hostile", "-o", "json"]);
    let line = String::from_utf8_lossy(&json)
        .lines()
        .find(|l| l.contains("osc"))
        .map(str::to_string)
        .expect("the service's line in JSON");
    let v: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
    assert_eq!(
        v["MESSAGE"].as_str().map(str::as_bytes),
        Some(HOSTILE),
        "{line}"
    );
}

#[test]
fn status_on_a_terminal_escapes_status_text_description_and_recent_lines() {
    let mut d = Daemon::start();
    hostile_service(&mut d);
    wait_until("STATUS= stored", DEADLINE, || {
        d.status_json("hostile")["status_text"]
            .as_str()
            .is_some_and(|s| s.as_bytes() == HOSTILE)
    });

    let shown = on_terminal(&mut d, &["status", "hostile"]);
    let text = String::from_utf8_lossy(&shown);
    assert!(inert(&shown), "{text}");
    assert!(text.contains("nice \\x1b[2J unit"), "description: {text}");
    assert!(
        text.contains(&format!("Status: \"{SHOWN}\"")),
        "STATUS=: {text}"
    );
    assert!(
        text.lines().filter(|l| l.contains(SHOWN)).count() >= 2,
        "the recent log line too: {text}"
    );
    let table = on_terminal(&mut d, &["status"]);
    assert!(inert(&table), "{}", String::from_utf8_lossy(&table));
    assert!(contains(&table, b"nice \\x1b[2J unit"));
    // The systemctl verbs show the same text, escaped the same way.
    for args in [
        &["list-units"][..],
        &["show", "hostile", "-p", "Description,StatusText"][..],
    ] {
        let shown = on_terminal(&mut d, args);
        assert!(
            inert(&shown),
            "{args:?}: {}",
            String::from_utf8_lossy(&shown)
        );
        assert!(
            contains(&shown, b"nice \\x1b[2J unit"),
            "{args:?}: {}",
            String::from_utf8_lossy(&shown)
        );
    }

    // Through a pipe, and asked for on a terminal: as sent.
    let piped = d.cli(&["status", "hostile"]).stdout;
    assert!(
        contains(&piped, HOSTILE),
        "{}",
        String::from_utf8_lossy(&piped)
    );
    let raw = on_terminal(&mut d, &["status", "hostile", "--raw-escapes"]);
    assert!(contains(&raw, HOSTILE), "{}", String::from_utf8_lossy(&raw));
}
