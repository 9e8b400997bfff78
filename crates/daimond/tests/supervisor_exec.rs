//! The way from spawn to the service's program: daimond does not wait for a
//! child's execve(), so a child held up before it (here: opening a FIFO as its
//! output file, which blocks until a reader comes) holds up nothing else.

mod common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

use common::*;

fn mkfifo(path: &std::path::Path) {
    let c = CString::new(path.as_os_str().as_bytes()).expect("path without NUL");
    // SAFETY: a valid C string path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

#[test]
fn a_service_held_up_before_its_exec_holds_up_neither_the_daemon_nor_other_units() {
    let mut d = Daemon::start();
    let fifo = d.path().join("out.fifo");
    mkfifo(&fifo);
    d.write_unit(
        "stuck.service",
        &format!(
            "[Service]\nType=exec\nExecStart=/bin/sleep 1000\nStandardOutput=file:{}\n",
            fifo.display()
        ),
    );
    d.write_unit("other.service", "[Service]\nExecStart=/bin/sleep 1000\n");

    // `start` of a Type=exec service returns once its program runs.
    let mut start = Command::new(bin("daimon"))
        .args(["start", "stuck"])
        .env("DAIMON_HOME", d.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn daimon start");
    d.remember(start.id());
    wait_until("stuck.service activating", DEADLINE, || {
        d.status_json("stuck")["state"] == "activating"
    });

    // Meanwhile the daemon answers and starts other units.
    d.ok(&["start", "other"]);
    let other = d.wait_main_pid("other");
    assert!(pid_alive(other));
    assert!(
        start.try_wait().expect("try_wait").is_none(),
        "start of stuck.service returned before its program ran"
    );

    // A reader on the FIFO lets the child go on to its program.
    let reader = std::fs::File::open(&fifo).expect("open the FIFO for reading");
    let status = wait_child(&mut start, DEADLINE).expect("daimon start returned");
    assert!(status.success(), "daimon start stuck: {status:?}");
    let pid = d.wait_main_pid("stuck");
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/exe")).expect("exe of the service"),
        std::fs::canonicalize("/bin/sleep").expect("/bin/sleep")
    );
    drop(reader);
}

#[test]
fn a_failed_working_directory_is_reported_before_the_exit_it_causes() {
    let mut d = Daemon::start();
    d.write_unit(
        "nodir.service",
        "[Service]\nExecStart=/bin/sleep 1000\nWorkingDirectory=/no/such/directory\n",
    );
    let out = d.cli(&["start", "nodir"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("changing to the working directory /no/such/directory failed")
            && err.contains("(200/CHDIR)"),
        "{err}"
    );
    let st = d.status_json("nodir");
    assert_eq!(st["state"], "failed");
    assert_eq!(st["last_exit"], "exited, status=200/CHDIR");
}
