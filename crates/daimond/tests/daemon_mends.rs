//! daimond dying or failing at bad moments costs the user nothing: a CLI whose
//! daemon dies after accepting it starts a new one and asks again, and a daimond
//! that cannot start leaves no fd holder or socket behind and says why once.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// PIDs of live processes whose environment has `DAIMON_HOME=home` (from /proc).
fn processes_of_home(home: &Path) -> Vec<u32> {
    let want = format!("DAIMON_HOME={}", home.display());
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let env = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if pid_alive(pid) && env.split(|b| *b == 0).any(|kv| kv == want.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn a_daimond_that_cannot_start_leaves_nothing_behind_and_says_why_once() {
    let d = Daemon::home_only();
    // A file where the state directory should be.
    fs::write(d.path().join("state"), "").expect("a file in the way");

    let out = run_bounded(
        Command::new(bin("daimond"))
            .arg("--foreground")
            .env("DAIMON_HOME", d.path()),
        DEADLINE,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("state directory").count(),
        1,
        "the failure is printed once: {err}"
    );
    assert!(!err.contains("daimond: daimond:"), "{err}");

    let out = run_bounded(
        Command::new(bin("daimon"))
            .arg("status")
            .env("DAIMON_HOME", d.path()),
        DEADLINE,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("state directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = d.path().join("run");
    wait_until("no fd holder left for this home", DEADLINE, || {
        processes_of_home(d.path()).is_empty()
    });
    let left: Vec<_> = fs::read_dir(&run)
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in the runtime directory: {left:?}");
}

#[test]
fn the_cli_starts_a_new_daimond_when_its_daimond_dies_before_answering() {
    let mut d = Daemon::start();
    let old = d.daemon_pid().expect("daimond");
    // A daimond that accepted the connection (the kernel did, into its
    // backlog) and then dies without answering: stopped, then killed.
    kill(old, libc::SIGSTOP);
    let cli = Command::new(bin("daimon"))
        .arg("status")
        .env("DAIMON_HOME", d.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("daimon status");
    d.extra.push(cli.id());
    let cli_pid = cli.id();
    // It waits for the answer (asleep in a read on the socket).
    wait_until("the CLI waiting for daimond's answer", DEADLINE, || {
        let wchan = fs::read_to_string(format!("/proc/{cli_pid}/wchan")).unwrap_or_default();
        proc_state(cli_pid) == Some('S') && wchan.contains("unix_stream")
    });
    d.kill_daemon();
    let out = wait_output(cli);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("No units loaded"), "{table}");
    let new = d.daemon_pid().expect("a new daimond");
    assert_ne!(new, old);
    assert!(pid_alive(new));
}

fn wait_output(child: std::process::Child) -> std::process::Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(Ok(o)) => o,
        _ => {
            kill(pid, libc::SIGKILL);
            panic!("daimon status did not finish in time");
        }
    }
}

fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The fd holder among the processes descended from daimond (other than `not`).
fn fd_holder(d: &mut Daemon, not: Option<u32>) -> u32 {
    let mut found = 0;
    wait_until("an fd holder", DEADLINE, || {
        d.record_descendants();
        found = d
            .seen
            .keys()
            .copied()
            .find(|p| Some(*p) != not && pid_alive(*p) && comm(*p) == "daimond-fdstore")
            .unwrap_or(0);
        found != 0
    });
    found
}

#[test]
fn a_killed_fd_holder_is_replaced_at_once_and_services_survive_the_next_daimond_death() {
    let mut d = Daemon::start();
    let count = d.path().join("count");
    let script = d.script(
        "tick.sh",
        &format!(
            "i=0\nwhile :; do i=$((i+1)); echo \"n=$i\"; echo $i > {}; sleep 0.01; done",
            count.display()
        ),
    );
    d.write_unit(
        "tick.service",
        &format!("[Service]\nExecStart={}\n", script.display()),
    );
    d.ok(&["start", "tick"]);
    let pid = d.wait_main_pid("tick");
    let old = fd_holder(&mut d, None);
    kill(old, libc::SIGKILL);
    wait_until("the old fd holder gone", DEADLINE, || !pid_alive(old));
    let new = fd_holder(&mut d, Some(old));
    assert_ne!(new, old);

    // It is handed the service's pipes (the very pipes: same inodes) before
    // daimond says so.
    let said =
        format!("the fd holder daimond-fdstore (PID {old}) died; started a new one (PID {new})");
    wait_until("daimond to say it replaced the fd holder", DEADLINE, || {
        d.daemon_stderr().contains(&said)
    });
    let pipes: Vec<String> = fd_targets(pid)
        .into_iter()
        .filter(|(n, _)| *n == 1 || *n == 2)
        .map(|(_, t)| t)
        .collect();
    wait_until(
        "the new holder holding the service's pipes",
        DEADLINE,
        || {
            let held: Vec<String> = fd_targets(new).into_iter().map(|(_, t)| t).collect();
            pipes.iter().all(|p| held.contains(p))
        },
    );

    d.kill_daemon();
    // The service writes on while no daimond reads: the new holder keeps its
    // pipes open, so no SIGPIPE.
    let at = |c: &Path| -> u64 {
        fs::read_to_string(c)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    };
    let then = at(&count);
    wait_until("the service writing on without daimond", DEADLINE, || {
        at(&count) > then + 20
    });
    assert!(pid_alive(pid), "the service died of SIGPIPE");
    d.spawn_daemon();
    let st = d.status_json("tick");
    assert_eq!(st["pid"], pid, "{st}");
    assert_eq!(st["state"], "active", "{st}");
    let inv = st["last_run"]["invocation"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let numbers = |d: &mut Daemon| -> Vec<u64> {
        let out = d.cli(&["logs", "tick", "--invocation", &inv, "-o", "cat"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("n=")?.parse().ok())
            .collect()
    };
    let upto = numbers(&mut d).len() as u64;
    wait_until("lines after the new daimond", DEADLINE, || {
        numbers(&mut d).len() as u64 > upto.max(then + 20) + 10
    });
    let got = numbers(&mut d);
    assert_eq!(
        got,
        (1..=got.len() as u64).collect::<Vec<_>>(),
        "lines lost or doubled"
    );
}

/// The effective uid of the tests (from /proc).
fn euid() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(u32::MAX)
}

/// A runtime directory of `d`'s home made in advance (0700, as daimond wants it).
fn runtime_dir(d: &Daemon) -> std::path::PathBuf {
    let run = d.path().join("run");
    fs::create_dir_all(&run).expect("run dir");
    fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod");
    run
}

/// A user's daimond keeps its notification socket at `run/notify.sock`;
/// with something in the way, a Type=notify start fails at once, not after
/// TimeoutStartSec=. (As root the socket is abstract: see the next test.)
#[test]
fn without_a_notification_socket_a_notify_service_fails_at_once() {
    if euid() == 0 {
        return;
    }
    let mut d = Daemon::home_only();
    fs::create_dir_all(runtime_dir(&d).join("notify.sock/x")).expect("in the way");
    d.spawn_daemon();
    d.write_unit(
        "n.service",
        "[Service]\nType=notify\nExecStart=/bin/sleep 100\nTimeoutStartSec=90\n",
    );
    let start = std::time::Instant::now();
    let out = d.cli(&["start", "n"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        start.elapsed() < std::time::Duration::from_secs(30),
        "it waited for its timeout"
    );
    assert_eq!(d.status_json("n")["state"], "failed");
    assert!(
        d.daemon_stderr()
            .contains("cannot create the notification socket")
    );
}

/// A root daimond's abstract name taken by another daimond (another mount
/// namespace on the same network): it picks another, and Type=notify works.
#[test]
fn a_taken_abstract_notify_name_is_replaced_and_notify_services_start() {
    use std::os::linux::net::SocketAddrExt;
    if euid() != 0 {
        return;
    }
    let mut d = Daemon::home_only();
    let run = runtime_dir(&d);
    let token = "0123456789abcdef0123456789abcdef";
    fs::write(run.join("notify.name"), format!("{token}\n")).expect("name");
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(
        format!("daimon/notify/{token}").as_bytes(),
    )
    .expect("abstract name");
    let _squatter = std::os::unix::net::UnixDatagram::bind_addr(&addr).expect("take the name");
    d.spawn_daemon();
    let name = fs::read_to_string(run.join("notify.name")).expect("name");
    assert_ne!(
        name.trim(),
        token,
        "daimond kept a name another daimond holds"
    );
    let program = d.path().join("ready.py");
    fs::write(
        &program,
        "import os, socket, time\n\
         a = os.environ['NOTIFY_SOCKET']\n\
         a = '\\0' + a[1:] if a.startswith('@') else a\n\
         s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
         s.sendto(b'READY=1', a)\n\
         time.sleep(1000)\n",
    )
    .expect("program");
    d.write_unit(
        "n.service",
        &format!(
            "[Service]\nType=notify\nExecStart=/usr/bin/env python3 {}\nTimeoutStartSec=20\n",
            program.display()
        ),
    );
    d.ok(&["start", "n"]);
    let st = d.status_json("n");
    assert_eq!(st["state"], "active", "{st}");
    d.wait_main_pid("n");
}

/// When a new fd holder cannot be started, `status` says the holder is missing.
#[test]
fn status_says_when_the_fd_holder_is_missing() {
    let mut d = Daemon::start();
    d.write_unit("s.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    d.ok(&["start", "s"]);
    let table = d.ok(&["status"]);
    assert!(!table.contains("fd holder"), "{table}");
    let holder = fd_holder(&mut d, None);
    // A directory where the holder's socket goes: no new holder can listen there.
    let sock = d.path().join("run/fdstore.sock");
    fs::rename(&sock, d.path().join("run/fdstore.sock.moved")).expect("move the socket");
    fs::create_dir(&sock).expect("in the way");
    kill(holder, libc::SIGKILL);
    wait_until("daimond to fail starting a new holder", DEADLINE, || {
        d.daemon_stderr().contains("no new one starts")
    });
    let table = d.ok(&["status"]);
    assert!(
        table.contains("fd holder (daimond-fdstore) is not running"),
        "{table}"
    );
}
