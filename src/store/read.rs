//! Reading stored files back, every byte checked against the names it was
//! stored under before it is handed out.

use std::collections::BTreeMap;
use std::io::Read;

use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, AnyPool, Row};
use tokio::sync::mpsc;

use super::chunker::StoredFile;
use super::{Codec, StoreError, MAX_CHUNK};
use crate::snapshot::Hash32;

/// A stored file's row: its length and chunk list, without its bytes.
pub async fn file_info(conn: &mut AnyConnection, file: &Hash32) -> Result<Option<StoredFile>, StoreError> {
    let row = sqlx::query("SELECT len, chunk_count, chunks FROM store_files WHERE hash = $1")
        .bind(file.to_hex())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let corrupt = |reason: String| StoreError::CorruptFile { file: *file, reason };
    let len = row.try_get::<i64, _>(0)?;
    let count = row.try_get::<i64, _>(1)?;
    let list = row.try_get::<Vec<u8>, _>(2)?;
    if len < 0 {
        return Err(corrupt(format!("its recorded length is {len}")));
    }
    if list.len() % 32 != 0 || (list.len() / 32) as i64 != count {
        return Err(corrupt(format!(
            "its chunk list has {} bytes for {count} chunks",
            list.len()
        )));
    }
    let chunks = list
        .chunks_exact(32)
        .map(|h| Hash32(h.try_into().expect("32 bytes")))
        .collect();
    Ok(Some(StoredFile {
        hash: *file,
        len: len as u64,
        chunks,
    }))
}

/// A whole stored file, checked.
pub async fn read_file(conn: &mut AnyConnection, file: &Hash32) -> Result<Vec<u8>, StoreError> {
    let info = file_info(conn, file)
        .await?
        .ok_or(StoreError::MissingFile { file: *file })?;
    let mut check = Check::new(info);
    let mut bytes = Vec::with_capacity(check.file.len.min(1 << 30) as usize);
    for i in 0..check.file.chunks.len() {
        let chunk = fetch_chunk(conn, file, &check.file.chunks[i]).await?;
        check.accept(&chunk)?;
        bytes.extend_from_slice(&chunk);
    }
    check.finish()?;
    Ok(bytes)
}

/// The files of a stored snapshot by name, or `None` when no snapshot has
/// that name.
pub async fn snapshot_files(
    conn: &mut AnyConnection,
    snapshot: &Hash32,
) -> Result<Option<BTreeMap<String, Hash32>>, StoreError> {
    let row = sqlx::query("SELECT file_count FROM store_snapshots WHERE hash = $1")
        .bind(snapshot.to_hex())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let count = row.try_get::<i64, _>(0)?;
    let corrupt = |reason: String| StoreError::CorruptSnapshot {
        snapshot: *snapshot,
        reason,
    };
    let rows = sqlx::query("SELECT name, file_hash FROM store_snapshot_files WHERE snapshot_hash = $1")
        .bind(snapshot.to_hex())
        .fetch_all(&mut *conn)
        .await?;
    let mut files = BTreeMap::new();
    for row in rows {
        let name = row.try_get::<String, _>(0)?;
        let text = row.try_get::<String, _>(1)?;
        let hash = Hash32::parse(&text).ok_or_else(|| corrupt(format!("file {name}: {text:?} is not a hash")))?;
        files.insert(name, hash);
    }
    if files.len() as i64 != count {
        return Err(corrupt(format!(
            "it records {count} files but {} are listed",
            files.len()
        )));
    }
    Ok(Some(files))
}

/// One chunk's raw bytes, checked against its name and recorded length.
async fn fetch_chunk(conn: &mut AnyConnection, file: &Hash32, chunk: &Hash32) -> Result<Vec<u8>, StoreError> {
    let row = sqlx::query("SELECT raw_len, codec, data FROM store_chunks WHERE hash = $1")
        .bind(chunk.to_hex())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Err(StoreError::MissingChunk {
            file: *file,
            chunk: *chunk,
        });
    };
    let corrupt = |reason: String| StoreError::CorruptChunk {
        file: *file,
        chunk: *chunk,
        reason,
    };
    let raw_len = row.try_get::<i64, _>(0)?;
    let codec = row.try_get::<i64, _>(1)?;
    let data = row.try_get::<Vec<u8>, _>(2)?;
    // The recorded length bounds decompression: an edited row cannot make a
    // reader allocate more than one chunk's worth.
    if raw_len < 0 || raw_len as usize > MAX_CHUNK {
        return Err(corrupt(format!("its recorded length {raw_len} is not that of a chunk")));
    }
    let raw_len = raw_len as usize;
    let raw = match Codec::from_db(codec) {
        Some(Codec::Raw) => data,
        Some(Codec::Zstd) => {
            zstd::bulk::decompress(&data, raw_len).map_err(|e| corrupt(format!("it does not decompress: {e}")))?
        }
        None => return Err(corrupt(format!("unknown codec {codec}"))),
    };
    if raw.len() != raw_len {
        return Err(corrupt(format!(
            "it holds {} bytes, not the recorded {raw_len}",
            raw.len()
        )));
    }
    let actual = Hash32(Sha256::digest(&raw).into());
    if actual != *chunk {
        return Err(corrupt(format!("its bytes hash to {actual}")));
    }
    Ok(raw)
}

/// The whole-file check, carried along as chunks are read. The file's hash is
/// compared as its last chunk arrives, before that chunk is handed out.
struct Check {
    file: StoredFile,
    next: usize,
    hasher: Sha256,
    len: u64,
    done: bool,
}

impl Check {
    fn new(file: StoredFile) -> Check {
        Check {
            file,
            next: 0,
            hasher: Sha256::new(),
            len: 0,
            done: false,
        }
    }

    fn accept(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        self.hasher.update(chunk);
        self.len += chunk.len() as u64;
        self.next += 1;
        if self.next == self.file.chunks.len() {
            self.finish()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), StoreError> {
        if self.done {
            return Ok(());
        }
        let corrupt = |reason: String| StoreError::CorruptFile {
            file: self.file.hash,
            reason,
        };
        if self.len != self.file.len {
            return Err(corrupt(format!(
                "its chunks hold {} bytes, not the recorded {}",
                self.len, self.file.len
            )));
        }
        let actual = Hash32(std::mem::take(&mut self.hasher).finalize().into());
        if actual != self.file.hash {
            return Err(corrupt(format!("its chunks' bytes hash to {actual}")));
        }
        self.done = true;
        Ok(())
    }
}

/// A stored file read chunk by chunk, for files too large to hold at once.
/// It takes a connection from the pool per chunk and holds none between, so
/// a slow consumer never keeps others (on SQLite, the one writer) waiting.
pub struct FilePieces {
    pool: AnyPool,
    check: Check,
}

impl FilePieces {
    pub async fn open(pool: AnyPool, file: &Hash32) -> Result<FilePieces, StoreError> {
        let info = {
            let mut conn = pool.acquire().await?;
            file_info(&mut conn, file).await?
        };
        let info = info.ok_or(StoreError::MissingFile { file: *file })?;
        Ok(FilePieces {
            pool,
            check: Check::new(info),
        })
    }

    pub fn file(&self) -> &StoredFile {
        &self.check.file
    }

    /// The next chunk's bytes, or `None` after the last one. An error ends
    /// the file: whatever was read before it is not the file.
    pub async fn next_piece(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(chunk) = self.check.file.chunks.get(self.check.next).copied() else {
            // Reached at once only by an empty file; otherwise already checked.
            self.check.finish()?;
            return Ok(None);
        };
        let mut conn = self.pool.acquire().await?;
        let bytes = fetch_chunk(&mut conn, &self.check.file.hash, &chunk).await?;
        self.check.accept(&bytes)?;
        Ok(Some(bytes))
    }

    /// The file as an [`std::io::Read`] for a blocking thread (a parser in
    /// `spawn_blocking`): a task on the current runtime reads ahead a few
    /// chunks. Must be called from within a Tokio runtime; the reader must
    /// then be read outside async code (`blocking_recv` panics there).
    pub fn into_blocking_reader(mut self) -> BlockingReader {
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            loop {
                let message = match self.next_piece().await {
                    Ok(Some(piece)) => Message::Piece(piece),
                    Ok(None) => Message::End,
                    Err(e) => Message::Failed(e),
                };
                let last = !matches!(message, Message::Piece(_));
                if tx.send(message).await.is_err() || last {
                    return;
                }
            }
        });
        BlockingReader {
            rx,
            current: Vec::new(),
            at: 0,
            finished: false,
        }
    }
}

enum Message {
    Piece(Vec<u8>),
    End,
    Failed(StoreError),
}

/// See [`FilePieces::into_blocking_reader`]. End of file is reported only
/// after the whole file was checked; a store error is an I/O error whose
/// inner error is the [`StoreError`].
pub struct BlockingReader {
    rx: mpsc::Receiver<Message>,
    current: Vec<u8>,
    at: usize,
    finished: bool,
}

impl Read for BlockingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.at < self.current.len() {
                let n = buf.len().min(self.current.len() - self.at);
                buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
                self.at += n;
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Message::Piece(piece)) => {
                    self.current = piece;
                    self.at = 0;
                }
                Some(Message::End) => self.finished = true,
                Some(Message::Failed(e)) => return Err(std::io::Error::other(e)),
                // The reading task went away without saying the file ended
                // (its runtime shut down): never a silent end of file.
                None => {
                    return Err(std::io::Error::other(
                        "the store reader stopped before the end of the file",
                    ))
                }
            }
        }
    }
}
