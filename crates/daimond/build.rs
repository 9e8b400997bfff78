//! Links daimond's code in the order of `code-order.txt` (written by
//! `bench/code-layout.py`): the functions daimond runs in its life, next to one
//! another, so that the kernel's 64 KiB fault-around maps few runs of the
//! binary instead of runs all over it. The list is a hint: names it does not
//! know are ignored, so a stale list costs memory, never correctness.
//!
//! Only for release builds linked by LLD, the default linker of
//! x86_64-unknown-linux-gnu since Rust 1.90 (GNU ld has no such option): a
//! build that picks its own linker is left alone.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=code-order.txt");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    let target = env::var("TARGET").unwrap_or_default();
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    let own_linker = env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some()
        || env::var("CARGO_ENCODED_RUSTFLAGS").is_ok_and(|f| f.contains("linker"));
    let list =
        Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("code-order.txt");
    if target == "x86_64-unknown-linux-gnu" && release && !own_linker && list.is_file() {
        println!(
            "cargo:rustc-link-arg-bin=daimond=-Wl,--symbol-ordering-file={}",
            list.display()
        );
        println!("cargo:rustc-link-arg-bin=daimond=-Wl,--no-warn-symbol-ordering");
    }
}
