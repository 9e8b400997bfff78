//! The log store under disk pressure, on a real small file system: a 20 MiB
//! tmpfs mounted for the test (mount(2) needs root; the test says so and fails
//! when it is not root, rather than passing without having run).
//!
//! What a user sees: a service flooding its output keeps running; the store
//! stays within its bound (10 % of the file system) and leaves the keep-free
//! reserve (15 %) alone, so the disk never fills; when something else fills
//! the disk, lines that cannot be kept are counted and shown by `status`,
//! `daimon logs` keeps answering, and logging resumes by itself once space is
//! back.

mod common;

use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{DEADLINE, Daemon, pid_alive};

const SIZE: u64 = 20 << 20;

/// A tmpfs of [`SIZE`] bytes mounted on a temporary directory, unmounted on
/// drop (lazily, so a process still inside cannot keep it mounted), even when
/// the test fails.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount() -> Tmpfs {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(
            euid, 0,
            "this test mounts a 20 MiB tmpfs and needs root (mount(2) requires \
             CAP_SYS_ADMIN): run it as root, as CI does"
        );
        let dir = tempfile::Builder::new()
            .prefix("daimon-tmpfs-")
            .tempdir()
            .expect("mount point");
        let target = CString::new(dir.path().as_os_str().as_bytes()).expect("path");
        let opts = CString::new(format!("size={SIZE},mode=0755")).expect("options");
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
        assert_eq!(
            rc,
            0,
            "mount -t tmpfs on {}: {}",
            dir.path().display(),
            std::io::Error::last_os_error()
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// (total, available) bytes, as df shows them.
    fn df(&self) -> (u64, u64) {
        let c = CString::new(self.path().as_os_str().as_bytes()).expect("path");
        // SAFETY: zeroed statvfs is a valid value for this plain C struct.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `c` is NUL-terminated and `st` a valid out-pointer.
        let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
        assert_eq!(rc, 0, "statvfs: {}", std::io::Error::last_os_error());
        let fr = st.f_frsize;
        (st.f_blocks * fr, st.f_bavail * fr)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let target = CString::new(self.path().as_os_str().as_bytes()).expect("path");
        // SAFETY: a valid NUL-terminated path; MNT_DETACH has no other input.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Bytes the files of the log store occupy (what `du` counts).
fn store_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.blocks() * 512)
                .sum()
        })
        .unwrap_or(0)
}

/// Something else filling the disk, and keeping it full: a thread that
/// writes `path` until ENOSPC, and again whenever space appears, until
/// stopped. The file is removed when it stops.
struct Hog {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    path: PathBuf,
}

impl Hog {
    fn start(path: PathBuf) -> Hog {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let mut f = fs::File::create(&path).expect("filler");
        let thread = std::thread::spawn(move || {
            let block = vec![0u8; 16 << 10];
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                if f.write(&block).is_err() {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        });
        Hog {
            stop,
            thread: Some(thread),
            path,
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = fs::remove_file(&self.path);
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        self.stop();
    }
}

fn dropped_lines(d: &mut Daemon, unit: &str) -> u64 {
    d.status_json(unit)["logs_dropped_lines"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_flood_on_a_small_disk_stays_in_bounds_and_a_full_disk_pauses_then_resumes() {
    let disk = Tmpfs::mount();
    let mut d = Daemon::start_in(disk.path());
    let store = d.path().join("state/journal");
    let (total, _) = disk.df();
    // The defaults: SystemMaxUse= 10 %, SystemKeepFree= 15 % of the file system.
    let max_use = total / 10;
    let keep_free = total * 15 / 100;

    d.ok(&["run", "--name", "flood", "--", "yes", "flood line"]);
    let flood = d.wait_main_pid("flood.service");

    // A `yes` flood filled this disk in 3 s before: watch it for longer.
    let start = Instant::now();
    let (mut worst_store, mut least_free) = (0, u64::MAX);
    while start.elapsed() < Duration::from_secs(4) {
        worst_store = worst_store.max(store_bytes(&store));
        least_free = least_free.min(disk.df().1);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        worst_store <= max_use,
        "the store took {worst_store} bytes, over its bound of {max_use}"
    );
    assert!(
        least_free >= keep_free,
        "only {least_free} bytes were left free; the store must keep {keep_free} free"
    );
    assert!(pid_alive(flood), "the flooding service was killed");
    let recent = d.ok(&["logs", "flood", "-n", "3"]);
    assert!(recent.contains("flood line"), "{recent}");

    // Something else fills the disk: what cannot be kept is counted and
    // shown, readers keep working, the service keeps running.
    let mut hog = Hog::start(disk.path().join("filler"));
    let full = Instant::now();
    while dropped_lines(&mut d, "flood.service") == 0 {
        assert!(
            full.elapsed() < DEADLINE,
            "no line counted as dropped within {DEADLINE:?} of a full disk (free: {:?})",
            disk.df()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let logs = d.cli(&["logs", "-n", "5"]);
    assert!(
        logs.status.success(),
        "daimon logs on a full disk: {}",
        String::from_utf8_lossy(&logs.stderr)
    );
    let status = d.cli(&["status", "flood"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("lines dropped: disk full"), "{text}");
    assert!(text.contains("flood line"), "no recent lines in: {text}");
    assert!(pid_alive(flood), "the flooding service was killed");

    // Space comes back and the flood stops: new lines are stored again, by
    // themselves (the writer retries every quarter second).
    hog.stop();
    d.ok(&["stop", "flood"]);
    let back = Instant::now();
    d.ok(&[
        "run",
        "--name",
        "ticker",
        "--",
        "sh",
        "-c",
        "while :; do echo space-is-back; sleep 0.05; done",
    ]);
    let mut last = String::new();
    while !last.contains("space-is-back") {
        assert!(
            back.elapsed() < DEADLINE,
            "no line stored within {DEADLINE:?} after space came back; `logs -n 5`: {last}"
        );
        std::thread::sleep(Duration::from_millis(20));
        let out = d.cli(&["logs", "ticker", "-n", "5"]);
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("stored again {:?} after space came back", back.elapsed());
    let (_, free) = disk.df();
    assert!(free >= keep_free, "only {free} bytes free after the flood");
    assert!(store_bytes(&store) <= max_use);
    d.ok(&["stop", "ticker"]);
    let json = d.status_json("flood.service");
    assert!(
        json["logs_dropped_lines"].as_u64().is_some_and(|n| n > 0),
        "{json}"
    );
}

/// `daimond.conf` beside the units directory sets the bound (journald's
/// keys); a bad value is one warning naming file:line, and its default stays.
#[test]
fn daimond_conf_sets_the_bound_and_a_bad_value_is_named_by_line() {
    let mut d = Daemon::home_only();
    fs::write(
        d.path().join("daimond.conf"),
        "[Journal]\nSystemMaxUse=1M\nSystemKeepFree=plenty\n",
    )
    .expect("write daimond.conf");
    d.spawn_daemon();
    let conf = d.path().join("daimond.conf");
    let warning = format!(
        "{}:3: invalid SystemKeepFree=\"plenty\": expected a size such as 512K, 200M or 1G; \
         using the default",
        conf.display()
    );
    let stderr = d.daemon_stderr();
    assert!(stderr.contains(&warning), "{stderr}");
    let logs = d.ok(&["logs", "daimond"]);
    assert!(logs.contains(&warning), "{logs}");

    let store = d.path().join("state/journal");
    d.ok(&["run", "--name", "flood", "--", "yes", "flood line"]);
    let flood = d.wait_main_pid("flood.service");
    let start = Instant::now();
    let mut worst = 0;
    while start.elapsed() < Duration::from_secs(3) {
        worst = worst.max(store_bytes(&store));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(worst <= 1 << 20, "the store took {worst} bytes, over 1M");
    assert!(pid_alive(flood), "the flooding service was killed");
    d.ok(&["stop", "flood"]);
}
