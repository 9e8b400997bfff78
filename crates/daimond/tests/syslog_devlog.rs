//! `/dev/log` as a system daimond serves it, without touching the machine's:
//! daimond runs in a mount namespace of its own whose `/dev` is a fresh tmpfs
//! (with the host's null, zero, random and urandom bound in), and listens on
//! `/dev/log` there (`[Syslog] ListenSocket=/dev/log`, which is what system
//! mode picks). Its services share that namespace, so glibc's `syslog(3)`,
//! used by Python's `syslog` module and by `logger(1)` with no socket given,
//! reaches daimond with nothing configured in the service.
//!
//! unshare(2) of a mount namespace needs root: the test says so and fails
//! when it is not root, rather than passing without having run.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// `daimon logs ARGS -o json`: the object whose MESSAGE is `msg`, once there.
fn wait_for(d: &mut Daemon, args: &[&str], msg: &str) -> serde_json::Value {
    let mut found = None;
    wait_until(&format!("{msg:?} in logs {args:?}"), DEADLINE, || {
        let mut a = vec!["logs", "-o", "json"];
        a.extend_from_slice(args);
        let out = d.cli(&a);
        found = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["MESSAGE"] == msg);
        found.is_some()
    });
    found.expect("found")
}

/// Starts `daimond --foreground` for `d` inside a new mount namespace whose
/// `/dev` is private, and waits until it answers.
fn spawn_in_namespace(d: &mut Daemon) {
    let host_dev = d.path().join("host-dev");
    std::fs::create_dir_all(&host_dev).expect("mkdir host-dev");
    let script = format!(
        "set -e
         mount --make-rprivate /
         mount --bind /dev {hd}
         mount -t tmpfs -o mode=0755 daimon-test-dev /dev
         for n in null zero random urandom; do
             touch /dev/$n
             mount --bind {hd}/$n /dev/$n
         done
         ln -s /proc/self/fd /dev/fd
         exec {daimond} --foreground",
        hd = host_dev.display(),
        daimond = bin("daimond").display(),
    );
    let child = Command::new("unshare")
        .args(["--mount", "sh", "-c", &script])
        .env("DAIMON_HOME", d.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(d.path().join("daimond.stderr"))
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::inherit()),
        )
        .spawn()
        .expect("spawn unshare");
    d.child = Some(child);
    let sock = d.socket();
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until("daimond's socket to accept", DEADLINE, || {
            std::os::unix::net::UnixStream::connect(&sock).is_ok()
        })
    }));
    assert!(
        ok.is_ok(),
        "daimond did not start in its namespace: {}",
        d.daemon_stderr()
    );
}

#[test]
fn python_syslog_and_logger_reach_dev_log_in_a_mount_namespace() {
    // SAFETY: geteuid has no preconditions.
    assert!(
        unsafe { libc::geteuid() } == 0,
        "this test makes a mount namespace and needs root (unshare(2) requires \
         CAP_SYS_ADMIN): run it as root, as CI does"
    );
    let host_had_dev_log = Path::new("/dev/log").exists();
    let mut d = Daemon::home_only();
    std::fs::write(
        d.path().join("daimond.conf"),
        "[Syslog]\nListenSocket=/dev/log\n",
    )
    .expect("write daimond.conf");
    spawn_in_namespace(&mut d);
    // Python's own syslog module (glibc's syslog(3), to /dev/log), with
    // nothing in the service about where the socket is; it stays up, as a
    // daemon would, so its line is placed by its PID.
    d.write_unit(
        "pyapp.service",
        "[Service]\nExecStart=/usr/bin/python3 -c \"import syslog, time; \
         syslog.openlog('pyapp', 0, syslog.LOG_DAEMON); \
         syslog.syslog(syslog.LOG_ERR, 'disk full'); time.sleep(600)\"\n",
    );
    d.write_unit(
        "lg.service",
        "[Service]\nExecStart=/bin/sh -c 'exec logger -t lg -p user.warning \"from logger\"'\n",
    );
    d.ok(&["start", "pyapp", "lg"]);

    let v = wait_for(&mut d, &["pyapp"], "disk full");
    assert_eq!(v["PRIORITY"], "3", "{v}");
    assert_eq!(v["SYSLOG_FACILITY"], "3", "{v}");
    assert_eq!(v["SYSLOG_IDENTIFIER"], "pyapp", "{v}");
    assert_eq!(v["_SYSTEMD_UNIT"], "pyapp.service", "{v}");
    assert_eq!(v["_TRANSPORT"], "syslog", "{v}");
    let pid = d.wait_main_pid("pyapp");
    assert_eq!(v["_PID"], pid.to_string(), "{v}");

    let v = wait_for(&mut d, &["lg"], "from logger");
    assert_eq!(v["PRIORITY"], "4", "{v}");
    assert_eq!(v["SYSLOG_IDENTIFIER"], "lg", "{v}");
    assert_eq!(v["_SYSTEMD_UNIT"], "lg.service", "{v}");

    // The machine's /dev was never touched.
    assert_eq!(Path::new("/dev/log").exists(), host_had_dev_log);
    d.ok(&["stop", "pyapp"]);
}
