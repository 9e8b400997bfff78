//! `POST /api/verify`: a unit text checked as `daimon verify` checks a file,
//! by the same parser, without writing anything. Pure: no owner involved.

use std::path::Path;

use super::reply::{self, Reply};

pub fn verify(name: &str, text: &str, system_mode: bool) -> Reply {
    if let Err(e) = daimon_unit::check_requested(name) {
        return reply::error(400, "invalid", e);
    }
    if !name.contains('.') {
        return reply::error(
            400,
            "invalid",
            format!("name {name:?} needs its type, e.g. \"{name}.service\" or \"{name}.timer\""),
        );
    }
    // The specifiers (%h, %U, ...) resolve as daimond's own units' do.
    let ctx = daimon_unit::SpecifierContext::from_env(system_mode);
    let loaded = daimon_unit::parse_unit(name, Path::new(name), text.as_bytes(), &[], &ctx);
    let diags: Vec<_> = loaded
        .diagnostics
        .iter()
        .map(|d| {
            serde_json::json!({
                "severity": d.severity.to_string(),
                "line": d.line,
                "column": d.column,
                "message": d.message,
            })
        })
        .collect();
    let valid = !daimon_unit::has_errors(&loaded.diagnostics);
    reply::json(
        200,
        &serde_json::json!({"valid": valid, "diagnostics": diags}),
    )
}
