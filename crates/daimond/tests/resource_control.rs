//! `TasksMax=`, `CPUWeight=`, `MemoryHigh=` and `RuntimeMaxSec=` as a user
//! sees them, and the cgroup's accounting in `status`: a forking service
//! meets its task limit, the weight lands in the cgroup, `status` shows the
//! cgroup's tasks, memory (current, peak, limits) and CPU. Where this host
//! gives daimond no cgroup to write (or cgroup v1, which has no
//! `memory.high`), the start's warning is what is checked.

mod common;

use std::path::Path;

use common::{DEADLINE, Daemon, wait_until};

fn python() -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is installed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether a cgroup can be made in the hierarchy of `controller` (v1), or in
/// the v2 tree when that has it.
fn writable(controller: &str) -> Option<bool> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for l in text.lines() {
        let mut p = l.splitn(3, ':');
        let (_, c, path) = (p.next()?, p.next()?, p.next()?);
        let dir = if c.split(',').any(|x| x == controller) {
            Path::new("/sys/fs/cgroup").join(c)
        } else if c.is_empty() {
            let ctl =
                std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default();
            if !ctl.split_whitespace().any(|x| x == controller) {
                continue;
            }
            Path::new("/sys/fs/cgroup").to_path_buf()
        } else {
            continue;
        };
        let probe = dir
            .join(path.trim_start_matches('/'))
            .join(format!("daimon-probe-{}-{controller}", std::process::id()));
        let ok = std::fs::create_dir(&probe).is_ok();
        let _ = std::fs::remove_dir(&probe);
        return Some(ok);
    }
    Some(false)
}

fn v2_memory() -> bool {
    std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
        .is_ok_and(|c| c.split_whitespace().any(|x| x == "memory"))
}

#[test]
fn a_forking_service_meets_its_task_limit_and_status_shows_its_cgroup() {
    let mut d = Daemon::start();
    let forker = d.path().join("forker.py");
    std::fs::write(
        &forker,
        "import os, time\nn = 0\nfor i in range(10):\n    try:\n        pid = os.fork()\n    except OSError as e:\n        print('fork refused:', e.strerror, flush=True)\n        break\n    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n    n += 1\nprint('forked', n, flush=True)\nblob = b'x' * (16 << 20)\ntime.sleep(60)\n",
    )
    .expect("write forker");
    d.write_unit(
        "forker.service",
        &format!(
            "[Service]\nTasksMax=4\nCPUWeight=50\nMemoryMax=200M\nMemoryHigh=150M\nExecStart={} {}\n",
            python(),
            forker.display()
        ),
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "forker.service"]);
    let logs = |d: &mut Daemon| d.ok(&["logs", "forker", "-o", "cat"]);
    if writable("pids") != Some(true) {
        wait_until("the TasksMax= warning", DEADLINE, || {
            let l = logs(&mut d);
            l.contains("TasksMax=") && l.contains("not enforced")
        });
        return;
    }
    wait_until("the forks to end", DEADLINE, || {
        logs(&mut d).contains("forked")
    });
    let l = logs(&mut d);
    // The main process and three children are four tasks: the fourth fork fails.
    assert!(
        l.contains("fork refused: Resource temporarily unavailable"),
        "{l}"
    );
    assert!(l.contains("forked 3"), "{l}");
    if !v2_memory() {
        assert!(
            l.contains("MemoryHigh=: cgroup v1 has no memory.high"),
            "{l}"
        );
        assert!(l.contains("not enforced"), "{l}");
    }
    // Accounting: the cgroup's numbers, limits and directories.
    let st = d.status_json("forker.service");
    let cg = &st["cgroup"];
    assert_eq!(cg["tasks_current"], 4, "{st}");
    assert_eq!(cg["tasks_max"], 4, "{st}");
    assert_eq!(cg["memory_max"], 200u64 << 20, "{st}");
    let mem = cg["memory_current"].as_u64().expect("memory_current");
    assert!(mem > 16 << 20, "{st}");
    assert!(
        cg["memory_peak"].as_u64().expect("memory_peak") >= mem,
        "{st}"
    );
    assert!(cg["cpu_usec"].as_u64().is_some(), "{st}");
    assert_eq!(st["memory_bytes"], cg["memory_current"], "{st}");
    let paths: Vec<&str> = cg["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    let pid = st["pid"].as_u64().expect("main pid");
    for p in &paths {
        assert!(p.ends_with("/forker.service"), "{p}");
        let procs = std::fs::read_to_string(Path::new(p).join("cgroup.procs")).expect("procs");
        assert!(procs.lines().any(|l| l == pid.to_string()), "{p}: {procs}");
    }
    // CPUWeight=50 is half the default share: v1's cpu.shares 512, v2's cpu.weight 50.
    let weight = paths.iter().find_map(|p| {
        std::fs::read_to_string(Path::new(p).join("cpu.shares"))
            .or_else(|_| std::fs::read_to_string(Path::new(p).join("cpu.weight")))
            .ok()
    });
    assert!(
        matches!(weight.as_deref().map(str::trim), Some("512" | "50")),
        "{weight:?}"
    );
    let text = d.ok(&["status", "forker.service"]);
    assert!(text.contains("Tasks: 4 (limit: 4;"), "{text}");
    assert!(text.contains("max: 200M peak:"), "{text}");
    assert!(text.contains("CGroup: "), "{text}");
    let show = d.ok(&["show", "forker.service", "-p", "TasksMax"]);
    assert_eq!(show.trim(), "TasksMax=4");
    // Stopped: the unit's cgroups go with it.
    d.ok(&["stop", "forker.service"]);
    for p in &paths {
        let procs = || std::fs::read_to_string(Path::new(p).join("cgroup.procs"));
        let start = std::time::Instant::now();
        while Path::new(p).exists() && start.elapsed() < DEADLINE {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let gone = !Path::new(p).exists();
        assert!(gone, "{p} not removed; its processes: {:?}", procs());
    }
}

#[test]
fn a_service_past_runtime_max_sec_fails_with_timeout() {
    let mut d = Daemon::start();
    d.write_unit(
        "brief.service",
        "[Service]\nRuntimeMaxSec=1\nExecStart=sleep 30\n",
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "brief.service"]);
    let pid = d.wait_main_pid("brief.service");
    wait_until("the runtime limit", DEADLINE, || {
        d.status_json("brief.service")["state"] == "failed"
    });
    let st = d.status_json("brief.service");
    assert_eq!(st["result"], "timeout", "{st}");
    assert!(!common::pid_alive(pid));
    wait_until("the runtime limit's log line", DEADLINE, || {
        d.ok(&["logs", "brief", "-o", "cat"])
            .contains("service reached runtime time limit")
    });
}
