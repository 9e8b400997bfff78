//! `UnitMaxUse=` in daimond.conf: a chatty unit keeps only its newest lines
//! once its share passes the cap, a quiet unit keeps all of its own, and
//! `logs --disk-usage` says what `du` says about the store, holes and all.

mod common;

use std::fs;
use std::process::Command;
use std::time::Duration;

use common::*;

/// Lines `daimon logs UNIT -o cat` prints of what the unit wrote itself.
fn lines(d: &mut Daemon, unit: &str) -> Vec<String> {
    d.ok(&["logs", unit, "_TRANSPORT=stdout", "-o", "cat"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// "The log store takes up 1.5M in the file system (DIR)." -> (bytes, DIR).
fn disk_usage(text: &str) -> (f64, String) {
    let rest = text
        .split("takes up ")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    let (size, dir) = rest.split_once(" in the file system (").expect(text);
    let dir = dir.trim_end().trim_end_matches(").");
    let (num, unit) = size.split_at(size.len() - 1);
    let mult = match unit {
        "B" => 1.0,
        "K" => 1024.0,
        "M" => 1048576.0,
        "G" => 1073741824.0,
        _ => panic!("{text}"),
    };
    (num.parse::<f64>().expect(text) * mult, dir.to_string())
}

#[test]
fn a_chatty_unit_is_capped_and_the_others_keep_their_lines() {
    let mut d = Daemon::home_only();
    // Segments of 5M (SystemMaxUse/8), so the flood below fills several, and
    // room for all of it (with retention's reserve for growth): whole-segment
    // retention never runs here, only the cap.
    fs::write(
        d.path().join("daimond.conf"),
        "[Journal]\nSystemMaxUse=40M\nUnitMaxUse=1M\n",
    )
    .expect("write daimond.conf");
    d.spawn_daemon();
    d.write_unit(
        "quiet.service",
        "[Service]\nExecStart=/bin/sh -c 'echo quiet first; exec sleep 600'\n",
    );
    d.ok(&["start", "quiet"]);
    wait_until("the quiet line", DEADLINE, || {
        lines(&mut d, "quiet") == ["quiet first"]
    });
    // About 13 MB of numbered lines of random hex (5 MB once compressed),
    // five times the cap.
    let chatty = d.script(
        "chatty.sh",
        "head -c 4000000 /dev/urandom | od -An -tx1 -v -w32 | awk '{print \"chatty\", NR, $0}'\n\
         echo chatty done\nexec sleep 600",
    );
    d.write_unit(
        "chatty.service",
        &format!("[Service]\nExecStart={}\n", chatty.display()),
    );
    d.ok(&["start", "chatty"]);
    let number = |l: &String| -> u64 {
        l.split(' ')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a numbered line: {l}"))
    };
    // The newest lines, with no gap: the cut takes the oldest only. (A query
    // that runs while a trim punches may miss some of the lines being cut,
    // so this waits for an answer after the trims.)
    let last = 4_000_000 / 32;
    let mut kept = Vec::new();
    let mut first = 0;
    wait_until(
        "chatty's oldest lines trimmed",
        Duration::from_secs(60),
        || {
            kept = lines(&mut d, "chatty");
            let Some((done, body)) = kept.split_last() else {
                return false;
            };
            if done != "chatty done" || body.is_empty() {
                return false;
            }
            first = number(&body[0]);
            first > 1000
                && number(&body[body.len() - 1]) == last
                && body.len() as u64 == last - first + 1
        },
    );
    assert_eq!(lines(&mut d, "quiet"), ["quiet first"]);

    // --disk-usage against du(1) of the store, whose trimmed segments have
    // holes: the same bytes, within the rounding of "1.5M" and the files the
    // store does not count (its lock and SQLite's shared memory). Once the
    // store is at rest: while a segment is being compressed, its copy grows
    // between the two measures.
    let mut seen = (0.0, 0.0);
    let matches_du = |d: &mut Daemon, seen: &mut (f64, f64)| {
        let (usage, dir) = disk_usage(&d.ok(&["logs", "--disk-usage"]));
        let du = run_bounded(
            Command::new("du").args(["-s", "-B1", &dir]),
            Duration::from_secs(10),
        );
        let du: f64 = String::from_utf8_lossy(&du.stdout)
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .expect("du prints a size");
        *seen = (usage, du);
        (usage - du).abs() <= du * 0.05 + 128.0 * 1024.0
    };
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until("--disk-usage to match du", Duration::from_secs(30), || {
            matches_du(&mut d, &mut seen)
        })
    }));
    assert!(
        found.is_ok(),
        "--disk-usage says {} bytes, du {}",
        seen.0,
        seen.1
    );
    d.ok(&["stop", "chatty", "quiet"]);
}
