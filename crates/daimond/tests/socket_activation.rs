//! Socket units as a user sees them: daimond binds when the socket starts, the
//! first connection starts the service, which finds its descriptors with
//! systemd's protocol (fds from 3, LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES);
//! connections made while the service restarts wait instead of being refused.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::{DEADLINE, Daemon, wait_until};

/// The python3 interpreter itself (PATH may hold a wrapper that needs more
/// environment than a service has).
fn python() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is installed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A server that takes every socket it is passed and answers each connection
/// on a stream socket with one line describing what it got. Like any server
/// meant for graceful restarts, SIGTERM lets the connection in hand finish.
const SERVER: &str = r#"
import os, selectors, signal, socket, sys
busy, stop = False, False
def term(*_):
    global stop
    if not busy:
        sys.exit(0)
    stop = True
signal.signal(signal.SIGTERM, term)
n = int(os.environ.get("LISTEN_FDS", "0"))
pid_ok = os.environ.get("LISTEN_PID") == str(os.getpid())
names = os.environ.get("LISTEN_FDNAMES", "")
sel = selectors.DefaultSelector()
kinds = []
for fd in range(3, 3 + n):
    s = socket.socket(fileno=fd)
    s.setblocking(True)
    kinds.append({socket.SOCK_STREAM: "stream", socket.SOCK_DGRAM: "datagram"}.get(s.type, "other"))
    if s.type == socket.SOCK_STREAM:
        sel.register(s, selectors.EVENT_READ)
line = f"fds={n} pid_ok={pid_ok} names={names} kinds={','.join(kinds)} pid={os.getpid()}\n"
while True:
    for key, _ in sel.select():
        busy = True
        c, _ = key.fileobj.accept()
        c.recv(64)
        c.sendall(line.encode())
        c.close()
        busy = False
        if stop:
            sys.exit(0)
"#;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

fn ask(port: u16) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let _ = s.write_all(b"hi\n");
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    Ok(line)
}

/// `web.socket` on a free loopback port (plus `extra` lines) and `web.service`.
fn web(d: &mut Daemon, extra: &str) -> u16 {
    let port = free_port();
    let prog = d.path().join("server.py");
    std::fs::write(&prog, SERVER).expect("write server");
    d.write_unit(
        "web.socket",
        &format!("[Socket]\nListenStream=127.0.0.1:{port}\n{extra}"),
    );
    d.write_unit(
        "web.service",
        &format!("[Service]\nExecStart={} {}\n", python(), prog.display()),
    );
    d.ok(&["daemon-reload"]);
    port
}

#[test]
fn the_first_connection_starts_the_service_with_the_socket_as_fd_3() {
    let mut d = Daemon::start();
    let sock_path = d.path().join("run/web.sock");
    let port = web(
        &mut d,
        &format!(
            "ListenStream={}\nFileDescriptorName=http\nSocketMode=0600\nRemoveOnStop=yes\n",
            sock_path.display()
        ),
    );
    // Before any start nothing listens.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    d.ok(&["start", "web.socket"]);
    let st = d.status_json("web.socket");
    assert_eq!(st["state"], "active", "{st}");
    assert_eq!(st["sub_state"], "listening", "{st}");
    assert_eq!(d.status_json("web.service")["state"], "inactive");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&sock_path)
        .expect("socket file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "SocketMode=");

    let line = ask(port).expect("the first connection is answered");
    assert!(
        line.starts_with("fds=2 pid_ok=True names=http:http kinds=stream,stream pid="),
        "{line}"
    );
    let pid = d.wait_main_pid("web.service");
    assert!(line.trim_end().ends_with(&format!("pid={pid}")), "{line}");
    assert_eq!(d.status_json("web.socket")["sub_state"], "running");
    // The Unix listener is the same service.
    let mut u = std::os::unix::net::UnixStream::connect(&sock_path).expect("unix connect");
    let mut l2 = String::new();
    u.set_read_timeout(Some(DEADLINE)).expect("timeout");
    u.write_all(b"hi\n").expect("unix write");
    BufReader::new(&mut u)
        .read_line(&mut l2)
        .expect("unix answer");
    assert_eq!(l2, line);

    // Stopping the socket leaves the running service alone (it has its copy).
    d.ok(&["stop", "web.socket"]);
    assert_eq!(d.status_json("web.socket")["state"], "inactive");
    assert!(!sock_path.exists(), "RemoveOnStop= removed the socket file");
    assert_eq!(d.status_json("web.service")["pid"], pid);
    assert!(ask(port).is_ok(), "the service still serves");
    // Once the service stops too, nothing listens.
    d.ok(&["stop", "web.service"]);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn the_socket_is_watched_again_after_the_service_stops() {
    let mut d = Daemon::start();
    let port = web(&mut d, "");
    d.ok(&["start", "web.socket"]);
    let first = ask(port).expect("first answer");
    let pid = d.wait_main_pid("web.service");
    d.ok(&["stop", "web.service"]);
    wait_until("the socket listening again", DEADLINE, || {
        d.status_json("web.socket")["sub_state"] == "listening"
    });
    let second = ask(port).expect("a connection starts it again");
    let pid2 = d.wait_main_pid("web.service");
    assert_ne!(pid, pid2);
    assert_ne!(first, second);
    assert!(second.contains("names=web.socket"), "{second}");
}

#[test]
fn starting_the_service_directly_starts_its_socket_and_passes_it() {
    let mut d = Daemon::start();
    let port = web(&mut d, "");
    d.ok(&["start", "web.service"]);
    d.wait_main_pid("web.service");
    assert_eq!(d.status_json("web.socket")["sub_state"], "running");
    let line = ask(port).expect("answer");
    assert!(line.starts_with("fds=1 pid_ok=True"), "{line}");
}

#[test]
fn connections_during_restarts_wait_instead_of_being_refused() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    let mut d = Daemon::start();
    let port = web(&mut d, "");
    d.ok(&["start", "web.socket"]);
    ask(port).expect("first answer");
    d.wait_main_pid("web.service");
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU32::new(0));
    let (flag, count) = (stop.clone(), answered.clone());
    let client = std::thread::spawn(move || {
        let mut failed = Vec::new();
        let mut slowest = Duration::ZERO;
        while !flag.load(Ordering::Relaxed) {
            let t = std::time::Instant::now();
            match ask(port) {
                Ok(l) if l.starts_with("fds=1") => {
                    count.fetch_add(1, Ordering::Relaxed);
                }
                Ok(l) => failed.push(format!("odd answer {l:?}")),
                Err(e) => failed.push(e.to_string()),
            }
            slowest = slowest.max(t.elapsed());
        }
        (failed, slowest)
    });
    let mut pids = std::collections::BTreeSet::new();
    const RESTARTS: usize = 20;
    for _ in 0..RESTARTS {
        d.ok(&["restart", "web.service"]);
        // Connections made while the new process starts, and answered by it.
        let seen = answered.load(Ordering::Relaxed);
        wait_until("answers after a restart", DEADLINE, || {
            answered.load(Ordering::Relaxed) >= seen + 3
        });
        pids.insert(d.wait_main_pid("web.service"));
    }
    stop.store(true, Ordering::Relaxed);
    let (failed, slowest) = client.join().expect("client thread");
    let ok = answered.load(Ordering::Relaxed);
    eprintln!(
        "{ok} connections over {RESTARTS} restarts, {} failed, slowest {slowest:?}",
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "{} failed of {}: {failed:?}",
        failed.len(),
        ok
    );
    assert_eq!(pids.len(), RESTARTS, "each restart is a new process");
}

#[test]
fn a_port_in_use_fails_the_start_with_the_reason() {
    let mut d = Daemon::start();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    d.write_unit(
        "busy.socket",
        &format!("[Socket]\nListenStream=127.0.0.1:{port}\n"),
    );
    d.write_unit("busy.service", "[Service]\nExecStart=/bin/true\n");
    d.ok(&["daemon-reload"]);
    let out = d.cli(&["start", "busy.socket"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on stream 127.0.0.1:{port}"))
            && err.contains("in use"),
        "{err}"
    );
    let st = d.status_json("busy.socket");
    assert_eq!(st["state"], "failed", "{st}");
    assert_eq!(st["result"], "resources", "{st}");
}

#[test]
fn run_listen_binds_before_the_command_and_passes_every_socket() {
    let mut d = Daemon::start();
    let port = free_port();
    let prog = d.path().join("server.py");
    std::fs::write(&prog, SERVER).expect("write server");
    let port_s = port.to_string();
    let py = python();
    let prog_s = prog.to_string_lossy().into_owned();
    let sock = d.path().join("app.sock");
    let sock_s = sock.to_string_lossy().into_owned();
    d.ok(&[
        "run", "--name", "app", "--listen", &port_s, "--listen", &sock_s, "--", &py, &prog_s,
    ]);
    let line = ask(port).expect("answer");
    assert!(
        line.starts_with("fds=2 pid_ok=True names=app.socket:app.socket kinds=stream,stream"),
        "{line}"
    );
    assert_eq!(d.status_json("app.socket")["state"], "active");
    // The same port again, under another name: refused with the reason.
    let out = d.cli(&[
        "run", "--name", "other", "--listen", &port_s, "--", &py, &prog_s,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on stream {port}")),
        "{err}"
    );
    assert_eq!(d.status_json("other.service")["state"], "inactive");
}

/// Privilege separation (as root only): daimond binds a port below 1024 and
/// a `User=nobody` service serves on it, which it could never bind itself.
#[test]
fn root_binds_a_privileged_port_for_an_unprivileged_service() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to bind a port below 1024");
        return;
    }
    let python = std::path::Path::new("/usr/bin/python3");
    if !python.exists() {
        eprintln!("skipped: needs /usr/bin/python3 (a python nobody can run)");
        return;
    }
    let Some(port) = (600..1000).find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
    else {
        eprintln!("skipped: no free port below 1024");
        return;
    };
    let mut d = Daemon::start();
    // A directory nobody can read the server from.
    let dir = tempfile::Builder::new()
        .prefix("daimon-priv-")
        .tempdir()
        .expect("tempdir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let prog = dir.path().join("server.py");
    std::fs::write(&prog, SERVER).expect("write server");
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    d.write_unit(
        "priv.socket",
        &format!("[Socket]\nListenStream=127.0.0.1:{port}\n"),
    );
    d.write_unit(
        "priv.service",
        &format!(
            "[Service]\nUser=nobody\nWorkingDirectory=/\nExecStart={} {}\n",
            python.display(),
            prog.display()
        ),
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "priv.socket"]);
    let line = ask(port).expect("the unprivileged service answers on the privileged port");
    assert!(line.starts_with("fds=1 pid_ok=True"), "{line}");
    let pid = d.wait_main_pid("priv.service");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next().map(str::to_string));
    assert_eq!(uid.as_deref(), Some("65534"), "the service runs as nobody");
}

/// An inetd-style service: the connection is its standard input and output.
const ECHO: &str = r#"
import os, sys
line = sys.stdin.readline().strip()
sys.stdout.write(f"{line} fds={os.environ.get('LISTEN_FDS')} names={os.environ.get('LISTEN_FDNAMES')} remote={os.environ.get('REMOTE_ADDR')} pid={os.getpid()}\n")
sys.stdout.flush()
"#;

/// Instances of echo@.service that `list` shows (not the template itself).
fn instances(d: &mut Daemon) -> usize {
    d.ok(&["list"])
        .lines()
        .filter(|l| l.contains("echo@") && !l.contains("echo@.service"))
        .count()
}

fn say(s: &mut TcpStream, text: &str) -> String {
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s.write_all(format!("{text}\n").as_bytes()).expect("write");
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).expect("answer");
    line
}

#[test]
fn accept_yes_starts_one_instance_per_connection_up_to_max_connections() {
    let mut d = Daemon::start();
    let port = free_port();
    let prog = d.path().join("echo.py");
    std::fs::write(&prog, ECHO).expect("write echo");
    d.write_unit(
        "echo.socket",
        &format!("[Socket]\nListenStream=127.0.0.1:{port}\nAccept=yes\nMaxConnections=2\n"),
    );
    d.write_unit(
        "echo@.service",
        &format!(
            "[Service]\nStandardInput=socket\nExecStart={} {}\n",
            python(),
            prog.display()
        ),
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "echo.socket"]);
    let mut a = TcpStream::connect(("127.0.0.1", port)).expect("connect a");
    let mut b = TcpStream::connect(("127.0.0.1", port)).expect("connect b");
    // Two instances wait for their line; a third connection is over the limit.
    wait_until("two instances", DEADLINE, || instances(&mut d) == 2);
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect c");
    c.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut rest = Vec::new();
    let closed = std::io::Read::read_to_end(&mut c, &mut rest);
    assert!(
        closed.is_err() || rest.is_empty(),
        "the third connection is closed unanswered: {rest:?}"
    );
    let la = say(&mut a, "hello");
    let lb = say(&mut b, "world");
    assert!(
        la.starts_with("hello fds=1 names=connection remote=127.0.0.1 pid="),
        "{la}"
    );
    assert!(lb.starts_with("world fds=1"), "{lb}");
    assert_ne!(
        la.rsplit('=').next(),
        lb.rsplit('=').next(),
        "two processes"
    );
    // Ended instances are forgotten; the socket goes on listening.
    wait_until("the instances forgotten", DEADLINE, || {
        instances(&mut d) == 0
    });
    let mut e = TcpStream::connect(("127.0.0.1", port)).expect("connect again");
    assert!(say(&mut e, "again").starts_with("again fds=1"));
    assert_eq!(d.status_json("echo.socket")["sub_state"], "listening");
}

#[test]
fn a_killed_daimond_takes_the_listeners_back_from_the_running_service() {
    let mut d = Daemon::start();
    let port = web(&mut d, "");
    d.ok(&["start", "web.socket"]);
    ask(port).expect("first answer");
    let pid = d.wait_main_pid("web.service");
    d.kill_daemon();
    // The service still holds the socket: nobody is refused meanwhile.
    ask(port).expect("answered while no daimond runs");
    d.spawn_daemon();
    let st = d.status_json("web.socket");
    assert_eq!(st["sub_state"], "running", "{st}");
    assert_eq!(
        d.status_json("web.service")["pid"],
        pid,
        "adopted, not restarted"
    );
    // Its listener is daimond's again: after the service stops, a connection
    // starts it anew with the same socket.
    d.ok(&["stop", "web.service"]);
    wait_until("the socket listening again", DEADLINE, || {
        d.status_json("web.socket")["sub_state"] == "listening"
    });
    let line = ask(port).expect("a connection starts the service again");
    assert!(line.starts_with("fds=1 pid_ok=True"), "{line}");
    assert_ne!(d.wait_main_pid("web.service"), pid);
}

#[test]
fn a_started_socket_listens_again_after_daimond_was_killed() {
    let mut d = Daemon::start();
    let port = web(&mut d, "");
    d.ok(&["start", "web.socket"]);
    d.kill_daemon();
    d.spawn_daemon();
    assert_eq!(d.status_json("web.socket")["sub_state"], "listening");
    let line = ask(port).expect("answer");
    assert!(line.starts_with("fds=1 pid_ok=True"), "{line}");
    // A stopped socket stays stopped.
    d.ok(&["stop", "web.socket"]);
    d.ok(&["stop", "web.service"]);
    d.kill_daemon();
    d.spawn_daemon();
    assert_eq!(d.status_json("web.socket")["state"], "inactive");
}
