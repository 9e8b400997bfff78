//! Command lines of `Exec*=` directives, per systemd.service(5) "COMMAND LINES".
//!
//! - Prefixes before the executable, in any order, each at most once: `-` (a failure exit
//!   is ignored), `@` (the second word becomes argv\[0\]), `:` (no environment variable
//!   expansion), `+` (run with full privileges), `!` (run without the sandbox's
//!   user/group change), `!!` (as `!`, only where ambient capabilities are missing).
//!   `+`, `!` and `!!` exclude each other.
//! - Words are split and unquoted as [`super::words`] (quotes, C escapes).
//! - The executable is an absolute path or a plain name looked up in PATH at exec time;
//!   a relative path with a `/` is refused.
//! - A lone `;` used to separate several commands on one line; daimon does not support
//!   that and refuses the line (write one `Exec*=` line per command).
//! - At exec time ([`ExecCommand::expand`]): a word that is exactly `$NAME` is replaced by
//!   the variable's value split at whitespace (zero words when unset or empty); `${NAME}`
//!   anywhere in a word is replaced by the value as is; `$$` is a literal `$`.
//!   The executable and argv\[0\] are never expanded.

use super::ValueError;
use super::words::next_word;

/// What privileges a command runs with (`+`, `!`, `!!` prefixes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExecPrivilege {
    #[default]
    Normal,
    /// `+`: User=, Group= and sandboxing are not applied.
    Full,
    /// `!`: User=/Group= are applied through ambient capabilities, not setuid.
    NoSetuid,
    /// `!!`: as `!` but only on systems without ambient capability support.
    AmbientFallback,
}

/// One parsed command line. The default is an empty command with no prefixes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecCommand {
    /// The executable: an absolute path, or a plain name to look up in PATH.
    pub path: String,
    /// The argument vector; `argv[0]` is `path` unless `@` chose another.
    pub argv: Vec<String>,
    /// `-`: a non-zero exit (or a signal) is recorded but not a failure.
    pub ignore_failure: bool,
    /// `@`: `argv[0]` was given explicitly (the second word).
    pub argv0_override: bool,
    pub privilege: ExecPrivilege,
    /// `:`: `$VAR` and `${VAR}` are passed literally.
    pub no_env_expand: bool,
}

impl ExecCommand {
    /// Whether the executable needs a PATH lookup.
    pub fn needs_path_lookup(&self) -> bool {
        !self.path.starts_with('/')
    }

    /// The argument vector with environment variables expanded (see the module doc).
    pub fn expand(&self, env: &impl Fn(&str) -> Option<String>) -> Vec<String> {
        if self.no_env_expand {
            return self.argv.clone();
        }
        let mut out = Vec::with_capacity(self.argv.len());
        let mut words = self.argv.iter();
        if let Some(first) = words.next() {
            out.push(first.clone());
        }
        for word in words {
            if let Some(name) = word.strip_prefix('$')
                && is_env_name(name)
            {
                if let Some(v) = env(name) {
                    out.extend(v.split_ascii_whitespace().map(str::to_string));
                }
                continue;
            }
            out.push(expand_braced(word, env));
        }
        out
    }
}

/// A valid environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Replace `${NAME}` by its value and `$$` by `$`; anything else is kept.
fn expand_braced(word: &str, env: &impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(inner) = after.strip_prefix('{')
            && let Some(end) = inner.find('}')
            && is_env_name(&inner[..end])
        {
            out.push_str(&env(&inner[..end]).unwrap_or_default());
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

const EXPECTED_PATH: &str = "an absolute path like /usr/bin/app or a command name like app";

/// Parse one `Exec*=` value (already specifier-expanded per word by the caller through
/// `expand_word`).
pub fn parse_exec(
    value: &str,
    expand_word: &mut dyn FnMut(&str) -> Result<String, ValueError>,
) -> Result<ExecCommand, ValueError> {
    let mut cmd = ExecCommand::default();
    let mut rest = value.trim_start();
    loop {
        let mut chars = rest.chars();
        match chars.next() {
            Some('-') if !cmd.ignore_failure => cmd.ignore_failure = true,
            Some('@') if !cmd.argv0_override => cmd.argv0_override = true,
            Some(':') if !cmd.no_env_expand => cmd.no_env_expand = true,
            Some('+') if cmd.privilege == ExecPrivilege::Normal => {
                cmd.privilege = ExecPrivilege::Full
            }
            Some('!') if cmd.privilege == ExecPrivilege::Normal => {
                cmd.privilege = ExecPrivilege::NoSetuid
            }
            Some('!') if cmd.privilege == ExecPrivilege::NoSetuid => {
                cmd.privilege = ExecPrivilege::AmbientFallback
            }
            _ => break,
        }
        rest = chars.as_str();
    }
    let mut words = Vec::new();
    while let Some((raw, r)) = next_word(rest)? {
        if raw == ";" && !rest.trim_start().starts_with(['"', '\'', '\\']) {
            return Err(ValueError(
                "\";\" separating several commands is not supported; \
                 expected one command per Exec line (use \\; for a literal semicolon)"
                    .to_string(),
            ));
        }
        words.push(expand_word(&raw)?);
        rest = r;
    }
    let mut words = words.into_iter();
    let Some(path) = words.next() else {
        return Err(ValueError::new(value, "a command line", EXPECTED_PATH));
    };
    if path.is_empty() || (path.contains('/') && !path.starts_with('/')) || path.ends_with('/') {
        return Err(ValueError::new(&path, "an executable", EXPECTED_PATH));
    }
    if cmd.argv0_override {
        match words.next() {
            Some(argv0) => cmd.argv.push(argv0),
            None => {
                return Err(ValueError::new(
                    value,
                    "a command line with argv[0]",
                    "@/path/to/exe argv0 [args...]",
                ));
            }
        }
    } else {
        cmd.argv.push(path.clone());
    }
    cmd.path = path;
    cmd.argv.extend(words);
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<ExecCommand, ValueError> {
        parse_exec(s, &mut |w| Ok(w.to_string()))
    }

    #[test]
    fn prefixes() {
        let c = p("-@+/bin/sh sh -c 'echo hi'").unwrap();
        assert!(c.ignore_failure && c.argv0_override);
        assert_eq!(c.privilege, ExecPrivilege::Full);
        assert_eq!(c.path, "/bin/sh");
        assert_eq!(c.argv, ["sh", "-c", "echo hi"]);
        let c = p("!!:/usr/bin/x").unwrap();
        assert_eq!(c.privilege, ExecPrivilege::AmbientFallback);
        assert!(c.no_env_expand);
        let c = p("app --flag").unwrap();
        assert!(c.needs_path_lookup());
        assert_eq!(c.argv, ["app", "--flag"]);
    }

    #[test]
    fn failures() {
        assert_eq!(
            p("bin/app").unwrap_err().to_string(),
            "\"bin/app\" is not an executable; expected an absolute path like /usr/bin/app or a command name like app"
        );
        assert_eq!(
            p("").unwrap_err().to_string(),
            "\"\" is not a command line; expected an absolute path like /usr/bin/app or a command name like app"
        );
        assert!(p("+!/bin/x").is_err());
        assert!(p("@/bin/x").is_err());
        assert_eq!(
            p("/bin/a ; /bin/b").unwrap_err().to_string(),
            "\";\" separating several commands is not supported; expected one command per Exec line (use \\; for a literal semicolon)"
        );
        assert_eq!(p("/bin/echo \\;").unwrap().argv, ["/bin/echo", ";"]);
        assert!(p("/bin/echo \"unclosed").is_err());
    }

    #[test]
    fn expansion() {
        let env = |k: &str| match k {
            "OPTS" => Some("-a  -b".to_string()),
            "ONE" => Some("x y".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let c =
            p("/bin/app $OPTS ${ONE} --v=${ONE}! $UNSET $EMPTY $$HOME --x=$ONE ${UNSET}").unwrap();
        assert_eq!(
            c.expand(&env),
            [
                "/bin/app", "-a", "-b", "x y", "--v=x y!", "$HOME", "--x=$ONE", ""
            ]
        );
        let c = p(":/bin/app $OPTS").unwrap();
        assert_eq!(c.expand(&env), ["/bin/app", "$OPTS"]);
    }
}
