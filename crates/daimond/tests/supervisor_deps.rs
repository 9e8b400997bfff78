//! The dependency graph through a real daimond (systemd.unit(5)): After= order
//! with readiness, the failure chain of Requires=, ordering cycles reported at
//! load, Conflicts=, stop and restart propagation over BindsTo=/Requires=/PartOf=, and unit
//! files naming system targets, sockets and mounts that daimon does not manage.

mod common;

use std::fs;

use common::*;

fn state(d: &mut Daemon, unit: &str) -> String {
    d.status_json(unit)["state"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn wait_state(d: &mut Daemon, unit: &str, want: &str) {
    wait_until(&format!("{unit} {want}"), DEADLINE, || {
        state(d, unit) == want
    });
}

fn cli_err(d: &mut Daemon, args: &[&str]) -> String {
    let out = d.cli(args);
    assert!(!out.status.success(), "daimon {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn after_waits_for_the_dependency_to_be_ready() {
    let mut d = Daemon::start();
    let log = d.path().join("order");
    // db is ready only when its (slow) oneshot finished; web starts after that.
    d.write_unit(
        "db.service",
        &format!(
            "[Service]\nType=oneshot\nRemainAfterExit=yes\n\
             ExecStart=/bin/sh -c 'sleep 0.3; echo db >> {}'\n",
            log.display()
        ),
    );
    d.write_unit(
        "cache.service",
        &format!(
            "[Unit]\nBefore=web.service\n[Service]\nType=oneshot\nRemainAfterExit=yes\n\
             ExecStart=/bin/sh -c 'sleep 0.2; echo cache >> {}'\n",
            log.display()
        ),
    );
    d.write_unit(
        "web.service",
        &format!(
            "[Unit]\nRequires=db.service\nWants=cache.service\nAfter=db.service\n\
             [Service]\nExecStart=/bin/sh -c 'echo web >> {}; exec sleep 1000'\n",
            log.display()
        ),
    );
    d.ok(&["start", "web"]);
    d.wait_main_pid("web");
    let text = fs::read_to_string(&log).expect("order log");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"web"), "{text}");
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(state(&mut d, "db"), "active");
    assert_eq!(state(&mut d, "cache"), "active");
}

#[test]
fn a_failed_requirement_fails_the_start_with_the_chain() {
    let mut d = Daemon::start();
    d.write_unit(
        "db.service",
        "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'exit 1'\n",
    );
    d.write_unit(
        "web.service",
        "[Unit]\nRequires=db.service\nAfter=db.service\n[Service]\nExecStart=/bin/sleep 1000\n",
    );
    d.write_unit(
        "wanter.service",
        "[Unit]\nWants=db.service\nAfter=db.service\n[Service]\nExecStart=/bin/sleep 1000\n",
    );
    let err = cli_err(&mut d, &["start", "web"]);
    let chain =
        "web.service failed to start: dependency db.service failed: main process exited, status=1";
    assert!(err.contains(chain), "{err}");
    let st = d.status_json("web");
    assert_eq!(st["state"], "inactive");
    assert!(
        st["reason"].as_str().is_some_and(|r| r.contains(chain)),
        "{st}"
    );
    assert_eq!(state(&mut d, "db"), "failed");
    // Wants= failures do not fail the wanter.
    d.ok(&["start", "wanter"]);
    d.wait_main_pid("wanter");
}

#[test]
fn an_ordering_cycle_is_reported_at_load_and_its_units_do_not_start() {
    let mut d = Daemon::home_only();
    d.write_unit(
        "a.service",
        "[Unit]\nAfter=b.service\n[Service]\nExecStart=/bin/sleep 1000\n",
    );
    d.write_unit(
        "b.service",
        "[Unit]\nAfter=a.service\n[Service]\nExecStart=/bin/sleep 1000\n",
    );
    d.spawn_daemon();
    let cycle = "ordering cycle: a.service -> b.service -> a.service";
    wait_until("the cycle in daimond's log", DEADLINE, || {
        d.daemon_stderr().contains(cycle)
    });
    let st = d.status_json("b");
    assert!(
        st["reason"].as_str().is_some_and(|r| r.contains(cycle)),
        "{st}"
    );
    let err = cli_err(&mut d, &["start", "a"]);
    assert!(
        err.contains(&format!("a.service failed to start: {cycle}")),
        "{err}"
    );
    assert_eq!(state(&mut d, "a"), "inactive");
    // Fixed and re-read: the reason goes and the unit starts.
    d.write_unit("b.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    d.ok(&["daemon-reload"]);
    assert!(d.status_json("b")["reason"].is_null());
    d.ok(&["start", "a"]);
    d.wait_main_pid("a");
    assert_eq!(state(&mut d, "b"), "inactive");
    // A cycle written later is found by daemon-reload, with Before= too.
    d.write_unit(
        "c.service",
        "[Unit]\nBefore=d.service\n[Service]\nExecStart=/bin/sleep 1000\n",
    );
    d.write_unit(
        "d.service",
        "[Unit]\nBefore=c.service\n[Service]\nExecStart=/bin/sleep 1000\n",
    );
    d.ok(&["daemon-reload"]);
    let cycle = "ordering cycle: c.service -> d.service -> c.service";
    wait_until("the new cycle in daimond's log", DEADLINE, || {
        d.daemon_stderr().contains(cycle)
    });
    let err = cli_err(&mut d, &["start", "d"]);
    assert!(
        err.contains("d.service failed to start: ordering cycle: "),
        "{err}"
    );
}

#[test]
fn conflicts_stops_the_other_unit_first_either_way() {
    let mut d = Daemon::start();
    d.write_unit(
        "a.service",
        "[Unit]\nConflicts=b.service\n[Service]\nExecStart=/bin/sleep 1000\n",
    );
    d.write_unit("b.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    d.ok(&["start", "b"]);
    let b = d.wait_main_pid("b");
    d.ok(&["start", "a"]);
    d.wait_main_pid("a");
    assert_eq!(state(&mut d, "b"), "inactive");
    assert!(!pid_alive(b));
    d.ok(&["start", "b"]);
    d.wait_main_pid("b");
    assert_eq!(state(&mut d, "a"), "inactive");
}

#[test]
fn binds_to_stops_the_bound_unit_when_its_unit_stops_or_fails() {
    let mut d = Daemon::start();
    d.write_unit("dev.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    d.write_unit(
        "user.service",
        "[Unit]\nBindsTo=dev.service\nAfter=dev.service\n[Service]\nExecStart=/bin/sleep 1000\n",
    );
    d.ok(&["start", "user"]);
    let user = d.wait_main_pid("user");
    let dev = d.wait_main_pid("dev");
    kill(dev, libc::SIGKILL);
    wait_state(&mut d, "dev", "failed");
    wait_state(&mut d, "user", "inactive");
    wait_until("user's process gone", DEADLINE, || !pid_alive(user));

    d.ok(&["start", "user"]);
    d.wait_main_pid("user");
    d.ok(&["stop", "dev"]);
    assert_eq!(state(&mut d, "user"), "inactive");
}

#[test]
fn stop_and_restart_reach_requirers_and_parts_but_not_wanters() {
    let mut d = Daemon::start();
    d.write_unit("db.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    for (name, dep) in [
        ("web", "Requires=db.service\nAfter=db.service"),
        ("part", "PartOf=db.service"),
        ("wanter", "Wants=db.service"),
    ] {
        d.write_unit(
            &format!("{name}.service"),
            &format!("[Unit]\n{dep}\n[Service]\nExecStart=/bin/sleep 1000\n"),
        );
    }
    d.ok(&["start", "db", "web", "part", "wanter"]);
    let before: Vec<u32> = ["db", "web", "part", "wanter"]
        .iter()
        .map(|u| d.wait_main_pid(u))
        .collect();
    d.ok(&["restart", "db"]);
    let after: Vec<u32> = ["db", "web", "part", "wanter"]
        .iter()
        .map(|u| d.wait_main_pid(u))
        .collect();
    for (i, u) in ["db", "web", "part"].iter().enumerate() {
        assert_ne!(before[i], after[i], "{u} restarted");
    }
    assert_eq!(before[3], after[3], "wanter untouched");
    d.ok(&["stop", "db"]);
    for u in ["db", "web", "part"] {
        assert_eq!(state(&mut d, u), "inactive", "{u}");
    }
    assert_eq!(state(&mut d, "wanter"), "active");
}

#[test]
fn distribution_style_dependencies_load_and_start() {
    let mut d = Daemon::start();
    d.write_unit(
        "distro.service",
        "[Unit]\nDescription=A daemon as distributions ship it\n\
         After=network-online.target remote-fs.target nss-lookup.target syslog.socket \
         local-fs.target time-sync.target sysinit.target basic.target\n\
         Wants=network-online.target\nRequires=syslog.socket local-fs.target var-lib.mount\n\
         BindsTo=sys-subsystem-net-devices-lo.device\nPartOf=system.slice\n\
         Before=multi-user.target shutdown.target\nConflicts=shutdown.target\n\
         [Service]\nExecStart=/bin/sleep 1000\n\
         [Install]\nWantedBy=multi-user.target graphical.target\n",
    );
    d.ok(&["start", "distro"]);
    d.wait_main_pid("distro");
    d.ok(&["stop", "distro"]);
    assert_eq!(state(&mut d, "distro"), "inactive");
}
