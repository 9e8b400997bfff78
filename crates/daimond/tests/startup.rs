//! `daimon startup`: the entries that start daimond at boot, checked the way a
//! user and the init system see them — systemd-analyze verify finds nothing to
//! say about the units, install and uninstall on a scratch unit directory and a
//! scratch crontab change nothing else, and a simulated reboot (every process
//! of the home SIGKILLed, the runtime directory emptied, then exactly the
//! command the entry runs) brings back what was enabled and nothing more.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

/// `daimon startup ARGS` for `home` with the entries in `scratch`.
fn startup(home: &Path, scratch: &Path, args: &[&str]) -> (i32, String, String) {
    let out = run_bounded(
        Command::new(bin("daimon"))
            .arg("startup")
            .args(args)
            .env("DAIMON_HOME", home)
            .env("DAIMON_STARTUP_UNIT_DIR", scratch.join("units"))
            .env("DAIMON_STARTUP_CRONTAB", scratch.join("crontab")),
        DEADLINE,
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(home: &Path, scratch: &Path, args: &[&str]) -> String {
    let (code, out, err) = startup(home, scratch, args);
    assert_eq!(code, 0, "daimon startup {args:?}: {out}{err}");
    out
}

/// Every file under `dir`: path -> content, or the target of a symlink.
fn tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut m = BTreeMap::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return m;
    };
    for e in rd.flatten() {
        let p = e.path();
        let meta = fs::symlink_metadata(&p).expect("metadata");
        if meta.file_type().is_symlink() {
            m.insert(
                p.clone(),
                format!("-> {}", fs::read_link(&p).expect("link").display()),
            );
        } else if meta.is_dir() {
            m.insert(p.clone(), "dir".into());
            m.extend(tree(&p));
        } else {
            m.insert(p.clone(), fs::read_to_string(&p).unwrap_or_default());
        }
    }
    m
}

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("daimon-startup-")
        .tempdir()
        .expect("tempdir")
}

#[test]
fn generated_units_pass_systemd_analyze_verify_with_no_warning() {
    let s = scratch();
    let home = s.path().join("a home");
    let runtime = s.path().join("xdg-runtime");
    fs::create_dir_all(&runtime).expect("runtime dir");
    for (init, user) in [("systemd", false), ("systemd-user", true)] {
        ok(&home, s.path(), &["--install", "--init", init]);
        let unit = s.path().join("units/daimond.service");
        let text = fs::read_to_string(&unit).expect("the unit");
        assert!(text.contains("\nType=notify\n"), "{text}");
        assert!(text.contains("\nKillMode=process\n"), "{text}");
        assert!(
            text.contains(&format!(
                "\nEnvironment=\"DAIMON_HOME={}\"\n",
                home.display()
            )),
            "{text}"
        );
        let mut cmd = Command::new("systemd-analyze");
        cmd.arg("verify");
        if user {
            // The user manager's lookup needs a runtime directory.
            cmd.arg("--user").env("XDG_RUNTIME_DIR", &runtime);
        }
        let out = run_bounded(cmd.arg(&unit), Duration::from_secs(60));
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "systemd-analyze verify {init}: {said}"
        );
        assert_eq!(
            said, "",
            "systemd-analyze verify {init} has something to say"
        );
        ok(&home, s.path(), &["--uninstall", "--init", init]);
    }
}

#[test]
fn a_unit_installs_once_and_uninstalls_leaving_everything_else() {
    let mut d = Daemon::start();
    let home = d.path().to_path_buf();
    let s = scratch();
    let units = s.path().join("units");
    fs::create_dir_all(units.join("multi-user.target.wants")).expect("dirs");
    fs::write(
        units.join("other.service"),
        "[Service]\nExecStart=/bin/true\n",
    )
    .expect("other");
    std::os::unix::fs::symlink(
        units.join("other.service"),
        units.join("multi-user.target.wants/other.service"),
    )
    .expect("other's link");
    let before = tree(&units);

    let printed = ok(&home, s.path(), &["--init", "systemd"]);
    assert!(
        printed.contains("Would install a systemd system unit"),
        "{printed}"
    );
    assert!(printed.contains("Nothing was changed"), "{printed}");
    assert_eq!(tree(&units), before, "--print changed files");

    let first = ok(&home, s.path(), &["--install", "--init", "systemd"]);
    assert!(
        first.contains("Wrote ") && first.contains("Enabled it"),
        "{first}"
    );
    assert!(
        first.contains("Undo with: daimon startup --uninstall"),
        "{first}"
    );
    let file = units.join("daimond.service");
    let link = units.join("multi-user.target.wants/daimond.service");
    assert_eq!(fs::read_link(&link).expect("the link"), file);
    let installed = tree(&units);
    let again = ok(&home, s.path(), &["--install", "--init", "systemd"]);
    assert!(again.contains("Already installed"), "{again}");
    assert_eq!(tree(&units), installed, "a second install changed files");

    // `status` names the entry (below its table of units).
    d.write_unit("s.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    d.ok(&["start", "s"]);
    let status = run_bounded(
        Command::new(bin("daimon"))
            .arg("status")
            .env("DAIMON_HOME", &home)
            .env("DAIMON_STARTUP_UNIT_DIR", &units)
            .env("DAIMON_STARTUP_CRONTAB", s.path().join("crontab")),
        DEADLINE,
    );
    d.record_descendants();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains(&format!(
            "Starts at boot: systemd system unit {}",
            file.display()
        )),
        "{text}"
    );

    let removed = ok(&home, s.path(), &["--uninstall", "--init", "systemd"]);
    assert!(removed.contains("no longer starts at boot"), "{removed}");
    assert_eq!(
        tree(&units),
        before,
        "uninstall left a trace or removed more"
    );
    let twice = ok(&home, s.path(), &["--uninstall", "--init", "systemd"]);
    assert!(twice.contains("Not installed"), "{twice}");
}

#[test]
fn the_user_unit_says_whether_lingering_is_on_and_how_to_turn_it_on() {
    let s = scratch();
    let out = ok(&s.path().join("h"), s.path(), &["--init", "systemd-user"]);
    assert!(out.contains("WantedBy=default.target"), "{out}");
    assert!(
        out.contains("Lingering is on for") || out.contains("sudo loginctl enable-linger "),
        "{out}"
    );
}

#[test]
fn a_crontab_line_is_added_once_and_removed_leaving_other_lines_byte_for_byte() {
    let s = scratch();
    let home = s.path().join("home");
    let tab = s.path().join("crontab");
    let others = "# m h dom mon dow command\nMAILTO=\"\"\n*/5 * * * * /usr/bin/backup --quiet   \n\n0 3 * * * echo '100\\%' # a comment\n";
    fs::write(&tab, others).expect("crontab");

    let printed = ok(&home, s.path(), &["--init", "cron"]);
    assert!(printed.contains("Would add this line"), "{printed}");
    assert_eq!(fs::read_to_string(&tab).expect("crontab"), others);

    let added = ok(&home, s.path(), &["--install", "--init", "cron"]);
    assert!(added.contains("Added to"), "{added}");
    let with = fs::read_to_string(&tab).expect("crontab");
    let ours = with
        .strip_prefix(others)
        .expect("other lines kept, ours appended");
    assert!(ours.starts_with("@reboot DAIMON_HOME="), "{ours}");
    assert!(ours.ends_with(" # daimon startup\n"), "{ours}");
    let again = ok(&home, s.path(), &["--install", "--init", "cron"]);
    assert!(again.contains("Already installed"), "{again}");
    assert_eq!(fs::read_to_string(&tab).expect("crontab"), with);
    // Another home's line is not ours to remove.
    let other_home = s.path().join("other");
    ok(&other_home, s.path(), &["--install", "--init", "cron"]);
    let both = fs::read_to_string(&tab).expect("crontab");

    let removed = ok(&other_home, s.path(), &["--uninstall", "--init", "cron"]);
    assert!(removed.contains("Removed"), "{removed}");
    assert_eq!(fs::read_to_string(&tab).expect("crontab"), with);
    assert_ne!(both, with);
    ok(&home, s.path(), &["--uninstall", "--init", "cron"]);
    assert_eq!(fs::read_to_string(&tab).expect("crontab"), others);
    let twice = ok(&home, s.path(), &["--uninstall", "--init", "cron"]);
    assert!(twice.contains("Not installed"), "{twice}");
}

/// Lines of a file (none when it does not exist).
fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A home with `on.service` enabled, `off.service` running but disabled, and
/// `catch.timer` (Persistent=true, hourly) enabled, last run three hours ago.
fn machine_before_the_reboot(d: &mut Daemon) -> PathBuf {
    let out = d.path().join("out");
    let catch = d.script("catch.sh", &format!("echo caught >> {}", out.display()));
    d.write_unit(
        "catch.service",
        &format!("[Service]\nType=oneshot\nExecStart={}\n", catch.display()),
    );
    d.write_unit(
        "catch.timer",
        "[Timer]\nOnCalendar=hourly\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
    );
    let timers = d.path().join("state/timers");
    fs::create_dir_all(&timers).expect("timers dir");
    let three_hours_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(3);
    fs::write(
        timers.join("stamp-catch.timer"),
        format!("{three_hours_ago}\n"),
    )
    .expect("stamp");
    for name in ["on", "off"] {
        let script = d.script(
            &format!("{name}.sh"),
            "while :; do echo up; sleep 0.05; done",
        );
        d.write_unit(
            &format!("{name}.service"),
            &format!(
                "[Service]\nExecStart={}\nRestart=always\n\n[Install]\nWantedBy=default.target\n",
                script.display()
            ),
        );
    }
    d.spawn_daemon();
    d.ok(&["enable", "on", "catch.timer"]);
    d.ok(&["start", "on", "off"]);
    d.wait_main_pid("on");
    d.wait_main_pid("off");
    out
}

/// Power loss: SIGKILL to daimond (from its PID file) and to every process
/// descended from it (the fd holder, the services; found in /proc), then the
/// runtime directory emptied as a reboot empties /run.
fn power_loss(d: &mut Daemon) {
    let daimond: u32 = fs::read_to_string(d.pid_file())
        .expect("PID file")
        .trim()
        .parse()
        .expect("a PID");
    let mut all = descendants_of(daimond);
    assert!(
        all.len() >= 3,
        "daimond, the fd holder and two services: {all:?}"
    );
    all.insert(daimond);
    for pid in &all {
        d.remember(*pid);
        kill(*pid, libc::SIGKILL);
    }
    if let Some(mut c) = d.child.take() {
        assert!(
            wait_child(&mut c, DEADLINE).is_some(),
            "daimond survived SIGKILL"
        );
    }
    wait_until("every process of the home gone", DEADLINE, || {
        all.iter().all(|p| !pid_alive(*p))
    });
    let run = d.path().join("run");
    for e in fs::read_dir(&run).expect("runtime dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            fs::remove_dir_all(&p).expect("empty the runtime dir");
        } else {
            fs::remove_file(&p).expect("empty the runtime dir");
        }
    }
}

/// After the reboot: the enabled service runs, the disabled one does not, the
/// timer caught up once.
fn check_after_the_reboot(d: &mut Daemon, out: &Path) {
    d.wait_main_pid("on");
    wait_until("catch.timer's catch-up run", DEADLINE, || {
        lines(out) == ["caught"]
    });
    wait_until("catch.timer waiting for its next elapse", DEADLINE, || {
        d.status_json("catch.timer")["sub_state"] == "waiting"
    });
    let off = d.status_json("off");
    assert_eq!(
        off["state"], "inactive",
        "a disabled service started: {off}"
    );
    assert_eq!(lines(out), ["caught"], "one catch-up run, no more");
}

#[test]
fn after_a_reboot_the_systemd_units_command_brings_back_what_was_enabled() {
    let mut d = Daemon::home_only();
    let out = machine_before_the_reboot(&mut d);
    let s = scratch();
    ok(d.path(), s.path(), &["--install", "--init", "systemd"]);
    let unit = fs::read_to_string(s.path().join("units/daimond.service")).expect("unit");
    power_loss(&mut d);

    let value = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {unit}"))
            .trim_matches('"')
            .to_string()
    };
    let exec = value("ExecStart=");
    let env = value("Environment=");
    let (k, v) = env.split_once('=').expect("KEY=VALUE");
    let argv: Vec<&str> = exec.split_whitespace().collect();
    // As systemd runs a Type=notify unit: NOTIFY_SOCKET set, and READY=1 awaited.
    let notify_path = s.path().join("notify");
    let notify = UnixDatagram::bind(&notify_path).expect("notify socket");
    notify
        .set_read_timeout(Some(DEADLINE))
        .expect("read timeout");
    let child = Command::new(argv[0])
        .args(&argv[1..])
        .env_remove("DAIMON_HOME")
        .env(k, v)
        .env("NOTIFY_SOCKET", &notify_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ExecStart=");
    d.child = Some(child);
    let mut buf = [0u8; 4096];
    let n = notify.recv(&mut buf).expect("READY=1 from daimond");
    let said = String::from_utf8_lossy(&buf[..n]);
    assert!(said.contains("READY=1"), "{said}");
    check_after_the_reboot(&mut d, &out);
}

#[test]
fn after_a_reboot_the_crontab_line_brings_back_what_was_enabled() {
    let mut d = Daemon::home_only();
    let out = machine_before_the_reboot(&mut d);
    let s = scratch();
    ok(d.path(), s.path(), &["--install", "--init", "cron"]);
    let tab = fs::read_to_string(s.path().join("crontab")).expect("crontab");
    power_loss(&mut d);

    let line = tab
        .lines()
        .find(|l| l.ends_with("# daimon startup"))
        .expect("our line");
    let command = line.strip_prefix("@reboot ").expect("@reboot");
    // As cron runs it: /bin/sh -c, in an environment without DAIMON_HOME.
    let ran = run_bounded(
        Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .env_remove("DAIMON_HOME"),
        DEADLINE,
    );
    assert!(
        ran.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    check_after_the_reboot(&mut d, &out);
}

#[test]
fn restarting_the_unit_keeps_every_service_running() {
    // What `systemctl restart daimond` does to the unit: KillSignal= (SIGUSR2)
    // to daimond alone (KillMode=process), then ExecStart= again.
    let mut d = Daemon::home_only();
    let s = scratch();
    ok(d.path(), s.path(), &["--install", "--init", "systemd"]);
    let unit = fs::read_to_string(s.path().join("units/daimond.service")).expect("unit");
    assert!(unit.contains("\nKillSignal=SIGUSR2\n"), "{unit}");
    let script = d.script(
        "count.sh",
        "i=0\nwhile :; do i=$((i+1)); echo \"n=$i\"; sleep 0.005; done",
    );
    d.write_unit(
        "count.service",
        &format!("[Service]\nExecStart={}\n", script.display()),
    );
    d.spawn_daemon();
    d.ok(&["start", "count"]);
    let pid = d.wait_main_pid("count");
    let before = d.status_json("count");

    let daimond = d.daemon_pid().expect("daimond");
    kill(daimond, libc::SIGUSR2);
    let mut child = d.child.take().expect("daimond's child handle");
    let st = wait_child(&mut child, DEADLINE).expect("daimond exits on SIGUSR2");
    assert!(st.success(), "a hand-over is a clean exit: {st:?}");
    assert!(pid_alive(pid), "the service died with the hand-over");

    d.spawn_daemon();
    let after = d.status_json("count");
    assert_eq!(after["pid"], pid);
    assert_eq!(after["state"], "active");
    assert_eq!(
        after["last_run"]["invocation"],
        before["last_run"]["invocation"]
    );
    let inv = before["last_run"]["invocation"]
        .as_str()
        .expect("invocation")
        .to_string();
    // Every line of the invocation is there once, in order, across the hand-over.
    let numbers = |d: &mut Daemon| -> Vec<u64> {
        let out = d.cli(&["logs", "count", "--invocation", &inv, "-o", "cat"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("n=")?.parse().ok())
            .collect()
    };
    let upto = numbers(&mut d).len();
    wait_until("lines after the hand-over", DEADLINE, || {
        numbers(&mut d).len() > upto + 20
    });
    let got = numbers(&mut d);
    assert_eq!(
        got,
        (1..=got.len() as u64).collect::<Vec<_>>(),
        "lines lost or doubled"
    );
}
