//! systemctl's verbs against a real daimond: `is-active`/`is-enabled`/
//! `is-failed` and their exit codes, `kill`, `reset-failed`, `show` with
//! systemd's property names, `edit` with an editor script, `list-units`,
//! `list-unit-files`, `list-timers`, `remove`, `stop --all` and patterns, and
//! the tip for a mistyped command that never proposes a destructive one.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn out_text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err_text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One property's value, from `show UNIT -p NAME --value`.
fn prop(d: &mut Daemon, unit: &str, name: &str) -> String {
    d.ok(&["show", unit, "-p", name, "--value"])
        .trim_end_matches('\n')
        .to_string()
}

/// A unit that sleeps, with an [Install] section (so it can be enabled).
fn sleeper(description: &str) -> String {
    format!(
        "[Unit]\nDescription={description}\n[Service]\nExecStart=/bin/sleep 10000\n\
         [Install]\nWantedBy=default.target\n"
    )
}

/// The CLI with the editor set to `editor` (VISUAL wins over EDITOR).
fn edit(d: &Daemon, editor: &Path, args: &[&str]) -> Output {
    run_bounded(
        Command::new(bin("daimon"))
            .args(args)
            .env("DAIMON_HOME", d.path())
            .env("VISUAL", editor)
            .env("EDITOR", "/bin/false"),
        DEADLINE,
    )
}

#[test]
fn is_active_is_failed_is_enabled_answer_with_systemctl_exit_codes() {
    let mut d = Daemon::start();
    d.write_unit("web.service", &sleeper("Web"));
    d.write_unit("plain.service", "[Service]\nExecStart=/bin/sleep 10000\n");
    d.write_unit("bad.service", "[Service]\nExecStart=/bin/false\n");
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "web"]);
    d.wait_main_pid("web");

    let out = d.cli(&["is-active", "web"]);
    assert_eq!(
        (out.status.code(), out_text(&out).as_str()),
        (Some(0), "active\n")
    );
    let out = d.cli(&["is-active", "web", "nosuch"]);
    assert_eq!(out.status.code(), Some(3), "one unit is not active");
    assert_eq!(out_text(&out), "active\ninactive\n");
    let out = d.cli(&["is-active", "--quiet", "plain"]);
    assert_eq!((out.status.code(), out_text(&out).as_str()), (Some(3), ""));

    // A simple service has started once it runs: the job succeeds, the unit
    // fails right after (systemctl start answers the same).
    let _ = d.cli(&["start", "bad"]);
    wait_until("bad.service failed", DEADLINE, || {
        d.cli(&["is-failed", "--quiet", "bad"]).status.code() == Some(0)
    });
    let out = d.cli(&["is-failed", "bad", "web"]);
    assert_eq!(out.status.code(), Some(0), "one of them failed");
    assert_eq!(out_text(&out), "failed\nactive\n");
    let out = d.cli(&["is-failed", "web"]);
    assert_eq!(
        (out.status.code(), out_text(&out).as_str()),
        (Some(1), "active\n")
    );
    let out = d.cli(&["is-active", "bad"]);
    assert_eq!(
        (out.status.code(), out_text(&out).as_str()),
        (Some(3), "failed\n")
    );

    let out = d.cli(&["is-enabled", "web"]);
    assert_eq!(
        (out.status.code(), out_text(&out).as_str()),
        (Some(1), "disabled\n")
    );
    d.ok(&["enable", "web"]);
    let out = d.cli(&["is-enabled", "web"]);
    assert_eq!(
        (out.status.code(), out_text(&out).as_str()),
        (Some(0), "enabled\n")
    );
    // No [Install]: static, which systemctl counts as enabled (exit 0).
    let out = d.cli(&["is-enabled", "plain"]);
    assert_eq!(
        (out.status.code(), out_text(&out).as_str()),
        (Some(0), "static\n")
    );
    let out = d.cli(&["is-enabled", "nosuch"]);
    assert_eq!(
        (out.status.code(), out_text(&out).as_str()),
        (Some(4), "not-found\n")
    );
    d.ok(&["run", "--name", "bot", "--", "sleep", "10000"]);
    d.wait_main_pid("bot");
    let out = d.cli(&["is-enabled", "-q", "bot"]);
    assert_eq!((out.status.code(), out_text(&out).as_str()), (Some(0), ""));
    let out = d.ok(&["is-enabled", "bot"]);
    assert_eq!(out, "transient\n");
}

#[test]
fn kill_signals_every_process_or_the_main_one() {
    let mut d = Daemon::start();
    let child = d.script(
        "child.sh",
        "trap 'echo child got USR1' USR1\necho child ready\nwhile :; do sleep 0.05; done",
    );
    let main = d.script(
        "main.sh",
        &format!(
            "trap 'echo main got USR1' USR1\n{} &\nwhile :; do sleep 0.05; done",
            child.display()
        ),
    );
    d.write_unit(
        "web.service",
        &format!("[Service]\nExecStart={}\n", main.display()),
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "web"]);
    d.wait_main_pid("web");
    let count = |d: &mut Daemon, what: &str| {
        let logs = out_text(&d.cli(&["logs", "web", "-o", "cat"]));
        logs.lines().filter(|l| *l == what).count()
    };
    // Both traps are set once the child says so (a USR1 before that would
    // end it: the default action).
    wait_until("the child's trap", DEADLINE, || {
        count(&mut d, "child ready") == 1
    });
    d.record_descendants();

    d.ok(&["kill", "web", "-s", "USR1", "--kill-whom", "main"]);
    wait_until("main.sh's trap", DEADLINE, || {
        count(&mut d, "main got USR1") == 1
    });
    // Default: every process of the unit; SIG prefix and number forms work.
    d.ok(&["kill", "web", "--signal", "SIGUSR1"]);
    wait_until("both traps", DEADLINE, || {
        count(&mut d, "main got USR1") == 2 && count(&mut d, "child got USR1") >= 1
    });
    assert_eq!(
        count(&mut d, "child got USR1"),
        1,
        "main only reached main.sh"
    );

    let out = d.cli(&["kill", "web", "-s", "FOO"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err_text(&out).contains("unknown signal \"FOO\""),
        "{}",
        err_text(&out)
    );
    let out = d.cli(&["kill", "nosuch"]);
    assert_eq!(out.status.code(), Some(4), "{}", err_text(&out));

    d.ok(&["kill", "web", "-s", "9"]);
    wait_until("web.service failed after SIGKILL", DEADLINE, || {
        d.cli(&["is-failed", "-q", "web"]).status.code() == Some(0)
    });
    assert_eq!(prop(&mut d, "web", "Result"), "signal");
    assert_eq!(prop(&mut d, "web", "ExecMainCode"), "2", "killed");
    assert_eq!(prop(&mut d, "web", "ExecMainStatus"), "9");

    let out = d.cli(&["kill", "web"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        err_text(&out).trim(),
        "daimon: web.service is not running; there is no process to signal"
    );
}

#[test]
fn reset_failed_clears_the_failure_and_the_start_limit() {
    let mut d = Daemon::start();
    // Restarts at once until the start limit (5 in 10 s) stops it.
    d.write_unit(
        "crash.service",
        "[Service]\nExecStart=/bin/false\nRestart=always\nRestartSec=10ms\n",
    );
    d.write_unit("once.service", "[Service]\nExecStart=/bin/false\n");
    d.ok(&["daemon-reload"]);
    let _ = d.cli(&["start", "crash", "once"]);
    wait_until("crash.service hits its start limit", DEADLINE, || {
        prop(&mut d, "crash", "Result") == "start-limit-hit"
    });
    wait_until("once.service failed", DEADLINE, || {
        prop(&mut d, "once", "ActiveState") == "failed"
    });
    assert_ne!(prop(&mut d, "crash", "NRestarts"), "0");

    d.ok(&["reset-failed", "crash"]);
    let out = d.cli(&["is-failed", "crash"]);
    assert_eq!(
        (out.status.code(), out_text(&out).as_str()),
        (Some(1), "inactive\n")
    );
    let shown = d.ok(&[
        "show",
        "crash",
        "-p",
        "ActiveState,SubState,Result,NRestarts",
    ]);
    assert_eq!(
        shown,
        "Result=success\nNRestarts=0\nActiveState=inactive\nSubState=dead\n"
    );
    assert_eq!(prop(&mut d, "once", "ActiveState"), "failed", "not named");

    // No unit named: every unit.
    d.ok(&["reset-failed"]);
    assert_eq!(prop(&mut d, "once", "ActiveState"), "inactive");
    let out = d.cli(&["reset-failed", "nosuch"]);
    assert_eq!(out.status.code(), Some(4), "{}", err_text(&out));
}

#[test]
fn show_prints_systemd_properties_for_scripts() {
    let mut d = Daemon::start();
    let path = d.write_unit(
        "web.service",
        "[Unit]\nDescription=Web server\nAfter=db.service\n[Service]\n\
         ExecStart=/bin/sleep 10000\nRestart=on-failure\nRestartSec=5\n\
         Environment=PORT=8080\n",
    );
    d.ok(&["daemon-reload"]);
    let before = d.ok(&["show", "web"]);
    for line in [
        "Id=web.service",
        "LoadState=loaded",
        "ActiveState=inactive",
        "SubState=dead",
        "MainPID=0",
        "ActiveEnterTimestamp=",
        "MemoryCurrent=[not set]",
    ] {
        assert!(before.lines().any(|l| l == line), "{line} in {before}");
    }
    d.ok(&["start", "web"]);
    let pid = d.wait_main_pid("web");

    let out = d.ok(&["show", "web", "-p", "ActiveState,SubState", "-p", "MainPID"]);
    assert_eq!(
        out,
        format!("MainPID={pid}\nActiveState=active\nSubState=running\n")
    );
    let all = d.ok(&["show", "web"]);
    let value = |k: &str| {
        all.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} missing from show: {all}"))
            .to_string()
    };
    assert_eq!(value("Names"), "web.service");
    assert_eq!(value("Description"), "Web server");
    assert_eq!(value("UnitFileState"), "static");
    assert_eq!(value("FragmentPath"), path.display().to_string());
    assert_eq!(value("Type"), "simple");
    assert_eq!(value("Restart"), "on-failure");
    assert_eq!(value("RestartUSec"), "5s");
    assert_eq!(value("Environment"), "PORT=8080");
    assert_eq!(value("After"), "db.service");
    assert_eq!(value("ExecMainPID"), pid.to_string());
    assert_eq!(value("NRestarts"), "0");
    assert_eq!(value("Result"), "success");
    assert!(
        value("MemoryCurrent").parse::<u64>().is_ok_and(|m| m > 0),
        "{all}"
    );
    assert!(value("CPUUsageNSec").parse::<u64>().is_ok(), "{all}");
    assert_eq!(value("InvocationID").len(), 32);
    let since = value("ActiveEnterTimestamp");
    assert!(
        since.len() > 20 && since.chars().nth(3) == Some(' '),
        "a weekday and a date: {since}"
    );
    assert_eq!(value("InactiveEnterTimestamp"), "");
    assert!(value("ExecStart").starts_with("{ path=/bin/sleep ; argv[]=/bin/sleep 10000"));

    d.ok(&["stop", "web"]);
    let out = d.ok(&[
        "show",
        "web",
        "-p",
        "ExecMainCode,ExecMainStatus,MainPID,ActiveState",
    ]);
    // SIGTERM ended it: code 2 (killed), status 15; a clean stop, not a failure.
    assert_eq!(
        out,
        "MainPID=0\nExecMainCode=2\nExecMainStatus=15\nActiveState=inactive\n"
    );
    assert_ne!(prop(&mut d, "web", "InactiveEnterTimestamp"), "");

    // Unknown units are shown as not found, and show succeeds (systemctl).
    let out = d.ok(&["show", "nosuch", "-p", "LoadState,ActiveState"]);
    assert_eq!(out, "LoadState=not-found\nActiveState=inactive\n");
    // Two units: two blocks.
    let out = d.ok(&["show", "web", "nosuch", "-p", "Id"]);
    assert_eq!(out, "Id=web.service\n\nId=nosuch.service\n");
}

#[test]
fn list_units_list_unit_files_and_list_timers_with_json() {
    let mut d = Daemon::start();
    d.write_unit("web.service", &sleeper("Web"));
    d.write_unit("idle.service", &sleeper("Idle"));
    d.write_unit(
        "broken.service",
        "[Service]\nExecStart=/bin/true\nRestart=sometimes\n",
    );
    // An empty file masks a unit (systemd.unit(5)).
    d.write_unit("hidden.service", "");
    d.write_unit(
        "w@.service",
        "[Unit]\nDescription=Worker %i\n[Service]\nExecStart=/bin/sleep 10000\n",
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "web", "w@a"]);
    d.ok(&["enable", "web"]);
    d.ok(&["run", "--name", "bot", "--", "sleep", "10000"]);
    d.wait_main_pid("bot");

    let table = d.ok(&["list-units"]);
    let mut lines = table.lines();
    assert_eq!(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["UNIT", "LOAD", "ACTIVE", "SUB", "DESCRIPTION"])
    );
    let names: Vec<&str> = table
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["bot.service", "w@a.service", "web.service"]);
    assert!(
        table.ends_with(
            "\n3 loaded units listed.\nPass --all to see loaded but inactive units, too.\n"
        ),
        "{table}"
    );
    let all = d.ok(&["list-units", "--all"]);
    assert!(all.lines().any(|l| l.starts_with("idle.service ")), "{all}");
    assert!(
        !all.contains("w@.service"),
        "a template is no loaded unit: {all}"
    );

    let json = d.ok(&["list-units", "--all", "w*", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("list-units JSON");
    let names: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|u| u["name"].as_str())
        .collect();
    assert_eq!(names, ["w@a.service", "web.service"]);
    assert_eq!(v[1]["state"], "active");
    assert_eq!(v[1]["sub_state"], "running");
    let inactive = d.ok(&["list-units", "--state", "inactive", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&inactive).expect("JSON");
    let v = v.as_array().expect("array");
    assert!(v.iter().all(|u| u["state"] == "inactive"), "{inactive}");
    assert!(v.iter().any(|u| u["name"] == "idle.service"), "{inactive}");
    let bad = d.ok(&["list-units", "--state", "bad-setting,masked"]);
    let names: Vec<&str> = bad
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names[..2], ["broken.service", "hidden.service"], "{bad}");

    let files = d.ok(&["list-unit-files"]);
    let rows: Vec<Vec<&str>> = files
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["UNIT", "FILE", "STATE"]);
    assert_eq!(
        rows[1..7],
        [
            vec!["bot.service", "transient"],
            vec!["broken.service", "bad"],
            vec!["hidden.service", "masked"],
            vec!["idle.service", "disabled"],
            vec!["w@.service", "static"],
            vec!["web.service", "enabled"],
        ]
    );
    assert!(files.ends_with("\n6 unit files listed.\n"), "{files}");
    // A file written since the last reload is listed too.
    d.write_unit("new.service", &sleeper("New"));
    let json = d.ok(&["list-unit-files", "n*", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("list-unit-files JSON");
    assert_eq!(v[0]["unit_file"], "new.service");
    assert_eq!(v[0]["state"], "disabled");
    assert_eq!(v.as_array().map(Vec::len), Some(1));

    // list-timers is `daimon timers`.
    assert_eq!(d.ok(&["list-timers"]), d.ok(&["timers"]));
    assert_eq!(d.ok(&["list-timers", "-o", "json"]).trim(), "[]");
}

#[test]
fn edit_writes_a_checked_drop_in_or_the_whole_file_and_reloads() {
    let mut d = Daemon::start();
    let unit = d.write_unit("web.service", &sleeper("Web"));
    d.ok(&["daemon-reload"]);
    let dropin = d.units_dir().join("web.service.d/override.conf");

    // An editor that leaves the text as it is: nothing written.
    let same = d.script("same.sh", "exit 0");
    let out = edit(&d, &same, &["edit", "web"]);
    assert_eq!(out.status.code(), Some(0), "{}", err_text(&out));
    assert!(
        out_text(&out).starts_with("No changes to "),
        "{}",
        out_text(&out)
    );
    assert!(!dropin.exists());

    let good = d.script(
        "good.sh",
        "printf '[Service]\\nEnvironment=GREETING=hello\\n' > \"$1\"",
    );
    let out = edit(&d, &good, &["edit", "web"]);
    assert_eq!(out.status.code(), Some(0), "{}", err_text(&out));
    assert_eq!(out_text(&out), format!("Saved {}.\n", dropin.display()));
    assert_eq!(
        std::fs::read_to_string(&dropin).expect("override.conf"),
        "[Service]\nEnvironment=GREETING=hello\n"
    );
    // Reloaded: the daemon sees the drop-in.
    assert_eq!(prop(&mut d, "web", "Environment"), "GREETING=hello");
    assert_eq!(
        prop(&mut d, "web", "DropInPaths"),
        dropin.display().to_string()
    );

    // An error: nothing written, the text kept in a named file, file:line shown.
    let bad = d.script(
        "bad.sh",
        "printf '[Service]\\nRestart=sometimes\\n' > \"$1\"",
    );
    let out = edit(&d, &bad, &["edit", "web"]);
    assert_eq!(out.status.code(), Some(1));
    let err = err_text(&out);
    let kept = err
        .rsplit_once("your text is kept in ")
        .map(|(_, p)| p.trim().to_string())
        .unwrap_or_else(|| panic!("the kept file is named: {err}"));
    assert!(
        err.contains(&format!("{kept}:2:")),
        "file:line of the error: {err}"
    );
    assert_eq!(
        std::fs::read_to_string(&kept).expect("kept text"),
        "[Service]\nRestart=sometimes\n"
    );
    let _ = std::fs::remove_file(&kept);
    assert_eq!(
        std::fs::read_to_string(&dropin).expect("override.conf"),
        "[Service]\nEnvironment=GREETING=hello\n",
        "the drop-in is unchanged"
    );

    // A running unit is told that the change waits for its next start.
    d.ok(&["start", "web"]);
    let env = d.script(
        "env.sh",
        "printf '[Service]\\nEnvironment=GREETING=bye\\n' > \"$1\"",
    );
    let out = edit(&d, &env, &["edit", "web"]);
    assert_eq!(out.status.code(), Some(0), "{}", err_text(&out));
    assert_eq!(
        out_text(&out),
        format!(
            "Saved {}.\nweb.service runs with its previous settings until it next starts.\n",
            dropin.display()
        )
    );
    assert_eq!(prop(&mut d, "web", "Environment"), "GREETING=bye");
    d.ok(&["stop", "web"]);

    // --full edits the unit file itself.
    let full = d.script(
        "full.sh",
        "sed -i 's/^Description=Web$/Description=Edited/' \"$1\"",
    );
    let out = edit(&d, &full, &["edit", "web", "--full"]);
    assert_eq!(out.status.code(), Some(0), "{}", err_text(&out));
    assert!(
        std::fs::read_to_string(&unit)
            .expect("unit")
            .contains("Description=Edited\n")
    );
    assert_eq!(prop(&mut d, "web", "Description"), "Edited");

    // A transient unit has no file to edit.
    d.ok(&["run", "--name", "bot", "--", "sleep", "10000"]);
    d.wait_main_pid("bot");
    let out = edit(&d, &good, &["edit", "bot"]);
    assert_eq!(out.status.code(), Some(1));
    let err = err_text(&out);
    assert!(err.contains("bot.service is a transient unit"), "{err}");
    assert!(err.contains("daimon run --save --name bot"), "{err}");
    let out = edit(&d, &good, &["edit", "nosuch"]);
    assert_eq!(out.status.code(), Some(4), "{}", err_text(&out));
}

#[test]
fn remove_stops_disables_and_deletes_a_saved_unit() {
    let mut d = Daemon::start();
    let file = d.write_unit("web.service", &sleeper("Web"));
    let dropins = d.units_dir().join("web.service.d");
    d.write_unit("web.service.d/port.conf", "[Service]\nEnvironment=PORT=1\n");
    d.write_unit("w@.service", "[Service]\nExecStart=/bin/sleep 10000\n");
    d.ok(&["daemon-reload"]);
    d.ok(&["enable", "web"]);
    d.ok(&["start", "web", "w@a"]);
    let pid = d.wait_main_pid("web");
    d.ok(&["run", "--name", "bot", "--", "sleep", "10000"]);
    d.wait_main_pid("bot");

    let out = d.cli(&["remove", "bot"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err_text(&out).contains("bot.service is a transient unit"),
        "{}",
        err_text(&out)
    );
    let out = d.cli(&["remove", "w@a"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err_text(&out).contains("instance of w@.service"),
        "{}",
        err_text(&out)
    );
    let out = d.cli(&["remove", "nosuch"]);
    assert_eq!(out.status.code(), Some(4), "{}", err_text(&out));
    assert!(file.exists(), "a refused removal touches nothing");

    let out = d.ok(&["remove", "web"]);
    assert_eq!(
        out,
        "Removed web.service: stopped, disabled, unit file and drop-ins deleted.\n"
    );
    assert!(!file.exists() && !dropins.exists());
    assert!(!pid_alive(pid), "its process ended");
    let out = d.cli(&["is-active", "web"]);
    assert_eq!(
        (out.status.code(), out_text(&out).as_str()),
        (Some(3), "inactive\n")
    );
    assert_eq!(d.cli(&["is-enabled", "web"]).status.code(), Some(4));
    // Forgotten: the table of units has no not-found row.
    let status = d.cli(&["status"]);
    assert_eq!(status.status.code(), Some(0), "{}", err_text(&status));
    assert!(
        !out_text(&status).contains("web.service"),
        "{}",
        out_text(&status)
    );
    assert!(!d.ok(&["list-unit-files"]).contains("web.service"));
    // Disabled: a restarted daemon does not look for it.
    let enabled = std::fs::read_to_string(d.path().join("state/enabled")).unwrap_or_default();
    assert!(!enabled.contains("web.service"), "{enabled}");
}

#[test]
fn stop_all_and_unit_name_patterns() {
    let mut d = Daemon::start();
    d.write_unit("w@.service", "[Service]\nExecStart=/bin/sleep 10000\n");
    d.write_unit("x.service", "[Service]\nExecStart=/bin/sleep 10000\n");
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "w@a", "w@b", "x"]);
    let active = |d: &mut Daemon, u: &str| d.cli(&["is-active", "-q", u]).status.code() == Some(0);

    d.ok(&["stop", "w@*"]);
    assert!(!active(&mut d, "w@a") && !active(&mut d, "w@b"));
    assert!(active(&mut d, "x"), "x.service does not match w@*");
    // start and restart take patterns over loaded units too.
    d.ok(&["start", "w@*"]);
    assert!(active(&mut d, "w@a") && active(&mut d, "w@b"));
    let before = d.status_json("w@a")["pid"].as_u64();
    d.ok(&["restart", "w@[a-c]"]);
    assert_ne!(d.status_json("w@a")["pid"].as_u64(), before, "restarted");

    // Queries take patterns too: is-active, show, status.
    let out = d.cli(&["is-active", "w@*"]);
    assert_eq!(
        (out.status.code(), out_text(&out).as_str()),
        (Some(0), "active\nactive\n")
    );
    let out = d.cli(&["is-active", "nomatch*"]);
    assert_eq!((out.status.code(), out_text(&out).as_str()), (Some(3), ""));
    assert_eq!(
        d.ok(&["show", "w@*", "-p", "Id", "--value"]),
        "w@a.service\n\nw@b.service\n"
    );
    let json = d.ok(&["status", "w@*", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("status JSON");
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{json}");

    let out = d.cli(&["stop", "nomatch*"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        err_text(&out).contains("no loaded unit matches the pattern \"nomatch*.service\""),
        "{}",
        err_text(&out)
    );

    d.ok(&["stop", "--all"]);
    for u in ["w@a", "w@b", "x"] {
        assert!(!active(&mut d, u), "{u} stopped by --all");
    }
    // Nothing runs: --all has nothing to do and succeeds.
    d.ok(&["stop", "--all"]);
    let out = d.cli(&["stop"]);
    assert_eq!(out.status.code(), Some(1), "a unit or --all is required");
}

#[test]
fn a_mistyped_command_never_gets_a_destructive_tip() {
    let mut d = Daemon::home_only();
    for typo in [
        "shutdwn", "shutdow", "stp", "sotp", "kil", "remov", "restar",
    ] {
        let out = d.cli(&[typo]);
        assert_eq!(out.status.code(), Some(1), "{typo}");
        let err = err_text(&out);
        assert!(
            err.starts_with(&format!("daimon: unknown command \"{typo}\"")),
            "{err}"
        );
        for bad in [
            "shutdown",
            "\"daimon stop\"",
            "\"daimon kill\"",
            "\"daimon remove\"",
            "\"daimon restart\"",
            "'stop'",
        ] {
            assert!(!err.contains(bad), "{typo} suggested {bad}: {err}");
        }
    }
    let err = err_text(&d.cli(&["statsu"]));
    assert!(err.contains("similar: \"daimon status\""), "{err}");
    assert!(!d.pid_file().exists(), "a typo starts no daemon");
}
