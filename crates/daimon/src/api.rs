//! `daimon api` and the API line of `daimon status`: where daimond's HTTP API
//! is, read from its discovery file (`api.json` in the runtime directory).
//!
//! Must never: print the token unless asked (`--show-token`); a terminal's
//! scrollback and a CI log are not places for it.

use daimon_proto::Paths;

use crate::commands::{connect, print};
use crate::error::{CliError, CliResult};

/// `api.json` parsed, or why there is none.
pub fn read(paths: &Paths) -> Result<serde_json::Value, CliError> {
    let path = paths.api_file();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CliError::fail(format!(
                "{} does not exist: daimond runs without its HTTP API (DAIMON_API_PORT=off, \
                 or the port could not be bound: see \"daimon logs daimond\")",
                path.display()
            )));
        }
        Err(e) => return Err(CliError::fail(format!("{}: {e}", path.display()))),
    };
    serde_json::from_str(&text).map_err(|e| CliError::fail(format!("{}: {e}", path.display())))
}

/// `daimon api [--show-token]`: the discovery file as JSON, the token left
/// out (or shown). Starts daimond if none runs, as every command does.
pub fn run(paths: &Paths, show_token: bool) -> CliResult {
    drop(connect(paths)?);
    let mut v = read(paths)?;
    if !show_token && let Some(o) = v.as_object_mut() {
        o.remove("token");
    }
    let text =
        serde_json::to_string_pretty(&v).map_err(|e| CliError::fail(format!("JSON: {e}")))?;
    print(&(text + "\n"))
}

/// The line `daimon status` ends its table with, if the API runs.
pub fn status_line(paths: &Paths) -> Option<String> {
    let v = read(paths).ok()?;
    let url = v["url"].as_str()?;
    Some(format!(
        "HTTP API: {url} (token: daimon api --show-token)\n"
    ))
}
