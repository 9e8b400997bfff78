//! Dashboard logins, the Jupyter way: `daimon web` asks (with the API token)
//! for a one-time code, the browser trades the code for a session cookie, and
//! the token itself never reaches a URL or a page. Codes live [`CODE_TTL`] and
//! work once; sessions live in daimond's memory only (a restart logs out).

use std::cell::RefCell;
use std::time::{Duration, Instant};

use hyper::HeaderMap;
use hyper::header::COOKIE;

use super::guard::ct_eq;

/// How long a login code may wait to be used.
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// Codes waiting at once; the oldest goes first (each `daimon web` makes one).
const MAX_CODES: usize = 32;
/// Sessions kept at once; the oldest is forgotten first.
const MAX_SESSIONS: usize = 256;

#[derive(Default)]
pub struct Sessions {
    codes: RefCell<Vec<(String, Instant)>>,
    ids: RefCell<Vec<String>>,
}

impl Sessions {
    /// A new one-time code.
    pub fn new_code(&self) -> Result<String, String> {
        let code = super::discovery::new_token()?;
        let mut codes = self.codes.borrow_mut();
        codes.retain(|(_, t)| t.elapsed() < CODE_TTL);
        if codes.len() >= MAX_CODES {
            codes.remove(0);
        }
        codes.push((code.clone(), Instant::now()));
        Ok(code)
    }

    /// Trades a code for a new session id; `None` for an unknown, used or
    /// expired code.
    pub fn trade(&self, code: &str) -> Option<String> {
        let mut codes = self.codes.borrow_mut();
        codes.retain(|(_, t)| t.elapsed() < CODE_TTL);
        let at = codes
            .iter()
            .position(|(c, _)| ct_eq(c.as_bytes(), code.as_bytes()))?;
        codes.remove(at);
        let id = super::discovery::new_token().ok()?;
        let mut ids = self.ids.borrow_mut();
        if ids.len() >= MAX_SESSIONS {
            ids.remove(0);
        }
        ids.push(id.clone());
        Some(id)
    }

    /// Whether the request carries a live session cookie named `name`.
    pub fn valid(&self, headers: &HeaderMap, name: &str) -> bool {
        let ids = self.ids.borrow();
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .filter(|(k, _)| *k == name)
            .any(|(_, v)| ids.iter().any(|id| ct_eq(id.as_bytes(), v.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn a_code_works_once_and_gives_a_session() {
        let s = Sessions::default();
        let code = s.new_code().expect("code");
        assert_eq!(s.trade("nope"), None);
        let id = s.trade(&code).expect("session");
        assert_eq!(s.trade(&code), None, "single use");
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_str(&format!("other=1; daimon_session_1={id}")).expect("hv"),
        );
        assert!(s.valid(&h, "daimon_session_1"));
        assert!(!s.valid(&h, "daimon_session_2"), "another daimond's cookie");
        h.insert(COOKIE, HeaderValue::from_static("daimon_session_1=forged"));
        assert!(!s.valid(&h, "daimon_session_1"));
    }

    #[test]
    fn an_old_code_expires() {
        let s = Sessions::default();
        let code = s.new_code().expect("code");
        s.codes.borrow_mut()[0].1 = Instant::now() - CODE_TTL - Duration::from_secs(1);
        assert_eq!(s.trade(&code), None);
    }
}
