//! A full disk degrades ingestion (drops, counted per unit) and recovers by
//! itself; the writer never dies of it.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{messages, meta, open};
use daimon_journal::{Query, SourceId, Stream};

const CHILD_ENV: &str = "DAIMON_JOURNAL_DISKFULL_CHILD";

fn set_fsize(limit: u64) {
    let rl = libc::rlimit {
        rlim_cur: limit,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: a valid rlimit struct; affects only this (child) process.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &rl) };
    assert_eq!(rc, 0);
}

/// Runs only in the child: a file size limit stands in for a full disk.
#[test]
fn diskfull_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    // SAFETY: ignoring SIGXFSZ makes oversized writes fail with EFBIG instead
    // of killing the process; no handler runs.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let j = open(std::path::Path::new(&dir));
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("full", Stream::Stdout));
    let line = |i: u64| format!("line {i:08} {}\n", "x".repeat(80));
    // Room for the index and the first ~200 KiB of segment.
    set_fsize(256 << 10);
    let mut i = 0u64;
    for _ in 0..40 {
        let mut chunk = String::new();
        for _ in 0..100 {
            chunk.push_str(&line(i));
            i += 1;
        }
        w.ingest(SourceId(1), chunk.as_bytes());
        w.commit();
        w.tick(Instant::now());
    }
    let dropped = w.dropped().get("full").map_or(0, |d| d.disk_full);
    // Space comes back; the writer's retry (`tick`, within a quarter second
    // in the daemon) resumes writing.
    set_fsize(libc::RLIM_INFINITY);
    w.tick(Instant::now());
    for _ in 0..10 {
        let mut chunk = String::new();
        for _ in 0..100 {
            chunk.push_str(&line(i));
            i += 1;
        }
        w.ingest(SourceId(1), chunk.as_bytes());
        w.commit();
    }
    println!("written {i} dropped {dropped}");
}

#[test]
fn disk_full_degrades_and_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "diskfull_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = String::new();
        if let Some(mut s) = child.stdout.take() {
            let _ = std::io::Read::read_to_string(&mut s, &mut out);
        }
        let _ = tx.send((child.wait(), out));
    });
    let Ok((status, out)) = rx.recv_timeout(Duration::from_secs(60)) else {
        // SAFETY: plain syscall on our own child's PID, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        panic!("the disk-full child did not finish within 60 s");
    };
    let status = status.expect("wait");
    assert!(status.success(), "the writer died: {status:?}");
    // libtest may print its "test ... " prefix on the same line.
    let report = out
        .lines()
        .find_map(|l| l.find("written ").map(|i| &l[i..]))
        .unwrap_or_else(|| panic!("no report in {out:?}"));
    let nums: Vec<u64> = report.split(' ').filter_map(|w| w.parse().ok()).collect();
    let (written, dropped) = (nums[0], nums[1]);
    assert!(dropped > 0, "nothing was dropped: {report}");
    let j = open(dir.path());
    let mut r = j.reader().expect("reader");
    let got = messages(&mut r, &Query::default());
    assert_eq!(got.len() as u64 + dropped, written, "{report}");
    // The last lines (after space came back) are all there.
    assert!(
        got.last()
            .is_some_and(|l| l.starts_with(&format!("line {:08}", written - 1)))
    );
}

/// A tmpfs of `size` bytes on a temporary directory, unmounted (lazily) on
/// drop even when the test fails. mount(2) needs root: the test says so.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: u64) -> Tmpfs {
        use std::os::unix::ffi::OsStrExt;
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(
            euid, 0,
            "this test mounts a small tmpfs and needs root (mount(2) requires \
             CAP_SYS_ADMIN): run it as root, as CI does"
        );
        let dir = tempfile::tempdir().expect("mount point");
        let target = std::ffi::CString::new(dir.path().as_os_str().as_bytes()).expect("path");
        let opts = std::ffi::CString::new(format!("size={size}")).expect("options");
        // SAFETY: every pointer is a valid NUL-terminated string for the call.
        let rc = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                opts.as_ptr().cast(),
            )
        };
        assert_eq!(rc, 0, "mount tmpfs: {}", std::io::Error::last_os_error());
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        use std::os::unix::ffi::OsStrExt;
        if let Ok(target) = std::ffi::CString::new(self.0.path().as_os_str().as_bytes()) {
            // SAFETY: a valid NUL-terminated path.
            unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// On a really full disk writing pauses without touching the disk, readers
/// keep answering, `tick` asks to retry within a quarter second, and the
/// first retry after space comes back resumes writing.
#[test]
fn a_full_disk_pauses_writing_and_a_retry_resumes_it() {
    use std::io::Write;
    let disk = Tmpfs::mount(4 << 20);
    let dir = disk.0.path().join("journal");
    let j = daimon_journal::Journal::open(&dir, daimon_journal::JournalConfig::default())
        .expect("open");
    let mut w = j.writer().expect("writer");
    w.open_source(SourceId(1), meta("u", Stream::Stdout));
    w.ingest(SourceId(1), b"before the disk filled\n");
    w.index_now();

    // Something else takes every free byte.
    let filler = disk.0.path().join("filler");
    let mut f = std::fs::File::create(&filler).expect("filler");
    while f.write(&[0u8; 4096]).is_ok_and(|n| n > 0) {}
    drop(f);

    // The blocks the segment allocated ahead of its end are still its own:
    // chunks are stored until they are used up, then dropped and counted.
    let chunk = "late line\n".repeat(1000);
    let dropped = || disk_full_drops(&j);
    let mut stored = 0;
    for _ in 0..10_000 {
        w.ingest(SourceId(1), chunk.as_bytes());
        w.commit();
        if dropped() > 0 {
            break;
        }
        stored += 1000;
    }
    assert_eq!(dropped(), 1000, "no chunk was counted as dropped");
    // Paused: later chunks are dropped without a write.
    let files = || on_disk(&dir);
    let size = files();
    for _ in 0..10 {
        w.ingest(SourceId(1), chunk.as_bytes());
        w.commit();
    }
    assert_eq!(files(), size, "a paused writer wrote to the full disk");
    assert_eq!(dropped(), 11_000);
    let again = w.tick(Instant::now());
    assert!(
        again.is_some_and(|d| d <= Duration::from_millis(250)),
        "a paused writer must retry soon: {again:?}"
    );
    let mut r = j.reader().expect("a reader opens on a full disk");
    let mut before = vec!["before the disk filled".to_string()];
    before.extend(std::iter::repeat_n("late line".to_string(), stored));
    assert_eq!(messages(&mut r, &Query::default()), before);

    // Space comes back: the next retry resumes.
    std::fs::remove_file(&filler).expect("remove filler");
    w.tick(Instant::now());
    w.ingest(SourceId(1), b"space is back\n");
    w.commit();
    before.push("space is back".to_string());
    assert_eq!(messages(&mut r, &Query::default()), before);
    assert_eq!(dropped(), 11_000);
}

fn disk_full_drops(j: &daimon_journal::Journal) -> u64 {
    j.dropped().get("u").map_or(0, |d| d.disk_full)
}

fn on_disk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}
