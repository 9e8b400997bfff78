//! Links daimond as a position-dependent executable on Linux.
//!
//! A PIE carries ~18 000 relative relocations: at every start the dynamic loader
//! reads them all (430 KiB of `.rela.dyn`) and writes ~90 pages of `.data.rel.ro`
//! (vtables, string tables), which become private dirty memory for the process's
//! whole life, in daimond and again in its fd store. Linked at a fixed address
//! those pages stay clean, shared page-cache pages: an idle daimond's PSS drops by
//! about 0.6 MiB. The price is a fixed load address for daimond's own code (the
//! libraries, stack, heap and mappings stay randomised).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        // Rust's objects are position-independent either way; only the link
        // changes. Binaries only: test harnesses stay as rustc makes them.
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
