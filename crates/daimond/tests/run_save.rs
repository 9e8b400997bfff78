//! From a transient unit to a saved one without a restart: `daimon run
//! --save/--enable` on a unit that runs the same command, and `daimon save`.

mod common;

use common::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn run_enable_on_a_running_transient_unit_saves_it_and_keeps_the_process() {
    let mut d = Daemon::start();
    d.ok(&["run", "--name", "nap", "--", "sleep", "1000"]);
    let pid = d.wait_main_pid("nap");
    let transient = d.ok(&["cat", "nap"]);
    let invocation = d.status_json("nap")["last_run"]["invocation"].clone();
    assert!(invocation.is_string(), "{invocation}");

    // Without --save it is refused, saying what to do.
    let out = d.cli(&["run", "--name", "nap", "--", "sleep", "1000"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "daimon: nap.service is already running (pid {pid}); see \"daimon status nap\", \
             stop it first (daimon stop nap) or choose another --name\n"
        )
    );

    let out = d.cli(&["run", "--name", "nap", "--enable", "--", "sleep", "1000"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = d.units_dir().join("nap.service");
    assert_eq!(
        stdout(&out),
        format!(
            "Saved nap.service as {}; it keeps running, not restarted (pid {pid}).\n\
             Enabled: nap.service starts whenever the daemon starts.\n",
            file.display()
        )
    );
    let saved = std::fs::read_to_string(&file).expect("the unit file is written");
    assert!(transient.ends_with(&saved), "{transient}\n---\n{saved}");
    let st = d.status_json("nap");
    assert_eq!(st["pid"], pid, "{st}");
    assert_eq!(st["load_state"], "loaded", "{st}");
    assert_eq!(st["enabled"], "enabled", "{st}");
    assert_eq!(st["restarts"], 0, "{st}");
    assert_eq!(st["last_run"]["invocation"], invocation, "the same run");

    // A different command is refused with what to do.
    let out = d.cli(&["run", "--name", "nap", "--save", "--", "sleep", "2000"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "daimon: nap.service is already running (pid {pid}) a different command (sleep 1000); \
             to replace it: daimon stop nap, then run again"
        )),
        "{err}"
    );
    assert_eq!(d.status_json("nap")["pid"], pid);
}

#[test]
fn new_settings_for_the_same_command_wait_for_the_next_start() {
    let mut d = Daemon::start();
    d.ok(&["run", "--name", "nap", "--", "sleep", "1000"]);
    let pid = d.wait_main_pid("nap");
    let out = d.cli(&[
        "run",
        "--name",
        "nap",
        "--restart",
        "always",
        "--save",
        "--",
        "sleep",
        "1000",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("not restarted (pid {pid})")),
        "{text}"
    );
    assert!(
        text.ends_with("Its new settings apply when it next starts: daimon restart nap\n"),
        "{text}"
    );
    let saved = std::fs::read_to_string(d.units_dir().join("nap.service")).expect("file");
    assert!(saved.contains("\nRestart=always\n"), "{saved}");
    // The run goes on with the policy it started with.
    assert_eq!(
        d.status_json("nap")["restart_policy"]["policy"],
        "on-failure"
    );
    d.ok(&["restart", "nap"]);
    assert_eq!(d.status_json("nap")["restart_policy"]["policy"], "always");
}

#[test]
fn save_writes_the_file_of_a_transient_unit() {
    let mut d = Daemon::start();
    d.ok(&["run", "--name", "nap", "--", "sleep", "1000"]);
    let pid = d.wait_main_pid("nap");
    let out = d.cli(&["enable", "nap"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "daimon: nap.service is transient; save it first: daimon save nap\n"
    );

    let out = d.cli(&["save", "nap"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = d.units_dir().join("nap.service");
    assert_eq!(
        stdout(&out),
        format!(
            "Saved nap.service as {}; it keeps running, not restarted (pid {pid}).\n\
             Start it with the daemon: daimon enable nap\n",
            file.display()
        )
    );
    assert!(file.is_file());
    d.ok(&["enable", "nap"]);
    let st = d.status_json("nap");
    assert_eq!(
        (st["pid"].clone(), st["enabled"].clone()),
        (pid.into(), "enabled".into())
    );

    let out = d.cli(&["save", "nap"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "daimon: nap.service is not transient: its unit file is {}\n",
            file.display()
        )
    );
    let out = d.cli(&["save", "nosuch"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));

    // The saved unit outlives the daemon: a new daimond adopts the same process.
    d.kill_daemon();
    d.spawn_daemon();
    let st = d.status_json("nap");
    assert_eq!(st["pid"], pid, "{st}");
    assert_eq!(st["load_state"], "loaded", "{st}");
}

#[test]
fn a_crash_looping_unit_is_saved_and_keeps_being_retried() {
    let mut d = Daemon::start();
    let dir = d.path().to_path_buf();
    d.script("flaky.sh", "exit 1");
    d.cli_in(&dir, &["run", "--restart", "always", "--", "./flaky.sh"]);
    wait_until("a restart", DEADLINE, || {
        d.status_json("flaky.sh")["restarts"].as_u64().unwrap_or(0) >= 1
    });
    let out = d.cli_in(
        &dir,
        &["run", "--restart", "always", "--save", "--", "./flaky.sh"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("Saved flaky.sh.service as "), "{text}");
    assert!(d.units_dir().join("flaky.sh.service").is_file());
    let before = d.status_json("flaky.sh")["restarts"].as_u64().unwrap_or(0);
    wait_until("another restart", DEADLINE, || {
        d.status_json("flaky.sh")["restarts"].as_u64().unwrap_or(0) > before
    });
    assert_eq!(d.status_json("flaky.sh")["load_state"], "loaded");
}
