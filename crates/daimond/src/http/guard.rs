//! Who may talk to the HTTP API: the checks every request passes before routing.
//!
//! The Tailscale LocalAPI / Jupyter model for a loopback port: any local user and
//! any web page the user opens can reach `127.0.0.1:PORT`, so reaching it proves
//! nothing. A request must carry the token from `api.json` (0600, readable by the
//! owner only) as `Authorization: Bearer`, compared in constant time; its `Host`
//! must name the address and port we listen on (a DNS-rebinding page sends its
//! own host name); and an `Origin`, if present, must be our own (a page on
//! another origin may send simple requests without any preflight). No CORS
//! headers are ever sent, so browsers keep other pages from reading answers.

use hyper::HeaderMap;
use hyper::header::{AUTHORIZATION, HOST, ORIGIN};

/// Why a request is refused: HTTP status, stable code, what to do.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

/// What a request is checked against.
pub struct Guard {
    token: Vec<u8>,
    /// Accepted `Host` values: the address listened on with the port, and
    /// `localhost:PORT`.
    hosts: Vec<String>,
    /// Accepted `Origin` values: `http://` and each accepted host.
    origins: Vec<String>,
}

impl Guard {
    pub fn new(token: &str, addr: std::net::IpAddr, port: u16) -> Guard {
        let shown = match addr {
            std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
            std::net::IpAddr::V4(a) => format!("{a}:{port}"),
        };
        let mut hosts = vec![shown, format!("localhost:{port}")];
        hosts.dedup();
        let origins = hosts.iter().map(|h| format!("http://{h}")).collect();
        Guard {
            token: token.as_bytes().to_vec(),
            hosts,
            origins,
        }
    }

    /// `Host`, then `Origin`, then the token; `open` skips the token (an opened
    /// `/metrics`), never the other two.
    pub fn check(&self, headers: &HeaderMap, open: bool) -> Result<(), Refusal> {
        self.place(headers)?;
        if open {
            return Ok(());
        }
        self.token(headers)
    }

    /// A request that carries a live dashboard session cookie instead of the
    /// token: `Host` and `Origin` as always, and a request that changes
    /// something must name its origin. Browsers send `Origin` with every POST
    /// (Fetch standard, "append a request Origin header"); a request without
    /// one, riding on the cookie, comes from somewhere we cannot vouch for.
    pub fn check_session(&self, headers: &HeaderMap, changes: bool) -> Result<(), Refusal> {
        self.place(headers)?;
        if changes && !headers.contains_key(ORIGIN) {
            return Err(Refusal {
                status: 403,
                code: "origin_required",
                message: "a request signed in by the dashboard's cookie that changes something \
                          must carry the page's Origin header"
                    .into(),
            });
        }
        Ok(())
    }

    /// The `Authorization: Bearer` token alone.
    pub fn token(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let given = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
        match given {
            Some(t) if ct_eq(t, &self.token) => Ok(()),
            _ => Err(Refusal {
                status: 401,
                code: "unauthorized",
                message: "send \"Authorization: Bearer TOKEN\" with the token from api.json \
                          (\"daimon api --show-token\"), or open the dashboard with \"daimon web\"; \
                          the token changes at each start of daimond"
                    .into(),
            }),
        }
    }

    /// `Host` must be ours, and `Origin`, if present.
    fn place(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = headers.get(HOST).and_then(|h| h.to_str().ok());
        if !host.is_some_and(|h| self.hosts.iter().any(|ok| ok.eq_ignore_ascii_case(h))) {
            return Err(Refusal {
                status: 421,
                code: "bad_host",
                message: format!(
                    "the Host header must be {}; use the url in api.json (\"daimon api\")",
                    self.hosts.join(" or ")
                ),
            });
        }
        if let Some(origin) = headers.get(ORIGIN) {
            let ours = origin
                .to_str()
                .is_ok_and(|o| self.origins.iter().any(|ok| ok.eq_ignore_ascii_case(o)));
            if !ours {
                return Err(Refusal {
                    status: 403,
                    code: "foreign_origin",
                    message: "requests from other web origins are refused; call the API from \
                              a program, not from a web page"
                        .into(),
                });
            }
        }
        Ok(())
    }
}

/// Equality whose time depends only on the lengths, never on where the first
/// difference is (a timing oracle would give the token away byte by byte). The
/// token's length is public (64 hex digits), so an early length check leaks
/// nothing.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keeps the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(hyper::header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn constant_time_equality() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }

    #[test]
    fn a_session_needs_our_place_and_an_origin_to_change_things() {
        let g = Guard::new("t0ken", "127.0.0.1".parse().expect("ip"), 8123);
        let code = |h: &HeaderMap, changes| g.check_session(h, changes).err().map(|r| r.code);
        let read = headers(&[(HOST, "127.0.0.1:8123")]);
        assert_eq!(code(&read, false), None);
        assert_eq!(code(&read, true), Some("origin_required"));
        let own = headers(&[(HOST, "127.0.0.1:8123"), (ORIGIN, "http://127.0.0.1:8123")]);
        assert_eq!(code(&own, true), None);
        let evil = headers(&[(HOST, "127.0.0.1:8123"), (ORIGIN, "http://evil.example")]);
        assert_eq!(code(&evil, false), Some("foreign_origin"));
        let rebound = headers(&[(HOST, "evil.example:8123")]);
        assert_eq!(code(&rebound, false), Some("bad_host"));
    }

    #[test]
    fn host_origin_then_token() {
        let g = Guard::new("t0ken", "127.0.0.1".parse().expect("ip"), 8123);
        let ok = headers(&[(HOST, "127.0.0.1:8123"), (AUTHORIZATION, "Bearer t0ken")]);
        assert_eq!(g.check(&ok, false), Ok(()));
        let local = headers(&[(HOST, "localhost:8123"), (AUTHORIZATION, "Bearer t0ken")]);
        assert_eq!(g.check(&local, false), Ok(()));
        let code = |h: &HeaderMap, open| g.check(h, open).err().map(|r| r.code);
        // DNS rebinding: the page's own name, or the right name on another port.
        let evil = headers(&[(HOST, "evil.example:8123"), (AUTHORIZATION, "Bearer t0ken")]);
        assert_eq!(code(&evil, false), Some("bad_host"));
        let port = headers(&[(HOST, "127.0.0.1:80"), (AUTHORIZATION, "Bearer t0ken")]);
        assert_eq!(code(&port, false), Some("bad_host"));
        assert_eq!(code(&HeaderMap::new(), true), Some("bad_host"));
        let page = headers(&[
            (HOST, "127.0.0.1:8123"),
            (ORIGIN, "http://evil.example"),
            (AUTHORIZATION, "Bearer t0ken"),
        ]);
        assert_eq!(code(&page, true), Some("foreign_origin"));
        let own = headers(&[
            (HOST, "127.0.0.1:8123"),
            (ORIGIN, "http://127.0.0.1:8123"),
            (AUTHORIZATION, "Bearer t0ken"),
        ]);
        assert_eq!(g.check(&own, false), Ok(()));
        for bad in [
            "Bearer t0ke",
            "Bearer t0ken1",
            "t0ken",
            "Basic t0ken",
            "Bearer ",
        ] {
            let h = headers(&[(HOST, "127.0.0.1:8123"), (AUTHORIZATION, bad)]);
            assert_eq!(code(&h, false), Some("unauthorized"), "{bad}");
        }
        let none = headers(&[(HOST, "127.0.0.1:8123")]);
        assert_eq!(code(&none, false), Some("unauthorized"));
        assert_eq!(g.check(&none, true), Ok(()), "an opened endpoint");
    }
}
