//! daimond's own settings: `daimond.conf` in the config directory (beside
//! `units/`: `$XDG_CONFIG_HOME/daimon/`, `/etc/daimon/` as root, or
//! `DAIMON_HOME/`).
//!
//! Owns: reading that file and turning its `[Journal]` section into the log
//! store's limits. The syntax is systemd's (journald.conf(5) uses it too), so
//! the unit-file lexer reads it. Keys, as journald.conf names them:
//! `SystemMaxUse=`, `SystemKeepFree=` (sizes: `512K`, `200M`, `1G`) and
//! `MaxRetentionSec=` (a time span; `0` turns the age limit off); and one
//! journald lacks, `UnitMaxUse=` (a size: the most one unit's lines may take,
//! so a chatty unit loses its own oldest lines, not the others').
//!
//! A missing file means every default. A bad value, an unknown key or section
//! is one warning naming file:line, and the default stays in force: as
//! journald does, daimond never refuses to start over its log settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use daimon_unit::Diagnostic;
use daimon_unit::value::size::parse_bytes;
use daimon_unit::value::timespan::{TimeSpan, parse_timespan};

/// The file's name in the config directory.
pub const FILE_NAME: &str = "daimond.conf";

/// The log store's limits as configured; `None` = the store's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalLimits {
    pub max_use: Option<u64>,
    pub keep_free: Option<u64>,
    /// `Some(None)`: explicitly off (`MaxRetentionSec=0`).
    pub max_age: Option<Option<Duration>>,
    pub unit_max_use: Option<u64>,
}

impl JournalLimits {
    /// Applies the configured limits to a store configuration.
    pub fn apply(&self, cfg: &mut daimon_journal::JournalConfig) {
        if let Some(v) = self.max_use {
            cfg.max_use = Some(v);
        }
        if let Some(v) = self.keep_free {
            cfg.keep_free = Some(v);
        }
        if let Some(v) = self.max_age {
            cfg.max_age = v;
        }
        if let Some(v) = self.unit_max_use {
            cfg.unit_max_use = Some(v);
        }
    }
}

/// Where `daimond.conf` lives for these paths: the directory holding `units/`.
pub fn path(paths: &daimon_proto::Paths) -> PathBuf {
    paths
        .units
        .parent()
        .unwrap_or(Path::new("/"))
        .join(FILE_NAME)
}

/// Reads `file`; a missing file is no settings. Problems come back as
/// one-line diagnostics to log once the log store is open.
pub fn load(file: &Path) -> (JournalLimits, Vec<Diagnostic>) {
    match std::fs::read(file) {
        Ok(bytes) => parse(file, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (JournalLimits::default(), vec![]),
        Err(e) => (
            JournalLimits::default(),
            vec![Diagnostic::warning(
                file,
                0,
                format!("cannot read it ({e}); using the default log limits"),
            )],
        ),
    }
}

/// Parses the text of `daimond.conf`.
pub fn parse(file: &Path, bytes: &[u8]) -> (JournalLimits, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut out = JournalLimits::default();
    for section in daimon_unit::syntax::parse(file, bytes, &mut diags) {
        // Read by the modules they configure (forward/, syslog/, `api_settings`).
        if matches!(section.name.as_str(), "Forward" | "Syslog" | "API") {
            continue;
        }
        if section.name != "Journal" {
            diags.push(Diagnostic::warning(
                file,
                section.line,
                format!(
                    "unknown section [{}]; daimond.conf has [Journal], [Syslog], [Forward] and [API]",
                    section.name
                ),
            ));
            continue;
        }
        for e in section.entries {
            let bad = |what: String| {
                Diagnostic::warning(
                    file,
                    e.line,
                    format!("invalid {}={:?}: {what}; using the default", e.key, e.value),
                )
            };
            // An empty assignment resets to the default, as in systemd.
            let empty = e.value.trim().is_empty();
            match e.key.as_str() {
                "SystemMaxUse" | "SystemKeepFree" | "UnitMaxUse" => {
                    let v = if empty {
                        None
                    } else {
                        match parse_bytes(&e.value) {
                            Ok(v) => Some(v),
                            Err(_) => {
                                diags.push(bad("expected a size such as 512K, 200M or 1G".into()));
                                None
                            }
                        }
                    };
                    match e.key.as_str() {
                        "SystemMaxUse" => out.max_use = v,
                        "SystemKeepFree" => out.keep_free = v,
                        _ => out.unit_max_use = v,
                    }
                }
                "MaxRetentionSec" => {
                    out.max_age = if empty {
                        None
                    } else {
                        match parse_timespan(&e.value) {
                            Ok(TimeSpan::Finite(d)) if d.is_zero() => Some(None),
                            Ok(TimeSpan::Finite(d)) => Some(Some(d)),
                            Ok(TimeSpan::Infinity) => Some(None),
                            Err(_) => {
                                diags.push(bad(
                                    "expected a time span such as 2weeks, 1month or 0 (off)".into(),
                                ));
                                None
                            }
                        }
                    };
                }
                other => diags.push(Diagnostic::warning(
                    file,
                    e.line,
                    format!(
                        "unknown key {other}= in [Journal]; known: SystemMaxUse=, \
                         SystemKeepFree=, MaxRetentionSec=, UnitMaxUse="
                    ),
                )),
            }
        }
    }
    (out, diags)
}

/// The `[API]` section (the HTTP API, see `http::discovery`): `Port=`,
/// `Address=`, `MetricsOpen=`, as the environment variables they stand for
/// (`DAIMON_API_PORT`, ...), which win over the file. Problems are one-line
/// warnings naming file:line; a missing file is no settings.
pub fn api_settings(file: &Path) -> (Vec<(&'static str, String)>, Vec<Diagnostic>) {
    let (mut out, mut diags) = (Vec::new(), Vec::new());
    let Ok(bytes) = std::fs::read(file) else {
        return (out, diags);
    };
    let mut ignored = Vec::new();
    for section in daimon_unit::syntax::parse(file, &bytes, &mut ignored) {
        if section.name != "API" {
            continue;
        }
        for e in section.entries {
            let var = match e.key.as_str() {
                "Port" => "DAIMON_API_PORT",
                "Address" => "DAIMON_API_ADDRESS",
                "MetricsOpen" => "DAIMON_METRICS_OPEN",
                other => {
                    diags.push(Diagnostic::warning(
                        file,
                        e.line,
                        format!(
                            "unknown key {other}= in [API]; known: Port=, Address=, MetricsOpen="
                        ),
                    ));
                    continue;
                }
            };
            out.push((var, e.value.trim().to_string()));
        }
    }
    (out, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> (JournalLimits, Vec<String>) {
        let (l, d) = parse(Path::new("/c/daimond.conf"), text.as_bytes());
        (l, d.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn journald_keys_set_the_limits() {
        let (l, d) = p("[Journal]\nSystemMaxUse=200M\nSystemKeepFree=1G\nMaxRetentionSec=2weeks\n");
        let (caps, none) = p("[Journal]\nUnitMaxUse=50M\n");
        assert!(none.is_empty(), "{none:?}");
        assert_eq!(caps.unit_max_use, Some(50 << 20));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(l.max_use, Some(200 << 20));
        assert_eq!(l.keep_free, Some(1 << 30));
        assert_eq!(l.max_age, Some(Some(Duration::from_secs(14 * 86400))));
    }

    #[test]
    fn zero_retention_turns_the_age_limit_off() {
        let (l, _) = p("[Journal]\nMaxRetentionSec=0\n");
        assert_eq!(l.max_age, Some(None));
    }

    #[test]
    fn a_bad_value_is_one_line_naming_file_and_line_and_the_default_stays() {
        let (l, d) = p("# limits\n[Journal]\nSystemMaxUse=lots\nSystemKeepFree=10M\n");
        assert_eq!(l.max_use, None);
        assert_eq!(l.keep_free, Some(10 << 20));
        assert_eq!(d.len(), 1);
        assert!(
            d[0].starts_with("/c/daimond.conf:3: invalid SystemMaxUse=\"lots\": expected a size"),
            "{}",
            d[0]
        );
        assert!(d[0].ends_with("using the default"), "{}", d[0]);
        assert!(!d[0].contains('\n'));
        let (_, d) = p("[Journal]\nMaxRetentionSec=soon\n");
        assert!(
            d[0].starts_with("/c/daimond.conf:2: invalid MaxRetentionSec="),
            "{d:?}"
        );
    }

    #[test]
    fn unknown_keys_and_sections_are_warnings_naming_the_line() {
        let (l, d) = p("[Journal]\nStorage=volatile\n[Other]\nX=1\n");
        assert_eq!(l, JournalLimits::default());
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].starts_with("/c/daimond.conf:2: unknown key Storage="));
        assert!(d[1].starts_with("/c/daimond.conf:3: unknown section [Other]"));
    }

    #[test]
    fn the_file_sits_beside_the_units_directory() {
        let paths = daimon_proto::Paths::under(Path::new("/h"));
        assert_eq!(path(&paths), Path::new("/h/daimond.conf"));
    }

    #[test]
    fn a_missing_file_is_every_default() {
        let (l, d) = load(Path::new("/nonexistent/daimond.conf"));
        assert_eq!(l, JournalLimits::default());
        assert!(d.is_empty());
    }

    #[test]
    fn the_api_section_stands_for_its_environment_variables() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("daimond.conf");
        std::fs::write(
            &f,
            "[Journal]\nSystemMaxUse=1G\n[API]\nPort=8123\nMetricsOpen=yes\nTls=1\n",
        )
        .expect("write");
        let (v, d) = api_settings(&f);
        assert_eq!(
            v,
            [
                ("DAIMON_API_PORT", "8123".to_string()),
                ("DAIMON_METRICS_OPEN", "yes".to_string())
            ]
        );
        assert_eq!(d.len(), 1);
        assert!(
            d[0].to_string().contains(":6: unknown key Tls="),
            "{}",
            d[0]
        );
        let (_, d) = load(&f);
        assert!(d.is_empty(), "[API] is no unknown section: {d:?}");
    }
}
