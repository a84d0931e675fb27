//! Signed notes, byte for byte as Go's `golang.org/x/mod/sumdb/note` writes
//! and reads them, so that the checksum database's and Sigstore's tools
//! accept ours.
//!
//! A note is UTF-8 text without control characters other than newline,
//! ending in a newline; then a blank line; then one line per signature,
//! `— NAME BASE64` (an em dash U+2014 and a space), where BASE64 is the
//! standard base64 of the 4-byte big-endian key hash followed by the
//! Ed25519 signature of the text (with its final newline, without the blank
//! line). The key hash is the first four bytes of
//! `SHA-256(NAME || "\n" || 0x01 || public key)`; 0x01 names Ed25519, the
//! only algorithm. A verifier key is written `NAME+HASH+BASE64(0x01 ||
//! public key)` with HASH as 8 lowercase hex digits, a signer key
//! `PRIVATE+KEY+NAME+HASH+BASE64(0x01 || 32-byte seed)`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

/// The algorithm byte of Ed25519 keys.
const ALG_ED25519: u8 = 1;
/// The start of every signature line.
const SIG_PREFIX: &str = "— ";
/// As in Go: a note with more signatures is refused unread.
const MAX_SIGNATURES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    #[error("malformed verifier key: {0}")]
    VerifierKey(&'static str),
    #[error("malformed signer key: {0}")]
    SignerKey(&'static str),
    #[error("invalid signature for key {name}+{hash:08x}")]
    InvalidSignature { name: String, hash: u32 },
    /// Signed, but by none of the keys given: names the keys that did sign.
    #[error("the note is signed by no known key (signed by {})", .signers.join(", "))]
    Unverified { signers: Vec<String> },
}

/// A key's name: non-empty, without spaces (any Unicode space) or `+`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// The key hash of a name and an encoded public key (`0x01 || key`).
fn key_hash(name: &str, encoded_key: &[u8]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update(encoded_key);
    let sum = hasher.finalize();
    u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]])
}

fn encoded(key: &VerifyingKey) -> [u8; 33] {
    let mut out = [0u8; 33];
    out[0] = ALG_ED25519;
    out[1..].copy_from_slice(key.as_bytes());
    out
}

/// A public key that checks one name's signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    hash: u32,
    key: VerifyingKey,
}

impl Verifier {
    pub fn new(name: &str, key: VerifyingKey) -> Result<Verifier, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::VerifierKey("the name is empty or has a space or a plus"));
        }
        Ok(Verifier {
            name: name.to_owned(),
            hash: key_hash(name, &encoded(&key)),
            key,
        })
    }

    /// Reads a verifier key, `NAME+HASH+BASE64`, as Go's `note.NewVerifier`.
    pub fn parse(text: &str) -> Result<Verifier, NoteError> {
        let bad = NoteError::VerifierKey;
        let (name, rest) = text.split_once('+').ok_or(bad("no + after the name"))?;
        let (hash16, key64) = rest.split_once('+').ok_or(bad("no + after the key hash"))?;
        if hash16.len() != 8 || !hash16.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the key hash is not 8 hex digits"));
        }
        let hash = u32::from_str_radix(hash16, 16).map_err(|_| bad("the key hash is not 8 hex digits"))?;
        let key = STANDARD.decode(key64).map_err(|_| bad("the key is not base64"))?;
        if !valid_name(name) || key.is_empty() {
            return Err(bad("the name is empty or has a space or a plus, or the key is empty"));
        }
        if hash != key_hash(name, &key) {
            return Err(bad("the key hash does not match the name and key"));
        }
        if key[0] != ALG_ED25519 {
            return Err(bad("unknown key algorithm"));
        }
        let bytes: [u8; 32] = key[1..].try_into().map_err(|_| bad("an Ed25519 key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad("not an Ed25519 public key"))?;
        Ok(Verifier {
            name: name.to_owned(),
            hash,
            key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_hash(&self) -> u32 {
        self.hash
    }

    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        self.key.verify(text, &Signature::from_bytes(&bytes)).is_ok()
    }
}

/// The verifier key text, `NAME+HASH+BASE64(0x01 || public key)`.
impl std::fmt::Display for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.hash,
            STANDARD.encode(encoded(&self.key))
        )
    }
}

/// A private key that signs notes under one name. Its `Debug` hides the key.
#[derive(Clone)]
pub struct Signer {
    verifier: Verifier,
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.verifier)
    }
}

impl Signer {
    /// The signer of a 32-byte Ed25519 seed (the private key proper).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Signer, NoteError> {
        let key = SigningKey::from_bytes(seed);
        let verifier = Verifier::new(name, key.verifying_key())
            .map_err(|_| NoteError::SignerKey("the name is empty or has a space or a plus"))?;
        Ok(Signer { verifier, key })
    }

    /// Reads a signer key, `PRIVATE+KEY+NAME+HASH+BASE64`, as Go's
    /// `note.NewSigner`; the hash must match the public half.
    pub fn parse(text: &str) -> Result<Signer, NoteError> {
        let bad = NoteError::SignerKey;
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(bad("it does not start with PRIVATE+KEY+"))?;
        let (name, rest) = rest.split_once('+').ok_or(bad("no + after the name"))?;
        let (hash16, key64) = rest.split_once('+').ok_or(bad("no + after the key hash"))?;
        if hash16.len() != 8 || !hash16.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the key hash is not 8 hex digits"));
        }
        let hash = u32::from_str_radix(hash16, 16).map_err(|_| bad("the key hash is not 8 hex digits"))?;
        let key = STANDARD.decode(key64).map_err(|_| bad("the key is not base64"))?;
        if key.first() != Some(&ALG_ED25519) {
            return Err(bad("unknown key algorithm"));
        }
        let seed: [u8; 32] = key[1..].try_into().map_err(|_| bad("an Ed25519 seed is 32 bytes"))?;
        let signer = Signer::from_seed(name, &seed)?;
        if signer.verifier.hash != hash {
            return Err(bad("the key hash does not match the name and key"));
        }
        Ok(signer)
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The signer key text, `PRIVATE+KEY+NAME+HASH+BASE64(0x01 || seed)`:
    /// whoever holds it can sign.
    pub fn to_key_text(&self) -> String {
        let mut key = [0u8; 33];
        key[0] = ALG_ED25519;
        key[1..].copy_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.verifier.name,
            self.verifier.hash,
            STANDARD.encode(key)
        )
    }

    /// The signed note of `text`, which must end in a newline and hold no
    /// control character but newline (else Go's `note.Open` would refuse it).
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        if !text.ends_with('\n') {
            return Err(NoteError::Malformed("the text does not end in a newline"));
        }
        let signature = self.key.sign(text.as_bytes());
        let mut raw = Vec::with_capacity(68);
        raw.extend_from_slice(&self.verifier.hash.to_be_bytes());
        raw.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{SIG_PREFIX}{} {}\n",
            self.verifier.name,
            STANDARD.encode(raw)
        ))
    }
}

/// A note opened: its text, and the names of the known keys that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub signed_by: Vec<String>,
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed("a control character other than newline"));
    }
    Ok(())
}

/// Opens a signed note as Go's `note.Open` does: the text, if at least one
/// of `known` signed it. A signature by a known key that does not verify is
/// an error, a signature by an unknown key is passed over; repeated
/// signatures count once.
pub fn open(message: &str, known: &[Verifier]) -> Result<Note, NoteError> {
    check_text(message)?;
    let split = message
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let (text, mut sigs) = (&message[..split + 1], &message[split + 2..]);
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(NoteError::Malformed("no signature, or no newline after the last"));
    }
    let mut signed_by: Vec<String> = Vec::new();
    let mut others: Vec<String> = Vec::new();
    let mut count = 0;
    while let Some((line, rest)) = sigs.split_once('\n') {
        sigs = rest;
        let line = line
            .strip_prefix(SIG_PREFIX)
            .ok_or(NoteError::Malformed("a line after the blank line is not a signature"))?;
        let (name, b64) = line.split_once(' ').unwrap_or((line, ""));
        let raw = STANDARD
            .decode(b64)
            .map_err(|_| NoteError::Malformed("a signature is not base64"))?;
        if !valid_name(name) || b64.is_empty() || raw.len() < 5 {
            return Err(NoteError::Malformed("a signature line's name or signature"));
        }
        count += 1;
        if count > MAX_SIGNATURES {
            return Err(NoteError::Malformed("more than 100 signatures"));
        }
        let hash = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let matching: Vec<&Verifier> = known.iter().filter(|v| v.name == name && v.hash == hash).collect();
        let Some(verifier) = matching.first() else {
            let signer = format!("{name}+{hash:08x}");
            if !others.contains(&signer) {
                others.push(signer);
            }
            continue;
        };
        if signed_by.iter().any(|n| n == name) {
            continue;
        }
        if !verifier.verify(text.as_bytes(), &raw[4..]) {
            return Err(NoteError::InvalidSignature {
                name: name.to_owned(),
                hash,
            });
        }
        signed_by.push(name.to_owned());
    }
    if signed_by.is_empty() {
        return Err(NoteError::Unverified { signers: others });
    }
    Ok(Note {
        text: text.to_owned(),
        signed_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The key and note of Go's own tests (golang.org/x/mod sumdb/note/note_test.go).
    const PETER_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str =
        "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str =
        "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    #[test]
    fn signing_reproduces_gos_note_byte_for_byte() {
        let signer = Signer::parse(PETER_SKEY).unwrap();
        assert_eq!(signer.to_key_text(), PETER_SKEY);
        assert_eq!(signer.verifier().to_string(), PETER_VKEY);
        assert_eq!(signer.verifier().key_hash(), 0xc74f20a3);
        assert_eq!(signer.sign(TEXT).unwrap(), format!("{TEXT}\n{PETER_SIG}"));
    }

    #[test]
    fn opening_follows_gos_rules() {
        let peter = Verifier::parse(PETER_VKEY).unwrap();
        let enoch = Verifier::parse(ENOCH_VKEY).unwrap();
        let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        let note = open(&both, std::slice::from_ref(&peter)).unwrap();
        assert_eq!(
            (note.text.as_str(), note.signed_by),
            (TEXT, vec!["PeterNeumann".to_owned()])
        );
        assert_eq!(open(&both, &[peter.clone(), enoch.clone()]).unwrap().signed_by.len(), 2);
        assert_eq!(
            open(&both, &[]),
            Err(NoteError::Unverified {
                signers: vec!["PeterNeumann+c74f20a3".into(), "EnochRoot+af0cfe78".into()]
            })
        );
        let forged = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        assert!(matches!(
            open(&forged, std::slice::from_ref(&peter)),
            Err(NoteError::InvalidSignature { .. })
        ));
        let edited = format!("{}\n{PETER_SIG}", TEXT.replace("answer", "Answer"));
        assert!(matches!(
            open(&edited, std::slice::from_ref(&peter)),
            Err(NoteError::InvalidSignature { .. })
        ));
        for bad in [
            TEXT.to_owned(),
            format!("{TEXT}\n"),
            format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
            format!("\x01{TEXT}\n{PETER_SIG}"),
            format!("{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
            format!("{TEXT}\n{}", PETER_SIG.repeat(101)),
        ] {
            assert!(
                matches!(open(&bad, std::slice::from_ref(&peter)), Err(NoteError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn mangled_keys_are_refused() {
        for bad in [
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TX",
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3",
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ] {
            assert!(Verifier::parse(bad).is_err(), "{bad}");
        }
        assert!(Signer::parse(&PETER_SKEY.replace("c74f20a3", "c74f20a4")).is_err());
        assert!(Signer::parse(&PETER_SKEY["PRIVATE+".len()..]).is_err());
    }
}
