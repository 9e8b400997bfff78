//! The address of a `Listen*=` line (systemd.socket(5); systemd's
//! `socket_address_parse()`): a port alone, `IPv4:port`, `[IPv6]:port`, an
//! absolute path (a Unix socket, or the FIFO of `ListenFIFO=`) or `@name`
//! (a Linux abstract socket).

use std::net::{Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use super::ValueError;

/// What a `Listen*=` line binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddress {
    /// A port alone: every address, IPv6 and IPv4 on one socket where the
    /// host has IPv6 (`BindIPv6Only=` decides), else IPv4's.
    Port(u16),
    Inet(SocketAddr),
    /// A path in the file system (a Unix socket or a FIFO).
    Path(PathBuf),
    /// `@name`: a socket in the abstract namespace (no file).
    Abstract(String),
}

impl ListenAddress {
    /// The address of an all-addresses socket for a port alone, `[::]:port`.
    pub fn any_v6(port: u16) -> SocketAddr {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))
    }
}

impl std::fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenAddress::Port(p) => write!(f, "{p}"),
            ListenAddress::Inet(a) => write!(f, "{a}"),
            ListenAddress::Path(p) => write!(f, "{}", p.display()),
            ListenAddress::Abstract(n) => write!(f, "@{n}"),
        }
    }
}

const EXPECTED: &str = "a port (8080), an address and port (127.0.0.1:8080, [::1]:8080), an absolute path (/run/app.sock) or @name";

/// Parses a socket address as `ListenStream=`/`ListenDatagram=` take it.
pub fn parse_listen_address(s: &str) -> Result<ListenAddress, ValueError> {
    let bad = || ValueError::new(s, "a socket address", EXPECTED);
    if s.starts_with('/') {
        // sockaddr_un holds 108 bytes with the NUL (unix(7)).
        if s.len() >= 108 {
            return Err(ValueError::new(
                s,
                "a Unix socket path that fits",
                "a path shorter than 108 bytes",
            ));
        }
        return Ok(ListenAddress::Path(PathBuf::from(s)));
    }
    if let Some(name) = s.strip_prefix('@') {
        if name.is_empty() || name.len() >= 107 {
            return Err(bad());
        }
        return Ok(ListenAddress::Abstract(name.to_string()));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<u16>() {
            Ok(p) if p > 0 => Ok(ListenAddress::Port(p)),
            _ => Err(ValueError::new(s, "a port", "a number from 1 to 65535")),
        };
    }
    match s.parse::<SocketAddr>() {
        Ok(a) if a.port() > 0 => Ok(ListenAddress::Inet(a)),
        Ok(_) => Err(ValueError::new(s, "a port", "a number from 1 to 65535")),
        Err(_) => Err(bad()),
    }
}

/// `ListenFIFO=`: an absolute path.
pub fn parse_fifo_path(s: &str) -> Result<ListenAddress, ValueError> {
    if s.starts_with('/') {
        Ok(ListenAddress::Path(PathBuf::from(s)))
    } else {
        Err(ValueError::new(s, "an absolute path", "e.g. /run/app.fifo"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_systemd_accepts() {
        assert_eq!(parse_listen_address("80"), Ok(ListenAddress::Port(80)));
        assert_eq!(
            parse_listen_address("127.0.0.1:8080"),
            Ok(ListenAddress::Inet("127.0.0.1:8080".parse().unwrap()))
        );
        assert_eq!(
            parse_listen_address("[::1]:443"),
            Ok(ListenAddress::Inet("[::1]:443".parse().unwrap()))
        );
        assert_eq!(
            parse_listen_address("/run/app.sock"),
            Ok(ListenAddress::Path("/run/app.sock".into()))
        );
        assert_eq!(
            parse_listen_address("@app"),
            Ok(ListenAddress::Abstract("app".into()))
        );
    }

    #[test]
    fn what_it_refuses_says_what_was_expected() {
        for bad in [
            "0",
            "70000",
            "localhost:80",
            "app.sock",
            "@",
            "1.2.3.4:0",
            "",
        ] {
            let e = parse_listen_address(bad).expect_err(bad);
            assert!(e.0.contains("expected"), "{bad}: {e}");
        }
        let long = format!("/{}", "a".repeat(120));
        assert!(parse_listen_address(&long).is_err());
        assert!(parse_fifo_path("x.fifo").is_err());
    }
}
