//! "Did you mean": the known unit names closest to one that was not found.
//!
//! A typo (`daimon status wbe`) should get the one or two names it was meant to
//! be, as clap's "a similar subcommand exists" does, not a list of every unit.
//! Names are compared without their suffix (`web` and `web.service`), by edit
//! distance with transpositions (optimal string alignment), and a name that
//! starts with what was typed counts as close (`daimon status worker` finds
//! `worker@1.service`).

/// At most this many suggestions.
const MAX: usize = 3;

/// The known names closest to `typed`, best first; empty when none is close.
pub fn closest<'a>(typed: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let want = stem(typed);
    if want.is_empty() {
        return Vec::new();
    }
    // One edit per three characters: `wbe` finds `web`, `x` finds nothing.
    let limit = want.chars().count() / 3;
    let mut scored: Vec<(usize, &str)> = known
        .into_iter()
        .filter_map(|name| {
            let have = stem(name);
            let d = distance(want, have);
            if d <= limit {
                Some((d, name))
            } else if want.chars().count() >= 3 && have.starts_with(want) {
                Some((limit + 1, name))
            } else {
                None
            }
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(MAX).map(|(_, n)| n).collect()
}

/// The name without a known unit suffix.
fn stem(name: &str) -> &str {
    match name.rsplit_once('.') {
        Some((stem, suffix)) if crate::UnitKind::from_suffix(suffix).is_some() => stem,
        _ => name,
    }
}

/// Edit distance (insertions, deletions, substitutions and swaps of two
/// neighbours), over characters.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: the one before last (for swaps), the last, the current.
    let mut before = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (last[j] + 1).min(row[j - 1] + 1).min(last[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            row[j] = d;
        }
        std::mem::swap(&mut before, &mut last);
        std::mem::swap(&mut last, &mut row);
    }
    last[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: [&str; 6] = [
        "web.service",
        "worker@1.service",
        "worker@2.service",
        "backup.service",
        "backup.timer",
        "redis.service",
    ];

    #[test]
    fn a_typo_finds_the_unit() {
        assert_eq!(closest("wbe.service", KNOWN), ["web.service"]);
        assert_eq!(closest("reddis", KNOWN), ["redis.service"]);
        assert_eq!(closest("bakcup.service", KNOWN)[0], "backup.service");
    }

    #[test]
    fn a_prefix_finds_the_instances() {
        assert_eq!(
            closest("worker.service", KNOWN),
            ["worker@1.service", "worker@2.service"]
        );
    }

    #[test]
    fn nothing_close_suggests_nothing() {
        assert!(closest("postgresql.service", KNOWN).is_empty());
        assert!(closest("", KNOWN).is_empty());
        assert!(closest("x.service", ["a.service"]).is_empty());
    }

    #[test]
    fn distance_counts_swaps_once() {
        assert_eq!(distance("web", "wbe"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
    }
}
