//! Booleans, as systemd's `parse_boolean()`: 1/yes/y/true/t/on and 0/no/n/false/f/off,
//! case-insensitive.

use super::ValueError;

pub fn parse_bool(s: &str) -> Result<bool, ValueError> {
    const TRUE: [&str; 6] = ["1", "yes", "y", "true", "t", "on"];
    const FALSE: [&str; 6] = ["0", "no", "n", "false", "f", "off"];
    if TRUE.iter().any(|t| t.eq_ignore_ascii_case(s)) {
        Ok(true)
    } else if FALSE.iter().any(|t| t.eq_ignore_ascii_case(s)) {
        Ok(false)
    } else {
        Err(ValueError::new(
            s,
            "a boolean",
            "yes or no (also true/false, on/off, 1/0)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_systemd_spellings() {
        for t in ["1", "yes", "Y", "true", "t", "ON"] {
            assert_eq!(parse_bool(t), Ok(true));
        }
        for f in ["0", "no", "n", "FALSE", "f", "off"] {
            assert_eq!(parse_bool(f), Ok(false));
        }
    }

    #[test]
    fn rejects_with_message() {
        assert_eq!(
            parse_bool("maybe").unwrap_err().to_string(),
            "\"maybe\" is not a boolean; expected yes or no (also true/false, on/off, 1/0)"
        );
        assert!(parse_bool("").is_err());
    }
}
