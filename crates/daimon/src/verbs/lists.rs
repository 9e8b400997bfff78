//! `list-units` and `list-unit-files`: systemctl's tables (or `-o json`).

use std::fmt::Write;

use daimon_proto::{Paths, Request, Response, UnitFileEntry, UnitListEntry};

use super::args::{ListUnitFilesArgs, ListUnitsArgs};
use crate::cli::ListFormat;
use crate::client::{QUICK, unexpected};
use crate::commands::{connect, json_err, print};
use crate::error::CliResult;
use crate::render::{Style, cell, table};

pub fn list_units(paths: &Paths, a: &ListUnitsArgs) -> CliResult {
    let req = Request::ListUnits {
        all: a.all,
        states: a.state.clone(),
        patterns: a.patterns.clone(),
    };
    let mut list = match connect(paths)?.call(&req, QUICK)? {
        Response::List(l) => l,
        other => return Err(unexpected(other)),
    };
    if a.output == ListFormat::Table && crate::render::escape_for_terminal(false) {
        for u in &mut list {
            u.description = u
                .description
                .as_deref()
                .map(daimon_proto::escape_terminal_str);
        }
    }
    let text = match a.output {
        ListFormat::Json => serde_json::to_string_pretty(&list).map_err(json_err)? + "\n",
        ListFormat::Table => units_table(&list, a.all, Style::detect()),
    };
    print(&text)
}

pub fn list_unit_files(paths: &Paths, a: &ListUnitFilesArgs) -> CliResult {
    let req = Request::ListUnitFiles {
        patterns: a.patterns.clone(),
    };
    let list = match connect(paths)?.call(&req, QUICK)? {
        Response::UnitFiles(l) => l,
        other => return Err(unexpected(other)),
    };
    let text = match a.output {
        ListFormat::Json => serde_json::to_string_pretty(&list).map_err(json_err)? + "\n",
        ListFormat::Table => files_table(&list, Style::detect()),
    };
    print(&text)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn units_table(list: &[UnitListEntry], all: bool, style: Style) -> String {
    let rows: Vec<Vec<(String, String)>> = list
        .iter()
        .map(|u| crate::render::unit_list_row(u, style, false))
        .collect();
    let mut out = if list.is_empty() {
        String::new()
    } else {
        table(
            &["UNIT", "LOAD", "ACTIVE", "SUB", "DESCRIPTION"],
            &rows,
            style,
        ) + "\n"
    };
    let n = list.len();
    let _ = writeln!(out, "{n} loaded unit{} listed.", plural(n));
    if !all {
        out.push_str("Pass --all to see loaded but inactive units, too.\n");
    }
    out
}

fn files_table(list: &[UnitFileEntry], style: Style) -> String {
    let rows: Vec<Vec<(String, String)>> = list
        .iter()
        .map(|f| vec![cell(f.unit_file.clone()), cell(f.state.clone())])
        .collect();
    let mut out = if list.is_empty() {
        String::new()
    } else {
        table(&["UNIT FILE", "STATE"], &rows, style) + "\n"
    };
    let n = list.len();
    let _ = writeln!(out, "{n} unit file{} listed.", plural(n));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_files_table_has_systemctl_columns() {
        let list = vec![
            UnitFileEntry {
                unit_file: "web.service".into(),
                state: "enabled".into(),
                path: Some("/u/web.service".into()),
            },
            UnitFileEntry {
                unit_file: "bot.service".into(),
                state: "transient".into(),
                path: None,
            },
        ];
        let t = files_table(&list, Style { color: false });
        let lines: Vec<Vec<&str>> = t.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(lines[0], ["UNIT", "FILE", "STATE"]);
        assert_eq!(lines[1], ["web.service", "enabled"]);
        assert_eq!(lines[2], ["bot.service", "transient"]);
        assert!(t.ends_with("\n\n2 unit files listed.\n"), "{t}");
        assert_eq!(
            files_table(&[], Style { color: false }),
            "0 unit files listed.\n"
        );
    }
}
