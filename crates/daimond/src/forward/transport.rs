//! Where forwarded lines go and how: a UDP datagram per message, or one TCP
//! connection, plain or TLS ([`super::tls`], RFC 5425), with octet-counted
//! frames, (re)connected on demand. Blocking with timeouts: it runs on the
//! forwarding thread only.

use std::fmt;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use daimon_journal::Cursor;

use super::rfc5424::octet_counted;
use super::tls;

/// Longest wait for a connection or a write.
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Udp(String),
    Tcp(String),
    Tls(String),
}

impl Target {
    /// `udp://HOST:PORT`, `tcp://HOST:PORT` or `tls://HOST:PORT`.
    pub fn parse(s: &str) -> Result<Target, String> {
        let (scheme, addr) = s
            .split_once("://")
            .ok_or("expected udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT")?;
        let port_ok = addr
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !port_ok {
            return Err("expected HOST:PORT after the scheme".into());
        }
        match scheme {
            "udp" => Ok(Target::Udp(addr.to_string())),
            "tcp" => Ok(Target::Tcp(addr.to_string())),
            "tls" => Ok(Target::Tls(addr.to_string())),
            _ => Err("the scheme is udp, tcp or tls".into()),
        }
    }

    /// HOST of HOST:PORT.
    pub fn host(&self) -> &str {
        let (Target::Udp(a) | Target::Tcp(a) | Target::Tls(a)) = self;
        a.rsplit_once(':').map_or(a.as_str(), |(h, _)| h)
    }

    fn addr(&self) -> io::Result<SocketAddr> {
        let (Target::Udp(a) | Target::Tcp(a) | Target::Tls(a)) = self;
        a.to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{a}: no address")))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Udp(a) => write!(f, "udp://{a}"),
            Target::Tcp(a) => write!(f, "tcp://{a}"),
            Target::Tls(a) => write!(f, "tls://{a}"),
        }
    }
}

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<tls::Stream>),
}

pub struct Transport {
    target: Target,
    tls: tls::Settings,
    conn: Option<Conn>,
    buf: Vec<u8>,
}

impl Transport {
    pub fn new(target: Target, tls: tls::Settings) -> Transport {
        Transport {
            target,
            tls,
            conn: None,
            buf: Vec::new(),
        }
    }

    fn connect(&self) -> io::Result<Conn> {
        let addr = self.target.addr()?;
        Ok(match self.target {
            Target::Udp(_) => {
                let any: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let s = UdpSocket::bind(any)?;
                // Connected: a server that is not there is reported (ICMP
                // port unreachable), and lines wait instead of vanishing.
                s.connect(addr)?;
                s.set_write_timeout(Some(TIMEOUT))?;
                Conn::Udp(s)
            }
            Target::Tcp(_) | Target::Tls(_) => {
                let s = TcpStream::connect_timeout(&addr, TIMEOUT)?;
                s.set_write_timeout(Some(TIMEOUT))?;
                s.set_nodelay(true)?;
                if let Target::Tls(_) = self.target {
                    // The handshake reads the server's answers.
                    s.set_read_timeout(Some(TIMEOUT))?;
                    let stream = tls::connect(&self.tls, self.target.host(), s)?;
                    return Ok(Conn::Tls(Box::new(stream)));
                }
                Conn::Tcp(s)
            }
        })
    }

    /// Whether a TCP server closed our connection (it never sends): seen
    /// before writing, so a batch is not written into a dead connection.
    fn closed(s: &TcpStream) -> bool {
        let mut b = [0u8; 1];
        let _ = s.set_nonblocking(true);
        let r = s.peek(&mut b);
        let _ = s.set_nonblocking(false);
        match r {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != io::ErrorKind::WouldBlock,
        }
    }

    /// Sends every message of `batch`, in order; on an error the connection
    /// is dropped (the next call reconnects) and the whole batch is to be
    /// sent again.
    pub fn send(&mut self, batch: &[(Cursor, Vec<u8>)]) -> io::Result<()> {
        let closed = match self.conn.as_mut() {
            Some(Conn::Tcp(s)) => Self::closed(s),
            Some(Conn::Tls(s)) => match tls::peer(s) {
                tls::Peer::Open => false,
                tls::Peer::Closed => true,
                tls::Peer::Failed(why) => {
                    self.conn = None;
                    return Err(io::Error::new(io::ErrorKind::ConnectionAborted, why));
                }
            },
            _ => false,
        };
        if closed {
            self.conn = None;
        }
        if self.conn.is_none() {
            self.conn = Some(self.connect()?);
        }
        let res = match self.conn.as_mut() {
            Some(Conn::Udp(s)) => batch.iter().try_for_each(|(_, m)| s.send(m).map(|_| ())),
            Some(Conn::Tcp(s)) => {
                self.buf.clear();
                for (_, m) in batch {
                    octet_counted(m, &mut self.buf);
                }
                s.write_all(&self.buf)
            }
            Some(Conn::Tls(s)) => {
                self.buf.clear();
                for (_, m) in batch {
                    octet_counted(m, &mut self.buf);
                }
                // flush: a write that failed below TLS is reported here.
                s.write_all(&self.buf).and_then(|()| s.flush())
            }
            None => Ok(()),
        };
        if res.is_err() {
            self.conn = None;
        }
        res
    }
}

/// A TLS connection ends with close_notify (RFC 5425 section 4.4), so the
/// server knows nothing was cut off when daimond stops.
impl Drop for Transport {
    fn drop(&mut self) {
        if let Some(Conn::Tls(s)) = self.conn.as_mut() {
            s.conn.send_close_notify();
            let _ = s.conn.complete_io(&mut s.sock);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            Target::parse("udp://127.0.0.1:514"),
            Ok(Target::Udp("127.0.0.1:514".into()))
        );
        assert_eq!(
            Target::parse("tcp://logs.example.com:6514"),
            Ok(Target::Tcp("logs.example.com:6514".into()))
        );
        assert_eq!(
            Target::parse("tls://[::1]:6514"),
            Ok(Target::Tls("[::1]:6514".into()))
        );
        assert_eq!(Target::Tls("[::1]:6514".into()).host(), "[::1]");
        assert_eq!(Target::Tls("logs:6514".into()).host(), "logs");
        assert!(Target::parse("127.0.0.1:514").is_err());
        assert!(Target::parse("udp://127.0.0.1").is_err());
        assert!(Target::parse("udp://:514").is_err());
        assert!(Target::parse("http://x:80").is_err());
    }
}
