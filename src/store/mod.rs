//! The content-addressed store: files kept in the database, cut into
//! content-defined chunks that are compressed and stored once, however many
//! files and snapshots share them.
//!
//! It exists so that a pool snapshot can live in the database of record,
//! written in the same transaction as the ledger entry that names it, without
//! a full copy per announcement: at national scale the targets file is about
//! 1 GB, and an announcement after a one-line change adds only the one or two
//! chunks around that line, the new file's chunk list and a snapshot row.
//!
//! Four tables (`migrations/*/0003_store.sql`):
//!
//! - `store_chunks`: a chunk's SHA-256 (of its raw bytes), its raw length, and
//!   its bytes, zstd-compressed unless that would not make them smaller;
//! - `store_files`: a file's SHA-256 (of its whole content), its length and
//!   the ordered list of its chunks' hashes;
//! - `store_snapshots` and `store_snapshot_files`: a set of named files under
//!   a name the caller gives, for pools their combined snapshot hash.
//!
//! Rows are only ever inserted, and every insert is `ON CONFLICT DO NOTHING`
//! (SQLite and PostgreSQL alike), so writing content that is already there
//! writes nothing and two writers of the same content do not collide.
//!
//! **Blocking and async.** Chunking, hashing and compressing a gigabyte is CPU
//! work; the database is async. The two halves are separate so that neither
//! blocks the other's thread:
//!
//! - [`FileWriter`] (blocking, no database) takes a file's bytes in pieces as
//!   they are read — the pool loader's own pieces, so the bytes that are
//!   hashed and parsed are the bytes stored — and hands each finished
//!   [`PreparedChunk`] to a sink; [`FileWriter::finish`] returns the
//!   [`StoredFile`] (hash, length, chunk list). It holds at most one maximum
//!   chunk plus the current piece in memory.
//! - [`put_chunk`], [`put_file`] and [`put_snapshot`] (async) write into a
//!   caller's open connection or transaction (`&mut *tx`), so a ledger entry
//!   and the content it makes true commit or roll back together.
//!
//! A caller combines them with a bounded channel: the blocking thread runs
//! the writer with [`channel_sink`], the async side drains the channel with
//! [`put_chunks`] into the transaction, then writes the file row with the
//! writer's result. [`put_reader`] does exactly that for anything readable,
//! and [`put_bytes`] for bytes already in memory.
//!
//! **Reading** verifies everything it returns: each chunk's bytes must hash
//! to its name and have its recorded length, and the whole file must hash to
//! the file's name. A hand-edited database is an error naming the chunk or
//! file, never wrong bytes. [`read_file`] returns a whole file; [`FilePieces`]
//! yields it chunk by chunk (async), and [`FilePieces::into_blocking_reader`]
//! turns that into an [`std::io::Read`] for a parser on a blocking thread.
//! A streamed file whose chunks are each sound but whose whole hash is wrong
//! (a reordered chunk list) fails at its last read, before end of file.

mod chunker;
mod read;
mod write;

use crate::snapshot::Hash32;

pub use chunker::{channel_sink, FileWriter, KnownChunks, PreparedChunk, StoredFile};
pub use read::{file_info, read_file, snapshot_files, BlockingReader, FilePieces};
pub use write::{put_bytes, put_chunk, put_chunks, put_file, put_reader, put_snapshot, PutStats};

/// Chunk sizes, in bytes. A 64 KiB average keeps a 1 GB targets file at
/// about 16,000 chunks (a 512 KB chunk list, 0.05% of the file) while one
/// changed line costs only the chunk or two around it (64–256 KiB raw, a
/// fraction of that compressed). Chunks much smaller than that would compress
/// worse, each zstd frame starting with an empty window, and multiply rows; a
/// 16 KiB minimum skips cut points that would make such chunks, and the
/// 256 KiB maximum bounds what one row holds and what a reader must buffer
/// when content has no cut points (a long run of one byte). All three are
/// even, as FastCDC's two-bytes-at-a-time scan needs. Changing them changes
/// every chunk boundary, so stored content would stop being shared with new
/// writes (it stays readable: a file names its chunks, not how they were cut).
pub const MIN_CHUNK: usize = 16 * 1024;
pub const AVG_CHUNK: usize = 64 * 1024;
pub const MAX_CHUNK: usize = 256 * 1024;

/// zstd level 3 (zstd's default): on the pools' CSV it compresses about as
/// well as the higher levels at several times their speed, and decompression
/// speed does not depend on it.
pub const ZSTD_LEVEL: i32 = 3;

/// How a chunk's bytes are kept in `store_chunks.data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// The raw bytes, when compressing would not make them smaller.
    Raw = 0,
    /// One zstd frame.
    Zstd = 1,
}

impl Codec {
    fn from_db(value: i64) -> Option<Codec> {
        match value {
            0 => Some(Codec::Raw),
            1 => Some(Codec::Zstd),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("compressing a chunk: {0}")]
    Compress(std::io::Error),
    #[error("reading the content to store: {0}")]
    Source(std::io::Error),
    /// The receiving end of a chunk channel went away: the writer on the
    /// other side failed or was dropped.
    #[error("the chunk channel closed before the file was written")]
    ChannelClosed,
    #[error("no stored file {file}")]
    MissingFile { file: Hash32 },
    #[error("stored file {file} names chunk {chunk}, which is not in the store")]
    MissingChunk { file: Hash32, chunk: Hash32 },
    #[error("stored chunk {chunk} (of file {file}) is corrupt: {reason}")]
    CorruptChunk {
        file: Hash32,
        chunk: Hash32,
        reason: String,
    },
    #[error("stored file {file} is corrupt: {reason}")]
    CorruptFile { file: Hash32, reason: String },
    #[error("stored snapshot {snapshot} is corrupt: {reason}")]
    CorruptSnapshot { snapshot: Hash32, reason: String },
    /// A snapshot names a file that is not in the store.
    #[error("snapshot {snapshot} names file {name} ({file}), which is not in the store")]
    SnapshotFileMissing {
        snapshot: Hash32,
        name: String,
        file: Hash32,
    },
}

impl StoreError {
    /// What is damaged, when the error is stored content that is missing or
    /// does not check (not the database being unreachable): a sentence that
    /// names the chunk, file or snapshot by its hash and nothing else, so it
    /// may be shown to whoever asked. The reason a check failed stays in the
    /// error itself, for the log.
    pub fn damage(&self) -> Option<String> {
        Some(match self {
            StoreError::MissingFile { file } => format!("stored file {file} is missing from the database"),
            StoreError::MissingChunk { file, chunk } => {
                format!("stored chunk {chunk} of file {file} is missing from the database")
            }
            StoreError::CorruptChunk { file, chunk, .. } => {
                format!("stored chunk {chunk} of file {file} is corrupt in the database")
            }
            StoreError::CorruptFile { file, .. } => format!("stored file {file} is corrupt in the database"),
            StoreError::CorruptSnapshot { snapshot, .. } => {
                format!("stored snapshot {snapshot} is corrupt in the database")
            }
            StoreError::SnapshotFileMissing { snapshot, file, .. } => {
                format!("stored snapshot {snapshot} names file {file}, which is missing from the database")
            }
            StoreError::Database(_) | StoreError::Compress(_) | StoreError::Source(_) | StoreError::ChannelClosed => {
                return None
            }
        })
    }
}
