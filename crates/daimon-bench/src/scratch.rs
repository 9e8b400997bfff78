//! A private scratch directory, removed on drop.
//!
//! Written here instead of taking `tempfile`: that crate turns on `rustix/std`
//! and with it `bitflags/std`, which changes the build of every crate that
//! depends on `bitflags` (rusqlite, nix, ...) and so the mangled names of
//! daimond's functions. `cargo build --release -p daimond` and the bench's
//! own build must produce the same daimond, or the symbol order of
//! `crates/daimond/code-order.txt` would match one and not the other.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// `$TMPDIR/PREFIXXXXXXX`, mode 0700, made by mkdtemp(3).
    pub fn new(prefix: &str) -> std::io::Result<ScratchDir> {
        let template = std::env::temp_dir().join(format!("{prefix}XXXXXX"));
        let template = CString::new(template.into_os_string().into_vec())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let raw = template.into_raw();
        // SAFETY: `raw` is a writable NUL-terminated buffer that mkdtemp fills
        // in place; ownership returns to a CString right after.
        let made = unsafe { libc::mkdtemp(raw) };
        // SAFETY: `raw` came from CString::into_raw and its length is unchanged.
        let path = unsafe { CString::from_raw(raw) };
        if made.is_null() {
            return Err(std::io::Error::last_os_error());
        }
        Ok(ScratchDir(PathBuf::from(OsString::from_vec(
            path.into_bytes(),
        ))))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
