//! Signed checkpoints of the ledger: the service's side of
//! [`crate::tlog`]. The Merkle tree over the entries' hashes, kept up to
//! date from the database; the signing key on disk; the latest checkpoint
//! signed as a note; inclusion and consistency proofs; and the check that a
//! ledger still extends a checkpoint someone saved earlier, which is what
//! catches truncation and rewrite-and-rechain (`docs/LEDGER.md`).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tokio::sync::Mutex;

use crate::entropy;
use crate::ledger::{Head, Ledger, LedgerError};
use crate::snapshot::Hash32;
pub use crate::tlog::checkpoint::base64;
use crate::tlog::merkle::{self, leaf_hash, ProofError};
use crate::tlog::{Checkpoint, CheckpointError, Signer, Verifier};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the checkpoint key {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot create the checkpoint key {}: {source}", path.display())]
    Create { path: PathBuf, source: std::io::Error },
    #[error("the checkpoint key {}: {source}", path.display())]
    Invalid {
        path: PathBuf,
        source: crate::tlog::NoteError,
    },
    #[error("the checkpoint key {} signs for {key_name:?}, but the configured ledger_origin is {origin:?}", path.display())]
    OtherOrigin {
        path: PathBuf,
        key_name: String,
        origin: String,
    },
}

/// Reads the signing key (Go's signer key text,
/// `PRIVATE+KEY+NAME+HASH+BASE64`), never creating one.
pub fn read_key(path: &Path) -> Result<Signer, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    Signer::parse(text.trim_end()).map_err(|source| KeyError::Invalid {
        path: path.to_owned(),
        source,
    })
}

/// The signing key at `path`, created for `origin` (or `default_origin`)
/// when there is none yet: mode 0600, written whole under another name and
/// linked into place, so instances starting together agree on one key. The
/// key's name is the ledger's origin; a configured origin must be it.
pub fn open_or_create_key(path: &Path, origin: Option<&str>, default_origin: &str) -> Result<Signer, KeyError> {
    if !path.exists() {
        create_key(path, origin.unwrap_or(default_origin))?;
    }
    read_key_for(path, origin)
}

/// Reads the signing key, which must be for `origin` when one is configured.
pub fn read_key_for(path: &Path, origin: Option<&str>) -> Result<Signer, KeyError> {
    let signer = read_key(path)?;
    if let Some(origin) = origin {
        if signer.verifier().name() != origin {
            return Err(KeyError::OtherOrigin {
                path: path.to_owned(),
                key_name: signer.verifier().name().to_owned(),
                origin: origin.to_owned(),
            });
        }
    }
    Ok(signer)
}

fn create_key(path: &Path, name: &str) -> Result<(), KeyError> {
    let failed = |source| KeyError::Create {
        path: path.to_owned(),
        source,
    };
    let signer = Signer::from_seed(name, &entropy::os_bytes()).map_err(|source| KeyError::Invalid {
        path: path.to_owned(),
        source,
    })?;
    let temp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
        &entropy::random_seed().to_hex()[..16]
    ));
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp)?;
        file.write_all(format!("{}\n", signer.to_key_text()).as_bytes())?;
        file.sync_all()?;
        // Fails if another instance linked its key first: then that one is the key.
        match std::fs::hard_link(&temp, path) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
            _ => Ok(()),
        }
    })();
    let _ = std::fs::remove_file(&temp);
    written.map_err(failed)
}

/// The Merkle tree of the ledger: one leaf hash per entry, in order. Kept
/// in memory and brought up to date with only the entries appended since.
#[derive(Debug, Default, Clone)]
pub struct LedgerTree {
    leaves: Vec<Hash32>,
    /// The hash of the last entry read, to notice a database whose history
    /// changed under us: every entry's hash chains all those before it, so
    /// if the last one read is still there unchanged, so is everything up
    /// to it.
    last: Option<Hash32>,
}

impl LedgerTree {
    /// The tree of the ledger as it stands.
    pub async fn of(ledger: &Ledger) -> Result<LedgerTree, LedgerError> {
        let mut tree = LedgerTree::default();
        tree.update(ledger).await?;
        Ok(tree)
    }

    /// Adds the entries appended since the last update; starts over when
    /// the entries already read are no longer the ledger's (it was
    /// truncated or rewritten).
    pub async fn update(&mut self, ledger: &Ledger) -> Result<(), LedgerError> {
        let size = self.leaves.len() as u64;
        if let Some(last) = self.last {
            let still = ledger.hashes(size - 1, 1).await?;
            if still.first() != Some(&(size, last)) {
                *self = LedgerTree::default();
            }
        }
        loop {
            let size = self.leaves.len() as u64;
            let batch = ledger.hashes(size, 10_000).await?;
            let Some(&(_, last)) = batch.last() else {
                return Ok(());
            };
            for (n, (seq, hash)) in (size + 1..).zip(&batch) {
                if *seq != n {
                    return Err(LedgerError::Corrupt {
                        seq: *seq,
                        message: format!("sequence jumps from {} to {seq}", n - 1),
                    });
                }
                self.leaves.push(leaf_hash(&hash.0));
            }
            self.last = Some(last);
        }
    }

    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// Whether the tree was last brought up to this head: then, the chain
    /// being what it is, it is the tree of the ledger up to that head.
    fn is_at(&self, head: &Head) -> bool {
        self.size() == head.seq && self.last.unwrap_or(Head::GENESIS.hash) == head.hash
    }

    /// The root of the first `size` entries (at most [`LedgerTree::size`]).
    pub fn root_at(&self, size: u64) -> Hash32 {
        merkle::root(&self.leaves[..size as usize])
    }

    pub fn root(&self) -> Hash32 {
        merkle::root(&self.leaves)
    }

    /// The inclusion proof of entry `seq` (from 1) in the tree of the first
    /// `size` entries.
    pub fn inclusion(&self, seq: u64, size: u64) -> Result<InclusionProof, ProofRequestError> {
        if size > self.size() {
            return Err(ProofRequestError::Beyond {
                size,
                held: self.size(),
            });
        }
        if seq == 0 || seq > size {
            return Err(ProofRequestError::Invalid(format!(
                "entry {seq} is not among the first {size} entries (entries count from 1)"
            )));
        }
        let leaves = &self.leaves[..size as usize];
        let index = (seq - 1) as usize;
        Ok(InclusionProof {
            seq,
            index: seq - 1,
            size,
            leaf_hash: leaves[index],
            root: merkle::root(leaves),
            proof: merkle::inclusion_proof(leaves, index),
        })
    }

    /// The consistency proof from the tree of the first `from` entries to
    /// that of the first `to`.
    pub fn consistency(&self, from: u64, to: u64) -> Result<ConsistencyProof, ProofRequestError> {
        if to > self.size() {
            return Err(ProofRequestError::Beyond {
                size: to,
                held: self.size(),
            });
        }
        if from > to {
            return Err(ProofRequestError::Invalid(format!(
                "from ({from}) must not be larger than to ({to})"
            )));
        }
        let leaves = &self.leaves[..to as usize];
        Ok(ConsistencyProof {
            from,
            to,
            from_root: merkle::root(&leaves[..from as usize]),
            to_root: merkle::root(leaves),
            proof: merkle::consistency_proof(leaves, from as usize),
        })
    }
}

/// An inclusion proof as the API serves it; hashes in lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InclusionProof {
    /// The entry's sequence number (from 1).
    pub seq: u64,
    /// Its leaf index in the tree (from 0): `seq - 1`.
    pub index: u64,
    pub size: u64,
    /// `SHA-256(0x00 || entry hash)`.
    pub leaf_hash: Hash32,
    pub root: Hash32,
    /// Sibling hashes from the leaf up.
    pub proof: Vec<Hash32>,
}

impl InclusionProof {
    /// Checks the proof on its own terms (the caller compares `root` with a
    /// checkpoint it trusts).
    pub fn verify(&self) -> Result<(), ProofError> {
        merkle::verify_inclusion(self.index, self.size, &self.leaf_hash, &self.proof, &self.root)
    }
}

/// A consistency proof as the API serves it; hashes in lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub from_root: Hash32,
    pub to_root: Hash32,
    pub proof: Vec<Hash32>,
}

impl ConsistencyProof {
    pub fn verify(&self) -> Result<(), ProofError> {
        merkle::verify_consistency(self.from, self.to, &self.proof, &self.from_root, &self.to_root)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProofRequestError {
    #[error("the ledger holds {held} entries, not {size}")]
    Beyond { size: u64, held: u64 },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// A checkpoint and its signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub checkpoint: Checkpoint,
    pub note: String,
}

/// The service's checkpoints: the key, and the tree with the latest
/// checkpoint signed over it, cached per ledger size.
pub struct Checkpoints {
    signer: Signer,
    state: Mutex<(LedgerTree, Option<Signed>)>,
}

impl Checkpoints {
    pub fn new(signer: Signer) -> Checkpoints {
        Checkpoints {
            signer,
            state: Mutex::new((LedgerTree::default(), None)),
        }
    }

    /// The public key checkpoints verify under.
    pub fn verifier(&self) -> &Verifier {
        self.signer.verifier()
    }

    pub fn origin(&self) -> &str {
        self.signer.verifier().name()
    }

    /// The ledger's tree as it stands, brought up to date.
    pub async fn tree(&self, ledger: &Ledger) -> Result<LedgerTree, LedgerError> {
        let mut state = self.state.lock().await;
        state.0.update(ledger).await?;
        Ok(state.0.clone())
    }

    /// The checkpoint of the ledger as it stands, signed; signed again only
    /// when the ledger has grown (or changed) since the last one. Every
    /// public page asks, so an unchanged head costs one read of the head and
    /// no hashing.
    pub async fn latest(&self, ledger: &Ledger) -> Result<Signed, LedgerError> {
        let head = ledger.head().await?;
        let mut state = self.state.lock().await;
        let (tree, signed) = &mut *state;
        if let Some(signed) = signed.as_ref().filter(|_| tree.is_at(&head)) {
            return Ok(signed.clone());
        }
        tree.update(ledger).await?;
        let root = tree.root();
        if let Some(signed) = signed
            .as_ref()
            .filter(|s| s.checkpoint.size == tree.size() && s.checkpoint.root == root)
        {
            return Ok(signed.clone());
        }
        let fresh = sign(&self.signer, tree.size(), root);
        *signed = Some(fresh.clone());
        Ok(fresh)
    }
}

/// The signed checkpoint of a tree of `size` entries with this root.
pub fn sign(signer: &Signer, size: u64, root: Hash32) -> Signed {
    let checkpoint = Checkpoint {
        origin: signer.verifier().name().to_owned(),
        size,
        root,
    };
    let note = checkpoint
        .sign(signer)
        .expect("a checkpoint's text is a valid note and the key's name a valid origin");
    Signed { checkpoint, note }
}

/// Why a ledger does not extend a saved checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum ExtendError {
    #[error("the checkpoint does not verify under {key}: {source}")]
    Note { key: String, source: CheckpointError },
    #[error("the ledger was truncated: the checkpoint covers {size} entries, the ledger now holds only {held}")]
    Truncated { size: u64, held: u64 },
    #[error(
        "the ledger was rewritten: the root of its first {size} entries is {found}, the checkpoint's is {expected} (base64)"
    )]
    Rewritten { size: u64, expected: String, found: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Checks that the ledger as it stands extends the signed checkpoint `note`
/// (see [`check_extends`]).
pub async fn ledger_extends(ledger: &Ledger, note: &str, verifier: &Verifier) -> Result<Extends, ExtendError> {
    let tree = LedgerTree::of(ledger).await?;
    check_extends(&tree, note, verifier)
}

/// The checkpoint of the ledger as it stands, signed.
pub async fn sign_ledger(ledger: &Ledger, signer: &Signer) -> Result<Signed, LedgerError> {
    let tree = LedgerTree::of(ledger).await?;
    Ok(sign(signer, tree.size(), tree.root()))
}

/// A checkpoint the ledger extends.
#[derive(Debug, Clone)]
pub struct Extends {
    pub checkpoint: Checkpoint,
    /// The ledger's size now.
    pub size: u64,
    /// The consistency proof from the checkpoint to the ledger now.
    pub proof: ConsistencyProof,
}

/// Checks that `tree` extends the signed checkpoint `note`: the note's
/// signature verifies under `verifier`, the ledger holds at least the
/// checkpoint's entries, and the root of that many is the checkpoint's.
pub fn check_extends(tree: &LedgerTree, note: &str, verifier: &Verifier) -> Result<Extends, ExtendError> {
    let checkpoint = Checkpoint::open(note, verifier).map_err(|source| ExtendError::Note {
        key: verifier.to_string(),
        source,
    })?;
    if checkpoint.size > tree.size() {
        return Err(ExtendError::Truncated {
            size: checkpoint.size,
            held: tree.size(),
        });
    }
    let found = tree.root_at(checkpoint.size);
    if found != checkpoint.root {
        return Err(ExtendError::Rewritten {
            size: checkpoint.size,
            expected: base64(&checkpoint.root),
            found: base64(&found),
        });
    }
    let proof = tree
        .consistency(checkpoint.size, tree.size())
        .expect("the checkpoint's size is within the tree");
    debug_assert!(proof.verify().is_ok());
    Ok(Extends {
        size: tree.size(),
        checkpoint,
        proof,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Kind;

    async fn ledger_of(n: u32) -> Ledger {
        let ledger = Ledger::open("sqlite::memory:").await.unwrap();
        for k in 0..n {
            ledger
                .append(Kind::PlanAnnounced, &format!("announce:T{k}"), "{}", "t")
                .await
                .unwrap();
        }
        ledger
    }

    #[tokio::test]
    async fn the_tree_follows_appends_and_starts_over_after_a_rewrite() {
        let ledger = ledger_of(5).await;
        let mut tree = LedgerTree::of(&ledger).await.unwrap();
        let entries = ledger.entries(0, 100).await.unwrap();
        let leaves: Vec<Hash32> = entries.iter().map(|e| leaf_hash(&e.hash.0)).collect();
        assert_eq!((tree.size(), tree.root()), (5, merkle::root(&leaves)));
        ledger
            .append(Kind::PlanAnnounced, "announce:T5", "{}", "t")
            .await
            .unwrap();
        tree.update(&ledger).await.unwrap();
        assert_eq!(tree.size(), 6);
        assert_eq!(tree.root_at(5), merkle::root(&leaves));
        // The last entry replaced behind the tree's back: the cached leaves go.
        let pool = ledger.raw_pool();
        sqlx::query("DROP TRIGGER ledger_no_delete")
            .execute(pool)
            .await
            .unwrap();
        sqlx::query("DELETE FROM ledger WHERE seq = 6")
            .execute(pool)
            .await
            .unwrap();
        ledger
            .append(Kind::PlanAnnounced, "announce:OTHER", "{}", "t")
            .await
            .unwrap();
        tree.update(&ledger).await.unwrap();
        assert_eq!(tree.size(), 6);
        assert_eq!(tree.root(), LedgerTree::of(&ledger).await.unwrap().root());
    }

    #[tokio::test]
    async fn a_checkpoint_is_extended_by_growth_and_not_by_truncation() {
        let ledger = ledger_of(4).await;
        let checkpoints = Checkpoints::new(Signer::from_seed("shuangsui/test", &[3; 32]).unwrap());
        let saved = checkpoints.latest(&ledger).await.unwrap();
        assert_eq!(saved, checkpoints.latest(&ledger).await.unwrap(), "cached per head");
        ledger
            .append(Kind::PlanAnnounced, "announce:T9", "{}", "t")
            .await
            .unwrap();
        let tree = checkpoints.tree(&ledger).await.unwrap();
        let extends = check_extends(&tree, &saved.note, checkpoints.verifier()).unwrap();
        assert_eq!((extends.checkpoint.size, extends.size), (4, 5));
        extends.proof.verify().unwrap();
        let shorter = LedgerTree::of(&ledger_of(3).await).await.unwrap();
        assert!(matches!(
            check_extends(&shorter, &saved.note, checkpoints.verifier()),
            Err(ExtendError::Truncated { size: 4, held: 3 })
        ));
    }

    #[test]
    fn a_new_key_is_private_and_a_second_start_reads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.key");
        let first = open_or_create_key(&path, None, "shuangsui/var").unwrap();
        let again = open_or_create_key(&path, None, "shuangsui/elsewhere").unwrap();
        assert_eq!(first.verifier(), again.verifier());
        assert_eq!(first.verifier().name(), "shuangsui/var");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(
            open_or_create_key(&path, Some("shuangsui/other"), "x"),
            Err(KeyError::OtherOrigin { .. })
        ));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
