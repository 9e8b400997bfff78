//! `daimon run --watch`: a burst of saves restarts the service once, after
//! the debounce; editors' temporary files and ignored directories never do.

mod common;

use std::time::{Duration, Instant};

use common::{DEADLINE, Daemon, wait_until};

fn restarts_logged(d: &mut Daemon) -> usize {
    d.ok(&["logs", "w", "-o", "cat"])
        .lines()
        .filter(|l| l.contains("changed; restarting w.service"))
        .count()
}

#[test]
fn a_save_storm_restarts_once_and_noise_never() {
    let mut d = Daemon::start();
    let src = d.path().join("src");
    std::fs::create_dir_all(src.join("pkg")).expect("mkdir");
    std::fs::create_dir_all(src.join(".git")).expect("mkdir .git");
    let src_s = src.to_string_lossy().into_owned();
    d.ok(&[
        "run",
        "--name",
        "w",
        "--watch",
        &src_s,
        "--",
        "/bin/sleep",
        "1000",
    ]);
    let first = d.wait_main_pid("w.service");

    // 50 saves in a row, in a subdirectory. The restart waits for 300 ms of
    // quiet (at most 3 s): the storm is one burst as long as no gap reaches
    // that, however slow a loaded machine makes each save.
    let t0 = Instant::now();
    let mut widest = Duration::ZERO;
    let mut last = t0;
    for i in 0..50 {
        std::fs::write(src.join("pkg/app.py"), format!("v{i}")).expect("save");
        widest = widest.max(last.elapsed());
        last = Instant::now();
    }
    assert!(
        widest < Duration::from_millis(250) && t0.elapsed() < Duration::from_millis(2500),
        "the storm was no burst: a gap of {widest:?}, {:?} in all",
        t0.elapsed()
    );
    let mut second = first;
    wait_until("a restart after the storm", DEADLINE, || {
        let st = d.status_json("w.service");
        match st["pid"].as_u64() {
            Some(p) if p as u32 != first && st["state"] == "active" => {
                second = p as u32;
                true
            }
            _ => false,
        }
    });
    eprintln!("save to new PID: {:?}", t0.elapsed());
    d.remember(second);

    // Noise: editors' temporary files, a log, a file under .git. A restart
    // that should not happen cannot be polled for: give it well over the
    // debounce (300 ms) to show.
    std::fs::write(src.join(".app.py.swp"), "x").expect("swp");
    std::fs::write(src.join("app.py~"), "x").expect("backup");
    std::fs::write(src.join("server.log"), "x").expect("log");
    std::fs::write(src.join(".git/index"), "x").expect("git");
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(
        d.status_json("w.service")["pid"],
        second,
        "noise restarted it"
    );
    assert_eq!(
        restarts_logged(&mut d),
        1,
        "one restart for the whole storm"
    );

    // A new directory is watched too.
    std::fs::create_dir_all(src.join("new")).expect("mkdir new");
    wait_until("the new directory watched", DEADLINE, || {
        std::fs::write(src.join("new/mod.py"), "x").is_ok() && restarts_logged(&mut d) == 2
    });
}

#[test]
fn a_missing_watch_path_is_refused() {
    let mut d = Daemon::start();
    let out = d.cli(&["run", "--watch", "/nonexistent/src", "--", "/bin/true"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid --watch \"/nonexistent/src\": no such file"),
        "{err}"
    );
}
