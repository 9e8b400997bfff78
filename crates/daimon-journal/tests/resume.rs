//! Resuming a source from spooled chunks: what a writer killed in the middle
//! of an import stored already is recognised by its stamps and only replayed,
//! so every line ends up stored exactly once and split as if read live.

mod common;

use common::*;
use daimon_journal::{JournalConfig, Query, SourceId, Stream};

/// Chunks cutting lines anywhere, with distinct stamps.
fn chunks() -> Vec<(u64, u64, Vec<u8>)> {
    let text: String = (1..=40).map(|i| format!("<3>line {i}\n")).collect();
    let cuts = [0, 5, 17, 18, 60, 61, 130, 200, 333, text.len()];
    cuts.windows(2)
        .enumerate()
        .map(|(k, w)| {
            let k = k as u64;
            (
                1_800_000_000_000_000 + k * 1000,
                5_000_000 + k * 1000,
                text.as_bytes()[w[0]..w[1]].to_vec(),
            )
        })
        .collect()
}

#[test]
fn an_import_cut_short_and_redone_stores_every_line_once() {
    for stop_after in 0..chunks().len() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = meta("bot.service", Stream::Stdout);
        let chunks = chunks();
        let j = open(dir.path());
        let mut w = j.writer().expect("writer");
        // The first import, cut short after `stop_after` chunks: its partial
        // line dies with the daimond that held it.
        w.open_source(SourceId(1), m.clone());
        for (rt, mono, data) in &chunks[..stop_after] {
            w.ingest_at(SourceId(1), data, *rt, *mono);
        }
        w.forget_partial(SourceId(1));
        w.close_source(SourceId(1));
        // The next daimond imports the same spool again.
        w.open_source(SourceId(7), m.clone());
        let last = w.last_stored_mono(&m, chunks[0].0).expect("lookup");
        for (rt, mono, data) in &chunks {
            if last.is_some_and(|l| *mono <= l) {
                w.replay(SourceId(7), data);
            } else {
                w.ingest_at(SourceId(7), data, *rt, *mono);
            }
        }
        w.close_source(SourceId(7));
        w.index_now();
        let mut r = j.reader().expect("reader");
        let got = collect(&mut r, &Query::default());
        let want: Vec<String> = (1..=40).map(|i| format!("line {i}")).collect();
        let msgs: Vec<String> = got
            .iter()
            .map(|(m, ..)| String::from_utf8_lossy(m).into_owned())
            .collect();
        assert_eq!(msgs, want, "import stopped after {stop_after} chunks");
        assert!(got.iter().all(|(_, p, c, part)| *p == 3 && !c && !part));
    }
}

#[test]
fn replay_keeps_the_pieces_of_an_over_long_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = JournalConfig {
        line_max: 8,
        max_use: Some(1 << 30),
        ..Default::default()
    };
    let j = daimon_journal::Journal::open(dir.path(), cfg).expect("open");
    let mut w = j.writer().expect("writer");
    let m = meta("bot.service", Stream::Stdout);
    w.open_source(SourceId(1), m);
    // "<2>abcdefghijkl": a first piece of 8 ("<2>abcde", priority 2) was stored with
    // the first chunk; the rest continues it with the same priority.
    w.replay(SourceId(1), b"<2>abcdefghi");
    w.ingest_at(SourceId(1), b"jkl\n", 1, 1);
    w.index_now();
    let mut r = j.reader().expect("reader");
    let got = collect(&mut r, &Query::default());
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, b"fghijkl");
    assert_eq!(got[0].1, 2);
}
