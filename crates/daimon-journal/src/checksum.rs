//! Owns the block checksum: a fast streaming 64-bit hash that detects torn or
//! zero-filled tails after a crash (not an adversary).

use crate::codec::rd_u64;

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// A fast 64-bit checksum (4 multiply–rotate lanes, ~8 bytes per cycle):
/// detects torn or zero-filled tails, not an adversary. Streaming, so that a
/// block written from several slices needs no copy to be hashed.
pub(crate) struct Hasher {
    h: [u64; 4],
    pend: [u8; 32],
    npend: usize,
    total: u64,
}

impl Hasher {
    pub fn new() -> Hasher {
        Hasher {
            h: [
                0x243F_6A88_85A3_08D3,
                0x1319_8A2E_0370_7344,
                0xA409_3822_299F_31D0,
                0x082E_FA98_EC4E_6C89,
            ],
            pend: [0; 32],
            npend: 0,
            total: 0,
        }
    }

    #[inline]
    fn round(h: &mut [u64; 4], c: &[u8]) {
        for (i, lane) in h.iter_mut().enumerate() {
            let w = rd_u64(c, i * 8);
            *lane = (*lane ^ w).wrapping_mul(K).rotate_left(29);
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        if self.npend > 0 {
            let take = (32 - self.npend).min(data.len());
            self.pend[self.npend..self.npend + take].copy_from_slice(&data[..take]);
            self.npend += take;
            data = &data[take..];
            if self.npend < 32 {
                return;
            }
            let pend = self.pend;
            Self::round(&mut self.h, &pend);
            self.npend = 0;
        }
        let mut chunks = data.chunks_exact(32);
        for c in &mut chunks {
            Self::round(&mut self.h, c);
        }
        let rem = chunks.remainder();
        self.pend[..rem.len()].copy_from_slice(rem);
        self.npend = rem.len();
    }

    pub fn finish(mut self) -> u64 {
        let mut tail = [0u8; 32];
        tail[..self.npend].copy_from_slice(&self.pend[..self.npend]);
        Self::round(&mut self.h, &tail);
        let mut r = self.total;
        for lane in self.h {
            r = (r ^ lane).wrapping_mul(K);
            r ^= r >> 32;
        }
        r
    }
}

pub(crate) fn hash(data: &[u8]) -> u64 {
    let mut h = Hasher::new();
    h.update(data);
    h.finish()
}
