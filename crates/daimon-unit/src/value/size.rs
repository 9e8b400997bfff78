//! Byte sizes, as systemd's `parse_size()` with base 1024: `512`, `64K`, `1.5G`, with
//! suffixes K M G T P E (optionally followed by `B`, e.g. `64KB` is not accepted by systemd
//! either, so it is not here), `infinity`, and for memory limits a percentage of RAM.

use super::ValueError;

/// A memory limit as systemd.resource-control(5) takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteLimit {
    Bytes(u64),
    /// Of physical memory, in hundredths of a percent (`50%` = 5000).
    Percent(u32),
    Infinity,
}

const EXPECTED: &str = "e.g. 512K, 64M, 1G or infinity";

/// Parse a plain size (no percentage, no infinity).
pub fn parse_bytes(s: &str) -> Result<u64, ValueError> {
    let err = || ValueError::new(s, "a size in bytes", EXPECTED);
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c {
                'B' => 0,
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                'P' => 50,
                'E' => 60,
                _ => return Err(err()),
            };
            (t[..i].trim_end(), 1u128 << shift)
        }
        _ => (t, 1u128),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let digits_ok = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits_ok(int) || !digits_ok(frac) {
        return Err(err());
    }
    let int_v: u128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| err())?
    };
    let mut total = int_v.checked_mul(mult).ok_or_else(err)?;
    if !frac.is_empty() {
        let d = &frac[..frac.len().min(18)];
        let f: u128 = d.parse().map_err(|_| err())?;
        total += f * mult / 10u128.pow(d.len() as u32);
    }
    u64::try_from(total).map_err(|_| err())
}

/// Parse a memory limit: a size, `infinity`, or a percentage.
pub fn parse_byte_limit(s: &str) -> Result<ByteLimit, ValueError> {
    let t = s.trim();
    if t == "infinity" {
        return Ok(ByteLimit::Infinity);
    }
    if let Some(p) = t.strip_suffix('%') {
        return parse_percent(p)
            .map(ByteLimit::Percent)
            .ok_or_else(|| ValueError::new(s, "a percentage", "e.g. 50% (0% to 100%)"))
            .and_then(|v| match v {
                ByteLimit::Percent(x) if x > 10_000 => {
                    Err(ValueError::new(s, "a percentage", "e.g. 50% (0% to 100%)"))
                }
                v => Ok(v),
            });
    }
    parse_bytes(t).map(ByteLimit::Bytes)
}

/// `12.34` -> 1234 (hundredths of a percent); any non-negative value.
pub(crate) fn parse_percent(p: &str) -> Option<u32> {
    let (int, frac) = p.split_once('.').unwrap_or((p, ""));
    if int.is_empty()
        || frac.len() > 2
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let i: u32 = int.parse().ok()?;
    let f: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().ok()?
    };
    i.checked_mul(100)?.checked_add(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512"), Ok(512));
        assert_eq!(parse_bytes("64K"), Ok(65536));
        assert_eq!(parse_bytes("1.5G"), Ok(3 << 29));
        assert_eq!(parse_byte_limit("infinity"), Ok(ByteLimit::Infinity));
        assert_eq!(parse_byte_limit("50%"), Ok(ByteLimit::Percent(5000)));
        assert_eq!(parse_byte_limit("2T"), Ok(ByteLimit::Bytes(2 << 40)));
    }

    #[test]
    fn failures() {
        assert_eq!(
            parse_bytes("lots").unwrap_err().to_string(),
            "\"lots\" is not a size in bytes; expected e.g. 512K, 64M, 1G or infinity"
        );
        assert_eq!(
            parse_byte_limit("150%").unwrap_err().to_string(),
            "\"150%\" is not a percentage; expected e.g. 50% (0% to 100%)"
        );
        for bad in ["", "K", "1X", "-1", "99999999E"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
