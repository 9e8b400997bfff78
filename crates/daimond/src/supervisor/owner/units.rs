//! The owner's units and jobs: every loaded unit's entry, which units are
//! enabled, units `remove` deleted while they ran, and the transactions
//! (jobs) in flight.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, btree_map};

use crate::supervisor::jobs::Txn;
use crate::supervisor::registry::Entry;

/// The unit table and the jobs on it. The rest of the supervisor reads and
/// changes entries through the map-like methods below; the owner's own files
/// also keep the enabled set, the removed units and the transactions here.
pub(in crate::supervisor) struct Units {
    entries: BTreeMap<String, Entry>,
    /// Units enabled (`daimon enable`), saved in the state directory.
    enabled: BTreeSet<String>,
    /// Units `remove` deleted while they ran: forgotten once stopped.
    removed: BTreeSet<String>,
    /// Transactions in flight, by id.
    txns: BTreeMap<u64, Txn>,
    next_txn: u64,
}

impl Default for Units {
    fn default() -> Units {
        Units {
            entries: BTreeMap::new(),
            enabled: BTreeSet::new(),
            removed: BTreeSet::new(),
            txns: BTreeMap::new(),
            next_txn: 1,
        }
    }
}

impl Units {
    pub(in crate::supervisor) fn get<Q>(&self, name: &Q) -> Option<&Entry>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.entries.get(name)
    }

    pub(in crate::supervisor) fn get_mut<Q>(&mut self, name: &Q) -> Option<&mut Entry>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.entries.get_mut(name)
    }

    pub(in crate::supervisor) fn contains_key<Q>(&self, name: &Q) -> bool
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.entries.contains_key(name)
    }

    pub(in crate::supervisor) fn insert(&mut self, name: String, e: Entry) -> Option<Entry> {
        self.entries.insert(name, e)
    }

    pub(in crate::supervisor) fn remove<Q>(&mut self, name: &Q) -> Option<Entry>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.entries.remove(name)
    }

    pub(in crate::supervisor) fn entry(
        &mut self,
        name: String,
    ) -> btree_map::Entry<'_, String, Entry> {
        self.entries.entry(name)
    }

    pub(in crate::supervisor) fn iter(&self) -> btree_map::Iter<'_, String, Entry> {
        self.entries.iter()
    }

    pub(in crate::supervisor) fn keys(&self) -> btree_map::Keys<'_, String, Entry> {
        self.entries.keys()
    }

    pub(in crate::supervisor) fn values(&self) -> btree_map::Values<'_, String, Entry> {
        self.entries.values()
    }

    pub(in crate::supervisor) fn values_mut(&mut self) -> btree_map::ValuesMut<'_, String, Entry> {
        self.entries.values_mut()
    }

    pub(in crate::supervisor) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(in crate::supervisor) fn is_enabled(&self, name: &str) -> bool {
        self.enabled.contains(name)
    }

    /// The enabled units, as saved in the state directory.
    pub(in crate::supervisor) fn enabled(&self) -> &BTreeSet<String> {
        &self.enabled
    }

    /// Enables or disables `name`.
    pub(super) fn set_enabled(&mut self, name: &str, on: bool) {
        if on {
            self.enabled.insert(name.to_string());
        } else {
            self.enabled.remove(name);
        }
    }

    /// The enabled set as loaded from the state directory.
    pub(super) fn replace_enabled(&mut self, enabled: BTreeSet<String>) {
        self.enabled = enabled;
    }

    /// Units `remove` deleted while they ran.
    pub(super) fn removed(&self) -> &BTreeSet<String> {
        &self.removed
    }

    /// `names` were deleted while they ran: forgotten once stopped.
    pub(super) fn mark_removed(&mut self, names: impl IntoIterator<Item = String>) {
        self.removed.extend(names);
    }

    /// `name` was forgotten (or runs again).
    pub(super) fn unmark_removed(&mut self, name: &str) {
        self.removed.remove(name);
    }

    /// Transaction `id`, while in flight.
    pub(super) fn txn(&self, id: u64) -> Option<&Txn> {
        self.txns.get(&id)
    }

    pub(super) fn txn_mut(&mut self, id: u64) -> Option<&mut Txn> {
        self.txns.get_mut(&id)
    }

    /// Ends transaction `id`.
    pub(super) fn remove_txn(&mut self, id: u64) -> Option<Txn> {
        self.txns.remove(&id)
    }

    /// Records a new transaction; returns its id.
    pub(in crate::supervisor) fn add_txn(&mut self, txn: Txn) -> u64 {
        let id = self.next_txn;
        self.next_txn += 1;
        self.txns.insert(id, txn);
        id
    }

    /// The transactions in flight.
    pub(in crate::supervisor) fn txns(&self) -> btree_map::Values<'_, u64, Txn> {
        self.txns.values()
    }

    /// No job is in flight (a shutdown is done when this holds).
    pub(in crate::supervisor) fn no_jobs(&self) -> bool {
        self.txns.is_empty()
    }
}
