//! Delegation on cgroup v2: making daimond's own cgroup a parent whose
//! children may use the memory, cpu and pids controllers.
//!
//! cgroups(7) "no internal processes" rule: a non-root cgroup cannot both
//! hold processes and enable controllers for its children. A delegated
//! cgroup (`Delegate=yes`, a user's delegated tree) holds daimond itself, so
//! daimond first moves the processes there into a leaf, [`LEAF`], as
//! systemd's documentation asks a delegate to do
//! (https://systemd.io/CGROUP_DELEGATION/), then enables the controllers.

use std::path::{Path, PathBuf};

/// The leaf, inside its own cgroup, that daimond moves itself into.
pub const LEAF: &str = "daimond";

/// Makes `own/group` with `controllers` enabled for its children, and
/// returns it. Errors name the file that could not be written.
pub fn prepare(own: &Path, group: &str, controllers: &[&str]) -> Result<PathBuf, String> {
    let offered = std::fs::read_to_string(own.join("cgroup.controllers")).unwrap_or_default();
    let wanted: Vec<String> = controllers
        .iter()
        .filter(|c| offered.split_whitespace().any(|o| o == **c))
        .map(|c| format!("+{c}"))
        .collect();
    let wanted = wanted.join(" ");
    let control = own.join("cgroup.subtree_control");
    if !wanted.is_empty() {
        match std::fs::write(&control, &wanted) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                move_into_leaf(own)?;
                super::write(&control, &wanted)?;
            }
            Err(e) => return Err(format!("cannot write {}: {e}", control.display())),
        }
    }
    let dir = own.join(group);
    super::make(&dir)?;
    if !wanted.is_empty() {
        super::write(&dir.join("cgroup.subtree_control"), &wanted)?;
    }
    Ok(dir)
}

/// Every process of `own` (daimond and services without a cgroup of their
/// own) moves into `own/daimond`.
fn move_into_leaf(own: &Path) -> Result<(), String> {
    let leaf = own.join(LEAF);
    super::make(&leaf)?;
    let procs = std::fs::read_to_string(own.join("cgroup.procs")).unwrap_or_default();
    let target = leaf.join("cgroup.procs");
    for pid in procs.split_whitespace() {
        if let Err(e) = std::fs::write(&target, pid) {
            // A process that ended meanwhile is no reason to fail.
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(format!("cannot move {pid} into {}: {e}", target.display()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enables_what_is_offered_for_the_group() {
        let own = tempfile::tempdir().expect("tempdir");
        std::fs::write(own.path().join("cgroup.controllers"), "cpu memory\n").expect("write");
        let dir = prepare(own.path(), "daimon-x", &["memory", "cpu", "pids"]).expect("prepare");
        assert_eq!(dir, own.path().join("daimon-x"));
        let read = |p: PathBuf| std::fs::read_to_string(p).expect("read");
        assert_eq!(
            read(own.path().join("cgroup.subtree_control")),
            "+memory +cpu"
        );
        assert_eq!(read(dir.join("cgroup.subtree_control")), "+memory +cpu");
    }
}
