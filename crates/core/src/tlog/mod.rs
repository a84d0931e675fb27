//! Tamper evidence for the ledger that does not rest on trusting whoever
//! runs the database: a Merkle tree over the entries ([`merkle`], RFC 6962 /
//! RFC 9162), its roots signed as checkpoints ([`checkpoint`]) in the
//! signed-note format of Go's checksum database ([`note`]).
//!
//! The hash chain of the ledger proves only that the entries agree with each
//! other: whoever can write the database can delete the last entries, or
//! rewrite one and re-chain everything after it, and the chain still holds.
//! A signed checkpoint kept by an outsider fixes the first `size` entries: a
//! later ledger extends it only if the root of its first `size` entries is
//! the checkpoint's. The leaves are the entries' 32-byte hashes, in order;
//! `docs/LEDGER.md` specifies it for outside implementations.

pub mod checkpoint;
pub mod merkle;
pub mod note;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use note::{NoteError, Signer, Verifier};
