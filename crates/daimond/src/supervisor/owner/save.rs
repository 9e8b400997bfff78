//! Turning a transient unit into a saved one while it runs.
//!
//! Owns `daimon save UNIT` and what `daimon run --save/--enable` does when its
//! unit already runs. A user who started `daimon run -- python3 bot.py` and then
//! types the README's next step, `daimon run --name bot --enable -- python3
//! bot.py`, means "keep this one": the file is written and the unit stops being
//! transient, and the process goes on (same PID, same invocation). This is safe
//! because the running definition is kept apart from the file's (`Entry::running`
//! vs `Entry::load`), as after systemd's daemon-reload: new settings apply at the
//! next start. Only a different command is refused, saying what to do.

use std::path::PathBuf;

use daimon_proto::{CatFile, ErrorKind, ErrorReply, JobResult, Response, RunRequest};

use super::Owner;
use crate::persist;
use crate::supervisor::registry::{self, Load};

fn err(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::Error(ErrorReply {
        kind,
        message: message.into(),
    })
}

/// The `ExecStart=` and `WorkingDirectory=` lines of a unit text, which say
/// what runs: two texts that agree on them run the same command.
fn command_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("ExecStart=") || l.starts_with("WorkingDirectory="))
        .collect()
}

fn short(name: &str) -> &str {
    name.strip_suffix(".service").unwrap_or(name)
}

impl Owner {
    /// `daimon run` for a unit that runs already (`name` is not idle).
    pub(in crate::supervisor) fn run_on_running(&mut self, r: &RunRequest, name: &str) -> Response {
        let Some(e) = self.units.get(name) else {
            return err(ErrorKind::Internal, format!("{name} vanished"));
        };
        let pid = e
            .machine
            .main_pid
            .map(|p| format!(" (pid {p})"))
            .unwrap_or_default();
        let s = short(name);
        let save = r.save || r.enable;
        if !save || r.timer.is_some() || r.socket.is_some() {
            return err(
                ErrorKind::Invalid,
                format!(
                    "{name} is already running{pid}; see \"daimon status {s}\", stop it first \
                     (daimon stop {s}) or choose another --name"
                ),
            );
        }
        let current = match &e.transient {
            Some(t) => t.clone(),
            // A saved unit: what its file says now.
            None => e
                .fragment_path()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .unwrap_or_default(),
        };
        if command_lines(&current) != command_lines(&r.unit_text) {
            let running = e
                .def_unit()
                .and_then(|u| u.unit.description.clone())
                .unwrap_or_else(|| "another command".into());
            return err(
                ErrorKind::Invalid,
                format!(
                    "{name} is already running{pid} a different command ({running}); to replace \
                     it: daimon stop {s}, then run again; to keep it: daimon save {s}; or choose \
                     another --name"
                ),
            );
        }
        if e.transient.is_none() && current != r.unit_text {
            let file = e.fragment_path().unwrap_or_default();
            return err(
                ErrorKind::Invalid,
                format!(
                    "{name} is already running{pid} from its unit file {file} with other \
                     settings; edit that file, or stop it first (daimon stop {s})"
                ),
            );
        }
        if let Err(resp) = self.persist_in_place(name, &r.unit_text, r.enable) {
            return resp;
        }
        Response::Jobs(vec![JobResult {
            unit: name.to_string(),
            error: None,
        }])
    }

    /// `daimon save UNIT`: writes a transient unit's file; the unit keeps running.
    pub(in crate::supervisor) fn save(&mut self, typed: &str) -> Response {
        let name = match self.resolve(typed) {
            Ok(n) => n,
            Err(r) => return r,
        };
        let Some(e) = self.units.get(&name) else {
            return err(ErrorKind::NotFound, format!("unit \"{name}\" not found"));
        };
        let Some(text) = e.transient.clone() else {
            let file = e
                .fragment_path()
                .unwrap_or_else(|| self.site.paths().units.join(&name).display().to_string());
            return err(
                ErrorKind::Invalid,
                format!("{name} is not transient: its unit file is {file}"),
            );
        };
        match self.persist_in_place(&name, &text, false) {
            Ok(path) => Response::Cat(vec![CatFile {
                path: path.display().to_string(),
                text,
            }]),
            Err(r) => r,
        }
    }

    /// Writes `text` as `name`'s unit file and makes the unit a saved one (and
    /// an enabled one with `enable`) without touching its run.
    fn persist_in_place(
        &mut self,
        name: &str,
        text: &str,
        enable: bool,
    ) -> Result<PathBuf, Response> {
        let path = self.site.paths().units.join(name);
        let loaded = daimon_unit::parse_unit(name, &path, text.as_bytes(), &[], self.site.spec());
        let load = registry::load_of(loaded);
        if let Load::Bad { error, .. } = &load {
            return Err(err(ErrorKind::Invalid, error.clone()));
        }
        if let Err(e) = std::fs::create_dir_all(&self.site.paths().units)
            .and_then(|()| persist::write_atomic(&path, text.as_bytes(), true))
        {
            return Err(err(
                ErrorKind::Failed,
                format!("cannot write {}: {e}", path.display()),
            ));
        }
        if let Some(e) = self.units.get_mut(name) {
            e.load = load;
            e.transient = None;
            // A no-op while it runs: the run keeps the definition it started with.
            e.refresh_definition();
        }
        persist::remove_transient(&self.site.paths().state, name);
        if enable {
            self.units.set_enabled(name, true);
            if let Err(e) = persist::save_enabled(&self.site.paths().state, self.units.enabled()) {
                return Err(err(
                    ErrorKind::Failed,
                    format!("cannot save the enabled units: {e}"),
                ));
            }
        }
        tracing::info!("{name}: saved as {}", path.display());
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_is_what_execstart_and_workingdirectory_say() {
        let a = "[Unit]\nDescription=x\n\n[Service]\nExecStart=/usr/bin/python3 bot.py\nWorkingDirectory=/srv\nRestart=always\n";
        let b = a.replace("Restart=always", "Restart=on-failure");
        assert_eq!(command_lines(a), command_lines(&b));
        let c = a.replace("bot.py", "other.py");
        assert_ne!(command_lines(a), command_lines(&c));
        let d = a.replace("/srv", "/home");
        assert_ne!(command_lines(a), command_lines(&d));
    }
}
