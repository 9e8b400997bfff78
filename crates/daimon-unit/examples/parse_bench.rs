//! Parse every unit file under a directory repeatedly and print the throughput.
//!
//! `cargo run --release -p daimon-unit --example parse_bench -- DIR [PASSES]`
//! Prints files/s and milliseconds per full pass, plus the diagnostic counts of one pass.

use daimon_unit::{LoadedUnit, SpecifierContext, UnitKind, parse_unit};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p
            .extension()
            .and_then(|s| s.to_str())
            .is_some_and(|s| UnitKind::from_suffix(s).is_some())
        {
            out.push(p);
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: parse_bench DIR [PASSES]");
        std::process::exit(2);
    };
    let passes: u32 = args.next().and_then(|p| p.parse().ok()).unwrap_or(200);
    let mut paths = Vec::new();
    collect(Path::new(&dir), &mut paths);
    paths.sort();
    // Read once: the benchmark measures parsing, not the disk.
    let files: Vec<(String, PathBuf, Vec<u8>)> = paths
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let bytes = std::fs::read(&p).ok()?;
            Some((name, p, bytes))
        })
        .collect();
    if files.is_empty() {
        eprintln!("no unit files under {dir}");
        std::process::exit(1);
    }
    let ctx = SpecifierContext::example();
    let parse_all = || -> Vec<LoadedUnit> {
        files
            .iter()
            .map(|(n, p, b)| parse_unit(n, p, b, &[], &ctx))
            .collect()
    };
    let first = parse_all();
    let (mut warnings, mut errors) = (0, 0);
    for u in &first {
        for d in &u.diagnostics {
            if d.is_error() {
                errors += 1;
                println!("{d}");
            } else {
                warnings += 1;
            }
        }
    }
    let start = Instant::now();
    let mut sink = 0usize;
    for _ in 0..passes {
        sink += parse_all().len();
    }
    let elapsed = start.elapsed();
    let per_pass_ms = elapsed.as_secs_f64() * 1000.0 / f64::from(passes);
    let files_per_s = (sink as f64) / elapsed.as_secs_f64();
    println!(
        "{} files, {warnings} warnings, {errors} errors; {passes} passes: {per_pass_ms:.3} ms per pass, {files_per_s:.0} files/s",
        files.len()
    );
}
