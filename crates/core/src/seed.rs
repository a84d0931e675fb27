//! Seeds: 32 bytes with one canonical text form, and where they came from.
//!
//! A seed mangled on its way in (a long number turned into a float, a string
//! read as an integer) silently changes a draw, so every form a seed may take
//! is parsed here into bytes once, and the bundle records both the bytes and
//! the form they came from (`docs/ALGORITHM.md` §2).

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const CEREMONY_DOMAIN: &[u8] = b"shuangsui/v1/seed/ceremony";
/// Twenty decimal digits (twenty ten-sided dice) carry about 66 bits; fewer
/// could be searched by an operator trying ceremonies in private.
pub const CEREMONY_MIN_DIGITS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    #[error("a hex seed must be 64 hexadecimal characters (32 bytes), got {0} characters")]
    HexLength(usize),
    #[error("a hex seed may hold only 0-9 and a-f, found {0:?}")]
    HexChar(char),
    #[error("a ceremony seed needs at least {CEREMONY_MIN_DIGITS} digits, got {0}")]
    CeremonyTooShort(usize),
    #[error("a ceremony seed may hold digits, spaces and , - / : only, found {0:?}")]
    CeremonyChar(char),
    #[error("unknown seed form {0:?}: give 64 hex characters, ceremony:DIGITS or random")]
    Form(String),
}

/// Why a recorded seed source does not check out (a beacon round that does
/// not verify, a secret that is not the committed one, a seed its source does
/// not give): what `verify` reports as the seed's difference.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SeedCheckError {
    #[error("unknown beacon chain {0:?} (known: quicknet)")]
    UnknownChain(String),
    #[error(transparent)]
    Beacon(#[from] crate::beacon::BeaconError),
    #[error("beacon signature: {0}")]
    SignatureHex(hex::FromHexError),
    #[error("the recorded beacon randomness is not SHA-256 of its signature")]
    Randomness,
    #[error("{0}")]
    RandomnessHex(hex::FromHexError),
    #[error(transparent)]
    Ceremony(#[from] SeedError),
    #[error("ceremony text normalises to {normalised}, bundle says {recorded}")]
    CeremonyDigits { normalised: String, recorded: String },
    #[error("ceremony digits do not hash to the recorded seed")]
    CeremonySeed,
    #[error("revealed secret: {0}")]
    Secret(SeedError),
    #[error("the revealed secret does not match the published commitment")]
    Commitment,
    #[error("the revealed secret does not hash to the recorded seed")]
    CommitSeed,
    #[error("the beacon round does not hash to the recorded seed")]
    BeaconSeed,
}

/// The 32 bytes every stream of a draw is derived from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Seed([u8; 32]);

impl Seed {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Seed(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses the canonical text form: 64 hex characters (either case).
    pub fn parse_hex(text: &str) -> Result<Self, SeedError> {
        let text = text.trim();
        if let Some(c) = text.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(SeedError::HexChar(c));
        }
        if text.len() != 64 {
            return Err(SeedError::HexLength(text.len()));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).expect("checked hex of the right length");
        Ok(Seed(bytes))
    }

    /// The canonical text form: 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seed({})", self.to_hex())
    }
}

/// Normalises ceremony text to its digits: ASCII and full-width digits are
/// kept in order (full-width mapped to ASCII); spaces and the separators
/// `, - / :` (also full-width and the ideographic space) are dropped; anything
/// else is refused, so a typo cannot pass unseen.
pub fn ceremony_digits(text: &str) -> Result<String, SeedError> {
    let mut digits = String::new();
    for c in text.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '０'..='９' => digits.push(char::from(b'0' + (c as u32 - '０' as u32) as u8)),
            c if c.is_whitespace() => {}
            ',' | '-' | '/' | ':' | '，' | '－' | '／' | '：' | '、' => {}
            other => return Err(SeedError::CeremonyChar(other)),
        }
    }
    if digits.len() < CEREMONY_MIN_DIGITS {
        return Err(SeedError::CeremonyTooShort(digits.len()));
    }
    Ok(digits)
}

/// How the seed of a draw was obtained; recorded in every bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SeedSource {
    /// Given as 64 hex characters.
    Hex,
    /// Digits read out at a public ceremony (dice, a lottery result):
    /// seed = SHA-256("shuangsui/v1/seed/ceremony" ‖ u32-BE length ‖ digits).
    Ceremony { text: String, digits: String },
    /// Drawn from the operating system's entropy: nobody can re-derive it, so
    /// the draw was not announced in advance and is marked as ad hoc.
    Random,
    /// A server secret committed to at announcement (`commitment` =
    /// SHA-256(secret), published then) and revealed at the draw:
    /// seed = SHA-256("shuangsui/v1/seed/commit" ‖ secret). On its own this
    /// only stops the office changing the seed after the inputs are fixed;
    /// combined with a beacon round (`beacon`) it also stops it choosing one:
    /// seed = SHA-256("shuangsui/v1/seed/commit" ‖ secret ‖ u64-BE round ‖
    /// randomness).
    CommitReveal {
        commitment: String,
        secret: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        beacon: Option<BeaconRecord>,
    },
    /// A drand round named in advance: seed = SHA-256("shuangsui/v1/seed/beacon"
    /// ‖ u64-BE round ‖ randomness), randomness = SHA-256(signature).
    Beacon(BeaconRecord),
}

/// A public randomness round, as recorded in a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeaconRecord {
    /// The drand chain, by name (`quicknet`).
    pub chain: String,
    pub round: u64,
    /// The round's BLS signature, hex.
    pub signature: String,
    /// SHA-256 of the signature, hex.
    pub randomness: String,
}

impl BeaconRecord {
    /// Verifies a round of a known chain and records it.
    pub fn verified(chain: &str, round: u64, signature: &[u8]) -> Result<BeaconRecord, SeedCheckError> {
        let chain_info = known_chain(chain)?;
        let randomness = chain_info.verify(&crate::beacon::Round {
            number: round,
            signature: signature.to_vec(),
        })?;
        Ok(BeaconRecord {
            chain: chain.to_owned(),
            round,
            signature: hex::encode(signature),
            randomness: hex::encode(randomness),
        })
    }

    /// Re-verifies the recorded signature and randomness.
    pub fn check(&self) -> Result<[u8; 32], SeedCheckError> {
        let signature = hex::decode(&self.signature).map_err(SeedCheckError::SignatureHex)?;
        let again = BeaconRecord::verified(&self.chain, self.round, &signature)?;
        if again.randomness != self.randomness {
            return Err(SeedCheckError::Randomness);
        }
        let mut randomness = [0u8; 32];
        hex::decode_to_slice(&self.randomness, &mut randomness).map_err(SeedCheckError::RandomnessHex)?;
        Ok(randomness)
    }

    fn mix(&self, hasher: &mut Sha256, randomness: &[u8; 32]) {
        hasher.update(self.round.to_be_bytes());
        hasher.update(randomness);
    }
}

fn known_chain(name: &str) -> Result<&'static crate::beacon::Chain, SeedCheckError> {
    match name {
        "quicknet" => Ok(&crate::beacon::QUICKNET),
        other => Err(SeedCheckError::UnknownChain(other.to_owned())),
    }
}

const BEACON_DOMAIN: &[u8] = b"shuangsui/v1/seed/beacon";

/// A seed together with its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedSpec {
    pub seed: Seed,
    pub source: SeedSource,
}

impl SeedSpec {
    /// Parses a `--seed` argument: 64 hex characters, `ceremony:TEXT`, or
    /// `random`. The core cannot reach the operating system's entropy, so
    /// `entropy` supplies the bytes of a `random` seed; it is called for that
    /// form only.
    pub fn parse(arg: &str, entropy: impl FnOnce() -> [u8; 32]) -> Result<Self, SeedError> {
        let arg = arg.trim();
        if arg == "random" {
            return Ok(SeedSpec::random(entropy()));
        }
        if let Some(text) = arg.strip_prefix("ceremony:") {
            return Self::ceremony(text);
        }
        if arg.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(SeedSpec {
                seed: Seed::parse_hex(arg)?,
                source: SeedSource::Hex,
            });
        }
        Err(SeedError::Form(arg.chars().take(80).collect()))
    }

    /// An ad-hoc seed from entropy the caller obtained (nobody can re-derive
    /// it, hence [`SeedSource::Random`]).
    pub fn random(entropy: [u8; 32]) -> Self {
        SeedSpec {
            seed: Seed(entropy),
            source: SeedSource::Random,
        }
    }

    pub fn ceremony(text: &str) -> Result<Self, SeedError> {
        let digits = ceremony_digits(text)?;
        Ok(SeedSpec {
            seed: ceremony_seed(&digits),
            source: SeedSource::Ceremony {
                text: text.to_owned(),
                digits,
            },
        })
    }

    /// Checks that a recorded source really yields `seed` (a verifier's job).
    pub fn consistent(&self) -> Result<(), SeedCheckError> {
        match &self.source {
            SeedSource::Ceremony { text, digits } => {
                let normalised = ceremony_digits(text)?;
                if &normalised != digits {
                    return Err(SeedCheckError::CeremonyDigits {
                        normalised,
                        recorded: digits.clone(),
                    });
                }
                if ceremony_seed(digits) != self.seed {
                    return Err(SeedCheckError::CeremonySeed);
                }
                Ok(())
            }
            SeedSource::CommitReveal {
                commitment,
                secret,
                beacon,
            } => {
                let secret = Seed::parse_hex(secret).map_err(SeedCheckError::Secret)?;
                if hex::encode(Sha256::digest(secret.as_bytes())) != *commitment {
                    return Err(SeedCheckError::Commitment);
                }
                let beacon = match beacon {
                    Some(record) => Some((record, record.check()?)),
                    None => None,
                };
                if commit_seed(&secret, beacon.as_ref().map(|(r, x)| (*r, x))) != self.seed {
                    return Err(SeedCheckError::CommitSeed);
                }
                Ok(())
            }
            SeedSource::Beacon(record) => {
                let randomness = record.check()?;
                if beacon_seed(record, &randomness) != self.seed {
                    return Err(SeedCheckError::BeaconSeed);
                }
                Ok(())
            }
            SeedSource::Hex | SeedSource::Random => Ok(()),
        }
    }

    /// The seed from a revealed commit-reveal secret, combined with a
    /// verified beacon round if the announcement named one.
    pub fn reveal(secret: &Seed, beacon: Option<BeaconRecord>) -> Result<SeedSpec, SeedCheckError> {
        let randomness = beacon.as_ref().map(BeaconRecord::check).transpose()?;
        let seed = commit_seed(secret, beacon.as_ref().zip(randomness.as_ref()));
        let source = SeedSource::CommitReveal {
            commitment: commitment(secret),
            secret: secret.to_hex(),
            beacon,
        };
        Ok(SeedSpec { seed, source })
    }

    /// The seed from a verified beacon round.
    pub fn beacon(record: BeaconRecord) -> Result<SeedSpec, SeedCheckError> {
        let randomness = record.check()?;
        Ok(SeedSpec {
            seed: beacon_seed(&record, &randomness),
            source: SeedSource::Beacon(record),
        })
    }
}

fn beacon_seed(record: &BeaconRecord, randomness: &[u8; 32]) -> Seed {
    let mut hasher = Sha256::new();
    hasher.update(BEACON_DOMAIN);
    record.mix(&mut hasher, randomness);
    Seed(hasher.finalize().into())
}

const COMMIT_DOMAIN: &[u8] = b"shuangsui/v1/seed/commit";

/// The published commitment to a secret: its SHA-256, in hex.
pub fn commitment(secret: &Seed) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn commit_seed(secret: &Seed, beacon: Option<(&BeaconRecord, &[u8; 32])>) -> Seed {
    let mut hasher = Sha256::new();
    hasher.update(COMMIT_DOMAIN);
    hasher.update(secret.as_bytes());
    if let Some((record, randomness)) = beacon {
        record.mix(&mut hasher, randomness);
    }
    Seed(hasher.finalize().into())
}

fn ceremony_seed(digits: &str) -> Seed {
    let mut hasher = Sha256::new();
    hasher.update(CEREMONY_DOMAIN);
    hasher.update((digits.len() as u32).to_be_bytes());
    hasher.update(digits.as_bytes());
    Seed(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// For the forms that must not ask for entropy.
    fn no_entropy() -> [u8; 32] {
        panic!("only a random seed asks for entropy")
    }

    #[test]
    fn hex_round_trips_and_lowercases() {
        let text = "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff";
        let seed = Seed::parse_hex(text).unwrap();
        assert_eq!(seed.to_hex(), text.to_lowercase());
    }

    #[test]
    fn hex_seed_refuses_wrong_length_and_characters() {
        assert_eq!(Seed::parse_hex("abc"), Err(SeedError::HexLength(3)));
        assert_eq!(Seed::parse_hex(&"g".repeat(64)), Err(SeedError::HexChar('g')));
    }

    #[test]
    fn ceremony_forms_of_the_same_digits_give_one_seed() {
        let a = SeedSpec::parse("ceremony:3141 5926 5358 9793 2384", no_entropy).unwrap();
        let b = SeedSpec::parse("ceremony:３１４１５９２６５３５８９７９３２３８４", no_entropy).unwrap();
        let c = SeedSpec::parse("ceremony:31415-92653-58979-32384", no_entropy).unwrap();
        assert_eq!(a.seed, b.seed);
        assert_eq!(a.seed, c.seed);
        assert!(a.consistent().is_ok());
    }

    #[test]
    fn ceremony_refuses_short_or_odd_text() {
        assert_eq!(
            SeedSpec::parse("ceremony:123", no_entropy).unwrap_err(),
            SeedError::CeremonyTooShort(3)
        );
        assert_eq!(
            SeedSpec::parse("ceremony:1234567890l234567890", no_entropy).unwrap_err(),
            SeedError::CeremonyChar('l')
        );
    }

    #[test]
    fn a_tampered_ceremony_record_is_caught() {
        let mut spec = SeedSpec::parse("ceremony:12345678901234567890", no_entropy).unwrap();
        spec.seed = Seed::from_bytes([0; 32]);
        assert!(spec.consistent().is_err());
    }

    #[test]
    fn a_revealed_secret_must_match_its_commitment() {
        let secret = Seed::from_bytes([9; 32]);
        let spec = SeedSpec::reveal(&secret, None).unwrap();
        assert!(spec.consistent().is_ok());
        let mut forged = spec.clone();
        forged.source = SeedSource::CommitReveal {
            commitment: commitment(&secret),
            secret: Seed::from_bytes([8; 32]).to_hex(),
            beacon: None,
        };
        assert_eq!(forged.consistent().unwrap_err(), SeedCheckError::Commitment);
        assert!(forged.consistent().unwrap_err().to_string().contains("commitment"));
    }

    /// quicknet round 1, as published by drand (see `beacon` tests).
    const ROUND_1: &str =
        "b55e7cb2d5c613ee0b2e28d6750aabbb78c39dcc96bd9d38c2c2e12198df95571de8e8e402a0cc48871c7089a2b3af4b";

    #[test]
    fn beacon_seeds_verify_and_refuse_a_forged_round() {
        let signature = hex::decode(ROUND_1).unwrap();
        let record = BeaconRecord::verified("quicknet", 1, &signature).unwrap();
        assert_eq!(
            record.randomness,
            "1466a6cd24e327188770752f6134001c64d6efcc590ccc26b721611ad96f165a"
        );
        let spec = SeedSpec::beacon(record.clone()).unwrap();
        assert!(spec.consistent().is_ok());
        // The same signature presented as another round fails BLS verification.
        assert!(BeaconRecord::verified("quicknet", 2, &signature).is_err());
        let mut forged = record.clone();
        forged.round = 2;
        assert!(SeedSpec {
            seed: spec.seed,
            source: SeedSource::Beacon(forged)
        }
        .consistent()
        .is_err());
        // Committed secret combined with the round: a different seed from either alone.
        let combined = SeedSpec::reveal(&Seed::from_bytes([9; 32]), Some(record)).unwrap();
        assert!(combined.consistent().is_ok());
        assert_ne!(combined.seed, spec.seed);
        assert_ne!(
            combined.seed,
            SeedSpec::reveal(&Seed::from_bytes([9; 32]), None).unwrap().seed
        );
    }

    #[test]
    fn a_random_seed_is_the_entropy_given_and_marked_random() {
        let spec = SeedSpec::parse(" random ", || [7; 32]).unwrap();
        assert_eq!(spec.seed, Seed::from_bytes([7; 32]));
        assert_eq!(spec.source, SeedSource::Random);
        assert!(spec.consistent().is_ok());
    }
}
