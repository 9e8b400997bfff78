//! Telling a restart of daimond from a reboot of the machine.
//!
//! After a crash, a hand-over or `systemctl restart daimond`, the new daimond
//! takes over what the previous one left running (`adopt`), and a service that
//! ended meanwhile is restarted per its `Restart=`. After a reboot nothing of
//! that survives, and systemd's rule holds instead: only enabled units start,
//! never one that merely ran before (systemctl(1), "enable"). The saved state
//! of the previous boot — which units ran, which timers were started by hand —
//! is forgotten then.
//!
//! A boot is recognised by a file in the runtime directory holding the kernel's
//! boot id (`/proc/sys/kernel/random/boot_id`, random at each boot): a reboot
//! empties /run and `XDG_RUNTIME_DIR`, and where the runtime directory outlives
//! a reboot (the `/tmp/daimon-UID` fallback on a disk) the id differs.

use std::fs;
use std::path::Path;

const MARK: &str = "daimond.boot";

/// This boot's id ("" where the kernel does not say).
fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Whether the previous daimond of this runtime directory ran in another boot
/// (or none ran since the directory was emptied). Marks this boot for the next.
pub fn first_start_of_this_boot(runtime: &Path) -> bool {
    let mark = runtime.join(MARK);
    let id = boot_id();
    let first = fs::read_to_string(&mark).map_or(true, |seen| seen.trim() != id);
    if first
        && let Err(e) = crate::persist::write_atomic(&mark, format!("{id}\n").as_bytes(), false)
    {
        tracing::warn!(
            "cannot write {}: {e}; the next daimond will take this for a new boot",
            mark.display()
        );
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emptied_runtime_directory_is_a_new_boot_and_a_kept_one_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(first_start_of_this_boot(dir.path()));
        assert!(!first_start_of_this_boot(dir.path()));
        fs::write(dir.path().join(MARK), "another-boot\n").expect("mark");
        assert!(first_start_of_this_boot(dir.path()));
        assert!(!first_start_of_this_boot(dir.path()));
    }
}
