//! `daimon list` and `list-units`: one row per unit file.

use std::fmt::Write as _;

use daimon_proto::UnitListEntry;

use super::{Style, cell, table};

/// What `daimon status` says when there is no unit at all: where unit files go
/// (the directory this daimon uses) and how to start one without a file.
pub fn no_units(units_dir: &std::path::Path) -> String {
    format!(
        "No units loaded. Put unit files in {} or start one with: daimon run -- COMMAND\n",
        units_dir.display()
    )
}

/// One unit's cells in `list` and `list-units`: UNIT LOAD ACTIVE SUB
/// [ENABLED] DESCRIPTION.
pub(crate) fn unit_list_row(
    u: &UnitListEntry,
    style: Style,
    enabled: bool,
) -> Vec<(String, String)> {
    let active = u.state.as_str().to_string();
    let mut row = vec![
        cell(u.name.clone()),
        cell(u.load_state.clone()),
        (active.clone(), style.state(u.state, &active)),
        cell(u.sub_state.clone()),
    ];
    if enabled {
        row.push(cell(u.enabled.clone()));
    }
    row.push(cell(u.description.clone().unwrap_or_default()));
    row
}

/// `daimon list`: every known unit with its file state.
pub fn list_table(list: &[UnitListEntry], style: Style) -> String {
    if list.is_empty() {
        return "No unit files found.\n".to_string();
    }
    let rows: Vec<Vec<(String, String)>> =
        list.iter().map(|u| unit_list_row(u, style, true)).collect();
    let mut out = table(
        &["UNIT", "LOAD", "ACTIVE", "SUB", "ENABLED", "DESCRIPTION"],
        &rows,
        style,
    );
    let n = list.len();
    let _ = writeln!(out, "\n{n} unit{} listed.", if n == 1 { "" } else { "s" });
    out
}
