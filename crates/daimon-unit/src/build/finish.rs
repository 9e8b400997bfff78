//! Unit-level rules checked once every file is applied, and assembly of the [`Unit`].
//!
//! The service rules are systemd's `service_verify()`; the timer rule is
//! `timer_verify()` ("Timer unit lacks value setting").

use super::{Body, Builder};
use crate::diagnostic::Diagnostic;
use crate::model::{RestartPolicy, ServiceType, Unit, UnitBody};
use crate::name::UnitName;
use std::path::{Path, PathBuf};

impl Builder {
    /// Check unit-level rules and produce the unit.
    pub fn finish(
        self,
        name: &UnitName,
        fragment: &Path,
        dropins: Vec<PathBuf>,
        diags: &mut Vec<Diagnostic>,
    ) -> Unit {
        let (file, line) = self
            .body_line
            .clone()
            .unwrap_or_else(|| (fragment.to_path_buf(), 0));
        let mut refuse = |msg: &str| diags.push(Diagnostic::error(&file, line, None, msg));
        match &self.body {
            Body::Service(s) => {
                let oneshot = s.service_type == ServiceType::Oneshot;
                if s.exec_start.is_empty() && s.exec_stop.is_empty() && !self.success_action {
                    refuse(
                        "service has no ExecStart=, ExecStop= or SuccessAction=; expected an ExecStart= line",
                    );
                } else if s.exec_start.is_empty() && !oneshot && !self.success_action {
                    refuse("service has no ExecStart=, which only Type=oneshot services may omit");
                }
                if s.exec_start.len() > 1 && !oneshot {
                    refuse(
                        "service has more than one ExecStart=, which only Type=oneshot services may have",
                    );
                }
                if oneshot && matches!(s.restart, RestartPolicy::Always | RestartPolicy::OnSuccess)
                {
                    refuse(
                        "Restart=always and Restart=on-success are not allowed for Type=oneshot services",
                    );
                }
            }
            Body::Timer(t) => {
                if !t.has_triggers() {
                    refuse(
                        "timer has no OnCalendar=, OnActiveSec=, OnBootSec=, OnStartupSec=, OnUnitActiveSec= or OnUnitInactiveSec=",
                    );
                }
            }
            Body::Socket(s) => {
                // systemd's socket_verify(): only stream and sequential-packet
                // sockets have connections to accept.
                let nonaccepting = s.listen.iter().any(|l| {
                    matches!(
                        l.kind,
                        crate::model::ListenKind::Datagram | crate::model::ListenKind::Fifo
                    )
                });
                if s.accept && nonaccepting {
                    refuse(
                        "Accept=yes needs connections: ListenStream= or ListenSequentialPacket= only, no ListenDatagram= or ListenFIFO=",
                    );
                }
                // A warning, not an error: ListenNetlink= and the other kinds
                // daimon does not open are valid systemd (warned where they are).
                if s.listen.is_empty() {
                    diags.push(Diagnostic::warning(
                        &file,
                        line,
                        "socket has no ListenStream=, ListenDatagram=, ListenSequentialPacket= or ListenFIFO=; it will not start",
                    ));
                }
            }
            Body::Path(p) => {
                if p.path_exists.is_empty()
                    && p.path_exists_glob.is_empty()
                    && p.path_changed.is_empty()
                    && p.path_modified.is_empty()
                    && p.directory_not_empty.is_empty()
                {
                    refuse(
                        "path unit has no PathExists=, PathExistsGlob=, PathChanged=, PathModified= or DirectoryNotEmpty=",
                    );
                }
            }
            Body::Target => {}
        }
        let body = match self.body {
            Body::Service(s) => UnitBody::Service(s),
            Body::Timer(t) => UnitBody::Timer(t),
            Body::Target => UnitBody::Target,
            Body::Socket(s) => UnitBody::Socket(s),
            Body::Path(p) => UnitBody::Path(p),
        };
        Unit {
            name: name.as_str().to_string(),
            kind: name.kind(),
            unit: self.unit,
            install: self.install,
            body,
            fragment_path: fragment.to_path_buf(),
            dropin_paths: dropins,
        }
    }
}
