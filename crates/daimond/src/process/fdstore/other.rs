//! Kept descriptors of other kinds than output pipes (a service's
//! `FDSTORE=1` descriptors): handed to the store like pipes, under a
//! payload that names its kind, and listed back apart from them.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::sys::socket::ControlMessage;

use super::FdStore;
use crate::fdstore_keeper::proto;

/// Kept descriptors that are no output pipe: their payload is JSON with a
/// `"kind"` (which a [`super::PipeMeta`] never has), e.g. a service's `FDSTORE=1`
/// descriptors. Handed to the store like pipes, listed back apart from them.
#[derive(Default)]
pub(super) struct OtherKept {
    /// A copy of each, by id, for a store started after this one died.
    pub(super) kept: BTreeMap<u64, (OwnedFd, Vec<u8>)>,
    /// What the last listing returned, until [`FdStore::take_other`].
    pub(super) listed: Vec<(u64, OwnedFd, Vec<u8>)>,
}

/// Whether a payload is of another kind than a pipe's.
pub(super) fn is_other(payload: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(payload).is_ok_and(|v| v.get("kind").is_some())
}

impl FdStore {
    /// Hands a copy of `fd` to the store with `payload` (JSON with a
    /// `"kind"`); the id to close it with, or `None` without a store.
    pub fn put_other(&mut self, fd: BorrowedFd<'_>, payload: &[u8]) -> Option<u64> {
        self.path.as_ref()?;
        let copy = fd.try_clone_to_owned().ok()?;
        let id = self.next_id;
        self.next_id += 1;
        if self.conn.is_some()
            && let Err(e) = self.send_other(id, copy.as_fd(), payload)
        {
            self.gone(&e);
        }
        self.other.kept.insert(id, (copy, payload.to_vec()));
        Some(id)
    }

    /// Keeps a copy of `id` (listed back from the store) for a store started
    /// after this one died.
    pub fn remember_other(&mut self, id: u64, fd: BorrowedFd<'_>, payload: &[u8]) {
        if let Ok(copy) = fd.try_clone_to_owned() {
            self.other.kept.insert(id, (copy, payload.to_vec()));
        }
    }

    /// The descriptors of other kinds the store listed at [`FdStore::open`]
    /// (id, descriptor, payload); each stays kept until [`FdStore::close`].
    pub fn take_other(&mut self) -> Vec<(u64, OwnedFd, Vec<u8>)> {
        std::mem::take(&mut self.other.listed)
    }

    pub(super) fn send_other(&self, id: u64, fd: BorrowedFd<'_>, payload: &[u8]) -> io::Result<()> {
        let msg = proto::encode(proto::OP_PUT, id, payload).ok_or(io::ErrorKind::InvalidInput)?;
        let raw = [fd.as_raw_fd()];
        self.send(&msg, &[ControlMessage::ScmRights(&raw)])
    }
}
