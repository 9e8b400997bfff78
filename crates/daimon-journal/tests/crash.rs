//! Crash safety: a writer killed with SIGKILL mid-write loses nothing it had
//! written; torn or zero-filled tails are repaired at open.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{messages, meta, open_owner};
use daimon_journal::{Query, SourceId, Stream};

const CHILD_ENV: &str = "DAIMON_JOURNAL_CRASH_CHILD";

/// Kills the child by PID when dropped, so a failing test leaves nothing behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs only inside the child process: writes numbered lines forever,
/// reporting on stdout how many `ingest` has written.
#[test]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let j = open_owner(std::path::Path::new(&dir));
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("crash", Stream::Stdout));
    let mut n: u64 = 0;
    let mut batch = 0u64;
    loop {
        let mut chunk = String::new();
        for _ in 0..50 {
            chunk.push_str(&format!("line {n}\n"));
            n += 1;
        }
        w.ingest(SourceId(1), chunk.as_bytes());
        batch += 1;
        // Commit only now and then: uncommitted lines must survive too.
        if batch.is_multiple_of(3) {
            w.commit();
        }
        if batch.is_multiple_of(10) {
            w.tick(Instant::now());
        }
        // Rows in the index grow across flushes; repair must cope with that.
        if batch.is_multiple_of(7) {
            w.index_now();
        }
        println!("written {n}");
    }
}

#[test]
fn sigkill_mid_write_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let child = Command::new(exe)
        .args([
            "--exact",
            "crash_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let mut guard = Guard(child);
    let out = guard.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut written = 0u64;
    while written < 200_000 {
        assert!(
            Instant::now() < deadline,
            "child wrote only {written} lines"
        );
        let Some(Ok(l)) = lines.next() else {
            panic!("child ended early after {written} lines");
        };
        if let Some(n) = l.strip_prefix("written ") {
            written = n.parse().expect("count");
        }
    }
    // SAFETY: plain syscall on the PID of our own child, which has not been reaped.
    let rc = unsafe { libc::kill(guard.0.id() as i32, libc::SIGKILL) };
    assert_eq!(rc, 0);
    let _ = guard.0.wait();

    let j = open_owner(dir.path());
    // The blocks the dead writer had allocated ahead of its segment's end
    // were given back by the repair.
    for seg in segment_files(dir.path()) {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(&seg).expect("segment");
        assert!(
            m.blocks() * 512 <= m.len().next_multiple_of(4096) + 4096,
            "{} holds {} bytes in {} allocated",
            seg.display(),
            m.len(),
            m.blocks() * 512
        );
    }
    let mut r = j.reader().expect("reader");
    let got = messages(&mut r, &Query::default());
    assert!(
        got.len() as u64 >= written,
        "{} of {written} lines survived",
        got.len()
    );
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m, &format!("line {i}"), "line {i}");
    }
    // The store is writable again and continues the sequence.
    let mut w = j.writer().expect("writer after crash");
    w.open_source(SourceId(1), meta("crash", Stream::Stdout));
    w.ingest(SourceId(1), b"after\n");
    w.commit();
    let last = messages(
        &mut r,
        &Query {
            lines: Some(2),
            ..Default::default()
        },
    );
    assert_eq!(last[1], "after");
}

fn segment_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jseg"))
        .collect();
    v.sort();
    v
}

fn fill(dir: &std::path::Path, n: usize) {
    let j = open_owner(dir);
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("t", Stream::Stdout));
    for i in 0..n {
        w.ingest(SourceId(1), format!("line {i}\n").as_bytes());
        w.commit();
    }
}

#[test]
fn torn_tail_is_repaired() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path(), 100);
    let seg = segment_files(dir.path()).pop().expect("a segment");
    let data = std::fs::read(&seg).expect("read");
    // A torn write: the first 30 bytes of a block, then garbage.
    let mut torn = data.clone();
    torn.extend_from_slice(&data[..30]);
    torn.extend_from_slice(&[0u8; 17]);
    std::fs::write(&seg, &torn).expect("write");
    let j = open_owner(dir.path());
    let mut r = j.reader().expect("reader");
    let got = messages(&mut r, &Query::default());
    assert_eq!(got.len(), 100);
    assert_eq!(
        std::fs::metadata(&seg).expect("meta").len(),
        data.len() as u64
    );
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("t", Stream::Stdout));
    w.ingest(SourceId(1), b"more\n");
    w.commit();
    assert_eq!(messages(&mut r, &Query::default()).len(), 101);
}

#[test]
fn unsynced_tail_lost_by_power_cut_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path(), 50);
    let seg = segment_files(dir.path()).pop().expect("a segment");
    let mut data = std::fs::read(&seg).expect("read");
    // Pretend only the first half reached the disk: the index rows for the
    // second half survived (checkpointed) but the data is zeros.
    let half = data.len() / 2;
    for b in &mut data[half..] {
        *b = 0;
    }
    std::fs::write(&seg, &data).expect("write");
    let db = rusqlite::Connection::open(dir.path().join("index.sqlite")).expect("db");
    db.execute("UPDATE segments SET synced_end = 0", [])
        .expect("update");
    drop(db);
    let j = open_owner(dir.path());
    let mut r = j.reader().expect("reader");
    let got = messages(&mut r, &Query::default());
    assert!(!got.is_empty() && got.len() < 50, "{} lines", got.len());
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m, &format!("line {i}"));
    }
}

#[test]
fn a_lost_index_is_rebuilt_from_the_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let j = open_owner(dir.path());
        let mut w = j.writer().expect("writer");
        w.open_source(SourceId(1), meta("a", Stream::Stdout));
        w.open_source(SourceId(2), meta("b", Stream::Stderr));
        for i in 0..3000u64 {
            let line = if i % 100 == 0 {
                format!("<3>err {i}\n")
            } else {
                format!("line {i}\n")
            };
            w.ingest(SourceId(1 + i % 2), line.as_bytes());
            if i == 1500 {
                // Half the lines compressed, half raw.
                w.seal_and_compact_all();
            }
        }
        w.commit();
    }
    for f in ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.path().join(f));
    }
    let j = open_owner(dir.path());
    let mut r = j.reader().expect("reader");
    let all = messages(&mut r, &Query::default());
    assert_eq!(all.len(), 3000);
    for (i, m) in all.iter().enumerate() {
        assert!(m.ends_with(&format!(" {i}")), "{i}: {m}");
    }
    let errs = messages(
        &mut r,
        &Query {
            max_priority: Some(3),
            units: vec!["a".into()],
            ..Default::default()
        },
    );
    assert_eq!(errs.len(), 30);
}

#[test]
fn a_corrupt_index_is_set_aside_and_rebuilt() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path(), 300);
    std::fs::write(dir.path().join("index.sqlite"), vec![0x5a; 8192]).expect("clobber");
    let _ = std::fs::remove_file(dir.path().join("index.sqlite-wal"));
    let _ = std::fs::remove_file(dir.path().join("index.sqlite-shm"));
    let j = open_owner(dir.path());
    let mut r = j.reader().expect("reader");
    assert_eq!(messages(&mut r, &Query::default()).len(), 300);
    let kept = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains(".corrupt-"));
    assert!(kept, "the damaged index is kept aside");
}
