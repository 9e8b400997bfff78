//! Benchmark of the log store: ingestion against a pipe drained to nowhere,
//! query latencies on a 10,000,000-line store, and bytes on disk per line.
//!
//! `cargo run --release -p daimon-journal --example journal_bench -- [ingest|query|storage|all]`
//!
//! Figures are printed, not asserted. All data lives in a temporary directory
//! that is removed at the end. Wall times on a shared 2-core machine swing
//! with the neighbours' load; the CPU columns (thread CPU time) do not.
//!
//! For profilers: `profile-ingest` (five single-producer runs) and
//! `profile-grep [DIR]` (builds the 10M-line store, or reuses DIR, and greps).
//! `JOURNAL_BENCH_VERBOSE=1` prints the writer's busy time per run;
//! `JOURNAL_BENCH_PIPE=BYTES` enlarges the pipes (`F_SETPIPE_SZ`).

mod ingest;
mod query;

use std::io::Write;
use std::time::{Duration, Instant};

use daimon_journal::{Journal, JournalConfig, Query, SourceMeta, Stream};

pub const LINE: usize = 100;

/// A realistic log line of exactly `LINE` bytes (newline included), numbered.
pub fn make_line(i: u64, out: &mut Vec<u8>) {
    const METHODS: [&str; 4] = ["GET", "POST", "PUT", "GET"];
    const PATHS: [&str; 5] = [
        "/api/v1/items",
        "/api/v1/users",
        "/healthz",
        "/api/v2/orders",
        "/static/app.js",
    ];
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5851_F42D_4C95_7F2D;
    x ^= x >> 29;
    let status = [200, 200, 200, 201, 204, 304, 404, 500][(x % 8) as usize];
    let start = out.len();
    let _ = write!(
        out,
        "{:010} {} {}/{} {} {}.{:03}ms req={:016x} worker={}",
        i,
        METHODS[(x >> 8) as usize % 4],
        PATHS[(x >> 12) as usize % 5],
        (x >> 20) % 100_000,
        status,
        (x >> 40) % 200,
        (x >> 50) % 1000,
        x.rotate_left(17) & 0xffff_ffff,
        (x >> 3) % 16,
    );
    let filler = b" ua=Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)";
    let want = LINE - 1;
    let have = out.len() - start;
    if have < want {
        out.extend_from_slice(&filler[..(want - have).min(filler.len())]);
    }
    while out.len() - start < want {
        out.push(b'.');
    }
    out.truncate(start + want);
    out.push(b'\n');
}

pub fn meta(unit: &str) -> SourceMeta {
    SourceMeta {
        unit: unit.to_string(),
        invocation: "0123456789abcdef0123456789abcdef".to_string(),
        pid: 1,
        stream: Stream::Stdout,
        level_prefix: true,
        identifier: None,
    }
}

/// CPU time of the calling thread.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; the clock id exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

pub fn count_lines(j: &Journal) -> (u64, u64) {
    let mut r = j.reader().expect("reader");
    let mut n = 0u64;
    let mut bytes = 0u64;
    r.query(&Query::default(), &mut |rec| {
        n += 1;
        bytes += rec.message.len() as u64 + 1;
        true
    })
    .expect("query");
    (n, bytes)
}

pub fn mls(lines: u64, d: Duration) -> f64 {
    lines as f64 / d.as_secs_f64() / 1e6
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("produce") {
        let n = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
        let first = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
        ingest::produce(n, first, args.get(4).map(String::as_str) == Some("fmt"));
        return;
    }
    let what = args.get(1).cloned().unwrap_or_else(|| "all".into());
    let tmp = tempfile::Builder::new()
        .prefix("journal-bench")
        .tempdir()
        .expect("tempdir");
    println!(
        "journal_bench {what}: {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    match what.as_str() {
        "ingest" => ingest::ingest(tmp.path()),
        "query" => query::query(tmp.path(), false),
        "profile-grep" => {
            let dir = tmp.path().join("store");
            let kept = std::env::args().nth(2).map(std::path::PathBuf::from);
            let j = match &kept {
                Some(p) if p.exists() => Journal::open(p, JournalConfig::default()).expect("open"),
                _ => query::build_store(&dir).0,
            };
            let mut r = j.reader().expect("reader");
            let q = Query {
                grep: Some("req=0000ff[0-9a-f]{2}".into()),
                ..Default::default()
            };
            for _ in 0..3 {
                let t = Instant::now();
                let c = thread_cpu();
                r.query(&q, &mut |_| true).expect("query");
                println!(
                    "grep {:.0} ms (thread CPU {:.0} ms)",
                    t.elapsed().as_secs_f64() * 1e3,
                    (thread_cpu() - c).as_secs_f64() * 1e3
                );
            }
            if let Some(p) = std::env::args().nth(2) {
                // Keep the store for repeated profiling.
                let _ = std::fs::rename(&dir, p);
            }
        }
        "profile-ingest" => {
            for run in 0..5 {
                let dir = tmp.path().join(format!("p{run}"));
                let cfg = JournalConfig {
                    max_use: Some(8 << 30),
                    ..Default::default()
                };
                let j = Journal::open(&dir, cfg).expect("open");
                let (d, _, _) = ingest::journal_run(&j, &ingest::How::Prebuilt, 1, 1_000_000);
                println!("{:.1} ms", d.as_secs_f64() * 1e3);
            }
        }
        "storage" => query::storage(tmp.path()),
        "all" => {
            ingest::ingest(tmp.path());
            query::storage(tmp.path());
            query::query(tmp.path(), true);
        }
        other => {
            eprintln!("unknown scenario {other:?}: expected ingest, query, storage or all");
            std::process::exit(2);
        }
    }
}
