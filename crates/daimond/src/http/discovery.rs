//! How clients find the HTTP API: its settings, its token, and `api.json`.
//!
//! Settings come from the `[API]` section of `daimond.conf` (`Port=`,
//! `Address=`, `MetricsOpen=`) and, winning over it, daimond's environment (the
//! CLI that starts daimond passes its own on): `DAIMON_API_PORT` (unset or
//! `0`: a free port the kernel picks at each start; `off`: no HTTP API),
//! `DAIMON_API_ADDRESS` (default `127.0.0.1`; anything not loopback is a
//! deliberate choice and daimond warns about it) and `DAIMON_METRICS_OPEN=1`
//! (`/metrics` without the token, for a scraper that cannot send one).
//!
//! `api.json` is written like every state file (temp file created 0600, fsync,
//! rename, fsync of the directory) so a reader never sees half a file, and
//! removed at a clean exit. It holds the token: the runtime directory is 0700
//! and the file 0600, and it is never served (Jupyter's runtime-file leak,
//! GHSA-q874-g24w-4q9g).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Bytes of randomness in a token: 256 bits.
const TOKEN_BYTES: usize = 32;

/// What the environment asks of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub addr: IpAddr,
    /// 0: any free port.
    pub port: u16,
    pub metrics_open: bool,
}

/// The settings, `None` when the API is turned off, or the one-line complaint
/// about a bad value.
pub fn settings(var: impl Fn(&str) -> Option<String>) -> Result<Option<Settings>, String> {
    let port = match var("DAIMON_API_PORT").as_deref().map(str::trim) {
        None | Some("") => 0,
        Some("off") => return Ok(None),
        Some(p) => p.parse::<u16>().map_err(|_| {
            format!(
                "DAIMON_API_PORT={p:?}: expected a port number (0 for any free port) or \"off\""
            )
        })?,
    };
    let addr = match var("DAIMON_API_ADDRESS").as_deref().map(str::trim) {
        None | Some("") => IpAddr::from([127, 0, 0, 1]),
        Some(a) => a.parse().map_err(|_| {
            format!("DAIMON_API_ADDRESS={a:?}: expected an IP address such as 127.0.0.1")
        })?,
    };
    if addr.is_unspecified() {
        // Requests must name the address in `Host` (against DNS rebinding), and
        // "any address" is none a client can name.
        return Err(format!(
            "DAIMON_API_ADDRESS={addr}: name the one address to listen on, e.g. 192.168.1.5"
        ));
    }
    let metrics_open = matches!(
        var("DAIMON_METRICS_OPEN").as_deref(),
        Some("1" | "yes" | "true")
    );
    Ok(Some(Settings {
        addr,
        port,
        metrics_open,
    }))
}

/// A new token: 256 bits from the kernel's random pool (getrandom(2), which
/// blocks only until the pool is first initialised), as 64 hex digits.
pub fn new_token() -> Result<String, String> {
    let mut buf = [0u8; TOKEN_BYTES];
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let n = unsafe {
            libc::getrandom(
                buf[got..].as_mut_ptr().cast(),
                buf.len() - got,
                0 as libc::c_uint,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("cannot make an API token: getrandom: {e}"));
        }
        got += n as usize;
    }
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The discovery file's content.
pub fn render(url: &str, port: u16, token: &str, pid: u32) -> String {
    let v = serde_json::json!({
        "url": url,
        "port": port,
        "token": token,
        "pid": pid,
        "version": env!("CARGO_PKG_VERSION"),
    });
    format!("{v:#}\n")
}

/// `api.json`, written atomically; removed when dropped (the clean exit).
pub struct ApiFile {
    path: PathBuf,
}

impl ApiFile {
    pub fn write(path: &Path, text: &str) -> Result<ApiFile, String> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(".api.json.{}", std::process::id()));
        let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(fail)?;
        let written = f
            .write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .and_then(|()| fs::rename(&tmp, path));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(fail(e));
        }
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(ApiFile {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for ApiFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn settings_default_to_loopback_and_any_port() {
        let s = settings(env(&[])).expect("valid").expect("on");
        assert_eq!(s.addr, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(s.port, 0);
        assert!(!s.metrics_open);
        assert_eq!(settings(env(&[("DAIMON_API_PORT", "off")])), Ok(None));
        let s = settings(env(&[
            ("DAIMON_API_PORT", "8123"),
            ("DAIMON_METRICS_OPEN", "1"),
        ]))
        .expect("valid")
        .expect("on");
        assert_eq!((s.port, s.metrics_open), (8123, true));
        let e = settings(env(&[("DAIMON_API_PORT", "http")])).expect_err("bad");
        assert!(e.starts_with("DAIMON_API_PORT=\"http\""), "{e}");
        let e = settings(env(&[("DAIMON_API_ADDRESS", "everywhere")])).expect_err("bad");
        assert!(e.starts_with("DAIMON_API_ADDRESS="), "{e}");
        let e = settings(env(&[("DAIMON_API_ADDRESS", "0.0.0.0")])).expect_err("any");
        assert!(e.contains("name the one address"), "{e}");
    }

    #[test]
    fn tokens_are_256_bits_and_new_each_time() {
        let a = new_token().expect("token");
        let b = new_token().expect("token");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn api_file_is_private_and_removed_on_drop() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("api.json");
        let f = ApiFile::write(&path, &render("http://127.0.0.1:1/", 1, "t", 2)).expect("write");
        let meta = fs::metadata(&path).expect("written");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let v: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).expect("read")).expect("json");
        assert_eq!(v["port"], 1);
        assert_eq!(v["token"], "t");
        drop(f);
        assert!(!path.exists());
    }
}
