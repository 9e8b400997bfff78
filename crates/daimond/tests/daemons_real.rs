//! Real daemons from the distribution, run by daimond with the unit files their
//! packages ship (from the repository's corpus of Debian unit files, `testdata/unit-corpus`),
//! adapted only where a path or a port must change to run in a temporary home:
//! nginx (Type=forking, PIDFile=, ExecStartPre=, ExecReload= with $MAINPID,
//! ExecStop=), memcached (simple), redis-server (Type=notify) and postgres
//! (Type=notify, KillMode=mixed, KillSignal=SIGINT).
//!
//! A test whose program is not installed fails with the command that installs
//! it: it never passes without running (`bash .ci/run` installs them all). Every
//! daemon gets a free loopback port, every wait is bounded, and every process is
//! ended by PID when the test ends (the harness's `Daemon` drop: daemons that
//! fork are re-parented to daimond, the subreaper, and so are still its
//! descendants).

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

/// Starting a real daemon (and initdb) takes longer than a test script.
const SLOW: Duration = Duration::from_secs(60);

/// A real daemon this test drives is missing. The test fails rather than passing
/// without running: `bash .ci/run` installs every daemon the suite needs.
fn missing(test: &str, what: &str, install: &str) -> ! {
    panic!(
        "{test}: {what}; install it with `{install}` (or run `bash .ci/run`, which installs every test dependency)"
    )
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A shipped unit file from the repository's corpus of Debian packages.
fn corpus(package: &str, file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/unit-corpus")
        .join(package)
        .join(file);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A loopback port nobody listens on (bound once, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Sends `request` to 127.0.0.1:`port` and reads until `done` says the answer
/// is complete or the peer closes; `None` when nothing answers.
fn exchange(port: u16, request: &[u8], done: impl Fn(&str) -> bool) -> Option<String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(request).ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if done(&String::from_utf8_lossy(&got)) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    (!got.is_empty()).then(|| String::from_utf8_lossy(&got).into_owned())
}

fn http_get(port: u16) -> Option<String> {
    exchange(port, b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n", |_| {
        false
    })
}

/// Replaces the whole line that starts with `key` (e.g. `ExecStart=`).
fn set_line(text: &str, key: &str, line: &str) -> String {
    let mut found = false;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(key) {
                found = true;
                line.to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(found, "no {key} line in the shipped unit");
    out.join("\n") + "\n"
}

/// Every process of the unit (main first), remembered for cleanup.
fn tasks(d: &mut Daemon, unit: &str) -> Vec<(u32, u64)> {
    let st = d.status_json(unit);
    let pids: Vec<u32> = st["tasks"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_u64())
                .map(|p| p as u32)
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for p in pids {
        d.remember(p);
        if let Some(t) = start_time(p) {
            out.push((p, t));
        }
    }
    out
}

fn wait_active(d: &mut Daemon, unit: &str) -> u32 {
    let mut pid = 0;
    wait_until(&format!("{unit} active with a main PID"), SLOW, || {
        let st = d.status_json(unit);
        match st["pid"].as_u64() {
            Some(p) if st["state"] == "active" => {
                pid = p as u32;
                true
            }
            _ => false,
        }
    });
    d.remember(pid);
    pid
}

/// SIGKILL of the main process: the unit must come back with another one.
fn killed_comes_back(d: &mut Daemon, unit: &str, old: u32) -> u32 {
    kill(old, libc::SIGKILL);
    let start = std::time::Instant::now();
    loop {
        d.record_descendants();
        let st = d.status_json(unit);
        if let Some(p) = st["pid"].as_u64()
            && st["state"] == "active"
            && p as u32 != old
        {
            d.remember(p as u32);
            return p as u32;
        }
        if start.elapsed() > SLOW {
            let logs = d.cli(&["logs", unit, "-n", "40"]);
            panic!(
                "{unit} not restarted after SIGKILL within {SLOW:?}: {st}\n{}",
                String::from_utf8_lossy(&logs.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `daimon stop` ends every process the unit had.
fn stops_clean(d: &mut Daemon, unit: &str) {
    let procs = tasks(d, unit);
    assert!(!procs.is_empty(), "{unit} has processes before stop");
    d.ok(&["stop", unit]);
    let st = d.status_json(unit);
    assert_eq!(st["state"], "inactive", "{unit} after stop: {st}");
    wait_until(&format!("every process of {unit} gone"), DEADLINE, || {
        procs
            .iter()
            .all(|(p, t)| !pid_alive(*p) || start_time(*p) != Some(*t))
    });
}

/// A directory in the test's home that a service user may enter.
fn open_dir(d: &Daemon, name: &str) -> PathBuf {
    // The home is 0700: let other users traverse it to reach their directory.
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o711)).expect("chmod home");
    let dir = d.path().join(name);
    fs::create_dir_all(&dir).expect("service dir");
    dir
}

fn chown(path: &Path, user: &str) {
    let out = run_bounded(
        std::process::Command::new("chown")
            .args(["-R", user])
            .arg(path),
        Duration::from_secs(10),
    );
    assert!(out.status.success(), "chown {user} {}", path.display());
}

fn nginx_conf(dir: &Path, port: u16, body: &str) -> String {
    let d = dir.display();
    // Worker processes as root can read the test's files (the home is 0700).
    let user = if is_root() { "user root;\n" } else { "" };
    format!(
        "{user}worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n\
           proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
           uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           server {{\n    listen 127.0.0.1:{port};\n\
             location / {{ return 200 \"{body}\\n\"; }}\n  }}\n}}\n"
    )
}

/// nginx under its shipped unit file, with our config and PID file.
struct Nginx {
    d: Daemon,
    dir: PathBuf,
    conf: PathBuf,
    pid_file: PathBuf,
    port: u16,
    master: u32,
}

/// Starts nginx (Type=forking, PIDFile=, ExecStartPre= `nginx -t`) and checks
/// that the PID file gives the main PID and that it answers; fails saying how to
/// install nginx when it is missing.
fn start_nginx(test: &str) -> Nginx {
    if !Path::new("/usr/sbin/nginx").exists() {
        missing(
            test,
            "/usr/sbin/nginx is not installed",
            "apt-get install nginx-light",
        );
    }
    let shipped = corpus("nginx-common", "nginx.service");
    let mut d = Daemon::start();
    let dir = d.path().join("nginx");
    fs::create_dir_all(&dir).expect("nginx dir");
    let port = free_port();
    let conf = dir.join("nginx.conf");
    fs::write(&conf, nginx_conf(&dir, port, "version-1")).expect("nginx.conf");
    let pid_file = dir.join("nginx.pid");
    let unit = shipped
        .replace(
            "/usr/sbin/nginx ",
            &format!("/usr/sbin/nginx -c {} ", conf.display()),
        )
        .replace("/run/nginx.pid", &pid_file.display().to_string());
    d.write_unit("nginx.service", &unit);
    d.write_unit(
        "nginx.service.d/restart.conf",
        "[Service]\nRestart=on-failure\nRestartSec=100ms\n",
    );
    d.ok(&["start", "nginx"]);
    let master = wait_active(&mut d, "nginx");
    let written = fs::read_to_string(&pid_file).expect("nginx wrote its PID file");
    assert_eq!(
        written.trim(),
        master.to_string(),
        "PIDFile= gives the main PID"
    );
    let page = http_get(port).expect("nginx answers HTTP");
    assert!(
        page.contains("200 OK") && page.contains("version-1"),
        "{page}"
    );
    Nginx {
        d,
        dir,
        conf,
        pid_file,
        port,
        master,
    }
}

impl Nginx {
    /// ExecReload= (with $MAINPID): the new configuration, the same master.
    fn reload(&mut self) {
        let body = nginx_conf(&self.dir, self.port, "version-2");
        fs::write(&self.conf, body).expect("nginx.conf");
        self.d.ok(&["reload", "nginx"]);
        let port = self.port;
        wait_until("nginx to serve the new configuration", SLOW, || {
            http_get(port).is_some_and(|p| p.contains("version-2"))
        });
        assert_eq!(self.d.status_json("nginx")["pid"], self.master);
    }

    /// kill -9 of the master: a new master, answering, in the PID file.
    fn killed_comes_back(&mut self, body: &str) {
        self.master = killed_comes_back(&mut self.d, "nginx", self.master);
        let port = self.port;
        wait_until("nginx to answer after its restart", SLOW, || {
            http_get(port).is_some_and(|p| p.contains(body))
        });
        assert_eq!(
            fs::read_to_string(&self.pid_file).expect("PID file").trim(),
            self.master.to_string()
        );
    }

    fn stops_clean(&mut self) {
        stops_clean(&mut self.d, "nginx");
        assert!(http_get(self.port).is_none(), "nothing listens after stop");
    }
}

#[test]
fn nginx_forking_with_pidfile_reload_and_stop() {
    let mut n = start_nginx("nginx reload");
    n.reload();
    n.stops_clean();
}

#[test]
fn nginx_master_killed_is_restarted_and_stops_clean() {
    let mut n = start_nginx("nginx kill -9");
    n.killed_comes_back("version-1");
    n.stops_clean();
}

/// The master killed right after a reload: every worker, old and new, is swept
/// with SIGKILL (KillMode=mixed) and a new master binds the port. Its workers
/// once outlived the sweep about one run in four under load (the master's own
/// session was missed when the PID file named it before its setsid()).
#[test]
fn nginx_master_killed_right_after_a_reload_is_restarted() {
    let mut n = start_nginx("nginx reload then kill -9");
    n.reload();
    n.killed_comes_back("version-2");
    n.stops_clean();
}

#[test]
fn memcached_simple_answers_restarts_and_stops() {
    const TEST: &str = "memcached";
    if !Path::new("/usr/bin/memcached").exists() {
        missing(
            TEST,
            "/usr/bin/memcached is not installed",
            "apt-get install memcached",
        );
    }
    let shipped = corpus("memcached", "memcached.service");
    let mut d = Daemon::start();
    let port = free_port();
    // The shipped unit runs a wrapper reading /etc/memcached.conf; the same
    // daemon with its options on the command line. memcached refuses to run as
    // root without -u.
    let user = if is_root() { " -u root" } else { "" };
    let pid_file = d.path().join("memcached.pid");
    let unit = set_line(
        &shipped,
        "ExecStart=",
        &format!("ExecStart=/usr/bin/memcached -l 127.0.0.1 -p {port} -U 0{user}"),
    )
    .replace(
        "/run/memcached/memcached.pid",
        &pid_file.display().to_string(),
    );
    d.write_unit("memcached.service", &unit);
    d.ok(&["start", "memcached"]);
    let pid = wait_active(&mut d, "memcached");
    let version = || exchange(port, b"version\r\n", |s| s.ends_with("\r\n"));
    wait_until("memcached to answer", SLOW, || {
        version().is_some_and(|v| v.starts_with("VERSION "))
    });
    killed_comes_back(&mut d, "memcached", pid);
    wait_until("memcached to answer after its restart", SLOW, || {
        version().is_some_and(|v| v.starts_with("VERSION "))
    });
    stops_clean(&mut d, "memcached");
    assert!(version().is_none(), "nothing listens after stop");
}

#[test]
fn redis_notify_answers_restarts_and_stops() {
    const TEST: &str = "redis-server";
    if !Path::new("/usr/bin/redis-server").exists() {
        missing(
            TEST,
            "/usr/bin/redis-server is not installed",
            "apt-get install redis-server",
        );
    }
    let shipped = corpus("redis-server", "redis-server.service");
    let as_redis = is_root() && user_exists("redis");
    let mut d = Daemon::start();
    let data = open_dir(&d, "redis");
    if as_redis {
        chown(&data, "redis:redis");
    }
    let port = free_port();
    let pid_file = data.join("redis-server.pid");
    let config = if Path::new("/etc/redis/redis.conf").exists() {
        "/etc/redis/redis.conf "
    } else {
        ""
    };
    // The shipped configuration, with our port, directory, PID file and logs to
    // stdout (the journal).
    let exec = format!(
        "ExecStart=/usr/bin/redis-server {config}--supervised systemd --daemonize no \
         --port {port} --bind 127.0.0.1 --dir {} --pidfile {} --logfile \"\"",
        data.display(),
        pid_file.display()
    );
    let mut unit = set_line(&shipped, "ExecStart=", &exec);
    unit = set_line(
        &unit,
        "PIDFile=",
        &format!("PIDFile={}", pid_file.display()),
    );
    unit = unit.replace("RestartSec=", "#RestartSec=");
    // LimitNOFILE=65535 needs CAP_SYS_RESOURCE above the hard limit we were given
    // (containers often lack it): the most this machine allows then.
    if let Some(hard) = nofile_hard().filter(|h| *h < 65535 && !can_raise_limits()) {
        unit = set_line(&unit, "LimitNOFILE=", &format!("LimitNOFILE={hard}"));
    }
    if !as_redis {
        unit = set_line(&unit, "User=", "#User=redis");
        unit = set_line(&unit, "Group=", "#Group=redis");
    }
    d.write_unit("redis-server.service", &unit);
    d.write_unit(
        "redis-server.service.d/fast-restart.conf",
        "[Service]\nRestartSec=100ms\n",
    );
    d.ok(&["start", "redis-server"]);
    let pid = wait_active(&mut d, "redis-server");
    let ping = || exchange(port, b"PING\r\n", |s| s.ends_with("\r\n"));
    // Type=notify: active means READY=1 came, so redis answers at once.
    assert_eq!(ping().as_deref(), Some("+PONG\r\n"));
    killed_comes_back(&mut d, "redis-server", pid);
    wait_until("redis to answer after its restart", SLOW, || {
        ping().as_deref() == Some("+PONG\r\n")
    });
    stops_clean(&mut d, "redis-server");
    assert!(ping().is_none(), "nothing listens after stop");
}

fn nofile_hard() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out-pointer.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some(lim.rlim_max)
}

/// CAP_SYS_RESOURCE (capability 24) in the effective set.
fn can_raise_limits() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << 24) != 0)
}

fn user_exists(name: &str) -> bool {
    fs::read_to_string("/etc/passwd")
        .is_ok_and(|p| p.lines().any(|l| l.split(':').next() == Some(name)))
}

/// The newest PostgreSQL server installed the Debian way.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

#[test]
fn postgres_notify_answers_restarts_and_stops() {
    const TEST: &str = "postgres";
    let Some(bin) = postgres_bin() else {
        missing(
            TEST,
            "no /usr/lib/postgresql/*/bin/postgres is installed",
            "apt-get install postgresql",
        );
    };
    if !is_root() || !user_exists("postgres") {
        missing(
            TEST,
            "this test runs postgres as User=postgres, which needs root and the postgres user",
            "sudo apt-get install postgresql, then run the test as root",
        );
    }
    let mut d = Daemon::start();
    let top = open_dir(&d, "pg");
    let data = top.join("data");
    chown(&top, "postgres:postgres");
    let initdb = run_bounded(
        std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .args(["-D"])
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust"]),
        SLOW,
    );
    assert!(
        initdb.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&initdb.stderr)
    );
    let port = free_port();
    // As Debian's postgresql@.service runs it, without pg_ctlcluster: the
    // postmaster itself, which speaks sd_notify.
    d.write_unit(
        "postgres.service",
        &format!(
            "[Unit]\nDescription=PostgreSQL\nAfter=network.target\n\
             [Service]\nType=notify\nUser=postgres\n\
             ExecStart={} -D {} -p {port} -k {} -c listen_addresses=127.0.0.1\n\
             ExecReload=/bin/kill -HUP $MAINPID\nKillMode=mixed\nKillSignal=SIGINT\n\
             TimeoutStopSec=30\nRestart=on-failure\nRestartSec=100ms\n\
             [Install]\nWantedBy=multi-user.target\n",
            bin.join("postgres").display(),
            data.display(),
            top.display()
        ),
    );
    d.ok(&["start", "postgres"]);
    let pid = wait_active(&mut d, "postgres");
    let ready = |bin: &Path| {
        let isready = bin.join("pg_isready");
        if !isready.exists() {
            return exchange(port, b"", |_| true).is_some()
                || TcpStream::connect(("127.0.0.1", port)).is_ok();
        }
        run_bounded(
            std::process::Command::new(isready).args(["-h", "127.0.0.1", "-p", &port.to_string()]),
            Duration::from_secs(10),
        )
        .status
        .success()
    };
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "postgres listens"
    );
    wait_until("pg_isready", SLOW, || ready(&bin));
    killed_comes_back(&mut d, "postgres", pid);
    wait_until("pg_isready after the restart", SLOW, || ready(&bin));
    stops_clean(&mut d, "postgres");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens after stop"
    );
}
