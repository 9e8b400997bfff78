//! Real programs behind a daimon socket unit, each finding daimond's socket
//! its own way: gunicorn (systemd's LISTEN_FDS, which it reads itself),
//! uvicorn (`--fd 3`), a Rust server through the `listenfd` crate, and, as
//! root, a `User=nobody` HTTP server on port 80 reached with curl. Each
//! serves on the descriptor daimond bound: the service's fd 3 is daimond's
//! socket, never one the service bound itself.
//!
//! gunicorn and uvicorn are Debian packages that .ci/run installs; a missing
//! one fails the test with the command that installs it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{DEADLINE, Daemon, wait_until};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Fails, saying how to install it, when `probe` does not run.
fn require(what: &str, probe: &[&str], package: &str) {
    let ok = Command::new(probe[0])
        .args(&probe[1..])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{what} is missing: install it with `apt-get install -y {package}` (.ci/run does)"
    );
}

/// `curl` the URL (bounded), returning the body.
fn curl(url: &str) -> String {
    let out = common::run_bounded(
        Command::new("curl").args(["-sS", "--max-time", "20", url]),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The service holds a socket daimond holds too: the one daimond bound
/// (gunicorn moves it from fd 3 to a descriptor of its own choosing).
fn assert_served_on_daimonds_socket(d: &Daemon, service_pid: u32) {
    let daemon = d.daemon_pid().expect("daimond runs");
    let held = common::fd_targets(daemon);
    let mine = common::fd_targets(service_pid);
    assert!(
        mine.iter()
            .any(|(_, t)| t.starts_with("socket:") && held.iter().any(|(_, h)| h == t)),
        "no descriptor of {service_pid} is daimond's socket: {mine:?}"
    );
}

/// `NAME.socket` on `listen` and `NAME.service` running `exec`.
fn units(d: &mut Daemon, name: &str, listen: &str, service: &str) {
    d.write_unit(
        &format!("{name}.socket"),
        &format!("[Socket]\nListenStream={listen}\n"),
    );
    d.write_unit(&format!("{name}.service"), &format!("[Service]\n{service}"));
    d.ok(&["daemon-reload"]);
    d.ok(&["start", &format!("{name}.socket")]);
    assert_eq!(
        d.status_json(&format!("{name}.service"))["state"],
        "inactive",
        "nothing runs before the first connection"
    );
}

#[test]
fn gunicorn_serves_on_daimonds_socket_through_listen_fds() {
    require("gunicorn", &["gunicorn", "--version"], "gunicorn");
    let mut d = Daemon::start();
    let app = d.path().join("app");
    std::fs::create_dir_all(&app).expect("app dir");
    std::fs::write(
        app.join("wsgi_app.py"),
        "import os\ndef app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [f'gunicorn worker {os.getpid()} of {os.getppid()}\\n'.encode()]\n",
    )
    .expect("write app");
    let port = free_port();
    units(
        &mut d,
        "wsgi",
        &format!("127.0.0.1:{port}"),
        &format!(
            "ExecStart=/usr/bin/gunicorn --workers 2 --chdir {} wsgi_app:app\n",
            app.display()
        ),
    );
    let body = curl(&format!("http://127.0.0.1:{port}/"));
    let master = d.wait_main_pid("wsgi.service");
    assert!(
        body.starts_with("gunicorn worker ") && body.trim_end().ends_with(&format!("of {master}")),
        "{body}"
    );
    assert_served_on_daimonds_socket(&d, master);
    // A restart keeps the socket: the new master serves on the same one.
    d.ok(&["restart", "wsgi.service"]);
    let again = curl(&format!("http://127.0.0.1:{port}/"));
    let new_master = d.wait_main_pid("wsgi.service");
    assert_ne!(new_master, master);
    assert!(again.starts_with("gunicorn worker "), "{again}");
    assert_served_on_daimonds_socket(&d, new_master);
}

#[test]
fn uvicorn_serves_on_daimonds_socket_with_fd_3() {
    require(
        "uvicorn",
        &["/usr/bin/python3", "-c", "import uvicorn"],
        "python3-uvicorn",
    );
    let mut d = Daemon::start();
    let app = d.path().join("app");
    std::fs::create_dir_all(&app).expect("app dir");
    std::fs::write(
        app.join("asgi_app.py"),
        "import os\nasync def app(scope, receive, send):\n    if scope['type'] != 'http':\n        return\n    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})\n    await send({'type': 'http.response.body', 'body': f'uvicorn {os.getpid()}\\n'.encode()})\n",
    )
    .expect("write app");
    let port = free_port();
    units(
        &mut d,
        "asgi",
        &format!("127.0.0.1:{port}"),
        &format!(
            "ExecStart=/usr/bin/python3 -m uvicorn --fd 3 --app-dir {} asgi_app:app\n",
            app.display()
        ),
    );
    let body = curl(&format!("http://127.0.0.1:{port}/"));
    let pid = d.wait_main_pid("asgi.service");
    assert_eq!(body.trim_end(), format!("uvicorn {pid}"));
    assert_served_on_daimonds_socket(&d, pid);
}

/// The Rust server of the next test: this test binary, started by daimond
/// with DAIMON_TEST_LISTENFD=1, takes fd 3 with the `listenfd` crate (which
/// checks LISTEN_PID and LISTEN_FDS) and answers each connection with a line.
#[test]
fn listenfd_server_role() {
    if std::env::var_os("DAIMON_TEST_LISTENFD").is_none() {
        return;
    }
    let mut fds = listenfd::ListenFd::from_env();
    let n = fds.len();
    let listener = fds
        .take_tcp_listener(0)
        .expect("fd 3 is a TCP listener")
        .expect("LISTEN_FDS passes fd 3");
    for conn in listener.incoming() {
        let Ok(mut c) = conn else { continue };
        let _ = writeln!(c, "listenfd fds={n} pid={}", std::process::id());
    }
}

#[test]
fn a_rust_server_takes_the_socket_with_the_listenfd_crate() {
    let mut d = Daemon::start();
    let me = std::env::current_exe().expect("test binary");
    let port = free_port();
    units(
        &mut d,
        "rusty",
        &format!("127.0.0.1:{port}"),
        &format!(
            "Environment=DAIMON_TEST_LISTENFD=1\nExecStart={} listenfd_server_role --exact --nocapture\n",
            me.display()
        ),
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let _ = s.write_all(b"hi\n");
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).expect("a line");
    let pid = d.wait_main_pid("rusty.service");
    assert_eq!(line.trim_end(), format!("listenfd fds=1 pid={pid}"));
    assert_served_on_daimonds_socket(&d, pid);
}

/// An HTTP server on an inherited socket (fd 3), reporting who it runs as.
const HTTP_ON_FD3: &str = r#"
import http.server, os, socket
class Who(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"uid={os.getuid()} pid={os.getpid()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
srv = http.server.HTTPServer(("127.0.0.1", 80), Who, bind_and_activate=False)
srv.socket = socket.socket(fileno=3)
srv.serve_forever()
"#;

/// Holds an exclusive lock on a file for the life of the value: the tests
/// that need port 80 itself (several test processes may run at once) take
/// turns, each waiting a bounded time.
struct Port80Turn(#[allow(dead_code)] std::fs::File);

impl Port80Turn {
    fn take() -> Port80Turn {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::create(std::env::temp_dir().join("daimon-test-port-80.lock"))
            .expect("lock file");
        wait_until("port 80's turn", Duration::from_secs(120), || {
            // SAFETY: flock on a descriptor this File owns.
            unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
        });
        Port80Turn(f)
    }
}

/// Privilege separation as the issue states it (CI runs as root): daimond
/// binds port 80 and a `User=nobody` service, which could never bind it,
/// answers `curl http://127.0.0.1/`.
#[test]
fn curl_reaches_a_nobody_service_on_port_80() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not run: binding port 80 needs root (CI runs as root)");
        return;
    }
    let _turn = Port80Turn::take();
    assert!(
        std::net::TcpListener::bind("127.0.0.1:80").is_ok(),
        "port 80 on 127.0.0.1 is in use by another program: stop it to run this test"
    );
    let mut d = Daemon::start();
    // A directory nobody can read the server from.
    let dir = tempfile::Builder::new()
        .prefix("daimon-port80-")
        .tempdir()
        .expect("tempdir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let prog = dir.path().join("who.py");
    std::fs::write(&prog, HTTP_ON_FD3).expect("write server");
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert!(
        Path::new("/usr/bin/python3").exists(),
        "needs /usr/bin/python3"
    );
    units(
        &mut d,
        "who",
        "127.0.0.1:80",
        &format!(
            "User=nobody\nWorkingDirectory=/\nExecStart=/usr/bin/python3 {}\n",
            prog.display()
        ),
    );
    let body = curl("http://127.0.0.1/");
    let pid = d.wait_main_pid("who.service");
    assert_eq!(body.trim_end(), format!("uid=65534 pid={pid}"));
    // It never held the port itself: fd 3 is daimond's socket, and it has no
    // capability that would let it bind below 1024.
    assert_served_on_daimonds_socket(&d, pid);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let cap_eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(str::trim);
    assert_eq!(cap_eff, Some("0000000000000000"), "{status}");
    d.ok(&["stop", "who.socket", "who.service"]);
    wait_until("port 80 released", DEADLINE, || {
        std::net::TcpListener::bind("127.0.0.1:80").is_ok()
    });
}
