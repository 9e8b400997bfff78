//! `daimon run --tty`: the service gets a pseudo-terminal that daimond
//! allocates (`StandardInput=tty`; its output then goes to the terminal,
//! which daimond logs line by line), for programs that want one: a REPL, a
//! game server's console, an installer that asks questions. `daimon attach`
//! connects to it.

use crate::run::env_assignment;

/// TERM values that describe no real terminal: the service gets daimond's
/// default instead.
const NO_TERMINAL: &[&str] = &["", "dumb", "unknown"];

/// `text` (a run unit) with the `[Service]` lines of `--tty`: the terminal
/// and the caller's TERM (the terminal most likely to attach), both before
/// `[Install]`.
pub fn with_tty(text: String, tty: bool, term: Option<&str>) -> String {
    if !tty {
        return text;
    }
    let mut lines = String::from("StandardInput=tty\n");
    if let Some(t) = term.filter(|t| !NO_TERMINAL.contains(t)) {
        lines.push_str(&format!(
            "Environment={}\n",
            env_assignment(&format!("TERM={t}"))
        ));
    }
    match text.find("\n[Install]\n") {
        Some(i) => format!("{}{lines}{}", &text[..i], &text[i..]),
        None => text + &lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tty_lines_go_into_the_service_section() {
        let text = "[Service]\nExecStart=/bin/sh\n\n[Install]\nWantedBy=default.target\n";
        assert_eq!(
            with_tty(text.into(), true, Some("screen-256color")),
            "[Service]\nExecStart=/bin/sh\nStandardInput=tty\nEnvironment=\"TERM=screen-256color\"\n\
             \n[Install]\nWantedBy=default.target\n"
        );
        assert_eq!(
            with_tty("[Service]\n".into(), true, Some("dumb")),
            "[Service]\nStandardInput=tty\n"
        );
        assert_eq!(with_tty(text.into(), false, Some("xterm")), text);
    }
}
