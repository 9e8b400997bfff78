//! The detach key of `daimon attach`: how it is written and the byte a
//! terminal in raw mode sends for it.

/// Ctrl-], as telnet and `systemd-run --pty` use.
pub const DEFAULT: &str = "ctrl-]";

/// The byte for `ctrl-X`, `C-X` or `^X` (X a letter or one of `@[\]^_?`),
/// e.g. `ctrl-]` is 0x1d and `^?` is DEL; `Err` says what is accepted.
pub fn parse(key: &str) -> Result<u8, String> {
    let lower = key.to_ascii_lowercase();
    let rest = ["ctrl-", "ctrl+", "c-", "^"]
        .iter()
        .find_map(|p| lower.strip_prefix(p).map(|_| &key[p.len()..]));
    let byte = match rest.map(str::as_bytes) {
        Some([b'?']) => Some(0x7f),
        Some([c]) if c.is_ascii_alphabetic() => Some(c.to_ascii_uppercase() & 0x1f),
        Some([c @ (b'@' | b'[' | b'\\' | b']' | b'^' | b'_')]) => Some(c & 0x1f),
        _ => None,
    };
    byte.ok_or_else(|| {
        format!(
            "invalid detach key \"{key}\": expected ctrl-LETTER or one of ctrl-] ctrl-\\ ctrl-^ \
             ctrl-_ ctrl-@ (also written ^] or C-])"
        )
    })
}

/// How the key is shown to the user (`Ctrl-]`).
pub fn display(byte: u8) -> String {
    match byte {
        0x7f => "Ctrl-?".into(),
        b => format!("Ctrl-{}", (b | 0x40) as char),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_every_spelling() {
        assert_eq!(parse(DEFAULT), Ok(0x1d));
        assert_eq!(parse("^]"), Ok(0x1d));
        assert_eq!(parse("C-\\"), Ok(0x1c));
        assert_eq!(parse("Ctrl-A"), Ok(0x01));
        assert_eq!(parse("ctrl-q"), Ok(0x11));
        assert_eq!(parse("^?"), Ok(0x7f));
        for bad in ["", "x", "ctrl-", "ctrl-ab", "ctrl-1", "alt-x"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(display(0x1d), "Ctrl-]");
        assert_eq!(display(0x01), "Ctrl-A");
    }
}
