//! A command line as a user would type it again at a POSIX shell: words that
//! need it single-quoted (`python3 -c 'print(1)'`), for the description of a
//! transient unit (`daimon run`), which `status` and `list-units` show.

/// `words` joined by spaces, each quoted as sh(1) reads it back unchanged:
/// bare when it holds only characters no shell treats specially, else in
/// single quotes, a `'` inside written `'\''` (POSIX, "Single-Quotes").
pub fn shell_words(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| shell_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_word(w: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !w.is_empty() && w.chars().all(plain) {
        return w.to_string();
    }
    format!("'{}'", w.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_the_quoting_a_shell_needs() {
        assert_eq!(
            shell_words(&["python3", "-c", "print(1)"]),
            "python3 -c 'print(1)'"
        );
        assert_eq!(
            shell_words(&["sh", "-c", "echo 50% $HOME"]),
            "sh -c 'echo 50% $HOME'"
        );
        assert_eq!(shell_words(&["echo", "it's", ""]), r"echo 'it'\''s' ''");
        assert_eq!(
            shell_words(&["./srv", "--port=8080", "a,b"]),
            "./srv --port=8080 a,b"
        );
    }
}
