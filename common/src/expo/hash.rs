//! Hashing for duplicate-series detection within one body.

use std::hash::Hasher;

/// The keys of `seen` are hashes already: use them as they are.
#[derive(Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// FxHash-style, eight bytes at a time: fast, and good enough for telling
/// series apart within one scrape (a collision would drop a series as a
/// duplicate with odds of about 2^-64 per pair).
pub struct Fnv(pub u64);

impl Fnv {
    const K: u64 = 0x517c_c1b7_2722_0a95;

    fn word(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(Self::K);
    }

    pub fn add(&mut self, s: &str) {
        let b = s.as_bytes();
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let mut last = 0u64;
        for (i, byte) in chunks.remainder().iter().enumerate() {
            last |= (*byte as u64) << (8 * i);
        }
        // The length ends the field, so "ab"+"c" differs from "a"+"bc".
        self.word(last ^ ((b.len() as u64) << 56));
    }
}
