//! The `timers` scenario: N timer units (each with its oneshot service) started
//! in one `daimon start`, then daimond's memory and its CPU time while they all
//! wait. Their elapses are spread over the day and kept outside the measured
//! window, so what is measured is the cost of waiting (it should be ~0 %: the
//! daemon sleeps until the earliest elapse, it never polls).

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::{BinDir, Home, cpu_ticks, memory_kib};

/// Writes N timers, each with its oneshot service, into `units`.
fn write_timers(units: &Path, n: usize) {
    fs::create_dir_all(units).expect("units dir");
    let hour_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| (d.as_secs() / 3600 % 24) as usize)
        .unwrap_or(0);
    for i in 0..n {
        // Never in the current hour or the next: nothing elapses while measured.
        let hour = (hour_now + 2 + i % 22) % 24;
        let minute = (i / 22) % 60;
        let schedule = match i % 4 {
            0 => format!("OnCalendar=*-*-* {hour:02}:{minute:02}:00 UTC"),
            1 => format!("OnCalendar=Mon..Fri {hour:02}:{minute:02} UTC"),
            2 => format!("OnCalendar=*-*-* {hour:02}:{minute:02}:00 UTC\nPersistent=true"),
            _ => format!("OnActiveSec={}h\nOnUnitActiveSec=1d", 2 + i % 20),
        };
        fs::write(
            units.join(format!("t{i}.service")),
            "[Service]\nType=oneshot\nExecStart=/bin/true\n",
        )
        .expect("write service");
        fs::write(
            units.join(format!("t{i}.timer")),
            format!("[Timer]\n{schedule}\n"),
        )
        .expect("write timer");
    }
}

pub fn bench_timers(bins: &BinDir, n: usize) {
    let home = Home::new(bins, 0);
    write_timers(&home.dir.path().join("units"), n);
    // The daemon comes up with the first call; load the units before timing.
    let _ = home.cli(&["list".to_string()]);
    let mut args = vec!["start".to_string()];
    args.extend((0..n).map(|i| format!("t{i}.timer")));
    let t0 = Instant::now();
    let (status, _) = home.cli(&args);
    let took = t0.elapsed();
    if !status.success() {
        println!("| timers | {n} | start failed |");
        return;
    }
    println!(
        "| start N timers (one daimon start) | {n} | {:.0} ms |",
        took.as_secs_f64() * 1000.0
    );
    let Some(pid) = home.daemon_pid() else { return };
    std::thread::sleep(Duration::from_secs(1));
    let (pss, rss) = memory_kib(pid);
    println!(
        "| daimond memory with N timers waiting | {n} | PSS {:.1} MiB, RSS {:.1} MiB |",
        pss as f64 / 1024.0,
        rss as f64 / 1024.0
    );
    let before = cpu_ticks(pid);
    let span = Duration::from_secs(10);
    std::thread::sleep(span);
    let used = cpu_ticks(pid).saturating_sub(before);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let secs = used as f64 / hz;
    println!(
        "| idle CPU of daimond with N timers | {n} | {:.1} ms CPU over {} s ({:.3} %) |",
        secs * 1000.0,
        span.as_secs(),
        secs / span.as_secs_f64() * 100.0
    );
    let t0 = Instant::now();
    let (status, _) = home.cli(&["status".to_string(), "t0.timer".to_string()]);
    if status.success() {
        println!(
            "| daimon status of one timer among N | {n} | {:.1} ms |",
            t0.elapsed().as_secs_f64() * 1000.0
        );
    }
}
