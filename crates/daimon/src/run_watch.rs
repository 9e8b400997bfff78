//! `daimon run --watch PATH [--ignore GLOB]`: what it adds to the unit.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{CliError, CliResult};
use crate::run::plain_value;

/// `--watch`: `X-DaimonWatch=` lines at the end of `[Service]` (an `X-` key,
/// which systemd ignores, so a saved unit stays a valid systemd unit).
pub fn with_watch(
    text: String,
    watch: &[PathBuf],
    ignore: &[String],
    cwd: &Path,
) -> CliResult<String> {
    if watch.is_empty() {
        return Ok(text);
    }
    let mut lines = String::new();
    for w in watch {
        let p = cwd.join(w);
        if !p.exists() {
            return Err(CliError::fail(format!(
                "invalid --watch \"{}\": no such file or directory",
                w.display()
            )));
        }
        let _ = writeln!(lines, "X-DaimonWatch={}", plain_value(&p.to_string_lossy()));
    }
    for g in ignore {
        if g.trim().is_empty() {
            return Err(CliError::fail(
                "invalid --ignore \"\": give a glob such as *.md",
            ));
        }
        let _ = writeln!(lines, "X-DaimonWatchIgnore={}", plain_value(g.trim()));
    }
    Ok(match text.find("\n[Install]\n") {
        Some(i) => format!("{}{lines}{}", &text[..i], &text[i..]),
        None => text + &lines,
    })
}
