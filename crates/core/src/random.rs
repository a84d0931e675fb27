//! The only randomness a draw may use: ChaCha20 keystreams keyed by SHA-256.
//!
//! Everything here is part of the public contract (`docs/ALGORITHM.md` §3):
//! an outsider must get the same numbers from the same seed. That is why the
//! bounded integer and the shuffle are written out here rather than taken from
//! `rand`, whose `gen_range` and `shuffle` have changed output between versions.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use crate::seed::Seed;

/// Prefix of every stream key derivation, so keys cannot collide with any
/// other SHA-256 use in the contract.
const STREAM_DOMAIN: &[u8] = b"shuangsui/v1/stream";

/// A ChaCha20 keystream (RFC 8439 block function, all-zero nonce, counter
/// from 0) read as little-endian 64-bit words.
pub struct Stream {
    rng: ChaCha20Rng,
}

impl Stream {
    /// The stream for `labels` under `seed`: key = SHA-256(domain ‖ seed ‖
    /// for each label: u32-BE length ‖ bytes).
    pub fn derive(seed: &Seed, labels: &[&[u8]]) -> Self {
        Self::from_key(key(seed, labels))
    }

    /// The first word of the stream for `labels`, the same as
    /// `Stream::derive(seed, labels).next_u64()`. The team draw takes one
    /// word from each of hundreds of thousands of streams (its tickets); this
    /// computes the one block it needs, where the general stream fills a
    /// buffer of four.
    pub fn first_word(seed: &Seed, labels: &[&[u8]]) -> u64 {
        let block = chacha20_block(&key(seed, labels));
        u64::from(block[0]) | u64::from(block[1]) << 32
    }

    pub fn from_key(key: [u8; 32]) -> Self {
        // `ChaCha20Rng::from_seed` starts at block 0 of stream (nonce) 0, which
        // is the RFC 8439 keystream with an all-zero nonce for 2^32 blocks.
        Stream {
            rng: ChaCha20Rng::from_seed(key),
        }
    }

    /// The next 8 keystream bytes as a little-endian integer.
    pub fn next_u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        self.rng.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    /// A uniform integer in `0..n` by rejection: words below 2^64 mod n are
    /// discarded, so the remaining range is a whole multiple of n.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0) has no values");
        let reject_under = n.wrapping_neg() % n; // = 2^64 mod n
        loop {
            let word = self.next_u64();
            if word >= reject_under {
                return word % n;
            }
        }
    }

    /// Moves a uniformly random `k`-subset of `items` to its front, in draw
    /// order, by the first `k` steps of a forward Fisher–Yates shuffle.
    pub fn pick<T>(&mut self, items: &mut [T], k: usize) {
        let n = items.len();
        assert!(k <= n, "cannot pick {k} of {n}");
        for i in 0..k {
            let j = i + self.below((n - i) as u64) as usize;
            items.swap(i, j);
        }
    }
}

/// The stream key for `labels` under `seed` (see [`Stream::derive`]).
fn key(seed: &Seed, labels: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(STREAM_DOMAIN);
    hasher.update(seed.as_bytes());
    for label in labels {
        hasher.update((label.len() as u32).to_be_bytes());
        hasher.update(label);
    }
    hasher.finalize().into()
}

/// Block 0 of the ChaCha20 keystream of `key` with an all-zero nonce
/// (RFC 8439 §2.3), as sixteen words; the keystream's bytes are the words
/// in little-endian order.
fn chacha20_block(key: &[u8; 32]) -> [u32; 16] {
    let mut state = [0u32; 16];
    state[..4].copy_from_slice(&[0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]);
    for (word, bytes) in state[4..12].iter_mut().zip(key.chunks_exact(4)) {
        *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    // Words 12–15, the counter and the nonce, stay 0.
    let mut x = state;
    fn quarter(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
        x[a] = x[a].wrapping_add(x[b]);
        x[d] = (x[d] ^ x[a]).rotate_left(16);
        x[c] = x[c].wrapping_add(x[d]);
        x[b] = (x[b] ^ x[c]).rotate_left(12);
        x[a] = x[a].wrapping_add(x[b]);
        x[d] = (x[d] ^ x[a]).rotate_left(8);
        x[c] = x[c].wrapping_add(x[d]);
        x[b] = (x[b] ^ x[c]).rotate_left(7);
    }
    for _ in 0..10 {
        quarter(&mut x, 0, 4, 8, 12);
        quarter(&mut x, 1, 5, 9, 13);
        quarter(&mut x, 2, 6, 10, 14);
        quarter(&mut x, 3, 7, 11, 15);
        quarter(&mut x, 0, 5, 10, 15);
        quarter(&mut x, 1, 6, 11, 12);
        quarter(&mut x, 2, 7, 8, 13);
        quarter(&mut x, 3, 4, 9, 14);
    }
    for (out, input) in x.iter_mut().zip(state) {
        *out = out.wrapping_add(input);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystream_matches_rfc8439_block_function() {
        // RFC 8439 §2.4.2 uses key 00..1f, nonce 000000000000004a00000000 and
        // counter 1, which this stream cannot express; §A.1 test vector 1 is
        // the all-zero key and nonce at counter 0, which is exactly our setup.
        let mut stream = Stream::from_key([0; 32]);
        let expected: [u8; 16] = [
            0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90, 0x40, 0x5d, 0x6a, 0xe5, 0x53, 0x86, 0xbd, 0x28,
        ];
        assert_eq!(stream.next_u64().to_le_bytes(), expected[..8]);
        assert_eq!(stream.next_u64().to_le_bytes(), expected[8..]);
    }

    #[test]
    fn keystream_crosses_block_boundaries_contiguously() {
        // RFC 8439 §A.1 test vector 2: all-zero key, counter 1, first bytes.
        let mut stream = Stream::from_key([0; 32]);
        for _ in 0..8 {
            stream.next_u64();
        }
        let expected: [u8; 8] = [0x9f, 0x07, 0xe7, 0xbe, 0x55, 0x51, 0x38, 0x7a];
        assert_eq!(stream.next_u64().to_le_bytes(), expected);
    }

    #[test]
    fn the_first_word_is_the_rfc8439_block_function() {
        // §A.1 test vector 1: all-zero key and nonce, counter 0.
        let block = chacha20_block(&[0; 32]);
        assert_eq!(block[0].to_le_bytes(), [0x76, 0xb8, 0xe0, 0xad]);
        assert_eq!(block[1].to_le_bytes(), [0xa0, 0xf1, 0x3d, 0x90]);
        assert_eq!(block[2].to_le_bytes(), [0x40, 0x5d, 0x6a, 0xe5]);
        assert_eq!(block[3].to_le_bytes(), [0x53, 0x86, 0xbd, 0x28]);
    }

    proptest::proptest! {
        /// The one-block shortcut of the tickets gives the stream's first word.
        #[test]
        fn first_word_is_the_streams_first_word(
            seed in proptest::array::uniform32(proptest::num::u8::ANY),
            labels in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..80), 0..4),
        ) {
            let seed = Seed::from_bytes(seed);
            let labels: Vec<&[u8]> = labels.iter().map(Vec::as_slice).collect();
            proptest::prop_assert_eq!(
                Stream::first_word(&seed, &labels),
                Stream::derive(&seed, &labels).next_u64()
            );
        }
    }

    #[test]
    fn below_rejects_the_biased_tail() {
        // n = 2^63 + 1: 2^64 mod n = 2^63 - 1, so most small words are rejected
        // and every accepted word maps into range.
        let mut stream = Stream::from_key([7; 32]);
        for n in [1u64, 2, 3, 10, 1 << 63 | 1, u64::MAX] {
            for _ in 0..100 {
                assert!(stream.below(n) < n);
            }
        }
    }

    #[test]
    fn pick_is_roughly_uniform() {
        let mut counts = [0u32; 10];
        let mut stream = Stream::from_key([1; 32]);
        for _ in 0..20_000 {
            let mut items: Vec<usize> = (0..10).collect();
            stream.pick(&mut items, 3);
            for &i in &items[..3] {
                counts[i] += 1;
            }
        }
        // Each item is expected 6,000 times; 5 sigma is about 330.
        for c in counts {
            assert!((5_650..=6_350).contains(&c), "{counts:?}");
        }
    }
}
