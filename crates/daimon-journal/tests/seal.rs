//! Sealing and retention: compressed segments answer queries exactly like raw
//! ones; retention deletes the oldest data first and keeps the size bound.

mod common;

use std::time::{Duration, Instant};

use common::{collect, messages, meta};
use daimon_journal::{Journal, JournalConfig, Query, SourceId, Stream};

fn queries() -> Vec<Query> {
    let t = |s: u64| jiff::Timestamp::from_second(1_763_698_400 + s as i64).expect("ts");
    vec![
        Query::default(),
        Query {
            units: vec!["u3".into()],
            lines: Some(25),
            ..Default::default()
        },
        Query {
            units: vec!["u1".into(), "u4".into()],
            ..Default::default()
        },
        Query {
            max_priority: Some(3),
            ..Default::default()
        },
        Query {
            grep: Some("7 of u[25]$".into()),
            ..Default::default()
        },
        Query {
            since: Some(t(1000)),
            until: Some(t(1100)),
            ..Default::default()
        },
        Query {
            since: Some(t(1000)),
            lines: Some(7),
            max_priority: Some(4),
            ..Default::default()
        },
    ]
}

#[test]
fn compressed_segments_answer_like_raw_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = JournalConfig {
        max_use: Some(1 << 30),
        segment_size: 256 << 10,
        ..Default::default()
    };
    let j = Journal::open(dir.path(), cfg).expect("open");
    let mut w = j.writer().expect("writer");
    for u in 0..6u64 {
        w.open_source(SourceId(u), meta(&format!("u{u}"), Stream::Stdout));
    }
    let base = 1_763_698_400_000_000u64;
    for i in 0..30_000u64 {
        let u = (i * 7 + i / 13) % 6;
        let p = [6, 6, 6, 5, 4, 6, 3, 6][(i % 8) as usize];
        let line = format!("<{p}>message {i} of u{u}\n");
        w.ingest_at(
            SourceId(u),
            line.as_bytes(),
            base + i * 100_000,
            i * 100_000,
        );
        if i % 50 == 0 {
            w.commit();
        }
    }
    w.commit();
    let mut r = j.reader().expect("reader");
    let before: Vec<_> = queries().iter().map(|q| collect(&mut r, q)).collect();
    let raw_size = r.stats().disk_usage;
    assert_eq!(before[0].len(), 30_000);
    w.seal_and_compact_all();
    let after: Vec<_> = queries().iter().map(|q| collect(&mut r, q)).collect();
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert!(!b.is_empty(), "query {i} is empty");
        assert_eq!(b, a, "query {i} differs after compression");
    }
    let sealed_size = r.stats().disk_usage;
    for e in std::fs::read_dir(dir.path()).expect("dir").flatten() {
        eprintln!("{:?} {}", e.file_name(), e.metadata().expect("m").len());
    }
    assert!(sealed_size < raw_size / 2, "{sealed_size} vs {raw_size}");
    // New lines after sealing go to a fresh segment and merge correctly.
    w.ingest(SourceId(0), b"fresh\n");
    w.commit();
    let last = messages(
        &mut r,
        &Query {
            lines: Some(1),
            ..Default::default()
        },
    );
    assert_eq!(last, vec!["fresh"]);
    drop(w);
    // Reopen: compressed segments survive, raw ones were removed.
    drop(r);
    let j2 = Journal::open(dir.path(), JournalConfig::default());
    drop(j);
    let j2 = j2.expect("reopen");
    let mut r2 = j2.reader().expect("reader");
    assert_eq!(messages(&mut r2, &Query::default()).len(), 30_001);
}

#[test]
fn retention_keeps_the_bound_and_deletes_oldest_first() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let max_use = 2u64 << 20;
    let cfg = JournalConfig {
        max_use: Some(max_use),
        tick_budget: Duration::from_millis(50),
        ..Default::default()
    };
    let j = Journal::open(dir.path(), cfg).expect("open");
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("big", Stream::Stdout));
    let mut r = j.reader().expect("reader");
    let mut n = 0u64;
    let mut peak = 0u64;
    // ~20 MB of poorly compressible text through a 2 MiB store.
    let mut x: u64 = 0x1234_5678;
    for round in 0..400 {
        let mut chunk = String::new();
        for _ in 0..500 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.push_str(&format!(
                "{n} {x:016x}{:016x}{:016x}\n",
                x.rotate_left(9),
                x.rotate_left(31)
            ));
            n += 1;
        }
        w.ingest(SourceId(1), chunk.as_bytes());
        w.commit();
        w.tick(Instant::now());
        if round > 50 {
            // What is really on disk, not what the store believes: the
            // blocks allocated, also those ahead of the open segment's end.
            let u: u64 = std::fs::read_dir(dir.path())
                .expect("dir")
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len().max(m.blocks() * 512))
                .sum();
            assert!(r.stats().disk_usage <= u + (64 << 10));
            if u > peak && std::env::var("DJ_DEBUG").is_ok() {
                for e in std::fs::read_dir(dir.path()).expect("dir").flatten() {
                    eprintln!(
                        "{round} {:?} {}",
                        e.file_name(),
                        e.metadata().expect("m").len()
                    );
                }
            }
            peak = peak.max(u);
        }
    }
    // Every file counts (open segment, compressed copy, index, WAL).
    assert!(peak <= max_use, "peak {peak} > {max_use}");
    let got = messages(&mut r, &Query::default());
    assert!(!got.is_empty() && (got.len() as u64) < n);
    let first: u64 = got[0]
        .split(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("number");
    for (i, m) in got.iter().enumerate() {
        let k: u64 = m
            .split(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .expect("number");
        assert_eq!(k, first + i as u64, "a contiguous suffix survives");
    }
    assert_eq!(first + got.len() as u64, n);
}

#[test]
fn age_bound_deletes_old_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = JournalConfig {
        max_use: Some(1 << 30),
        max_age: Some(Duration::from_secs(3600)),
        segment_size: 64 << 10,
        ..Default::default()
    };
    let j = Journal::open(dir.path(), cfg).expect("open");
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("a", Stream::Stdout));
    let now = daimon_journal::realtime_usec();
    let old = now - 2 * 3600 * 1_000_000;
    for i in 0..2000u64 {
        w.ingest_at(SourceId(1), format!("old {i:0100}\n").as_bytes(), old, 1);
    }
    w.commit();
    for i in 0..10u64 {
        w.ingest(SourceId(1), format!("new {i}\n").as_bytes());
    }
    w.commit();
    w.tick(Instant::now() + Duration::from_secs(5));
    let mut r = j.reader().expect("reader");
    let got = messages(&mut r, &Query::default());
    assert!(got.iter().filter(|m| m.starts_with("old")).count() < 2000);
    assert_eq!(got.iter().filter(|m| m.starts_with("new")).count(), 10);
}

#[test]
fn tick_asks_to_run_again_until_sealed_segments_are_compressed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = JournalConfig {
        max_use: Some(1 << 30),
        segment_size: 64 << 10,
        ..Default::default()
    };
    let j = Journal::open(dir.path(), cfg).expect("open");
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("t", Stream::Stdout));
    for i in 0..5000u64 {
        w.ingest(SourceId(1), format!("line {i:060}\n").as_bytes());
    }
    w.commit();
    let raw = |d: &std::path::Path| {
        std::fs::read_dir(d)
            .expect("dir")
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "jseg"))
            .count()
    };
    assert!(raw(dir.path()) > 2);
    let deadline = Instant::now() + Duration::from_secs(30);
    // Sleep only as long as the writer asks, as the daemon does.
    while let Some(wait) = w.tick(Instant::now()) {
        assert!(Instant::now() < deadline, "maintenance never settled");
        assert!(wait <= Duration::from_secs(2), "{wait:?}");
        std::thread::sleep(wait);
    }
    assert_eq!(raw(dir.path()), 1, "only the active segment stays raw");
    let mut r = j.reader().expect("reader");
    assert_eq!(messages(&mut r, &Query::default()).len(), 5000);
}

/// Bytes of every file in `dir`, as they are on disk.
fn on_disk(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len().max(m.blocks() * 512))
        .sum()
}

/// A flood between two ticks (`tick` runs at most once a second in the
/// daemon) cannot outrun retention: it runs each time a segment is sealed.
#[test]
fn a_flood_without_ticks_stays_within_the_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let max_use = 2u64 << 20;
    let cfg = JournalConfig {
        max_use: Some(max_use),
        ..Default::default()
    };
    let j = Journal::open(dir.path(), cfg).expect("open");
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("yes", Stream::Stdout));
    let chunk = "y\n".repeat(32 << 10);
    let mut peak = 0;
    // 64 MiB of `yes` through a 2 MiB store, no tick at all.
    for _ in 0..1024 {
        w.ingest(SourceId(1), chunk.as_bytes());
        w.commit();
        peak = peak.max(on_disk(dir.path()));
    }
    assert!(peak <= max_use, "peak {peak} > {max_use}");
    assert!(
        w.dropped().is_empty(),
        "nothing is dropped: {:?}",
        w.dropped()
    );
    let mut r = j.reader().expect("reader");
    let tail = messages(
        &mut r,
        &Query {
            lines: Some(3),
            ..Default::default()
        },
    );
    assert_eq!(tail, ["y", "y", "y"]);
}

/// SystemKeepFree=: when the file system lacks the space to keep free, old
/// segments go until the store is down to its floor (journald's minimum).
#[test]
fn keep_free_shrinks_the_store_to_its_floor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = JournalConfig {
        max_use: Some(1 << 30),
        // More than the disk holds: the keep-free rule always loses.
        keep_free: Some(u64::MAX / 4),
        segment_size: 256 << 10,
        ..Default::default()
    };
    let j = Journal::open(dir.path(), cfg).expect("open");
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("k", Stream::Stdout));
    let mut n = 0u64;
    let mut peak = 0;
    for _ in 0..400 {
        let mut chunk = String::new();
        for _ in 0..1000 {
            chunk.push_str(&format!("{n:012} {}\n", "k".repeat(87)));
            n += 1;
        }
        w.ingest(SourceId(1), chunk.as_bytes());
        w.commit();
        peak = peak.max(on_disk(dir.path()));
    }
    // 40 MB written; the floor is at most 16 MiB, plus one open segment,
    // a compressed copy and the WAL.
    let bound = (16 << 20) + 2 * (256 << 10) + (1 << 20);
    assert!(peak <= bound, "peak {peak} > {bound}");
    assert!(w.dropped().is_empty());
    let mut r = j.reader().expect("reader");
    let got = messages(&mut r, &Query::default());
    assert!(!got.is_empty() && (got.len() as u64) < n);
    assert!(
        got.last()
            .is_some_and(|l| l.starts_with(&format!("{:012}", n - 1)))
    );
}
