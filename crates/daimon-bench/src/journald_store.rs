//! The lines `journald` compares on: N lines of 100 units over the 24 hours
//! before now, with a realistic mix of priorities and a rare word for grep,
//! written into daimon's log store through the store's own writer (the path
//! daimond's log thread takes, minus the pipes), then sealed and compressed
//! as daimond leaves old segments.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use daimon_journal::{Journal, JournalConfig, SourceId, SourceMeta, Stream};

pub const UNITS: u64 = 100;
/// Lines of one unit written at once, with one timestamp (a service's
/// `write()` of a few lines).
const PER_CHUNK: u64 = 10;
/// The word `-g` looks for: in one line of 4,999.
pub const RARE: &str = "quokka";

/// Where the lines sit in time, in microseconds since the epoch.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub first: u64,
    pub last: u64,
}

pub fn unit_name(u: u64) -> String {
    format!("unit-{u:02}.service")
}

/// A 64-bit mix of `i` (splitmix64's finalizer): the same lines every run.
fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Line `i`, newline included: an access-log-like message, its priority as
/// a `<N>` prefix (SyslogLevelPrefix=) unless it is info: 0.1 % err, 1 %
/// warning, 2 % notice, 10 % debug, the rest info.
pub fn line(i: u64, out: &mut Vec<u8>) {
    const METHODS: [&str; 4] = ["GET", "POST", "PUT", "GET"];
    const PATHS: [&str; 5] = [
        "/api/v1/items",
        "/api/v1/users",
        "/healthz",
        "/api/v2/orders",
        "/static/app.js",
    ];
    let x = mix(i);
    let prefix = match x % 10_000 {
        0..=9 => "<3>",
        10..=109 => "<4>",
        110..=309 => "<5>",
        310..=1309 => "<7>",
        _ => "",
    };
    let status = [200, 200, 200, 201, 204, 304, 404, 500][(x >> 16) as usize % 8];
    let _ = write!(
        out,
        "{prefix}{i:010} {} {}/{} {status} {}.{:03}ms req={:016x} worker={}",
        METHODS[(x >> 8) as usize % 4],
        PATHS[(x >> 12) as usize % 5],
        (x >> 20) % 100_000,
        (x >> 40) % 200,
        (x >> 50) % 1000,
        x.rotate_left(17),
        (x >> 3) % 16,
    );
    if i % 4999 == 17 {
        let _ = write!(out, " {RARE} spotted");
    }
    out.push(b'\n');
}

/// Writes `n` lines into a new store at `dir`: chunks of ten lines of one
/// unit, the units in a shuffled order, evenly over the 24 hours that end
/// one hour ago. Returns the span of their timestamps.
pub fn build(dir: &Path, n: u64) -> Result<Span, String> {
    let cfg = JournalConfig {
        max_use: Some(64 << 30),
        ..Default::default()
    };
    let journal =
        Journal::open(dir, cfg).map_err(|e| format!("log store {}: {e}", dir.display()))?;
    let mut w = journal
        .writer()
        .map_err(|e| format!("log store {}: {e}", dir.display()))?;
    for u in 0..UNITS {
        w.open_source(
            SourceId(u),
            SourceMeta {
                unit: unit_name(u),
                invocation: format!("{:032x}", mix(u) as u128 | 1 << 100),
                pid: 1000 + u as u32,
                stream: Stream::Stdout,
                level_prefix: true,
                identifier: None,
            },
        );
    }
    let day = 86_400_000_000u64;
    let now = daimon_journal::realtime_usec();
    let first = now - day - 3_600_000_000;
    let step = day / n.max(1);
    let t0 = Instant::now();
    let mut chunk = Vec::with_capacity(4096);
    let mut i = 0u64;
    while i < n {
        chunk.clear();
        let end = (i + PER_CHUNK).min(n);
        for k in i..end {
            line(k, &mut chunk);
        }
        let u = mix((i / PER_CHUNK) ^ 0x5555) % UNITS;
        w.ingest_at(SourceId(u), &chunk, first + i * step, i * step);
        i = end;
        if i % 10_000 < PER_CHUNK {
            w.commit();
        }
    }
    w.commit();
    w.seal_and_compact_all();
    drop(w);
    eprintln!(
        "journald: {n} lines into daimon's store in {:.1} s (sealed and compressed)",
        t0.elapsed().as_secs_f64()
    );
    Ok(Span {
        first,
        last: first + (n.max(1) - 1) * step,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_mix_priorities_and_the_rare_word() {
        let mut out = Vec::new();
        for i in 0..100_000 {
            line(i, &mut out);
        }
        let text = String::from_utf8(out).expect("text");
        let count = |p: &str| text.lines().filter(|l| l.starts_with(p)).count();
        assert!((50..200).contains(&count("<3>")), "{}", count("<3>"));
        assert!((500..2000).contains(&count("<4>")));
        assert!((8000..12000).contains(&count("<7>")));
        assert_eq!(text.lines().filter(|l| l.contains(RARE)).count(), 21);
    }
}
