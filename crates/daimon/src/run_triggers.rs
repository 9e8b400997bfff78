//! What makes a `daimon run` service start or restart besides the command
//! itself: a schedule (its timer unit), `--watch` (restart when files
//! change) and `--listen` (a socket unit whose connections start it).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use daimon_proto::{RunRequest, RunTimer};

use crate::error::{CliError, CliResult};
use crate::run::plain_value;
use crate::schedule::{self, Schedule};

/// The request for a service `NAME.service` (text from [`service_text`]),
/// with its timer `NAME.timer` when there is a schedule.
pub fn request(
    name: &str,
    unit_text: String,
    schedule: Option<&Schedule>,
    save: bool,
    enable: bool,
) -> RunRequest {
    let service = format!("{name}.service");
    RunRequest {
        timer: schedule.map(|s| RunTimer {
            name: format!("{name}.timer"),
            unit_text: schedule::timer_text(&service, s),
        }),
        name: service,
        unit_text,
        save: save || enable,
        enable,
        socket: None,
    }
}

/// `--watch`: `X-DaimonWatch=` lines at the end of `[Service]` (an `X-` key,
/// which systemd ignores, so a saved unit stays a valid systemd unit).
pub fn with_watch(text: String, watch: &[PathBuf], cwd: &Path) -> CliResult<String> {
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
    Ok(match text.find("\n[Install]\n") {
        Some(i) => format!("{}{lines}{}", &text[..i], &text[i..]),
        None => text + &lines,
    })
}

/// `--listen`: the socket unit `NAME.socket` whose sockets daimond binds and
/// passes to `NAME.service` (systemd.socket(5), `Accept=no`). A relative
/// path is taken from the current directory; the daemon checks the rest.
pub fn listen_socket(name: &str, listen: &[String], cwd: &Path) -> Option<RunTimer> {
    if listen.is_empty() {
        return None;
    }
    let mut text = format!("[Unit]\nDescription=Sockets of {name}.service\n\n[Socket]\n");
    for l in listen {
        let l = if l.contains('/') && !l.starts_with('/') && !l.starts_with('@') {
            cwd.join(l.trim_start_matches("./"))
                .to_string_lossy()
                .into_owned()
        } else {
            l.clone()
        };
        let _ = writeln!(text, "ListenStream={}", plain_value(&l));
    }
    let _ = writeln!(text, "Service={name}.service");
    Some(RunTimer {
        name: format!("{name}.socket"),
        unit_text: text,
    })
}
