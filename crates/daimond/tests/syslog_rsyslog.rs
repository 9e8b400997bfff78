//! Forwarding to a real rsyslog (Debian's package, started by this test on a
//! loopback port with a configuration of its own, writing what it receives to
//! a file): over TCP, rsyslog stopped mid-stream and started again, every
//! line arrives exactly once, in order. When rsyslogd is not installed the
//! test fails saying how to install it (`bash .ci/run` does).

mod common;

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::*;

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// One rsyslogd, ended by PID when dropped.
struct Rsyslog {
    child: Child,
}

impl Rsyslog {
    fn start(dir: &Path, port: u16) -> Rsyslog {
        let conf = dir.join("rsyslog.conf");
        fs::write(
            &conf,
            format!(
                "global(workDirectory=\"{dir}\")\n\
                 module(load=\"imtcp\")\n\
                 input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{port}\")\n\
                 template(name=\"line\" type=\"string\" string=\"%app-name% %syslogseverity% %msg%\\n\")\n\
                 action(type=\"omfile\" file=\"{dir}/received.log\" template=\"line\")\n",
                dir = dir.display()
            ),
        )
        .expect("rsyslog.conf");
        let child = Command::new(RSYSLOGD)
            .args(["-n", "-f"])
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd");
        wait_until("rsyslogd listening", DEADLINE, || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Rsyslog { child }
    }

    fn stop(mut self) {
        kill(self.child.id(), libc::SIGTERM);
        assert!(
            wait_child(&mut self.child, DEADLINE).is_some(),
            "rsyslogd stopped"
        );
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            kill(self.child.id(), libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

fn received(path: &PathBuf) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn rsyslog_receives_every_line_once_in_order_across_its_restart() {
    assert!(
        Path::new(RSYSLOGD).exists(),
        "{RSYSLOGD} is not installed: apt-get install rsyslog (bash .ci/run installs it)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let out = dir.path().join("received.log");
    let rsyslog = Rsyslog::start(dir.path(), port);

    let mut d = Daemon::home_only();
    fs::write(
        d.path().join("daimond.conf"),
        format!("[Forward]\nTarget=tcp://127.0.0.1:{port}\nUnit=syslog\n"),
    )
    .expect("daimond.conf");
    d.spawn_daemon();
    let sock = d.path().join("run/syslog.sock");
    wait_until("the syslog socket", DEADLINE, || sock.exists());
    let c = UnixDatagram::unbound().expect("socket");
    let send = |from: usize, to: usize| {
        for i in from..=to {
            c.send_to(format!("<11>app: m{i}").as_bytes(), &sock)
                .expect("send");
        }
    };
    let want = |n: usize| -> Vec<String> { (1..=n).map(|i| format!("app 3 m{i}")).collect() };

    send(1, 5);
    wait_until("m1..m5 at rsyslog", DEADLINE, || received(&out).len() >= 5);
    assert_eq!(received(&out), want(5));

    rsyslog.stop();
    send(6, 10);
    let rsyslog = Rsyslog::start(dir.path(), port);
    wait_until("m6..m10 at rsyslog", DEADLINE, || {
        received(&out).len() >= 10
    });
    assert_eq!(received(&out), want(10));
    rsyslog.stop();
}
