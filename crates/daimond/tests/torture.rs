//! daimond SIGKILLed again and again at random instants — in the middle of
//! starts, stops, restarts and daemon-reloads — loses no service, starts none
//! twice, and keeps every line of a service writing sequence numbers exactly
//! once, in order. Small counts in CI; the benchmark (ignored: see below) takes
//! `DAIMON_TORTURE_KILLS` and `DAIMON_TORTURE_SERVICES` and prints the median
//! and worst re-adoption time (`-- --ignored --nocapture`).

mod common;

use std::fs;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;

/// A small deterministic generator (xorshift), seeded from the clock; the seed
/// is printed so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn daimon(home: &std::path::Path, args: &[&str]) -> bool {
    run_bounded(
        Command::new(bin("daimon"))
            .args(args)
            .env("DAIMON_HOME", home),
        Duration::from_secs(60),
    )
    .status
    .success()
}

/// Live processes whose command line contains `marker`.
fn running(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if pid_alive(pid) && String::from_utf8_lossy(&cmd).contains(marker) {
            found.push(pid);
        }
    }
    found
}

/// CI: services are never lost or started twice, and the lines kept are never
/// doubled or out of order. Lines that a SIGKILL catches between the log
/// writer's read and its write are lost (logpipe.rs says so); this test counts
/// them, the benchmark below demands none.
#[test]
fn sigkill_at_random_instants_loses_no_service_and_starts_none_twice() {
    torture(8, 10, false);
}

/// The benchmark: `cargo test -p daimond --test torture -- --ignored
/// --nocapture` (50 kills, 100 services by default), every line exactly once.
#[test]
#[ignore = "benchmark; fails while a SIGKILL between the log writer's read and write loses lines"]
fn torture_benchmark_every_line_exactly_once() {
    let var = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    torture(
        var("DAIMON_TORTURE_KILLS", 50),
        var("DAIMON_TORTURE_SERVICES", 100),
        true,
    );
}

fn torture(kills: usize, services: usize, exact: bool) {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    eprintln!("torture seed {seed}, {kills} kills");
    let mut rng = Rng(seed);

    let mut d = Daemon::start();
    let seq = d.script(
        "seq.sh",
        "i=0\nwhile :; do i=$((i+1)); echo \"n=$i\"; sleep 0.001; done",
    );
    d.write_unit(
        "seq.service",
        &format!("[Service]\nExecStart={}\n", seq.display()),
    );
    let names: Vec<String> = (1..services).map(|i| format!("s{i}")).collect();
    let mut scripts = Vec::new();
    // Distinct per run, so that two runs on one machine never count each
    // other's processes.
    let base = 1_000_000 + (seed % 1_000_000) * 1_000;
    for (i, n) in names.iter().enumerate() {
        // A command line of its own (`sleep BASE+I`), to count its processes.
        let marker = format!("sleep\u{0}{}\u{0}", base + i as u64);
        let s = d.script(
            &format!("{n}.sh"),
            &format!("exec sleep {}", base + i as u64),
        );
        d.write_unit(
            &format!("{n}.service"),
            &format!("[Service]\nExecStart={}\n", s.display()),
        );
        scripts.push(marker);
    }
    d.ok(&["start", "seq"]);
    let seq_pid = d.wait_main_pid("seq");
    let inv = d.status_json("seq")["last_run"]["invocation"]
        .as_str()
        .expect("invocation")
        .to_string();

    // Jobs and reloads keep coming while daimond is killed under them.
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let stop = stop.clone();
        let home = d.path().to_path_buf();
        let names = names.clone();
        let mut rng = Rng(seed.rotate_left(17) | 1);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let unit = &names[rng.below(names.len() as u64) as usize];
                let verb = ["start", "stop", "restart", "daemon-reload"][rng.below(4) as usize];
                if verb == "daemon-reload" {
                    daimon(&home, &[verb]);
                } else {
                    daimon(&home, &[verb, unit]);
                }
            }
        })
    };

    let mut readoption = Vec::new();
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(20 + rng.below(300)));
        d.record_descendants();
        let Some(pid) = fs::read_to_string(d.pid_file())
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
        else {
            continue;
        };
        kill(pid, libc::SIGKILL);
        if let Some(mut c) = d.child.take() {
            let _ = wait_child(&mut c, DEADLINE);
        }
        wait_until("the killed daimond gone", DEADLINE, || !pid_alive(pid));
        // Re-adoption: until a new daimond answers with the same service.
        let t = Instant::now();
        wait_until(
            "a daimond that re-adopted seq",
            Duration::from_secs(30),
            || {
                // The worker's commands start daimonds too: a CLI call that
                // meets one losing that race fails, and is asked again.
                match d.try_status_json("seq") {
                    Ok(st) => st["pid"] == seq_pid && st["state"] == "active",
                    Err(e) => {
                        eprintln!("status while daimond restarts: {e}");
                        false
                    }
                }
            },
        );
        readoption.push(t.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    worker.join().expect("worker");
    d.record_descendants();

    readoption.sort();
    if let (Some(median), Some(worst)) = (readoption.get(readoption.len() / 2), readoption.last()) {
        eprintln!(
            "re-adoption after SIGKILL: median {median:?}, worst {worst:?} ({services} services)"
        );
    }

    // No service lost: seq never restarted; no unit runs twice; each runs
    // exactly when daimond says it is active.
    let st = d.status_json("seq");
    assert_eq!(st["pid"], seq_pid, "{st}");
    assert_eq!(st["last_run"]["invocation"], inv.as_str(), "{st}");
    assert_eq!(st["restarts"], 0, "{st}");
    for (n, marker) in names.iter().zip(&scripts) {
        let mut settled = serde_json::Value::Null;
        wait_until(&format!("{n} settled"), DEADLINE, || {
            settled = d.status_json(n);
            matches!(
                settled["state"].as_str(),
                Some("active" | "inactive" | "failed")
            )
        });
        let live = running(marker);
        let want = usize::from(settled["state"] == "active");
        assert_eq!(live.len(), want, "{n}: {settled} but running {live:?}");
        if want == 1 {
            assert_eq!(settled["pid"], live[0], "{n}");
        }
    }

    // Every sequence number once, in order.
    let numbers = |d: &mut Daemon| -> Vec<u64> {
        let out = d.cli(&["logs", "seq", "--invocation", &inv, "-o", "cat"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("n=")?.parse().ok())
            .collect()
    };
    let upto = numbers(&mut d).len();
    wait_until("lines after the last kill", DEADLINE, || {
        numbers(&mut d).len() > upto + 20
    });
    let got = numbers(&mut d);
    let last = got.last().copied().unwrap_or(0);
    let lost = last.saturating_sub(got.len() as u64);
    let out = d.cli(&["logs", "seq", "--invocation", &inv, "-o", "cat"]);
    let torn: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            l.strip_prefix("n=")
                .and_then(|n| n.parse::<u64>().ok())
                .is_none()
        })
        // daimond's own lines about the unit.
        .filter(|l| !l.starts_with("seq.service") && !l.starts_with("Started seq"))
        .map(str::to_string)
        .collect();
    eprintln!(
        "{} lines kept of {last} written, {lost} lost; torn: {torn:?}",
        got.len()
    );
    if let Some(i) = got.windows(2).position(|w| w[1] <= w[0]) {
        panic!(
            "seed {seed}: a line doubled or out of order near index {i}: {:?}",
            &got[i.saturating_sub(3)..(i + 4).min(got.len())]
        );
    }
    if exact && got != (1..=got.len() as u64).collect::<Vec<_>>() {
        let bad = got.iter().enumerate().position(|(i, n)| *n != i as u64 + 1);
        panic!(
            "seed {seed}: lines lost near index {bad:?}: {:?}",
            bad.map(|i| &got[i.saturating_sub(3)..(i + 3).min(got.len())])
        );
    }
}
