//! Messages that name the directory they mean.

mod common;

use common::*;

#[test]
fn status_in_a_fresh_home_says_where_unit_files_go() {
    // The first command starts the daemon; with DAIMON_HOME it is no system
    // instance, and nothing is said about it.
    let mut d = Daemon::home_only();
    let out = d.cli(&["status"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    // Then the HTTP API's URL (tests/api_endpoints.rs).
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().next().unwrap_or(""),
        format!(
            "No units loaded. Put unit files in {} or start one with: daimon run -- COMMAND",
            d.units_dir().display()
        )
    );
    let out = d.cli(&["status", "-o", "json"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[]\n");
}
