//! Exit-status lists (SuccessExitStatus=, RestartPreventExitStatus=,
//! RestartForceExitStatus=), per systemd.service(5): space-separated exit codes (0..255),
//! exit-code names from systemd.exec(5) "PROCESS EXIT CODES" and signal names (`SIGKILL`).

use super::ValueError;
use super::signal::parse_signal;

/// The codes and signals of one list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExitStatusSet {
    pub codes: Vec<u8>,
    pub signals: Vec<i32>,
}

impl ExitStatusSet {
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty() && self.signals.is_empty()
    }

    pub fn contains_code(&self, code: i32) -> bool {
        u8::try_from(code).is_ok_and(|c| self.codes.contains(&c))
    }

    pub fn contains_signal(&self, sig: i32) -> bool {
        self.signals.contains(&sig)
    }

    /// Add the words of `value` to the set.
    pub fn extend_from(&mut self, value: &str) -> Result<(), ValueError> {
        for word in value.split_ascii_whitespace() {
            if let Ok(n) = word.parse::<u32>() {
                match u8::try_from(n) {
                    Ok(c) => push_unique(&mut self.codes, c),
                    Err(_) => {
                        return Err(ValueError::new(
                            word,
                            "an exit status",
                            "a number from 0 to 255 or a signal name like SIGKILL",
                        ));
                    }
                }
            } else if let Some(c) = code_by_name(word) {
                push_unique(&mut self.codes, c);
            } else if word.starts_with("SIG") {
                let sig = parse_signal(word).map_err(|_| {
                    ValueError::new(
                        word,
                        "an exit status",
                        "a number from 0 to 255 or a signal name like SIGKILL",
                    )
                })?;
                push_unique(&mut self.signals, sig);
            } else {
                return Err(ValueError::new(
                    word,
                    "an exit status",
                    "a number from 0 to 255 or a signal name like SIGKILL",
                ));
            }
        }
        Ok(())
    }
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// Exit-code names systemd accepts (LSB, BSD sysexits.h and systemd's own).
fn code_by_name(name: &str) -> Option<u8> {
    const NAMES: &[(&str, u8)] = &[
        ("SUCCESS", 0),
        ("FAILURE", 1),
        ("INVALIDARGUMENT", 2),
        ("NOTIMPLEMENTED", 3),
        ("NOPERMISSION", 4),
        ("NOTINSTALLED", 5),
        ("NOTCONFIGURED", 6),
        ("NOTRUNNING", 7),
        ("USAGE", 64),
        ("DATAERR", 65),
        ("NOINPUT", 66),
        ("NOUSER", 67),
        ("NOHOST", 68),
        ("UNAVAILABLE", 69),
        ("SOFTWARE", 70),
        ("OSERR", 71),
        ("OSFILE", 72),
        ("CANTCREAT", 73),
        ("IOERR", 74),
        ("TEMPFAIL", 75),
        ("PROTOCOL", 76),
        ("NOPERM", 77),
        ("CONFIG", 78),
        ("CHDIR", 200),
        ("NICE", 201),
        ("FDS", 202),
        ("EXEC", 203),
        ("MEMORY", 204),
        ("LIMITS", 205),
        ("OOM_ADJUST", 206),
        ("SIGNAL_MASK", 207),
        ("STDIN", 208),
        ("STDOUT", 209),
        ("CHROOT", 210),
        ("IOPRIO", 211),
        ("TIMERSLACK", 212),
        ("SECUREBITS", 213),
        ("SETSCHEDULER", 214),
        ("CPUAFFINITY", 215),
        ("GROUP", 216),
        ("USER", 217),
        ("CAPABILITIES", 218),
        ("CGROUP", 219),
        ("SETSID", 220),
        ("CONFIRM", 221),
        ("STDERR", 222),
        ("PAM", 224),
        ("NETWORK", 225),
        ("NAMESPACE", 226),
        ("NO_NEW_PRIVILEGES", 227),
        ("SECCOMP", 228),
        ("SELINUX_CONTEXT", 229),
        ("PERSONALITY", 230),
        ("APPARMOR_PROFILE", 231),
        ("ADDRESS_FAMILIES", 232),
        ("RUNTIME_DIRECTORY", 233),
        ("CHOWN", 235),
        ("SMACK_PROCESS_LABEL", 236),
        ("KEYRING", 237),
        ("STATE_DIRECTORY", 238),
        ("CACHE_DIRECTORY", 239),
        ("LOGS_DIRECTORY", 240),
        ("CONFIGURATION_DIRECTORY", 241),
        ("NUMA_POLICY", 242),
        ("CREDENTIALS", 243),
        ("BPF", 245),
        ("EXCEPTION", 255),
    ];
    NAMES.iter().find(|(n, _)| *n == name).map(|&(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_names_and_signals() {
        let mut s = ExitStatusSet::default();
        s.extend_from("0 1 143 SIGKILL TEMPFAIL").unwrap();
        assert_eq!(s.codes, vec![0, 1, 143, 75]);
        assert_eq!(s.signals, vec![9]);
        assert!(s.contains_code(143));
        assert!(s.contains_signal(9));
    }

    #[test]
    fn failures() {
        let mut s = ExitStatusSet::default();
        assert_eq!(
            s.extend_from("256").unwrap_err().to_string(),
            "\"256\" is not an exit status; expected a number from 0 to 255 or a signal name like SIGKILL"
        );
        assert!(s.extend_from("SIGNOPE").is_err());
        assert!(s.extend_from("whatever").is_err());
    }
}
