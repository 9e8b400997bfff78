//! Small numeric grammars: octal file modes (`0755`, systemd's `parse_mode()`), nice
//! levels (-20..19, `parse_nice()`), and plain unsigned integers.

use super::ValueError;

/// An octal access mode, 0..=07777 (UMask=, *DirectoryMode=, SocketMode=).
pub fn parse_mode(s: &str) -> Result<u32, ValueError> {
    let t = s.trim();
    let err = || ValueError::new(s, "an octal file mode", "e.g. 0755 or 022");
    if t.is_empty() || !t.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(err());
    }
    let v = u32::from_str_radix(t, 8).map_err(|_| err())?;
    if v > 0o7777 { Err(err()) } else { Ok(v) }
}

/// A nice level, -20 (most favourable) to 19.
pub fn parse_nice(s: &str) -> Result<i32, ValueError> {
    let err = || ValueError::new(s, "a nice level", "an integer from -20 to 19");
    let v: i32 = s.trim().parse().map_err(|_| err())?;
    if (-20..=19).contains(&v) {
        Ok(v)
    } else {
        Err(err())
    }
}

/// A non-negative integer (StartLimitBurst=, RestartSteps=, ...).
pub fn parse_unsigned(s: &str) -> Result<u32, ValueError> {
    s.trim()
        .parse()
        .map_err(|_| ValueError::new(s, "a non-negative integer", "e.g. 5"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0755"), Ok(0o755));
        assert_eq!(parse_mode("022"), Ok(0o22));
        assert_eq!(parse_mode("7777"), Ok(0o7777));
        assert_eq!(
            parse_mode("0855").unwrap_err().to_string(),
            "\"0855\" is not an octal file mode; expected e.g. 0755 or 022"
        );
        assert!(parse_mode("17777").is_err());
        assert!(parse_mode("").is_err());
    }

    #[test]
    fn nice() {
        assert_eq!(parse_nice("-20"), Ok(-20));
        assert_eq!(parse_nice("19"), Ok(19));
        assert_eq!(
            parse_nice("20").unwrap_err().to_string(),
            "\"20\" is not a nice level; expected an integer from -20 to 19"
        );
    }

    #[test]
    fn unsigned() {
        assert_eq!(parse_unsigned("5"), Ok(5));
        assert_eq!(
            parse_unsigned("-1").unwrap_err().to_string(),
            "\"-1\" is not a non-negative integer; expected e.g. 5"
        );
    }
}
