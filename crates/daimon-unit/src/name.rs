//! Unit names, per systemd.unit(5) "DESCRIPTION" and `unit_name_is_valid()`.
//!
//! A name is `prefix[@[instance]].type`: at most 255 characters; the prefix and instance
//! use `[A-Za-z0-9:_.\-]` (the instance may also contain `@`); `foo@.service` is a
//! template, `foo@bar.service` one of its instances. Also: systemd's unescaping of
//! prefixes and instances (`-` is `/`, `\xHH` a byte) for `%I`, `%P`, `%f`.

use std::fmt;

/// The unit types daimon reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnitKind {
    Service,
    Timer,
    Target,
    Socket,
    Path,
}

impl UnitKind {
    pub const ALL: [UnitKind; 5] = [
        UnitKind::Service,
        UnitKind::Timer,
        UnitKind::Target,
        UnitKind::Socket,
        UnitKind::Path,
    ];

    /// The suffix without the dot (`service`).
    pub fn suffix(self) -> &'static str {
        match self {
            UnitKind::Service => "service",
            UnitKind::Timer => "timer",
            UnitKind::Target => "target",
            UnitKind::Socket => "socket",
            UnitKind::Path => "path",
        }
    }

    pub fn from_suffix(s: &str) -> Option<UnitKind> {
        UnitKind::ALL.into_iter().find(|k| k.suffix() == s)
    }
}

impl fmt::Display for UnitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.suffix())
    }
}

/// Why a name is not a valid unit name. Displayed with the name quoted and
/// escaped (a name may hold control characters) and cut to its first 64
/// characters (it may be 100 KB long).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not a valid unit name: {reason}", shown(name))]
pub struct NameError {
    pub name: String,
    pub reason: &'static str,
}

/// What a valid name looks like, for messages that refuse one.
pub const VALID_NAME_HINT: &str = "a valid unit name looks like web.service or \
     getty@tty1.service: letters, digits and : _ . \\ - (and @ before an instance), \
     at most 255 bytes, ending in .service, .timer, .target, .socket or .path";

fn shown(name: &str) -> String {
    const SHOWN: usize = 64;
    match name.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}... ({} bytes)", &name[..cut], name.len()),
        None => format!("{name:?}"),
    }
}

/// A parsed, valid unit name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnitName {
    full: String,
    prefix_len: usize,
    instance: Option<(usize, usize)>,
    kind: UnitKind,
}

const MAX_LEN: usize = 255;

fn valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '.' | '\\' | '-')
}

impl UnitName {
    pub fn parse(name: &str) -> Result<UnitName, NameError> {
        let err = |reason| NameError {
            name: name.to_string(),
            reason,
        };
        if name.is_empty() {
            return Err(err("it is empty"));
        }
        if name.len() > MAX_LEN {
            return Err(err("it is longer than 255 characters"));
        }
        let Some((stem, suffix)) = name.rsplit_once('.') else {
            return Err(err("it has no type suffix such as .service"));
        };
        let Some(kind) = UnitKind::from_suffix(suffix) else {
            return Err(err(
                "the type suffix is not one of .service .timer .target .socket .path",
            ));
        };
        let (prefix, instance) = match stem.split_once('@') {
            Some((p, i)) => (p, Some(i)),
            None => (stem, None),
        };
        if prefix.is_empty() {
            return Err(err("the name before the suffix is empty"));
        }
        if !prefix.chars().all(valid_char) {
            return Err(err("only letters, digits and : _ . \\ - are allowed"));
        }
        if let Some(i) = instance
            && !i.chars().all(|c| valid_char(c) || c == '@')
        {
            return Err(err(
                "only letters, digits and : _ . \\ - @ are allowed in the instance",
            ));
        }
        Ok(UnitName {
            full: name.to_string(),
            prefix_len: prefix.len(),
            instance: instance.map(|i| (prefix.len() + 1, prefix.len() + 1 + i.len())),
            kind,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }

    pub fn kind(&self) -> UnitKind {
        self.kind
    }

    /// The part before `@` or the suffix (`%p`).
    pub fn prefix(&self) -> &str {
        &self.full[..self.prefix_len]
    }

    /// The instance (`%i`); `Some("")` for a template.
    pub fn instance(&self) -> Option<&str> {
        self.instance.map(|(a, b)| &self.full[a..b])
    }

    /// The name without the type suffix (`%N`).
    pub fn without_suffix(&self) -> &str {
        &self.full[..self.full.len() - self.kind.suffix().len() - 1]
    }

    /// `foo@.service`.
    pub fn is_template(&self) -> bool {
        self.instance() == Some("")
    }

    /// `foo@bar.service`.
    pub fn is_instance(&self) -> bool {
        self.instance().is_some_and(|i| !i.is_empty())
    }

    /// The template of an instance: `foo@bar.service` -> `foo@.service`.
    pub fn template(&self) -> Option<String> {
        self.is_instance()
            .then(|| format!("{}@.{}", self.prefix(), self.kind.suffix()))
    }

    /// Instantiate a template: `foo@.service` + `bar` -> `foo@bar.service`.
    pub fn instantiate(&self, instance: &str) -> Result<UnitName, NameError> {
        UnitName::parse(&format!(
            "{}@{}.{}",
            self.prefix(),
            instance,
            self.kind.suffix()
        ))
    }
}

impl fmt::Display for UnitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

/// Whether `name` is a valid unit name of a type daimon reads.
pub fn is_valid_unit_name(name: &str) -> bool {
    UnitName::parse(name).is_ok()
}

/// A name as a client typed it (`bot`, `bot.service`), given its default suffix
/// and checked: what every request's unit name passes before anything acts on
/// it. The error says what is wrong and what a valid name looks like.
pub fn check_requested(typed: &str) -> Result<UnitName, String> {
    UnitName::parse(&with_default_suffix(typed)).map_err(|e| format!("{e}; {VALID_NAME_HINT}"))
}

/// Every unit type systemd knows; dependencies may name any of them (e.g.
/// `After=local-fs.target var-lib.mount`), even those daimon does not load.
const SYSTEMD_SUFFIXES: [&str; 11] = [
    "service",
    "socket",
    "device",
    "mount",
    "automount",
    "swap",
    "target",
    "path",
    "timer",
    "slice",
    "scope",
];

/// Whether `name` is a valid unit name of any systemd type (for dependency lists).
pub fn is_valid_dependency_name(name: &str) -> bool {
    if name.is_empty() || name.len() > MAX_LEN {
        return false;
    }
    let Some((stem, suffix)) = name.rsplit_once('.') else {
        return false;
    };
    if !SYSTEMD_SUFFIXES.contains(&suffix) {
        return false;
    }
    let (prefix, instance) = match stem.split_once('@') {
        Some((p, i)) => (p, Some(i)),
        None => (stem, None),
    };
    !prefix.is_empty()
        && prefix.chars().all(valid_char)
        && instance.is_none_or(|i| i.chars().all(|c| valid_char(c) || c == '@'))
}

/// Append `.service` when the user omitted the type (`nginx` -> `nginx.service`), as
/// systemctl does; names that already end in a known type are kept.
pub fn with_default_suffix(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((_, s)) if UnitKind::from_suffix(s).is_some() => name.to_string(),
        _ => format!("{name}.service"),
    }
}

/// systemd's `unit_name_unescape()`: `-` becomes `/`, `\xHH` the byte HH.
pub fn unescape(s: &str) -> String {
    let mut bytes = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'-' => bytes.push(b'/'),
            b'\\' if b.get(i + 1) == Some(&b'x') => {
                let hex = s
                    .get(i + 2..i + 4)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        bytes.push(v);
                        i += 3;
                    }
                    None => bytes.push(b'\\'),
                }
            }
            c => bytes.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `unit_name_path_unescape()` as used by `%f`: unescaped, with a leading `/`.
pub fn unescape_path(s: &str) -> String {
    let u = unescape(s);
    if u.starts_with('/') {
        u
    } else {
        format!("/{u}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names() {
        let n = UnitName::parse("getty@tty1.service").unwrap();
        assert_eq!(n.prefix(), "getty");
        assert_eq!(n.instance(), Some("tty1"));
        assert_eq!(n.without_suffix(), "getty@tty1");
        assert_eq!(n.template().as_deref(), Some("getty@.service"));
        assert!(UnitName::parse("getty@.service").unwrap().is_template());
        assert_eq!(UnitName::parse("a.timer").unwrap().kind(), UnitKind::Timer);
        assert!(UnitName::parse("x@a@b.service").is_ok());
    }

    #[test]
    fn invalid_names() {
        assert_eq!(
            UnitName::parse("foo").unwrap_err().to_string(),
            "\"foo\" is not a valid unit name: it has no type suffix such as .service"
        );
        assert_eq!(
            UnitName::parse("a b.service").unwrap_err().to_string(),
            "\"a b.service\" is not a valid unit name: only letters, digits and : _ . \\ - are allowed"
        );
        assert!(UnitName::parse(".service").is_err());
        assert!(UnitName::parse("@x.service").is_err());
        assert!(UnitName::parse("x.mount").is_err());
        assert!(UnitName::parse(&format!("{}.service", "a".repeat(250))).is_err());
    }

    #[test]
    fn requested_names_follow_systemd_rules() {
        assert_eq!(check_requested("bot").unwrap().as_str(), "bot.service");
        assert_eq!(check_requested("b@x.timer").unwrap().as_str(), "b@x.timer");
        for bad in [
            "a b",
            "bad/x",
            "@.service",
            "\u{fc}",
            "",
            "../../../tmp/evil.service",
        ] {
            let e = check_requested(bad).unwrap_err();
            assert!(e.contains("is not a valid unit name"), "{e}");
            assert!(e.contains("looks like web.service"), "{e}");
        }
        // 255 bytes is the limit (systemd's UNIT_NAME_MAX is 256 with the NUL).
        assert!(check_requested(&format!("{}.service", "a".repeat(247))).is_ok());
        assert!(check_requested(&format!("{}.service", "a".repeat(248))).is_err());
        let huge = check_requested(&"x".repeat(100_000)).unwrap_err();
        assert!(huge.len() < 400, "{huge}");
        assert!(huge.contains("(100008 bytes)"), "{huge}");
        let esc = check_requested("a\u{1b}]52;c;QQ==\u{7}").unwrap_err();
        assert!(!esc.contains('\u{1b}'), "{esc}");
    }

    #[test]
    fn suffix_and_unescape() {
        assert_eq!(with_default_suffix("nginx"), "nginx.service");
        assert_eq!(with_default_suffix("a.timer"), "a.timer");
        assert_eq!(with_default_suffix("a.b"), "a.b.service");
        assert_eq!(unescape("dev-sda1"), "dev/sda1");
        assert_eq!(unescape("a\\x2db"), "a-b");
        assert_eq!(unescape_path("home-user"), "/home/user");
        assert!(is_valid_dependency_name("var-lib.mount"));
        assert!(!is_valid_dependency_name("var lib.mount"));
        assert!(!is_valid_dependency_name("x.nope"));
    }
}
