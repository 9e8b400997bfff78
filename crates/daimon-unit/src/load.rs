//! Reading unit files from disk: fragments, drop-ins, templates, unit directories.
//!
//! Owns the file-system side (the only module that reads files, apart from
//! `SpecifierContext::from_env` and condition checks). Rules, per systemd.unit(5):
//! - drop-ins are `*.conf` files in `TYPE.d/` (e.g. `service.d/`), in `PREFIX-.TYPE.d/`
//!   for each dash-prefix of the name, in `NAME@.TYPE.d/` for instances, and in
//!   `NAME.TYPE.d/`; a more specific directory's file overrides a same-named one from a
//!   less specific directory; the result is applied in lexical order of file names;
//! - an instance `foo@bar.service` without its own file uses the template `foo@.service`;
//! - an empty fragment or one linked to `/dev/null` is masked.

use crate::build::{Builder, Cx};
use crate::diagnostic::{Diagnostic, has_errors};
use crate::file::read_unit_bytes;
use crate::model::Unit;
use crate::name::{NameError, UnitKind, UnitName};
use crate::specifier::{Resolver, SpecifierContext};
use crate::syntax;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The result of loading one unit: the model (when the name and file could be read) and
/// every diagnostic. A unit with errors must not be started (systemd's "bad-setting").
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedUnit {
    /// The unit name (e.g. `foo@bar.service`).
    pub name: String,
    /// The fragment path as given or found.
    pub path: PathBuf,
    /// `None` when the name is invalid, the file unreadable, or the unit masked.
    pub unit: Option<Unit>,
    /// The fragment is empty or linked to `/dev/null`.
    pub masked: bool,
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadedUnit {
    pub fn has_errors(&self) -> bool {
        has_errors(&self.diagnostics)
    }

    /// The unit if it may be started: loaded, not masked, and without errors.
    pub fn runnable(&self) -> Option<&Unit> {
        if self.has_errors() {
            None
        } else {
            self.unit.as_ref()
        }
    }

    fn failed(name: &str, path: &Path, message: String) -> LoadedUnit {
        LoadedUnit {
            name: name.to_string(),
            path: path.to_path_buf(),
            unit: None,
            masked: false,
            diagnostics: vec![Diagnostic::error(path, 0, None, message)],
        }
    }
}

/// Why a unit could not be found by name.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    InvalidName(#[from] NameError),
    #[error("unit {name} not found in {}", dir.display())]
    NotFound { name: String, dir: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Parse a unit from bytes (pure): `name` is the unit name (an instance name for an
/// instantiated template), `source_path` the fragment's path (used in diagnostics and
/// `%y`), `dropins` the drop-in files in the order to apply them.
pub fn parse_unit(
    name: &str,
    source_path: &Path,
    bytes: &[u8],
    dropins: &[(PathBuf, Vec<u8>)],
    ctx: &SpecifierContext,
) -> LoadedUnit {
    let unit_name = match UnitName::parse(name) {
        Ok(n) => n,
        Err(e) => return LoadedUnit::failed(name, source_path, e.to_string()),
    };
    let mut diags = Vec::new();
    // A template is checked as an instance named "test_instance", as `systemd-analyze
    // verify` does, so that %i-derived names (e.g. `dev-%i.device`) are well-formed.
    let spec_name = if unit_name.is_template() {
        unit_name
            .instantiate("test_instance")
            .unwrap_or_else(|_| unit_name.clone())
    } else {
        unit_name.clone()
    };
    let resolver = Resolver {
        ctx,
        name: &spec_name,
        fragment: source_path,
    };
    let mut builder = Builder::new(unit_name.kind(), unit_name.without_suffix());
    let files = std::iter::once((source_path, bytes))
        .chain(dropins.iter().map(|(p, b)| (p.as_path(), b.as_slice())));
    for (path, data) in files {
        let sections = syntax::parse(path, data, &mut diags);
        let mut cx = Cx {
            file: path,
            resolver: &resolver,
            diags: &mut diags,
        };
        builder.apply(&mut cx, &sections);
    }
    let dropin_paths = dropins.iter().map(|(p, _)| p.clone()).collect();
    let unit = builder.finish(&unit_name, source_path, dropin_paths, &mut diags);
    LoadedUnit {
        name: name.to_string(),
        path: source_path.to_path_buf(),
        unit: Some(unit),
        masked: false,
        diagnostics: diags,
    }
}

/// The drop-in directory names for `name`, least specific first.
pub fn dropin_dirs(name: &UnitName) -> Vec<String> {
    let suffix = name.kind().suffix();
    let mut dirs = vec![format!("{suffix}.d")];
    // systemd.unit(5): "foo-bar-baz.service" also reads "foo-.service.d/" and
    // "foo-bar-.service.d/".
    let prefix = name.prefix();
    for (i, _) in prefix.match_indices('-') {
        if i > 0 {
            dirs.push(format!("{}-.{suffix}.d", &prefix[..i]));
        }
    }
    if let Some(t) = name.template()
        && name.is_instance()
    {
        dirs.push(format!("{t}.d"));
    }
    dirs.push(format!("{}.d", name.as_str()));
    dirs
}

/// The drop-in files of `name` under `dir`, in the order to apply them.
pub fn find_dropins(dir: &Path, name: &UnitName) -> Vec<PathBuf> {
    let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
    for d in dropin_dirs(name) {
        let Ok(entries) = fs::read_dir(dir.join(&d)) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if file_name.ends_with(".conf") && entry.path().is_file() {
                by_name.insert(file_name, dir.join(&d).join(entry.file_name()));
            }
        }
    }
    by_name.into_values().collect()
}

fn is_masked(path: &Path, bytes: &[u8]) -> bool {
    fs::read_link(path).is_ok_and(|t| t == Path::new("/dev/null"))
        || bytes.iter().all(u8::is_ascii_whitespace)
}

/// Load `fragment` as unit `name`, with the drop-ins found next to it.
fn load_named(dir: &Path, name: &UnitName, fragment: &Path, ctx: &SpecifierContext) -> LoadedUnit {
    let bytes = match read_unit_bytes(fragment) {
        Ok(b) => b,
        Err(e) => {
            return LoadedUnit::failed(
                name.as_str(),
                fragment,
                format!("cannot read the unit file: {e}"),
            );
        }
    };
    if is_masked(fragment, &bytes) {
        return LoadedUnit {
            name: name.as_str().to_string(),
            path: fragment.to_path_buf(),
            unit: None,
            masked: true,
            diagnostics: vec![Diagnostic::warning(
                fragment,
                0,
                "unit is masked (empty or linked to /dev/null)",
            )],
        };
    }
    let mut diags = Vec::new();
    let mut dropins = Vec::new();
    for p in find_dropins(dir, name) {
        match read_unit_bytes(&p) {
            Ok(b) => dropins.push((p, b)),
            Err(e) => diags.push(Diagnostic::error(
                &p,
                0,
                None,
                format!("cannot read the drop-in: {e}"),
            )),
        }
    }
    let mut loaded = parse_unit(name.as_str(), fragment, &bytes, &dropins, ctx);
    diags.append(&mut loaded.diagnostics);
    loaded.diagnostics = diags;
    loaded
}

/// Read the unit file at `path` and its drop-ins from the same directory.
pub fn load_unit_file(path: &Path, ctx: &SpecifierContext) -> LoadedUnit {
    let Some(file_name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return LoadedUnit::failed("", path, "not a unit file path".to_string());
    };
    let name = match UnitName::parse(&file_name) {
        Ok(n) => n,
        Err(e) => return LoadedUnit::failed(&file_name, path, e.to_string()),
    };
    let dir = path.parent().unwrap_or(Path::new(""));
    load_named(dir, &name, path, ctx)
}

/// Load every `*.service|*.timer|*.target|*.socket|*.path` file in `dir`, sorted by name.
/// Templates (`foo@.service`) are listed, parsed with an empty instance, not instantiated.
pub fn load_dir(dir: &Path, ctx: &SpecifierContext) -> Vec<LoadedUnit> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| {
            let p = e.path();
            p.is_file() || fs::read_link(&p).is_ok_and(|t| t == Path::new("/dev/null"))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.rsplit_once('.')
                .is_some_and(|(_, s)| UnitKind::from_suffix(s).is_some())
        })
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| load_unit_file(&dir.join(n), ctx))
        .collect()
}

/// The fragment of `name` in `dir`: its own file, or its template's for an instance.
fn find_fragment(dir: &Path, name: &UnitName) -> Option<PathBuf> {
    let own = dir.join(name.as_str());
    if own.is_file() {
        return Some(own);
    }
    let template = dir.join(name.template()?);
    template.is_file().then_some(template)
}

/// Load unit `name` (e.g. `foo@bar.service`) from `dir`, instantiating a template and
/// applying drop-ins. A template name alone is instantiated with its DefaultInstance= by
/// the caller if wanted; here it loads as a template.
pub fn load_by_name(
    dir: &Path,
    name: &str,
    ctx: &SpecifierContext,
) -> Result<LoadedUnit, LoadError> {
    let unit_name = UnitName::parse(name)?;
    let fragment = find_fragment(dir, &unit_name).ok_or_else(|| LoadError::NotFound {
        name: name.to_string(),
        dir: dir.to_path_buf(),
    })?;
    Ok(load_named(dir, &unit_name, &fragment, ctx))
}

/// The fragment and drop-ins of `name` with their text, for `daimon cat`.
pub fn cat_unit(dir: &Path, name: &str) -> Result<Vec<(PathBuf, String)>, LoadError> {
    let unit_name = UnitName::parse(name)?;
    let fragment = find_fragment(dir, &unit_name).ok_or_else(|| LoadError::NotFound {
        name: name.to_string(),
        dir: dir.to_path_buf(),
    })?;
    std::iter::once(fragment)
        .chain(find_dropins(dir, &unit_name))
        .map(|p| match read_unit_bytes(&p) {
            Ok(b) => Ok((p, String::from_utf8_lossy(&b).into_owned())),
            Err(source) => Err(LoadError::Io { path: p, source }),
        })
        .collect()
}

/// Check unit files (`daimon verify FILE...`): every diagnostic of every file, in order.
pub fn verify_files(paths: &[PathBuf], ctx: &SpecifierContext) -> Vec<Diagnostic> {
    paths
        .iter()
        .flat_map(|p| load_unit_file(p, ctx).diagnostics)
        .collect()
}
