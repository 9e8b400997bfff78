//! Forwarding to a real rsyslog (Debian's package, started by this test on a
//! loopback port with a configuration of its own, writing what it receives to
//! a file): over TCP, and over TLS with a test CA and a client certificate
//! (rsyslog's ossl driver), rsyslog stopped mid-stream and started again,
//! every line arrives exactly once, in order; a server whose certificate the
//! configured CA did not sign gets nothing. The certificates are made at test
//! time with the openssl command. When rsyslogd, its ossl driver or openssl
//! is not installed the test fails saying how to install it (`bash .ci/run`
//! does).

mod common;

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::*;

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// How rsyslog listens: plain TCP, or TLS with a certificate and key, the CA
/// it checks clients against, and its `StreamDriver.AuthMode` ("anon": any
/// client; "x509/certvalid": a client certificate the CA signed).
enum Listen<'a> {
    Tcp,
    Tls {
        ca: &'a Path,
        cert: &'a Path,
        key: &'a Path,
        auth: &'a str,
    },
}

/// One rsyslogd, ended by PID when dropped.
struct Rsyslog {
    child: Child,
}

impl Rsyslog {
    /// rsyslogd on 127.0.0.1:`port`, once it accepts connections. An
    /// rsyslogd that cannot bind the port (any socket may have taken it since
    /// it was found free, even as the local port of a connection elsewhere)
    /// goes on without listening: that is an `Err` with what it said.
    fn start(dir: &Path, port: u16, listen: &Listen) -> Result<Rsyslog, String> {
        let conf = dir.join("rsyslog.conf");
        let (global, module) = match listen {
            Listen::Tcp => (String::new(), String::new()),
            Listen::Tls {
                ca,
                cert,
                key,
                auth,
            } => (
                format!(
                    " DefaultNetstreamDriver=\"ossl\" DefaultNetstreamDriverCAFile=\"{}\" \
                     DefaultNetstreamDriverCertFile=\"{}\" DefaultNetstreamDriverKeyFile=\"{}\"",
                    ca.display(),
                    cert.display(),
                    key.display()
                ),
                format!(
                    " StreamDriver.Name=\"ossl\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"{auth}\""
                ),
            ),
        };
        fs::write(
            &conf,
            format!(
                "global(workDirectory=\"{dir}\"{global})\n\
                 module(load=\"imtcp\"{module})\n\
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
            .stderr(fs::File::create(dir.join("rsyslogd.stderr")).expect("stderr file"))
            .spawn()
            .expect("start rsyslogd");
        let mut rsyslog = Rsyslog { child };
        let start = std::time::Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let said = fs::read_to_string(dir.join("rsyslogd.stderr")).unwrap_or_default();
            if said.contains("Could not create tcp listener") {
                return Err(said);
            }
            let exited = rsyslog.child.try_wait().ok().flatten();
            assert!(
                start.elapsed() < DEADLINE && exited.is_none(),
                "rsyslogd not listening on port {port} after {:?} (exit: {exited:?}); its stderr: {said}",
                start.elapsed(),
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Ok(rsyslog)
    }

    /// rsyslogd on a free loopback port: another if the one found is taken.
    fn start_on_a_free_port(dir: &Path, listen: &Listen) -> (Rsyslog, u16) {
        let mut said = String::new();
        for _ in 0..5 {
            let port = free_port();
            match Rsyslog::start(dir, port, listen) {
                Ok(r) => return (r, port),
                Err(e) => said = e,
            }
        }
        panic!("rsyslogd found no free port in 5 tries: {said}");
    }

    /// rsyslogd again on the port it had.
    fn restart(dir: &Path, port: u16, listen: &Listen) -> Rsyslog {
        Rsyslog::start(dir, port, listen)
            .unwrap_or_else(|e| panic!("rsyslogd cannot listen on port {port} again: {e}"))
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

fn installed() {
    assert!(
        Path::new(RSYSLOGD).exists(),
        "{RSYSLOGD} is not installed: apt-get install rsyslog (bash .ci/run installs it)"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A daimond whose daimond.conf is `conf`, and a sender of syslog lines
/// `<11>app: mI` for I in a range (unit `syslog`, priority err).
fn forwarding(conf: &str) -> (Daemon, impl Fn(usize, usize) + use<>) {
    let mut d = Daemon::home_only();
    fs::write(d.path().join("daimond.conf"), conf).expect("daimond.conf");
    d.spawn_daemon();
    let sock = d.path().join("run/syslog.sock");
    wait_until("the syslog socket", DEADLINE, || sock.exists());
    let c = UnixDatagram::unbound().expect("socket");
    let send = move |from: usize, to: usize| {
        for i in from..=to {
            c.send_to(format!("<11>app: m{i}").as_bytes(), &sock)
                .expect("send");
        }
    };
    (d, send)
}

/// m1..m5 reach rsyslog; it stops, m6..m10 are logged, it starts again on
/// the same port: it has m1..m10, each once, in order.
fn every_line_once_in_order_across_a_restart(
    dir: &Path,
    listen: &Listen,
    conf: impl Fn(u16) -> String,
) {
    let out = dir.join("received.log");
    let (rsyslog, port) = Rsyslog::start_on_a_free_port(dir, listen);
    let (_d, send) = forwarding(&conf(port));
    let want = |n: usize| -> Vec<String> { (1..=n).map(|i| format!("app 3 m{i}")).collect() };

    send(1, 5);
    wait_until("m1..m5 at rsyslog", DEADLINE, || received(&out).len() >= 5);
    assert_eq!(received(&out), want(5));

    rsyslog.stop();
    send(6, 10);
    let rsyslog = Rsyslog::restart(dir, port, listen);
    wait_until("m6..m10 at rsyslog", DEADLINE, || {
        received(&out).len() >= 10
    });
    assert_eq!(received(&out), want(10));
    rsyslog.stop();
}

#[test]
fn rsyslog_receives_every_line_once_in_order_across_its_restart() {
    installed();
    let dir = tempfile::tempdir().expect("tempdir");
    every_line_once_in_order_across_a_restart(dir.path(), &Listen::Tcp, |port| {
        format!("[Forward]\nTarget=tcp://127.0.0.1:{port}\nUnit=syslog\n")
    });
}

/// rsyslog's OpenSSL driver, where Debian's rsyslog-openssl puts it. Not
/// the GnuTLS one (rsyslog-gnutls): it makes new 2048-bit Diffie-Hellman
/// parameters at each start (runtime/nsd_gtls.c), 0.2 s to over 10 s on a
/// loaded machine, where this one starts in milliseconds.
fn tls_installed() {
    installed();
    let ossl = fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.path().join("rsyslog/lmnsd_ossl.so").exists())
        || Path::new("/usr/lib/rsyslog/lmnsd_ossl.so").exists();
    assert!(
        ossl,
        "rsyslog's ossl driver is not installed: apt-get install rsyslog-openssl (bash .ci/run installs it)"
    );
    assert!(
        Command::new("openssl")
            .arg("version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
        "openssl is not installed: apt-get install openssl (bash .ci/run installs it)"
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = run_bounded(
        Command::new("openssl").current_dir(dir).args(args),
        DEADLINE,
    );
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA (ECDSA P-256, valid two days) in `dir`: NAME-ca.pem, NAME-ca.key.
struct Ca<'a> {
    dir: &'a Path,
    name: &'a str,
}

impl<'a> Ca<'a> {
    fn new(dir: &'a Path, name: &'a str) -> Ca<'a> {
        let (key, cert) = (format!("{name}-ca.key"), format!("{name}-ca.pem"));
        let subj = format!("/CN={name} test CA");
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &cert,
                "-days",
                "2",
                "-subj",
                &subj,
            ],
        );
        Ca { dir, name }
    }

    fn cert(&self) -> PathBuf {
        self.dir.join(format!("{}-ca.pem", self.name))
    }

    /// A certificate for `who` that this CA signs, with the extensions
    /// `ext` (openssl's syntax, one a line): (certificate, key).
    fn issue(&self, who: &str, ext: &str) -> (PathBuf, PathBuf) {
        let (key, csr, cert, extfile) = (
            format!("{who}.key"),
            format!("{who}.csr"),
            format!("{who}.pem"),
            format!("{who}.ext"),
        );
        fs::write(self.dir.join(&extfile), ext).expect("extensions");
        let subj = format!("/CN={who}");
        openssl(
            self.dir,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &subj,
            ],
        );
        let (ca_cert, ca_key) = (
            format!("{}-ca.pem", self.name),
            format!("{}-ca.key", self.name),
        );
        openssl(
            self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_cert,
                "-CAkey",
                &ca_key,
                "-set_serial",
                "2",
                "-days",
                "2",
                "-extfile",
                &extfile,
                "-out",
                &cert,
            ],
        );
        (self.dir.join(cert), self.dir.join(key))
    }
}

/// What a syslog server's certificate carries (RFC 5425 section 5.2: the
/// client checks the name it connects to, here the loopback address).
const SERVER_EXT: &str = "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n";

#[test]
fn rsyslog_over_tls_with_a_client_certificate_receives_every_line_once_in_order_across_its_restart()
{
    tls_installed();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new(dir.path(), "test");
    let (server, server_key) = ca.issue("server", SERVER_EXT);
    let (client, client_key) = ca.issue("client", "extendedKeyUsage=clientAuth\n");
    // rsyslog takes only clients whose certificate the CA signed.
    let listen = Listen::Tls {
        ca: &ca.cert(),
        cert: &server,
        key: &server_key,
        auth: "x509/certvalid",
    };
    every_line_once_in_order_across_a_restart(dir.path(), &listen, |port| {
        format!(
            "[Forward]\nTarget=tls://127.0.0.1:{port}\nUnit=syslog\nTLSCAFile={}\nTLSCertFile={}\nTLSKeyFile={}\n",
            ca.cert().display(),
            client.display(),
            client_key.display()
        )
    });
}

#[test]
fn a_server_whose_certificate_the_ca_did_not_sign_gets_nothing() {
    tls_installed();
    let dir = tempfile::tempdir().expect("tempdir");
    let trusted = Ca::new(dir.path(), "trusted");
    let other = Ca::new(dir.path(), "other");
    let (server, server_key) = other.issue("server", SERVER_EXT);
    let listen = Listen::Tls {
        ca: &other.cert(),
        cert: &server,
        key: &server_key,
        auth: "anon",
    };
    let (rsyslog, port) = Rsyslog::start_on_a_free_port(dir.path(), &listen);
    let (mut d, send) = forwarding(&format!(
        "[Forward]\nTarget=tls://127.0.0.1:{port}\nUnit=syslog\nTLSCAFile={}\n",
        trusted.cert().display()
    ));
    send(1, 3);
    let mut logs = String::new();
    wait_until("the refusal in daimond's log", DEADLINE, || {
        logs = d.ok(&["logs", "-u", "daimond"]);
        logs.contains("invalid peer certificate")
    });
    let line = logs
        .lines()
        .find(|l| l.contains("invalid peer certificate"))
        .unwrap_or_default();
    assert!(
        line.contains(&format!("forwarding to tls://127.0.0.1:{port} failed: TLS handshake failed: invalid peer certificate: UnknownIssuer"))
            && line.contains(&format!("TLSCAFile={}", trusted.cert().display())),
        "{line}"
    );
    assert_eq!(
        received(&dir.path().join("received.log")),
        Vec::<String>::new()
    );
    rsyslog.stop();
}

#[test]
fn a_server_that_requires_a_client_certificate_gets_the_waiting_lines_once_one_is_set() {
    tls_installed();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new(dir.path(), "test");
    let (server, server_key) = ca.issue("server", SERVER_EXT);
    let (client, client_key) = ca.issue("client", "extendedKeyUsage=clientAuth\n");
    let listen = Listen::Tls {
        ca: &ca.cert(),
        cert: &server,
        key: &server_key,
        auth: "x509/certvalid",
    };
    let out = dir.path().join("received.log");
    let (rsyslog, port) = Rsyslog::start_on_a_free_port(dir.path(), &listen);
    let conf = format!(
        "[Forward]\nTarget=tls://127.0.0.1:{port}\nUnit=syslog\nTLSCAFile={}\n",
        ca.cert().display()
    );
    let (mut d, send) = forwarding(&conf);
    send(1, 3);
    let mut logs = String::new();
    wait_until("the refusal in daimond's log", DEADLINE, || {
        logs = d.ok(&["logs", "-u", "daimond"]);
        logs.contains("refused the connection")
    });
    let line = logs
        .lines()
        .find(|l| l.contains("refused the connection"))
        .unwrap_or_default();
    assert!(
        line.contains("TLS: the server refused the connection after the handshake (")
            && line
                .contains("does it require a client certificate (TLSCertFile= and TLSKeyFile=)?"),
        "{line}"
    );
    assert_eq!(received(&out), Vec::<String>::new());

    // With the certificate set, the lines that waited arrive, once each.
    d.ok(&["shutdown"]);
    let mut c = d.child.take().expect("daimond child");
    assert!(wait_child(&mut c, DEADLINE).is_some(), "daimond stopped");
    fs::write(
        d.path().join("daimond.conf"),
        format!(
            "{conf}TLSCertFile={}\nTLSKeyFile={}\n",
            client.display(),
            client_key.display()
        ),
    )
    .expect("daimond.conf");
    d.spawn_daemon();
    wait_until("m1..m3 at rsyslog", DEADLINE, || received(&out).len() >= 3);
    assert_eq!(received(&out), ["app 3 m1", "app 3 m2", "app 3 m3"]);
    rsyslog.stop();
}

#[test]
fn a_missing_client_certificate_is_reported_and_used_once_it_is_there() {
    tls_installed();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new(dir.path(), "test");
    // A certificate for a DNS name only: TLSServerName= names it.
    let (server, server_key) = ca.issue(
        "server",
        "subjectAltName=DNS:logs.test\nextendedKeyUsage=serverAuth\n",
    );
    let (client, client_key) = ca.issue("client", "extendedKeyUsage=clientAuth\n");
    let listen = Listen::Tls {
        ca: &ca.cert(),
        cert: &server,
        key: &server_key,
        auth: "x509/certvalid",
    };
    let out = dir.path().join("received.log");
    let (rsyslog, port) = Rsyslog::start_on_a_free_port(dir.path(), &listen);
    let (cert, key) = (
        dir.path().join("new/client.pem"),
        dir.path().join("new/client.key"),
    );
    let (mut d, send) = forwarding(&format!(
        "[Forward]\nTarget=tls://127.0.0.1:{port}\nUnit=syslog\nTLSServerName=logs.test\n\
         TLSCAFile={}\nTLSCertFile={}\nTLSKeyFile={}\n",
        ca.cert().display(),
        cert.display(),
        key.display()
    ));
    let want = format!("TLSCertFile={}: cannot read: ", cert.display());
    let mut logs = String::new();
    wait_until("the missing file in daimond's log", DEADLINE, || {
        logs = d.ok(&["logs", "-u", "daimond"]);
        logs.contains(&want)
    });
    send(1, 3);
    // The files are read at each connection: no restart is needed.
    fs::create_dir(dir.path().join("new")).expect("mkdir");
    fs::copy(&client_key, &key).expect("key");
    fs::copy(&client, &cert).expect("certificate");
    wait_until("m1..m3 at rsyslog", DEADLINE, || received(&out).len() >= 3);
    assert_eq!(received(&out), ["app 3 m1", "app 3 m2", "app 3 m3"]);
    rsyslog.stop();
}
