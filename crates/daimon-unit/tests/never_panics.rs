//! Property tests: the parser never panics, whatever the bytes, and structured random
//! units round-trip their simple values.

use daimon_unit::{SpecifierContext, parse_unit};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

const KEYS: &[&str] = &[
    "Description",
    "After",
    "Wants",
    "Requires",
    "ConditionPathExists",
    "AssertPathExists",
    "StartLimitBurst",
    "Documentation",
    "Type",
    "ExecStart",
    "ExecStartPre",
    "ExecStop",
    "Restart",
    "RestartSec",
    "TimeoutSec",
    "Environment",
    "EnvironmentFile",
    "User",
    "WorkingDirectory",
    "UMask",
    "Nice",
    "KillSignal",
    "LimitNOFILE",
    "LimitCPU",
    "StandardOutput",
    "SuccessExitStatus",
    "MemoryMax",
    "CPUQuota",
    "StateDirectory",
    "OnCalendar",
    "OnBootSec",
    "Persistent",
    "Unit",
    "WantedBy",
    "Alias",
    "ListenStream",
    "PathExists",
    "ProtectSystem",
    "Frobnicate",
    "X-Custom",
];
const SECTIONS: &[&str] = &[
    "Unit", "Service", "Timer", "Install", "Socket", "Path", "X-A", "Bogus",
];
const VALUES: &[&str] = &[
    "",
    "1",
    "yes",
    "/bin/true",
    "-/bin/false x",
    "@/bin/sh sh -c 'echo \"$X\"'",
    "10s",
    "5min 20s",
    "infinity",
    "%i %n %%",
    "%",
    "%Z",
    "\"unterminated",
    "a.service b.target",
    "!/etc/x",
    "|/etc/y",
    "SIGTERM",
    "1024:4096",
    "50%",
    "0755",
    "-20",
    "\\",
    "\\x41\\u00e9",
    "daily",
    "*-*-* 00:00:00",
    "Mon..Fri 9:00",
    ";",
    "a ; b",
    "append:/tmp/x",
    "A=1 B=2",
    "${X}",
    "$X",
    "$$",
    "~",
    "+!@-/bin/x",
];

fn ctx() -> SpecifierContext {
    SpecifierContext::example()
}

fn unit_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        (0..SECTIONS.len()).prop_map(|i| format!("[{}]", SECTIONS[i])),
        (0..KEYS.len(), 0..VALUES.len(), any::<bool>()).prop_map(|(k, v, cont)| {
            if cont {
                format!("{}={} \\\n# comment\n  more", KEYS[k], VALUES[v])
            } else {
                format!("{} = {}", KEYS[k], VALUES[v])
            }
        }),
        "[ -~]{0,40}",
        Just("; comment".to_string()),
    ];
    prop::collection::vec(line, 0..30).prop_map(|l| l.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        for name in ["a.service", "a@b.service", "a@.service", "t.timer", "s.socket", "p.path", "x.target"] {
            let l = parse_unit(name, Path::new(name), &bytes, &[(PathBuf::from("d.conf"), bytes.clone())], &ctx());
            for d in &l.diagnostics {
                let _ = d.to_string();
            }
        }
    }

    #[test]
    fn structured_units_never_panic(text in unit_text(), dropin in unit_text()) {
        for name in ["a.service", "a@b.service", "t.timer", "s.socket", "p.path", "x.target"] {
            let l = parse_unit(name, Path::new(name), text.as_bytes(), &[(PathBuf::from("d.conf"), dropin.clone().into_bytes())], &ctx());
            for d in &l.diagnostics {
                prop_assert!(d.line >= 1 || d.column.is_none());
                let _ = d.to_string();
            }
            if let Some(s) = l.unit.as_ref().and_then(|u| u.service()) {
                for c in &s.exec_start {
                    let _ = c.expand(&|k: &str| (k == "X").then(|| "a b".to_string()));
                }
            }
        }
    }

    #[test]
    fn restart_sec_round_trips(secs in 0u64..1_000_000, line_pad in 0usize..5) {
        let text = format!("{}[Service]\nExecStart=/bin/x\nRestartSec={secs}\n", "\n".repeat(line_pad));
        let l = parse_unit("a.service", Path::new("a.service"), text.as_bytes(), &[], &ctx());
        prop_assert!(l.diagnostics.is_empty());
        let s = l.unit.as_ref().and_then(|u| u.service()).cloned();
        prop_assert_eq!(s.map(|s| s.restart_sec.as_secs()), Some(secs));
    }
}

/// Real unit files (the repository's corpus, testdata/unit-corpus), read once.
fn corpus() -> &'static [(String, Vec<u8>)] {
    static CORPUS: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/unit-corpus");
        let mut files: Vec<(String, Vec<u8>)> = walk(&dir)
            .into_iter()
            .filter_map(|p| {
                let name = p.file_name()?.to_str()?.to_string();
                Some((name, std::fs::read(&p).ok()?))
            })
            .collect();
        files.sort();
        assert!(
            !files.is_empty(),
            "the corpus is missing: {}",
            dir.display()
        );
        files
    })
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    out
}

/// One edit of a file's bytes: replace, insert or delete at a position (taken
/// modulo the length), the way a fuzzer mutates a seed.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let piece = prop_oneof![
        prop::collection::vec(any::<u8>(), 1..8),
        Just(b"\\\n".to_vec()),
        Just(b"%".to_vec()),
        Just(b"\n[Service]\n".to_vec()),
        Just(b"=".to_vec()),
        Just(b"\"".to_vec()),
        Just(vec![0xc3]),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Edit::Set(p, b)),
        (any::<usize>(), piece).prop_map(|(p, v)| Edit::Insert(p, v)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Edit::Delete(p, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, e: &Edit) {
    let at = |p: usize, len: usize| if len == 0 { 0 } else { p % (len + 1) };
    match e {
        Edit::Set(p, b) if !bytes.is_empty() => {
            let i = p % bytes.len();
            bytes[i] = *b;
        }
        Edit::Set(..) => {}
        Edit::Insert(p, v) => {
            let i = at(*p, bytes.len());
            bytes.splice(i..i, v.iter().copied());
        }
        Edit::Delete(p, n) => {
            let i = at(*p, bytes.len()).min(bytes.len());
            let j = (i + n).min(bytes.len());
            bytes.drain(i..j);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Real units with a few fuzzer-like edits: every path of the parser that
    /// real files reach, pushed off its usual values.
    #[test]
    fn mutated_corpus_units_never_panic(pick in any::<usize>(), edits in prop::collection::vec(edit(), 1..6)) {
        let files = corpus();
        let (name, original) = &files[pick % files.len()];
        let mut bytes = original.clone();
        for e in &edits {
            apply(&mut bytes, e);
        }
        let l = parse_unit(name, Path::new(name), &bytes, &[], &ctx());
        for d in &l.diagnostics {
            let _ = d.to_string();
        }
    }
}
