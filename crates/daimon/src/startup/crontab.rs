//! The crontab `@reboot` line that starts daimond where systemd does not run.
//!
//! Owns the line's text, finding it among the user's lines, and reading and
//! writing the crontab. Editing keeps every other line byte for byte: the table
//! is split on `\n` and joined back, only our line added or removed.
//!
//! The crontab is read with `crontab -l` and written with `crontab -` (POSIX
//! crontab(1)); `DAIMON_STARTUP_CRONTAB=FILE` makes both a plain file instead,
//! for tests and for cron daemons that read a file the user owns.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::CliError;

/// Ends our line: how `--uninstall` and `status` recognise it (the shell that
/// cron runs the line with reads it as a comment).
pub const MARKER: &str = "# daimon startup";

/// Where the crontab is read from and written to.
pub enum Crontab {
    /// The user's table, through the `crontab` command.
    Command,
    /// A file standing for it.
    File(PathBuf),
}

impl Crontab {
    pub fn from_env() -> Crontab {
        match std::env::var_os("DAIMON_STARTUP_CRONTAB").filter(|v| !v.is_empty()) {
            Some(f) => Crontab::File(PathBuf::from(f)),
            None => Crontab::Command,
        }
    }

    /// Where it is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Crontab::Command => "your crontab (crontab -l)".to_string(),
            Crontab::File(f) => f.display().to_string(),
        }
    }

    /// The table's text; empty when the user has none.
    pub fn read(&self) -> Result<String, CliError> {
        match self {
            Crontab::File(f) => match std::fs::read(f) {
                Ok(b) => String::from_utf8(b)
                    .map_err(|_| CliError::fail(format!("{}: not UTF-8 text", f.display()))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
                Err(e) => Err(CliError::fail(format!("reading {}: {e}", f.display()))),
            },
            Crontab::Command => {
                let out = Command::new("crontab")
                    .arg("-l")
                    .stdin(Stdio::null())
                    .output()
                    .map_err(|e| {
                        CliError::fail(format!(
                            "cannot run \"crontab -l\": {e}; install cron (its crontab command) and run this again"
                        ))
                    })?;
                if out.status.success() {
                    return String::from_utf8(out.stdout)
                        .map_err(|_| CliError::fail("\"crontab -l\" printed non-UTF-8 text"));
                }
                let err = String::from_utf8_lossy(&out.stderr);
                // Every cron prints "no crontab for USER" when there is none yet.
                if err.contains("no crontab") {
                    return Ok(String::new());
                }
                Err(CliError::fail(format!(
                    "\"crontab -l\" failed: {}",
                    err.trim()
                )))
            }
        }
    }

    /// Replaces the table with `text`.
    pub fn write(&self, text: &str) -> Result<(), CliError> {
        match self {
            Crontab::File(f) => write_atomically(f, text.as_bytes())
                .map_err(|e| CliError::fail(format!("writing {}: {e}", f.display()))),
            Crontab::Command => {
                let mut child = Command::new("crontab")
                    .arg("-")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| CliError::fail(format!("cannot run \"crontab -\": {e}")))?;
                if let Some(mut stdin) = child.stdin.take() {
                    stdin
                        .write_all(text.as_bytes())
                        .map_err(|e| CliError::fail(format!("writing to \"crontab -\": {e}")))?;
                }
                let out = child
                    .wait_with_output()
                    .map_err(|e| CliError::fail(format!("\"crontab -\": {e}")))?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(CliError::fail(format!(
                        "\"crontab -\" refused the new table: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    )))
                }
            }
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// Our `@reboot` line: `daimond` (which daemonizes and returns once it
/// answers), with `DAIMON_HOME` when one is set.
pub fn line(daimond: &Path, home: Option<&Path>) -> String {
    let mut l = String::from("@reboot ");
    if let Some(h) = home {
        l.push_str(&format!("DAIMON_HOME={} ", sh_quote(&h.to_string_lossy())));
    }
    l.push_str(&sh_quote(&daimond.to_string_lossy()));
    l.push(' ');
    l.push_str(MARKER);
    l
}

/// A word for the shell that cron runs the line with: single-quoted when it
/// needs quoting; `%` escaped, since cron turns a bare `%` into a newline
/// (crontab(5)).
fn sh_quote(word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+,:=@".contains(c));
    let q = if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    };
    q.replace('%', "\\%")
}

/// Whether `l` is the line `line(_, home)` would write, for this home.
pub fn is_ours(l: &str, home: Option<&Path>) -> bool {
    let l = l.trim_end_matches('\r');
    let Some(rest) = l.strip_prefix("@reboot ") else {
        return false;
    };
    if !l.ends_with(MARKER) {
        return false;
    }
    match home {
        Some(h) => rest.starts_with(&format!("DAIMON_HOME={} ", sh_quote(&h.to_string_lossy()))),
        None => !rest.starts_with("DAIMON_HOME="),
    }
}

/// `table` with `new` as our line: an old line of ours replaced in place, else
/// `new` appended. `None` when `table` already has exactly `new`.
pub fn with_line(table: &str, new: &str, home: Option<&Path>) -> Option<String> {
    if table.split('\n').any(|l| l == new)
        && table.split('\n').filter(|l| is_ours(l, home)).count() == 1
    {
        return None;
    }
    let mut replaced = false;
    let mut lines: Vec<&str> = Vec::new();
    for l in table.split('\n') {
        if is_ours(l, home) {
            if !replaced {
                lines.push(new);
                replaced = true;
            }
        } else {
            lines.push(l);
        }
    }
    if replaced {
        return Some(lines.join("\n"));
    }
    let mut out = table.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(new);
    out.push('\n');
    Some(out)
}

/// `table` without our line; `None` when it has none.
pub fn without_line(table: &str, home: Option<&Path>) -> Option<String> {
    if !table.split('\n').any(|l| is_ours(l, home)) {
        return None;
    }
    let mut out = String::with_capacity(table.len());
    for piece in table.split_inclusive('\n') {
        let l = piece.strip_suffix('\n').unwrap_or(piece);
        if !is_ours(l, home) {
            out.push_str(piece);
        }
    }
    Some(out)
}

/// Our line in `table`, if any.
pub fn find(table: &str, home: Option<&Path>) -> Option<String> {
    table
        .split('\n')
        .find(|l| is_ours(l, home))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OTHERS: &str = "# m h dom mon dow command\nMAILTO=\"\"\n*/5 * * * * /usr/bin/backup --quiet   \n\n0 3 * * * echo '100\\%' # not ours\n";

    #[test]
    fn the_line_runs_daimond_with_its_home() {
        assert_eq!(
            line(Path::new("/usr/bin/daimond"), None),
            "@reboot /usr/bin/daimond # daimon startup"
        );
        assert_eq!(
            line(
                Path::new("/opt/d/daimond"),
                Some(Path::new("/srv/50% it's"))
            ),
            "@reboot DAIMON_HOME='/srv/50\\% it'\\''s' /opt/d/daimond # daimon startup"
        );
    }

    #[test]
    fn install_appends_once_and_keeps_every_other_byte() {
        let ours = line(Path::new("/usr/bin/daimond"), None);
        let t = with_line(OTHERS, &ours, None).expect("changed");
        assert_eq!(t, format!("{OTHERS}{ours}\n"));
        assert_eq!(with_line(&t, &ours, None), None, "idempotent");
        assert_eq!(without_line(&t, None).as_deref(), Some(OTHERS));
        assert_eq!(without_line(OTHERS, None), None);
    }

    #[test]
    fn a_table_without_final_newline_or_empty() {
        let ours = line(Path::new("/d"), None);
        assert_eq!(
            with_line("* * * * * x", &ours, None).as_deref(),
            Some(format!("* * * * * x\n{ours}\n").as_str())
        );
        assert_eq!(with_line("", &ours, None), Some(format!("{ours}\n")));
    }

    #[test]
    fn a_moved_binary_replaces_our_line_in_place() {
        let old = line(Path::new("/old/daimond"), None);
        let new = line(Path::new("/new/daimond"), None);
        let t = format!("a\n{old}\nb\n");
        assert_eq!(with_line(&t, &new, None), Some(format!("a\n{new}\nb\n")));
    }

    #[test]
    fn homes_do_not_touch_each_others_lines() {
        let h = Path::new("/h");
        let mine = line(Path::new("/d"), Some(h));
        let default = line(Path::new("/d"), None);
        let t = format!("{default}\n{mine}\n");
        assert_eq!(without_line(&t, Some(h)), Some(format!("{default}\n")));
        assert_eq!(without_line(&t, None), Some(format!("{mine}\n")));
        assert_eq!(find(&t, Some(h)), Some(mine));
    }
}
