//! Checkpoints: the size and root of a log at one moment, as the text of a
//! signed note in the tlog-checkpoint format of Go's checksum database and
//! Sigstore (transparency-dev `log.Checkpoint`).
//!
//! The text is three lines, each ending in a newline: the log's origin (a
//! name that tells this log from every other), the tree size in decimal,
//! and the root hash in standard base64. Lines after those are extensions;
//! they are allowed when reading and never written.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::note::{self, NoteError, Signer, Verifier};
use crate::snapshot::Hash32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error("not a checkpoint: {0}")]
    Malformed(&'static str),
    #[error("the checkpoint is of log {found:?}, not of {expected:?}")]
    OtherOrigin { expected: String, found: String },
}

/// A hash in standard base64, as a checkpoint writes its root.
pub fn base64(hash: &Hash32) -> String {
    STANDARD.encode(hash.0)
}

/// One checkpoint of the ledger's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash32,
}

impl Checkpoint {
    /// The note text: origin, size and base64 root, each ending in LF.
    pub fn text(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, base64(&self.root))
    }

    /// Reads a checkpoint's note text (extension lines are passed over).
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let bad = CheckpointError::Malformed;
        let mut lines = text
            .strip_suffix('\n')
            .ok_or(bad("the text does not end in a newline"))?
            .split('\n');
        let origin = lines.next().filter(|o| !o.is_empty()).ok_or(bad("no origin line"))?;
        let size_text = lines.next().ok_or(bad("no tree size line"))?;
        let canonical = !size_text.is_empty()
            && size_text.bytes().all(|b| b.is_ascii_digit())
            && (size_text == "0" || !size_text.starts_with('0'));
        let size: u64 = size_text
            .parse()
            .ok()
            .filter(|_| canonical)
            .ok_or(bad("the tree size is not a decimal number"))?;
        let root_text = lines.next().ok_or(bad("no root hash line"))?;
        let root: [u8; 32] = STANDARD
            .decode(root_text)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(bad("the root hash is not 32 bytes in base64"))?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root: Hash32(root),
        })
    }

    /// The signed note of this checkpoint.
    pub fn sign(&self, signer: &Signer) -> Result<String, CheckpointError> {
        Ok(signer.sign(&self.text())?)
    }

    /// Opens a signed checkpoint: it must be signed by `verifier` and be of
    /// the log `verifier` names (the key's name is the log's origin).
    pub fn open(signed: &str, verifier: &Verifier) -> Result<Checkpoint, CheckpointError> {
        let opened = note::open(signed, std::slice::from_ref(verifier))?;
        let checkpoint = Checkpoint::parse(&opened.text)?;
        if checkpoint.origin != verifier.name() {
            return Err(CheckpointError::OtherOrigin {
                expected: verifier.name().to_owned(),
                found: checkpoint.origin,
            });
        }
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlog::merkle::EMPTY_ROOT;

    fn signer() -> Signer {
        Signer::from_seed("shuangsui/test", &[7; 32]).unwrap()
    }

    #[test]
    fn a_checkpoint_signs_and_opens() {
        let checkpoint = Checkpoint {
            origin: "shuangsui/test".into(),
            size: 12,
            root: EMPTY_ROOT,
        };
        assert_eq!(
            checkpoint.text(),
            "shuangsui/test\n12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
        );
        let signed = checkpoint.sign(&signer()).unwrap();
        assert!(signed.starts_with(&format!("{}\n— shuangsui/test ", checkpoint.text())));
        assert_eq!(Checkpoint::open(&signed, signer().verifier()).unwrap(), checkpoint);
        let other = Signer::from_seed("shuangsui/test", &[8; 32]).unwrap();
        assert!(matches!(
            Checkpoint::open(&signed, other.verifier()),
            Err(CheckpointError::Note(NoteError::Unverified { .. }))
        ));
        let forged = signed.replace("\n12\n", "\n11\n");
        assert!(matches!(
            Checkpoint::open(&forged, signer().verifier()),
            Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
        ));
    }

    #[test]
    fn the_origin_must_be_the_keys_name() {
        let checkpoint = Checkpoint {
            origin: "elsewhere".into(),
            size: 1,
            root: EMPTY_ROOT,
        };
        let signed = checkpoint.sign(&signer()).unwrap();
        assert!(matches!(
            Checkpoint::open(&signed, signer().verifier()),
            Err(CheckpointError::OtherOrigin { .. })
        ));
    }

    #[test]
    fn malformed_texts_are_refused_and_extensions_allowed() {
        let root = STANDARD.encode([1u8; 32]);
        for bad in [
            format!("o\n12\n{root}"),
            format!("\n12\n{root}\n"),
            format!("o\n012\n{root}\n"),
            format!("o\n-1\n{root}\n"),
            format!("o\n\n{root}\n"),
            "o\n12\nAAAA\n".to_owned(),
            "o\n12\n".to_owned(),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
        }
        let parsed = Checkpoint::parse(&format!("o\n0\n{root}\nextension line\n")).unwrap();
        assert_eq!((parsed.size, parsed.root), (0, Hash32([1; 32])));
    }
}
