//! The CLI sends nothing to a runtime directory another user could control:
//! it is checked as daimond checks it (owner, mode, not a symbolic link) before
//! the CLI connects (issue: a `/tmp/daimon-$UID` made first by someone else).

mod common;

use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;

use common::*;

/// A listener in `run/` that another user might have left there; returns it
/// non-blocking so that "nobody connected" can be asked without waiting.
fn planted_listener(home: &Path, owner: Option<u32>, mode: u32) -> UnixListener {
    let run = home.join("run");
    std::fs::create_dir_all(&run).expect("run dir");
    let listener = UnixListener::bind(run.join("daimond.sock")).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    if let Some(uid) = owner {
        std::os::unix::fs::chown(&run, Some(uid), Some(uid)).expect("chown");
    }
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(mode)).expect("chmod");
    listener
}

fn refused_with(d: &mut Daemon, listener: &UnixListener, expect: &str) {
    let out = d.cli(&["run", "-e", "API_TOKEN=hunter2", "--", "sleep", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let run = d.path().join("run");
    assert!(err.contains(&run.display().to_string()), "names it: {err}");
    assert!(err.contains(expect), "{err}");
    assert!(err.contains("nothing was sent"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok(_) => panic!("the CLI connected to a listener it must not trust"),
        Err(e) => panic!("accept: {e}"),
    }
    assert!(
        !d.pid_file().exists(),
        "no daimond was started into that directory"
    );
}

#[test]
fn a_runtime_dir_owned_by_another_user_is_refused_before_connecting() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to give the directory to another uid");
        return;
    }
    let mut d = Daemon::home_only();
    let listener = planted_listener(d.path(), Some(65534), 0o777);
    refused_with(
        &mut d,
        &listener,
        "belongs to uid 65534, not to you (uid 0), so another user may be listening there; remove it",
    );
}

#[test]
fn a_runtime_dir_others_may_write_to_is_refused() {
    let mut d = Daemon::home_only();
    let listener = planted_listener(d.path(), None, 0o777);
    refused_with(&mut d, &listener, "is writable by other users (mode 0777)");
}

#[test]
fn a_symlinked_runtime_dir_is_refused() {
    let mut d = Daemon::home_only();
    let elsewhere = d.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("mkdir");
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let listener = UnixListener::bind(elsewhere.join("daimond.sock")).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    std::os::unix::fs::symlink(&elsewhere, d.path().join("run")).expect("symlink");
    refused_with(&mut d, &listener, "is a symbolic link");
}

#[test]
fn our_own_daemon_is_still_trusted() {
    let mut d = Daemon::start();
    d.ok(&["status"]);
}
