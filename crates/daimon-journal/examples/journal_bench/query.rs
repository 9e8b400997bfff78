//! Queries on a 10,000,000-line store, and bytes on disk per line.

use std::time::{Duration, Instant};

use daimon_journal::{Journal, JournalConfig, JournalReader, Query, SourceId};

use crate::{LINE, make_line, meta, mls, thread_cpu};

/// A store of 10,000,000 lines of 100 units spread over 24 hours.
pub fn build_store(dir: &std::path::Path) -> (Journal, i64) {
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
        if i.is_multiple_of(5000) {
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

/// Runs `q` `runs` times; the fastest run's wall and thread-CPU time, and
/// how many records it delivered (`first` = stop after the first).
fn time(r: &mut JournalReader, q: &Query, runs: usize, first: bool) -> (Duration, Duration, usize) {
    let mut best = (Duration::MAX, Duration::MAX, 0);
    for _ in 0..runs {
        let t = Instant::now();
        let c = thread_cpu();
        let mut n = 0;
        r.query(q, &mut |_| {
            n += 1;
            !first
        })
        .expect("query");
        let (wall, cpu) = (t.elapsed(), thread_cpu() - c);
        if wall < best.0 {
            best = (wall, cpu, n);
        }
    }
    best
}

pub fn query(tmp: &std::path::Path, storage_too: bool) {
    println!("\n## query: 10,000,000 lines, 100 units, 24 h");
    let dir = tmp.join("store");
    let (j, base) = build_store(&dir);
    let mut r = j.reader().expect("reader");
    let ts = |us: i64| jiff::Timestamp::from_microsecond(us).expect("ts");
    let hour = 3_600_000_000i64;
    let window = || Query {
        since: Some(ts(base + 12 * hour)),
        until: Some(ts(base + 13 * hour)),
        ..Default::default()
    };
    let cases: Vec<(&str, Query, usize, bool, &str)> = vec![
        (
            "-u unit-42 -n 100",
            Query {
                units: vec!["unit-42.service".into()],
                lines: Some(100),
                ..Default::default()
            },
            20,
            false,
            "< 5",
        ),
        (
            "--since 12:00 --until 13:00, first line",
            window(),
            10,
            true,
            "< 20",
        ),
        (
            "--since 12:00 --until 13:00, whole hour",
            window(),
            3,
            false,
            "",
        ),
        (
            "-p err (all units)",
            Query {
                max_priority: Some(3),
                ..Default::default()
            },
            10,
            false,
            "< 20",
        ),
        (
            "-u unit-07 -g 'POST /api/v2/orders/9'",
            Query {
                units: vec!["unit-07.service".into()],
                grep: Some("POST /api/v2/orders/9".into()),
                ..Default::default()
            },
            3,
            false,
            "",
        ),
        (
            "-g 'req=0000ff[0-9a-f]{2}' (all 10M lines)",
            Query {
                grep: Some("req=0000ff[0-9a-f]{2}".into()),
                ..Default::default()
            },
            2,
            false,
            ">= 500 MB/s",
        ),
    ];
    println!(
        "{:<44} {:>10} {:>10} {:>9} {:>12}",
        "query", "ms (best)", "CPU ms", "records", "goal"
    );
    let raw_mb = 10_000_000.0 * LINE as f64 / 1e6;
    for (name, q, runs, first, goal) in cases {
        let (wall, cpu, n) = time(&mut r, &q, runs, first);
        print!(
            "{:<44} {:>10.2} {:>10.2} {:>9} {:>12}",
            name,
            wall.as_secs_f64() * 1e3,
            cpu.as_secs_f64() * 1e3,
            n,
            goal
        );
        if q.grep.is_some() && q.units.is_empty() {
            print!(
                "  => {:.0} MB/s of text ({:.0} MB/s per CPU second)",
                raw_mb / wall.as_secs_f64(),
                raw_mb / cpu.as_secs_f64()
            );
        }
        println!();
    }
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

pub fn storage(tmp: &std::path::Path) {
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
