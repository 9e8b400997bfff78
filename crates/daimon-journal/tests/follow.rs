//! Follow: a reader sees lines written after it started, in order, none twice,
//! none skipped, woken by commit.

mod common;

use std::time::{Duration, Instant};

use common::{meta, open};
use daimon_journal::{Query, SourceId, Stream};

#[test]
fn follow_sees_new_lines_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = open(dir.path());
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("f", Stream::Stdout));
    w.ingest(SourceId(1), b"old 0\nold 1\n");
    w.commit();

    let mut r = j.reader().expect("reader");
    // `-n 1 -f`: the last line, then everything new.
    let mut seen: Vec<String> = Vec::new();
    let mut cur = r
        .query(
            &Query {
                lines: Some(1),
                ..Default::default()
            },
            &mut |rec| {
                seen.push(String::from_utf8_lossy(rec.message).into_owned());
                true
            },
        )
        .expect("query");
    assert_eq!(seen, vec!["old 1"]);

    const N: usize = 2000;
    let writer = std::thread::spawn(move || {
        for i in 0..N {
            w.ingest(SourceId(1), format!("new {i}\n").as_bytes());
            if i % 7 == 0 {
                w.commit();
            }
            if i % 500 == 0 {
                std::thread::yield_now();
            }
        }
        w.commit();
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < N + 1 {
        assert!(
            Instant::now() < deadline,
            "follow saw only {} of {} lines",
            seen.len() - 1,
            N
        );
        if r.wait_for_new(&cur, Duration::from_millis(100)) {
            cur = r
                .query(
                    &Query {
                        after: Some(cur),
                        ..Default::default()
                    },
                    &mut |rec| {
                        seen.push(String::from_utf8_lossy(rec.message).into_owned());
                        true
                    },
                )
                .expect("query");
        }
    }
    writer.join().expect("writer thread");
    let want: Vec<String> = std::iter::once("old 1".to_string())
        .chain((0..N).map(|i| format!("new {i}")))
        .collect();
    assert_eq!(seen, want);
    // Nothing new: wait times out.
    assert!(!r.wait_for_new(&cur, Duration::from_millis(50)));
}

#[test]
fn follow_and_scans_stay_exact_while_segments_are_compressed_and_deleted() {
    use daimon_journal::{Journal, JournalConfig};
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = JournalConfig {
        max_use: Some(1 << 30),
        segment_size: 64 << 10,
        ..Default::default()
    };
    let j = Journal::open(dir.path(), cfg).expect("open");
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("busy", Stream::Stdout));
    const N: u64 = 40_000;
    let writer = std::thread::spawn(move || {
        for i in 0..N {
            w.ingest(SourceId(1), format!("n {i}\n").as_bytes());
            if i % 50 == 0 {
                w.commit();
            }
            if i % 5000 == 0 {
                // Seal and compress what exists so far, under the readers' feet.
                w.seal_and_compact_all();
            }
        }
        w.commit();
        w.seal_and_compact_all();
    });
    let mut follower = j.reader().expect("reader");
    let mut scanner = j.reader().expect("reader");
    let mut next = 0u64;
    let mut cur = daimon_journal::Cursor(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while next < N {
        assert!(Instant::now() < deadline, "follow stalled at {next}");
        if follower.wait_for_new(&cur, Duration::from_millis(100)) {
            cur = follower
                .query(
                    &Query {
                        after: Some(cur),
                        ..Default::default()
                    },
                    &mut |rec| {
                        assert_eq!(rec.message, format!("n {next}").as_bytes());
                        next += 1;
                        true
                    },
                )
                .expect("follow query");
        }
        // A full scan at the same time sees a gapless prefix.
        let mut k = 0u64;
        scanner
            .query(&Query::default(), &mut |rec| {
                assert_eq!(rec.message, format!("n {k}").as_bytes());
                k += 1;
                true
            })
            .expect("scan");
    }
    writer.join().expect("writer");
    assert_eq!(next, N);
}
