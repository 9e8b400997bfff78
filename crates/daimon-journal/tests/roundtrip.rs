//! Ingest → commit → query: every field, prefixes, long lines, binary data,
//! partial last lines, filters.

mod common;

use std::time::Duration;

use common::{collect, messages, meta, open};
use daimon_journal::{Cursor, Journal, JournalConfig, Query, SourceId, Stream};

#[test]
fn every_field_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = open(dir.path());
    let mut w = j.writer().expect("writer");
    let mut m = meta("bot.service", Stream::Stderr);
    m.identifier = Some("botty".into());
    w.open_source(SourceId(1), m);
    w.ingest_at(SourceId(1), b"hello\n<3>bad\n", 1_763_698_400_000_123, 777);
    w.commit();
    let mut r = j.reader().expect("reader");
    let mut seen = Vec::new();
    let cur = r
        .query(&Query::default(), &mut |rec| {
            seen.push((
                rec.unit.to_string(),
                rec.invocation.to_string(),
                rec.identifier.map(str::to_string),
                rec.pid,
                rec.stream,
                rec.priority,
                rec.realtime_usec,
                rec.monotonic_usec,
                rec.message.to_vec(),
                rec.cursor,
            ));
            true
        })
        .expect("query");
    assert_eq!(seen.len(), 2);
    let s = &seen[1];
    assert_eq!(s.0, "bot.service");
    assert_eq!(s.1, "0123456789abcdef0123456789abcdef");
    assert_eq!(s.2.as_deref(), Some("botty"));
    assert_eq!(s.3, 4242);
    assert_eq!(s.4, Stream::Stderr);
    assert_eq!(s.5, 3);
    assert_eq!(s.6, 1_763_698_400_000_123);
    assert_eq!(s.7, 777);
    assert_eq!(s.8, b"bad");
    assert_eq!(seen[0].5, 6);
    assert!(seen[0].9 < seen[1].9);
    assert_eq!(cur, seen[1].9);
}

#[test]
fn prefixes_only_when_enabled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = open(dir.path());
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("a", Stream::Stdout));
    let mut m = meta("b", Stream::Stdout);
    m.level_prefix = false;
    w.open_source(SourceId(2), m);
    w.ingest(SourceId(1), b"<0>emerg\n<7>debug\n<8>not\n<4>\nplain\n");
    w.ingest(SourceId(2), b"<3>kept\n");
    w.commit();
    let mut r = j.reader().expect("reader");
    let got: Vec<_> = collect(
        &mut r,
        &Query {
            units: vec!["a".into()],
            ..Default::default()
        },
    )
    .into_iter()
    .map(|(m, p, ..)| (String::from_utf8(m).expect("utf8"), p))
    .collect();
    let want: Vec<(String, u8)> = [
        ("emerg", 0),
        ("debug", 7),
        ("<8>not", 6),
        ("", 4),
        ("plain", 6),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), *p))
    .collect();
    assert_eq!(got, want);
    let b = collect(
        &mut r,
        &Query {
            units: vec!["b".into()],
            ..Default::default()
        },
    );
    assert_eq!(b[0].0, b"<3>kept");
    assert_eq!(b[0].1, 6);
}

#[test]
fn long_lines_split_and_partial_flushed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = JournalConfig {
        line_max: 10,
        max_use: Some(1 << 30),
        ..Default::default()
    };
    let j = Journal::open(dir.path(), cfg).expect("open");
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("u", Stream::Stdout));
    // 25 bytes in one chunk, then a line arriving in pieces, then a partial.
    w.ingest(SourceId(1), b"<3>abcdefghijklmnopqrstuvwxy\n");
    w.ingest(SourceId(1), b"0123456");
    w.ingest(SourceId(1), b"789ABCDEF");
    w.ingest(SourceId(1), b"GH\nlast");
    w.commit();
    let mut r = j.reader().expect("reader");
    let before = collect(&mut r, &Query::default());
    assert!(
        !before.iter().any(|(m, ..)| m == b"last"),
        "partial line waits for its newline"
    );
    w.close_source(SourceId(1));
    w.commit();
    let got = collect(&mut r, &Query::default());
    let msgs: Vec<_> = got
        .iter()
        .map(|(m, p, c, e)| (String::from_utf8_lossy(m).into_owned(), *p, *c, *e))
        .collect();
    assert_eq!(
        msgs,
        vec![
            ("abcdefghij".to_string(), 3, true, false),
            ("klmnopqrst".to_string(), 3, true, false),
            ("uvwxy".to_string(), 3, false, false),
            ("0123456789".to_string(), 6, true, false),
            ("ABCDEFGH".to_string(), 6, false, false),
            ("last".to_string(), 6, false, true),
        ]
    );
}

#[test]
fn binary_data_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = open(dir.path());
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("u", Stream::Stdout));
    let data: Vec<u8> = (0u8..=255).filter(|&b| b != b'\n').collect();
    let mut chunk = data.clone();
    chunk.push(b'\n');
    w.ingest(SourceId(1), &chunk);
    w.append("daimond", None, 1, Stream::Daemon, 5, b"multi\nline \xff");
    w.commit();
    let mut r = j.reader().expect("reader");
    let got = collect(&mut r, &Query::default());
    assert_eq!(got[0].0, data);
    assert_eq!(got[1].0, b"multi\nline \xff");
    assert_eq!(got[1].1, 5);
}

#[test]
fn filters_and_last_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = open(dir.path());
    let mut w = j.writer().expect("writer");
    let base: u64 = 1_763_698_400_000_000;
    for u in 0..3u64 {
        w.open_source(SourceId(u), meta(&format!("u{u}.service"), Stream::Stdout));
    }
    for i in 0..3000u64 {
        let u = i % 3;
        let line = if i % 500 == 7 {
            format!("<3>error {i}\n")
        } else {
            format!("line {i} of u{u}\n")
        };
        w.ingest_at(SourceId(u), line.as_bytes(), base + i * 1_000_000, i);
        if i % 100 == 0 {
            w.commit();
        }
    }
    w.commit();
    let mut r = j.reader().expect("reader");
    let all = messages(&mut r, &Query::default());
    assert_eq!(all.len(), 3000);
    assert_eq!(all[2999], "line 2999 of u2");
    let last = messages(
        &mut r,
        &Query {
            units: vec!["u1".into()],
            lines: Some(3),
            ..Default::default()
        },
    );
    assert_eq!(
        last,
        vec!["line 2992 of u1", "line 2995 of u1", "line 2998 of u1"]
    );
    // journalctl -r: newest first, over every block and unit; with -n, the
    // newest N, newest first; stopping early stops the query.
    let mut forward = all.clone();
    forward.reverse();
    let rev = |lines, units: Vec<String>, r: &mut daimon_journal::JournalReader| {
        let q = Query {
            units,
            lines,
            reverse: true,
            ..Default::default()
        };
        messages(r, &q)
    };
    assert_eq!(rev(None, vec![], &mut r), forward);
    assert_eq!(
        rev(Some(3), vec!["u1".into()], &mut r),
        vec!["line 2998 of u1", "line 2995 of u1", "line 2992 of u1"]
    );
    assert_eq!(rev(Some(5000), vec![], &mut r), forward);
    let mut first_two = Vec::new();
    r.query(
        &Query {
            reverse: true,
            ..Default::default()
        },
        &mut |rec| {
            first_two.push(String::from_utf8_lossy(rec.message).into_owned());
            first_two.len() < 2
        },
    )
    .expect("query");
    assert_eq!(first_two, forward[..2]);
    let errs = messages(
        &mut r,
        &Query {
            max_priority: Some(3),
            ..Default::default()
        },
    );
    assert_eq!(errs.len(), 6);
    assert_eq!(errs[0], "error 7");
    let since = jiff::Timestamp::from_microsecond((base + 1000 * 1_000_000) as i64).expect("ts");
    let until = jiff::Timestamp::from_microsecond((base + 1004 * 1_000_000) as i64).expect("ts");
    let win = messages(
        &mut r,
        &Query {
            since: Some(since),
            until: Some(until),
            ..Default::default()
        },
    );
    assert_eq!(
        win,
        vec![
            "line 1000 of u1",
            "line 1001 of u2",
            "line 1002 of u0",
            "line 1003 of u1",
            "line 1004 of u2"
        ]
    );
    let g = messages(
        &mut r,
        &Query {
            grep: Some("^line 12.5 of".into()),
            units: vec!["u0".into(), "u2".into()],
            ..Default::default()
        },
    );
    let want: Vec<String> = (1200..1300u64)
        .filter(|i| i % 10 == 5 && i % 3 != 1 && i % 500 != 7)
        .map(|i| format!("line {i} of u{}", i % 3))
        .collect();
    assert_eq!(g, want);
    let g = messages(
        &mut r,
        &Query {
            grep: Some("U0$".into()),
            lines: Some(2),
            ..Default::default()
        },
    );
    assert!(g.is_empty(), "uppercase pattern is case-sensitive");
    let g = messages(
        &mut r,
        &Query {
            grep: Some("u0$".into()),
            lines: Some(2),
            ..Default::default()
        },
    );
    assert_eq!(g, vec!["line 2994 of u0", "line 2997 of u0"]);
    let bad = r.query(
        &Query {
            grep: Some("(".into()),
            ..Default::default()
        },
        &mut |_| true,
    );
    assert!(bad.is_err());
    let none = messages(
        &mut r,
        &Query {
            units: vec!["nope".into()],
            ..Default::default()
        },
    );
    assert!(none.is_empty());
    let inv = messages(
        &mut r,
        &Query {
            invocation: Some("x".into()),
            ..Default::default()
        },
    );
    assert!(inv.is_empty());
    // A cursor continues where a query stopped.
    let mut n = 0;
    let c = r
        .query(&Query::default(), &mut |_| {
            n += 1;
            n < 10
        })
        .expect("query");
    let rest = messages(
        &mut r,
        &Query {
            after: Some(c),
            ..Default::default()
        },
    );
    assert_eq!(rest.len(), 2990);
    assert_eq!(rest[0], "line 10 of u1");
    let _ = Cursor(0);
    let _ = Duration::ZERO;
}

#[test]
fn handles_are_send_and_sync_where_promised() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<daimon_journal::Journal>();
    sync::<daimon_journal::Journal>();
    send::<daimon_journal::JournalWriter>();
    send::<daimon_journal::JournalReader>();
}

#[test]
fn only_one_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = open(dir.path());
    let w = j.writer().expect("writer");
    assert!(matches!(
        j.writer(),
        Err(daimon_journal::JournalError::WriterTaken)
    ));
    drop(w);
    let _w = j.writer().expect("writer again");
    // Another process (here: another handle) cannot write while this one lives.
    let other = Journal::open(dir.path(), JournalConfig::default()).expect("open read-only");
    assert!(matches!(
        other.writer(),
        Err(daimon_journal::JournalError::Locked(_))
    ));
}

#[test]
fn trickling_units_cost_one_index_row_per_region() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = open(dir.path());
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("a", Stream::Stdout));
    w.open_source(SourceId(2), meta("b", Stream::Stdout));
    let mut r = j.reader().expect("reader");
    for i in 0..200u64 {
        w.ingest(SourceId(1 + i % 2), format!("t {i}\n").as_bytes());
        // Every line indexed on its own, the worst case for row count.
        w.index_now();
        if i % 37 == 0 {
            let got = messages(&mut r, &Query::default());
            assert_eq!(got.len() as u64, i + 1);
        }
    }
    let db = rusqlite::Connection::open(dir.path().join("index.sqlite")).expect("db");
    let rows: i64 = db
        .query_row("SELECT count(*) FROM blocks", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, 2, "one growing row per unit");
    let a = messages(
        &mut r,
        &Query {
            units: vec!["a".into()],
            ..Default::default()
        },
    );
    assert_eq!(a.len(), 100);
    assert_eq!(a[99], "t 198");
    let last = messages(
        &mut r,
        &Query {
            units: vec!["b".into()],
            lines: Some(2),
            ..Default::default()
        },
    );
    assert_eq!(last, vec!["t 197", "t 199"]);
}

#[test]
fn huge_chunks_are_cut_into_blocks_without_losing_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = open(dir.path());
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("big", Stream::Stdout));
    // 10 MB in one call, lines straddling the internal cuts.
    let mut data = Vec::new();
    let mut n = 0u64;
    while data.len() < 10 << 20 {
        data.extend_from_slice(format!("line {n} {}\n", "y".repeat((n % 97) as usize)).as_bytes());
        n += 1;
    }
    w.ingest(SourceId(1), &data);
    w.commit();
    drop(w);
    let j = open(dir.path());
    let mut r = j.reader().expect("reader");
    let got = messages(&mut r, &Query::default());
    assert_eq!(got.len() as u64, n);
    for (i, m) in got.iter().enumerate() {
        assert!(m.starts_with(&format!("line {i} ")), "{i}: {m}");
    }
}

#[test]
fn a_stream_match_keeps_one_transport_even_for_the_last_n_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = open(dir.path());
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("bot.service", Stream::Stdout));
    w.open_source(SourceId(2), meta("bot.service", Stream::Stderr));
    w.ingest(SourceId(1), b"out 1\nout 2\n");
    w.ingest(SourceId(2), b"err 1\n");
    w.append(
        "bot.service",
        None,
        1,
        Stream::Daemon,
        6,
        b"bot.service: Deactivated successfully.",
    );
    w.commit();
    let mut r = j.reader().expect("reader");
    let only = |streams: Vec<Stream>, lines: Option<usize>| Query {
        units: vec!["bot".into()],
        streams,
        lines,
        ..Query::default()
    };
    assert_eq!(
        messages(&mut r, &only(vec![Stream::Stdout], Some(1))),
        ["out 2"]
    );
    assert_eq!(
        messages(&mut r, &only(vec![Stream::Stdout], None)),
        ["out 1", "out 2"]
    );
    assert_eq!(
        messages(&mut r, &only(vec![Stream::Stdout, Stream::Stderr], None)),
        ["out 1", "out 2", "err 1"]
    );
    assert_eq!(messages(&mut r, &only(Vec::new(), None)).len(), 4);
}
