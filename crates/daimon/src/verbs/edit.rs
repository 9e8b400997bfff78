//! `edit UNIT [--full]`: change a unit's settings in an editor, as
//! `systemctl edit` does.
//!
//! The text is edited in a private temporary file with `$VISUAL`, else
//! `$EDITOR`, else `vi`. By default it is the drop-in
//! `units/NAME.d/override.conf` (systemd.unit(5): its settings override the
//! unit file's); with `--full`, the unit file itself. Nothing is written when
//! the text did not change, or when the unit with the new text has errors:
//! then each error is printed as `file:line:col` of the temporary file, which
//! is kept and named so no edit is lost. Otherwise the file is replaced
//! atomically and the daemon re-reads unit files; running units take the new
//! settings at their next start, as after `systemctl daemon-reload`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use daimon_proto::{Paths, Request, Response, unit_name};

use super::args::EditArgs;
use super::states;
use crate::client::{JOBS, unexpected};
use crate::commands::{connect, report_jobs};
use crate::error::{CliError, CliResult};

/// What a new drop-in starts as; only comments, so saving it untouched
/// changes nothing.
fn dropin_template(name: &str, fragment: &Path) -> String {
    format!(
        "# Drop-in for {name}: settings here override those of\n\
         # {}. A list setting (ExecStart=, Environment=...) is\n\
         # emptied by an empty assignment first, e.g.:\n\
         #   [Service]\n\
         #   ExecStart=\n\
         #   ExecStart=/usr/bin/new-command --flag\n\
         # Save an unchanged (or comment-only) file to cancel.\n",
        fragment.display()
    )
}

fn only_comments(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t.starts_with(';')
    })
}

pub fn edit(paths: &Paths, a: &EditArgs) -> CliResult {
    let name = unit_name(&a.unit);
    let unit = daimon_unit::UnitName::parse(&name)
        .map_err(|e| CliError::fail(format!("cannot edit \"{}\": {e}", a.unit)))?;
    let files = match daimon_unit::cat_unit(&paths.units, &name) {
        Ok(f) => f,
        Err(daimon_unit::LoadError::NotFound { .. }) => return Err(no_file(paths, &name)),
        Err(e) => return Err(CliError::fail(format!("cannot edit {name}: {e}"))),
    };
    let Some((fragment, fragment_text)) = files.first().cloned() else {
        return Err(no_file(paths, &name));
    };
    let target = if a.full {
        fragment.clone()
    } else {
        paths.units.join(format!("{name}.d")).join("override.conf")
    };
    let before = match fs::read_to_string(&target) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(CliError::fail(format!(
                "cannot read {}: {e}",
                target.display()
            )));
        }
    };
    let initial = before
        .clone()
        .unwrap_or_else(|| dropin_template(&name, &fragment));
    let tmp = temp_copy(&name, &target, &initial)?;
    run_editor(&tmp)?;
    let text = fs::read_to_string(&tmp)
        .map_err(|e| CliError::fail(format!("cannot read {}: {e}", tmp.display())))?;
    if text == initial || (before.is_none() && only_comments(&text)) {
        let _ = fs::remove_file(&tmp);
        println!("No changes to {}; nothing written.", target.display());
        return Ok(0);
    }
    let ctx = daimon_unit::SpecifierContext::from_env(paths.system_mode);
    let loaded = if a.full {
        let dropins = read_all(&files[1..]);
        daimon_unit::parse_unit(&name, &tmp, text.as_bytes(), &dropins, &ctx)
    } else {
        let dropins = dropins_with(&unit, paths, &target, &tmp, &text);
        daimon_unit::parse_unit(&name, &fragment, fragment_text.as_bytes(), &dropins, &ctx)
    };
    for d in &loaded.diagnostics {
        eprintln!("{}", crate::render_diagnostic(d));
    }
    if loaded.has_errors() {
        return Err(CliError::fail(format!(
            "{} not saved: {name} would have the errors above; your text is kept in {}",
            target.display(),
            tmp.display()
        )));
    }
    write_in_place(&target, &text)?;
    let _ = fs::remove_file(&tmp);
    println!("Saved {}.", target.display());
    let code = match connect(paths)?.call(&Request::DaemonReload, JOBS)? {
        Response::Done => 0,
        Response::Jobs(r) => report_jobs(&r),
        other => return Err(unexpected(other)),
    };
    // As after systemctl daemon-reload: a running unit keeps its settings.
    let running = states(paths, std::slice::from_ref(&name))
        .ok()
        .flatten()
        .and_then(|s| s.into_iter().next())
        .is_some_and(|s| {
            s.state != daimon_proto::ActiveState::Inactive
                && s.state != daimon_proto::ActiveState::Failed
        });
    if running {
        println!("{name} runs with its previous settings until it next starts.");
    }
    Ok(code)
}

/// Why there is nothing to edit: a transient unit, or no such unit file.
fn no_file(paths: &Paths, name: &str) -> CliError {
    let short = name.strip_suffix(".service").unwrap_or(name);
    let transient = states(paths, &[name.to_string()])
        .ok()
        .flatten()
        .and_then(|s| s.into_iter().next())
        .is_some_and(|s| s.load_state == "transient");
    if transient {
        return CliError::fail(format!(
            "{name} is a transient unit (started by daimon run): it has no file to edit; \
             see its settings with \"daimon cat {short}\" and run it again with \
             \"daimon run --save --name {short} -- COMMAND\" to get a unit file"
        ));
    }
    CliError::new(
        4,
        format!(
            "unit \"{name}\" not found: no file {} (write one there, or use daimon run --save)",
            paths.units.join(name).display()
        ),
    )
}

fn read_all(files: &[(PathBuf, String)]) -> Vec<(PathBuf, Vec<u8>)> {
    files
        .iter()
        .map(|(p, t)| (p.clone(), t.clone().into_bytes()))
        .collect()
}

/// The unit's drop-ins with `target`'s text replaced by the edited one (read
/// from `tmp`, so errors name the file the user has), in systemd's order.
fn dropins_with(
    unit: &daimon_unit::UnitName,
    paths: &Paths,
    target: &Path,
    tmp: &Path,
    text: &str,
) -> Vec<(PathBuf, Vec<u8>)> {
    let mut list: Vec<(String, PathBuf, Vec<u8>)> = daimon_unit::find_dropins(&paths.units, unit)
        .into_iter()
        .filter(|p| p != target && p.file_name() != target.file_name())
        .filter_map(|p| {
            let bytes = fs::read(&p).ok()?;
            let key = p.file_name()?.to_string_lossy().into_owned();
            Some((key, p, bytes))
        })
        .collect();
    let key = target
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    list.push((key, tmp.to_path_buf(), text.as_bytes().to_vec()));
    list.sort_by(|a, b| a.0.cmp(&b.0));
    list.into_iter().map(|(_, p, b)| (p, b)).collect()
}

/// A new private file holding `text`, named after what it edits.
fn temp_copy(name: &str, target: &Path, text: &str) -> CliResult<PathBuf> {
    let file = target
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = std::env::temp_dir();
    for attempt in 0..100 {
        let path = dir.join(format!(
            "daimon-edit-{}-{attempt}-{name}-{file}",
            std::process::id()
        ));
        let opened = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        match opened {
            Ok(mut f) => {
                f.write_all(text.as_bytes())
                    .map_err(|e| CliError::fail(format!("cannot write {}: {e}", path.display())))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(CliError::fail(format!(
                    "cannot create a temporary file in {}: {e}",
                    dir.display()
                )));
            }
        }
    }
    Err(CliError::fail(format!(
        "cannot create a temporary file in {}: too many exist",
        dir.display()
    )))
}

/// `$VISUAL`, else `$EDITOR`, else `vi`, run through `sh` so that a value with
/// arguments (`code --wait`) works, as with git and systemctl.
fn run_editor(file: &Path) -> CliResult<()> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string());
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("daimon-edit")
        .arg(file)
        .status()
        .map_err(|e| CliError::fail(format!("cannot run the editor \"{editor}\": {e}")))?;
    if !status.success() {
        return Err(CliError::fail(format!(
            "the editor \"{editor}\" failed ({status}); nothing written; your text is kept in {}",
            file.display()
        )));
    }
    Ok(())
}

/// Temp file in the same directory, then rename: the daemon never reads a
/// half-written unit.
fn write_in_place(target: &Path, text: &str) -> CliResult<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)
        .map_err(|e| CliError::fail(format!("cannot create {}: {e}", dir.display())))?;
    let file = target
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file}.daimon-edit"));
    fs::write(&tmp, text)
        .and_then(|()| fs::rename(&tmp, target))
        .map_err(|e| {
            let _ = fs::remove_file(&tmp);
            CliError::fail(format!("cannot write {}: {e}", target.display()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_only_text_is_no_drop_in() {
        assert!(only_comments(&dropin_template(
            "web.service",
            Path::new("/u/web.service")
        )));
        assert!(!only_comments("# x\n[Service]\nEnvironment=A=1\n"));
    }
}
