//! daimond killed with SIGKILL and started again: services keep running (their
//! log pipes are held by the fd store), the new daimond adopts them with the same
//! PID and invocation, every line they print is kept, and restart, stop and
//! clean shutdown work on adopted services.

mod common;

use std::fs;
use std::time::Duration;

use common::*;

/// `INVOCATION_ID=` of a process.
fn invocation_of(pid: u32) -> String {
    let env = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    env.split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(b"INVOCATION_ID=".as_slice()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The fd store among the processes the test has seen descend from daimond.
fn fdstore_pid(d: &mut Daemon) -> u32 {
    let mut found = None;
    wait_until("the fd store", DEADLINE, || {
        d.record_descendants();
        found = d
            .seen
            .keys()
            .copied()
            .find(|p| pid_alive(*p) && comm(*p) == "daimond-fdstore");
        found.is_some()
    });
    found.unwrap_or_default()
}

/// The numbers of the `n=N` lines of `unit`'s invocation `inv`, in log order.
fn numbers(d: &mut Daemon, unit: &str, inv: &str) -> Vec<u64> {
    let out = d.cli(&["logs", unit, "--invocation", inv, "-o", "cat"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("n=")?.parse().ok())
        .collect()
}

/// The two slot files daimond writes its snapshot to in turn.
fn snapshot_slots(d: &Daemon) -> [std::path::PathBuf; 2] {
    [0, 1].map(|i| d.path().join(format!("state/supervisor.{i}.snapshot")))
}

/// The newest snapshot: a slot is a header line `MAGIC SEQ LEN HASH` and the
/// JSON (a torn slot fails to parse as JSON of that length and is skipped).
fn snapshot(d: &Daemon) -> Option<serde_json::Value> {
    snapshot_slots(d)
        .iter()
        .filter_map(|p| {
            let bytes = fs::read(p).ok()?;
            let nl = bytes.iter().position(|&b| b == b'\n')?;
            let header = String::from_utf8_lossy(&bytes[..nl]).into_owned();
            let mut f = header.split(' ').skip(1);
            let seq: u64 = f.next()?.parse().ok()?;
            let len: usize = f.next()?.parse().ok()?;
            let json = serde_json::from_slice(bytes.get(nl + 1..nl + 1 + len)?).ok()?;
            Some((seq, json))
        })
        .max_by_key(|(seq, _)| *seq)
        .map(|(_, json)| json)
}

/// The invocation the daimond's snapshot holds for `unit`.
fn snapshot_invocation(d: &Daemon, unit: &str) -> Option<String> {
    let v = snapshot(d)?;
    v["units"]
        .as_array()?
        .iter()
        .find(|u| u["name"] == unit)?
        .get("invocation")?
        .as_str()
        .map(String::from)
}

/// The one window left: a chunk the journal's writer thread has read from the
/// pipe but not yet handed to `writev` when SIGKILL lands (the same thread does
/// both, back to back, so microseconds), and a last line without its newline,
/// kept in memory until the newline arrives. This service writes whole lines.
#[test]
fn a_service_outlives_a_killed_daemon_and_no_line_is_lost_or_doubled() {
    let mut d = Daemon::start();
    let script = d.script(
        "count.sh",
        "i=0\nwhile :; do\n  i=$((i+1))\n  echo \"n=$i\"\n  sleep 0.005\ndone",
    );
    d.write_unit(
        "count.service",
        &format!("[Service]\nExecStart={}\n", script.display()),
    );
    d.ok(&["start", "count"]);
    let pid = d.wait_main_pid("count");
    let started = start_time(pid);
    let inv = invocation_of(pid);
    assert_eq!(inv.len(), 32);
    wait_until("the first lines", DEADLINE, || {
        numbers(&mut d, "count", &inv).len() >= 20
    });
    fdstore_pid(&mut d);
    let since = d.status_json("count")["since"].clone();
    assert!(since.is_string());

    d.kill_daemon();
    // While no daimond runs, the service keeps writing into its pipe, held open
    // by the fd store: no SIGPIPE.
    std::thread::sleep(Duration::from_millis(300));
    assert!(pid_alive(pid), "the service died with daimond");
    assert_eq!(start_time(pid), started);

    d.spawn_daemon();
    let st = d.status_json("count");
    assert_eq!(st["pid"], pid);
    assert_eq!(st["state"], "active");
    assert_eq!(st["sub_state"], "running");
    // Active since the process started, not since the new daimond saw it (the
    // boot time in /proc/stat has a resolution of one second).
    let secs = |v: &serde_json::Value| {
        let t = v.as_str().and_then(|s| s.get(11..19)).unwrap_or("");
        let f: Vec<i64> = t.split(':').filter_map(|x| x.parse().ok()).collect();
        f.iter().fold(0, |a, x| a * 60 + x)
    };
    let drift = (secs(&st["since"]) - secs(&since)).rem_euclid(86_400);
    assert!(
        drift <= 2 || drift >= 86_398,
        "since {} vs {since}",
        st["since"]
    );
    wait_until("the new snapshot", DEADLINE, || {
        snapshot_invocation(&d, "count.service").as_deref() == Some(inv.as_str())
    });
    let upto = numbers(&mut d, "count", &inv).len() as u64;
    wait_until("lines after the restart", DEADLINE, || {
        numbers(&mut d, "count", &inv).len() as u64 > upto + 60
    });
    let got = numbers(&mut d, "count", &inv);
    let want: Vec<u64> = (1..=got.len() as u64).collect();
    if got != want {
        let first_bad = got.iter().zip(&want).position(|(a, b)| a != b);
        panic!(
            "lines lost, doubled or out of order around index {first_bad:?}: {:?}",
            first_bad.map(|i| &got[i.saturating_sub(3)..(i + 3).min(got.len())])
        );
    }
}

#[test]
fn an_adopted_service_that_dies_is_restarted_and_never_started_twice() {
    let mut d = Daemon::start();
    d.write_unit(
        "bot.service",
        "[Service]\nExecStart=/bin/sleep 1000\nRestart=always\nRestartSec=100ms\n\
         [Install]\nWantedBy=default.target\n",
    );
    d.ok(&["enable", "bot"]);
    d.ok(&["start", "bot"]);
    let first = d.wait_main_pid("bot");
    // One restart under the first daimond: the counter must survive the hand-over.
    kill(first, libc::SIGKILL);
    let mut adopted = 0;
    wait_until("bot restarted once", DEADLINE, || {
        let st = d.status_json("bot");
        adopted = st["pid"].as_u64().unwrap_or(0) as u32;
        adopted != 0 && adopted != first && st["state"] == "active"
    });
    d.remember(adopted);
    assert_eq!(d.status_json("bot")["restarts"], 1);

    d.kill_daemon();
    d.spawn_daemon();
    let st = d.status_json("bot");
    assert_eq!(st["pid"], adopted, "enabled and adopted: not started again");
    assert_eq!(st["state"], "active");
    assert_eq!(st["restarts"], 1);
    let new_daemon = d.daemon_pid().expect("pid");
    assert!(
        children_of(new_daemon).is_empty(),
        "a second copy was started: {:?}",
        children_of(new_daemon)
    );

    kill(adopted, libc::SIGKILL);
    let mut third = 0;
    wait_until("the adopted service restarted", DEADLINE, || {
        let st = d.status_json("bot");
        third = st["pid"].as_u64().unwrap_or(0) as u32;
        third != 0 && third != adopted && st["state"] == "active"
    });
    d.remember(third);
    let st = d.status_json("bot");
    assert_eq!(st["restarts"], 2);
    assert_eq!(
        st["last_exit"],
        "exited (status unknown: adopted after a daimond restart)"
    );
    assert!(children_of(new_daemon).contains(&third));
}

#[test]
fn stopping_an_adopted_service_ends_all_its_processes() {
    let mut d = Daemon::start();
    let script = d.script(
        "tree.sh",
        "/bin/sleep 1000 &\n(setsid /bin/sleep 1001 &)\nwait",
    );
    d.write_unit(
        "tree.service",
        &format!("[Service]\nExecStart={}\n", script.display()),
    );
    d.ok(&["start", "tree"]);
    let main = d.wait_main_pid("tree");
    let mut child = None;
    let mut escaped = None;
    wait_until("the service's two sleeps", DEADLINE, || {
        d.record_descendants();
        let cmd = |p: u32| fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
        for p in d.seen.keys().copied() {
            if cmd(p) == b"/bin/sleep\x001000\x00" {
                child = Some(p);
            }
            if cmd(p) == b"/bin/sleep\x001001\x00" {
                escaped = Some(p);
            }
        }
        child.is_some() && escaped.is_some()
    });
    let (child, escaped) = (child.unwrap_or(0), escaped.unwrap_or(0));

    d.kill_daemon();
    d.spawn_daemon();
    let st = d.status_json("tree");
    assert_eq!(st["pid"], main);
    let tasks: Vec<u64> = st["tasks"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t.as_u64()).collect())
        .unwrap_or_default();
    for p in [main, child, escaped] {
        assert!(tasks.contains(&u64::from(p)), "{p} not in {tasks:?}");
    }
    d.ok(&["stop", "tree"]);
    for p in [main, child, escaped] {
        wait_until(&format!("PID {p} gone"), DEADLINE, || !pid_alive(p));
    }
    let st = d.status_json("tree");
    assert_eq!(st["state"], "inactive");
    assert_eq!(st["result"], "success");
}

#[test]
fn a_process_whose_unit_was_removed_is_left_running_and_reported() {
    let mut d = Daemon::start();
    let path = d.write_unit("gone.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    d.ok(&["start", "gone"]);
    let pid = d.wait_main_pid("gone");
    d.kill_daemon();
    fs::remove_file(path).expect("remove unit");
    d.spawn_daemon();
    let wanted = format!("gone.service (PID {pid}");
    wait_until("the report", DEADLINE, || {
        let err = d.daemon_stderr();
        err.contains(&wanted) && err.contains("left running")
    });
    d.ok(&["list"]);
    std::thread::sleep(Duration::from_millis(100));
    assert!(pid_alive(pid), "the process of a removed unit was killed");
}

#[test]
fn a_clean_shutdown_ends_the_fd_store_even_after_a_hand_over() {
    let mut d = Daemon::start();
    let first = fdstore_pid(&mut d);
    d.kill_daemon();
    assert!(pid_alive(first), "the fd store died with daimond");
    d.spawn_daemon();
    // The new daimond uses the running store: no second one.
    d.ok(&["list"]);
    let daemon = d.daemon_pid().expect("pid");
    assert!(descendants_of(daemon).is_empty());
    d.ok(&["shutdown"]);
    wait_until("the fd store gone", DEADLINE, || !pid_alive(first));
    assert!(!d.path().join("run/fdstore.sock").exists());

    // A daimond started fresh starts its own store, and ends it on SIGTERM.
    let mut d = Daemon::start();
    let store = fdstore_pid(&mut d);
    let daemon = d.daemon_pid().expect("pid");
    assert_ne!(
        getsid(store),
        getsid(daemon),
        "the store runs in its own session"
    );
    kill(daemon, libc::SIGTERM);
    wait_until("daimond gone", DEADLINE, || !pid_alive(daemon));
    wait_until("the fd store gone", DEADLINE, || !pid_alive(store));
}

#[test]
fn a_service_that_ended_while_no_daemon_ran_is_restarted_per_its_policy() {
    let mut d = Daemon::start();
    d.write_unit(
        "crash.service",
        "[Service]\nExecStart=/bin/sleep 1000\nRestart=always\nRestartSec=100ms\n",
    );
    d.write_unit(
        "later.service",
        "[Service]\nExecStart=/bin/sleep 1000\nRestart=always\nRestartSec=1500ms\n",
    );
    d.ok(&["start", "crash", "later"]);
    let crash = d.wait_main_pid("crash");
    let later = d.wait_main_pid("later");
    let store = fdstore_pid(&mut d);
    // `later` waits for its automatic restart when daimond is killed.
    kill(later, libc::SIGKILL);
    wait_until("later waiting to restart", DEADLINE, || {
        d.status_json("later")["sub_state"] == "auto-restart"
    });
    d.kill_daemon();
    // `crash` ends while no daimond runs.
    kill(crash, libc::SIGKILL);
    wait_until("crash gone", DEADLINE, || !pid_alive(crash));
    d.spawn_daemon();

    let mut again = 0;
    wait_until("crash restarted", DEADLINE, || {
        let st = d.status_json("crash");
        again = st["pid"].as_u64().unwrap_or(0) as u32;
        again != 0 && again != crash && st["state"] == "active"
    });
    d.remember(again);
    let st = d.status_json("crash");
    assert_eq!(st["restarts"], 1);
    assert_eq!(
        st["last_exit"],
        "exited (status unknown: adopted after a daimond restart)"
    );

    assert_eq!(d.status_json("later")["sub_state"], "auto-restart");
    let mut next = 0;
    wait_until("later restarted", DEADLINE, || {
        let st = d.status_json("later");
        next = st["pid"].as_u64().unwrap_or(0) as u32;
        next != 0 && next != later && st["state"] == "active"
    });
    d.remember(next);
    assert_eq!(d.status_json("later")["restarts"], 1);
    // The store holds the pipes of the two running processes only (those of
    // the dead ones reached end of file and were closed), and the spool pipe
    // of the running daimond (the killed one's was drained and closed).
    let pipes = || {
        fd_targets(store)
            .into_iter()
            .filter(|(_, t)| t.starts_with("pipe:"))
            .count()
    };
    wait_until("the store to drop dead pipes", DEADLINE, || {
        pipes() == 4 + 1
    });
}

#[test]
fn a_transient_unit_is_adopted_and_forgotten_once_it_ended() {
    let mut d = Daemon::start();
    let out = d.cli(&["run", "--name", "adhoc", "--", "/bin/sleep", "1000"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = d.wait_main_pid("adhoc");
    let out = d.cli(&[
        "run",
        "--name",
        "brief",
        "--restart",
        "no",
        "--",
        "/bin/sleep",
        "1001",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let brief = d.wait_main_pid("brief");

    d.kill_daemon();
    kill(brief, libc::SIGKILL);
    wait_until("brief gone", DEADLINE, || !pid_alive(brief));
    d.spawn_daemon();
    let st = d.status_json("adhoc");
    assert_eq!(st["pid"], pid);
    assert_eq!(st["state"], "active");
    assert_eq!(st["load_state"], "transient");
    // Ended while no daimond ran, with Restart=no: nothing to keep.
    assert_eq!(d.cli(&["status", "brief"]).status.code(), Some(4));
    let kept = d.path().join("state/transient");
    assert!(kept.join("adhoc.service").exists());
    assert!(!kept.join("brief.service").exists());

    d.ok(&["stop", "adhoc"]);
    wait_until("adhoc gone", DEADLINE, || !pid_alive(pid));
}

#[test]
fn restarting_an_adopted_service_replaces_its_process() {
    let mut d = Daemon::start();
    d.write_unit("web.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    d.ok(&["start", "web"]);
    let old = d.wait_main_pid("web");
    d.kill_daemon();
    d.spawn_daemon();
    assert_eq!(d.status_json("web")["pid"], old);
    d.ok(&["restart", "web"]);
    let new = d.wait_main_pid("web");
    assert_ne!(new, old);
    wait_until("the adopted process gone", DEADLINE, || !pid_alive(old));
    let st = d.status_json("web");
    assert_eq!(st["state"], "active");
    assert_eq!(st["restarts"], 0);
}

#[test]
fn a_service_missing_from_the_snapshot_is_adopted_through_its_pipes() {
    let mut d = Daemon::start();
    d.write_unit(
        "fresh.service",
        "[Service]\nExecStart=/bin/sh -c 'while :; do echo tick; sleep 0.05; done'\n\
         [Install]\nWantedBy=default.target\n",
    );
    d.ok(&["enable", "fresh"]);
    d.ok(&["start", "fresh"]);
    let pid = d.wait_main_pid("fresh");
    d.kill_daemon();
    // As if daimond had been killed between the spawn and the snapshot.
    for slot in snapshot_slots(&d) {
        fs::remove_file(slot).expect("snapshot slot");
    }
    d.spawn_daemon();
    let st = d.status_json("fresh");
    assert_eq!(st["pid"], pid, "adopted, not started twice");
    assert_eq!(st["state"], "active");
    let daemon = d.daemon_pid().expect("pid");
    assert!(children_of(daemon).is_empty(), "{:?}", children_of(daemon));
}
