//! syslog out: the log store, or a filtered part of it, forwarded to a
//! syslog server as RFC 5424 ([`rfc5424`]) over UDP, TCP (octet-counted) or
//! TLS ([`tls`], RFC 5425: the same frames in a TLS connection).
//!
//! Owns the `[Forward]` section of `daimond.conf` and one thread that reads
//! the store and sends. The store is the queue: the thread reads after the
//! last position it sent, so while the server is down lines wait in the
//! store and go out in order when it answers again, and the position is
//! kept in `forward.cursor` in the state directory (written after each sent
//! batch), so a restart of daimond neither resends what was sent nor skips
//! what was not. Forwarding starts at the end of the store the first time.
//! A line is sent at least once: one written into a TCP connection the
//! server then drops is lost with it unless the server closed cleanly (a
//! closed connection is noticed before each batch), as with rsyslog's own
//! plain TCP forwarding.
//!
//! Keys: `Target=udp://HOST:PORT`, `tcp://HOST:PORT` or `tls://HOST:PORT`
//! (required), `MaxLevel=` (a priority name or number: that and more
//! important; default every line), `Unit=` (repeatable: only these units;
//! default every unit); with `tls://`: `TLSCAFile=` (default the system's
//! bundle), `TLSCertFile=` with `TLSKeyFile=` (a client certificate), and
//! `TLSServerName=` (default HOST). Relative file names are relative to
//! daimond.conf's directory.

mod rfc5424;
mod tls;
mod transport;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use daimon_journal::{Cursor, Journal, Query};
use daimon_unit::Diagnostic;

use transport::{Target, Transport};

/// Lines read and sent at once; the position is saved after each batch.
const BATCH: usize = 512;
/// Longest wait for new lines before checking whether daimond is stopping.
const IDLE: Duration = Duration::from_millis(250);
/// Retry delays while the server does not answer.
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);
/// The saved position's file in the state directory.
const STATE_FILE: &str = "forward.cursor";

/// The `[Forward]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardConfig {
    target: Target,
    max_level: Option<u8>,
    units: Vec<String>,
    tls: tls::Settings,
}

/// Reads `[Forward]` from `daimond.conf`'s text; `None` when absent or
/// without a valid `Target=`. Problems are one-line diagnostics.
pub fn parse(file: &Path, bytes: &[u8]) -> (Option<ForwardConfig>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut target = None;
    let mut seen = false;
    let mut max_level = None;
    let mut units = Vec::new();
    let mut tls = tls::Settings::default();
    let mut tls_line = 0;
    let mut bad_tls = false;
    let mut ignore = Vec::new();
    let dir = file.parent().unwrap_or(Path::new("/"));
    for section in daimon_unit::syntax::parse(file, bytes, &mut ignore) {
        if section.name != "Forward" {
            continue;
        }
        seen = true;
        for e in section.entries {
            let v = e.value.trim();
            match e.key.as_str() {
                "Target" => match Target::parse(v) {
                    Ok(t) => target = Some(t),
                    Err(why) => diags.push(Diagnostic::warning(
                        file,
                        e.line,
                        format!("invalid Target={v:?}: {why}; nothing is forwarded"),
                    )),
                },
                "MaxLevel" => match daimon_journal::priority::parse(v) {
                    Some(p) => max_level = Some(p),
                    None if v.is_empty() => max_level = None,
                    None => diags.push(Diagnostic::warning(
                        file,
                        e.line,
                        format!(
                            "invalid MaxLevel={v:?}: expected 0-7 or emerg ... debug; every line is forwarded"
                        ),
                    )),
                },
                "Unit" if v.is_empty() => units.clear(),
                "Unit" => units.push(v.to_string()),
                other => match tls.set(other, v, dir) {
                    Some(Ok(())) => tls_line = e.line,
                    Some(Err(why)) => {
                        tls_line = e.line;
                        bad_tls = true;
                        diags.push(Diagnostic::warning(
                            file,
                            e.line,
                            format!("invalid {why}; nothing is forwarded"),
                        ));
                    }
                    None => diags.push(Diagnostic::warning(
                        file,
                        e.line,
                        format!(
                            "unknown key {other}= in [Forward]; known: Target=, MaxLevel=, Unit=, TLSCAFile=, TLSCertFile=, TLSKeyFile=, TLSServerName="
                        ),
                    )),
                },
            }
        }
    }
    if seen && target.is_none() && diags.is_empty() {
        diags.push(Diagnostic::warning(
            file,
            0,
            "[Forward] has no Target= (udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT); nothing is forwarded",
        ));
    }
    let tls_target = matches!(target, Some(Target::Tls(_)));
    if target.is_some() && !tls_target && !tls.is_empty() {
        diags.push(Diagnostic::warning(
            file,
            tls_line,
            "TLS*= settings apply only to Target=tls://HOST:PORT; they are ignored",
        ));
    }
    if tls_target && tls.cert_file.is_some() != tls.key_file.is_some() {
        // Half a client identity: the server would refuse us, or we would
        // connect without the identity the administrator meant.
        diags.push(Diagnostic::warning(
            file,
            tls_line,
            "TLSCertFile= and TLSKeyFile= go together (a client certificate and its key); nothing is forwarded",
        ));
        target = None;
    }
    if bad_tls {
        target = None;
    }
    let cfg = target.map(|target| ForwardConfig {
        target,
        max_level,
        units,
        tls,
    });
    (cfg, diags)
}

/// The forwarding thread; [`Forwarder::stop`] ends it.
pub struct Forwarder {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Forwarder {
    /// Starts forwarding when `daimond.conf` asks for it. Diagnostics go to
    /// daimond's own log (call after it is attached to the store).
    pub fn start(conf: &Path, state: &Path, journal: &Journal) -> Option<Forwarder> {
        let bytes = std::fs::read(conf).ok()?;
        let (cfg, diags) = parse(conf, &bytes);
        for d in diags {
            tracing::warn!("{d}");
        }
        let cfg = cfg?;
        let stop = Arc::new(AtomicBool::new(false));
        let (journal, state, flag) = (journal.clone(), state.join(STATE_FILE), stop.clone());
        let thread = std::thread::Builder::new()
            .name("daimond-forward".into())
            .spawn(move || run(cfg, journal, state, flag));
        match thread {
            Ok(thread) => Some(Forwarder { stop, thread }),
            Err(e) => {
                tracing::warn!("cannot start forwarding: {e}");
                None
            }
        }
    }

    /// Ends the thread (within [`IDLE`], or a send's timeout).
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.thread.join();
    }
}

fn load_position(path: &Path) -> Option<Cursor> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Temp file, fsync, rename: a crash leaves the old position or the new.
fn save_position(path: &Path, c: Cursor) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    writeln!(f, "{c}")?;
    f.sync_data()?;
    std::fs::rename(&tmp, path)
}

/// Sleeps `d` in slices, returning early (true) when stopping.
fn pause(d: Duration, stop: &AtomicBool) -> bool {
    let end = std::time::Instant::now() + d;
    while std::time::Instant::now() < end {
        if stop.load(Ordering::Acquire) {
            return true;
        }
        std::thread::sleep((end - std::time::Instant::now()).min(IDLE));
    }
    stop.load(Ordering::Acquire)
}

fn run(cfg: ForwardConfig, journal: Journal, state: PathBuf, stop: Arc<AtomicBool>) {
    let mut reader = match journal.reader() {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("forwarding: the log store cannot be read: {e}");
            return;
        }
    };
    let hostname = journal.config().hostname.clone();
    let query = Query {
        units: cfg
            .units
            .iter()
            .flat_map(|u| [u.clone(), daimon_proto::unit_name(u)])
            .collect(),
        max_priority: cfg.max_level,
        ..Query::default()
    };
    let mut pos = match load_position(&state) {
        Some(c) => c,
        None => {
            // The first time: from now on, not the whole history.
            let end = reader
                .query(
                    &Query {
                        lines: Some(1),
                        ..Query::default()
                    },
                    &mut |_| true,
                )
                .unwrap_or_default();
            let _ = save_position(&state, end);
            end
        }
    };
    // The last failure reported: a new one is logged (say a refused
    // certificate after a missing file was fixed), a repeat is not.
    let mut failed: Option<String> = None;
    if let Target::Tls(_) = cfg.target
        && let Err(e) = tls::client_config(&cfg.tls)
    {
        // Said now, not at the first line to send.
        tracing::warn!(
            "forwarding to {}: {e}; lines wait in the log store until this is fixed",
            cfg.target
        );
        failed = Some(e);
    }
    let mut transport = Transport::new(cfg.target.clone(), cfg.tls.clone());
    let mut retry = RETRY_MIN;
    let mut batch: Vec<(Cursor, Vec<u8>)> = Vec::with_capacity(BATCH);
    while !stop.load(Ordering::Acquire) {
        batch.clear();
        let mut q = query.clone();
        q.after = Some(pos);
        let seen = reader.query(&q, &mut |r| {
            let mut m = Vec::with_capacity(r.message.len() + 64);
            rfc5424::format(r, &hostname, &mut m);
            batch.push((r.cursor, m));
            batch.len() < BATCH
        });
        let end = match seen {
            Ok(end) => end,
            Err(e) => {
                tracing::warn!("forwarding: the log store cannot be read: {e}");
                if pause(RETRY_MAX, &stop) {
                    break;
                }
                continue;
            }
        };
        if batch.is_empty() {
            // Nothing of ours (or lines the filter skips): move past them.
            if end > pos {
                pos = end;
                let _ = save_position(&state, pos);
            }
            reader.wait_for_new(&pos, IDLE);
            continue;
        }
        match transport.send(&batch) {
            Ok(()) => {
                if failed.take().is_some() {
                    tracing::info!("forwarding to {}: sending again", cfg.target);
                }
                retry = RETRY_MIN;
                // A full batch ends at its last line; a short one saw
                // everything up to `end`.
                pos = if batch.len() == BATCH {
                    batch[batch.len() - 1].0
                } else {
                    end.max(batch[batch.len() - 1].0)
                };
                if let Err(e) = save_position(&state, pos) {
                    tracing::warn!(
                        "forwarding: cannot save the position in {}: {e}",
                        state.display()
                    );
                }
            }
            Err(e) => {
                let e = e.to_string();
                if failed.as_ref() != Some(&e) {
                    tracing::warn!(
                        "forwarding to {} failed: {e}; lines wait in the log store until it answers",
                        cfg.target
                    );
                    failed = Some(e);
                }
                if pause(retry, &stop) {
                    break;
                }
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> (Option<ForwardConfig>, Vec<String>) {
        let (c, d) = parse(Path::new("/c/daimond.conf"), text.as_bytes());
        (c, d.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn settings() {
        let (c, d) = p(
            "[Journal]\nSystemMaxUse=1G\n[Forward]\nTarget=tcp://127.0.0.1:514\nMaxLevel=warning\nUnit=web\nUnit=db\n",
        );
        assert!(d.is_empty(), "{d:?}");
        let c = c.expect("forwarding");
        assert_eq!(c.max_level, Some(4));
        assert_eq!(c.units, ["web", "db"]);
        assert_eq!(c.target.to_string(), "tcp://127.0.0.1:514");
        let (c, d) = p("[Journal]\nSystemMaxUse=1G\n");
        assert!(c.is_none() && d.is_empty());
    }

    #[test]
    fn bad_settings_are_one_line_naming_the_line() {
        let (c, d) = p("[Forward]\nTarget=carrier-pigeon://x\n");
        assert!(c.is_none());
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].starts_with("/c/daimond.conf:2: invalid Target="),
            "{d:?}"
        );
        let (_, d) = p("[Forward]\nTarget=udp://[::1]:514\nColour=red\n");
        assert!(
            d[0].starts_with("/c/daimond.conf:3: unknown key Colour="),
            "{d:?}"
        );
        let (c, d) = p("[Forward]\nMaxLevel=err\n");
        assert!(c.is_none());
        assert!(d[0].contains("no Target="), "{d:?}");
    }

    #[test]
    fn tls_settings() {
        let (c, d) = p(
            "[Forward]\nTarget=tls://logs.example.com:6514\nTLSCAFile=/etc/ssl/ca.pem\n\
             TLSCertFile=client.pem\nTLSKeyFile=/k/client.key\nTLSServerName=syslog.example.com\n",
        );
        assert!(d.is_empty(), "{d:?}");
        let c = c.expect("forwarding");
        assert_eq!(c.target.to_string(), "tls://logs.example.com:6514");
        assert_eq!(
            c.tls,
            tls::Settings {
                ca_file: Some("/etc/ssl/ca.pem".into()),
                // Relative to daimond.conf's directory.
                cert_file: Some("/c/client.pem".into()),
                key_file: Some("/k/client.key".into()),
                server_name: Some("syslog.example.com".into()),
            }
        );
        // Nothing but the target: the system's CA bundle and the target's host.
        let (c, d) = p("[Forward]\nTarget=tls://10.0.0.1:6514\n");
        assert!(d.is_empty(), "{d:?}");
        assert!(c.expect("forwarding").tls.is_empty());
        // An empty value resets.
        let (c, _) = p("[Forward]\nTarget=tls://h:1\nTLSCAFile=/a.pem\nTLSCAFile=\n");
        assert_eq!(c.expect("forwarding").tls.ca_file, None);
    }

    #[test]
    fn bad_tls_settings_are_one_line_naming_the_line() {
        // Half a client identity forwards nothing rather than connect
        // without it.
        let (c, d) = p("[Forward]\nTarget=tls://h:6514\nTLSCertFile=/c.pem\n");
        assert!(c.is_none());
        assert_eq!(
            d,
            [
                "/c/daimond.conf:3: TLSCertFile= and TLSKeyFile= go together (a client certificate and its key); nothing is forwarded"
            ]
        );
        let (c, d) = p("[Forward]\nTarget=tls://h:6514\nTLSServerName=no such name\n");
        assert!(c.is_none());
        assert_eq!(
            d,
            [
                "/c/daimond.conf:3: invalid TLSServerName: \"no such name\" is neither a DNS name nor an IP address; nothing is forwarded"
            ]
        );
        // TLS settings beside a plain target are said to be ignored.
        let (c, d) = p("[Forward]\nTarget=tcp://h:514\nTLSCAFile=/ca.pem\n");
        assert!(c.is_some());
        assert_eq!(
            d,
            [
                "/c/daimond.conf:3: TLS*= settings apply only to Target=tls://HOST:PORT; they are ignored"
            ]
        );
        let (_, d) = p("[Forward]\nTarget=tls:/h:6514\n");
        assert!(d[0].contains("tls://HOST:PORT"), "{d:?}");
    }

    #[test]
    fn the_position_survives_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join(STATE_FILE);
        assert_eq!(load_position(&f), None);
        save_position(&f, Cursor(0x2a)).expect("save");
        assert_eq!(load_position(&f), Some(Cursor(0x2a)));
    }
}
