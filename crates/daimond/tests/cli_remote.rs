//! `daimon -H HOST COMMAND` against a private sshd on loopback: the remote
//! daimon starts its daimond when needed, every command and `-o json` work as
//! locally, exit codes come back, `logs -f` streams, and a host without daimon
//! is named as such. CI installs openssh-server (.ci/run); elsewhere a missing
//! sshd is said and the test skipped.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::{DEADLINE, Daemon, bin, kill, wait_until};

/// One sshd on 127.0.0.1 whose sessions get `env` (sshd_config's SetEnv).
struct Sshd {
    child: Child,
    port: u16,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        kill(self.child.id(), libc::SIGTERM);
        let _ = self.child.wait();
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Keys, configurations and the ssh wrapper in `dir`; `None` when there is
/// no sshd here.
fn setup(dir: &Path) -> Option<PathBuf> {
    if !Path::new("/usr/sbin/sshd").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs openssh-server"
        );
        eprintln!("no sshd: daimon -H not tested against a real ssh");
        return None;
    }
    // Debian's sshd wants its privilege separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    for key in ["hostkey", "id"] {
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", ""])
            .arg("-f")
            .arg(dir.join(key)));
    }
    std::fs::copy(dir.join("id.pub"), dir.join("authorized_keys")).expect("authorized_keys");
    let user = String::from_utf8_lossy(&Command::new("id").arg("-un").output().expect("id").stdout)
        .trim()
        .to_string();
    std::fs::write(
        dir.join("ssh_config"),
        format!(
            "Host *\n  User {user}\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
             StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  \
             BatchMode yes\n",
            dir.join("id").display()
        ),
    )
    .expect("ssh_config");
    let wrapper = dir.join("ssh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec ssh -F {} \"$@\"\n",
            dir.join("ssh_config").display()
        ),
    )
    .expect("wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    Some(wrapper)
}

fn start_sshd(dir: &Path, name: &str, env: &str) -> Sshd {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let config = dir.join(format!("{name}.conf"));
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/hostkey\n\
             AuthorizedKeysFile {dir}/authorized_keys\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nStrictModes no\nUsePAM no\n\
             PidFile {dir}/{name}.pid\nSetEnv {env}\n",
            dir = dir.display()
        ),
    )
    .expect("sshd_config");
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .expect("start sshd");
    wait_until("sshd listening", DEADLINE, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    Sshd { child, port }
}

fn remote(wrapper: &Path, port: u16, args: &[&str]) -> Output {
    Command::new(bin("daimon"))
        .env("DAIMON_SSH", wrapper)
        .arg("-H")
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .output()
        .expect("run daimon -H")
}

#[test]
fn commands_run_on_the_remote_daimond_over_ssh() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(ssh) = setup(tmp.path()) else { return };
    // The remote side: a home with no daimond yet; daimon is on its PATH.
    let d = Daemon::home_only();
    let bindir = bin("daimon")
        .parent()
        .expect("bin dir")
        .display()
        .to_string();
    let env = format!(
        "PATH={bindir}:/usr/bin:/bin DAIMON_HOME={}",
        d.path().display()
    );
    let sshd = start_sshd(tmp.path(), "with", &env);
    let text = |o: &Output| String::from_utf8_lossy(&o.stdout).into_owned();

    let out = remote(
        &ssh,
        sshd.port,
        &[
            "run",
            "--name",
            "web",
            "--",
            "/bin/sh",
            "-c",
            "echo 'hello over ssh'; sleep 300",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.daemon_pid().is_some(), "the remote daimond was started");
    let out = remote(&ssh, sshd.port, &["status", "web", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let st: serde_json::Value = serde_json::from_str(&text(&out)).expect("status -o json");
    assert_eq!(st[0]["state"], "active");
    let missing = remote(&ssh, sshd.port, &["status", "nosuch"]);
    assert_eq!(missing.status.code(), Some(4), "exit codes come back");

    // logs -f streams until we hang up.
    let mut follow = Command::new(bin("daimon"))
        .env("DAIMON_SSH", &ssh)
        .args([
            "-H",
            &format!("127.0.0.1:{}", sshd.port),
            "logs",
            "web",
            "-f",
            "-o",
            "cat",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("logs -f");
    let mut lines = BufReader::new(follow.stdout.take().expect("stdout")).lines();
    let first = lines.find(|l| l.as_ref().is_ok_and(|l| l.contains("hello over ssh")));
    assert!(first.is_some(), "logs -f showed the line");
    kill(follow.id(), libc::SIGTERM);
    let _ = follow.wait();

    let out = remote(&ssh, sshd.port, &["stop", "web"]);
    assert_eq!(out.status.code(), Some(0));
    let out = remote(&ssh, sshd.port, &["is-active", "web"]);
    assert_eq!(
        (out.status.code(), text(&out).trim()),
        (Some(3), "inactive")
    );

    // A host where daimon is not installed.
    let bare = start_sshd(
        tmp.path(),
        "without",
        "PATH=/usr/bin:/bin HOME=/nonexistent",
    );
    let out = remote(&ssh, bare.port, &["status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has no daimon"), "{err}");
}

/// `daimon -H HOST attach UNIT` in a terminal (tmux): ssh gets -t, so raw
/// mode, typing, the detach key and the exit code work end to end.
#[test]
fn attach_works_over_ssh() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(ssh) = setup(tmp.path()) else { return };
    let d = Daemon::home_only();
    let bindir = bin("daimon")
        .parent()
        .expect("bin dir")
        .display()
        .to_string();
    let env = format!(
        "PATH={bindir}:/usr/bin:/bin DAIMON_HOME={}",
        d.path().display()
    );
    let sshd = start_sshd(tmp.path(), "attach", &env);
    let out = remote(
        &ssh,
        sshd.port,
        &[
            "run", "--tty", "--name", "repl", "--", "python3", "-q", "-i",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let sock = tmp.path().join("tmux.sock");
    /// Ends the test's tmux server, whatever happens.
    struct Server(PathBuf);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = Command::new("tmux")
                .arg("-S")
                .arg(&self.0)
                .arg("kill-server")
                .output();
        }
    }
    let _server = Server(sock.clone());
    let tmux = |args: &[&str]| {
        common::run_bounded(
            Command::new("tmux").arg("-S").arg(&sock).args(args),
            std::time::Duration::from_secs(10),
        )
    };
    let script = format!(
        "DAIMON_SSH={} {} -H 127.0.0.1:{} attach repl; echo attach-exit=$?; exec cat",
        ssh.display(),
        bin("daimon").display(),
        sshd.port
    );
    let started = tmux(&[
        "new-session",
        "-d",
        "-s",
        "remote",
        "-x",
        "100",
        "-y",
        "30",
        "sh",
        "-c",
        &script,
    ]);
    assert!(started.status.success(), "tmux new-session");
    let screen = || {
        String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", "remote:"]).stdout).into_owned()
    };
    let wait_screen = |what: &str, cond: &dyn Fn(&str) -> bool| {
        let mut last = String::new();
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_until(what, DEADLINE, || {
                last = screen();
                cond(&last)
            })
        }));
        assert!(ok.is_ok(), "{what}; the screen was:\n{last}");
    };
    wait_screen("the remote prompt", &|s| s.contains(">>>"));
    tmux(&["send-keys", "-t", "remote:", "-l", "6*7"]);
    tmux(&["send-keys", "-t", "remote:", "Enter"]);
    wait_screen("the answer", &|s| s.lines().any(|l| l.trim_end() == "42"));
    tmux(&["send-keys", "-t", "remote:", "C-]"]);
    wait_screen("attach to return over ssh", &|s| {
        s.contains("detached from repl.service") && s.contains("attach-exit=0")
    });
}
