//! The journald benchmark on 20,000 lines: daimon's store and the journal
//! files systemd-journal-remote makes from `daimon logs -o export` must give
//! the same number of lines for every query of the table (tail, one unit, a
//! time range, `-p err`, `-g`). The guard of the export format and of the
//! queries' answers; the timings are printed, never asserted.
//!
//! Runs the `daimon` and `daimond` built next to the bench (`cargo build -p
//! daimon -p daimond`; `cargo test --workspace` builds them). Skipped, with
//! the reason, where systemd-journal-remote is not installed (`bash .ci/run`
//! installs Debian's package).

use std::path::Path;
use std::process::Command;

#[test]
fn both_stores_answer_every_query_with_the_same_lines() {
    let installed = ["/lib/systemd", "/usr/lib/systemd"]
        .iter()
        .any(|d| Path::new(d).join("systemd-journal-remote").is_file());
    if !installed {
        eprintln!(
            "skipped: systemd-journal-remote is not installed \
             (apt-get install systemd-journal-remote; bash .ci/run installs it)"
        );
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_daimon-bench"))
        .args(["journald", "--lines", "20000", "--reps", "1"])
        .output()
        .expect("run daimon-bench");
    let table = String::from_utf8_lossy(&out.stdout);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "daimon-bench journald failed:\n{table}\n{said}"
    );
    // Five queries, each with equal counts, and the range and -p err not empty.
    let rows: Vec<Vec<&str>> = table
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains(": "))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 5, "{table}");
    for r in &rows {
        assert!(!r[6].contains("MISMATCH"), "{table}");
        assert_eq!(Some(r[5]), r[6].split_whitespace().next(), "{table}");
    }
    assert_eq!(rows[0][5], "100", "{table}");
    assert_eq!(rows[1][5], "100", "{table}");
    for r in &rows[2..] {
        assert!(r[5].parse::<usize>().is_ok_and(|n| n > 0), "{table}");
    }
}
