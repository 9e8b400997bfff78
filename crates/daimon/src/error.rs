//! The CLI's one error type: an exit code and one actionable line.
//!
//! Exit codes follow systemctl (PRODUCT.md): 1 error, 3 a unit is not active
//! (`status`), 4 unknown unit. `main` prints the message as `daimon: MESSAGE`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    pub fn new(code: i32, message: impl Into<String>) -> CliError {
        CliError {
            code,
            message: message.into(),
        }
    }

    /// Exit 1 with this message.
    pub fn fail(message: impl Into<String>) -> CliError {
        CliError::new(1, message)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type CliResult<T = i32> = Result<T, CliError>;
