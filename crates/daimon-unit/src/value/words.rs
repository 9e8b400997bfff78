//! Word splitting with quotes and C escapes, as systemd's `extract_first_word()` with
//! `EXTRACT_UNQUOTE | EXTRACT_CUNESCAPE | EXTRACT_UNESCAPE_SEPARATORS` (the flags used for
//! command lines and `Environment=`). Unknown escapes are kept as written, as systemd
//! does when it retries with `EXTRACT_CUNESCAPE_RELAX`.
//!
//! - words are separated by whitespace;
//! - `"..."` and `'...'` quote parts of a word (`--opt="a b"` is one word `--opt=a b`);
//! - `\n \t \r \a \b \f \v \\ \" \' \s \xHH \OOO \uHHHH \UHHHHHHHH` are C escapes;
//! - a backslash before a space keeps the space inside the word.

use super::ValueError;

/// Split `s` into words. Fails only on an unbalanced quote.
pub fn split_words(s: &str) -> Result<Vec<String>, ValueError> {
    let mut words = Vec::new();
    let mut rest = s;
    while let Some(next) = next_word(rest)? {
        words.push(next.0);
        rest = next.1;
    }
    Ok(words)
}

/// Extract the first word of `s`; returns the word and the rest, or `None` at the end.
pub fn next_word(s: &str) -> Result<Option<(String, &str)>, ValueError> {
    let s = s.trim_start_matches(is_sep);
    if s.is_empty() {
        return Ok(None);
    }
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        match (quote, c) {
            (_, '\\') => {
                let rest = &s[i + 1..];
                match unescape_one(rest) {
                    Some((ch, used)) => {
                        word.push(ch);
                        // Skip the characters the escape consumed.
                        let end = i + 1 + used;
                        while it.peek().is_some_and(|&(j, _)| j < end) {
                            it.next();
                        }
                    }
                    None => {
                        // Unknown escape or a trailing backslash: kept as written.
                        word.push('\\');
                    }
                }
            }
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, c) if is_sep(c) => return Ok(Some((word, &s[i..]))),
            (_, c) => word.push(c),
        }
    }
    if quote.is_some() {
        return Err(ValueError::new(
            s,
            "a correctly quoted value",
            "every \" or ' to be closed",
        ));
    }
    Ok(Some((word, "")))
}

fn is_sep(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Decode one C escape at the start of `rest` (the text after a backslash): the character
/// and how many bytes of `rest` it used.
fn unescape_one(rest: &str) -> Option<(char, usize)> {
    let c = rest.chars().next()?;
    let simple = match c {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        's' => Some(' '),
        '\\' | '"' | '\'' | ' ' | '\t' | ';' => Some(c),
        _ => None,
    };
    if let Some(ch) = simple {
        return Some((ch, c.len_utf8()));
    }
    let hex = |n: usize, from: usize| -> Option<(char, usize)> {
        let digits = rest.get(from..from + n)?;
        let v = u32::from_str_radix(digits, 16).ok()?;
        (v != 0).then_some(())?;
        char::from_u32(v).map(|ch| (ch, from + n))
    };
    match c {
        'x' => hex(2, 1),
        'u' => hex(4, 1),
        'U' => hex(8, 1),
        '0'..='7' => {
            let digits = rest.get(0..3)?;
            let v = u32::from_str_radix(digits, 8).ok()?;
            (v != 0 && v < 256).then_some(())?;
            char::from_u32(v).map(|ch| (ch, 3))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        split_words(s).unwrap()
    }

    #[test]
    fn quoting_and_escapes() {
        assert_eq!(w("a  b\tc"), ["a", "b", "c"]);
        assert_eq!(w("--opt=\"a b\" 'c d'"), ["--opt=a b", "c d"]);
        assert_eq!(w("a\\ b"), ["a b"]);
        assert_eq!(w("\"x\\\"y\""), ["x\"y"]);
        assert_eq!(w("\\x41\\101\\n"), ["AA\n"]);
        assert_eq!(w("\\d"), ["\\d"]);
        assert_eq!(w("''"), [""]);
        assert!(w("   ").is_empty());
    }

    #[test]
    fn unbalanced() {
        assert_eq!(
            split_words("a \"b c").unwrap_err().to_string(),
            "\"\\\"b c\" is not a correctly quoted value; expected every \" or ' to be closed"
        );
    }
}
