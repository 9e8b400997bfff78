//! daimon-bench: prints the supervisor's figures (they are measured, never asserted).
//!
//! Scenarios, each on a fresh private `DAIMON_HOME`, driving the real `daimon` CLI and
//! the `daimond` it starts (both taken from the directory of this executable, so build
//! them in the same profile first — `bench/supervisor.sh` does):
//! - `start`:   time from issuing one `daimon start` of N services (which also starts
//!   the daemon) until all N service programs run; then daimond's PSS/RSS.
//! - `restart`: `kill -9` of a service's main process to the exec of its replacement
//!   (Restart=always, RestartSec=0); exec times come from the kernel's process
//!   events when the bench runs as root, else from polling /proc.
//! - `status`:  wall time of a whole `daimon status` process listing N services.
//! - `idle`:    daimond's CPU time over a quiet interval with N services running.
//! - `cgroup`:  spawn cost with and without the unit's cgroups: kill -9 to
//!   the replacement's exec for a plain service and for one with resource
//!   limits (whose child joins its cgroups before exec; not part of `all`).
//! - `logs`:    lines/s of one service's output into the log store, until the
//!   last line is queryable, beside `cat` into a pipe to /dev/null (not part of
//!   `all`; `logs --n 1000000`, the default).
//! - `journald`: the same N lines (`--lines`, default 10,000,000) in daimon's
//!   log store and, through `daimon logs -o export | systemd-journal-remote`, in
//!   journal files; `journalctl --directory` timed against `daimon logs` on
//!   tail, one unit, a time range, `-p err` and `-g`; exits 1 when the counts
//!   differ (not part of `all`).
//! - `timers`:  N timers started at once, then daimond's memory and idle CPU
//!   while they wait (not part of `all`; e.g. `timers --n 10000`).
//!
//! Service programs are a symlink to `sleep` with a name unique to the run, so they
//! are recognized by their `comm` and never confused with anything else; cleanup is
//! by PID only.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod cgroup;
mod exec_watch;
mod journald;
mod journald_store;
mod logs;
mod scratch;
mod timers;

const DEADLINE: Duration = Duration::from_secs(60);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut scenario = "all".to_string();
    let mut counts: Vec<usize> = vec![100, 1000];
    let mut reps = 20usize;
    let mut lines: Option<u64> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--n" => {
                counts = it
                    .next()
                    .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect())
                    .unwrap_or_default()
            }
            "--reps" => reps = it.next().and_then(|v| v.parse().ok()).unwrap_or(reps),
            "--lines" => lines = it.next().and_then(|v| v.parse().ok()),
            "-h" | "--help" => {
                println!(
                    "usage: daimon-bench [start|restart|status|idle|timers|logs|cgroup|journald|all] [--n 100,1000] [--reps 20] [--lines 10000000]"
                );
                return;
            }
            s => scenario = s.to_string(),
        }
    }
    let bins = match BinDir::find() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("daimon-bench: {e}");
            std::process::exit(1);
        }
    };
    if scenario != "journald" {
        // journald prints a table of its own.
        println!("| scenario | N | figure |");
        println!("|---|---|---|");
    }
    let all = scenario == "all";
    if all || scenario == "start" || scenario == "memory" {
        let mut ns = vec![0];
        ns.extend(counts.iter().copied());
        for n in ns {
            bench_start(&bins, n);
        }
    }
    if all || scenario == "restart" {
        bench_restart(&bins, reps);
    }
    if all || scenario == "status" {
        for &n in &counts {
            bench_status(&bins, n, reps);
        }
    }
    if scenario == "cgroup" {
        cgroup::bench_cgroup(&bins, reps);
    }
    if scenario == "logs" {
        let n = if counts == [100, 1000] {
            1_000_000
        } else {
            counts.last().copied().unwrap_or(1_000_000)
        };
        logs::bench_logs(&bins, n, reps.min(5));
    }
    if scenario == "journald" {
        let n = lines.unwrap_or(10_000_000);
        if let Err(e) = journald::bench_journald(&bins, n, reps.min(5)) {
            eprintln!("daimon-bench journald: {e}");
            std::process::exit(1);
        }
    }
    if scenario == "timers" {
        for &n in &counts {
            timers::bench_timers(&bins, n);
        }
    }
    if (all || scenario == "idle")
        && let Some(&n) = counts.last()
    {
        bench_idle(&bins, n);
    }
}

struct BinDir {
    daimon: PathBuf,
}

impl BinDir {
    fn find() -> Result<BinDir, String> {
        let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
        let dir = exe.parent().ok_or("no parent dir")?;
        let daimon = dir.join("daimon");
        for b in ["daimon", "daimond"] {
            if !dir.join(b).exists() {
                return Err(format!(
                    "{} not found next to this binary; build it first: cargo build --release -p daimon -p daimond",
                    dir.join(b).display()
                ));
            }
        }
        Ok(BinDir { daimon })
    }
}

/// One private home with N declared services and the daemon it starts.
struct Home {
    dir: scratch::ScratchDir,
    comm: String,
    daimon: PathBuf,
    seen: BTreeSet<(u32, u64)>,
}

impl Home {
    fn new(bins: &BinDir, n: usize) -> Home {
        let dir = scratch::ScratchDir::new("daimon-bench-").expect("scratch dir");
        let comm = format!("bsl-{}", std::process::id() % 100_000);
        let prog = dir.path().join(&comm);
        std::os::unix::fs::symlink(which("sleep"), &prog).expect("symlink sleep");
        let units = dir.path().join("units");
        fs::create_dir_all(&units).expect("units dir");
        for i in 0..n {
            let text = format!(
                "[Unit]\nDescription=bench service {i}\nStartLimitIntervalSec=0\n\n[Service]\nExecStart={} 100000\nRestart=always\nRestartSec=0\n",
                prog.display()
            );
            fs::write(units.join(format!("b{i}.service")), text).expect("write unit");
        }
        Home {
            dir,
            comm,
            daimon: bins.daimon.clone(),
            seen: BTreeSet::new(),
        }
    }

    fn cli(&self, args: &[String]) -> (std::process::ExitStatus, Vec<u8>) {
        let out = Command::new(&self.daimon)
            .args(args)
            .env("DAIMON_HOME", self.dir.path())
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("run daimon");
        (out.status, out.stdout)
    }

    fn daemon_pid(&self) -> Option<u32> {
        fs::read_to_string(self.dir.path().join("run/daimond.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// PIDs of running service programs (children of daimond with our comm).
    fn services(&mut self) -> Vec<u32> {
        let Some(d) = self.daemon_pid() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for pid in children_of(d) {
            if let Some(st) = start_time(pid) {
                self.seen.insert((pid, st));
            }
            if fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == self.comm)
            {
                out.push(pid);
            }
        }
        out
    }

    fn wait_services(&mut self, n: usize) -> bool {
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if self.services().len() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        false
    }

    fn start_all(&self, n: usize) -> std::process::ExitStatus {
        let mut args = vec!["start".to_string()];
        args.extend((0..n).map(|i| format!("b{i}")));
        if n == 0 {
            args = vec!["list".to_string()];
        }
        self.cli(&args).0
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let pid = self.daemon_pid();
        if let Some(p) = pid {
            for c in children_of(p) {
                if let Some(st) = start_time(c) {
                    self.seen.insert((c, st));
                }
            }
        }
        let _ = self.cli(&["shutdown".to_string()]);
        let start = Instant::now();
        while pid.is_some_and(alive) && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Some(p) = pid.filter(|p| alive(*p)) {
            kill(p, libc::SIGKILL);
        }
        for (p, st) in &self.seen {
            if start_time(*p) == Some(*st) {
                kill(*p, libc::SIGKILL);
            }
        }
    }
}

fn bench_start(bins: &BinDir, n: usize) {
    let mut home = Home::new(bins, n);
    let t0 = Instant::now();
    let status = home.start_all(n);
    let cli_done = t0.elapsed();
    if !status.success() {
        println!("| start | {n} | daimon start failed: {status} |");
        return;
    }
    if !home.wait_services(n) {
        println!(
            "| start | {n} | only {} of {n} running after {DEADLINE:?} |",
            home.services().len()
        );
        return;
    }
    let all_up = t0.elapsed();
    if n > 0 {
        println!(
            "| start (cold, daemon included) | {n} | all running in {:.1} ms (CLI returned after {:.1} ms) |",
            ms(all_up),
            ms(cli_done)
        );
    }
    std::thread::sleep(Duration::from_secs(1));
    if let Some(pid) = home.daemon_pid() {
        // The supervisor is daimond plus its helpers (the fd store), never the
        // services.
        let mut pids = vec![pid];
        pids.extend(children_of(pid).into_iter().filter(|c| {
            !fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|x| x.trim() == home.comm)
        }));
        let (pss, rss) = pids
            .iter()
            .map(|p| memory_kib(*p))
            .fold((0, 0), |(a, b), (p, r)| (a + p, b + r));
        println!(
            "| supervisor memory (daimond + fd store) | {n} | PSS {:.2} MiB, RSS {:.2} MiB over {} processes |",
            pss as f64 / 1024.0,
            rss as f64 / 1024.0,
            pids.len()
        );
    }
}

fn bench_restart(bins: &BinDir, reps: usize) {
    let mut home = Home::new(bins, 1);
    if !home.start_all(1).success() || !home.wait_services(1) {
        println!("| restart | 1 | the service did not start |");
        return;
    }
    match kill_to_exec(&mut home, reps) {
        Ok((lat, how)) => println!(
            "| kill -9 to new PID (RestartSec=0) | 1 | median {:.3} ms, p90 {:.3} ms over {} kills ({how}) |",
            ms(pct(&lat, 50)),
            ms(pct(&lat, 90)),
            lat.len()
        ),
        Err(e) => println!("| restart | 1 | {e} |"),
    }
}

/// `reps` times: SIGKILL the service's main process and time until its
/// replacement execs; the sorted latencies and how they were measured.
fn kill_to_exec(home: &mut Home, reps: usize) -> Result<(Vec<Duration>, &'static str), String> {
    // Exact exec times from the kernel where allowed (root), else polling.
    let watch = exec_watch::ExecWatch::open().ok();
    let mut lat = Vec::new();
    for _ in 0..reps {
        let Some(&old) = home.services().first() else {
            break;
        };
        let elapsed = match &watch {
            Some(w) => {
                let t0 = exec_watch::now_ns();
                kill(old, libc::SIGKILL);
                let comm = &home.comm;
                w.next(Duration::from_secs(5), |pid| {
                    pid != old
                        && fs::read_to_string(format!("/proc/{pid}/comm"))
                            .is_ok_and(|c| c.trim() == comm.as_str())
                })
                .map(|e| Duration::from_nanos(e.at_ns.saturating_sub(t0)))
            }
            None => {
                let t0 = Instant::now();
                kill(old, libc::SIGKILL);
                let mut found = None;
                while t0.elapsed() < Duration::from_secs(5) {
                    if home.services().iter().any(|&p| p != old) {
                        found = Some(t0.elapsed());
                        break;
                    }
                    std::hint::spin_loop();
                }
                found
            }
        };
        let Some(elapsed) = elapsed else {
            return Err("no new process within 5 s".into());
        };
        lat.push(elapsed);
        // The replacement is up before the next kill (and past any
        // anti-flapping rule).
        if !home.wait_services(1) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    lat.sort();
    let how = if watch.is_some() {
        "kill() to the kernel's exec event"
    } else {
        "includes /proc polling; run as root for exact exec times"
    };
    Ok((lat, how))
}

fn bench_status(bins: &BinDir, n: usize, reps: usize) {
    let mut home = Home::new(bins, n);
    if !home.start_all(n).success() || !home.wait_services(n) {
        println!("| status | {n} | services did not start |");
        return;
    }
    let args = vec!["status".to_string()];
    let mut lat = Vec::new();
    for i in 0..reps + 2 {
        let t0 = Instant::now();
        let (st, out) = home.cli(&args);
        let el = t0.elapsed();
        if !st.success() && st.code() != Some(3) {
            println!("| status | {n} | daimon status failed: {st} |");
            return;
        }
        let listed = (0..n)
            .filter(|i| memchr_word(&out, &format!("b{i}.service")))
            .count();
        if listed != n {
            println!("| status | {n} | listed {listed}/{n} |");
            return;
        }
        if i >= 2 {
            lat.push(el);
        }
    }
    lat.sort();
    println!(
        "| daimon status (whole CLI process) | {n} | median {:.2} ms, p90 {:.2} ms |",
        ms(pct(&lat, 50)),
        ms(pct(&lat, 90))
    );
}

fn bench_idle(bins: &BinDir, n: usize) {
    let mut home = Home::new(bins, n);
    if !home.start_all(n).success() || !home.wait_services(n) {
        println!("| idle | {n} | services did not start |");
        return;
    }
    let Some(pid) = home.daemon_pid() else { return };
    std::thread::sleep(Duration::from_secs(1));
    let before = cpu_ticks(pid);
    let span = Duration::from_secs(5);
    std::thread::sleep(span);
    let after = cpu_ticks(pid);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let used = after.saturating_sub(before) as f64 / hz;
    println!(
        "| idle CPU of daimond | {n} | {:.1} ms CPU over {} s ({:.3} %) |",
        used * 1000.0,
        span.as_secs(),
        used / span.as_secs_f64() * 100.0
    );
}

fn memchr_word(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    hay.windows(n.len()).enumerate().any(|(i, w)| {
        w == n
            && hay
                .get(i + n.len())
                .is_none_or(|c| !c.is_ascii_alphanumeric())
            && (i == 0 || !hay[i - 1].is_ascii_alphanumeric())
    })
}

fn pct(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) * p / 100).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn which(prog: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    path.split(':')
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("/bin").join(prog))
}

fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
            }
        }
    }
    out
}

fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn start_time(pid: u32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

fn cpu_ticks(pid: u32) -> u64 {
    stat_fields(pid)
        .map(|f| {
            let g = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            g(11) + g(12)
        })
        .unwrap_or(0)
}

fn alive(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s != "Z" && s != "X"))
}

/// (PSS, RSS) in KiB from smaps_rollup.
fn memory_kib(pid: u32) -> (u64, u64) {
    let text = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("Pss:"), field("Rss:"))
}

fn kill(pid: u32, sig: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}
