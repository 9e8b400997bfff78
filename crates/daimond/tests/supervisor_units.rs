//! Units as the supervisor sees them: environment and working directory of a
//! service, output in `daimon logs`, daemon-reload (SIGHUP) picking up edits, a
//! bad unit file next to good ones, ordering of several units.

mod common;

use std::fs;

use common::*;

fn environ(pid: u32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/environ"))
        .map(|b| {
            b.split(|c| *c == 0)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_service_sees_its_environment_and_working_directory() {
    let mut d = Daemon::start();
    let work = d.path().join("work");
    fs::create_dir_all(&work).expect("workdir");
    let envfile = d.path().join("env");
    fs::write(&envfile, "FROM_FILE=yes\n# comment\n").expect("env file");
    d.write_unit(
        "envy.service",
        &format!(
            "[Service]\nEnvironment=GREETING=hello \"SPACED=a b\"\nEnvironmentFile={}\n\
             EnvironmentFile=-/no/such/file\nWorkingDirectory={}\nExecStart=/bin/sleep 1000\n",
            envfile.display(),
            work.display()
        ),
    );
    d.ok(&["start", "envy"]);
    let pid = d.wait_main_pid("envy");
    let env = environ(pid);
    for want in ["GREETING=hello", "SPACED=a b", "FROM_FILE=yes"] {
        assert!(env.iter().any(|e| e == want), "{want} missing from {env:?}");
    }
    let inv = env
        .iter()
        .find_map(|e| e.strip_prefix("INVOCATION_ID="))
        .expect("INVOCATION_ID");
    assert_eq!(inv.len(), 32);
    assert!(inv.bytes().all(|b| b.is_ascii_hexdigit()));
    for var in ["PATH=", "HOME=", "USER=", "LOGNAME=", "SHELL="] {
        assert!(env.iter().any(|e| e.starts_with(var)), "{var} missing");
    }
    let cwd = fs::read_link(format!("/proc/{pid}/cwd")).expect("cwd");
    assert_eq!(cwd, work);
}

#[test]
fn what_a_service_prints_lands_in_logs() {
    let mut d = Daemon::start();
    d.write_unit(
        "talk.service",
        "[Service]\nExecStart=/bin/sh -c 'echo out-line; echo err-line >&2; exec sleep 1000'\n",
    );
    d.ok(&["start", "talk"]);
    d.wait_main_pid("talk");
    wait_until("both lines in the log", DEADLINE, || {
        let out = d.cli(&["logs", "talk", "-o", "cat"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.contains("out-line") && text.contains("err-line")
    });
}

#[test]
fn sighup_rereads_unit_files_and_the_next_start_uses_them() {
    let mut d = Daemon::start();
    d.write_unit(
        "conf.service",
        "[Service]\nEnvironment=VERSION=1\nExecStart=/bin/sleep 1000\n",
    );
    d.ok(&["start", "conf"]);
    let old = d.wait_main_pid("conf");
    d.write_unit(
        "conf.service",
        "[Service]\nEnvironment=VERSION=2\nExecStart=/bin/sleep 1000\n",
    );
    d.write_unit("new.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    kill(d.daemon_pid().expect("daemon"), libc::SIGHUP);
    wait_until("new.service known after SIGHUP", DEADLINE, || {
        d.cli(&["status", "new"]).status.code() == Some(3)
    });
    // The running process keeps its definition until restarted.
    assert_eq!(d.status_json("conf")["pid"], old);
    d.ok(&["restart", "conf"]);
    let new = d.wait_main_pid("conf");
    assert_ne!(old, new);
    assert!(environ(new).iter().any(|e| e == "VERSION=2"));
}

#[test]
fn a_bad_unit_file_is_reported_and_the_good_ones_run() {
    let mut d = Daemon::start();
    d.write_unit("good.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    d.write_unit(
        "bad.service",
        "[Service]\nExecStart=/bin/sleep 1000\nRestart=sometimes\n",
    );
    let out = d.cli(&["start", "good", "bad"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("bad.service:3:"), "no file:line in {err}");
    d.wait_main_pid("good");
    let st = d.status_json("bad");
    assert_eq!(st["load_state"], "bad-setting");
    assert!(
        st["reason"].as_str().is_some_and(|r| r.contains("Restart")),
        "{st}"
    );
    let list = d.ok(&["list", "-o", "json"]);
    assert!(list.contains("good.service") && list.contains("bad.service"));
}

#[test]
fn requires_and_after_start_dependencies_first() {
    let mut d = Daemon::start();
    let log = d.path().join("order");
    for (name, deps) in [
        ("db", ""),
        (
            "app",
            "Requires=db.service\nAfter=db.service network.target\n",
        ),
    ] {
        d.write_unit(
            &format!("{name}.service"),
            &format!(
                "[Unit]\n{deps}[Service]\nType=oneshot\nRemainAfterExit=yes\n\
                 ExecStart=/bin/sh -c 'echo {name} >> {}'\n",
                log.display()
            ),
        );
    }
    d.ok(&["start", "app"]);
    assert_eq!(fs::read_to_string(&log).expect("order"), "db\napp\n");
    assert_eq!(d.status_json("db")["state"], "active");
}

#[test]
fn enabled_units_start_with_the_daemon() {
    let mut d = Daemon::start();
    d.write_unit(
        "boot.service",
        "[Service]\nExecStart=/bin/sleep 1000\n[Install]\nWantedBy=default.target\n",
    );
    d.ok(&["enable", "boot"]);
    assert!(
        fs::read_to_string(d.path().join("state/enabled"))
            .expect("enabled")
            .contains("boot.service")
    );
    assert_eq!(d.status_json("boot")["state"], "inactive");
    d.ok(&["shutdown"]);
    if let Some(mut c) = d.child.take() {
        let _ = c.wait();
    }
    d.spawn_daemon();
    let pid = d.wait_main_pid("boot");
    assert!(pid_alive(pid));
    assert_eq!(d.status_json("boot")["enabled"], "enabled");
}

#[test]
fn an_unmet_condition_skips_the_unit_and_a_failed_assert_fails_it() {
    let mut d = Daemon::start();
    d.write_unit(
        "cond.service",
        "[Unit]\nConditionPathExists=/no/such/path\n[Service]\nExecStart=/bin/sleep 1000\n",
    );
    d.ok(&["start", "cond"]);
    let st = d.status_json("cond");
    assert_eq!(st["state"], "inactive");
    assert_eq!(st["pid"], serde_json::Value::Null);
    // Status says which condition was not met, as systemctl status does.
    assert_eq!(
        st["reason"],
        "cond.service: start condition unmet: ConditionPathExists=/no/such/path; skipped"
    );
    d.write_unit(
        "assert.service",
        "[Unit]\nAssertPathExists=!/\n[Service]\nExecStart=/bin/sleep 1000\n",
    );
    let out = d.cli(&["start", "assert"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("assert.service: start assertion failed: AssertPathExists=!/"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn template_instances_start_and_the_template_alone_is_refused() {
    let mut d = Daemon::start();
    d.write_unit(
        "worker@.service",
        "[Service]\nExecStart=/bin/sh -c 'echo instance=%i; exec sleep 1000'\n",
    );
    d.ok(&["start", "worker@one"]);
    let pid = d.wait_main_pid("worker@one");
    assert!(pid_alive(pid));
    let out = d.cli(&["start", "worker@"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a template"));
    // The table of units lists the instance, not the template file.
    let table = d.ok(&["status"]);
    assert!(table.contains("worker@one.service"), "{table}");
    assert!(!table.contains("worker@.service"), "{table}");
}

#[test]
fn a_started_target_is_active_until_it_is_stopped() {
    let mut d = Daemon::start();
    for name in ["db", "api"] {
        d.write_unit(
            &format!("{name}.service"),
            "[Unit]\nPartOf=app.target\n[Service]\nExecStart=/bin/sleep 1000\n",
        );
    }
    d.write_unit(
        "app.target",
        "[Unit]\nDescription=The app\nWants=db.service api.service\n",
    );
    assert_eq!(d.status_json("app.target")["state"], "inactive");
    d.ok(&["start", "app.target"]);
    d.wait_main_pid("db");
    d.wait_main_pid("api");
    let st = d.status_json("app.target");
    assert_eq!(st["state"], "active", "{st}");
    assert_eq!(st["sub_state"], "active", "{st}");
    assert_eq!(d.cli(&["status", "app.target"]).status.code(), Some(0));
    d.ok(&["stop", "app.target"]);
    assert_eq!(d.status_json("app.target")["state"], "inactive");
    assert_eq!(
        d.status_json("db")["state"],
        "inactive",
        "PartOf= stops it too"
    );
    assert_eq!(d.cli(&["status", "app.target"]).status.code(), Some(3));
}

#[test]
fn type_forking_supervises_the_daemon_left_behind() {
    let mut d = Daemon::start();
    let pidfile = d.path().join("daemon.pid");
    let script = d.script(
        "forker.sh",
        &format!(
            "setsid sleep 1000 &\necho $! > {}\nexit 0",
            pidfile.display()
        ),
    );
    for (name, extra) in [
        ("withpid", format!("PIDFile={}\n", pidfile.display())),
        ("guess", String::new()),
    ] {
        d.write_unit(
            &format!("{name}.service"),
            &format!(
                "[Service]\nType=forking\n{extra}ExecStart={}\n",
                script.display()
            ),
        );
        d.ok(&["start", name]);
        let pid = d.wait_main_pid(name);
        let written: u32 = fs::read_to_string(&pidfile)
            .expect("pid file")
            .trim()
            .parse()
            .expect("pid");
        assert_eq!(pid, written, "{name}: the daemon is the main process");
        kill(pid, libc::SIGKILL);
        wait_until("the unit to notice its daemon died", DEADLINE, || {
            d.status_json(name)["state"] == "failed"
        });
    }
}

#[test]
fn a_service_starts_with_no_signal_ignored_or_blocked() {
    let mut d = Daemon::start();
    d.write_unit("plain.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    d.ok(&["start", "plain"]);
    let pid = d.wait_main_pid("plain");
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or("?")
            .to_string()
    };
    // daimond ignores SIGPIPE itself and may have inherited more; a service
    // starts as from a clean exec (systemd.exec(5): default dispositions).
    assert_eq!(field("SigIgn:"), "0000000000000000", "{status}");
    assert_eq!(field("SigBlk:"), "0000000000000000", "{status}");
}

#[test]
fn a_pid_file_written_after_the_parent_exits_is_waited_for() {
    let mut d = Daemon::start();
    let pidfile = d.path().join("late.pid");
    let gate = d.path().join("gate");
    let c_gate = std::ffi::CString::new(gate.to_str().expect("utf-8")).expect("path");
    // SAFETY: mkfifo reads a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_gate.as_ptr(), 0o600) }, 0, "mkfifo");
    // The daemon writes its PID file only once the test writes to the gate,
    // well after the start process has exited (it blocks reading the FIFO).
    let script = d.script(
        "late.sh",
        &format!(
            "setsid sh -c 'read go < {g}; echo $$ > {p}; exec sleep 1000' &\nexit 0",
            g = gate.display(),
            p = pidfile.display()
        ),
    );
    d.write_unit(
        "late.service",
        &format!(
            "[Service]\nType=forking\nPIDFile={}\nExecStart={}\n",
            pidfile.display(),
            script.display()
        ),
    );
    let home = d.path().to_path_buf();
    let start = std::thread::spawn(move || {
        let out = std::process::Command::new(bin("daimon"))
            .args(["start", "late"])
            .env("DAIMON_HOME", &home)
            .output()
            .expect("daimon start");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    });
    // The start process has exited and the unit still waits for the file.
    wait_until("the start to wait for the PID file", DEADLINE, || {
        let st = d.status_json("late");
        st["state"] == "activating" && st["tasks"].as_array().is_some_and(|t| t.len() == 1)
    });
    d.record_descendants();
    assert!(
        !start.is_finished(),
        "the start returned before the PID file"
    );
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        // Non-blocking: without a reader yet this fails (ENXIO) instead of
        // hanging; the daemon opens the gate for reading soon after it starts.
        let mut writer = None;
        wait_until("the daemon to open the gate", DEADLINE, || {
            writer = fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&gate)
                .ok();
            writer.is_some()
        });
        if let Some(w) = writer.as_mut() {
            w.write_all(b"go\n").expect("open the gate");
        }
    }
    let (code, err) = start.join().expect("start thread");
    assert_eq!(code, Some(0), "{err}");
    let pid = d.wait_main_pid("late");
    let written: u32 = fs::read_to_string(&pidfile)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert_eq!(pid, written);
}

#[test]
fn a_pid_file_naming_a_process_of_no_service_is_refused() {
    let mut d = Daemon::start();
    let pidfile = d.path().join("stale.pid");
    // A stale file naming a live process that is not the service's: this test.
    fs::write(&pidfile, format!("{}\n", std::process::id())).expect("pid file");
    let script = d.script("quick.sh", "exit 0");
    d.write_unit(
        "stale.service",
        &format!(
            "[Service]\nType=forking\nPIDFile={}\nExecStart={}\n",
            pidfile.display(),
            script.display()
        ),
    );
    let out = d.cli(&["start", "stale"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "names PID {}, which is not a process of this service",
            std::process::id()
        )),
        "{err}"
    );
    assert!(pid_alive(std::process::id()));
}
