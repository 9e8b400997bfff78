//! Type=notify end to end: readiness over the notification socket gates the
//! start job and dependents, STATUS= text, NotifyAccess=, TimeoutStartSec=
//! without READY=1, the watchdog, and daimond's own sd_notify to its manager.
//!
//! Services are small python3 programs that send datagrams themselves
//! (`systemd-notify` forks, so its PID would not be the main PID).

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The python3 interpreter itself (not a wrapper script), so that the service's
/// main process is the one that sends.
fn python() -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is installed");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

const SEND: &str = r#"
import os, socket, sys, time
def send(msg):
    addr = os.environ["NOTIFY_SOCKET"]
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(msg.encode(), addr)
    s.close()
def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.02)
"#;

/// Writes a python service program into the home; returns the ExecStart= line.
fn py(d: &Daemon, name: &str, body: &str) -> String {
    let path = d.path().join(name);
    std::fs::write(&path, format!("{SEND}\n{body}\n")).expect("write program");
    format!("{} {}", python().display(), path.display())
}

fn logs(d: &mut Daemon, unit: &str) -> String {
    let out = d.cli(&["logs", unit, "-n", "200"]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `daimon start UNIT` in a thread (it returns only when the job is done).
fn start_in_background(d: &Daemon, unit: &str) -> std::thread::JoinHandle<(bool, Instant)> {
    let home = d.path().to_path_buf();
    let unit = unit.to_string();
    std::thread::spawn(move || {
        let out = run_bounded(
            Command::new(bin("daimon"))
                .args(["start", &unit])
                .env("DAIMON_HOME", &home),
            Duration::from_secs(30),
        );
        (out.status.success(), Instant::now())
    })
}

/// The NOTIFY_SOCKET a service process was given.
/// A process caught inside execve() shows an empty environment for a moment
/// (the kernel sets it at the end), so it is asked until it shows one.
fn notify_socket_of(pid: u32) -> String {
    let mut found = None;
    wait_until("the process's NOTIFY_SOCKET", DEADLINE, || {
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        found = env
            .split(|b| *b == 0)
            .find_map(|kv| kv.strip_prefix(b"NOTIFY_SOCKET=".as_slice()))
            .map(|v| String::from_utf8_lossy(v).into_owned());
        found.is_some()
    });
    found.unwrap_or_default()
}

/// Sends a datagram from this (foreign) process to a NOTIFY_SOCKET address.
fn send_as_test(addr: &str, msg: &str) {
    use std::os::linux::net::SocketAddrExt;
    let sock = UnixDatagram::unbound().expect("socket");
    let to = match addr.strip_prefix('@') {
        Some(name) => std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()),
        None => std::os::unix::net::SocketAddr::from_pathname(addr),
    }
    .expect("address");
    sock.send_to_addr(msg.as_bytes(), &to)
        .expect("send to the notification socket");
}

#[test]
fn start_returns_after_ready_and_a_dependent_starts_only_then() {
    let mut d = Daemon::start();
    let gate = d.path().join("gate");
    let marker = d.path().join("ready-sent");
    let exec = py(
        &d,
        "slow.py",
        &format!(
            "wait_for({gate:?})\nopen({marker:?}, 'w').close()\nsend('READY=1')\ntime.sleep(1000)",
            gate = gate.display().to_string(),
            marker = marker.display().to_string()
        ),
    );
    d.write_unit(
        "slow.service",
        &format!("[Service]\nType=notify\nExecStart={exec}\n"),
    );
    d.write_unit(
        "web.service",
        &format!(
            "[Unit]\nRequires=slow.service\nAfter=slow.service\n[Service]\n\
             ExecStart=/bin/sh -c 'test -e {} && exec sleep 1000'\n",
            marker.display()
        ),
    );
    let start = start_in_background(&d, "web");
    wait_until("slow activating", DEADLINE, || {
        let st = d.status_json("slow");
        st["state"] == "activating" && st["pid"].as_u64().is_some()
    });
    d.record_descendants();
    // While slow has not sent READY=1: still activating, web not started, the
    // client still waiting.
    let until = Instant::now() + Duration::from_millis(800);
    while Instant::now() < until {
        assert_eq!(d.status_json("slow")["state"], "activating");
        assert_eq!(d.status_json("web")["pid"], serde_json::Value::Null);
        assert!(!start.is_finished(), "start returned before READY=1");
        std::thread::sleep(Duration::from_millis(100));
    }
    let opened = Instant::now();
    std::fs::write(&gate, "").expect("open the gate");
    let (ok, done) = start.join().expect("start thread");
    assert!(ok, "daimon start web failed: {}", logs(&mut d, "web"));
    assert!(done >= opened);
    assert_eq!(d.status_json("slow")["state"], "active");
    let web = d.wait_main_pid("web");
    assert!(pid_alive(web), "web ran after READY=1 (its check passed)");
}

#[test]
fn status_text_is_shown_in_status() {
    let mut d = Daemon::start();
    let exec = py(
        &d,
        "srv.py",
        "send('READY=1\\nSTATUS=Serving 3 clients\\nERRNO=2')\ntime.sleep(1000)",
    );
    d.write_unit(
        "srv.service",
        &format!("[Service]\nType=notify\nExecStart={exec}\n"),
    );
    d.ok(&["start", "srv"]);
    d.wait_main_pid("srv");
    wait_until("STATUS= stored", DEADLINE, || {
        d.status_json("srv")["status_text"] == "Serving 3 clients"
    });
    assert_eq!(d.status_json("srv")["errno"], 2);
    let text = d.ok(&["status", "srv"]);
    assert!(text.contains("Serving 3 clients"), "{text}");
    assert!(
        text.contains("Error: 2 (No such file or directory)"),
        "{text}"
    );
}

#[test]
fn ready_from_a_process_other_than_the_main_one_is_ignored() {
    let mut d = Daemon::start();
    // The main process is the shell; its python child is not the main process.
    // The child stays: a sender gone before daimond reads its datagram can no
    // longer be told apart from a process of no unit (under load, it was).
    let child = py(&d, "child.py", "send('READY=1')\ntime.sleep(1000)");
    d.write_unit(
        "quiet.service",
        &format!(
            "[Service]\nType=notify\nTimeoutStartSec=30\nExecStart=/bin/sh -c '{child}; exec sleep 1000'\n"
        ),
    );
    let start = start_in_background(&d, "quiet");
    let mut main = 0;
    wait_until("quiet activating", DEADLINE, || {
        let st = d.status_json("quiet");
        main = st["pid"].as_u64().unwrap_or(0) as u32;
        st["state"] == "activating" && main != 0
    });
    d.remember(main);
    // And a process of no unit at all: this test.
    send_as_test(&notify_socket_of(main), "READY=1");
    wait_until("the refusal logged", DEADLINE, || {
        logs(&mut d, "quiet").contains("reception only permitted for main PID")
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(d.status_json("quiet")["state"], "activating");
    d.ok(&["stop", "quiet"]);
    let (ok, _) = start.join().expect("start thread");
    assert!(!ok, "the start was canceled, not completed");
}

#[test]
fn no_ready_within_timeout_start_sec_fails_with_timeout() {
    let mut d = Daemon::start();
    let exec = py(&d, "mute.py", "time.sleep(1000)");
    d.write_unit(
        "mute.service",
        &format!("[Service]\nType=notify\nTimeoutStartSec=1s\nExecStart={exec}\n"),
    );
    let t = Instant::now();
    let out = d.cli(&["start", "mute"]);
    assert!(!out.status.success());
    assert!(t.elapsed() >= Duration::from_millis(900));
    let st = d.status_json("mute");
    assert_eq!(st["state"], "failed");
    assert_eq!(st["result"], "timeout");
    assert!(logs(&mut d, "mute").contains("start operation timed out"));
}

#[test]
fn a_silent_watchdog_aborts_the_service_and_it_restarts() {
    let mut d = Daemon::start();
    let env_seen = d.path().join("env-seen");
    let exec = py(
        &d,
        "wd.py",
        &format!(
            "ok = os.environ.get('WATCHDOG_PID') == str(os.getpid()) and os.environ.get('WATCHDOG_USEC') == '1000000'\n\
             open({env_seen:?}, 'a').write('ok\\n' if ok else 'bad %r\\n' % dict(os.environ))\n\
             send('READY=1')\n\
             for i in range(3):\n    time.sleep(0.3)\n    send('WATCHDOG=1')\n\
             time.sleep(1000)",
            env_seen = env_seen.display().to_string()
        ),
    );
    d.write_unit(
        "wd.service",
        &format!(
            "[Service]\nType=notify\nWatchdogSec=1s\nRestart=on-watchdog\nRestartSec=200ms\n\
             LimitCORE=0\nExecStart={exec}\n"
        ),
    );
    let t = Instant::now();
    d.ok(&["start", "wd"]);
    let first = d.wait_main_pid("wd");
    let mut second = 0;
    wait_until(
        "a restart after the watchdog",
        Duration::from_secs(15),
        || {
            let st = d.status_json("wd");
            second = st["pid"].as_u64().unwrap_or(0) as u32;
            second != 0 && second != first && st["restarts"] == 1
        },
    );
    d.remember(second);
    assert!(
        t.elapsed() >= Duration::from_millis(1800),
        "three keep-alives 300 ms apart, then 1 s of silence"
    );
    let st = d.status_json("wd");
    assert_eq!(st["last_exit"], "killed, signal=ABRT", "{st}");
    let log = logs(&mut d, "wd");
    assert!(log.contains("Watchdog timeout (limit 1s)!"), "{log}");
    assert!(log.contains("Failed with result 'watchdog'"), "{log}");
    let seen = std::fs::read_to_string(&env_seen).unwrap_or_default();
    assert!(
        seen.starts_with("ok\n"),
        "WATCHDOG_PID/WATCHDOG_USEC: {seen}"
    );
    d.ok(&["stop", "wd"]);
}

/// Receives one datagram within the deadline.
fn recv(sock: &UnixDatagram) -> String {
    sock.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("a notification from daimond");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn daimond_with_notify_socket(d: &mut Daemon, notify_socket: &str) {
    let child = Command::new(bin("daimond"))
        .arg("--foreground")
        .env("DAIMON_HOME", d.path())
        .env("NOTIFY_SOCKET", notify_socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn daimond");
    d.child = Some(child);
}

fn check_ready_then_stopping(d: &mut Daemon, sock: &UnixDatagram) {
    let ready = recv(sock);
    let pid = d.daemon_pid().expect("daimond runs");
    assert!(ready.contains("READY=1"), "{ready}");
    assert!(ready.contains(&format!("MAINPID={pid}")), "{ready}");
    // READY=1 means the socket answers.
    assert!(Path::new(&d.socket()).exists());
    d.ok(&["list"]);
    kill(pid, libc::SIGTERM);
    let stopping = recv(sock);
    assert!(stopping.contains("STOPPING=1"), "{stopping}");
    if let Some(c) = d.child.as_mut() {
        assert!(wait_child(c, DEADLINE).is_some(), "daimond exits");
    }
}

#[test]
fn daimond_tells_its_own_manager_it_is_ready_and_stopping() {
    let mut d = Daemon::home_only();
    let path = d.path().join("manager.sock");
    let sock = UnixDatagram::bind(&path).expect("bind");
    daimond_with_notify_socket(&mut d, &path.to_string_lossy());
    check_ready_then_stopping(&mut d, &sock);
}

#[test]
fn daimond_notifies_an_abstract_socket() {
    use std::os::linux::net::SocketAddrExt;
    let mut d = Daemon::home_only();
    let name = format!("daimon-test-notify-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("name");
    let sock = UnixDatagram::bind_addr(&addr).expect("bind abstract");
    daimond_with_notify_socket(&mut d, &format!("@{name}"));
    check_ready_then_stopping(&mut d, &sock);
}

#[test]
fn reload_of_notify_reload_waits_for_reloading_then_ready() {
    let mut d = Daemon::start();
    let done = d.path().join("reloaded");
    let exec = py(
        &d,
        "nr.py",
        &format!(
            "import signal\n\
             pending = []\n\
             signal.signal(signal.SIGUSR1, lambda s, f: pending.append(s))\n\
             send('READY=1')\n\
             while True:\n    time.sleep(0.02)\n    if pending:\n        pending.clear()\n\
             \x20       send('RELOADING=1\\nMONOTONIC_USEC=%d' % (time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000))\n\
             \x20       time.sleep(0.5)\n\
             \x20       open({done:?}, 'a').write('reloaded\\n')\n\
             \x20       send('READY=1')",
            done = done.display().to_string()
        ),
    );
    d.write_unit(
        "nr.service",
        &format!("[Service]\nType=notify-reload\nReloadSignal=SIGUSR1\nExecStart={exec}\n"),
    );
    d.ok(&["start", "nr"]);
    let pid = d.wait_main_pid("nr");
    let t = Instant::now();
    d.ok(&["reload", "nr"]);
    assert!(
        t.elapsed() >= Duration::from_millis(450),
        "reload returned before READY=1"
    );
    assert_eq!(
        std::fs::read_to_string(&done).unwrap_or_default(),
        "reloaded\n"
    );
    let st = d.status_json("nr");
    assert_eq!(st["state"], "active");
    assert_eq!(st["pid"], pid);
}

#[test]
fn mainpid_from_a_process_of_the_service_makes_it_the_main_process() {
    let mut d = Daemon::start();
    let daemon = py(
        &d,
        "daemon.py",
        "send('MAINPID=%d\\nREADY=1\\nSTATUS=forked away' % os.getpid())\ntime.sleep(1000)",
    );
    d.write_unit(
        "launcher.service",
        &format!(
            "[Service]\nType=notify\nNotifyAccess=all\nExecStart=/bin/sh -c '{daemon} & wait'\n"
        ),
    );
    d.ok(&["start", "launcher"]);
    let st = d.status_json("launcher");
    let pid = st["pid"].as_u64().expect("a main PID") as u32;
    d.record_descendants();
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        cmdline.contains("daemon.py"),
        "main is the python daemon: {cmdline:?}"
    );
    assert_eq!(st["status_text"], "forked away");
    assert!(logs(&mut d, "launcher").contains("which is now the main PID"));
    // Not our child: its end is still noticed.
    kill(pid, libc::SIGKILL);
    wait_until(
        "launcher noticed the end of its main process",
        DEADLINE,
        || d.status_json("launcher")["state"] != "active",
    );
}

#[test]
fn ready_sent_just_before_exiting_still_counts() {
    let mut d = Daemon::start();
    let exec = py(&d, "brief.py", "send('READY=1')\nos._exit(0)");
    d.write_unit(
        "brief.service",
        &format!("[Service]\nType=notify\nExecStart={exec}\n"),
    );
    for _ in 0..5 {
        d.ok(&["start", "brief"]);
        wait_until("brief ended", DEADLINE, || {
            d.status_json("brief")["state"] == "inactive"
        });
        assert_eq!(d.status_json("brief")["result"], "success");
    }
}

#[test]
fn a_daimond_started_in_the_background_notifies_nobody() {
    // As the CLI starts it: the NOTIFY_SOCKET it inherits is its caller's.
    let d = Daemon::home_only();
    let path = d.path().join("caller.sock");
    let sock = UnixDatagram::bind(&path).expect("bind");
    let out = run_bounded(
        Command::new(bin("daimond"))
            .env("DAIMON_HOME", d.path())
            .env("NOTIFY_SOCKET", &path),
        DEADLINE,
    );
    assert!(out.status.success(), "daimond started in the background");
    assert!(d.daemon_pid().is_some());
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    let got = sock.recv(&mut buf);
    assert!(
        got.is_err(),
        "unexpected notification: {:?}",
        got.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
    );
}

/// A process of one service that double-forks (re-parented to daimond) and
/// execs with another service's `INVOCATION_ID` and `NOTIFY_SOCKET` cannot
/// speak for that service: an environment is whatever its execve() was given.
/// One spoofer leaves its session (setsid), the other stays in the attacker's.
#[test]
fn a_double_forked_process_with_another_units_invocation_id_is_refused() {
    let mut d = Daemon::start();
    let victim = py(
        &d,
        "victim.py",
        "send('READY=1\\nSTATUS=victim fine')\ntime.sleep(1000)",
    );
    d.write_unit(
        "victim.service",
        &format!("[Service]\nType=notify\nNotifyAccess=all\nWatchdogSec=60\nExecStart={victim}\n"),
    );
    d.ok(&["start", "victim"]);
    let victim_pid = d.wait_main_pid("victim");
    wait_until("the victim's status text", DEADLINE, || {
        d.status_json("victim")["status_text"] == "victim fine"
    });
    let target = d.path().join("target");
    let spoof = d.path().join("spoof.py");
    std::fs::write(
        &spoof,
        format!(
            "{SEND}\nsend('STATUS=pwned\\nERRNO=13\\nWATCHDOG=trigger')\n\
             open(sys.argv[1], 'w').close()\ntime.sleep(1000)\n"
        ),
    )
    .expect("write spoof.py");
    let attacker = py(
        &d,
        "attacker.py",
        &format!(
            r#"
wait_for({target:?})
victim = int(open({target:?}).read())
env = dict(kv.split(b"=", 1) for kv in open("/proc/%d/environ" % victim, "rb").read().split(b"\0") if b"=" in kv)
stolen = dict(os.environ)
stolen["INVOCATION_ID"] = env[b"INVOCATION_ID"].decode()
stolen["NOTIFY_SOCKET"] = env[b"NOTIFY_SOCKET"].decode()
for leave_session, marker in ((True, {m1:?}), (False, {m2:?})):
    if os.fork() == 0:
        if leave_session:
            os.setsid()
        if os.fork() == 0:
            while os.getppid() != {daimond}:
                time.sleep(0.01)
            os.execve(sys.executable, [sys.executable, {spoof:?}, marker], stolen)
        os._exit(0)
    os.wait()
time.sleep(1000)
"#,
            target = target.display().to_string(),
            m1 = d.path().join("sent-setsid").display().to_string(),
            m2 = d.path().join("sent-same-session").display().to_string(),
            daimond = d.daemon_pid().expect("daimond's PID"),
            spoof = spoof.display().to_string(),
        ),
    );
    d.write_unit(
        "attacker.service",
        &format!("[Service]\nExecStart={attacker}\n"),
    );
    d.ok(&["start", "attacker"]);
    std::fs::write(&target, victim_pid.to_string()).expect("name the victim");
    wait_until("both spoofs sent", DEADLINE, || {
        d.path().join("sent-setsid").exists() && d.path().join("sent-same-session").exists()
    });
    d.record_descendants();
    // The spoofer that left its session claimed the victim's INVOCATION_ID:
    // refused, and said so in the victim's log (and daimond's).
    wait_until("the refusal logged", DEADLINE, || {
        logs(&mut d, "victim").contains(
            "carries this unit's INVOCATION_ID= but is not one of its processes; refusing",
        )
    });
    // The one still in the attacker's session is the attacker's process, which
    // may not notify (NotifyAccess=none for a simple service).
    wait_until("the attacker's own refusal", DEADLINE, || {
        logs(&mut d, "attacker").contains("reception is disabled (NotifyAccess=none)")
    });
    let daimond_log =
        String::from_utf8_lossy(&d.cli(&["logs", "daimond", "-n", "200"]).stdout).into_owned();
    assert!(
        daimond_log.contains("is not one of its processes; refusing"),
        "{daimond_log}"
    );
    let st = d.status_json("victim");
    assert_eq!(st["state"], "active", "{st}");
    assert_eq!(
        st["pid"], victim_pid,
        "the watchdog was not triggered: {st}"
    );
    assert_eq!(st["status_text"], "victim fine", "{st}");
    assert_eq!(st["errno"], serde_json::Value::Null, "{st}");
    assert_eq!(st["restarts"], 0, "{st}");
    assert!(pid_alive(victim_pid));
}
