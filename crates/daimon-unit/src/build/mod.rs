//! From parsed sections to the typed model.
//!
//! Owns the directive tables: which directive sets which field, with which grammar, and
//! how unsupported ones are reported. Files are applied in order (fragment, then drop-ins
//! in lexical order) onto one model, so a drop-in's empty assignment resets a list the
//! fragment filled, as in systemd.

mod finish;
mod install;
mod known;
mod other;
mod policy;
mod resources;
mod service;
mod socket;
mod timer;
mod unit;

use crate::diagnostic::Diagnostic;
use crate::model::{
    InstallSection, PathSection, ServiceSection, SocketSection, TimerSection, UnitSection,
};
use crate::name::UnitKind;
use crate::specifier::Resolver;
use crate::syntax::{Entry, Section};
use crate::value::ValueError;
use std::path::Path;

/// What a section handler did with an entry.
pub(crate) enum Outcome {
    /// Applied (or reported as an invalid value).
    Done,
    /// Not handled here: report it as unsupported or unknown.
    Unhandled,
}

/// Diagnostics sink for one file plus specifier resolution.
pub(crate) struct Cx<'a, 'r> {
    pub file: &'a Path,
    pub resolver: &'a Resolver<'r>,
    pub diags: &'a mut Vec<Diagnostic>,
}

impl Cx<'_, '_> {
    /// An invalid value: `file:line:col: Key: message`.
    pub fn error(&mut self, e: &Entry, message: impl std::fmt::Display) {
        self.diags.push(Diagnostic::error(
            self.file,
            e.line,
            Some(e.column),
            format!("{}: {message}", e.key),
        ));
    }

    pub fn warn(&mut self, e: &Entry, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::warning(self.file, e.line, message));
    }

    /// Keep the value or report the grammar error.
    pub fn ok<T>(&mut self, e: &Entry, r: Result<T, ValueError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(err) => {
                self.error(e, err);
                None
            }
        }
    }

    /// The value with specifiers resolved, or `None` after reporting an error.
    pub fn expanded(&mut self, e: &Entry) -> Option<String> {
        match self.resolver.expand(&e.value) {
            Ok(v) => Some(v),
            Err(err) => {
                self.error(e, err.0);
                None
            }
        }
    }

    /// Parse the expanded value with `f`.
    pub fn parse<T>(
        &mut self,
        e: &Entry,
        f: impl FnOnce(&str) -> Result<T, ValueError>,
    ) -> Option<T> {
        let v = self.expanded(e)?;
        let r = f(&v);
        self.ok(e, r)
    }
}

/// The kind-specific model being built.
pub(crate) enum Body {
    Service(Box<ServiceSection>),
    Timer(TimerSection),
    Target,
    Socket(SocketSection),
    Path(PathSection),
}

/// Everything accumulated over the fragment and its drop-ins.
pub(crate) struct Builder {
    pub unit: UnitSection,
    pub install: InstallSection,
    pub body: Body,
    /// Set when `SuccessAction=` is present (a service may then lack ExecStart=).
    pub success_action: bool,
    /// First line of the kind's own section, for unit-level diagnostics.
    pub body_line: Option<(std::path::PathBuf, u32)>,
}

impl Builder {
    pub fn new(kind: UnitKind, name_without_suffix: &str) -> Builder {
        let default_service = format!("{name_without_suffix}.service");
        let body = match kind {
            UnitKind::Service => Body::Service(Box::default()),
            UnitKind::Timer => Body::Timer(TimerSection::new(default_service)),
            UnitKind::Target => Body::Target,
            UnitKind::Socket => Body::Socket(socket::new_socket(default_service)),
            UnitKind::Path => Body::Path(other::new_path(default_service)),
        };
        Builder {
            unit: UnitSection::default(),
            install: InstallSection::default(),
            body,
            success_action: false,
            body_line: None,
        }
    }

    /// Apply one file's sections.
    pub fn apply(&mut self, cx: &mut Cx<'_, '_>, sections: &[Section]) {
        for section in sections {
            let body_section = match &self.body {
                Body::Service(_) => "Service",
                Body::Timer(_) => "Timer",
                Body::Target => "",
                Body::Socket(_) => "Socket",
                Body::Path(_) => "Path",
            };
            let name = section.name.as_str();
            if name == body_section && self.body_line.is_none() {
                self.body_line = Some((cx.file.to_path_buf(), section.line));
            }
            let known_section = name == "Unit" || name == "Install" || name == body_section;
            if !known_section {
                // systemd ignores sections starting with "X-" silently.
                if !name.starts_with("X-") {
                    cx.diags.push(Diagnostic::warning(
                        cx.file,
                        section.line,
                        format!(
                            "unknown section [{name}] in a .{} unit; ignored",
                            kind_suffix(&self.body)
                        ),
                    ));
                }
                continue;
            }
            for e in &section.entries {
                // StartLimit*= were [Service] options before systemd 230; still accepted.
                let legacy = name == "Service"
                    && matches!(e.key.as_str(), "StartLimitInterval" | "StartLimitBurst");
                let outcome = match name {
                    _ if legacy => unit::apply(self, cx, e),
                    "Unit" => unit::apply(self, cx, e),
                    "Install" => install::apply(&mut self.install, cx, e),
                    _ => match &mut self.body {
                        Body::Service(s) => match resources::apply(s, cx, e) {
                            Outcome::Unhandled => service::apply(s, cx, e),
                            done => done,
                        },
                        Body::Timer(t) => timer::apply(t, cx, e),
                        Body::Socket(s) => socket::apply_socket(s, cx, e),
                        Body::Path(p) => other::apply_path(p, cx, e),
                        Body::Target => Outcome::Unhandled,
                    },
                };
                if let Outcome::Unhandled = outcome {
                    policy::report_unhandled(cx, name, e);
                }
            }
        }
    }
}

fn kind_suffix(body: &Body) -> &'static str {
    match body {
        Body::Service(_) => "service",
        Body::Timer(_) => "timer",
        Body::Target => "target",
        Body::Socket(_) => "socket",
        Body::Path(_) => "path",
    }
}

/// Replace the list with nothing on an empty value, else append `items`.
pub(crate) fn assign_list<T>(list: &mut Vec<T>, value: &str, items: impl IntoIterator<Item = T>) {
    if value.trim().is_empty() {
        list.clear();
    } else {
        list.extend(items);
    }
}
