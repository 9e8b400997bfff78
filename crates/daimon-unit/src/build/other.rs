//! `[Path]` directives (systemd.path(5)).

use super::unit::unit_names;
use super::{Cx, Outcome, assign_list};
use crate::model::PathSection;
use crate::syntax::Entry;
use crate::value::ValueError;
use crate::value::boolean::parse_bool;
use crate::value::number::parse_mode;
use std::path::PathBuf;

pub(crate) fn new_path(unit: String) -> PathSection {
    PathSection {
        path_exists: Vec::new(),
        path_exists_glob: Vec::new(),
        path_changed: Vec::new(),
        path_modified: Vec::new(),
        directory_not_empty: Vec::new(),
        unit,
        make_directory: false,
        directory_mode: 0o755,
    }
}

pub(super) fn one_unit(cx: &mut Cx<'_, '_>, e: &Entry, suffix: &str) -> Option<String> {
    let mut names = unit_names(cx, e)?;
    match (names.pop(), names.is_empty()) {
        (Some(n), true) if n.ends_with(suffix) || suffix.is_empty() => Some(n),
        _ => {
            cx.error(
                e,
                ValueError::new(
                    &e.value,
                    "a unit to activate",
                    "one unit name, e.g. app.service",
                ),
            );
            None
        }
    }
}

pub(crate) fn apply_path(p: &mut PathSection, cx: &mut Cx<'_, '_>, e: &Entry) -> Outcome {
    let key = e.key.as_str();
    let list = match key {
        "PathExists" => Some(&mut p.path_exists),
        "PathChanged" => Some(&mut p.path_changed),
        "PathModified" => Some(&mut p.path_modified),
        "DirectoryNotEmpty" => Some(&mut p.directory_not_empty),
        _ => None,
    };
    if let Some(list) = list {
        if let Some(v) = cx.expanded(e) {
            if v.is_empty() || v.starts_with('/') {
                assign_list(list, &v, [PathBuf::from(&v)]);
            } else {
                cx.error(
                    e,
                    ValueError::new(&v, "an absolute path", "e.g. /var/spool/app"),
                );
            }
        }
        return Outcome::Done;
    }
    match key {
        "PathExistsGlob" => {
            if let Some(v) = cx.expanded(e) {
                assign_list(&mut p.path_exists_glob, &v, [v.clone()]);
            }
        }
        "Unit" => {
            if let Some(n) = one_unit(cx, e, "") {
                p.unit = n;
            }
        }
        "MakeDirectory" => {
            if let Some(b) = cx.parse(e, parse_bool) {
                p.make_directory = b;
            }
        }
        "DirectoryMode" => {
            if let Some(m) = cx.parse(e, parse_mode) {
                p.directory_mode = m;
            }
        }
        _ => return Outcome::Unhandled,
    }
    Outcome::Done
}
