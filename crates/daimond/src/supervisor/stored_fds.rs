//! The owner's side of the fd store (sd_notify(3) `FDSTORE=1`): a service
//! hands daimond descriptors to keep and gets them back, after the socket
//! units' ones, with `LISTEN_FDS`/`LISTEN_FDNAMES`, when it starts again.
//!
//! As in systemd, the store lives while the unit is active or has a job (a
//! restart, an automatic one too) and is emptied once it is inactive with
//! nothing pending. Each descriptor is also handed to daimond's fd holder
//! (`process::fdstore`), so a daimond killed with SIGKILL loses none: the
//! next one takes them back ([`Owner::restore_fd_store`]).

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use daimon_unit::ServiceSection;

use super::owner::Owner;
use super::socket::stored::{self, Kept};

impl Owner {
    /// The fd-store part of a notification from `unit` (its sender already
    /// allowed by NotifyAccess=): store, remove, or close what came with it.
    pub(super) fn fd_store_notify(
        &mut self,
        unit: &str,
        svc: &ServiceSection,
        text: &str,
        fds: Vec<OwnedFd>,
    ) {
        let req = stored::parse(text);
        let name = req
            .name
            .clone()
            .unwrap_or_else(|| stored::DEFAULT_NAME.into());
        if req.name.is_some() && !stored::valid_name(&name) {
            self.message(
                unit,
                4,
                format!("{unit}: FDNAME={name} is not a valid descriptor name; ignored"),
            );
            return;
        }
        if req.remove {
            let list = self.sockets.stored.entry(unit.to_string()).or_default();
            let gone = stored::remove(list, &name);
            self.forget_kept(gone);
        }
        if fds.is_empty() {
            return;
        }
        if !req.store {
            // systemd closes descriptors sent without FDSTORE=1.
            self.message(
                unit,
                4,
                format!("{unit}: got descriptors without FDSTORE=1 in a notification; closed"),
            );
            return;
        }
        if svc.fd_store_max == 0 {
            self.message(
                unit,
                4,
                format!(
                    "{unit}: got FDSTORE=1 but FileDescriptorStoreMax= is 0; descriptors closed"
                ),
            );
            return;
        }
        let store = self.fdstore().clone();
        let list = self.sockets.stored.entry(unit.to_string()).or_default();
        let (added, refused) = stored::add(list, svc.fd_store_max, &name, fds);
        let start = list.len() - added;
        let payload = stored::payload(unit, &name);
        let mut keeper = store.borrow_mut();
        for k in &mut list[start..] {
            k.keeper = keeper.put_other(k.fd.as_fd(), &payload);
        }
        drop(keeper);
        if let Some(why) = refused {
            self.message(unit, 4, format!("{unit}: {why}"));
        }
    }

    /// The stored descriptors `unit`'s main process gets, with their names.
    pub(super) fn stored_fds(&self, unit: &str) -> Vec<(RawFd, String)> {
        self.sockets
            .stored
            .get(unit)
            .map(|l| {
                l.iter()
                    .map(|k| (k.fd.as_raw_fd(), k.name.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Stores of units inactive with nothing pending are emptied.
    pub(super) fn fd_store_after_events(&mut self) {
        if self.sockets.stored.is_empty() {
            return;
        }
        let done: Vec<String> = self
            .sockets
            .stored
            .keys()
            .filter(|u| !self.unit_busy(u))
            .cloned()
            .collect();
        for u in done {
            if let Some(list) = self.sockets.stored.remove(&u) {
                self.forget_kept(list);
            }
        }
    }

    /// After a daimond restart: the descriptors the fd holder kept, back in
    /// their units' stores.
    pub fn restore_fd_store(&mut self) {
        let listed = self.fdstore().borrow_mut().take_other();
        let mut n = 0;
        for (id, fd, payload) in listed {
            let Some((unit, name)) = stored::from_payload(&payload) else {
                self.fdstore().borrow_mut().close(id);
                continue;
            };
            self.fdstore()
                .borrow_mut()
                .remember_other(id, fd.as_fd(), &payload);
            self.sockets.stored.entry(unit).or_default().push(Kept {
                name,
                fd,
                keeper: Some(id),
            });
            n += 1;
        }
        if n > 0 {
            tracing::info!("took back {n} fd-store descriptor(s) kept by the fd holder");
        }
    }

    /// Closes the holder's copies of descriptors leaving a store.
    fn forget_kept(&mut self, gone: Vec<Kept>) {
        let mut keeper = self.fdstore().borrow_mut();
        for k in gone {
            if let Some(id) = k.keeper {
                keeper.close(id);
            }
        }
    }
}
