//! Query strings (`application/x-www-form-urlencoded`, as browsers and curl
//! send them): decoded strictly, and only the parameters an endpoint names.

/// `(name, value)` pairs in order, decoded; an unknown name or a bad escape is
/// a one-line complaint naming it.
pub fn parse(q: Option<&str>, known: &[&str]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = decode(k)?;
        if !known.contains(&k.as_str()) {
            let shown: String = k.chars().take(64).collect();
            return Err(if known.is_empty() {
                format!("unknown query parameter {shown:?}: this endpoint takes none")
            } else {
                format!(
                    "unknown query parameter {shown:?}: this endpoint takes {}",
                    known.join(", ")
                )
            });
        }
        out.push((k, decode(v)?));
    }
    Ok(out)
}

/// Percent-decoding with `+` as a space; the result must be UTF-8.
fn decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad percent escape in query {s:?}"))?;
                out.push(hex);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("query {s:?} is not UTF-8 once decoded"))
}

/// Percent-decoding of one path segment (no `+` rule there).
pub fn decode_segment(s: &str) -> Result<String, String> {
    decode(&s.replace('+', "%2B"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_refuses_unknown_names() {
        let q = parse(
            Some("unit=a&unit=b%40c&grep=x+y&lines=3"),
            &["unit", "grep", "lines"],
        )
        .expect("valid");
        assert_eq!(
            q,
            [
                ("unit", "a"),
                ("unit", "b@c"),
                ("grep", "x y"),
                ("lines", "3")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        let e = parse(Some("unti=a"), &["unit"]).expect_err("typo");
        assert!(e.starts_with("unknown query parameter \"unti\""), "{e}");
        assert!(parse(Some("unit=%zz"), &["unit"]).is_err());
        assert!(parse(Some("unit=%ff"), &["unit"]).is_err());
        assert_eq!(parse(None, &[]), Ok(vec![]));
        assert_eq!(decode_segment("a+b%2Ec").as_deref(), Ok("a+b.c"));
    }
}
