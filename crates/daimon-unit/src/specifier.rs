//! Specifiers (`%n`, `%i`, `%h`, ...), per systemd.unit(5) "SPECIFIERS".
//!
//! Resolution is pure: host and user facts come from a [`SpecifierContext`] the caller
//! builds (tests build one by hand; [`SpecifierContext::from_env`] is the only place that
//! reads the environment and a few well-known files), unit facts from the unit's name and
//! fragment path. An unknown specifier is an error, as in systemd.

use crate::name::{UnitName, unescape, unescape_path};
use std::path::{Path, PathBuf};

/// Host and user facts specifiers resolve to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecifierContext {
    /// `%u`
    pub user_name: String,
    /// `%U`
    pub uid: u32,
    /// `%g`
    pub group_name: String,
    /// `%G`
    pub gid: u32,
    /// `%h`
    pub home: String,
    /// `%s`
    pub shell: String,
    /// `%t` (`/run` for the system manager, `$XDG_RUNTIME_DIR` for a user one)
    pub runtime_dir: String,
    /// `%S`
    pub state_dir: String,
    /// `%C`
    pub cache_dir: String,
    /// `%L`
    pub logs_dir: String,
    /// `%E`
    pub config_dir: String,
    /// `%T`
    pub tmp_dir: String,
    /// `%V`
    pub var_tmp_dir: String,
    /// `%H`
    pub hostname: String,
    /// `%m`
    pub machine_id: String,
    /// `%b`
    pub boot_id: String,
    /// `%v`
    pub kernel_release: String,
    /// `%a`
    pub architecture: String,
    /// `%o`, `%w`, `%B`, `%W`, `%M`, `%A` from os-release
    pub os_id: String,
    pub os_version_id: String,
    pub os_build_id: String,
    pub os_variant_id: String,
    pub os_image_id: String,
    pub os_image_version: String,
    /// `%q`
    pub pretty_hostname: String,
}

impl SpecifierContext {
    /// Facts of the current process: environment variables (HOME, USER, SHELL, XDG_*,
    /// TMPDIR), `/etc/passwd`-free fallbacks, and host files (`/etc/hostname`,
    /// `/etc/machine-id`, `/proc/sys/kernel/...`, `/etc/os-release`). `system` selects the
    /// system-manager directories (`/run`, `/var/lib`, ...) instead of the XDG ones.
    pub fn from_env(system: bool) -> SpecifierContext {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        #[cfg(unix)]
        let (uid, gid) = {
            use std::os::unix::fs::MetadataExt;
            // The owner of our own /proc entry is our effective uid/gid; HOME's owner is
            // a reasonable fallback where /proc does not exist.
            std::fs::metadata("/proc/self")
                .or_else(|_| std::fs::metadata(env("HOME").unwrap_or_else(|| "/".into())))
                .map(|m| (m.uid(), m.gid()))
                .unwrap_or((0, 0))
        };
        #[cfg(not(unix))]
        let (uid, gid) = (0, 0);
        let home =
            env("HOME").unwrap_or_else(|| if uid == 0 { "/root".into() } else { "/".into() });
        let user_name = env("USER").or_else(|| env("LOGNAME")).unwrap_or_else(|| {
            if uid == 0 {
                "root".into()
            } else {
                uid.to_string()
            }
        });
        let group_name = group_name_of(gid, &read("/etc/group")).unwrap_or_else(|| gid.to_string());
        let xdg = |k: &str, rel: &str| env(k).unwrap_or_else(|| format!("{home}/{rel}"));
        // systemd.unit(5): system managers use the FHS directories, user managers the
        // XDG base directories (%S and %L under $XDG_STATE_HOME as systemd >= 254).
        let (runtime_dir, state_dir, cache_dir, logs_dir, config_dir) = if system {
            (
                "/run".into(),
                "/var/lib".into(),
                "/var/cache".into(),
                "/var/log".into(),
                "/etc".into(),
            )
        } else {
            let state = xdg("XDG_STATE_HOME", ".local/state");
            (
                env("XDG_RUNTIME_DIR").unwrap_or_else(|| format!("/tmp/daimon-{uid}")),
                state.clone(),
                xdg("XDG_CACHE_HOME", ".cache"),
                format!("{state}/log"),
                xdg("XDG_CONFIG_HOME", ".config"),
            )
        };
        let os = read("/etc/os-release");
        let os_field = |k: &str| {
            os.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
                .map(|v| v.trim_matches(['"', '\'']).to_string())
                .unwrap_or_default()
        };
        let hostname = {
            let h = read("/proc/sys/kernel/hostname");
            if h.is_empty() {
                read("/etc/hostname")
            } else {
                h
            }
        };
        SpecifierContext {
            user_name,
            uid,
            group_name,
            gid,
            home,
            shell: env("SHELL").unwrap_or_else(|| "/bin/sh".into()),
            runtime_dir,
            state_dir,
            cache_dir,
            logs_dir,
            config_dir,
            tmp_dir: env("TMPDIR").unwrap_or_else(|| "/tmp".into()),
            var_tmp_dir: env("TMPDIR").unwrap_or_else(|| "/var/tmp".into()),
            pretty_hostname: hostname.clone(),
            hostname,
            machine_id: read("/etc/machine-id"),
            boot_id: read("/proc/sys/kernel/random/boot_id").replace('-', ""),
            kernel_release: read("/proc/sys/kernel/osrelease"),
            architecture: std::env::consts::ARCH.replace('_', "-"),
            os_id: os_field("ID"),
            os_version_id: os_field("VERSION_ID"),
            os_build_id: os_field("BUILD_ID"),
            os_variant_id: os_field("VARIANT_ID"),
            os_image_id: os_field("IMAGE_ID"),
            os_image_version: os_field("IMAGE_VERSION"),
        }
    }

    /// A fixed context for tests and for `verify` runs that must not depend on the host.
    pub fn example() -> SpecifierContext {
        SpecifierContext {
            user_name: "user".into(),
            uid: 1000,
            group_name: "user".into(),
            gid: 1000,
            home: "/home/user".into(),
            shell: "/bin/sh".into(),
            runtime_dir: "/run/user/1000".into(),
            state_dir: "/home/user/.local/state".into(),
            cache_dir: "/home/user/.cache".into(),
            logs_dir: "/home/user/.local/state/log".into(),
            config_dir: "/home/user/.config".into(),
            tmp_dir: "/tmp".into(),
            var_tmp_dir: "/var/tmp".into(),
            hostname: "host.example".into(),
            machine_id: "0123456789abcdef0123456789abcdef".into(),
            boot_id: "fedcba9876543210fedcba9876543210".into(),
            kernel_release: "6.1.0".into(),
            architecture: "x86-64".into(),
            os_id: "debian".into(),
            os_version_id: "12".into(),
            ..SpecifierContext::default()
        }
    }
}

fn group_name_of(gid: u32, etc_group: &str) -> Option<String> {
    etc_group.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (id == gid).then(|| name.to_string())
    })
}

/// Everything needed to resolve specifiers for one unit.
pub(crate) struct Resolver<'a> {
    pub ctx: &'a SpecifierContext,
    pub name: &'a UnitName,
    pub fragment: &'a Path,
}

/// An unknown `%x` or a trailing `%`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecifierError(pub String);

impl Resolver<'_> {
    /// Replace every specifier in `s`.
    pub fn expand(&self, s: &str) -> Result<String, SpecifierError> {
        if !s.contains('%') {
            return Ok(s.to_string());
        }
        let mut out = String::with_capacity(s.len() + 16);
        let mut it = s.chars();
        while let Some(c) = it.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let Some(spec) = it.next() else {
                return Err(SpecifierError(format!(
                    "{s:?} ends with a lone '%'; expected a specifier such as %n, or %% for a literal %"
                )));
            };
            self.push(spec, &mut out).map_err(|()| {
                SpecifierError(format!(
                    "%{spec} in {s:?} is not a known specifier; expected e.g. %n, %i, %h, or %% for a literal %"
                ))
            })?;
        }
        Ok(out)
    }

    fn push(&self, spec: char, out: &mut String) -> Result<(), ()> {
        let c = self.ctx;
        let n = self.name;
        let prefix = n.prefix();
        let instance = n.instance().unwrap_or("");
        // %j: the part of the prefix after the last dash.
        let last = prefix.rsplit('-').next().unwrap_or(prefix);
        match spec {
            '%' => out.push('%'),
            'n' => out.push_str(n.as_str()),
            'N' => out.push_str(n.without_suffix()),
            'p' => out.push_str(prefix),
            'P' => out.push_str(&unescape(prefix)),
            'i' => out.push_str(instance),
            'I' => out.push_str(&unescape(instance)),
            'f' => out.push_str(&unescape_path(if instance.is_empty() {
                prefix
            } else {
                instance
            })),
            'j' => out.push_str(last),
            'J' => out.push_str(&unescape(last)),
            'y' => out.push_str(&self.fragment.to_string_lossy()),
            'Y' => out.push_str(
                &self
                    .fragment
                    .parent()
                    .map(PathBuf::from)
                    .unwrap_or_default()
                    .to_string_lossy(),
            ),
            'h' => out.push_str(&c.home),
            'u' => out.push_str(&c.user_name),
            'U' => out.push_str(&c.uid.to_string()),
            'g' => out.push_str(&c.group_name),
            'G' => out.push_str(&c.gid.to_string()),
            's' => out.push_str(&c.shell),
            't' => out.push_str(&c.runtime_dir),
            'S' => out.push_str(&c.state_dir),
            'C' => out.push_str(&c.cache_dir),
            'L' => out.push_str(&c.logs_dir),
            'E' => out.push_str(&c.config_dir),
            'T' => out.push_str(&c.tmp_dir),
            'V' => out.push_str(&c.var_tmp_dir),
            'd' => {
                out.push_str(&c.runtime_dir);
                out.push_str("/credentials/");
                out.push_str(n.as_str());
            }
            'H' => out.push_str(&c.hostname),
            'l' => out.push_str(c.hostname.split('.').next().unwrap_or("")),
            'q' => out.push_str(&c.pretty_hostname),
            'm' => out.push_str(&c.machine_id),
            'b' => out.push_str(&c.boot_id),
            'v' => out.push_str(&c.kernel_release),
            'a' => out.push_str(&c.architecture),
            'o' => out.push_str(&c.os_id),
            'w' => out.push_str(&c.os_version_id),
            'B' => out.push_str(&c.os_build_id),
            'W' => out.push_str(&c.os_variant_id),
            'M' => out.push_str(&c.os_image_id),
            'A' => out.push_str(&c.os_image_version),
            _ => return Err(()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(unit: &str, s: &str) -> Result<String, SpecifierError> {
        let ctx = SpecifierContext::example();
        let name = UnitName::parse(unit).unwrap();
        Resolver {
            ctx: &ctx,
            name: &name,
            fragment: Path::new("/u/x@.service"),
        }
        .expand(s)
    }

    #[test]
    fn unit_specifiers() {
        let e = exp("foo-bar@home-user.service", "%n|%N|%p|%P|%i|%I|%f|%j|%J|%%").unwrap();
        assert_eq!(
            e,
            "foo-bar@home-user.service|foo-bar@home-user|foo-bar|foo/bar|home-user|home/user|/home/user|bar|bar|%"
        );
        assert_eq!(
            exp("a.service", "%h %u %U %t %S %C %L %E %T %V").unwrap(),
            "/home/user user 1000 /run/user/1000 /home/user/.local/state /home/user/.cache /home/user/.local/state/log /home/user/.config /tmp /var/tmp"
        );
        assert_eq!(
            exp("a.service", "%H %l %y %Y").unwrap(),
            "host.example host /u/x@.service /u"
        );
    }

    #[test]
    fn failures() {
        assert_eq!(
            exp("a.service", "x%Z").unwrap_err().0,
            "%Z in \"x%Z\" is not a known specifier; expected e.g. %n, %i, %h, or %% for a literal %"
        );
        assert_eq!(
            exp("a.service", "50%").unwrap_err().0,
            "\"50%\" ends with a lone '%'; expected a specifier such as %n, or %% for a literal %"
        );
    }
}
