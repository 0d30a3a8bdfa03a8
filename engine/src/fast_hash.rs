//! A fast, non-cryptographic hasher for the engine's in-memory maps.
//!
//! The state's maps are keyed by workspace paths and looked up several
//! times per file on every run; std's default SipHash (built to resist
//! HashDoS from untrusted keys) showed up in no-op profiles. Keys here come
//! from the user's own project, so a simple multiply-rotate hash (the
//! FxHash scheme used inside rustc) is enough. Never use it for anything
//! persisted or compared across runs: that is what `fingerprint` is for.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// `HashSet` with [`FastHasher`].
pub type FastSet<T> = HashSet<T, BuildHasherDefault<FastHasher>>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Multiply-rotate hashing of 8 bytes at a time.
#[derive(Default, Clone, Copy)]
pub struct FastHasher {
    hash: u64,
}

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn different_paths_hash_differently() {
        let build = BuildHasherDefault::<FastHasher>::default();
        let a = build.hash_one("src/l17/r042_0.txt");
        let b = build.hash_one("src/l17/r042_1.txt");
        let c = build.hash_one("src/l17/r042_0.txt\0");
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, build.hash_one("src/l17/r042_0.txt"));
    }
}
