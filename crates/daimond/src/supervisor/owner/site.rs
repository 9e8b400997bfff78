//! Where daimond runs and what its services are told of it: its files, the
//! host (user, limits, directory bases), the specifiers units expand, and
//! the sockets services reach it by (sd_notify(3), syslog).

use daimon_proto::Paths;
use daimon_unit::SpecifierContext;

use super::Owner;
use crate::supervisor::exec::Host;

/// Set once at start (the sockets as soon as they are bound), then read.
pub(super) struct Site {
    paths: Paths,
    spec: SpecifierContext,
    host: Host,
    /// The sd_notify(3) socket services get as `NOTIFY_SOCKET` (a path or an
    /// abstract `@name`, see `notify`), or why binding it failed.
    notify: Option<Result<String, String>>,
    /// `DAIMON_SYSLOG_SOCKET` for services (see `crate::syslog`).
    syslog_socket: Option<String>,
}

impl Site {
    pub(super) fn new(paths: Paths, nofile: crate::fd_limits::OriginalNofile) -> Site {
        let spec = SpecifierContext::from_env(paths.system_mode);
        let host = Host::detect(&paths, nofile);
        Site {
            paths,
            spec,
            host,
            notify: None,
            syslog_socket: None,
        }
    }

    pub(super) fn paths(&self) -> &Paths {
        &self.paths
    }

    /// What `%`-specifiers in unit files expand to.
    pub(super) fn spec(&self) -> &SpecifierContext {
        &self.spec
    }

    pub(super) fn host(&self) -> &Host {
        &self.host
    }
}

impl Owner {
    /// Where daimond keeps its files.
    pub fn paths(&self) -> &Paths {
        self.site.paths()
    }

    /// The user and host services run for.
    pub(in crate::supervisor) fn host(&self) -> &Host {
        self.site.host()
    }

    /// The notification socket's address as `NOTIFY_SOCKET` gives it, if bound.
    pub(in crate::supervisor) fn notify_socket(&self) -> Option<&str> {
        self.site.notify.as_ref()?.as_deref().ok()
    }

    /// Why there is no notification socket, when binding it failed.
    pub(in crate::supervisor) fn notify_failure(&self) -> Option<&str> {
        self.site
            .notify
            .as_ref()?
            .as_ref()
            .err()
            .map(String::as_str)
    }

    /// Records the bound notification socket, or why it could not be bound.
    pub(in crate::supervisor) fn set_notify_socket(&mut self, bound: Result<String, String>) {
        self.site.notify = Some(bound);
    }

    /// The syslog socket services are told of (`crate::syslog`).
    pub fn syslog_socket(&self) -> Option<&str> {
        self.site.syslog_socket.as_deref()
    }

    pub fn set_syslog_socket(&mut self, path: String) {
        self.site.syslog_socket = Some(path);
    }
}
