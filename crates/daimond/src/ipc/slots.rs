//! Connection slots: how many clients are served at once, and who gives way.
//!
//! A connection is *idle* from accept until its request has been read (the
//! CLI sends `Hello` and its request in one write, so a real client is idle
//! for microseconds), then *busy* while its request is served (a job, a log
//! stream). When every slot is taken, the oldest idle connection is told to
//! go and its slot given to the newcomer, so that idle or trickling clients
//! can never lock the CLI out; only when all slots serve real requests is the
//! newcomer told that daimond is busy. All of this runs on the daemon's one
//! thread: a `RefCell`, no lock.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use tokio::sync::{Notify, oneshot};

/// Told to an idle connection that must give way; it answers and closes.
pub type Eviction = oneshot::Receiver<()>;

#[derive(Default)]
pub struct Slots {
    inner: RefCell<Inner>,
    /// Woken whenever a slot frees (for the bounded wait at exit).
    freed: Notify,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    /// Every connection holding a slot, oldest first; idle ones keep the sender
    /// that evicts them.
    members: BTreeMap<u64, Option<oneshot::Sender<()>>>,
}

/// One connection's slot; freed on drop.
pub struct Slot {
    slots: Rc<Slots>,
    id: u64,
}

impl Slots {
    /// A slot for a new connection, evicting the oldest idle one when all `cap`
    /// are taken; `None` when every slot serves a request.
    pub fn admit(self: &Rc<Self>, cap: usize) -> Option<(Slot, Eviction)> {
        let mut inner = self.inner.borrow_mut();
        if inner.members.len() >= cap {
            let oldest_idle = inner
                .members
                .iter()
                .find(|(_, evict)| evict.is_some())
                .map(|(id, _)| *id)?;
            if let Some(Some(evict)) = inner.members.remove(&oldest_idle) {
                let _ = evict.send(());
            }
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let (tx, rx) = oneshot::channel();
        inner.members.insert(id, Some(tx));
        Some((
            Slot {
                slots: self.clone(),
                id,
            },
            rx,
        ))
    }

    /// Connections holding a slot.
    pub fn open(&self) -> usize {
        self.inner.borrow().members.len()
    }

    /// Resolves the next time a slot frees.
    pub async fn freed(&self) {
        self.freed.notified().await;
    }
}

impl Slot {
    /// The request has been read: from now on this connection is not evicted.
    pub fn busy(&self) {
        if let Some(evict) = self.slots.inner.borrow_mut().members.get_mut(&self.id) {
            *evict = None;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.inner.borrow_mut().members.remove(&self.id);
        // One stored permit: a slot freed before `freed()` is awaited is not missed.
        self.slots.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_idle_gives_way_and_busy_ones_never_do() {
        let slots = Rc::new(Slots::default());
        let (a, mut a_evict) = slots.admit(2).unwrap();
        let (b, mut b_evict) = slots.admit(2).unwrap();
        // Full: `a`, the oldest idle, is evicted for the newcomer.
        let (c, _c_evict) = slots.admit(2).unwrap();
        assert!(a_evict.try_recv().is_ok());
        assert!(b_evict.try_recv().is_err());
        assert_eq!(slots.open(), 2);
        drop(a); // its task ends later; the slot was already given away
        assert_eq!(slots.open(), 2);
        // Both remaining serve requests: a newcomer is refused.
        b.busy();
        c.busy();
        assert!(slots.admit(2).is_none());
        drop(b);
        assert!(slots.admit(2).is_some());
    }
}
