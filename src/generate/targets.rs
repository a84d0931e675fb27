//! The target directory (检查对象名录), streamed row by row: entity type,
//! industry, township, credit-risk class, a unique GB 32100-2015 credit code
//! and a business name for each target.
//!
//! Memory holds one 8-byte key per target (to keep credit codes unique) and
//! the few targets named in conflicts, so ten million targets take about
//! 150 MB.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::io;

use super::catalogue::{Catalogue, MAX_DIVISIONS};
use super::names::{cooperative_name, enterprise_name, individual_name};
use super::sampling::{Rng, Weights};
use super::{CsvWriter, GenOptions, TARGET_HEADERS};
use crate::ids::CreditCode;

/// Entity types: label, the institution-type character of the credit code
/// (GB 32100-2015 position 2), and weight. In code rather than the catalogue
/// because each type has its own naming rule below.
const ENTITY_TYPES: [(&str, u8, u32); 3] = [
    ("个体工商户", b'2', 65),
    ("企业", b'1', 32),
    ("农民专业合作社", b'3', 3),
];
const INDIVIDUAL: usize = 0;
const ENTERPRISE: usize = 1;
const COOPERATIVE: usize = 2;

/// Index of the industry of every cooperative (农、林、牧、渔业, first in the
/// catalogue).
const COOPERATIVE_INDUSTRY: usize = 0;

/// GB 32100-2015's 31 characters (no I, O, S, V, Z).
const CODE_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The value (index in [`CODE_ALPHABET`]) of a character of that alphabet.
const fn code_value(c: u8) -> u8 {
    let mut i = 0;
    while CODE_ALPHABET[i] != c {
        i += 1;
    }
    i as u8
}

/// A target that a conflict names, remembered while targets stream past.
pub(super) struct NamedTarget {
    pub code: CreditCode,
    pub township: usize,
}

/// Hashes the packed 50-bit code keys; they are random already, so one
/// multiply spreads them and SipHash would only cost time.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

type KeySet = HashSet<u64, BuildHasherDefault<KeyHasher>>;

/// Streams `opts.targets` rows and returns the targets at `wanted` indices.
pub(super) fn write_targets(
    cat: &Catalogue,
    w: &mut CsvWriter,
    opts: &GenOptions,
    wanted: &BTreeMap<u64, u32>,
) -> io::Result<BTreeMap<u64, NamedTarget>> {
    let mut rng = Rng::for_section(opts.seed, "targets");
    let entity_types = Weights::new(ENTITY_TYPES.iter().map(|e| e.2));
    let divisions = Weights::of(&cat.divisions);
    let risks = Weights::of(&cat.risk_classes);
    let townships = Weights::new(cat.townships.iter().map(|t| t.weight));
    let individual_industries = Weights::new(cat.industries.iter().map(|i| i.individual));
    let enterprise_industries = Weights::new(cat.industries.iter().map(|i| i.enterprise));

    let mut used = KeySet::with_capacity_and_hasher(opts.targets, Default::default());
    let mut named = BTreeMap::new();
    let mut wanted_iter = wanted.keys().peekable();
    let mut name = String::with_capacity(96);

    w.write_record(TARGET_HEADERS)?;
    for index in 0..opts.targets as u64 {
        let entity = entity_types.sample(&mut rng);
        let industry = match entity {
            INDIVIDUAL => individual_industries.sample(&mut rng),
            ENTERPRISE => enterprise_industries.sample(&mut rng),
            COOPERATIVE => COOPERATIVE_INDUSTRY,
            _ => unreachable!("three entity types"),
        };
        let township = townships.sample(&mut rng);
        let risk = &cat.risk_classes[risks.sample(&mut rng)].0;
        let code = unique_credit_code(cat, &mut rng, &mut used, entity, &divisions);

        name.clear();
        match entity {
            INDIVIDUAL => individual_name(cat, &mut rng, &mut name, industry, township),
            ENTERPRISE => enterprise_name(cat, &mut rng, &mut name, industry),
            COOPERATIVE => cooperative_name(cat, &mut rng, &mut name, township),
            _ => unreachable!("three entity types"),
        }

        w.write_record([
            code.as_str(),
            &name,
            ENTITY_TYPES[entity].0,
            &cat.industries[industry].name,
            &cat.townships[township].name,
            risk,
        ])?;
        if wanted_iter.peek() == Some(&&index) {
            wanted_iter.next();
            named.insert(index, NamedTarget { code, township });
        }
    }
    Ok(named)
}

/// Draws 17 characters until they are new, and completes them with the
/// GB 32100-2015 check character.
///
/// Uniqueness is tracked on a 50-bit packing of the variable parts (entity
/// type, division, nine body characters at 5 bits each), which identifies
/// the code exactly at an eighth of the space of the text.
fn unique_credit_code(
    cat: &Catalogue,
    rng: &mut Rng,
    used: &mut KeySet,
    entity: usize,
    divisions: &Weights,
) -> CreditCode {
    // The division takes bits 45–47 of the key; the catalogue is checked to fit.
    debug_assert!(cat.divisions.len() <= MAX_DIVISIONS);
    loop {
        let division = divisions.sample(rng);
        let mut first17 = [0u8; 17];
        first17[0] = b'9'; // registered by market regulation (工商)
        first17[1] = ENTITY_TYPES[entity].1;
        first17[2..8].copy_from_slice(cat.divisions[division].0.as_bytes());
        let mut body = [0u8; 9];
        if rng.percent(75) {
            // Registered since 2015: "MA" and seven characters.
            body[0] = code_value(b'M');
            body[1] = code_value(b'A');
            for c in &mut body[2..] {
                *c = rng.below(31) as u8;
            }
        } else {
            // Older: the nine-character organisation code, eight digits and a check.
            for c in &mut body[..8] {
                *c = rng.below(10) as u8;
            }
            body[8] = rng.below(31) as u8;
        }
        let mut key = ((entity as u64) << 48) | ((division as u64) << 45);
        for (i, &value) in body.iter().enumerate() {
            key |= u64::from(value) << (5 * i);
            first17[8 + i] = CODE_ALPHABET[value as usize];
        }
        if used.insert(key) {
            return CreditCode::complete(&first17).expect("alphabet characters only");
        }
    }
}
