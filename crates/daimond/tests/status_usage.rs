//! Memory, CPU and tasks in a listing of all units (`status -o json`, the
//! API's `GET /api/units`, the dashboard, `top`): a listing may reuse a
//! process tree read less than a second earlier, but never across a stop, a
//! start or a new main process, and a process that appears inside a service
//! shows within that bound. The detail of one unit is always read afresh.

mod common;

use std::time::Duration;

use common::*;

/// The unit `name` in a listing of all units.
fn listed(d: &mut Daemon, name: &str) -> serde_json::Value {
    let text = d.ok(&["status", "-o", "json"]);
    let all: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("status -o json: {e}: {text}"));
    all.as_array()
        .and_then(|a| a.iter().find(|u| u["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("{name} not in the listing: {text}"))
}

fn tasks(u: &serde_json::Value) -> Vec<u64> {
    u["tasks"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p.as_u64()).collect())
        .unwrap_or_default()
}

#[test]
fn a_listing_never_shows_a_stopped_or_restarted_units_old_processes() {
    let mut d = Daemon::start();
    d.write_unit("steady.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    d.ok(&["start", "steady"]);
    let first = d.wait_main_pid("steady");
    let u = listed(&mut d, "steady.service");
    assert_eq!(tasks(&u), [u64::from(first)], "{u}");
    assert!(u["memory_bytes"].as_u64().is_some_and(|m| m > 0), "{u}");
    // At once after the stop (well within a second of the last listing): no
    // usage and no processes.
    d.ok(&["stop", "steady"]);
    let u = listed(&mut d, "steady.service");
    assert_eq!(u["state"], "inactive", "{u}");
    assert!(
        u["memory_bytes"].is_null() && u["cpu_usec"].is_null(),
        "{u}"
    );
    assert!(tasks(&u).is_empty(), "{u}");
    // A new run: its own main process, at once.
    d.ok(&["start", "steady"]);
    let second = d.wait_main_pid("steady");
    assert_ne!(first, second);
    let u = listed(&mut d, "steady.service");
    assert_eq!(tasks(&u), [u64::from(second)], "{u}");
    // A restart: the listing right after it has the new main process only.
    d.ok(&["restart", "steady"]);
    let third = d.wait_main_pid("steady");
    let u = listed(&mut d, "steady.service");
    assert_eq!(u["pid"].as_u64(), Some(u64::from(third)), "{u}");
    assert_eq!(tasks(&u), [u64::from(third)], "{u}");
}

#[test]
fn a_new_process_inside_a_service_shows_in_the_detail_at_once_and_in_a_listing_soon() {
    let mut d = Daemon::start();
    let out = d.path().join("child.pid");
    // On SIGUSR1 the service starts a child and says its PID in a file.
    let script = d.script(
        "forker.sh",
        &format!(
            "trap 'sleep 1000 & echo $! > {out}.tmp; mv {out}.tmp {out}' USR1\n\
             while :; do sleep 1000 & wait $!; done\n",
            out = out.display()
        ),
    );
    d.write_unit(
        "forker.service",
        &format!("[Service]\nExecStart=/bin/sh {}\n", script.display()),
    );
    d.ok(&["start", "forker"]);
    let main = d.wait_main_pid("forker");
    // The listing has read the tree (main and its first sleep).
    wait_until("the first sleep in the listing", DEADLINE, || {
        tasks(&listed(&mut d, "forker.service")).len() == 2
    });
    kill(main, libc::SIGUSR1);
    let mut child = 0;
    wait_until("the service to write its child's PID", DEADLINE, || {
        child = std::fs::read_to_string(&out)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        child != 0
    });
    d.remember(child);
    let detail = d.status_json("forker");
    assert!(
        tasks(&detail).contains(&u64::from(child)),
        "the detail missed the new child {child}: {detail}"
    );
    // A listing within the cache's second may not have it yet; one after it does.
    wait_until(
        "the new child in the listing",
        Duration::from_secs(10),
        || tasks(&listed(&mut d, "forker.service")).contains(&u64::from(child)),
    );
}
