//! The systemd units that start daimond at boot: a system unit (root) or a
//! `systemd --user` unit.
//!
//! Pure text: what the unit says and why, with no file or process touched.
//! Both run `daimond --foreground` as `Type=notify`: daimond sends `READY=1`
//! once its socket accepts connections (sd_notify(3)), so units ordered after
//! daimond.service find it answering.

use std::path::Path;

/// The first line of every unit we write: `--uninstall` removes a file only
/// when it starts with it, and `status` recognises the entry by it.
pub const MARKER: &str =
    "# Written by `daimon startup --install`; `daimon startup --uninstall` removes it.";

/// The unit's file name.
pub const UNIT_NAME: &str = "daimond.service";

/// Which manager runs the unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    /// The system manager (PID 1): the unit lives in /etc/systemd/system.
    System,
    /// The user's manager (`systemd --user`), which runs at boot only with lingering.
    User,
}

impl Manager {
    /// The target whose start pulls the unit in at boot (systemd.special(7)).
    pub fn wanted_by(self) -> &'static str {
        match self {
            Manager::System => "multi-user.target",
            Manager::User => "default.target",
        }
    }
}

/// The unit text for `daimond` at `daimond` (an absolute path), with
/// `DAIMON_HOME=home` in its environment when one is set.
pub fn unit_text(manager: Manager, daimond: &Path, home: Option<&Path>) -> String {
    let mut t = String::new();
    t.push_str(MARKER);
    t.push('\n');
    t.push_str(
        "#
# Restarting this unit keeps every service running: systemd signals daimond alone
# (KillMode=process), with SIGUSR2, on which daimond hands over: it saves its state
# and exits, leaving its services and the holder of their log pipes
# (daimond-fdstore) running. The next daimond re-adopts them with their PIDs,
# pipes, timers and restart counters, as it does after a crash. KillMode=control-group
# (the default) or mixed would kill every service on each restart.
# To stop every service: daimon shutdown.

",
    );
    t.push_str("[Unit]\nDescription=daimon service manager (daimond)\n");
    if manager == Manager::System {
        // Services often need the network; network.target is what pm2's and
        // most daemons' units order after (systemd.special(7)).
        t.push_str("After=network.target\n");
    }
    t.push_str("\n[Service]\nType=notify\nNotifyAccess=main\n");
    t.push_str(&format!(
        "ExecStart={} --foreground\n",
        exec_quote(&daimond.to_string_lossy())
    ));
    if let Some(home) = home {
        t.push_str(&format!(
            "Environment={}\n",
            env_quote(&format!("DAIMON_HOME={}", home.to_string_lossy()))
        ));
    }
    t.push_str(
        "KillMode=process
KillSignal=SIGUSR2
# A crash of daimond itself: start it again; its services kept running.
Restart=on-failure
RestartSec=1s
",
    );
    t.push_str(&format!("\n[Install]\nWantedBy={}\n", manager.wanted_by()));
    t
}

/// A word of `ExecStart=`: quoted when it holds a space, a quote or a
/// backslash; `%` doubled, `$` doubled (systemd.service(5), "Command lines";
/// systemd.unit(5), "Specifiers").
fn exec_quote(word: &str) -> String {
    let escaped = word.replace('%', "%%").replace('$', "$$");
    if escaped
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'))
    {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        escaped
    }
}

/// One `Environment=` assignment, quoted as a whole when needed; `%` doubled.
fn env_quote(assignment: &str) -> String {
    let escaped = assignment.replace('%', "%%");
    if escaped
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '"' | '\\'))
    {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_unit_runs_the_daemon_in_the_foreground_as_notify() {
        let t = unit_text(Manager::System, Path::new("/usr/bin/daimond"), None);
        assert!(t.starts_with(MARKER));
        assert!(t.contains("\nType=notify\n"));
        assert!(t.contains("\nExecStart=/usr/bin/daimond --foreground\n"));
        assert!(t.contains("\nKillMode=process\n"));
        assert!(t.contains("\nWantedBy=multi-user.target\n"));
        assert!(!t.contains("Environment="));
    }

    #[test]
    fn user_unit_carries_the_home_and_wants_default_target() {
        let t = unit_text(
            Manager::User,
            Path::new("/home/u/.cargo/bin/daimond"),
            Some(Path::new("/srv/my home")),
        );
        assert!(t.contains("\nEnvironment=\"DAIMON_HOME=/srv/my home\"\n"));
        assert!(t.contains("\nWantedBy=default.target\n"));
        assert!(!t.contains("After=network.target"));
    }

    #[test]
    fn odd_paths_are_quoted_and_specifiers_escaped() {
        assert_eq!(exec_quote("/opt/a b/daimond"), "\"/opt/a b/daimond\"");
        assert_eq!(exec_quote("/opt/100%/d"), "/opt/100%%/d");
        assert_eq!(exec_quote("/opt/$x/d"), "/opt/$$x/d");
        assert_eq!(env_quote("DAIMON_HOME=/a%b"), "DAIMON_HOME=/a%%b");
    }
}
