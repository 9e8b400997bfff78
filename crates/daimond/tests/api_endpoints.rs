//! The HTTP API as a script uses it: discovery through `api.json`, then every
//! endpoint with curl, answers checked against what the CLI says.

mod api_common;
mod common;

use std::os::unix::fs::PermissionsExt;

use api_common::Api;
use common::{DEADLINE, Daemon, wait_until};

#[test]
fn api_json_is_private_new_at_each_start_and_gone_after_a_clean_exit() {
    let mut d = Daemon::start();
    let path = d.path().join("run/api.json");
    let api = Api::of(d.path());
    let mode = std::fs::metadata(&path)
        .expect("api.json")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "api.json holds the token");
    assert_eq!(api.token.len(), 64, "256 bits as hex");
    assert!(api.token.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(api.url, format!("http://127.0.0.1:{}/", api.port));
    assert_eq!(Some(api.pid as u32), d.daemon_pid());
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains("\"version\""), "{text}");

    d.ok(&["shutdown"]);
    wait_until("api.json removed at exit", DEADLINE, || !path.exists());
    d.spawn_daemon();
    let again = Api::of(d.path());
    assert_ne!(again.token, api.token, "a new token at each start");
    assert_eq!(api.get("api/units").status, 0, "the old port is closed");
    assert_eq!(again.get("api/units").status, 200);
}

#[test]
fn units_are_listed_shown_and_driven() {
    let mut d = Daemon::start();
    d.write_unit(
        "web.service",
        "[Unit]\nDescription=web\n[Service]\nExecStart=/bin/sleep 300\nExecReload=/bin/true\n\
         [Install]\nWantedBy=default.target\n",
    );
    d.ok(&["daemon-reload"]);
    let api = Api::of(d.path());

    let list = api.get("api/units");
    assert_eq!(list.status, 200, "{list:?}");
    let names: Vec<_> = list
        .json()
        .as_array()
        .expect("array")
        .iter()
        .map(|u| u["name"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(names.contains(&"web.service".to_string()), "{names:?}");

    let started = api.post("api/units/web/start", "");
    assert_eq!(started.status, 200, "{started:?}");
    assert_eq!(started.json()["jobs"][0]["unit"], "web.service");
    let pid = d.wait_main_pid("web.service");
    let shown = api.get("api/units/web.service");
    assert_eq!(shown.status, 200);
    let cli = d.status_json("web.service");
    for key in ["name", "state", "sub_state", "pid", "enabled", "load_state"] {
        assert_eq!(shown.json()[key], cli[key], "{key} as the CLI says");
    }
    assert_eq!(shown.json()["pid"], pid);
    let with_logs = api.get("api/units/web?lines=5");
    assert!(
        with_logs.json()["recent_logs"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
    );

    assert_eq!(api.post("api/units/web/reload", "").status, 200);
    assert_eq!(api.post("api/units/web/enable", "").status, 200);
    assert_eq!(d.status_json("web.service")["enabled"], "enabled");
    assert_eq!(api.post("api/units/web/disable", "").status, 200);
    assert_eq!(d.status_json("web.service")["enabled"], "disabled");

    let restarted = api.post("api/units/web/restart", "");
    assert_eq!(restarted.status, 200, "{restarted:?}");
    wait_until("a new main PID", DEADLINE, || {
        let st = d.status_json("web.service");
        st["pid"].as_u64().is_some_and(|p| p != pid as u64) && st["state"] == "active"
    });
    let new_pid = d.wait_main_pid("web.service");

    let killed = api.post("api/units/web/kill", r#"{"signal":"KILL","whom":"main"}"#);
    assert_eq!(killed.status, 200, "{killed:?}");
    wait_until("the service killed", DEADLINE, || {
        !common::pid_alive(new_pid)
    });

    // SIGKILL is not a clean exit: systemd's Result=signal, state failed.
    wait_until("web failed by the signal", DEADLINE, || {
        d.status_json("web.service")["state"] == "failed"
    });
    assert_eq!(api.post("api/units/web/start", "").status, 200);
    d.wait_main_pid("web.service");
    assert_eq!(api.post("api/units/web/stop", "").status, 200);
    assert_eq!(d.status_json("web.service")["state"], "inactive");

    let missing = api.get("api/units/nope.service");
    assert_eq!(
        (missing.status, missing.code()),
        (404, "not_found".into()),
        "{missing:?}"
    );
    let missing = api.post("api/units/nope/start", "");
    assert_eq!(missing.status, 404, "{missing:?}");
    let bad = api.post("api/units/..%2Fevil/start", "");
    assert_eq!((bad.status, bad.code()), (400, "invalid".into()), "{bad:?}");
    let verb = api.post("api/units/web/explode", "");
    assert_eq!((verb.status, verb.code()), (404, "no_route".into()));
    let method = api.get("api/units/web/start");
    assert_eq!(
        (method.status, method.code()),
        (405, "method_not_allowed".into())
    );
}

#[test]
fn run_daemon_reload_verify_and_timers() {
    let mut d = Daemon::start();
    let api = Api::of(d.path());
    let run = api.post(
        "api/run",
        r#"{"name":"hello.service","unit_text":"[Service]\nExecStart=/bin/sh -c 'echo hello from the api; sleep 300'\n"}"#,
    );
    assert_eq!(run.status, 200, "{run:?}");
    d.wait_main_pid("hello.service");
    assert_eq!(d.status_json("hello.service")["load_state"], "transient");

    d.write_unit(
        "tick.timer",
        "[Timer]\nOnCalendar=*-*-* 03:00:00\n[Install]\nWantedBy=timers.target\n",
    );
    d.write_unit(
        "tick.service",
        "[Service]\nType=oneshot\nExecStart=/bin/true\n",
    );
    let reload = api.post("api/daemon-reload", "");
    assert_eq!(
        (reload.status, reload.json()["result"].clone()),
        (200, "done".into())
    );
    assert_eq!(api.post("api/units/tick.timer/start", "").status, 200);
    let timers = api.get("api/timers");
    assert_eq!(timers.status, 200);
    let t = &timers.json()[0];
    assert_eq!(t["unit"], "tick.timer");
    assert_eq!(t["activates"], "tick.service");
    assert!(t["next"].is_string(), "{t}");

    let ok = api.post(
        "api/verify",
        r#"{"name":"x.service","text":"[Service]\nExecStart=/bin/true\n"}"#,
    );
    assert_eq!(
        (ok.status, ok.json()["valid"].clone()),
        (200, true.into()),
        "{ok:?}"
    );
    let bad = api.post(
        "api/verify",
        r#"{"name":"x.service","text":"[Service]\nType=sometimes\nExecStart=/bin/true\n"}"#,
    );
    assert_eq!(bad.json()["valid"], false, "{bad:?}");
    let diag = &bad.json()["diagnostics"][0];
    assert_eq!(diag["line"], 2);
    assert_eq!(diag["severity"], "error");
}

#[test]
fn logs_take_every_filter_of_daimon_logs() {
    let mut d = Daemon::start();
    let api = Api::of(d.path());
    d.ok(&[
        "run",
        "--name",
        "talk",
        "--",
        "/bin/sh",
        "-c",
        "echo one; echo two; echo oops >&2; echo three; sleep 300",
    ]);
    wait_until("three lines stored", DEADLINE, || {
        api.get("api/logs?unit=talk&output=cat")
            .body
            .contains("three")
    });
    let all = api.get("api/logs?unit=talk&output=cat&match=_TRANSPORT%3Dstdout");
    assert_eq!(all.status, 200);
    assert_eq!(all.body, "one\ntwo\nthree\n");
    let cli = d.ok(&["logs", "talk", "-o", "cat", "_TRANSPORT=stdout"]);
    assert_eq!(all.body, cli, "the same answer as the CLI");
    let last = api.get("api/logs?unit=talk&output=cat&lines=1&match=_TRANSPORT=stdout");
    assert_eq!(last.body, "three\n");
    let grep =
        api.get("api/logs?unit=talk&output=cat&grep=t%28wo%7Chree%29&match=_TRANSPORT=stdout");
    assert_eq!(grep.body, "two\nthree\n");
    let stderr = api.get("api/logs?unit=talk&output=cat&match=_TRANSPORT=stderr");
    assert_eq!(stderr.body, "oops\n");
    let err = api.get("api/logs?unit=talk&output=cat&priority=info");
    assert!(err.body.contains("oops"), "{err:?}");
    assert_eq!(err.body, d.ok(&["logs", "talk", "-o", "cat", "-p", "info"]));
    let future = api.get("api/logs?unit=talk&since=%2B1h");
    assert_eq!((future.status, future.body.as_str()), (200, ""));
    let until = api.get("api/logs?unit=talk&until=-1h");
    assert_eq!(until.body, "");
    // Export: the CLI's bytes, with systemd-journal-gatewayd's content type.
    let export = api.curl(
        &["-D", "-"],
        "api/logs?unit=talk&output=export&lines=2&match=_TRANSPORT=stdout",
    );
    let (head, body) = export
        .body
        .split_once("\r\n\r\n")
        .expect("headers, then the body");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/vnd.fdo.journal"),
        "{head}"
    );
    assert!(body.ends_with("MESSAGE=three\n\n"), "{body}");
    assert_eq!(
        body,
        d.ok(&[
            "logs",
            "talk",
            "-o",
            "export",
            "-n",
            "2",
            "_TRANSPORT=stdout"
        ])
    );
    let json = api.get("api/logs?unit=talk&output=json&lines=1");
    let line: serde_json::Value = serde_json::from_str(json.body.trim()).expect("a JSON line");
    let inv = line["_SYSTEMD_INVOCATION_ID"]
        .as_str()
        .or(line["INVOCATION_ID"].as_str())
        .unwrap_or_default()
        .to_string();
    if !inv.is_empty() {
        let by_inv = api.get(&format!("api/logs?invocation={inv}&output=cat&lines=1"));
        assert_eq!(by_inv.status, 200);
    }

    let bad = api.get("api/logs?unit=talk&since=soon");
    assert_eq!((bad.status, bad.code()), (400, "invalid".into()));
    assert!(
        bad.json()["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("--since"),
        "{bad:?}"
    );
    let typo = api.get("api/logs?units=talk");
    assert_eq!(typo.status, 400);
    assert!(typo.body.contains("unknown query parameter"), "{typo:?}");
    let unknown = api.get("api/logs?unit=nobody");
    assert_eq!(unknown.status, 404, "{unknown:?}");
    let regex = api.get("api/logs?unit=talk&grep=%28");
    assert_eq!(
        (regex.status, regex.code()),
        (400, "invalid".into()),
        "{regex:?}"
    );
}

#[test]
fn the_cli_tells_where_the_api_is_without_the_token() {
    let mut d = Daemon::start();
    let api = Api::of(d.path());
    let shown: serde_json::Value = serde_json::from_str(&d.ok(&["api"])).expect("JSON");
    assert_eq!(shown["url"], api.url.as_str());
    assert_eq!(shown["port"], api.port);
    assert!(shown.get("token").is_none(), "{shown}");
    let out = d.ok(&["api", "--show-token"]);
    assert!(out.contains(&api.token));
    let table = d.ok(&["status"]);
    assert_eq!(
        table.lines().last(),
        Some(format!("HTTP API: {} (token: daimon api --show-token)", api.url).as_str()),
        "{table}"
    );
    assert!(!table.contains(&api.token));
}

#[test]
fn a_client_may_take_a_job_id_instead_of_waiting() {
    let mut d = Daemon::start();
    d.write_unit(
        "slow.service",
        "[Service]\nType=oneshot\nExecStart=/bin/sleep 1\n",
    );
    d.ok(&["daemon-reload"]);
    let api = Api::of(d.path());
    let started = std::time::Instant::now();
    let accepted = api.post("api/units/slow/start?wait=false", "");
    assert_eq!(accepted.status, 202, "{accepted:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_millis(900),
        "not waited for"
    );
    let id = accepted.json()["id"].as_u64().expect("a job id");
    assert_eq!(accepted.json()["url"], format!("/api/jobs/{id}"));
    let mut job = serde_json::Value::Null;
    wait_until("the job done", DEADLINE, || {
        job = api.get(&format!("api/jobs/{id}")).json();
        job["state"] == "done"
    });
    assert_eq!(job["status"], 200, "{job}");
    assert_eq!(job["answer"]["jobs"][0]["unit"], "slow.service");
    let failed = api.post("api/units/nosuch/start?wait=0", "");
    assert_eq!(failed.status, 202);
    let id = failed.json()["id"].as_u64().expect("id");
    wait_until("the failed job done", DEADLINE, || {
        job = api.get(&format!("api/jobs/{id}")).json();
        job["state"] == "done"
    });
    assert_eq!(
        (job["status"].clone(), job["answer"]["code"].clone()),
        (404.into(), "not_found".into())
    );
    assert_eq!(api.get("api/jobs/999999").status, 404);
    assert_eq!(api.post("api/units/slow/start?wait=maybe", "").status, 400);
    assert_eq!(api.post("api/daemon-reload?wait=false", "").status, 400);
}

#[test]
fn daimond_conf_sets_the_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut d = Daemon::home_only();
    std::fs::write(
        d.path().join("daimond.conf"),
        format!("[API]\nPort={port}\n"),
    )
    .expect("daimond.conf");
    d.spawn_daemon();
    let api = Api::of(d.path());
    assert_eq!(api.port, port);
    assert_eq!(api.get("api/units").status, 200);
}
