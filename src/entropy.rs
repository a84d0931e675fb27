//! The operating system's entropy, for the ad-hoc seeds, signing keys and
//! file names that nobody needs to re-derive. The core cannot reach it
//! (`crates/core/tests/boundary.rs`), so it is asked for here and handed to
//! the core's pure constructors as bytes.

use rand_core::{OsRng, TryRngCore};

use crate::seed::{Seed, SeedError, SeedSpec};

/// 32 bytes from the operating system's random source.
///
/// Panics if that source fails: a machine that cannot give entropy cannot
/// make an ad-hoc draw or a key safely, and there is nothing to fall back to.
pub fn os_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random source failed");
    bytes
}

/// A fresh seed from the operating system.
pub fn random_seed() -> Seed {
    Seed::from_bytes(os_bytes())
}

/// Parses a `--seed` argument, `random` taking its bytes from the operating
/// system.
pub fn parse_seed(arg: &str) -> Result<SeedSpec, SeedError> {
    SeedSpec::parse(arg, os_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::SeedSource;

    #[test]
    fn random_seeds_differ_and_are_marked_random() {
        assert_ne!(random_seed(), random_seed());
        let a = parse_seed("random").unwrap();
        let b = parse_seed("random").unwrap();
        assert_eq!(a.source, SeedSource::Random);
        assert_ne!(a.seed, b.seed);
    }

    #[test]
    fn fixed_forms_are_the_core_parse() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        assert_eq!(parse_seed(hex).unwrap().seed, Seed::parse_hex(hex).unwrap());
    }
}
