//! `daimon daemon-reexec`: daimond replaces itself with the binary on disk in
//! the same PID, and the services notice nothing: same PIDs, same invocation,
//! same restart counter, every line kept once and in order, timers still set.

mod common;

use common::*;

#[test]
fn twenty_reexecs_under_a_writing_service_lose_nothing_and_change_no_pid() {
    let mut d = Daemon::start();
    let script = d.script(
        "count.sh",
        "i=0\nwhile :; do i=$((i+1)); echo \"n=$i\"; sleep 0.002; done",
    );
    d.write_unit(
        "count.service",
        &format!(
            "[Service]\nExecStart={}\nRestart=always\n",
            script.display()
        ),
    );
    d.write_unit(
        "tick.service",
        "[Service]\nType=oneshot\nExecStart=/bin/true\n",
    );
    d.write_unit("tick.timer", "[Timer]\nOnCalendar=hourly\n");
    d.ok(&["start", "count", "tick.timer"]);
    let pid = d.wait_main_pid("count");
    let daimond = d.daemon_pid().expect("daimond");
    let before = d.status_json("count");
    let inv = before["last_run"]["invocation"]
        .as_str()
        .expect("invocation")
        .to_string();

    for i in 0..20 {
        let out = d.ok(&["daemon-reexec"]);
        assert!(
            out.contains(&format!("daimond (PID {daimond}) re-executed")),
            "reexec {i}: {out}"
        );
        assert!(pid_alive(pid), "the service died at reexec {i}");
    }
    assert!(
        d.child
            .as_mut()
            .expect("child")
            .try_wait()
            .expect("wait")
            .is_none(),
        "daimond's process ended"
    );
    assert_eq!(d.daemon_pid(), Some(daimond));
    let pid_file = std::fs::read_to_string(d.pid_file()).expect("PID file");
    assert_eq!(pid_file.trim(), daimond.to_string());

    let after = d.status_json("count");
    assert_eq!(after["pid"], pid, "{after}");
    assert_eq!(after["state"], "active");
    assert_eq!(after["restarts"], before["restarts"]);
    assert_eq!(after["last_run"]["invocation"], inv.as_str());
    assert_eq!(d.status_json("tick.timer")["sub_state"], "waiting");

    let numbers = |d: &mut Daemon| -> Vec<u64> {
        let out = d.cli(&["logs", "count", "--invocation", &inv, "-o", "cat"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("n=")?.parse().ok())
            .collect()
    };
    let upto = numbers(&mut d).len();
    wait_until("lines after the last reexec", DEADLINE, || {
        numbers(&mut d).len() > upto + 20
    });
    let got = numbers(&mut d);
    if got != (1..=got.len() as u64).collect::<Vec<_>>() {
        let bad = got.iter().enumerate().position(|(i, n)| *n != i as u64 + 1);
        panic!(
            "lines lost, doubled or out of order near index {bad:?}: {:?}",
            bad.map(|i| &got[i.saturating_sub(3)..(i + 3).min(got.len())])
        );
    }
}

#[test]
fn daemon_reexec_without_a_daemon_says_so() {
    let mut d = Daemon::home_only();
    let out = d.ok(&["daemon-reexec"]);
    assert!(out.contains("not running"), "{out}");
    assert!(!d.pid_file().exists(), "it started no daimond");
}
