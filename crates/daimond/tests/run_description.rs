//! A transient unit's description is its command as typed, quoting included.

mod common;

use common::*;

#[test]
fn a_transient_units_description_keeps_the_commands_quoting() {
    let mut d = Daemon::start();
    d.ok(&[
        "run",
        "--name",
        "quoted",
        "--",
        "sh",
        "-c",
        "sleep 1000; echo 'done'",
    ]);
    d.wait_main_pid("quoted");
    let typed = r#"sh -c 'sleep 1000; echo '\''done'\'''"#;
    let st = d.status_json("quoted");
    assert_eq!(st["description"], typed, "{st}");
    let text = d.ok(&["status", "quoted"]);
    assert!(text.contains(typed), "{text}");
    d.ok(&["stop", "quoted"]);
}
