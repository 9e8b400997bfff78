//! What `daimon` says about a subcommand it does not know.
//!
//! clap's own tip ("a similar subcommand exists: 'shutdown'") may propose a
//! command that stops services: a user who types `daimon shutdwn` or `daimon
//! stp` by mistake, then accepts the tip, must have meant it. So unknown
//! subcommands get this message instead, whose tips are only commands that
//! stop nothing.

use clap::CommandFactory;

use crate::cli::Cli;

/// Subcommands a tip never proposes: each stops or deletes something.
const DESTRUCTIVE: &[&str] = &["stop", "restart", "kill", "remove", "shutdown", "disable"];

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The non-destructive subcommands close to `typed`, closest first.
pub fn similar(typed: &str) -> Vec<String> {
    let cmd = Cli::command();
    let mut close: Vec<(usize, String)> = cmd
        .get_subcommands()
        .flat_map(|c| {
            std::iter::once(c.get_name().to_string())
                .chain(c.get_visible_aliases().map(str::to_string))
        })
        .filter(|n| !DESTRUCTIVE.contains(&n.as_str()))
        .filter_map(|n| {
            let d = distance(typed, &n);
            // Close enough to be a typo: two edits, more in long names.
            let len = n.chars().count();
            (d > 0 && d < len && d <= (len / 3).max(2)).then_some((d, n))
        })
        .collect();
    close.sort();
    close.into_iter().take(3).map(|(_, n)| n).collect()
}

/// The message for an unknown subcommand (exit 1).
pub fn unknown_subcommand(typed: &str) -> String {
    let mut msg = format!("daimon: unknown command \"{typed}\"");
    let tips = similar(typed);
    if !tips.is_empty() {
        let tips: Vec<String> = tips.iter().map(|t| format!("\"daimon {t}\"")).collect();
        msg.push_str(&format!("; similar: {}", tips.join(", ")));
    }
    msg.push_str("; see \"daimon --help\" for every command");
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_of_destructive_commands_get_no_destructive_tip() {
        for typo in [
            "shutdwn", "stp", "sotp", "kil", "remov", "restar", "shutdow",
        ] {
            let tips = similar(typo);
            for t in &tips {
                assert!(!DESTRUCTIVE.contains(&t.as_str()), "{typo} -> {t}");
            }
        }
    }

    #[test]
    fn typos_of_harmless_commands_get_their_tip() {
        assert_eq!(
            similar("statsu").first().map(String::as_str),
            Some("status")
        );
        assert_eq!(similar("lgos").first().map(String::as_str), Some("logs"));
        assert!(similar("list-unit").contains(&"list-units".to_string()));
        assert!(unknown_subcommand("sho").contains("\"daimon show\""));
    }
}
