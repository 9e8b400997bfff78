//! syslog over TLS (RFC 5425): the `TLS*=` settings of `[Forward]`, the
//! rustls client configuration built from their PEM files, the handshake,
//! and noticing that the server closed the connection.
//!
//! The peer's certificate is always verified (RFC 5425 section 5.1: the
//! client authenticates the server by its certificate chain and name), and
//! there is no switch to turn that off: a test server gets a test CA, which
//! `TLSCAFile=` trusts. The files are read again at each connection, so a
//! renewed certificate or CA is used from the next reconnect on.

use std::io::{self, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// The CA bundle trusted without `TLSCAFile=`: Debian's and Ubuntu's
/// (ca-certificates), also where Alpine and Arch keep one.
pub const SYSTEM_CA: &str = "/etc/ssl/certs/ca-certificates.crt";

pub type Stream = StreamOwned<ClientConnection, TcpStream>;

/// `TLSCAFile=`, `TLSCertFile=`, `TLSKeyFile=` and `TLSServerName=`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub server_name: Option<String>,
}

impl Settings {
    pub fn is_empty(&self) -> bool {
        *self == Settings::default()
    }

    /// Takes one key of `[Forward]`: `None` when it is not a TLS key. A
    /// relative file is in `dir` (daimond.conf's); an empty value resets,
    /// as in systemd's unit files.
    pub fn set(&mut self, key: &str, value: &str, dir: &Path) -> Option<Result<(), String>> {
        let file = (!value.is_empty()).then(|| dir.join(value));
        match key {
            "TLSCAFile" => self.ca_file = file,
            "TLSCertFile" => self.cert_file = file,
            "TLSKeyFile" => self.key_file = file,
            "TLSServerName" if value.is_empty() => self.server_name = None,
            "TLSServerName" => {
                if let Err(why) = server_name(Some(value), "") {
                    return Some(Err(why));
                }
                self.server_name = Some(value.to_string());
            }
            _ => return None,
        }
        Some(Ok(()))
    }
}

/// The name the server's certificate must carry: `TLSServerName=`, or the
/// HOST of `tls://HOST:PORT` (an IP address is checked against the
/// certificate's IP addresses, as RFC 5425 section 5.2 allows).
pub fn server_name(configured: Option<&str>, host: &str) -> Result<ServerName<'static>, String> {
    let (key, name) = match configured {
        Some(n) => ("TLSServerName", n),
        None => ("Target", host.trim_start_matches('[').trim_end_matches(']')),
    };
    ServerName::try_from(name.to_string())
        .map_err(|_| format!("{key}: {name:?} is neither a DNS name nor an IP address"))
}

fn read(key: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{key}={}: cannot read: {e}", path.display()))
}

fn certificates(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(key, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{key}={}: not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{key}={}: holds no \"-----BEGIN CERTIFICATE-----\" block",
            path.display()
        ));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = read("TLSKeyFile", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        format!(
            "TLSKeyFile={}: no PKCS#8, RSA or EC private key in PEM ({e})",
            path.display()
        )
    })
}

/// The client configuration the settings describe, with ring's algorithms;
/// every problem is one line naming the setting and its file.
pub fn client_config(s: &Settings) -> Result<Arc<ClientConfig>, String> {
    let ca = match &s.ca_file {
        Some(p) => p.clone(),
        None if Path::new(SYSTEM_CA).exists() => PathBuf::from(SYSTEM_CA),
        None => {
            return Err(format!(
                "no TLSCAFile= and no system CA bundle at {SYSTEM_CA}: set TLSCAFile= to the CA that signed the server's certificate"
            ));
        }
    };
    let mut roots = RootCertStore::empty();
    let (added, _unusable) = roots.add_parsable_certificates(certificates("TLSCAFile", &ca)?);
    if added == 0 {
        return Err(format!(
            "TLSCAFile={}: none of its certificates can be used as a CA",
            ca.display()
        ));
    }
    // rustls 0.23.48 deprecates ring's provider because it has no
    // post-quantum key exchange (X25519MLKEM768 is aws-lc-rs only). It keeps
    // X25519, P-256 and P-384, which syslog servers (rsyslog's gtls and ossl
    // drivers) offer, and aws-lc-rs would need cmake and a large C build.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let builder = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots);
    let config = match (&s.cert_file, &s.key_file) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(certificates("TLSCertFile", cert)?, private_key(key)?)
            .map_err(|e| {
                format!(
                    "TLSCertFile={} with TLSKeyFile={}: {e}",
                    cert.display(),
                    key.display()
                )
            })?,
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// TLS over a connected socket (its timeouts bound the handshake), the
/// handshake done: a refused certificate is an error here, before any line
/// is written.
pub fn connect(s: &Settings, host: &str, sock: TcpStream) -> io::Result<Stream> {
    let timeout = sock.read_timeout()?;
    let config = client_config(s).map_err(io::Error::other)?;
    let name = server_name(s.server_name.as_deref(), host).map_err(io::Error::other)?;
    let shown = name.to_str().into_owned();
    let conn =
        ClientConnection::new(config, name).map_err(|e| io::Error::other(format!("TLS: {e}")))?;
    let mut stream = StreamOwned::new(conn, sock);
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|e| handshake_error(e, s, &shown))?;
    }
    if stream.conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3) {
        // In TLS 1.3 the handshake ends for the client before the server
        // has checked the client's certificate (RFC 8446 section 4.4.2);
        // a server that refuses it (or wanted one) says so in an alert
        // right after. Wait for that verdict, or a session ticket, so a
        // refusal is reported and no batch is written into the void.
        stream.sock.set_read_timeout(Some(VERDICT))?;
        let verdict = match stream.conn.read_tls(&mut stream.sock) {
            Ok(0) => Err("it closed the connection".to_string()),
            Ok(_) => match stream.conn.process_new_packets() {
                Ok(state) if state.peer_has_closed() => Err("it closed the connection".to_string()),
                Ok(_) => Ok(()),
                Err(e) => Err(e.to_string()),
            },
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(why) = verdict {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                refused(&why, s),
            ));
        }
        stream.sock.set_read_timeout(timeout)?;
    }
    Ok(stream)
}

/// How long a new TLS 1.3 connection waits for the server's verdict on the
/// client (an alert, or a session ticket): on a server that sends neither,
/// each connection costs this once.
const VERDICT: Duration = Duration::from_millis(500);

/// "the server refused the connection after the handshake (received fatal
/// alert: CertificateRequired)", with what decides it.
fn refused(why: &str, s: &Settings) -> String {
    let hint = match &s.cert_file {
        Some(cert) => format!(
            "is TLSCertFile={} signed by a CA the server trusts?",
            cert.display()
        ),
        None => "does it require a client certificate (TLSCertFile= and TLSKeyFile=)?".into(),
    };
    format!("TLS: the server refused the connection after the handshake ({why}): {hint}")
}

/// "TLS handshake failed: invalid peer certificate: UnknownIssuer", with
/// the settings that decide it.
fn handshake_error(e: io::Error, s: &Settings, name: &str) -> io::Error {
    let ca = s
        .ca_file
        .as_deref()
        .unwrap_or(Path::new(SYSTEM_CA))
        .display();
    io::Error::new(
        e.kind(),
        format!(
            "TLS handshake failed: {e} (server name {name}, checked against TLSCAFile={ca}; TLSServerName= sets the name)"
        ),
    )
}

/// What the server did with the connection since the last look.
#[derive(Debug, PartialEq, Eq)]
pub enum Peer {
    Open,
    /// close_notify or end of file: reconnect.
    Closed,
    /// A fatal alert or a broken record: worth reporting.
    Failed(String),
}

/// Reads what the server sent without blocking (a syslog server sends
/// nothing but TLS records, such as TLS 1.3 session tickets, which are
/// processed here) and says whether the connection is still open.
pub fn peer(s: &mut Stream) -> Peer {
    if let Err(e) = s.sock.set_nonblocking(true) {
        return Peer::Failed(e.to_string());
    }
    let peer = loop {
        match s.conn.read_tls(&mut s.sock) {
            Ok(0) => break Peer::Closed,
            Ok(_) => match s.conn.process_new_packets() {
                Ok(state) if state.peer_has_closed() => break Peer::Closed,
                Ok(state) => {
                    // Application data from a syslog server means nothing.
                    let mut sink = vec![0u8; state.plaintext_bytes_to_read()];
                    let _ = s.conn.reader().read(&mut sink);
                }
                Err(e) => break Peer::Failed(format!("TLS: the server ended the connection: {e}")),
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Peer::Open,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break Peer::Closed,
        }
    };
    let _ = s.sock.set_nonblocking(false);
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_name_is_the_host_unless_set() {
        assert_eq!(
            server_name(None, "logs.example.com").map(|n| n.to_str().into_owned()),
            Ok("logs.example.com".into())
        );
        assert!(matches!(
            server_name(None, "[::1]"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(
            server_name(None, "127.0.0.1"),
            Ok(ServerName::IpAddress(_))
        ));
        assert_eq!(
            server_name(Some("logs.test"), "127.0.0.1").map(|n| n.to_str().into_owned()),
            Ok("logs.test".into())
        );
        let e = server_name(Some("not a name"), "x").expect_err("bad name");
        assert!(e.starts_with("TLSServerName: \"not a name\""), "{e}");
    }

    #[test]
    fn file_problems_name_the_setting_and_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.pem");
        let e = client_config(&Settings {
            ca_file: Some(missing.clone()),
            ..Settings::default()
        })
        .expect_err("missing CA");
        assert!(
            e.starts_with(&format!("TLSCAFile={}: cannot read: ", missing.display())),
            "{e}"
        );

        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").expect("write");
        let e = client_config(&Settings {
            ca_file: Some(junk.clone()),
            ..Settings::default()
        })
        .expect_err("no certificate");
        assert_eq!(
            e,
            format!(
                "TLSCAFile={}: holds no \"-----BEGIN CERTIFICATE-----\" block",
                junk.display()
            )
        );

        let broken = dir.path().join("broken.pem");
        std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\n!!!!\n").expect("write");
        let e = client_config(&Settings {
            ca_file: Some(broken.clone()),
            ..Settings::default()
        })
        .expect_err("bad PEM");
        assert!(
            e.starts_with(&format!("TLSCAFile={}: not valid PEM: ", broken.display())),
            "{e}"
        );

        let e = private_key(&junk).expect_err("no key");
        assert!(
            e.starts_with(&format!("TLSKeyFile={}: no PKCS#8", junk.display())),
            "{e}"
        );
    }
}
