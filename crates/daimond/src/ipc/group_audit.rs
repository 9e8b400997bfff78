//! What members of group `daimon` do with root's daimond, on the record.
//!
//! In system mode, group `daimon` may use the socket (PRODUCT.md), and a `Run`
//! request carries a whole unit: its ExecStart= runs as root unless the unit
//! says `User=`. So the group is root-equivalent, as Docker's `docker` group
//! is (README says so). Refusing would take away the reason the group exists;
//! instead each such request is logged with the peer's uid and the commands,
//! in daimond's own log (`daimon logs daimond`). Environment values are not
//! logged: they may hold secrets.

use daimon_proto::RunRequest;

/// The warning to log when a peer that is neither the daemon's user nor root
/// (so: let in as a member of group `daimon`) submits `run`; `None` otherwise.
pub fn run_note(
    peer_uid: u32,
    daemon_uid: u32,
    group: Option<u32>,
    run: &RunRequest,
) -> Option<String> {
    if group.is_none() || peer_uid == daemon_uid || peer_uid == 0 {
        return None;
    }
    let user = run
        .unit_text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("User="))
        .next_back()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or("root");
    let commands: Vec<&str> = run
        .unit_text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ExecStart="))
        .collect();
    Some(format!(
        "uid {peer_uid} (group daimon) runs {} as {user}: {}",
        run.name,
        commands.join(" ; ")
    ))
}

/// Logs [`run_note`] for a connection's peer, if there is one to log.
pub fn note_run(s: &tokio::net::UnixStream, daemon_uid: u32, group: Option<u32>, run: &RunRequest) {
    let Ok(cred) = s.peer_cred() else { return };
    if let Some(text) = run_note(cred.uid(), daemon_uid, group, run) {
        tracing::warn!("{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> RunRequest {
        RunRequest {
            name: "x.service".into(),
            unit_text: text.into(),
            save: false,
            enable: false,
            timer: None,
            socket: None,
        }
    }

    #[test]
    fn a_group_members_run_is_noted_with_its_user_and_commands() {
        let r = run("[Service]\nExecStart=/bin/sh -c id\nEnvironment=TOKEN=secret\n");
        assert_eq!(
            run_note(1001, 0, Some(998), &r).as_deref(),
            Some("uid 1001 (group daimon) runs x.service as root: /bin/sh -c id")
        );
        let r = run("[Service]\nUser=nobody\nExecStart=/bin/true\n");
        assert!(run_note(1001, 0, Some(998), &r).is_some_and(|t| t.contains("as nobody")));
        assert!(
            !run_note(1001, 0, Some(998), &r)
                .unwrap_or_default()
                .contains("secret")
        );
        // The daemon's own user, root, and user mode (no group) are not noted.
        assert_eq!(run_note(0, 0, Some(998), &r), None);
        assert_eq!(run_note(1000, 1000, None, &r), None);
        assert_eq!(run_note(1001, 1000, None, &r), None);
    }
}
