//! The daemon's own life: one per home, a stale PID file replaced, private
//! runtime files, no inherited descriptors, and a clean exit on SIGTERM.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

#[test]
fn a_second_daemon_is_refused_with_the_first_ones_pid() {
    let d = Daemon::start();
    let first = d.daemon_pid().expect("pid");
    let expected =
        format!("daimond is already running (pid {first}); use \"daimon shutdown\" to stop it");

    // In the foreground and through the daemonizing path alike.
    for args in [&["--foreground"][..], &[][..]] {
        let out = run_bounded(
            Command::new(bin("daimond"))
                .args(args)
                .env("DAIMON_HOME", d.path()),
            DEADLINE,
        );
        assert_eq!(out.status.code(), Some(1), "daimond {args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim(), expected, "daimond {args:?}");
    }
    assert!(pid_alive(first), "the first daemon must be unaffected");
    let pid_text = fs::read_to_string(d.pid_file()).expect("pid file");
    assert_eq!(pid_text.trim(), first.to_string());
}

#[test]
fn a_stale_pid_file_and_socket_are_replaced() {
    let mut d = Daemon::home_only();
    let run = d.path().join("run");
    fs::create_dir_all(&run).expect("run dir");
    fs::set_permissions(&run, fs::Permissions::from_mode(0o700)).expect("chmod");
    // A PID that surely is dead: a child we reaped ourselves.
    let mut c = Command::new("true").spawn().expect("spawn true");
    let dead = c.id();
    c.wait().expect("wait");
    fs::write(d.pid_file(), format!("{dead}\n")).expect("stale pid file");
    fs::write(d.socket(), b"").expect("stale socket file");

    d.spawn_daemon();
    let pid = d.child.as_ref().expect("child").id();
    wait_until("the new PID file", DEADLINE, || {
        fs::read_to_string(d.pid_file()).is_ok_and(|t| t.trim() == pid.to_string())
    });
    let out = d.cli(&["logs", "-n", "1"]);
    assert!(out.status.success(), "the daemon answers on its new socket");
}

#[test]
fn runtime_directory_is_private_and_socket_is_0600() {
    let d = Daemon::start();
    let mode = |p: &std::path::Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&d.path().join("run")), 0o700);
    assert_eq!(mode(&d.socket()), 0o600);
}

#[test]
fn a_too_open_runtime_directory_is_tightened() {
    let mut d = Daemon::home_only();
    let run = d.path().join("run");
    fs::create_dir_all(&run).expect("run dir");
    fs::set_permissions(&run, fs::Permissions::from_mode(0o755)).expect("chmod");
    d.spawn_daemon();
    let mode = fs::metadata(&run).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

#[test]
fn inherited_descriptors_are_closed() {
    let mut d = Daemon::home_only();
    let marker = d.path().join("leak-marker");
    fs::write(&marker, b"x").expect("marker");
    let c_path = std::ffi::CString::new(marker.to_str().expect("utf-8 path")).expect("cstr");
    // SAFETY: a valid NUL-terminated path; the descriptor is closed below.
    let fd = unsafe { libc::open(c_path.as_ptr(), libc::O_RDONLY) }; // no O_CLOEXEC
    assert!(fd > 2, "open marker");
    d.spawn_daemon();
    // SAFETY: closing the descriptor we opened above.
    unsafe { libc::close(fd) };
    let pid = d.daemon_pid().expect("pid");
    let leaked: Vec<String> = fd_targets(pid)
        .into_iter()
        .filter(|(_, t)| t.contains("leak-marker"))
        .map(|(n, t)| format!("{n} -> {t}"))
        .collect();
    assert!(leaked.is_empty(), "daimond kept inherited fds: {leaked:?}");
}

#[test]
fn sigterm_removes_the_socket_and_pid_file_and_exits_0() {
    let mut d = Daemon::start();
    let mut child = d.child.take().expect("child");
    kill(child.id(), libc::SIGTERM);
    let status = wait_child(&mut child, DEADLINE).expect("daimond exits after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(!d.socket().exists(), "socket removed");
    assert!(!d.pid_file().exists(), "PID file removed");
}

#[test]
fn sighup_is_a_reload_not_a_death() {
    let mut d = Daemon::start();
    let pid = d.daemon_pid().expect("pid");
    kill(pid, libc::SIGHUP);
    wait_until("the reload to be logged", DEADLINE, || {
        let out = d.cli(&["logs", "-o", "cat"]);
        String::from_utf8_lossy(&out.stdout).contains("SIGHUP: re-reading unit files")
    });
    std::thread::sleep(Duration::from_millis(50));
    assert!(pid_alive(pid));
}

#[test]
fn help_and_version() {
    let out = run_bounded(Command::new(bin("daimond")).arg("--version"), DEADLINE);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("daimond "));
    let out = run_bounded(
        Command::new(bin("daimond"))
            .arg("--bogus")
            .stderr(Stdio::piped()),
        DEADLINE,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));
}

#[test]
fn services_inherit_no_descriptor_of_the_daemon() {
    let mut d = Daemon::start();
    // A client connection is open while the service starts (a follower).
    let mut follower = d.start_follower();
    d.ok(&["run", "--name", "clean", "--", "sleep", "10000"]);
    let pid = d.wait_main_pid("clean");
    let fds: Vec<u32> = fd_targets(pid).into_iter().map(|(n, _)| n).collect();
    assert_eq!(fds, [0, 1, 2], "{:?}", fd_targets(pid));
    kill(follower.id(), libc::SIGKILL);
    let _ = follower.wait();
}
