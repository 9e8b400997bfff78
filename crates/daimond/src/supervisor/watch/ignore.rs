//! Which changed paths `--watch` ignores beyond its defaults: the patterns
//! of `.gitignore` files and the user's `--ignore GLOB`s, with gitignore(5)'s
//! rules: `#` comments, `!` re-includes, a trailing `/` matches directories
//! only, a pattern with a `/` elsewhere is relative to its file's directory,
//! one without matches a name at any depth; `*`, `?`, `[a-z]` within a
//! name, `**` across directories. Among the `.gitignore` patterns the last
//! match wins (a deeper file's after a shallower one's), as in git.

use std::path::{Path, PathBuf};

/// One pattern line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// The directory it is relative to.
    base: PathBuf,
    /// The pattern's `/`-separated parts (`**` for any depth).
    parts: Vec<String>,
    negate: bool,
    dir_only: bool,
}

impl Rule {
    fn parse(base: &Path, line: &str) -> Option<Rule> {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let (negate, line) = match line.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, line.strip_prefix('\\').unwrap_or(line)),
        };
        let (dir_only, line) = match line.strip_suffix('/') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        if line.is_empty() {
            return None;
        }
        // A slash at the start or in the middle anchors the pattern to its
        // base; without one it matches at any depth.
        let anchored = line.contains('/');
        let mut parts: Vec<String> = line
            .trim_start_matches('/')
            .split('/')
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect();
        if !anchored {
            parts.insert(0, "**".into());
        }
        Some(Rule {
            base: base.to_path_buf(),
            parts,
            negate,
            dir_only,
        })
    }

    /// `Some(ignored)` when the rule matches `path`.
    fn decide(&self, path: &Path, is_dir: bool) -> Option<bool> {
        if self.dir_only && !is_dir {
            return None;
        }
        let rel = path.strip_prefix(&self.base).ok()?;
        let names: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if names.is_empty() {
            return None;
        }
        let parts: Vec<&str> = self.parts.iter().map(String::as_str).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        matches_parts(&parts, &names).then_some(!self.negate)
    }
}

/// `**` matches zero or more names; any other part one name.
fn matches_parts(parts: &[&str], names: &[&str]) -> bool {
    match parts.split_first() {
        None => names.is_empty(),
        Some((&"**", rest)) => (0..=names.len()).any(|i| matches_parts(rest, &names[i..])),
        Some((p, rest)) => names.split_first().is_some_and(|(n, more)| {
            name_matches(p.as_bytes(), n.as_bytes()) && matches_parts(rest, more)
        }),
    }
}

/// fnmatch(3) on one name: `*`, `?`, `[...]` (with `!` or `^` to negate and
/// ranges), `\` escaping the next character.
fn name_matches(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| name_matches(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && name_matches(rest, &s[1..]),
        Some((b'[', rest)) => {
            let Some((&c, more)) = s.split_first() else {
                return false;
            };
            match class(rest, c) {
                Some((true, after)) => name_matches(after, more),
                Some((false, _)) => false,
                // No closing bracket: a literal `[`.
                None => c == b'[' && name_matches(rest, more),
            }
        }
        Some((b'\\', rest)) if !rest.is_empty() => {
            s.first() == Some(&rest[0]) && name_matches(&rest[1..], &s[1..])
        }
        Some((&c, rest)) => s.first() == Some(&c) && name_matches(rest, &s[1..]),
    }
}

/// A bracket expression after its `[`: whether `c` is in it, and the
/// pattern after the closing `]`.
fn class(p: &[u8], c: u8) -> Option<(bool, &[u8])> {
    let (negate, mut i) = match p.first() {
        Some(b'!' | b'^') => (true, 1),
        _ => (false, 0),
    };
    let mut hit = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == b']' && !first {
            return Some((hit != negate, &p[i + 1..]));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == b'-' && p[i + 2] != b']' {
            hit |= (p[i]..=p[i + 2]).contains(&c);
            i += 3;
        } else {
            hit |= p[i] == c;
            i += 1;
        }
    }
    None
}

/// The patterns in force for one watch.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    /// From `.gitignore` files, shallower bases first.
    git: Vec<Rule>,
    /// The user's `--ignore` globs (relative to each watched root).
    user: Vec<Rule>,
}

impl IgnoreRules {
    /// The user's globs, relative to each of `roots`.
    pub fn new(roots: &[PathBuf], globs: &[String]) -> IgnoreRules {
        let mut r = IgnoreRules::default();
        for root in roots {
            let base = if root.is_dir() {
                root.as_path()
            } else {
                root.parent().unwrap_or(Path::new("/"))
            };
            r.user
                .extend(globs.iter().filter_map(|g| Rule::parse(base, g)));
        }
        r
    }

    /// The `.gitignore` of `dir`'s repository above `dir` (from the
    /// directory holding `.git` down to `dir`'s parent): git applies them too.
    pub fn add_ancestors(&mut self, dir: &Path) {
        let mut chain = Vec::new();
        let mut d = dir.parent();
        while let Some(p) = d {
            chain.push(p.to_path_buf());
            if p.join(".git").exists() {
                for a in chain.iter().rev() {
                    self.load(a);
                }
                return;
            }
            d = p.parent();
        }
    }

    /// (Re)reads `dir/.gitignore`, replacing what it said before.
    pub fn load(&mut self, dir: &Path) {
        self.git.retain(|r| r.base != dir);
        let Ok(text) = std::fs::read_to_string(dir.join(".gitignore")) else {
            return;
        };
        let depth = dir.components().count();
        let at = self
            .git
            .iter()
            .position(|r| r.base.components().count() > depth)
            .unwrap_or(self.git.len());
        let new: Vec<Rule> = text.lines().filter_map(|l| Rule::parse(dir, l)).collect();
        self.git.splice(at..at, new);
    }

    pub fn is_ignored(&self, path: &Path, is_dir: bool) -> bool {
        let last = |rules: &[Rule]| rules.iter().rev().find_map(|r| r.decide(path, is_dir));
        last(&self.git).unwrap_or(false) || last(&self.user).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(base: &str, text: &str) -> IgnoreRules {
        IgnoreRules {
            git: text
                .lines()
                .filter_map(|l| Rule::parse(Path::new(base), l))
                .collect(),
            user: Vec::new(),
        }
    }

    #[test]
    fn gitignore_patterns() {
        let r = rules(
            "/w",
            "# comment\n*.gen.py\n/build\ndocs/*.html\ncache/\n!keep.gen.py\ndata/**/raw\n[Tt]mp?\n",
        );
        let ig = |p: &str| r.is_ignored(Path::new(p), false);
        assert!(ig("/w/a.gen.py"));
        assert!(ig("/w/src/deep/b.gen.py"));
        assert!(!ig("/w/src/keep.gen.py"), "re-included by !");
        assert!(ig("/w/build"));
        assert!(!ig("/w/src/build"), "a leading / anchors");
        assert!(ig("/w/docs/index.html"));
        assert!(!ig("/w/docs/sub/index.html"), "* stops at /");
        assert!(!ig("/w/cache"), "cache/ is for directories");
        assert!(r.is_ignored(Path::new("/w/x/cache"), true));
        assert!(ig("/w/data/raw"));
        assert!(ig("/w/data/a/b/raw"));
        assert!(ig("/w/Tmp1"));
        assert!(ig("/w/tmpx"));
        assert!(!ig("/w/app.py"));
        assert!(!ig("/elsewhere/a.gen.py"), "only below its directory");
    }

    #[test]
    fn user_globs_apply_under_each_root() {
        let r = IgnoreRules::new(
            &["/nonexistent/a".into()],
            &["*.md".into(), "fixtures/".into()],
        );
        assert!(r.is_ignored(Path::new("/nonexistent/x/README.md"), false));
        assert!(r.is_ignored(Path::new("/nonexistent/x/fixtures"), true));
        assert!(!r.is_ignored(Path::new("/nonexistent/x/main.py"), false));
    }

    #[test]
    fn deeper_files_win_and_reloads_replace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        std::fs::write(root.join(".gitignore"), "*.out\n").expect("write");
        std::fs::write(root.join("sub/.gitignore"), "!wanted.out\n").expect("write");
        let mut r = IgnoreRules::default();
        r.load(&root.join("sub"));
        r.load(root);
        assert!(r.is_ignored(&root.join("x.out"), false));
        assert!(!r.is_ignored(&root.join("sub/wanted.out"), false));
        std::fs::write(root.join(".gitignore"), "").expect("write");
        r.load(root);
        assert!(!r.is_ignored(&root.join("x.out"), false));
    }

    #[test]
    fn brackets_and_escapes() {
        assert!(name_matches(b"[!a]x", b"bx"));
        assert!(!name_matches(b"[!a]x", b"ax"));
        assert!(name_matches(b"[a-c]", b"b"));
        assert!(name_matches(b"\\*", b"*"));
        assert!(!name_matches(b"\\*", b"a"));
        assert!(name_matches(b"[x", b"[x"));
    }
}
