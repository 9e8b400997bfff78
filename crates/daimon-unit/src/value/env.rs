//! `Environment=` and `EnvironmentFile=` values, per systemd.exec(5).
//!
//! `Environment=` takes space-separated `NAME=value` assignments, each quotable as a whole
//! (`"A=x y" B=z`); later assignments of the same name win at exec time.
//! `EnvironmentFile=` takes a path, `-` prefixed when a missing file is fine; the files
//! themselves are read when the service starts ([`parse_env_file`]).

use super::ValueError;
use super::exec::is_env_name;
use super::words::split_words;

/// Parse the assignments of one `Environment=` value.
pub fn parse_environment(value: &str) -> Result<Vec<(String, String)>, ValueError> {
    let mut out = Vec::new();
    for word in split_words(value)? {
        match word.split_once('=') {
            Some((k, v)) if is_env_name(k) => out.push((k.to_string(), v.to_string())),
            _ => {
                return Err(ValueError::new(
                    &word,
                    "an environment assignment",
                    "NAME=value, e.g. Environment=\"LANG=C.UTF-8\" DEBUG=1",
                ));
            }
        }
    }
    Ok(out)
}

/// Parse the contents of an environment file as systemd does (`load_env_file()`): lines of
/// `NAME=value`, `#`/`;` comments, optional `export ` prefix, values optionally quoted
/// with `"` or `'`, backslash line continuation. Invalid lines are skipped.
pub fn parse_env_file(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for line in text.lines() {
        if let Some(stripped) = line.strip_suffix('\\') {
            logical.push_str(stripped);
            continue;
        }
        logical.push_str(line);
        let l = std::mem::take(&mut logical);
        let l = l.trim();
        if l.is_empty() || l.starts_with(['#', ';']) {
            continue;
        }
        let l = l.strip_prefix("export ").map_or(l, str::trim_start);
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if !is_env_name(k) {
            continue;
        }
        let v = v.trim();
        let v = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"'))
                || (v.starts_with('\'') && v.ends_with('\'')))
        {
            let inner = &v[1..v.len() - 1];
            if v.starts_with('"') {
                unescape_double(inner)
            } else {
                inner.to_string()
            }
        } else {
            v.to_string()
        };
        out.push((k.to_string(), v));
    }
    out
}

fn unescape_double(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some(n @ ('"' | '\\' | '`' | '$')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments() {
        let v = parse_environment(
            "\"CONFIG=/etc/h.cfg\" PIDFILE=/run/h.pid \"EXTRA=-S /run/s\" EMPTY=",
        )
        .unwrap();
        assert_eq!(
            v,
            [
                ("CONFIG".into(), "/etc/h.cfg".into()),
                ("PIDFILE".into(), "/run/h.pid".into()),
                ("EXTRA".into(), "-S /run/s".into()),
                ("EMPTY".into(), String::new()),
            ]
        );
        assert_eq!(
            parse_environment("NOEQUALS").unwrap_err().to_string(),
            "\"NOEQUALS\" is not an environment assignment; expected NAME=value, e.g. Environment=\"LANG=C.UTF-8\" DEBUG=1"
        );
        assert!(parse_environment("1X=2").is_err());
    }

    #[test]
    fn env_file() {
        let v = parse_env_file("# c\nA=1\nexport B=\"two words\"\nC='x'\nbad line\nD=a\\\nb\n");
        assert_eq!(
            v,
            [
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "x".into()),
                ("D".into(), "ab".into()),
            ]
        );
    }
}
