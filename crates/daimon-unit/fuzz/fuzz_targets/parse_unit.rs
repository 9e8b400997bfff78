//! Fuzz the whole unit pipeline: lexer, directive tables, value grammars, specifiers.
//! Run with `cargo fuzz run parse_unit` from `crates/daimon-unit`.
#![no_main]

use daimon_unit::{SpecifierContext, parse_unit};
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};

fuzz_target!(|data: &[u8]| {
    let ctx = SpecifierContext::example();
    // The first byte picks the unit type; the rest is split into a fragment and a drop-in.
    let (kind, rest) = data.split_first().unwrap_or((&0, &[]));
    let name = [
        "a.service",
        "a@b.service",
        "t.timer",
        "s.socket",
        "p.path",
        "x.target",
    ][usize::from(*kind) % 6];
    let cut = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    let (fragment, dropin) = rest.split_at(cut);
    let loaded = parse_unit(
        name,
        Path::new(name),
        fragment,
        &[(PathBuf::from("d.conf"), dropin.to_vec())],
        &ctx,
    );
    for d in &loaded.diagnostics {
        let _ = d.to_string();
    }
    if let Some(s) = loaded.unit.as_ref().and_then(|u| u.service()) {
        for c in s.exec_start.iter().chain(&s.exec_start_pre) {
            let _ = c.expand(&|k: &str| Some(format!("{k} value")));
        }
    }
});
