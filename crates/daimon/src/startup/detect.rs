//! What this machine offers to start daimond at boot.
//!
//! Owns the facts `auto` decides by: whether systemd is the running init
//! (sd_booted(3): `/run/systemd/system` exists), whether we are root, and who
//! the user is (for lingering, loginctl(1)).

use std::path::PathBuf;

use super::Init;

pub struct Machine {
    pub systemd: bool,
    pub root: bool,
    pub user: String,
}

impl Machine {
    pub fn detect() -> Machine {
        let uid = daimon_proto::paths::effective_uid();
        Machine {
            systemd: std::path::Path::new("/run/systemd/system").is_dir(),
            root: uid == 0,
            user: user_name(uid),
        }
    }
}

/// The best entry: PID 1's own units as root, the user's manager for a user,
/// cron where systemd does not run (containers, WSL without systemd, old boxes).
pub fn auto(m: &Machine) -> Init {
    match (m.systemd, m.root) {
        (true, true) => Init::Systemd,
        (true, false) => Init::SystemdUser,
        (false, _) => Init::Cron,
    }
}

/// Where `systemd --user` reads the user's own units (systemd.unit(5), "Unit
/// File Load Path": `$XDG_CONFIG_HOME/systemd/user`).
pub fn user_unit_dir() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("XDG_CONFIG_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".config")))
        .unwrap_or_else(|| PathBuf::from("/"))
        .join("systemd/user")
}

/// The login name of `uid`: from /etc/passwd, else `$USER`.
fn user_name(uid: u32) -> String {
    let from_passwd = std::fs::read_to_string("/etc/passwd").ok().and_then(|t| {
        t.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id: u32 = f.nth(1)?.parse().ok()?;
            (id == uid).then(|| name.to_string())
        })
    });
    from_passwd
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| uid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(systemd: bool, root: bool) -> Machine {
        Machine {
            systemd,
            root,
            user: "u".into(),
        }
    }

    #[test]
    fn auto_picks_by_init_and_caller() {
        assert_eq!(auto(&m(true, true)), Init::Systemd);
        assert_eq!(auto(&m(true, false)), Init::SystemdUser);
        assert_eq!(auto(&m(false, true)), Init::Cron);
        assert_eq!(auto(&m(false, false)), Init::Cron);
    }

    #[test]
    fn the_current_user_has_a_name() {
        assert!(!user_name(daimon_proto::paths::effective_uid()).is_empty());
    }
}
