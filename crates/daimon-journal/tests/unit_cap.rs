//! The per-unit cap (`UnitMaxUse=`): a chatty unit loses its own oldest
//! lines, the other units keep all of theirs, and the space comes back.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Instant;

use common::{messages, meta};
use daimon_journal::{Journal, JournalConfig, Query, SourceId, Stream};

/// Bytes the files of the store whose names pass `pick` take on disk, as
/// `du` counts them.
fn du_of(dir: &Path, pick: impl Fn(&str) -> bool) -> u64 {
    std::fs::read_dir(dir)
        .expect("read the store")
        .flatten()
        .filter(|e| pick(&e.file_name().to_string_lossy()))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.blocks() * 512)
        .sum()
}

/// A line that compresses poorly, so the chatty unit's bytes are real.
fn noisy(i: u64) -> String {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut s = format!("chatty {i} ");
    for _ in 0..8 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push_str(&format!("{x:016x}"));
    }
    s.push('\n');
    s
}

#[test]
fn a_chatty_unit_loses_its_oldest_lines_and_no_one_elses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cap = 512 << 10;
    let cfg = JournalConfig {
        max_use: Some(1 << 30),
        unit_max_use: Some(cap),
        segment_size: 256 << 10,
        ..Default::default()
    };
    let j = Journal::open(dir.path(), cfg).expect("open");
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("quiet.service", Stream::Stdout));
    w.open_source(SourceId(2), meta("chatty.service", Stream::Stdout));
    let base = 1_763_698_400_000_000u64;
    let mut quiet = Vec::new();
    // About 150 bytes a line, 40,000 lines: 6 MB of chatter, twelve times
    // the cap, with a quiet line every 1,000 among it.
    for i in 0..40_000u64 {
        if i % 1000 == 0 {
            let line = format!("quiet {i}");
            w.ingest_at(SourceId(1), format!("{line}\n").as_bytes(), base + i, i);
            quiet.push(line);
        }
        w.ingest_at(SourceId(2), noisy(i).as_bytes(), base + i, i);
        if i % 500 == 0 {
            w.commit();
            w.tick(Instant::now());
        }
    }
    w.seal_and_compact_all();
    w.tick(Instant::now());

    let mut r = j.reader().expect("reader");
    let q = |unit: &str| Query {
        units: vec![unit.into()],
        ..Default::default()
    };
    assert_eq!(
        messages(&mut r, &q("quiet")),
        quiet,
        "every quiet line kept"
    );
    let chatty = messages(&mut r, &q("chatty"));
    assert!(
        chatty.len() < 40_000 && chatty.len() > 1000,
        "{} chatty lines",
        chatty.len()
    );
    // The newest lines stay, in order, with nothing missing after the cut.
    let first: u64 = chatty[0]
        .split(' ')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a chatty line");
    let want: Vec<String> = (first..40_000)
        .map(|i| noisy(i).trim_end().to_string())
        .collect();
    assert_eq!(chatty, want);
    // What it keeps on disk is about the cap, not the 6 MB it wrote (about
    // 1.7 MB compressed): the punched blocks are freed.
    let segments = du_of(dir.path(), |name| name.ends_with(".jzst"));
    assert!(segments < 2 * cap, "the segments take {segments} bytes");
    let used = du_of(dir.path(), |_| true);
    assert!(
        r.stats().disk_usage.abs_diff(used) < 64 << 10,
        "the store's own count {} against du {used}",
        r.stats().disk_usage
    );

    // The index lost, the store rebuilt from its files: the holes are
    // skipped and every kept line comes back.
    drop(r);
    drop(w);
    drop(j);
    for n in ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.path().join(n));
    }
    let j = Journal::open(dir.path(), JournalConfig::default()).expect("reopen");
    let mut r = j.reader().expect("reader");
    assert_eq!(messages(&mut r, &q("quiet")), quiet);
    assert_eq!(messages(&mut r, &q("chatty")), want);
}
