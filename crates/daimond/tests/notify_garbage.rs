//! A service that may notify (NotifyAccess=all) sends thousands of malformed
//! datagrams: daimond parses them all, stays responsive, and the service's
//! real READY=1 and STATUS= still count. The in-process property tests of the
//! parser are in `supervisor/machine/notify_props.rs`; this is the same
//! hostility through the real socket.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn python() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is installed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn thousands_of_malformed_notifications_change_nothing_but_what_they_say() {
    let mut d = Daemon::start();
    let prog = d.path().join("garbage.py");
    std::fs::write(
        &prog,
        r#"
import os, random, socket, time
addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
rng = random.Random(12)
pieces = [b"READY=", b"STATUS=", b"MAINPID=", b"ERRNO=", b"WATCHDOG=", b"EXTEND_TIMEOUT_USEC=",
          b"MONOTONIC_USEC=", b"RELOADING=", b"=", b"\n", b"\0", b"\xff\xfe", b"99999999999999999999",
          b"-1", b"0", b"trigger"]
sent = 0
for i in range(5000):
    if rng.random() < 0.5:
        msg = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 600)))
    else:
        msg = b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, 30)))
    # Nothing that is meant: no READY=1, WATCHDOG=trigger or MAINPID= of a real process.
    msg = msg.replace(b"READY=1", b"READY=x").replace(b"WATCHDOG=trigger", b"WATCHDOG=x").replace(b"MAINPID=", b"MAINPIX=")
    try:
        s.sendto(msg, addr)
        sent += 1
    except OSError:
        time.sleep(0.001)
print("sent", sent, flush=True)
s.sendto(b"READY=1\nSTATUS=survived", addr)
time.sleep(1000)
"#,
    )
    .expect("write garbage.py");
    d.write_unit(
        "garbage.service",
        &format!(
            "[Service]\nType=notify\nNotifyAccess=all\nTimeoutStartSec=60\nExecStart={} {}\n",
            python(),
            prog.display()
        ),
    );
    d.ok(&["start", "garbage"]);
    let pid = d.wait_main_pid("garbage");
    wait_until("the real STATUS=", Duration::from_secs(30), || {
        d.status_json("garbage")["status_text"] == "survived"
    });
    let st = d.status_json("garbage");
    assert_eq!(st["state"], "active", "{st}");
    assert_eq!(st["pid"], pid, "{st}");
    let logs =
        String::from_utf8_lossy(&d.cli(&["logs", "garbage", "-o", "cat"]).stdout).into_owned();
    let sent = logs
        .lines()
        .find_map(|l| l.strip_prefix("sent "))
        .and_then(|n| n.trim().parse::<u32>().ok())
        .expect("the service reports how many it sent");
    assert!(sent > 1000, "most datagrams went out: {sent}");
    let t = Instant::now();
    d.ok(&["status"]);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "status answers at once: {:?}",
        t.elapsed()
    );
}
