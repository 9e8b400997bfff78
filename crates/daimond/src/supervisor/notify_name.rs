//! The abstract name of a root daimond's notification socket.
//!
//! Abstract names live per network namespace, not per mount namespace: a name
//! derived from the runtime path alone was the same for a second system-mode
//! daimond in another mount namespace on the same network (a container with
//! host networking, a test under `unshare -m`), whose bind then failed with
//! "Address already in use" and whose `Type=notify` starts hung until their
//! timeout. The name is a random token kept in the runtime directory
//! (`notify.name`): the same for every daimond of that directory, so re-adopted
//! services keep a valid `NOTIFY_SOCKET`, and different for another directory,
//! even one at the same path in another mount namespace.

use std::fs;
use std::io::Read;
use std::path::Path;

const FILE: &str = "notify.name";

/// The token of `runtime`; a new one (kept for the next daimond) when there
/// is none yet or `fresh` (the kept one is taken by someone else).
pub fn token(runtime: &Path, fresh: bool) -> String {
    let file = runtime.join(FILE);
    if !fresh && let Ok(t) = fs::read_to_string(&file) {
        let t = t.trim();
        if t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return t.to_string();
        }
    }
    let t = random_hex();
    if let Err(e) = crate::persist::write_atomic(&file, format!("{t}\n").as_bytes(), false) {
        tracing::warn!(
            "cannot keep the notification socket's name in {}: {e}; a restarted daimond picks another",
            file.display()
        );
    }
    t
}

/// 128 random bits in hex, from the kernel's generator (or, failing that,
/// from the clock and our PID: unique enough among daimonds).
fn random_hex() -> String {
    let mut b = [0u8; 16];
    let ok = fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if ok.is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        b = (now ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_kept_per_directory_and_renewed_on_demand() {
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        let first = token(a.path(), false);
        assert_eq!(first.len(), 32);
        assert_eq!(
            token(a.path(), false),
            first,
            "the next daimond finds the same"
        );
        assert_ne!(
            token(b.path(), false),
            first,
            "another directory, another name"
        );
        let renewed = token(a.path(), true);
        assert_ne!(renewed, first);
        assert_eq!(token(a.path(), false), renewed);
    }
}
