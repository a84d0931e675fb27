//! The async half of writing: rows inserted into the caller's connection or
//! transaction, each only if its content is not there yet.

use std::collections::BTreeMap;
use std::io::Read;

use sqlx::AnyConnection;
use tokio::sync::mpsc;

use super::chunker::{channel_sink, FileWriter, PreparedChunk, StoredFile};
use super::StoreError;
use crate::snapshot::Hash32;

/// What a write added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PutStats {
    /// Chunks inserted by this write.
    pub chunks_new: u64,
    /// Chunks that were already stored and were not written again.
    pub chunks_existing: u64,
    /// Bytes of chunk data (as stored, compressed) inserted.
    pub bytes_new: u64,
}

/// Inserts a chunk unless one of that hash is stored; says whether it did.
pub async fn put_chunk(conn: &mut AnyConnection, chunk: &PreparedChunk) -> Result<bool, StoreError> {
    let hash = chunk.hash.to_hex();
    // Looking first keeps an unchanged chunk's bytes off the wire (a whole
    // re-announced pool, to a PostgreSQL server elsewhere); the insert's
    // ON CONFLICT still settles a race with another writer of the same chunk.
    let present = sqlx::query("SELECT 1 FROM store_chunks WHERE hash = $1")
        .bind(&hash)
        .fetch_optional(&mut *conn)
        .await?;
    if present.is_some() {
        return Ok(false);
    }
    let done = sqlx::query(
        "INSERT INTO store_chunks (hash, raw_len, codec, data) VALUES ($1, $2, $3, $4)
         ON CONFLICT (hash) DO NOTHING",
    )
    .bind(hash)
    .bind(chunk.raw_len as i64)
    .bind(chunk.codec as i64)
    .bind(&chunk.data[..])
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Writes every chunk received until the sending side closes the channel.
pub async fn put_chunks(
    conn: &mut AnyConnection,
    chunks: &mut mpsc::Receiver<PreparedChunk>,
) -> Result<PutStats, StoreError> {
    let mut stats = PutStats::default();
    while let Some(chunk) = chunks.recv().await {
        if put_chunk(conn, &chunk).await? {
            stats.chunks_new += 1;
            stats.bytes_new += chunk.data.len() as u64;
        } else {
            stats.chunks_existing += 1;
        }
    }
    Ok(stats)
}

/// Inserts a file's row unless that content is stored; its chunks must
/// already be written in the same transaction (or before).
pub async fn put_file(conn: &mut AnyConnection, file: &StoredFile) -> Result<bool, StoreError> {
    let list: Vec<u8> = file.chunks.iter().flat_map(|h| h.0).collect();
    let done = sqlx::query(
        "INSERT INTO store_files (hash, len, chunk_count, chunks) VALUES ($1, $2, $3, $4)
         ON CONFLICT (hash) DO NOTHING",
    )
    .bind(file.hash.to_hex())
    .bind(file.len as i64)
    .bind(file.chunks.len() as i64)
    .bind(list)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores bytes already in memory. The chunking runs on the calling thread:
/// meant for small files (a plan, a bundle's files); large ones go through
/// [`put_reader`] or a [`FileWriter`] on a blocking thread.
pub async fn put_bytes(conn: &mut AnyConnection, bytes: &[u8]) -> Result<(StoredFile, PutStats), StoreError> {
    let mut chunks = Vec::new();
    let mut writer = FileWriter::new(|chunk| {
        chunks.push(chunk);
        Ok(())
    });
    writer.write(bytes)?;
    let file = writer.finish()?;
    let mut stats = PutStats::default();
    for chunk in &chunks {
        if put_chunk(conn, chunk).await? {
            stats.chunks_new += 1;
            stats.bytes_new += chunk.data.len() as u64;
        } else {
            stats.chunks_existing += 1;
        }
    }
    put_file(conn, &file).await?;
    Ok((file, stats))
}

/// Stores everything `source` yields: read, chunked and compressed on a
/// blocking thread, written into `conn` as chunks arrive. The pattern a
/// caller with its own pieces (the pool loader) follows with
/// [`FileWriter`] and [`channel_sink`].
pub async fn put_reader<R: Read + Send + 'static>(
    conn: &mut AnyConnection,
    mut source: R,
) -> Result<(StoredFile, PutStats), StoreError> {
    // A few chunks in flight: enough to keep both sides busy, and at most
    // a megabyte or so held between them.
    let (tx, mut rx) = mpsc::channel(8);
    let chunking = crate::heavy::run(move || {
        let mut writer = FileWriter::new(channel_sink(tx));
        let mut piece = vec![0; 1 << 20];
        loop {
            let n = match source.read(&mut piece) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StoreError::Source(e)),
            };
            writer.write(&piece[..n])?;
        }
        writer.finish()
    });
    let written = put_chunks(conn, &mut rx).await;
    // On a database error the receiver goes first, so the writer's next send
    // fails and the thread ends instead of blocking on a full channel.
    drop(rx);
    let file = chunking.await.unwrap_or_else(|panic| {
        Err(StoreError::Source(std::io::Error::other(format!(
            "the chunking thread failed: {}",
            crate::heavy::panic_message(&*panic)
        ))))
    });
    let stats = written?;
    let file = file?;
    put_file(conn, &file).await?;
    Ok((file, stats))
}

/// Records a snapshot: `files` (name → file hash, each already stored) under
/// `name`. A snapshot already stored under that name is kept as it is and
/// `false` returned: its name is a hash of the content, so both hold the
/// same records (for pools, possibly as other bytes — another row order or
/// encoding — which hash to the same snapshot).
pub async fn put_snapshot(
    conn: &mut AnyConnection,
    name: &Hash32,
    files: &BTreeMap<String, Hash32>,
) -> Result<bool, StoreError> {
    for (file_name, file) in files {
        let present = sqlx::query("SELECT 1 FROM store_files WHERE hash = $1")
            .bind(file.to_hex())
            .fetch_optional(&mut *conn)
            .await?;
        if present.is_none() {
            return Err(StoreError::SnapshotFileMissing {
                snapshot: *name,
                name: file_name.clone(),
                file: *file,
            });
        }
    }
    let done =
        sqlx::query("INSERT INTO store_snapshots (hash, file_count) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING")
            .bind(name.to_hex())
            .bind(files.len() as i64)
            .execute(&mut *conn)
            .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    for (file_name, file) in files {
        sqlx::query("INSERT INTO store_snapshot_files (snapshot_hash, name, file_hash) VALUES ($1, $2, $3)")
            .bind(name.to_hex())
            .bind(file_name)
            .bind(file.to_hex())
            .execute(&mut *conn)
            .await?;
    }
    Ok(true)
}
