//! Payloads of systemctl's query and housekeeping verbs: `is-active`,
//! `is-enabled`, `is-failed`, `kill`, `reset-failed`, `show`, `list-units`,
//! `list-unit-files` and `remove` (see [`crate::Request`]).
//!
//! The daemon answers facts (states, properties, files); the CLI turns them into
//! systemctl's output and exit codes, so that the HTTP API serves the same facts.

use serde::{Deserialize, Serialize};

/// One unit's states, for `is-active`/`is-enabled`/`is-failed`. An unknown unit
/// is answered too (`load_state` `not-found`), as systemctl prints a state for
/// it rather than failing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitState {
    pub name: String,
    /// `loaded`, `not-found`, `bad-setting`, `masked`, `transient`.
    pub load_state: String,
    pub state: crate::ActiveState,
    pub sub_state: String,
    /// `enabled`, `disabled`, `static`, `transient`, `masked`, `bad`, or
    /// `not-found` for a unit with no file.
    pub enabled: String,
}

/// Which processes `kill` signals (systemctl's `--kill-whom`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KillWhom {
    /// The main process only.
    Main,
    /// Every process of the unit (systemctl's default).
    All,
}

/// One `Key=value` of `show`, with systemd's property name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    pub name: String,
    pub value: String,
}

/// One unit's properties, in systemd's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitProperties {
    pub unit: String,
    pub properties: Vec<Property>,
}

/// One row of `list-unit-files` (field names are the JSON contract of
/// `list-unit-files -o json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitFileEntry {
    /// The unit name, e.g. `web.service` or `web@.service`.
    pub unit_file: String,
    /// `enabled`, `disabled`, `static`, `transient`, `masked`, `bad`.
    pub state: String,
    /// Where the file is; None for a transient unit.
    pub path: Option<String>,
}

/// Whether `name` matches the shell-style `pattern` (`*`, `?`, `[a-z]`,
/// `[!x]`), as systemctl matches unit name patterns (fnmatch(3) without flags).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n)
}

/// Whether `s` has a glob metacharacter (systemctl's `string_is_glob`).
pub fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn glob_at(p: &[char], n: &[char]) -> bool {
    let (mut pi, mut ni) = (0, 0);
    // The last `*` seen and where in the name it started matching: on a
    // mismatch the star takes one more character (linear backtracking).
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        // How many pattern characters match `n[ni]`, if the token there does.
        let token = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => Some(1),
            Some('[') => class(&p[pi..], n[ni]),
            Some(c) if *c == n[ni] => Some(1),
            _ => None,
        };
        match (token, star) {
            (Some(len), _) => {
                pi += len;
                ni += 1;
            }
            (None, Some((sp, sn))) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Matches `c` against the bracket expression at the start of `p`: the
/// expression's length when it matches; a `[` never closed is a literal.
fn class(p: &[char], c: char) -> Option<usize> {
    let negate = matches!(p.get(1), Some('!') | Some('^'));
    let start = if negate { 2 } else { 1 };
    let mut i = start;
    let mut hit = false;
    // A `]` right after `[` (or `[!`) is a member, not the end.
    while i < p.len() && (p[i] != ']' || i == start) {
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|e| *e != ']') {
            hit |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            hit |= p[i] == c;
            i += 1;
        }
    }
    if i >= p.len() {
        return (c == '[').then_some(1);
    }
    (hit != negate).then_some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_fnmatch() {
        assert!(glob_match("web@*.service", "web@1.service"));
        assert!(glob_match("web@*.service", "web@.service"));
        assert!(!glob_match("web@*.service", "db.service"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("w[a-f]b", "web"));
        assert!(!glob_match("w[!a-f]b", "web"));
        assert!(glob_match("*.timer", "backup.timer"));
        assert!(glob_match("*a*b*", "xxaxxbxx"));
        assert!(!glob_match("*a*b", "xxaxxbxxc"));
        assert!(glob_match("[", "["));
        assert!(is_glob("web@*") && !is_glob("web"));
    }
}
