//! Print the diagnostics of unit files, as `daimon verify` will:
//! `cargo run -p daimon-unit --example verify -- FILE...`; exits 1 when any is an error.

use daimon_unit::{SpecifierContext, has_errors, verify_files};
use std::path::PathBuf;

fn main() {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let diags = verify_files(&paths, &SpecifierContext::from_env(false));
    for d in &diags {
        println!("{}: {d}", d.severity);
    }
    if has_errors(&diags) {
        std::process::exit(1);
    }
}
