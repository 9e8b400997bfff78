//! `logs`: ingest throughput of the whole path a service's output takes
//! (pipe, daimond's reader, the journal's writer thread, segment and index),
//! timed as a user sees it: from `daimon start` of a service that `cat`s N
//! lines of 100 bytes until `daimon logs UNIT -n 1` prints the last one; then
//! every line is counted, so nothing lost goes unnoticed.
//!
//! The reference in the same table: the same `cat` into a pipe drained by a
//! second `cat > /dev/null`, the fastest a reader of that pipe could go.
//! Also daimond's CPU time (all its threads) over the run: on a machine shared
//! with other work the wall time swings with the neighbours, the CPU time
//! much less. The store keeps only 100M free on its file system
//! (`SystemKeepFree=`), so a nearly full disk does not make retention delete
//! the lines being counted.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{BinDir, DEADLINE, Home, which};

const LINE: usize = 100;

/// N numbered lines of exactly 100 bytes.
fn write_lines(path: &Path, n: usize) {
    let mut out = std::io::BufWriter::new(fs::File::create(path).expect("create the lines"));
    let pad = "x".repeat(LINE);
    for i in 0..n {
        let head = format!("{i:010} GET /api/v1/items/{} 200 ", i % 100_000);
        let line = format!("{head}{}\n", &pad[..LINE - 1 - head.len()]);
        out.write_all(line.as_bytes()).expect("write the lines");
    }
    out.flush().expect("write the lines");
}

/// Seconds `cat FILE | cat > /dev/null` takes.
fn reference(file: &Path) -> f64 {
    let t = Instant::now();
    let mut src = Command::new(which("cat"))
        .arg(file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn cat");
    let pipe = src.stdout.take().expect("cat's stdout");
    let sink = Command::new(which("cat"))
        .stdin(pipe)
        .stdout(Stdio::null())
        .status()
        .expect("run cat > /dev/null");
    let _ = src.wait();
    assert!(sink.success());
    t.elapsed().as_secs_f64()
}

/// CPU seconds (user + system, every thread) `pid` has used.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some(ticks as f64 / hz)
}

/// One run: seconds until the last line is queryable, daimond's CPU seconds
/// meanwhile, and the lines stored.
fn one_run(bins: &BinDir, file: &Path, n: usize) -> Option<(f64, f64, usize)> {
    let home = Home::new(bins, 0);
    fs::write(
        home.dir.path().join("daimond.conf"),
        "[Journal]\nSystemKeepFree=100M\n",
    )
    .expect("write daimond.conf");
    let unit = format!(
        "[Service]\nExecStart=/bin/sh -c 'cat {}; exec sleep 100000'\n",
        file.display()
    );
    fs::write(home.dir.path().join("units/writer.service"), unit).expect("write unit");
    // The daemon up first, so its start is not timed.
    home.cli(&["list".to_string()]);
    let last = format!("{:010} ", n - 1);
    let tail: Vec<String> = [
        "logs",
        "writer",
        "_TRANSPORT=stdout",
        "-n",
        "1",
        "-o",
        "cat",
    ]
    .map(String::from)
    .to_vec();
    let pid = home.daemon_pid()?;
    let cpu0 = cpu_secs(pid)?;
    let t = Instant::now();
    if !home
        .cli(&["start".to_string(), "writer".to_string()])
        .0
        .success()
    {
        return None;
    }
    loop {
        let (_, out) = home.cli(&tail);
        if out.starts_with(last.as_bytes()) {
            break;
        }
        if t.elapsed() > DEADLINE {
            eprintln!("logs: the last line never arrived");
            return None;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs(pid)? - cpu0;
    let all: Vec<String> = ["logs", "writer", "_TRANSPORT=stdout", "-o", "cat"]
        .map(String::from)
        .to_vec();
    let (_, out) = home.cli(&all);
    let lines = memchr_count(&out);
    Some((secs, cpu, lines))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn memchr_count(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

pub fn bench_logs(bins: &BinDir, n: usize, reps: usize) {
    let dir = crate::scratch::ScratchDir::new("daimon-bench-lines-").expect("scratch dir");
    let file = dir.path().join("lines.txt");
    write_lines(&file, n);
    let mut refs = Vec::new();
    let mut runs = Vec::new();
    let mut cpus = Vec::new();
    for _ in 0..reps {
        refs.push(reference(&file));
        if let Some((secs, cpu, lines)) = one_run(bins, &file, n) {
            if lines != n {
                eprintln!("logs: {lines} of {n} lines stored");
            }
            runs.push(secs);
            cpus.push(cpu);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let rate = |s: f64| n as f64 / s;
    let r = median(&mut refs);
    println!(
        "| logs: cat into a pipe to /dev/null (reference) | {n} lines | {:.0} lines/s |",
        rate(r)
    );
    if runs.is_empty() {
        println!("| logs: daimond ingest, last line queryable | {n} lines | failed |");
        return;
    }
    let d = median(&mut runs);
    println!(
        "| logs: daimond ingest, last line queryable | {n} lines | {:.0} lines/s ({:.0} ms, {:.2} of the reference) |",
        rate(d),
        d * 1000.0,
        r / d
    );
    println!(
        "| logs: daimond CPU time for those lines (all threads) | {n} lines | {:.0} ms |",
        median(&mut cpus) * 1000.0
    );
}
