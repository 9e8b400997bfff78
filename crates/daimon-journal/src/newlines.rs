//! Owns finding every newline of a chunk, the first step of storing it.
//!
//! Log lines are short (about 100 bytes): a search that starts again after
//! each match (`memchr_iter`) pays its set-up once per line. This scans 64
//! bytes at a time into a bit mask and walks its set bits, so a chunk of
//! short lines costs a few instructions per line.

/// Calls `f` with the offset of every `\n` in `hay`, in order.
#[inline]
pub(crate) fn each(hay: &[u8], mut f: impl FnMut(usize)) {
    let mut base = 0;
    let mut blocks = hay.chunks_exact(64);
    for block in &mut blocks {
        let mut mask = mask64(block);
        while mask != 0 {
            f(base + mask.trailing_zeros() as usize);
            mask &= mask - 1;
        }
        base += 64;
    }
    for (i, &b) in blocks.remainder().iter().enumerate() {
        if b == b'\n' {
            f(base + i);
        }
    }
}

/// Bit i set when `block[i]` is `\n`; `block` is 64 bytes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn mask64(block: &[u8]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    debug_assert_eq!(block.len(), 64);
    let mut mask = 0u64;
    // SAFETY: SSE2 is part of every x86_64 CPU; each unaligned 16-byte load
    // reads within `block`, which is 64 bytes long (chunks_exact).
    unsafe {
        let nl = _mm_set1_epi8(b'\n' as i8);
        for i in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * i).cast::<__m128i>());
            let m = _mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)) as u32 as u64;
            mask |= m << (16 * i);
        }
    }
    mask
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn mask64(block: &[u8]) -> u64 {
    block
        .iter()
        .enumerate()
        .fold(0, |m, (i, &b)| m | (u64::from(b == b'\n') << i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(hay: &[u8]) -> Vec<usize> {
        let mut v = Vec::new();
        each(hay, |i| v.push(i));
        v
    }

    #[test]
    fn finds_every_newline_as_memchr_does() {
        let mut hay = Vec::new();
        for i in 0..500usize {
            hay.extend(std::iter::repeat_n(b'x', i % 131));
            hay.push(b'\n');
            if i % 7 == 0 {
                hay.push(b'\n');
            }
        }
        for end in [0, 1, 63, 64, 65, 127, 128, 1000, hay.len()] {
            let h = &hay[..end];
            assert_eq!(found(h), memchr::memchr_iter(b'\n', h).collect::<Vec<_>>());
        }
        assert_eq!(found(&[b'\n'; 64]), (0..64).collect::<Vec<_>>());
        assert!(found(&[0xFFu8; 200]).is_empty());
    }
}
