//! The CLI against real services: `run` defaults, status views and their exit
//! codes, jobs on unknown units, `cat`, `list`, and logs of service output.

mod common;

use std::time::Duration;

use common::*;

fn out_text(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err_text(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn run_defaults_name_workdir_and_path_like_the_users_shell() {
    let mut d = Daemon::start();
    let project = d.path().join("project");
    std::fs::create_dir_all(&project).expect("project dir");
    std::fs::write(project.join("data.txt"), "hello from a relative file\n").expect("data");
    std::fs::write(
        project.join("bot.sh"),
        "echo \"cwd=$(pwd)\"\necho \"PATH=$PATH\"\ncat data.txt\nexec sleep 10000\n",
    )
    .expect("script");

    // `sh bot.sh`: an interpreter and a relative script; named after the script.
    let out = d.cli_in(&project, &["run", "--", "sh", "bot.sh"]);
    assert!(out.status.success(), "{}", err_text(&out));
    let said = out_text(&out);
    assert!(
        said.starts_with("Started bot.service (pid ")
            && said.contains("Follow its output with: daimon logs bot -f"),
        "{said}"
    );
    d.wait_main_pid("bot");
    wait_until("the script's output", DEADLINE, || {
        out_text(&d.cli(&["logs", "bot", "-o", "cat"])).contains("hello from a relative file")
    });
    let logs = out_text(&d.cli(&["logs", "bot", "-o", "cat"]));
    assert!(
        logs.contains(&format!("cwd={}", project.display())),
        "{logs}"
    );
    let path = std::env::var("PATH").unwrap_or_default();
    assert!(logs.contains(&format!("PATH={path}")), "{logs}");

    // The unit text the CLI rendered is what `cat` shows, with systemd's quoting.
    let cat = out_text(&d.cli(&["cat", "bot"]));
    assert!(cat.contains("ExecStart=/"), "{cat}");
    assert!(cat.contains("sh bot.sh\n"), "{cat}");
    assert!(cat.contains("Restart=on-failure"), "{cat}");
}

#[test]
fn status_exit_codes_and_unknown_units() {
    let mut d = Daemon::start();
    d.ok(&["run", "--name", "web", "--", "sleep", "10000"]);
    d.wait_main_pid("web");

    let out = d.cli(&["status", "web"]);
    assert_eq!(out.status.code(), Some(0), "{}", err_text(&out));

    let out = d.cli(&["status", "nosuch"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        err_text(&out).trim(),
        format!(
            "daimon: unit \"nosuch.service\" not found in {} or among the 1 loaded units; `daimon list` shows them",
            d.path().join("units").display()
        )
    );
    // A typo gets the unit it was meant to be, not a list of every unit.
    let out = d.cli(&["status", "wbe"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        err_text(&out).trim(),
        "daimon: unit \"wbe.service\" not found; did you mean web.service?"
    );
    let out = d.cli(&["start", "nosuch"]);
    assert_eq!(out.status.code(), Some(4), "{}", err_text(&out));
    assert!(
        err_text(&out).contains("nosuch.service"),
        "{}",
        err_text(&out)
    );

    d.ok(&["stop", "web"]);
    let out = d.cli(&["status", "web"]);
    assert_eq!(out.status.code(), Some(3), "stopped unit: exit 3");
    assert!(
        out_text(&out).contains("Active: inactive (dead)"),
        "{}",
        out_text(&out)
    );
}

#[test]
fn status_views_are_stable() {
    let mut d = Daemon::start();
    let dir = d.path().to_path_buf();
    let script = d.script("hello.sh", "echo hello\nexec sleep 10000");
    let script = script.to_str().expect("utf-8").to_string();
    d.cli_in(&dir, &["run", "--name", "hello", "--", &script]);
    let pid = d.wait_main_pid("hello");
    wait_until("hello's output", DEADLINE, || {
        out_text(&d.cli(&["logs", "hello", "-o", "cat"])).contains("hello\n")
    });

    let table = out_text(&d.cli(&["status"]));
    let mut lines = table.lines();
    assert_eq!(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec![
            "UNIT",
            "LOAD",
            "ACTIVE",
            "SUB",
            "PID",
            "RESTARTS",
            "UPTIME",
            "MEM",
            "CPU",
            "DESCRIPTION"
        ])
    );
    let row: Vec<String> = lines
        .next()
        .expect("a row")
        .split_whitespace()
        .map(redact_numbers)
        .collect();
    assert_eq!(
        row[..6],
        ["hello.service", "transient", "active", "running", "N", "N"]
    );
    assert!(
        row[8].ends_with('s') && row[8] != "-",
        "a running unit's CPU time: {table}"
    );
    assert!(table.contains("\n1 unit listed.\n"), "{table}");

    let detail = d.ok(&["status", "hello"]);
    let detail = detail
        .replace(&pid.to_string(), "PID")
        .replace(&script, "SCRIPT");
    let lines: Vec<&str> = detail.lines().collect();
    assert_eq!(lines[0], "● hello.service - SCRIPT");
    assert_eq!(lines[1], "     Loaded: transient");
    assert!(
        lines[2].starts_with("     Active: active (running) since "),
        "{detail}"
    );
    assert!(lines[2].ends_with(" ago"), "{detail}");
    assert_eq!(lines[3], "   Main PID: PID");
    assert!(
        detail.lines().any(|l| l.ends_with(" hello[PID]: hello")),
        "recent log lines in the detail view: {detail}"
    );

    let json = d.status_json("hello");
    for key in [
        "name",
        "state",
        "sub_state",
        "pid",
        "restarts",
        "since",
        "result",
        "status_text",
        "memory_bytes",
        "cpu_usec",
    ] {
        assert!(
            json.get(key).is_some(),
            "status -o json lacks {key}: {json}"
        );
    }
    let list = d.ok(&["list", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&list).expect("list JSON");
    assert_eq!(v[0]["name"], "hello.service");
}

#[test]
fn logs_of_a_chatty_service_stream_fast_and_stop_quietly_on_a_closed_pipe() {
    let mut d = Daemon::start();
    let n = 200_000;
    let script = d.script("chatty.sh", &format!("seq 1 {n}\nexec sleep 10000"));
    d.ok(&[
        "run",
        "--name",
        "chatty",
        "--",
        script.to_str().expect("utf-8"),
    ]);
    wait_until("all lines stored", Duration::from_secs(30), || {
        let o = d.cli(&["logs", "chatty", "-o", "cat", "-n", "1", "-g", "^[0-9]+$"]);
        out_text(&o).trim() == n.to_string()
    });
    let started = std::time::Instant::now();
    let o = d.cli(&["logs", "chatty", "-o", "cat", "-g", "^[0-9]+$"]);
    let took = started.elapsed();
    let text = out_text(&o);
    assert_eq!(text.lines().count(), n, "every line once");
    assert!(text.starts_with("1\n2\n3\n") && text.ends_with(&format!("{n}\n")));
    eprintln!("logs -o cat of {n} lines: {took:?}");

    // `daimon logs | head -1`: the reader leaves early; no error, no message.
    let o = run_bounded(
        std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -o pipefail; \"{}\" logs chatty -o cat -g '^[0-9]+$' | head -n 1",
                bin("daimon").display()
            ))
            .env("DAIMON_HOME", d.path()),
        DEADLINE,
    );
    assert_eq!(out_text(&o), "1\n");
    assert_eq!(err_text(&o), "", "quiet on a closed pipe");
    assert_eq!(o.status.code(), Some(0), "exit 0 on a closed pipe");
}

#[test]
fn unit_files_jobs_cat_enable_and_list() {
    let mut d = Daemon::start();
    let unit = d.write_unit(
        "web.service",
        "[Unit]\nDescription=Web\n\n[Service]\nExecStart=/bin/sleep 10000\n\n[Install]\nWantedBy=default.target\n",
    );
    let dropin = d.write_unit("web.service.d/env.conf", "[Service]\nEnvironment=A=1\n");
    d.ok(&["daemon-reload"]);

    let cat = d.ok(&["cat", "web"]);
    assert_eq!(
        cat,
        format!(
            "# {}\n[Unit]\nDescription=Web\n\n[Service]\nExecStart=/bin/sleep 10000\n\n\
             [Install]\nWantedBy=default.target\n\n# {}\n[Service]\nEnvironment=A=1\n",
            unit.display(),
            dropin.display()
        )
    );

    d.ok(&["start", "web"]);
    let first = d.wait_main_pid("web");
    d.ok(&["restart", "web"]);
    let second = d.wait_main_pid("web");
    assert_ne!(first, second, "restart runs a new process");

    d.ok(&["enable", "web"]);
    let list: serde_json::Value =
        serde_json::from_str(&d.ok(&["list", "-o", "json"])).expect("list JSON");
    let web = list
        .as_array()
        .and_then(|a| a.iter().find(|u| u["name"] == "web.service"))
        .cloned()
        .expect("web in list");
    assert_eq!(web["enabled"], "enabled");
    assert_eq!(web["state"], "active");
    d.ok(&["disable", "web"]);
    d.ok(&["stop", "web"]);
    let table = d.ok(&["list"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("web.service"))
        .expect("row");
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        [
            "web.service",
            "loaded",
            "inactive",
            "dead",
            "disabled",
            "Web"
        ]
    );
}
