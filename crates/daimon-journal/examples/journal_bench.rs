//! Benchmark of the log store: ingestion against a pipe drained to nowhere,
//! query latencies on a 10,000,000-line store, and bytes on disk per line.
//!
//! `cargo run --release -p daimon-journal --example journal_bench -- [ingest|query|storage|all]`
//!
//! Figures are printed, not asserted. All data lives in a temporary directory
//! that is removed at the end.

use std::io::{BufWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use daimon_journal::{Journal, JournalConfig, JournalWriter, Query, SourceId, SourceMeta, Stream};

const LINE: usize = 100;

/// Kills a producer by PID if the benchmark stops early.
struct Producer(Child);

impl Drop for Producer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A realistic log line of exactly `LINE` bytes (newline included), numbered.
fn make_line(i: u64, out: &mut Vec<u8>) {
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

/// The producer child: `journal_bench produce N FIRST fmt|tmpl` writes N lines
/// to stdout through a 64 KiB buffer: `fmt` formats every line (as a program
/// calling printf does), `tmpl` only patches the number into pre-built lines.
fn produce(n: u64, first: u64, fmt: bool) {
    if fmt {
        let stdout = std::io::stdout();
        let mut out = BufWriter::with_capacity(64 << 10, stdout.lock());
        let mut line = Vec::with_capacity(2 * LINE);
        for i in first..first + n {
            line.clear();
            make_line(i, &mut line);
            if out.write_all(&line).is_err() {
                return;
            }
        }
        let _ = out.flush();
        return;
    }
    let mut templates = Vec::new();
    for i in 0..1024 {
        make_line(i, &mut templates);
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(64 << 10, stdout.lock());
    let mut line = [0u8; LINE];
    for i in first..first + n {
        let t = (i % 1024) as usize * LINE;
        line.copy_from_slice(&templates[t..t + LINE]);
        let mut v = i;
        for d in (0..10).rev() {
            line[d] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        if out.write_all(&line).is_err() {
            return;
        }
    }
    let _ = out.flush();
}

enum Msg {
    Data(SourceId, Vec<u8>),
    Close(SourceId),
}

enum How {
    Printf,
    Prebuilt,
    Cat(std::path::PathBuf),
}

fn spawn(how: &How, n: u64, first: u64) -> Producer {
    let mut cmd = match how {
        How::Printf | How::Prebuilt => {
            let mut c = Command::new(std::env::current_exe().expect("own path"));
            let mode = if matches!(how, How::Printf) {
                "fmt"
            } else {
                "tmpl"
            };
            c.args(["produce", &n.to_string(), &first.to_string(), mode]);
            c
        }
        How::Cat(p) => {
            let mut c = Command::new("cat");
            c.arg(p);
            c
        }
    };
    Producer(
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn producer"),
    )
}

/// Reads every pipe as the daemon does: one thread, poll(2), 64 KiB reads.
/// With `tx`, chunks go to the writer thread, which hands the buffers back
/// through `back` for reuse; without, they are dropped.
fn pump(
    pipes: Vec<(SourceId, std::process::ChildStdout)>,
    tx: Option<SyncSender<Msg>>,
    back: Option<Receiver<Vec<u8>>>,
) -> u64 {
    let mut open = pipes;
    if let Some(sz) = std::env::var("JOURNAL_BENCH_PIPE")
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    {
        for (_, p) in &open {
            // SAFETY: F_SETPIPE_SZ on a pipe we own; failure leaves it as is.
            unsafe { libc::fcntl(p.as_raw_fd(), libc::F_SETPIPE_SZ, sz) };
        }
    }
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    while !open.is_empty() {
        let mut fds: Vec<libc::pollfd> = open
            .iter()
            .map(|(_, p)| libc::pollfd {
                fd: p.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a valid array of pollfd for the duration of the call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 10_000) };
        if rc < 0 {
            continue;
        }
        let mut closed = Vec::new();
        for (k, fd) in fds.iter().enumerate() {
            if fd.revents == 0 {
                continue;
            }
            let (id, pipe) = &mut open[k];
            if tx.is_some() {
                buf = back
                    .as_ref()
                    .and_then(|b| b.try_recv().ok())
                    .unwrap_or_default();
                buf.resize(64 << 10, 0);
            }
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => closed.push(k),
                Ok(n) => {
                    total += n as u64;
                    if let Some(tx) = &tx {
                        buf.truncate(n);
                        if tx.send(Msg::Data(*id, std::mem::take(&mut buf))).is_err() {
                            return total;
                        }
                    }
                }
            }
        }
        for k in closed.into_iter().rev() {
            let (id, _) = open.remove(k);
            if let Some(tx) = &tx {
                let _ = tx.send(Msg::Close(id));
            }
        }
    }
    total
}

fn meta(unit: &str) -> SourceMeta {
    SourceMeta {
        unit: unit.to_string(),
        invocation: "0123456789abcdef0123456789abcdef".to_string(),
        pid: 1,
        stream: Stream::Stdout,
        level_prefix: true,
        identifier: None,
    }
}

/// Producer start → EOF of every pipe, draining to nowhere.
fn reference(how: &How, producers: u64, lines: u64) -> Duration {
    let t0 = Instant::now();
    let mut kids = Vec::new();
    let mut pipes = Vec::new();
    for k in 0..producers {
        let mut p = spawn(how, lines / producers, k * (lines / producers));
        pipes.push((SourceId(k), p.0.stdout.take().expect("pipe")));
        kids.push(p);
    }
    let bytes = pump(pipes, None, None);
    let d = t0.elapsed();
    assert_eq!(bytes, lines * LINE as u64, "reference lost bytes");
    d
}

/// Producer start → last line committed (visible to queries).
fn journal_run(j: &Journal, how: &How, producers: u64, lines: u64) -> Duration {
    let mut w: JournalWriter = j.writer().expect("writer");
    for k in 0..producers {
        w.open_source(SourceId(k), meta(&format!("bench-{k}.service")));
    }
    let (tx, rx) = sync_channel::<Msg>(64);
    let t0 = Instant::now();
    let mut kids = Vec::new();
    let mut pipes = Vec::new();
    for k in 0..producers {
        let mut p = spawn(how, lines / producers, k * (lines / producers));
        pipes.push((SourceId(k), p.0.stdout.take().expect("pipe")));
        kids.push(p);
    }
    let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || pump(pipes, Some(tx), Some(back_rx)));
    let mut open = producers;
    let mut busy = Duration::ZERO;
    let cpu0 = thread_cpu();
    let mut last_tick = Instant::now();
    while open > 0 {
        let Ok(m) = rx.recv() else { break };
        let mut handle = |m: Msg, w: &mut JournalWriter| match m {
            Msg::Data(id, d) => {
                w.ingest(id, &d);
                let _ = back_tx.send(d);
            }
            Msg::Close(id) => {
                w.close_source(id);
                open -= 1;
            }
        };
        let tb = Instant::now();
        handle(m, &mut w);
        while let Ok(m) = rx.try_recv() {
            handle(m, &mut w);
        }
        w.commit();
        busy += tb.elapsed();
        if last_tick.elapsed() >= Duration::from_millis(100) {
            w.tick(Instant::now());
            last_tick = Instant::now();
        }
    }
    let d = t0.elapsed();
    if std::env::var_os("JOURNAL_BENCH_VERBOSE").is_some() {
        eprintln!(
            "writer busy {:.1} ms (thread CPU {:.1} ms) of {:.1} ms",
            busy.as_secs_f64() * 1e3,
            (thread_cpu() - cpu0).as_secs_f64() * 1e3,
            d.as_secs_f64() * 1e3
        );
    }
    let _ = reader.join();
    drop(kids);
    drop(w);
    d
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; the clock id exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn count_lines(j: &Journal) -> (u64, u64) {
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

fn mls(lines: u64, d: Duration) -> f64 {
    lines as f64 / d.as_secs_f64() / 1e6
}

fn ingest(tmp: &std::path::Path) {
    let lines = 1_000_000u64;
    let write_file = |path: &std::path::Path, n: u64| {
        let mut f = BufWriter::new(std::fs::File::create(path).expect("create"));
        let mut buf = Vec::new();
        for i in 0..n {
            buf.clear();
            make_line(i, &mut buf);
            f.write_all(&buf).expect("write");
        }
        f.flush().expect("flush");
    };
    let file = tmp.join("lines.txt");
    let file10 = tmp.join("lines-tenth.txt");
    write_file(&file, lines);
    write_file(&file10, lines / 10);
    println!(
        "\n## ingest: {lines} lines of {LINE} bytes in all; producer start -> last line committed"
    );
    println!(
        "{:<40} {:>8} {:>9} {:>10} {:>9} {:>7}",
        "producer(s)", "ref ms", "ref Ml/s", "daimon ms", "Ml/s", "ratio"
    );
    let cases: [(&str, How, u64); 6] = [
        ("1 x printf-style writer", How::Printf, 1),
        ("10 x printf-style writer", How::Printf, 10),
        ("1 x pre-built lines writer", How::Prebuilt, 1),
        ("10 x pre-built lines writer", How::Prebuilt, 10),
        ("1 x cat (100 MB file)", How::Cat(file.clone()), 1),
        ("10 x cat (10 MB file each)", How::Cat(file10.clone()), 10),
    ];
    for (name, how, producers) in cases {
        let mut best = (Duration::MAX, Duration::MAX);
        for run in 0..3 {
            let dir = tmp.join(format!("ingest-{producers}-{run}"));
            let cfg = JournalConfig {
                max_use: Some(8 << 30),
                ..Default::default()
            };
            let j = Journal::open(&dir, cfg).expect("open");
            let r = reference(&how, producers, lines);
            let d = journal_run(&j, &how, producers, lines);
            let (n, _) = count_lines(&j);
            assert_eq!(n, lines, "lines lost");
            best = (best.0.min(r), best.1.min(d));
            drop(j);
            let _ = std::fs::remove_dir_all(&dir);
        }
        println!(
            "{:<40} {:>8.1} {:>9.2} {:>10.1} {:>9.2} {:>7.2}",
            name,
            best.0.as_secs_f64() * 1e3,
            mls(lines, best.0),
            best.1.as_secs_f64() * 1e3,
            mls(lines, best.1),
            best.0.as_secs_f64() / best.1.as_secs_f64()
        );
    }
    println!("(best of 3; every line verified in the store after each run)");
}

/// A store of 10,000,000 lines of 100 units spread over 24 hours.
fn build_store(dir: &std::path::Path) -> (Journal, i64) {
    let cfg = JournalConfig {
        max_use: Some(16 << 30),
        ..Default::default()
    };
    let j = Journal::open(dir, cfg).expect("open");
    let mut w = j.writer().expect("writer");
    for u in 0..100u64 {
        w.open_source(SourceId(u), meta(&format!("unit-{u:02}.service")));
    }
    let total = 10_000_000u64;
    let base: i64 = 1_763_683_200_000_000; // 2025-11-21T00:00:00Z
    let step = 86_400_000_000 / total as i64;
    let per_chunk = 50u64;
    let mut chunk = Vec::with_capacity(8 << 10);
    let t0 = Instant::now();
    let mut i = 0u64;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    while i < total {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let u = x % 100;
        chunk.clear();
        for k in 0..per_chunk {
            let n = i + k;
            // 1,000 errors in all, some warnings.
            if n % 10_000 == 4_321 {
                chunk.extend_from_slice(b"<3>");
            } else if n % 1000 == 17 {
                chunk.extend_from_slice(b"<4>");
            }
            make_line(n, &mut chunk);
        }
        let rt = (base + i as i64 * step) as u64;
        w.ingest_at(SourceId(u), &chunk, rt, i * step as u64);
        i += per_chunk;
        if i % 5000 == 0 {
            w.commit();
        }
    }
    w.commit();
    let ingest = t0.elapsed();
    let t1 = Instant::now();
    w.seal_and_compact_all();
    println!(
        "built: {total} lines in {:.1} s ({:.2} M lines/s through the writer API), sealed+compressed in {:.1} s",
        ingest.as_secs_f64(),
        mls(total, ingest),
        t1.elapsed().as_secs_f64()
    );
    drop(w);
    (j, base)
}

fn time<F: FnMut() -> usize>(runs: usize, mut f: F) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut n = 0;
    for _ in 0..runs {
        let t = Instant::now();
        n = f();
        best = best.min(t.elapsed());
    }
    (best, n)
}

fn query(tmp: &std::path::Path, storage_too: bool) {
    println!("\n## query: 10,000,000 lines, 100 units, 24 h");
    let dir = tmp.join("store");
    let (j, base) = build_store(&dir);
    let mut r = j.reader().expect("reader");
    let ts = |us: i64| jiff::Timestamp::from_microsecond(us).expect("ts");
    println!(
        "{:<46} {:>10} {:>9} {:>8}",
        "query", "ms (best)", "records", "goal ms"
    );
    let q = Query {
        units: vec!["unit-42.service".into()],
        lines: Some(100),
        ..Default::default()
    };
    let (d, n) = time(20, || {
        let mut n = 0;
        r.query(&q, &mut |_| {
            n += 1;
            true
        })
        .expect("query");
        n
    });
    println!(
        "{:<46} {:>10.2} {:>9} {:>8}",
        "-u unit-42 -n 100",
        d.as_secs_f64() * 1e3,
        n,
        "< 5"
    );
    let hour = 3_600_000_000i64;
    let q = Query {
        since: Some(ts(base + 12 * hour)),
        until: Some(ts(base + 13 * hour)),
        ..Default::default()
    };
    let (d, n) = time(10, || {
        let mut n = 0;
        r.query(&q, &mut |_| {
            n += 1;
            false
        })
        .expect("query");
        n
    });
    println!(
        "{:<46} {:>10.2} {:>9} {:>8}",
        "--since 12:00 --until 13:00, first line",
        d.as_secs_f64() * 1e3,
        n,
        "< 20"
    );
    let (d, n) = time(3, || {
        let mut n = 0;
        r.query(&q, &mut |_| {
            n += 1;
            true
        })
        .expect("query");
        n
    });
    println!(
        "{:<46} {:>10.2} {:>9} {:>8}",
        "--since 12:00 --until 13:00, whole hour",
        d.as_secs_f64() * 1e3,
        n,
        ""
    );
    let q = Query {
        max_priority: Some(3),
        ..Default::default()
    };
    let (d, n) = time(10, || {
        let mut n = 0;
        r.query(&q, &mut |_| {
            n += 1;
            true
        })
        .expect("query");
        n
    });
    println!(
        "{:<46} {:>10.2} {:>9} {:>8}",
        "-p err (all units)",
        d.as_secs_f64() * 1e3,
        n,
        "< 20"
    );
    let q = Query {
        grep: Some("req=0000ff[0-9a-f]{2}".into()),
        ..Default::default()
    };
    let (d, n) = time(2, || {
        let mut n = 0;
        r.query(&q, &mut |_| {
            n += 1;
            true
        })
        .expect("query");
        n
    });
    let raw_mb = 10_000_000.0 * LINE as f64 / 1e6;
    println!(
        "{:<46} {:>10.0} {:>9} {:>8}   => {:.0} MB/s of text",
        "-g 'req=0000ff[0-9a-f]{2}' (all 10M lines)",
        d.as_secs_f64() * 1e3,
        n,
        "",
        raw_mb / d.as_secs_f64()
    );
    let q = Query {
        units: vec!["unit-07.service".into()],
        grep: Some("POST /api/v2/orders/9".into()),
        ..Default::default()
    };
    let (d, n) = time(3, || {
        let mut n = 0;
        r.query(&q, &mut |_| {
            n += 1;
            true
        })
        .expect("query");
        n
    });
    println!(
        "{:<46} {:>10.1} {:>9} {:>8}",
        "-u unit-07 -g 'POST /api/v2/orders/9'",
        d.as_secs_f64() * 1e3,
        n,
        ""
    );
    if storage_too {
        let st = r.stats();
        println!(
            "\n## storage (sealed, zstd level {})",
            j.config().compress_level
        );
        println!(
            "10M lines: {:.1} MB on disk = {:.1} bytes/line = {:.1} % of the raw text ({} bytes/line)",
            st.disk_usage as f64 / 1e6,
            st.disk_usage as f64 / 1e7,
            st.disk_usage as f64 / 1e7 / LINE as f64 * 100.0,
            LINE
        );
    }
    drop(r);
    drop(j);
    let _ = std::fs::remove_dir_all(&dir);
}

fn storage(tmp: &std::path::Path) {
    println!("\n## storage: 1,000,000 lines of {LINE} bytes, 10 units");
    let dir = tmp.join("storage");
    let cfg = JournalConfig {
        max_use: Some(8 << 30),
        ..Default::default()
    };
    let j = Journal::open(&dir, cfg).expect("open");
    let mut w = j.writer().expect("writer");
    for u in 0..10u64 {
        w.open_source(SourceId(u), meta(&format!("svc-{u}.service")));
    }
    let mut chunk = Vec::new();
    for c in 0..10_000u64 {
        chunk.clear();
        for k in 0..100 {
            make_line(c * 100 + k, &mut chunk);
        }
        w.ingest(SourceId(c % 10), &chunk);
        w.commit();
    }
    w.commit();
    let mut r = j.reader().expect("reader");
    let hot = r.stats().disk_usage;
    w.seal_and_compact_all();
    let sealed = r.stats().disk_usage;
    let raw = 1_000_000 * LINE as u64;
    println!(
        "{:<28} {:>12} {:>12} {:>10}",
        "state", "bytes", "bytes/line", "% of raw"
    );
    for (name, b) in [
        ("raw text", raw),
        ("active (uncompressed)", hot),
        ("sealed (zstd)", sealed),
    ] {
        println!(
            "{:<28} {:>12} {:>12.1} {:>9.1}%",
            name,
            b,
            b as f64 / 1e6,
            b as f64 / raw as f64 * 100.0
        );
    }
    drop(w);
    drop(r);
    drop(j);
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("produce") {
        let n = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
        let first = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
        produce(n, first, args.get(4).map(String::as_str) == Some("fmt"));
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
        "ingest" => ingest(tmp.path()),
        "query" => query(tmp.path(), false),
        "profile-grep" => {
            let dir = tmp.path().join("store");
            let kept = std::env::args().nth(2).map(std::path::PathBuf::from);
            let j = match &kept {
                Some(p) if p.exists() => Journal::open(p, JournalConfig::default()).expect("open"),
                _ => build_store(&dir).0,
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
                let d = journal_run(&j, &How::Prebuilt, 1, 1_000_000);
                println!("{:.1} ms", d.as_secs_f64() * 1e3);
            }
        }
        "storage" => storage(tmp.path()),
        "all" => {
            ingest(tmp.path());
            storage(tmp.path());
            query(tmp.path(), true);
        }
        other => {
            eprintln!("unknown scenario {other:?}: expected ingest, query, storage or all");
            std::process::exit(2);
        }
    }
}
