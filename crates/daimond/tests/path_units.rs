//! Path units as a user sees them: a file appearing or changing, or a
//! directory filling, starts the unit (inotify; nothing polls).

mod common;

use std::path::Path;

use common::{DEADLINE, Daemon, wait_until};

fn runs(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// `job.service`, a oneshot appending a line to `log` and running `extra`.
fn job(d: &mut Daemon, log: &Path, extra: &str) {
    d.write_unit(
        "job.service",
        &format!(
            "[Service]\nType=oneshot\nExecStart=/bin/sh -c \"echo run >> {} {extra}\"\n",
            log.display()
        ),
    );
}

#[test]
fn a_file_appearing_starts_the_unit_which_can_consume_it() {
    let mut d = Daemon::start();
    let dir = d.path().join("spool/in");
    let trigger = dir.join("go");
    let log = d.path().join("log");
    job(&mut d, &log, &format!("; rm -f {}", trigger.display()));
    d.write_unit(
        "job.path",
        &format!("[Path]\nPathExists={}\n", trigger.display()),
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "job.path"]);
    let st = d.status_json("job.path");
    assert_eq!(
        (st["state"].as_str(), st["sub_state"].as_str()),
        (Some("active"), Some("waiting")),
        "{st}"
    );
    // The directory does not exist yet: its creation is seen too.
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(&trigger, "x").expect("write trigger");
    wait_until("one run", DEADLINE, || runs(&log) == 1);
    wait_until("waiting again", DEADLINE, || {
        d.status_json("job.path")["sub_state"] == "waiting"
    });
    assert!(!trigger.exists());
    let st = d.status_json("job.path");
    let text = st["status_text"].as_str().unwrap_or_default();
    assert!(text.contains("go exists"), "{st}");
    std::fs::write(&trigger, "x").expect("write trigger again");
    wait_until("a second run", DEADLINE, || runs(&log) == 2);
}

#[test]
fn a_change_starts_the_unit_and_a_stopped_path_unit_does_not() {
    let mut d = Daemon::start();
    let conf = d.path().join("app.conf");
    std::fs::write(&conf, "a").expect("write");
    let log = d.path().join("log");
    job(&mut d, &log, "");
    d.write_unit(
        "job.path",
        &format!("[Path]\nPathChanged={}\nUnit=job.service\n", conf.display()),
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "job.path"]);
    assert_eq!(runs(&log), 0, "an existing file is no change");
    std::fs::write(&conf, "b").expect("write");
    wait_until("a run after the change", DEADLINE, || runs(&log) == 1);
    wait_until("waiting again", DEADLINE, || {
        d.status_json("job.path")["sub_state"] == "waiting"
    });
    // Replaced by a rename, as editors save.
    let tmp = d.path().join(".app.conf.swp");
    std::fs::write(&tmp, "c").expect("write tmp");
    std::fs::rename(&tmp, &conf).expect("rename");
    wait_until("a run after the rename", DEADLINE, || runs(&log) == 2);
    wait_until("waiting again", DEADLINE, || {
        d.status_json("job.path")["sub_state"] == "waiting"
    });
    d.ok(&["stop", "job.path"]);
    assert_eq!(d.status_json("job.path")["state"], "inactive");
}

#[test]
fn make_directory_creates_the_directory_that_filling_starts_the_unit() {
    let mut d = Daemon::start();
    let dir = d.path().join("queue");
    let log = d.path().join("log");
    job(&mut d, &log, &format!("; rm -f {}/*", dir.display()));
    d.write_unit(
        "job.path",
        &format!(
            "[Path]\nDirectoryNotEmpty={}\nMakeDirectory=yes\n",
            dir.display()
        ),
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "job.path"]);
    assert!(dir.is_dir(), "MakeDirectory= created it");
    std::fs::write(dir.join("item"), "1").expect("write item");
    wait_until("a run", DEADLINE, || runs(&log) >= 1);
}

#[test]
fn a_path_unit_without_its_unit_fails_to_start_with_the_reason() {
    let mut d = Daemon::start();
    d.write_unit("lonely.path", "[Path]\nPathExists=/tmp\n");
    d.ok(&["daemon-reload"]);
    let out = d.cli(&["start", "lonely.path"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("activates lonely.service, which is not loaded"),
        "{err}"
    );
}
