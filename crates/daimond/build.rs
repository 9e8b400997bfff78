//! Links daimond's code in the order of `code-order.txt` (written by
//! `bench/code-layout.py`): the functions daimond runs in its life, next to one
//! another, so that the kernel's 64 KiB fault-around maps few runs of the
//! binary instead of runs all over it. The list is a hint: names it does not
//! know are ignored, so a stale list costs memory, never correctness.
//!
//! Only for release builds linked by LLD, which is what rustup's Rust 1.90 and
//! later use on x86_64-unknown-linux-gnu (its own `rust-lld`); GNU ld has no
//! such option, so any other set-up (an older or distribution compiler, a
//! linker of one's own choosing) is left alone.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=code-order.txt");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    let target = env::var("TARGET").unwrap_or_default();
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    let own_linker = env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some()
        || env::var("CARGO_ENCODED_RUSTFLAGS").is_ok_and(|f| f.contains("link"));
    let list =
        Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("code-order.txt");
    if target == "x86_64-unknown-linux-gnu"
        && release
        && !own_linker
        && list.is_file()
        && links_with_rust_lld(&target)
    {
        println!(
            "cargo:rustc-link-arg-bin=daimond=-Wl,--symbol-ordering-file={}",
            list.display()
        );
        println!("cargo:rustc-link-arg-bin=daimond=-Wl,--no-warn-symbol-ordering");
    }
}

/// Whether the compiler is 1.90 or later and ships its `rust-lld`.
fn links_with_rust_lld(target: &str) -> bool {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let run = |arg: &str| {
        Command::new(&rustc)
            .arg(arg)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
    };
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let new_enough = run("--version").is_some_and(|v| {
        let mut n = v
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .split(['.', '-'])
            .map(|p| p.parse::<u32>().unwrap_or(0));
        (n.next().unwrap_or(0), n.next().unwrap_or(0)) >= (1, 90)
    });
    let lld = run("--print=sysroot").is_some_and(|root| {
        PathBuf::from(root.trim())
            .join("lib/rustlib")
            .join(target)
            .join("bin/rust-lld")
            .is_file()
    });
    new_enough && lld
}
