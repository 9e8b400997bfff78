//! `list-units` and `list-unit-files`, as systemctl(1) lists them.
//!
//! `list-units` shows units in memory: by default those active, failed or
//! changing state ("units that are active, have pending jobs, or have
//! failed"); `all` adds the inactive ones. `states` keeps units whose load,
//! active or sub state is one of them; patterns match names (fnmatch).
//! `list-unit-files` shows what is on disk (the units directory, re-read so
//! that a file written since the last reload is listed) and transient units,
//! with their enablement; template instances are not files of their own.

use std::collections::BTreeMap;

use daimon_proto::{ActiveState, Response, UnitFileEntry, glob_match};

use super::Owner;
use crate::supervisor::registry::{self, Entry, Load};

fn matches_any(patterns: &[String], name: &str) -> bool {
    patterns.is_empty()
        || patterns
            .iter()
            .any(|p| glob_match(p, name) || glob_match(&daimon_unit::with_default_suffix(p), name))
}

impl Owner {
    pub(in crate::supervisor) fn list_units(
        &self,
        all: bool,
        states: &[String],
        patterns: &[String],
    ) -> Response {
        let list = self
            .list()
            .into_iter()
            .filter(|u| {
                if !states.is_empty() {
                    return states
                        .iter()
                        .any(|s| s == &u.load_state || s == u.state.as_str() || s == &u.sub_state);
                }
                all || u.state != ActiveState::Inactive
            })
            .filter(|u| matches_any(patterns, &u.name))
            // A template is no unit in memory for systemctl.
            .filter(|u| !u.name.contains("@."))
            .collect();
        Response::List(list)
    }

    pub(in crate::supervisor) fn list_unit_files(&self, patterns: &[String]) -> Response {
        let mut files: BTreeMap<String, UnitFileEntry> = BTreeMap::new();
        for e in self.units.values() {
            if let Some(f) = self.unit_file(e) {
                files.insert(f.unit_file.clone(), f);
            }
        }
        for l in daimon_unit::load_dir(&self.site.paths().units, self.site.spec()) {
            if files.contains_key(&l.name) {
                continue;
            }
            let mut e = Entry::new(l.name.clone(), registry::load_of(l));
            e.refresh_definition();
            if let Some(f) = self.unit_file(&e) {
                files.insert(f.unit_file.clone(), f);
            }
        }
        let list = files
            .into_values()
            .filter(|f| matches_any(patterns, &f.unit_file))
            .collect();
        Response::UnitFiles(list)
    }

    /// The file behind `e`, if it has one of its own (or is transient).
    fn unit_file(&self, e: &Entry) -> Option<UnitFileEntry> {
        let path = match &e.load {
            _ if e.transient.is_some() => None,
            Load::NotFound => return None,
            Load::Loaded(u) => Some(u.fragment_path.clone()),
            Load::Bad { path, .. } | Load::Masked(path) => Some(path.clone()),
        };
        // An instance (web@1.service) is read from its template's file.
        if path
            .as_ref()
            .is_some_and(|p| p.file_name().is_some_and(|f| f != e.name.as_str()))
        {
            return None;
        }
        Some(UnitFileEntry {
            unit_file: e.name.clone(),
            state: self.unit_file_state(e).to_string(),
            path: path.map(|p| p.display().to_string()),
        })
    }
}
