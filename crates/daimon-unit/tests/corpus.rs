//! Every unit file of the repository's corpus (testdata/unit-corpus) (real distribution files) must verify with no
//! error and without panicking: systemd accepts them, so daimon must too.

use daimon_unit::{SpecifierContext, UnitKind, load_unit_file};
use std::path::{Path, PathBuf};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/unit-corpus");

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p
            .extension()
            .and_then(|s| s.to_str())
            .is_some_and(|s| UnitKind::from_suffix(s).is_some())
        {
            out.push(p);
        }
    }
}

#[test]
fn every_corpus_file_verifies_without_errors() {
    let root = Path::new(CORPUS);
    assert!(
        root.is_dir(),
        "the unit-file corpus is missing: expected `testdata/unit-corpus` in the repository (looked at {})",
        root.display()
    );
    let mut files = Vec::new();
    collect(root, &mut files);
    files.sort();
    assert!(
        files.len() > 300,
        "only {} unit files found under {}",
        files.len(),
        root.display()
    );

    for ctx in [
        SpecifierContext::example(),
        SpecifierContext::from_env(false),
    ] {
        let mut errors = Vec::new();
        let mut warnings = 0;
        for f in &files {
            let loaded = std::panic::catch_unwind(|| load_unit_file(f, &ctx))
                .unwrap_or_else(|_| panic!("parser panicked on {}", f.display()));
            assert!(
                loaded.unit.is_some() || loaded.masked,
                "{} did not load",
                f.display()
            );
            for d in &loaded.diagnostics {
                if d.is_error() {
                    errors.push(d.to_string());
                } else {
                    warnings += 1;
                }
            }
        }
        assert!(
            errors.is_empty(),
            "{} errors in the corpus ({} files, {warnings} warnings):\n{}",
            errors.len(),
            files.len(),
            errors.join("\n")
        );
    }
}
