//! `daimon startup`: make daimond itself start at boot, the way this machine can.
//!
//! Owns choosing the init system (`detect`), writing and removing the entry (a
//! systemd unit in `units`, a crontab line in `crontab`), and the line `status`
//! prints about it. `--print` (the default) only reads; `--install` and
//! `--uninstall` are idempotent and say what they changed and how to undo it.
//!
//! Test hooks (not for users): `DAIMON_STARTUP_UNIT_DIR` puts the unit and its
//! `.wants` link in that directory instead of systemd's (and then systemctl is not
//! told), `DAIMON_STARTUP_CRONTAB` stands a file for the crontab.

mod crontab;
mod detect;
mod units;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::error::{CliError, CliResult};
use crontab::Crontab;
use detect::Machine;
use units::Manager;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Init {
    /// systemd system unit as root, systemd user unit otherwise, cron without systemd.
    Auto,
    /// A system unit run by PID 1 (needs root).
    Systemd,
    /// A unit of your `systemd --user` manager.
    SystemdUser,
    /// An `@reboot` line in your crontab.
    Cron,
}

#[derive(Debug, Args)]
pub struct StartupArgs {
    /// Show what would be installed and where, changing nothing (the default).
    #[arg(long, conflicts_with_all = ["install", "uninstall"])]
    pub print: bool,
    /// Install the entry (again: nothing changes if it is there).
    #[arg(long, conflicts_with = "uninstall")]
    pub install: bool,
    /// Remove the entry that --install wrote, and nothing else.
    #[arg(long)]
    pub uninstall: bool,
    /// Which init system starts daimond.
    #[arg(long, value_enum, default_value = "auto")]
    pub init: Init,
}

/// The entry for this machine, caller and home.
enum Entry {
    Unit {
        manager: Manager,
        dir: PathBuf,
        /// systemd is to be told (`daemon-reload`): false for a scratch directory.
        tell_systemd: bool,
    },
    Cron(Crontab),
}

pub fn run(args: &StartupArgs) -> CliResult {
    let machine = Machine::detect();
    let home = daimon_home();
    let daimond = daimond_path()?;
    let entry = choose(args.init, &machine)?;
    let mut out = String::new();
    let home = home.as_deref();
    if args.install {
        install(&mut out, &entry, &machine, &daimond, home)?;
    } else if args.uninstall {
        uninstall(&mut out, &entry, home)?;
    } else {
        print_plan(&mut out, &entry, &machine, &daimond, home)?;
    }
    print!("{out}");
    Ok(0)
}

fn choose(init: Init, m: &Machine) -> Result<Entry, CliError> {
    let scratch = std::env::var_os("DAIMON_STARTUP_UNIT_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let init = match init {
        Init::Auto => detect::auto(m),
        other => other,
    };
    let unit = |manager: Manager, default: PathBuf| match &scratch {
        Some(d) => Entry::Unit {
            manager,
            dir: d.clone(),
            tell_systemd: false,
        },
        None => Entry::Unit {
            manager,
            dir: default,
            tell_systemd: m.systemd,
        },
    };
    Ok(match init {
        Init::Systemd => {
            if !m.root && scratch.is_none() {
                return Err(CliError::fail(
                    "a system unit needs root: run \"sudo daimon startup --init systemd\", or use --init systemd-user",
                ));
            }
            unit(Manager::System, PathBuf::from("/etc/systemd/system"))
        }
        Init::SystemdUser => unit(Manager::User, detect::user_unit_dir()),
        Init::Cron | Init::Auto => Entry::Cron(Crontab::from_env()),
    })
}

fn unit_paths(manager: Manager, dir: &Path) -> (PathBuf, PathBuf) {
    let file = dir.join(units::UNIT_NAME);
    let link = dir
        .join(format!("{}.wants", manager.wanted_by()))
        .join(units::UNIT_NAME);
    (file, link)
}

fn what(manager: Manager) -> &'static str {
    match manager {
        Manager::System => "systemd system unit",
        Manager::User => "systemd user unit",
    }
}

fn systemctl(manager: Manager) -> &'static str {
    match manager {
        Manager::System => "systemctl",
        Manager::User => "systemctl --user",
    }
}

fn print_plan(
    out: &mut String,
    entry: &Entry,
    m: &Machine,
    daimond: &Path,
    home: Option<&Path>,
) -> Result<(), CliError> {
    match entry {
        Entry::Unit { manager, dir, .. } => {
            let (file, link) = unit_paths(*manager, dir);
            let text = units::unit_text(*manager, daimond, home);
            let installed = std::fs::read_to_string(&file).ok().as_deref() == Some(text.as_str())
                && link.symlink_metadata().is_ok();
            let _ = writeln!(
                out,
                "{} {}, enabled by the link {}:\n",
                if installed {
                    format!("Installed: a {}", what(*manager))
                } else {
                    format!("Would install a {}", what(*manager))
                },
                file.display(),
                link.display()
            );
            out.push_str(&text);
            out.push('\n');
            if *manager == Manager::User {
                linger_note(out, m);
            }
        }
        Entry::Cron(tab) => {
            let line = crontab::line(daimond, home);
            // Printing must work where cron is missing: say so, with the line.
            let (table, problem) = match tab.read() {
                Ok(t) => (t, None),
                Err(e) => (String::new(), Some(e.message)),
            };
            let installed = crontab::find(&table, home).as_deref() == Some(line.as_str());
            let _ = writeln!(
                out,
                "{} {}:\n\n{line}\n",
                if installed {
                    "Installed: this line in"
                } else {
                    "Would add this line to"
                },
                tab.describe()
            );
            if let Some(p) = problem {
                let _ = writeln!(out, "Note: {p}");
            }
            runtime_note(out, m, home);
        }
    }
    out.push_str("Nothing was changed. Install it with: daimon startup --install\n");
    Ok(())
}

fn install(
    out: &mut String,
    entry: &Entry,
    m: &Machine,
    daimond: &Path,
    home: Option<&Path>,
) -> Result<(), CliError> {
    match entry {
        Entry::Unit {
            manager,
            dir,
            tell_systemd,
        } => {
            let (file, link) = unit_paths(*manager, dir);
            let text = units::unit_text(*manager, daimond, home);
            let old = std::fs::read_to_string(&file).ok();
            if let Some(old) = &old
                && !old.starts_with(units::MARKER)
            {
                return Err(CliError::fail(format!(
                    "{} exists and was not written by daimon startup; move it away first",
                    file.display()
                )));
            }
            let mut changed = false;
            if old.as_deref() != Some(text.as_str()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| CliError::fail(format!("creating {}: {e}", dir.display())))?;
                write_file(&file, &text)?;
                let verb = if old.is_some() { "Updated" } else { "Wrote" };
                let _ = writeln!(out, "{verb} {}.", file.display());
                changed = true;
            }
            if std::fs::read_link(&link).ok().as_deref() != Some(file.as_path()) {
                if let Some(parent) = link.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        CliError::fail(format!("creating {}: {e}", parent.display()))
                    })?;
                }
                let _ = std::fs::remove_file(&link);
                std::os::unix::fs::symlink(&file, &link).map_err(|e| {
                    CliError::fail(format!("enabling: linking {}: {e}", link.display()))
                })?;
                // What `systemctl enable` does for WantedBy= (systemctl(1), "enable").
                let _ = writeln!(out, "Enabled it: {} -> {}.", link.display(), file.display());
                changed = true;
            }
            if !changed {
                let _ = writeln!(
                    out,
                    "Already installed: {} (enabled). Nothing changed.",
                    file.display()
                );
            } else if *tell_systemd {
                reload_systemd(out, *manager);
            }
            let _ = writeln!(
                out,
                "At boot, systemd starts daimond ({}), which starts your enabled units.",
                manager.wanted_by()
            );
            if *manager == Manager::User {
                linger_note(out, m);
            }
            let _ = writeln!(
                out,
                "daimond keeps running as it is now; to hand it to systemd at once: daimon shutdown && {} start daimond",
                systemctl(*manager)
            );
        }
        Entry::Cron(tab) => {
            let line = crontab::line(daimond, home);
            let table = tab.read()?;
            match crontab::with_line(&table, &line, home) {
                None => {
                    let _ = writeln!(out, "Already installed in {}: {line}", tab.describe());
                    let _ = writeln!(out, "Nothing changed.");
                }
                Some(new) => {
                    tab.write(&new)?;
                    let _ = writeln!(out, "Added to {}: {line}", tab.describe());
                }
            }
            let _ = writeln!(
                out,
                "At boot, cron runs daimond, which starts your enabled units."
            );
            runtime_note(out, m, home);
        }
    }
    out.push_str("Undo with: daimon startup --uninstall\n");
    Ok(())
}

fn uninstall(out: &mut String, entry: &Entry, home: Option<&Path>) -> Result<(), CliError> {
    match entry {
        Entry::Unit {
            manager,
            dir,
            tell_systemd,
        } => {
            let (file, link) = unit_paths(*manager, dir);
            let mut changed = false;
            if std::fs::read_link(&link).ok().as_deref() == Some(file.as_path()) {
                std::fs::remove_file(&link)
                    .map_err(|e| CliError::fail(format!("removing {}: {e}", link.display())))?;
                let _ = writeln!(out, "Removed {}.", link.display());
                changed = true;
            }
            match std::fs::read_to_string(&file) {
                Ok(t) if t.starts_with(units::MARKER) => {
                    std::fs::remove_file(&file)
                        .map_err(|e| CliError::fail(format!("removing {}: {e}", file.display())))?;
                    let _ = writeln!(out, "Removed {}.", file.display());
                    changed = true;
                }
                Ok(_) => {
                    let _ = writeln!(
                        out,
                        "Left {}: it was not written by daimon startup.",
                        file.display()
                    );
                }
                Err(_) => {}
            }
            if !changed {
                let _ = writeln!(
                    out,
                    "Not installed: no {} at {}. Nothing changed.",
                    what(*manager),
                    file.display()
                );
            } else {
                if *tell_systemd {
                    reload_systemd(out, *manager);
                }
                let _ = writeln!(
                    out,
                    "daimond no longer starts at boot (a running daimond keeps running)."
                );
            }
        }
        Entry::Cron(tab) => {
            let table = tab.read()?;
            match crontab::without_line(&table, home) {
                None => {
                    let _ = writeln!(
                        out,
                        "Not installed: no daimon startup line in {}. Nothing changed.",
                        tab.describe()
                    );
                }
                Some(new) => {
                    tab.write(&new)?;
                    let _ = writeln!(
                        out,
                        "Removed the daimon startup line from {}; daimond no longer starts at boot.",
                        tab.describe()
                    );
                }
            }
        }
    }
    Ok(())
}

/// `systemctl daemon-reload`, so systemd sees the change now; a failure is
/// reported, not fatal: the files are in place for the next boot.
fn reload_systemd(out: &mut String, manager: Manager) {
    let mut cmd = std::process::Command::new("systemctl");
    if manager == Manager::User {
        cmd.arg("--user");
    }
    let res = cmd
        .arg("daemon-reload")
        .stdin(std::process::Stdio::null())
        .output();
    match res {
        Ok(o) if o.status.success() => {
            let _ = writeln!(out, "Ran: {} daemon-reload.", systemctl(manager));
        }
        Ok(o) => {
            let _ = writeln!(
                out,
                "Note: \"{} daemon-reload\" failed ({}); systemd reads the unit at the next boot.",
                systemctl(manager),
                String::from_utf8_lossy(&o.stderr).trim()
            );
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "Note: cannot run systemctl ({e}); systemd reads the unit at the next boot."
            );
        }
    }
}

/// Lingering decides whether a user manager runs at boot (loginctl(1),
/// "enable-linger"): say which it is, and the exact command.
fn linger_note(out: &mut String, m: &Machine) {
    let user = &m.user;
    let file = Path::new("/var/lib/systemd/linger").join(user);
    if file.exists() {
        let _ = writeln!(
            out,
            "Lingering is on for {user} ({}): your user manager, and daimond with it, starts at boot.",
            file.display()
        );
    } else {
        let _ = writeln!(
            out,
            "Lingering is off for {user}: without it your user manager, and daimond with it, \
             starts only when you log in, not at boot. Turn it on with: sudo loginctl enable-linger {user}"
        );
    }
}

/// cron gives daimond no `XDG_RUNTIME_DIR`, so it keeps its socket in
/// `/tmp/daimon-UID`; a session that sets one (pam_systemd) looks elsewhere
/// and would start a second daimond. Say so rather than let it happen.
fn runtime_note(out: &mut String, m: &Machine, home: Option<&Path>) {
    if m.root || home.is_some() {
        return;
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        let _ = writeln!(
            out,
            "Note: your session sets XDG_RUNTIME_DIR={}, which cron does not: the daimond cron \
             starts keeps its socket in /tmp/daimon-UID, where daimon in such a session does not \
             look. Prefer --init systemd-user here, or set DAIMON_HOME for both.",
            Path::new(&dir).display()
        );
    }
}

fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::fail(format!("writing {}: {e}", path.display()))
    })
}

/// `DAIMON_HOME`, absolute, when set: the entry must start the same home.
fn daimon_home() -> Option<PathBuf> {
    let h = PathBuf::from(std::env::var_os("DAIMON_HOME").filter(|v| !v.is_empty())?);
    if h.is_absolute() {
        return Some(h);
    }
    std::env::current_dir().ok().map(|d| d.join(h))
}

/// The absolute path of the daimond that the CLI would start.
fn daimond_path() -> Result<PathBuf, CliError> {
    let bin = crate::client::daemon_binary();
    if bin.is_absolute() {
        return Ok(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(&bin))
        .find(|p| p.is_file() && p.is_absolute())
        .ok_or_else(|| {
            CliError::fail("cannot find daimond next to daimon or in PATH; install it first")
        })
}

/// For `daimon status`: the entry that starts daimond (this home) at boot, or
/// how to add one. Reads only.
pub fn boot_line() -> String {
    let home = daimon_home();
    let home = home.as_deref();
    let scratch = std::env::var_os("DAIMON_STARTUP_UNIT_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let dirs = match scratch {
        Some(d) => vec![(Manager::System, d.clone()), (Manager::User, d)],
        None => vec![
            (Manager::System, PathBuf::from("/etc/systemd/system")),
            (Manager::User, detect::user_unit_dir()),
        ],
    };
    for (manager, dir) in dirs {
        let (file, link) = unit_paths(manager, &dir);
        if link.exists() && std::fs::read_to_string(&file).is_ok_and(|t| unit_is_ours(&t, home)) {
            return format!("Starts at boot: {} {}", what(manager), file.display());
        }
    }
    let tab = Crontab::from_env();
    let desc = tab.describe();
    if let Ok(t) = tab.read()
        && let Some(l) = crontab::find(&t, home)
    {
        return format!("Starts at boot: {desc}: {l}");
    }
    "Does not start at boot: daimon startup shows how".to_string()
}

/// Whether a unit text we wrote is for this home.
fn unit_is_ours(text: &str, home: Option<&Path>) -> bool {
    if !text.starts_with(units::MARKER) {
        return false;
    }
    let env = text
        .lines()
        .find(|l| l.starts_with("Environment=") && l.contains("DAIMON_HOME="));
    match (home, env) {
        (None, None) => true,
        (Some(h), Some(l)) => {
            let l = l.trim_end_matches('"');
            l.ends_with(&format!(
                "DAIMON_HOME={}",
                h.to_string_lossy().replace('%', "%%")
            ))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_is_recognised_for_its_own_home_only() {
        let d = Path::new("/usr/bin/daimond");
        let plain = units::unit_text(Manager::User, d, None);
        let homed = units::unit_text(Manager::User, d, Some(Path::new("/srv/a b")));
        assert!(unit_is_ours(&plain, None));
        assert!(!unit_is_ours(&plain, Some(Path::new("/srv/a b"))));
        assert!(unit_is_ours(&homed, Some(Path::new("/srv/a b"))));
        assert!(!unit_is_ours(&homed, Some(Path::new("/srv/a"))));
        assert!(!unit_is_ours("[Unit]\n", None));
    }
}
