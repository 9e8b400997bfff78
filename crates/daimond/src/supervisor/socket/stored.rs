//! The fd store of sd_notify(3), as data: what a service asks with
//! `FDSTORE=1`, `FDSTOREREMOVE=1` and `FDNAME=`, and the rules systemd
//! applies to a unit's stored descriptors (systemd.service(5)
//! `FileDescriptorStoreMax=`): at most that many, none twice, names of at
//! most 255 printable characters without `:`, `stored` by default.

use std::os::fd::{AsFd, OwnedFd};

/// systemd's default name for a stored descriptor.
pub const DEFAULT_NAME: &str = "stored";

/// One stored descriptor of a unit.
#[derive(Debug)]
pub struct Kept {
    pub name: String,
    pub fd: OwnedFd,
    /// Its id in daimond's fd holder, which keeps a copy across a daimond
    /// `kill -9`.
    pub keeper: Option<u64>,
}

/// What one notification asks of the store.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub store: bool,
    pub remove: bool,
    pub name: Option<String>,
}

/// The fd-store fields of a notification (the others are the machine's).
pub fn parse(text: &str) -> Request {
    let mut r = Request::default();
    for line in text.lines() {
        match line.split_once('=') {
            Some(("FDSTORE", v)) => r.store = v == "1",
            Some(("FDSTOREREMOVE", v)) => r.remove = v == "1",
            Some(("FDNAME", v)) => r.name = Some(v.to_string()),
            _ => {}
        }
    }
    r
}

/// sd_pid_notify_with_fds(3): a name is at most 255 characters, printable
/// ASCII, without `:` (the separator of `LISTEN_FDNAMES`).
pub fn valid_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 255 && n.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b':')
}

/// The same open file as `fd` (one descriptor passed twice, or a dup of
/// it), by device and inode as the kernel reports them.
fn same_file(a: &OwnedFd, b: &OwnedFd) -> bool {
    match (rustix::fs::fstat(a.as_fd()), rustix::fs::fstat(b.as_fd())) {
        (Ok(x), Ok(y)) => x.st_dev == y.st_dev && x.st_ino == y.st_ino,
        _ => false,
    }
}

/// Adds `fds` under `name` to `list`, bounded by `max`; returns how many were
/// added (at the end of `list`) and why any was refused.
pub fn add(
    list: &mut Vec<Kept>,
    max: u32,
    name: &str,
    fds: Vec<OwnedFd>,
) -> (usize, Option<String>) {
    let mut added = 0;
    let mut refused = None;
    for fd in fds {
        if list.iter().any(|k| same_file(&k.fd, &fd)) {
            // Stored already: systemd keeps one copy.
            continue;
        }
        if list.len() >= max as usize {
            refused = Some(format!(
                "the fd store is full (FileDescriptorStoreMax={max}); descriptor not stored"
            ));
            continue;
        }
        list.push(Kept {
            name: name.to_string(),
            fd,
            keeper: None,
        });
        added += 1;
    }
    (added, refused)
}

/// Removes every descriptor named `name`; returns them (to close their
/// holder's copies).
pub fn remove(list: &mut Vec<Kept>, name: &str) -> Vec<Kept> {
    let (gone, kept): (Vec<Kept>, Vec<Kept>) = std::mem::take(list)
        .into_iter()
        .partition(|k| k.name == name);
    *list = kept;
    gone
}

/// The payload under which the holder keeps a stored descriptor.
pub fn payload(unit: &str, name: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"kind": "fd-store", "unit": unit, "name": name}))
        .unwrap_or_default()
}

/// The unit and name of a payload made by [`payload`].
pub fn from_payload(p: &[u8]) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(p).ok()?;
    if v.get("kind")?.as_str()? != "fd-store" {
        return None;
    }
    Some((
        v.get("unit")?.as_str()?.to_string(),
        v.get("name")?.as_str()?.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe() -> (OwnedFd, OwnedFd) {
        let (r, w) = std::io::pipe().expect("pipe");
        (r.into(), w.into())
    }

    #[test]
    fn fields() {
        assert_eq!(
            parse("FDSTORE=1\nFDNAME=db\n"),
            Request {
                store: true,
                remove: false,
                name: Some("db".into())
            }
        );
        assert!(parse("FDSTOREREMOVE=1\nFDNAME=db").remove);
        assert_eq!(parse("READY=1"), Request::default());
        assert!(valid_name("db-conn.1"));
        assert!(!valid_name("a:b"));
        assert!(!valid_name(""));
        assert!(!valid_name(&"x".repeat(256)));
    }

    #[test]
    fn bounded_without_duplicates_and_removed_by_name() {
        let mut list = Vec::new();
        let (r, w) = pipe();
        let again = r.try_clone().expect("dup");
        assert_eq!(add(&mut list, 2, "a", vec![r, again]), (1, None));
        let (r2, _w2) = pipe();
        let (r3, _w3) = pipe();
        let (n, why) = add(&mut list, 2, "b", vec![r2, r3]);
        assert_eq!(n, 1);
        assert!(why.is_some_and(|w| w.contains("FileDescriptorStoreMax=2")));
        assert_eq!(remove(&mut list, "a").len(), 1);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].name, "b");
        drop(w);
    }

    #[test]
    fn payload_round_trips() {
        let p = payload("db.service", "conn");
        assert_eq!(
            from_payload(&p),
            Some(("db.service".to_string(), "conn".to_string()))
        );
        assert_eq!(from_payload(b"{\"unit\":\"x\"}"), None);
    }
}
