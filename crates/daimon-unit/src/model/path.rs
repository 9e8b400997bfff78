//! The `[Path]` section.

use std::path::PathBuf;

/// `[Path]`, per systemd.path(5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathSection {
    pub path_exists: Vec<PathBuf>,
    pub path_exists_glob: Vec<String>,
    pub path_changed: Vec<PathBuf>,
    pub path_modified: Vec<PathBuf>,
    pub directory_not_empty: Vec<PathBuf>,
    /// The unit to activate; defaults to the path unit's name with `.service`.
    pub unit: String,
    pub make_directory: bool,
    pub directory_mode: u32,
}
