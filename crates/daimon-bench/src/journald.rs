//! `journald`: the same lines in daimon's log store and in journal files,
//! and `journalctl --directory` timed against `daimon logs` on the queries a
//! user types: the last 100 lines, the last 100 of one unit, a time range,
//! `-p err` and `-g` over everything.
//!
//! The lines are written into daimon's store (`journald_store`), daimond is
//! started on it, and `daimon logs -o export` is piped into
//! `systemd-journal-remote`, so both sides hold the same entries with the
//! same timestamps, units (`_SYSTEMD_UNIT`, what `journalctl -u` matches) and
//! priorities. Each query runs as a whole process (`journalctl ...` and
//! `daimon logs ...`, output to a pipe this program counts), alternately,
//! `reps` times; the table shows medians. Both must print the same number of
//! lines for each query: a mismatch is printed as such and the scenario
//! fails, which makes it the guard of the export format and of the queries.

use std::fs;
use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::journald_store::{self, RARE, Span};
use crate::{BinDir, Home};

/// Where Debian and others install systemd-journal-remote (it is not on PATH).
pub fn journal_remote() -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .map(Path::new)
        .chain([Path::new("/lib/systemd"), Path::new("/usr/lib/systemd")])
        .map(|d| d.join("systemd-journal-remote"))
        .find(|p| p.is_file())
}

/// What one run of a query printed: its lines, and a hash of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Answer {
    lines: usize,
    hash: u64,
}

/// Runs `cmd`, reading its stdout to the end; wall time and what it printed.
fn run(cmd: &mut Command) -> Result<(Duration, Answer), String> {
    let t = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    let mut out = Vec::new();
    if let Some(mut so) = child.stdout.take() {
        so.read_to_end(&mut out)
            .map_err(|e| format!("{cmd:?}: reading its output: {e}"))?;
    }
    let mut err = String::new();
    if let Some(mut se) = child.stderr.take() {
        let _ = se.read_to_string(&mut err);
    }
    let status = child.wait().map_err(|e| format!("{cmd:?}: {e}"))?;
    let took = t.elapsed();
    if !status.success() {
        return Err(format!("{cmd:?}: {status}: {}", err.trim()));
    }
    // Both print this for an empty answer (journalctl's -q would hide it).
    if out == b"-- No entries --\n" {
        out.clear();
    }
    let hash = out.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let lines = out.iter().filter(|&&b| b == b'\n').count();
    Ok((took, Answer { lines, hash }))
}

/// `@SECONDS.MICROS`, which journalctl and daimon both take.
fn at(us: u64) -> String {
    format!("@{}.{:06}", us / 1_000_000, us % 1_000_000)
}

fn queries(span: Span) -> Vec<(String, Vec<String>)> {
    let width = (span.last - span.first) / 100;
    let since = span.first + (span.last - span.first) / 2;
    let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let unit = journald_store::unit_name(42);
    vec![
        ("tail: -n 100".into(), own(&["-n", "100"])),
        (
            format!("one unit: -u {unit} -n 100"),
            own(&["-u", &unit, "-n", "100"]),
        ),
        (
            "time range: --since/--until, 1 % of the span".into(),
            own(&["--since", &at(since), "--until", &at(since + width)]),
        ),
        ("priority: -p err".into(), own(&["-p", "err"])),
        (format!("grep: -g {RARE} (everything)"), own(&["-g", RARE])),
    ]
}

/// Disk use of a directory tree, in bytes of allocated blocks.
fn disk_use(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_use(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Builds both stores from `n` lines and prints the table. Err when a side
/// could not be built or run, or when any query's counts differ.
pub fn bench_journald(bins: &BinDir, n: u64, reps: usize) -> Result<(), String> {
    let remote = journal_remote().ok_or(
        "systemd-journal-remote not found (Debian: apt-get install systemd-journal-remote)",
    )?;
    let home = Home::new(bins, 0);
    let root = home.dir.path();
    // The store's limits must not delete the lines being compared (they are
    // a day old, and 10 M of them pass the default share of a small disk).
    fs::write(
        root.join("daimond.conf"),
        "[Journal]\nSystemMaxUse=64G\nSystemKeepFree=100M\nMaxRetentionSec=0\n",
    )
    .map_err(|e| format!("daimond.conf: {e}"))?;
    let state = root.join("state");
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&state)
        .map_err(|e| format!("{}: {e}", state.display()))?;
    let span = journald_store::build(&state.join("journal"), n)?;
    if !home.cli(&["list".to_string()]).0.success() {
        return Err("daimond did not start on the store".into());
    }

    let jdir = root.join("journald");
    fs::create_dir(&jdir).map_err(|e| format!("{}: {e}", jdir.display()))?;
    let t = Instant::now();
    let mut export = Command::new(&bins.daimon)
        .args(["logs", "--no-pager", "-o", "export"])
        .env("DAIMON_HOME", root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("daimon logs -o export: {e}"))?;
    let pipe = export.stdout.take().ok_or("daimon logs: no stdout")?;
    let import = Command::new(&remote)
        .arg("--split-mode=none")
        .arg(format!(
            "--output={}",
            jdir.join("remote.journal").display()
        ))
        .arg("-")
        .stdin(pipe)
        .output()
        .map_err(|e| format!("{}: {e}", remote.display()))?;
    let exported = export
        .wait()
        .map_err(|e| format!("daimon logs -o export: {e}"))?;
    let said = String::from_utf8_lossy(&import.stderr);
    if !exported.success() || !import.status.success() {
        return Err(format!(
            "daimon logs -o export | systemd-journal-remote failed ({exported}, {}): {}",
            import.status,
            said.trim()
        ));
    }
    // "Finishing after writing N entries": every exported line arrived.
    let written: Option<u64> = said
        .split("writing ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|w| w.parse().ok());
    eprintln!(
        "journald: daimon logs -o export | systemd-journal-remote: {} entries in {:.1} s",
        written.map_or("?".into(), |w| w.to_string()),
        t.elapsed().as_secs_f64()
    );
    let mut ok = true;
    if written.is_none_or(|w| w < n) {
        eprintln!("journald: MISMATCH: {n} lines stored, systemd-journal-remote said: {said}");
        ok = false;
    }
    println!(
        "| store on disk ({n} lines) | journal files {:.0} MB | daimon {:.0} MB | | | |",
        disk_use(&jdir) as f64 / 1e6,
        disk_use(&state.join("journal")) as f64 / 1e6
    );

    println!(
        "| query | journalctl median (ms) | daimon median (ms) | journalctl / daimon | lines (journalctl) | lines (daimon) |"
    );
    println!("|---|---|---|---|---|---|");
    let dir_arg = format!("--directory={}", jdir.display());
    for (name, args) in queries(span) {
        let (mut jt, mut dt) = (Vec::new(), Vec::new());
        let (mut ja, mut da) = (None, None);
        for _ in 0..reps.max(1) {
            let (t, a) = run(Command::new("journalctl")
                .args([dir_arg.as_str(), "--no-pager", "-q"])
                .args(&args))?;
            jt.push(t);
            ja.get_or_insert(a);
            let (t, a) = run(Command::new(&bins.daimon)
                .args(["logs", "--no-pager"])
                .args(&args)
                .env("DAIMON_HOME", root))?;
            dt.push(t);
            da.get_or_insert(a);
        }
        let (j, d) = (median(&mut jt), median(&mut dt));
        let empty = Answer { lines: 0, hash: 0 };
        let (ja, da) = (ja.unwrap_or(empty), da.unwrap_or(empty));
        let note = if ja.lines != da.lines {
            ok = false;
            eprintln!(
                "journald: MISMATCH on {name}: journalctl printed {} lines, daimon {}",
                ja.lines, da.lines
            );
            " **MISMATCH**"
        } else if ja.hash != da.hash {
            " (same count, text differs)"
        } else {
            ""
        };
        println!(
            "| {name} | {:.1} | {:.1} | {:.1}x | {} | {}{note} |",
            j.as_secs_f64() * 1e3,
            d.as_secs_f64() * 1e3,
            j.as_secs_f64() / d.as_secs_f64().max(1e-9),
            ja.lines,
            da.lines
        );
    }
    if ok {
        Ok(())
    } else {
        Err("the two sides returned different counts (see MISMATCH above)".into())
    }
}
