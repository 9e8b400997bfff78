//! `MemoryMax=` and `CPUQuota=` as a user sees them: a memory hog is killed
//! by the kernel inside its cgroup and reported as `oom-kill`; a busy loop
//! stays near its CPU share. Where this host gives daimond no cgroup to
//! write, the start's warning is what is checked.

mod common;

use std::time::{Duration, Instant};

use common::{DEADLINE, Daemon, wait_until};

fn python() -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is installed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether daimond (running as this user) can make a memory cgroup.
fn memory_cgroup_writable() -> bool {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    text.lines().any(|l| {
        let mut p = l.splitn(3, ':');
        let (_, c, path) = (p.next(), p.next().unwrap_or(""), p.next().unwrap_or(""));
        let dir = if c.split(',').any(|x| x == "memory") {
            std::path::Path::new("/sys/fs/cgroup/memory").join(path.trim_start_matches('/'))
        } else {
            return false;
        };
        let probe = dir.join(format!("daimon-probe-{}", std::process::id()));
        let ok = std::fs::create_dir(&probe).is_ok();
        let _ = std::fs::remove_dir(&probe);
        ok
    })
}

#[test]
fn a_memory_hog_is_oom_killed_and_reported() {
    let mut d = Daemon::start();
    let hog = d.path().join("hog.py");
    std::fs::write(
        &hog,
        "import time\nchunks = []\nwhile True:\n    chunks.append(bytearray(8 << 20))\n    time.sleep(0.01)\n",
    )
    .expect("write hog");
    d.write_unit(
        "hog.service",
        &format!(
            "[Service]\nMemoryMax=50M\nExecStart={} {}\n",
            python(),
            hog.display()
        ),
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "hog.service"]);
    if !memory_cgroup_writable() {
        let logs = d.ok(&["logs", "hog", "-o", "cat"]);
        assert!(
            logs.contains("MemoryMax=") && logs.contains("not enforced"),
            "{logs}"
        );
        return;
    }
    wait_until("the hog killed", DEADLINE, || {
        d.status_json("hog.service")["state"] == "failed"
    });
    let st = d.status_json("hog.service");
    assert_eq!(st["result"], "oom-kill", "{st}");
    let logs = d.ok(&["logs", "hog", "-o", "cat"]);
    assert!(logs.contains("killed by the OOM killer"), "{logs}");
}

#[test]
fn a_busy_loop_stays_near_its_cpu_quota() {
    let mut d = Daemon::start();
    d.write_unit(
        "spin.service",
        &format!(
            "[Service]\nCPUQuota=20%\nExecStart={} -c \"while True: pass\"\n",
            python()
        ),
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "spin.service"]);
    let pid = d.wait_main_pid("spin.service");
    if !std::path::Path::new("/sys/fs/cgroup/cpu").exists()
        && !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
    {
        return;
    }
    let ticks = |pid: u32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
            + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
    };
    let (t0, c0) = (Instant::now(), ticks(pid));
    // CPU use is a rate: it takes a span of time to measure.
    std::thread::sleep(Duration::from_secs(2));
    let (wall, cpu) = (t0.elapsed(), ticks(pid) - c0);
    // SAFETY: sysconf cannot fail for _SC_CLK_TCK.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let share = cpu as f64 / hz / wall.as_secs_f64();
    eprintln!("CPUQuota=20%: used {:.0}% of a CPU", share * 100.0);
    assert!(share < 0.30, "used {:.0}% of a CPU", share * 100.0);
    assert!(share > 0.05, "used {:.0}% of a CPU", share * 100.0);
}
