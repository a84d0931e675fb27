//! Validated identifiers: the real public ids that a draw is keyed on.
//!
//! Every id that crosses the public contract is checked here once, so the rest
//! of the crate can never hold a malformed one. The canonical text of each id is
//! exactly the string it was parsed from (after trimming), which is also the
//! byte form hashed in snapshots and tickets.

use std::fmt;

/// The 31 characters of GB 32100-2015, in the order that gives their values.
const CREDIT_CODE_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of positions 1..=17 (GB 32100-2015 §4.3: 3^(i-1) mod 31).
const CREDIT_CODE_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// Why an id was refused; the loader adds file, line and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("统一社会信用代码 must be 18 characters, got {0}")]
    CreditCodeLength(usize),
    #[error("统一社会信用代码 has character {0:?} outside GB 32100-2015's alphabet")]
    CreditCodeChar(char),
    #[error("统一社会信用代码 check character is {found:?}, expected {expected:?}")]
    CreditCodeCheck { found: char, expected: char },
    #[error("{0:?} has white space around it")]
    Padded(String),
    #[error("{kind} must be 1 to 32 characters of A-Z, a-z, 0-9, '-', '_' or '.', got {value:?}")]
    Code { kind: &'static str, value: String },
}

/// Each byte's value in the alphabet, or `NOT_IN_ALPHABET`: a table, since
/// a national directory parses hundreds of millions of these characters.
const CREDIT_VALUES: [u8; 256] = {
    let mut table = [NOT_IN_ALPHABET; 256];
    let mut i = 0;
    while i < CREDIT_CODE_ALPHABET.len() {
        table[CREDIT_CODE_ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};
const NOT_IN_ALPHABET: u8 = u8::MAX;

fn credit_value(byte: u8) -> Option<u32> {
    let value = CREDIT_VALUES[byte as usize];
    (value != NOT_IN_ALPHABET).then_some(value as u32)
}

/// The check character (position 18) for the first 17 characters of a credit code.
///
/// Returns `None` when a character is outside the alphabet.
pub fn credit_check_char(first17: &[u8]) -> Option<u8> {
    debug_assert_eq!(first17.len(), 17);
    let mut sum = 0;
    for (&c, w) in first17.iter().zip(CREDIT_CODE_WEIGHTS) {
        sum += credit_value(c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(CREDIT_CODE_ALPHABET[check as usize])
}

/// A 统一社会信用代码 (unified social credit code) whose check character is right.
/// Ordered by its bytes, like every id in the specification.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CreditCode([u8; 18]);

impl Ord for CreditCode {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Byte order, compared as two big-endian integers rather than by a
        // call to memcmp: sorting ten million codes spends its time here.
        let key = |c: &CreditCode| {
            let (head, tail) = c.0.split_at(16);
            (
                u128::from_be_bytes(head.try_into().expect("16 bytes")),
                u16::from_be_bytes(tail.try_into().expect("2 bytes")),
            )
        };
        key(self).cmp(&key(other))
    }
}

impl PartialOrd for CreditCode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl CreditCode {
    /// A code as written in a pool file or a bundle: the letters upper case,
    /// as GB 32100-2015 issues them.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let text = text.trim();
        if let Some(c) = text.chars().find(|&c| !c.is_ascii() || credit_value(c as u8).is_none()) {
            return Err(IdError::CreditCodeChar(c));
        }
        let bytes = text.as_bytes();
        if bytes.len() != 18 {
            return Err(IdError::CreditCodeLength(bytes.len()));
        }
        let expected = credit_check_char(&bytes[..17]).expect("alphabet checked above");
        if bytes[17] != expected {
            return Err(IdError::CreditCodeCheck {
                found: bytes[17] as char,
                expected: expected as char,
            });
        }
        Ok(CreditCode(bytes.try_into().expect("length checked")))
    }

    /// A code as a person types it, in a search box or on the command
    /// line: letters in either case, spaces around. Pool files are held to
    /// [`parse`](Self::parse).
    pub fn parse_typed(text: &str) -> Result<Self, IdError> {
        Self::parse(&text.trim().to_ascii_uppercase())
    }

    /// Builds a code from 17 characters by appending the right check character.
    pub fn complete(first17: &[u8; 17]) -> Option<Self> {
        let check = credit_check_char(first17)?;
        let mut code = [0u8; 18];
        code[..17].copy_from_slice(first17);
        code[17] = check;
        Some(CreditCode(code))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("credit codes are ASCII")
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CreditCode({})", self.as_str())
    }
}

/// Serialises an id as its canonical text and parses it back on the way in,
/// so a bundle can never smuggle in an id the loader would refuse.
macro_rules! serde_as_text {
    ($name:ident) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_as_text!(CreditCode);

fn is_code_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

macro_rules! short_code {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Box<str>);

        impl $name {
            pub fn parse(text: &str) -> Result<Self, IdError> {
                let text = text.trim();
                if text.is_empty() || text.len() > 32 || !text.chars().all(is_code_char) {
                    return Err(IdError::Code { kind: $kind, value: text.to_owned() });
                }
                Ok($name(text.into()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), &self.0)
            }
        }

        serde_as_text!($name);
    };
}

short_code!(
    /// An officer's 执法证号 (enforcement certificate number).
    CertNo,
    "执法证号 (certificate number)"
);
short_code!(
    /// A 随机抽查事项 code from the item list.
    ItemCode,
    "事项编号 (item code)"
);

/// A plan number (spec §4), which is also the task id of the plan's draw and
/// the name a bundle, a ledger key and a URL are built from. It has the
/// form of an item code, written exactly: white space around it is refused
/// rather than trimmed, so the id checked is the id used.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlanId(ItemCode);

impl PlanId {
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let code = ItemCode::parse(text)?;
        if code.as_str() != text {
            return Err(IdError::Padded(text.to_owned()));
        }
        Ok(PlanId(code))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for PlanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PlanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlanId({})", self.as_str())
    }
}

impl PartialEq<str> for PlanId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<String> for PlanId {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

serde_as_text!(PlanId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_published_credit_codes() {
        // Codes printed on real business licences.
        for code in ["91350100M000100Y43", "91110000100006485K"] {
            let first17: &[u8; 17] = code.as_bytes()[..17].try_into().unwrap();
            assert_eq!(CreditCode::complete(first17).unwrap().as_str(), code, "{code}");
            assert!(CreditCode::parse(code).is_ok(), "{code}");
        }
    }

    #[test]
    fn a_typed_code_may_be_lower_case_but_a_pool_code_may_not() {
        let code = CreditCode::parse("91350100M000100Y43").unwrap();
        assert_eq!(CreditCode::parse_typed(" 91350100m000100y43 "), Ok(code));
        assert_eq!(
            CreditCode::parse("91350100m000100Y43"),
            Err(IdError::CreditCodeChar('m'))
        );
        assert!(CreditCode::parse_typed("91350100M000100Y44").is_err());
    }

    #[test]
    fn orders_by_bytes() {
        let mut codes: Vec<CreditCode> = ["91350100M000100Y43", "91110000100006485K", "91350100M000100X..."]
            .iter()
            .filter_map(|c| CreditCode::parse(c).ok())
            .collect();
        codes.push(CreditCode::complete(b"91350100M000100Y4").unwrap());
        let mut by_bytes = codes.clone();
        by_bytes.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        codes.sort();
        assert_eq!(codes, by_bytes);
    }

    #[test]
    fn rejects_wrong_check_character() {
        assert_eq!(
            CreditCode::parse("91350100M000100Y44"),
            Err(IdError::CreditCodeCheck {
                found: '4',
                expected: '3'
            })
        );
    }

    #[test]
    fn rejects_length_and_alphabet() {
        assert_eq!(CreditCode::parse("9135"), Err(IdError::CreditCodeLength(4)));
        assert_eq!(
            CreditCode::parse("91350100M00010OY43"),
            Err(IdError::CreditCodeChar('O'))
        );
    }

    #[test]
    fn short_codes_trim_and_refuse_odd_characters() {
        assert_eq!(CertNo::parse(" GZ-001 ").unwrap().as_str(), "GZ-001");
        assert!(ItemCode::parse("A B").is_err());
        assert!(ItemCode::parse("").is_err());
    }

    #[test]
    fn plan_ids_are_item_codes_written_exactly() {
        for id in ["PZ-SCJG-2026Q1", "TEST-1", "a_b.c", &"X".repeat(32)] {
            assert_eq!(PlanId::parse(id).unwrap().as_str(), id);
        }
        assert_eq!(PlanId::parse(" P-1"), Err(IdError::Padded(" P-1".into())));
        for bad in ["", "P 1", "计划-1", &"X".repeat(33), "P/1", "P~2"] {
            assert!(PlanId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
