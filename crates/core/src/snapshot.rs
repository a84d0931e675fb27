//! Canonical encodings and the content hashes built on them.
//!
//! A snapshot hash commits to a pool's content before the seed is known. It
//! must not depend on row order, line endings, text encoding or column order,
//! so it is computed from decoded, trimmed field values in a fixed field order,
//! over records sorted by id (`docs/ALGORITHM.md` §1).

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A SHA-256 value, written as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    pub fn parse(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        // One canonical form only: uppercase hex would hash-compare equal but
        // print differently in a published document.
        (hex::encode(bytes) == text).then_some(Hash32(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({})", self.to_hex())
    }
}

impl Serialize for Hash32 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash32 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Hash32::parse(&text).ok_or_else(|| serde::de::Error::custom("expected 64 lowercase hex characters"))
    }
}

/// Hashes one record: each field as u32-BE byte length followed by its UTF-8.
pub fn record_hash(fields: &[&str]) -> Hash32 {
    record_hash_with(&mut Vec::new(), fields)
}

/// [`record_hash`] with the room for the encoding supplied, so that hashing
/// millions of records reuses one buffer instead of allocating per record.
pub fn record_hash_with(buffer: &mut Vec<u8>, fields: &[&str]) -> Hash32 {
    // One contiguous buffer and one digest call: feeding the hasher a dozen
    // tiny pieces costs more in buffering than the hashing itself.
    buffer.clear();
    for field in fields {
        buffer.extend_from_slice(&(field.len() as u32).to_be_bytes());
        buffer.extend_from_slice(field.as_bytes());
    }
    Hash32(Sha256::digest(&buffer[..]).into())
}

/// Hashes a list of record hashes already in canonical (id) order under a tag:
/// SHA-256(tag ‖ 0x0A ‖ u64-BE count ‖ hash₁ ‖ … ‖ hashₙ).
pub fn list_hash<'a>(tag: &str, hashes: impl ExactSizeIterator<Item = &'a Hash32>) -> Hash32 {
    let mut list = ListHasher::new(tag, hashes.len());
    hashes.for_each(|hash| list.push(hash));
    list.finish()
}

/// A list of text records as a bundle stores it (`history.csv`,
/// `merge.csv`): its list hash over the records' hashes, and its CSV with
/// `header` (LF line ends, RFC 4180 quoting).
pub fn text_records<const N: usize>(tag: &str, header: [&str; N], records: &[[String; N]]) -> (Hash32, String) {
    let hashes: Vec<Hash32> = records
        .iter()
        .map(|r| record_hash(&r.each_ref().map(String::as_str)))
        .collect();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).expect("in-memory write");
    for record in records {
        writer.write_record(record).expect("in-memory write");
    }
    let csv = String::from_utf8(writer.into_inner().expect("in-memory write")).expect("UTF-8 fields");
    (list_hash(tag, hashes.iter()), csv)
}

/// [`list_hash`] fed one record hash at a time, for lists too long to hold.
pub struct ListHasher {
    hasher: Sha256,
    expected: usize,
    pushed: usize,
}

impl ListHasher {
    pub fn new(tag: &str, count: usize) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(tag.as_bytes());
        hasher.update(b"\n");
        hasher.update((count as u64).to_be_bytes());
        ListHasher {
            hasher,
            expected: count,
            pushed: 0,
        }
    }

    pub fn push(&mut self, hash: &Hash32) {
        self.pushed += 1;
        self.hasher.update(hash.0);
    }

    /// [`push`](Self::push) of many hashes in a row: one call, so the
    /// digest takes them in whole blocks rather than 32 bytes at a time.
    pub fn push_all(&mut self, hashes: &[[u8; 32]]) {
        self.pushed += hashes.len();
        self.hasher.update(hashes.as_flattened());
    }

    pub fn finish(self) -> Hash32 {
        assert_eq!(
            self.pushed, self.expected,
            "the count hashed up front must match the records pushed"
        );
        Hash32(self.hasher.finalize().into())
    }
}

/// SHA-256 of raw bytes (files in a bundle).
pub fn bytes_hash(bytes: &[u8]) -> Hash32 {
    Hash32(Sha256::digest(bytes).into())
}

/// The canonical text of a list field: elements sorted by their UTF-8 bytes,
/// duplicates removed, joined with `;`.
pub fn canonical_list<S: AsRef<str>>(elements: &[S]) -> String {
    let mut sorted: Vec<&str> = elements.iter().map(AsRef::as_ref).collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.join(";")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_buffer_hashes_like_a_fresh_one() {
        let mut buffer = b"left over from a longer record".to_vec();
        for fields in [&["a", "中"][..], &["", "x", "yz"], &[]] {
            assert_eq!(record_hash_with(&mut buffer, fields), record_hash(fields));
        }
        assert_eq!(record_hash_with(&mut buffer, &["a", "中"]), record_hash(&["a", "中"]));
    }

    #[test]
    fn field_boundaries_matter() {
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        assert_ne!(record_hash(&["ab", "c"]), record_hash(&["a", "bc"]));
    }

    #[test]
    fn record_hash_is_sha256_of_the_documented_bytes() {
        let expected = Sha256::digest(b"\x00\x00\x00\x01a\x00\x00\x00\x03\xe4\xb8\xad");
        assert_eq!(record_hash(&["a", "中"]).0, <[u8; 32]>::from(expected));
    }

    #[test]
    fn hash_text_form_is_lowercase_only() {
        let h = bytes_hash(b"x");
        assert_eq!(Hash32::parse(&h.to_hex()), Some(h));
        assert_eq!(Hash32::parse(&h.to_hex().to_uppercase()), None);
    }

    #[test]
    fn canonical_list_sorts_and_dedups() {
        assert_eq!(canonical_list(&["食品安全", "计量", "食品安全"]), "计量;食品安全");
    }
}
