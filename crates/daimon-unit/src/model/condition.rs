//! `Condition*=` and `Assert*=` lines and systemd's rule for combining them.

/// One `Condition*=` or `Assert*=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The directive without `Condition`/`Assert`, e.g. `PathExists`.
    pub kind: String,
    /// `!`: the result is inverted.
    pub negate: bool,
    /// `|`: a triggering condition (at least one of these must hold).
    pub trigger: bool,
    pub value: String,
}

impl Condition {
    /// Evaluate the path-based kinds against the file system; `None` for kinds this crate
    /// does not evaluate (the caller decides, e.g. treats them as met).
    pub fn check_path(&self) -> Option<bool> {
        let p = std::path::Path::new(&self.value);
        let raw = match self.kind.as_str() {
            "PathExists" => p.exists(),
            "PathIsDirectory" => p.is_dir(),
            "PathIsSymbolicLink" => p.is_symlink(),
            "FileNotEmpty" => p.metadata().is_ok_and(|m| m.is_file() && m.len() > 0),
            "DirectoryNotEmpty" => std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_some()),
            "FileIsExecutable" => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    p.metadata()
                        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                }
                #[cfg(not(unix))]
                {
                    p.is_file()
                }
            }
            _ => return None,
        };
        Some(raw != self.negate)
    }
}

/// systemd's rule for a list of conditions: every non-trigger condition must hold, and if
/// there are trigger (`|`) conditions, at least one of them must hold. `check` returns the
/// (already negation-applied) result of one condition.
pub fn conditions_met(conditions: &[Condition], mut check: impl FnMut(&Condition) -> bool) -> bool {
    let mut any_trigger = false;
    let mut trigger_ok = false;
    for c in conditions {
        let ok = check(c);
        if c.trigger {
            any_trigger = true;
            trigger_ok |= ok;
        } else if !ok {
            return false;
        }
    }
    !any_trigger || trigger_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(kind: &str, value: &str, negate: bool, trigger: bool) -> Condition {
        Condition {
            kind: kind.into(),
            negate,
            trigger,
            value: value.into(),
        }
    }

    #[test]
    fn path_conditions() {
        let root = std::env::temp_dir();
        let root = root.to_string_lossy();
        assert_eq!(
            cond("PathExists", &root, false, false).check_path(),
            Some(true)
        );
        assert_eq!(
            cond("PathExists", &root, true, false).check_path(),
            Some(false)
        );
        assert_eq!(
            cond("PathExists", "/nonexistent/x", false, false).check_path(),
            Some(false)
        );
        assert_eq!(
            cond("PathIsDirectory", &root, false, false).check_path(),
            Some(true)
        );
        assert_eq!(
            cond("Virtualization", "kvm", false, false).check_path(),
            None
        );
    }

    #[test]
    fn trigger_rules() {
        let plain_ok = cond("A", "", false, false);
        let plain_bad = cond("B", "", false, false);
        let trig_ok = cond("C", "", false, true);
        let trig_bad = cond("D", "", false, true);
        let check = |c: &Condition| c.kind == "A" || c.kind == "C";
        assert!(conditions_met(&[], check));
        assert!(conditions_met(std::slice::from_ref(&plain_ok), check));
        assert!(!conditions_met(&[plain_ok.clone(), plain_bad], check));
        assert!(conditions_met(
            &[plain_ok.clone(), trig_bad.clone(), trig_ok],
            check
        ));
        assert!(!conditions_met(&[plain_ok, trig_bad], check));
    }
}
