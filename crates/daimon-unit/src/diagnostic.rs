//! Diagnostics: what the parser tells the user about a unit file.
//!
//! Owns the `Diagnostic` type and its `file:line[:column]: message` rendering. Warnings
//! are for things systemd would accept that daimon ignores (unknown or unsupported
//! directives); errors are for values or syntax that make the unit unusable.

use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The unit still loads and runs; something in it is ignored.
    Warning,
    /// The unit is not started (systemd's "bad-setting").
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One message about one place in one file.
///
/// `line` is 1-based; `0` means the message concerns the whole file (e.g. it could not be
/// read, or a unit-level rule such as "no ExecStart=" failed). `column` is 1-based, counted
/// in characters, and points at the start of the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    pub line: u32,
    pub column: Option<u32>,
    pub message: String,
}

impl Diagnostic {
    pub fn warning(file: &Path, line: u32, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            file: file.to_path_buf(),
            line,
            column: None,
            message: message.into(),
        }
    }

    pub fn error(file: &Path, line: u32, column: Option<u32>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Whether any diagnostic in `diags` is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_forms() {
        let p = Path::new("bot.service");
        let e = Diagnostic::error(p, 7, Some(12), "RestartSec: bad");
        assert_eq!(e.to_string(), "bot.service:7:12: RestartSec: bad");
        let w = Diagnostic::warning(p, 3, "unknown");
        assert_eq!(w.to_string(), "bot.service:3: unknown");
        let f = Diagnostic::error(p, 0, None, "cannot read");
        assert_eq!(f.to_string(), "bot.service: cannot read");
    }
}
