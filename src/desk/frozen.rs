//! What an announcement freezes, kept in the database of record: the pool
//! snapshot a task is drawn on and its commit–reveal secret.
//!
//! Announcing reads each live pool file once: the bytes handed to the parser
//! are the bytes hashed and stored ([`crate::store`]), so an edit made while
//! the pools are read cannot leave a snapshot whose files are not the
//! records it is named by. The content is stored first, in short
//! transactions of its own; the rows naming it ([`Attached::Snapshot`],
//! [`Attached::PrivateFile`]) are written in the announcement's transaction,
//! so a crash leaves an announcement with its pools and secret, or neither.
//!
//! `snapshots/` in the data folder is only a cache of the stored snapshots,
//! for whatever reads pools from a folder: every use checks it against the
//! store's file hashes and rebuilds it when it is missing or differs (a file
//! this process already hashed, untouched since, is not hashed again).
//! `secrets/` holds nothing the reveal needs. Data folders made before the
//! store kept these are imported at start ([`Desk::import_legacy_snapshots`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{blocking, io, sync_dir, Desk, SeedMethod, TaskError, SNAPSHOT_WORKBOOK};
use crate::ledger::Attached;
use crate::pools::{
    check_path, is_workbook, load_csv, load_workbook_bytes, Checked, CsvSource, LoadOptions, PoolRecords, Pools, FILES,
};
use crate::records;
use crate::seed::{commitment, Seed};
use crate::snapshot::Hash32;
use crate::stamp::FileStamp;
use crate::store::{self, FileWriter, KnownChunks, PreparedChunk, PutStats, StoreError, StoredFile};

/// Chunks written per store transaction while pools are read: a few
/// megabytes, so SQLite's one writer is never held for long, and commits
/// (each an fsync) stay a few hundred for a 1 GB file.
const CHUNKS_PER_COMMIT: usize = 64;

/// A task's frozen pools, read and checked but not yet hashed. The only way
/// to the pools is [`FrozenUnhashed::hash_while`], which refuses them unless
/// they are the snapshot the task was announced on: a snapshot's files
/// replaced in the database cannot pass for it.
pub struct FrozenUnhashed {
    checked: Checked,
    expected: Hash32,
    path: PathBuf,
}

impl FrozenUnhashed {
    /// The pools, hashed while `work` runs on their records, and what `work`
    /// returned; an error, and nothing of `work`'s, unless the pools hash
    /// to the announced snapshot.
    pub fn hash_while<R: Send>(self, work: impl FnOnce(&PoolRecords) -> R + Send) -> Result<(Pools, R), TaskError> {
        let (pools, result) = self.checked.hash_while(work);
        if pools.snapshot.combined() != self.expected {
            return Err(TaskError::Invalid(format!(
                "{} holds pools {}, not the snapshot {} the task was announced on",
                self.path.display(),
                pools.snapshot.combined(),
                self.expected
            )));
        }
        Ok((pools, result))
    }
}

/// Pools read and their bytes stored: what an announcement registers.
pub struct Frozen {
    pub pools: Pools,
    /// The snapshot's files by name (`targets.csv`, or `pools.xlsx`).
    pub files: BTreeMap<String, Hash32>,
    /// What storing them added.
    pub stats: PutStats,
    /// The bytes read, as files, to become the snapshot's cached copy once
    /// an entry names them ([`Desk::keep_copy`]).
    pub copy: Option<ReadCopy>,
}

/// A pool folder's bytes written out as they were read, into a scratch
/// folder of `snapshots/`. Once the store holds them under an entry, the
/// folder becomes the snapshot's cached copy, so the first draw need not
/// write a gigabyte back out of the store; until then it is removed when
/// dropped. Like any cached copy it is checked against the stored hashes
/// before use. A copy that could not be written is dropped: it is a cache.
pub struct ReadCopy {
    dir: PathBuf,
}

impl Drop for ReadCopy {
    fn drop(&mut self) {
        // Gone already once kept: renamed into place.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where a pool folder's bytes are copied while they are read, and whether
/// a write failed (then the copy is not kept).
#[derive(Clone)]
struct Copying {
    dir: PathBuf,
    spoiled: Arc<AtomicBool>,
}

impl Copying {
    fn file(&self, name: &str) -> Option<File> {
        let file = File::create(self.dir.join(name));
        self.check(file)
    }

    fn write(&self, file: &mut Option<File>, bytes: &[u8]) {
        if let Some(open) = file {
            if self.check(open.write_all(bytes)).is_none() {
                *file = None;
            }
        }
    }

    fn check<T>(&self, result: std::io::Result<T>) -> Option<T> {
        match result {
            Ok(done) => Some(done),
            Err(e) => {
                if !self.spoiled.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, folder = %self.dir.display(), "the pools read are not kept as a cached copy");
                }
                None
            }
        }
    }
}

impl Frozen {
    /// The row that registers these files as the snapshot of the pools.
    pub fn attached(&self) -> Attached {
        Attached::Snapshot {
            hash: self.pools.snapshot.combined(),
            files: self.files.clone(),
        }
    }
}

/// Where a desk that must not write its data folder (`ledger verify`)
/// rebuilds the snapshots it checks: a folder of its own under the system's
/// temporary directory, made on first use and removed with the desk.
pub struct Scratch(PathBuf);

impl Scratch {
    pub(super) fn new() -> Scratch {
        let name = format!("shuangsui-snapshots-{}", &crate::entropy::random_seed().to_hex()[..16]);
        Scratch(std::env::temp_dir().join(name))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Nothing there unless a snapshot was rebuilt; a failure leaves only
        // a temporary folder behind.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The name a commit–reveal secret is kept under, among the private files.
pub(super) fn secret_name(commitment: &str) -> String {
    format!("commit-{commitment}.hex")
}

type Sink = Box<dyn FnMut(PreparedChunk) -> Result<(), StoreError> + Send>;

/// A file read, chunked on the reading thread, and the chunks held until the
/// async side writes them: small files and workbooks.
struct Prepared {
    name: String,
    file: StoredFile,
    chunks: Vec<PreparedChunk>,
}

fn prepare(name: &str, bytes: &[u8]) -> Result<Prepared, StoreError> {
    let mut chunks = Vec::new();
    let mut writer = FileWriter::new(|chunk| {
        chunks.push(chunk);
        Ok(())
    });
    writer.write(bytes)?;
    let file = writer.finish()?;
    Ok(Prepared {
        name: name.to_owned(),
        file,
        chunks,
    })
}

/// A pool folder read once: the target directory's bytes go to the parser
/// and, piece by piece, to the store's chunker; the small files are kept as
/// read, to be stored after the parse.
struct Teeing<'a> {
    dir: &'a Path,
    copying: Option<Copying>,
    known: Arc<KnownChunks>,
    sink: Mutex<Option<Sink>>,
    streamed: Arc<Mutex<Option<Result<StoredFile, StoreError>>>>,
    small: Mutex<BTreeMap<String, Vec<u8>>>,
}

/// The target directory as it is read: each piece is handed on to the
/// chunker before the parser sees it, and the file is named at its end.
struct TeeStream {
    file: File,
    copy: Option<(Copying, Option<File>)>,
    writer: Option<FileWriter<Sink>>,
    streamed: Arc<Mutex<Option<Result<StoredFile, StoreError>>>>,
}

impl Read for TeeStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        if let Some((copying, file)) = &mut self.copy {
            copying.write(file, &buf[..n]);
        }
        let Some(writer) = self.writer.as_mut() else {
            return Ok(n);
        };
        if n > 0 {
            writer.write(&buf[..n]).map_err(std::io::Error::other)?;
        } else {
            let finished = self.writer.take().expect("present").finish();
            *self.streamed.lock().expect("not poisoned") = Some(finished);
        }
        Ok(n)
    }
}

impl CsvSource for Teeing<'_> {
    type Stream = TeeStream;

    fn open(&self, name: &str) -> std::io::Result<(TeeStream, usize)> {
        let file = File::open(self.dir.join(name))?;
        let size = file.metadata()?.len() as usize;
        crate::heavy::small_pages_for(size);
        let sink = self
            .sink
            .lock()
            .expect("not poisoned")
            .take()
            .ok_or_else(|| std::io::Error::other(format!("{name} was opened twice")))?;
        let copy = self.copying.as_ref().map(|c| (c.clone(), c.file(name)));
        Ok((
            TeeStream {
                file,
                copy,
                writer: Some(FileWriter::knowing(sink, Arc::clone(&self.known))),
                streamed: self.streamed.clone(),
            },
            size,
        ))
    }

    fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        let bytes = std::fs::read(self.dir.join(name))?;
        if let Some(copying) = &self.copying {
            copying.write(&mut copying.file(name), &bytes);
        }
        self.small
            .lock()
            .expect("not poisoned")
            .insert(name.to_owned(), bytes.clone());
        Ok(bytes)
    }

    fn locate(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

/// Reads the pools at `path` (a folder of the five CSV files or one
/// workbook) once, on a blocking thread: the target directory's chunks go
/// to `sink` as they are read; the rest comes back prepared. With `copy`,
/// the bytes read are written into that folder too. Chunks in `known` are
/// not compressed again.
fn read_pools(path: &Path, sink: Sink, copy: Option<PathBuf>, known: Arc<KnownChunks>) -> Result<ReadPools, TaskError> {
    let copying = copy.and_then(|dir| {
        let copying = Copying {
            dir,
            spoiled: Arc::default(),
        };
        copying.check(std::fs::create_dir_all(&copying.dir)).map(|()| copying)
    });
    // Made first, so that pools refused while read take their copy with them.
    let copy = copying.as_ref().map(|c| ReadCopy { dir: c.dir.clone() });
    let (pools, prepared, targets) = read_teeing(path, sink, copying.as_ref(), known)?;
    let spoiled = copying.is_some_and(|c| c.spoiled.load(Ordering::Relaxed));
    Ok(ReadPools {
        pools,
        prepared,
        targets,
        copy: copy.filter(|_| !spoiled),
    })
}

/// What [`read_pools`] read.
struct ReadPools {
    pools: Pools,
    prepared: Vec<Prepared>,
    targets: Option<StoredFile>,
    copy: Option<ReadCopy>,
}

fn read_teeing(
    path: &Path,
    sink: Sink,
    copying: Option<&Copying>,
    known: Arc<KnownChunks>,
) -> Result<(Pools, Vec<Prepared>, Option<StoredFile>), TaskError> {
    if is_workbook(path) {
        drop(sink);
        let bytes = std::fs::read(path).map_err(io(path))?;
        if let Some(copying) = copying {
            copying.write(&mut copying.file(SNAPSHOT_WORKBOOK), &bytes);
        }
        let prepared = prepare(SNAPSHOT_WORKBOOK, &bytes)?;
        let label = path
            .file_name()
            .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let pools = load_workbook_bytes(&label, bytes).map_err(TaskError::Pools)?;
        return Ok((pools, vec![prepared], None));
    }
    let source = Teeing {
        dir: path,
        copying: copying.cloned(),
        known,
        sink: Mutex::new(Some(sink)),
        streamed: Arc::default(),
        small: Mutex::default(),
    };
    let loaded = load_csv(&source, LoadOptions::default());
    // The sink goes whatever happened, so the async side sees the end.
    drop(source.sink.lock().expect("not poisoned").take());
    let pools = loaded.map_err(TaskError::Pools)?;
    let targets = source
        .streamed
        .lock()
        .expect("not poisoned")
        .take()
        .ok_or_else(|| TaskError::Invalid("the target directory was not read to its end".into()))??;
    let small = source.small.into_inner().expect("not poisoned");
    let mut prepared = Vec::new();
    for (_, name) in FILES {
        if name == crate::pools::targets::FILE {
            continue;
        }
        let bytes = small
            .get(name)
            .ok_or_else(|| TaskError::Invalid(format!("{name} was not read")))?;
        prepared.push(prepare(name, bytes)?);
    }
    Ok((pools, prepared, Some(targets)))
}

/// A transaction that writes. On SQLite it takes the write lock at once, as
/// the ledger's do: a deferred one that read first would fail with
/// "database is locked" rather than wait, when another process writes.
async fn begin_write(pool: &sqlx::AnyPool, sqlite: bool) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
    Ok(if sqlite {
        pool.begin_with("BEGIN IMMEDIATE").await?
    } else {
        pool.begin().await?
    })
}

/// Writes chunks as they arrive, a few dozen per transaction.
async fn drain(
    pool: &sqlx::AnyPool,
    sqlite: bool,
    chunks: &mut mpsc::Receiver<PreparedChunk>,
) -> Result<PutStats, StoreError> {
    let mut stats = PutStats::default();
    let mut batch = Vec::with_capacity(CHUNKS_PER_COMMIT);
    let mut open = true;
    while open {
        match chunks.recv().await {
            Some(chunk) => batch.push(chunk),
            None => open = false,
        }
        if batch.len() < CHUNKS_PER_COMMIT && open {
            continue;
        }
        if batch.is_empty() {
            break;
        }
        let mut tx = begin_write(pool, sqlite).await?;
        for chunk in batch.drain(..) {
            if store::put_chunk(&mut tx, &chunk).await? {
                stats.chunks_new += 1;
                stats.bytes_new += chunk.data.len() as u64;
            } else {
                stats.chunks_existing += 1;
            }
        }
        tx.commit().await?;
    }
    Ok(stats)
}

impl Desk {
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        begin_write(self.ledger.pool(), self.ledger.is_sqlite()).await
    }

    /// Reads the live pools once and stores their bytes (see the module
    /// docs). Nothing names them yet: an announcement attaches
    /// [`Frozen::attached`] to its entry.
    pub async fn freeze_pools(&self) -> Result<Frozen, TaskError> {
        self.store_pools(self.pools_dir.clone()).await
    }

    /// Reads the pools at `path` once, parsing and storing the same bytes.
    async fn store_pools(&self, path: PathBuf) -> Result<Frozen, TaskError> {
        // A few chunks in flight, as in `store::put_reader`.
        let (tx, mut rx) = mpsc::channel(8);
        // A desk that must not write its data folder keeps no copy.
        let copy = self
            .scratch
            .is_none()
            .then(|| self.snapshots_dir.join(super::scratch_name("read", "tmp")));
        let known = self.known_chunks().await;
        let reading = crate::heavy::run(move || read_pools(&path, Box::new(store::channel_sink(tx)), copy, known));
        let drained = drain(self.ledger.pool(), self.ledger.is_sqlite(), &mut rx).await;
        // On a database error the receiver goes first, so the reader's next
        // send fails and its thread ends instead of waiting on a full channel.
        drop(rx);
        let read = match reading.await {
            Ok(read) => read,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let mut stats = drained?;
        let ReadPools {
            pools,
            prepared,
            targets,
            copy,
        } = read?;
        let mut files = BTreeMap::new();
        let mut tx = self.write_tx().await?;
        for Prepared { name, file, chunks } in prepared {
            for chunk in &chunks {
                if store::put_chunk(&mut tx, chunk).await? {
                    stats.chunks_new += 1;
                    stats.bytes_new += chunk.data.len() as u64;
                } else {
                    stats.chunks_existing += 1;
                }
            }
            store::put_file(&mut tx, &file).await?;
            files.insert(name, file.hash);
        }
        let mut target_chunks = None;
        if let Some(targets) = targets {
            store::put_file(&mut tx, &targets).await?;
            files.insert(crate::pools::targets::FILE.to_owned(), targets.hash);
            target_chunks = Some(targets.chunks);
        }
        tx.commit().await.map_err(StoreError::from)?;
        if let Some(chunks) = target_chunks {
            *self.known_chunks.lock().expect("not poisoned") = Arc::new(chunks.into_iter().collect());
        }
        Ok(Frozen {
            pools,
            files,
            stats,
            copy,
        })
    }

    /// The chunks this desk believes stored: those of the target directory
    /// it stored last, or, before it has stored one (the first announcement
    /// after a start), those of the last snapshot registered. So a restart
    /// does not make the next announcement compress again the gigabyte of a
    /// national directory stored before. Only a saving: whatever fails here
    /// leaves none known.
    async fn known_chunks(&self) -> Arc<KnownChunks> {
        let known = Arc::clone(&self.known_chunks.lock().expect("not poisoned"));
        if !known.is_empty() {
            return known;
        }
        match self.last_registered_target_chunks().await {
            Ok(Some(chunks)) => {
                let learnt: Arc<KnownChunks> = Arc::new(chunks.into_iter().collect());
                *self.known_chunks.lock().expect("not poisoned") = Arc::clone(&learnt);
                learnt
            }
            Ok(None) => known,
            Err(error) => {
                tracing::debug!(%error, "the last snapshot's chunks could not be read; none are known");
                known
            }
        }
    }

    /// The chunks of the target directory of the last snapshot registered,
    /// if it has one (a workbook's snapshot does not).
    async fn last_registered_target_chunks(&self) -> Result<Option<Vec<Hash32>>, TaskError> {
        let Some((last, _)) = self.ledger.all::<crate::pools::SnapshotHashes>().await?.pop() else {
            return Ok(None);
        };
        let mut conn = self
            .ledger
            .raw_pool()
            .acquire()
            .await
            .map_err(crate::ledger::LedgerError::from)?;
        let Some(files) = store::snapshot_files(&mut conn, &last.combined()).await? else {
            return Ok(None);
        };
        let Some(file) = files.get(crate::pools::targets::FILE) else {
            return Ok(None);
        };
        Ok(store::file_info(&mut conn, file).await?.map(|info| info.chunks))
    }

    /// Makes the pools' bytes as read the cached copy of their snapshot,
    /// once an entry names it, unless there is one already. The copy is a
    /// cache: failing to keep it changes nothing.
    pub(super) async fn keep_copy(&self, copy: Option<ReadCopy>, combined: &Hash32) {
        let Some(copy) = copy else { return };
        let target = self.snapshot_dir(combined);
        let kept = blocking(move || {
            if !target.exists() {
                if let Err(e) = std::fs::rename(&copy.dir, &target) {
                    // Another draw rebuilt it meanwhile: theirs is as good.
                    tracing::debug!(error = %e, folder = %target.display(), "the pools read are not the cached copy");
                }
            }
            Ok(())
        });
        let _ = kept.await;
    }

    /// A snapshot as a folder to load, checked against the store: a copy in
    /// `snapshots/` is used only if it holds exactly the stored files, each
    /// hashing to its stored name; otherwise it is rebuilt from the store.
    /// A snapshot the store does not hold is read from a folder made before
    /// the store kept them, if there is one (loading it checks its hash).
    pub async fn snapshot_pools(&self, combined: &Hash32) -> Result<PathBuf, TaskError> {
        let dir = self.snapshot_dir(combined);
        let stored = {
            let mut conn = self.ledger.pool().acquire().await.map_err(StoreError::from)?;
            store::snapshot_files(&mut conn, combined).await?
        };
        let Some(files) = stored else {
            if dir.is_dir() {
                return Ok(pools_in(&dir));
            }
            return Err(TaskError::Invalid(format!(
                "the pool snapshot {combined} is not in the database"
            )));
        };
        // A desk that must not write its data folder (`ledger verify`)
        // uses a copy there if it is sound, else one of its own elsewhere.
        let mut candidates = vec![self.snapshots_dir.clone()];
        if let Some(scratch) = &self.scratch {
            candidates.push(scratch.0.clone());
        }
        for parent in &candidates {
            let (checked, expected) = (parent.join(combined.to_hex()), files.clone());
            if blocking(move || cache_matches(&checked, &expected)).await? {
                return Ok(pools_in(&parent.join(combined.to_hex())));
            }
        }
        let parent = candidates.pop().expect("one at least");
        self.rebuild(combined, &files, &parent).await?;
        Ok(pools_in(&parent.join(combined.to_hex())))
    }

    /// The pools a task was announced on, loaded from its snapshot and
    /// refused unless they are the records the snapshot is named by.
    pub async fn frozen_pools(&self, combined: &Hash32) -> Result<Pools, TaskError> {
        let unhashed = self.frozen_unhashed(combined).await?;
        blocking(move || unhashed.hash_while(|_| ()).map(|(pools, ())| pools)).await
    }

    /// [`Desk::frozen_pools`] up to the hash of the target directory, which
    /// [`FrozenUnhashed::hash_while`] computes beside a draw.
    pub async fn frozen_unhashed(&self, combined: &Hash32) -> Result<FrozenUnhashed, TaskError> {
        let path = self.snapshot_pools(combined).await?;
        let expected = *combined;
        blocking(move || {
            let checked = check_path(&path, LoadOptions::default()).map_err(TaskError::Pools)?;
            Ok(FrozenUnhashed {
                checked,
                expected,
                path,
            })
        })
        .await
    }

    /// Writes the snapshot's files from the store into a folder of its own,
    /// then swaps it in, so a reader sees the old copy or the new one.
    async fn rebuild(
        &self,
        combined: &Hash32,
        files: &BTreeMap<String, Hash32>,
        parent: &Path,
    ) -> Result<(), TaskError> {
        let parent = parent.to_owned();
        let temp = parent.join(super::scratch_name(&combined.to_hex(), "tmp"));
        let made = temp.clone();
        blocking(move || {
            std::fs::create_dir_all(&made).map_err(io(&made))?;
            Ok(())
        })
        .await?;
        let written: Result<(), TaskError> = async {
            for (name, file) in files {
                let reader = store::FilePieces::open(self.ledger.pool().clone(), file)
                    .await?
                    .into_blocking_reader();
                let path = temp.join(name);
                blocking(move || copy_into(reader, &path)).await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = written {
            // A failed rebuild leaves nothing half-written to be mistaken
            // for a copy.
            let temp = temp.clone();
            blocking(move || std::fs::remove_dir_all(&temp).map_err(io(&temp))).await?;
            return Err(e);
        }
        let (dir, combined, files) = (parent.join(combined.to_hex()), *combined, files.clone());
        blocking(move || {
            sync_dir(&temp)?;
            // Rebuilt by another request meanwhile: that copy stays, so a
            // loader about to open it is not left without it.
            if cache_matches(&dir, &files)? {
                return std::fs::remove_dir_all(&temp).map_err(io(&temp));
            }
            // Looked at again: another request may have put a sound copy in
            // place since the check above, and a loader may be opening it.
            // Only a copy that does not match its record is moved aside.
            if dir.exists() && !cache_matches(&dir, &files)? {
                // Moved aside rather than removed in place, so a loader that
                // has it open keeps reading whole files.
                let old = parent.join(super::scratch_name(&combined.to_hex(), "old"));
                if std::fs::rename(&dir, &old).is_ok() {
                    std::fs::remove_dir_all(&old).map_err(io(&old))?;
                }
            }
            if let Err(e) = std::fs::rename(&temp, &dir) {
                std::fs::remove_dir_all(&temp).map_err(io(&temp))?;
                // Rebuilt by another request meanwhile, from the same rows.
                if !dir.is_dir() {
                    return Err(io(&dir)(e));
                }
            }
            sync_dir(&parent)
        })
        .await
    }

    /// Stores a new commit–reveal secret; the announcement attaches the
    /// returned row, so the secret is on record exactly when its commitment is.
    pub(super) async fn store_secret(&self, secret: &Seed) -> Result<Attached, TaskError> {
        let mut conn = self.ledger.pool().acquire().await.map_err(StoreError::from)?;
        let (file, _) = store::put_bytes(&mut conn, secret.to_hex().as_bytes()).await?;
        Ok(Attached::PrivateFile {
            name: secret_name(&commitment(secret)),
            file: file.hash,
        })
    }

    /// The secret behind `published`, from the database; for a task
    /// announced before secrets were kept there and not imported yet, from
    /// its file in `secrets/`.
    pub(super) async fn stored_secret(&self, published: &str, task_id: &str) -> Result<String, TaskError> {
        if let Some(file) = records::private_file(self.ledger.pool(), &secret_name(published)).await? {
            let mut conn = self.ledger.pool().acquire().await.map_err(StoreError::from)?;
            let bytes = store::read_file(&mut conn, &file).await?;
            return String::from_utf8(bytes)
                .map_err(|_| TaskError::WrongSeedMaterial("the stored secret is not text".into()));
        }
        for path in [self.secret_path(published), self.legacy_secret_path(task_id)] {
            if path.is_file() {
                let read = path.clone();
                return blocking(move || std::fs::read_to_string(&read).map_err(io(&read))).await;
            }
        }
        Err(TaskError::WrongSeedMaterial(format!(
            "no secret is kept for commitment {published}"
        )))
    }

    /// Imports what a data folder made before the store kept it holds: each
    /// snapshot folder a registered snapshot or announcement names, read once
    /// and stored if it loads to the hash it is named by; each secret file
    /// whose SHA-256 is an announced commitment, attached to that
    /// announcement. Whatever does not check is left where it is, with a
    /// warning, and never imported.
    pub async fn import_legacy_snapshots(&self) -> Result<(), TaskError> {
        let mut named = BTreeSet::new();
        for (hashes, _) in self.ledger.all::<crate::pools::SnapshotHashes>().await? {
            named.insert(hashes.combined());
        }
        let announcements = self.announcements().await?;
        for (announcement, _) in &announcements {
            named.insert(announcement.snapshot_combined);
        }
        for combined in named {
            let stored = {
                let mut conn = self.ledger.pool().acquire().await.map_err(StoreError::from)?;
                store::snapshot_files(&mut conn, &combined).await?
            };
            let dir = self.snapshot_dir(&combined);
            if stored.is_some() {
                continue;
            }
            if !dir.is_dir() {
                tracing::warn!(
                    "the pool snapshot {combined} is neither in the database nor in {}",
                    dir.display()
                );
                continue;
            }
            let frozen = match self.store_pools(pools_in(&dir)).await {
                Ok(frozen) if frozen.pools.snapshot.combined() == combined => frozen,
                Ok(frozen) => {
                    tracing::warn!(
                        "{} holds pools {}, not the snapshot it is named by; not imported",
                        dir.display(),
                        frozen.pools.snapshot.combined()
                    );
                    continue;
                }
                Err(e) => {
                    tracing::warn!("{}: not imported: {e}", dir.display());
                    continue;
                }
            };
            let mut tx = self.write_tx().await?;
            store::put_snapshot(&mut tx, &combined, &frozen.files).await?;
            tx.commit().await.map_err(StoreError::from)?;
            tracing::info!("imported the pool snapshot {combined} from {}", dir.display());
        }
        for (announcement, entry) in &announcements {
            let SeedMethod::Commit {
                commitment: published, ..
            } = &announcement.seed_method
            else {
                continue;
            };
            let name = secret_name(published);
            if records::private_file(self.ledger.pool(), &name).await?.is_some() {
                continue;
            }
            for path in [
                self.secret_path(published),
                self.legacy_secret_path(&announcement.task_id),
            ] {
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                match Seed::parse_hex(&text) {
                    Ok(secret) if commitment(&secret) == *published => {}
                    _ => {
                        tracing::warn!("{} is not the secret of {published}; not imported", path.display());
                        continue;
                    }
                }
                let mut tx = self.write_tx().await?;
                let (file, _) = store::put_bytes(&mut tx, text.as_bytes()).await?;
                records::insert(&mut tx, entry.seq, &[Attached::PrivateFile { name, file: file.hash }]).await?;
                tx.commit().await.map_err(StoreError::from)?;
                tracing::info!(
                    "imported the secret of {} from {}",
                    announcement.task_id,
                    path.display()
                );
                break;
            }
        }
        Ok(())
    }
}

/// What to load in a snapshot folder: the workbook in it, or the folder.
fn pools_in(dir: &Path) -> PathBuf {
    let workbook = dir.join(SNAPSHOT_WORKBOOK);
    if workbook.is_file() {
        workbook
    } else {
        dir.to_owned()
    }
}

/// How long a cached file must have been left unchanged before its hash is
/// taken on trust the next time: a file changed within the timestamp
/// granularity of its filesystem (a clock tick; a second on some) can keep
/// the times it had, so only a file whose times are older than this when it
/// is hashed is remembered as verified.
const SETTLED: std::time::Duration = std::time::Duration::from_secs(2);

/// The cached files this process has hashed and found to hold their
/// record, by path: the hash they held and their [`FileStamp`] then. Every
/// draw, substitution and audit checks its snapshot; at national scale that
/// is a gigabyte to hash each time, for files nothing has touched.
static VERIFIED: std::sync::LazyLock<Mutex<std::collections::HashMap<PathBuf, (Hash32, FileStamp)>>> =
    std::sync::LazyLock::new(Mutex::default);

/// Whether `dir` holds exactly `files`, each with the content of its hash.
/// A file this process already hashed to its record is not hashed again
/// while its [`FileStamp`] is the one it had then.
fn cache_matches(dir: &Path, files: &BTreeMap<String, Hash32>) -> Result<bool, TaskError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut names = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        names.insert(entry.file_name().to_string_lossy().into_owned());
    }
    if !names.iter().eq(files.keys()) {
        return Ok(false);
    }
    for (name, expected) in files {
        let path = dir.join(name);
        // The time is taken before the file's metadata, so a file changed
        // after it was looked at always shows a later time than the one kept.
        let now = std::time::SystemTime::now();
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io(&path)(e)),
        };
        let stamp = FileStamp::of(&file.metadata().map_err(io(&path))?);
        let verified = VERIFIED.lock().expect("not poisoned").get(&path) == Some(&(*expected, stamp));
        if verified {
            continue;
        }
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher).map_err(io(&path))?;
        let mut known = VERIFIED.lock().expect("not poisoned");
        if Hash32(hasher.finalize().into()) != *expected {
            known.remove(&path);
            return Ok(false);
        }
        if stamp.settled(now, SETTLED) {
            known.insert(path, (*expected, stamp));
        } else {
            known.remove(&path);
        }
    }
    Ok(true)
}

/// Copies a stored file to `path` and syncs it. A store error while reading
/// (a corrupt chunk) is reported as such, not as a disk error.
fn copy_into(mut reader: store::BlockingReader, path: &Path) -> Result<(), TaskError> {
    let mut file = File::create(path).map_err(io(path))?;
    if let Err(e) = std::io::copy(&mut reader, &mut file) {
        let store_error = e
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<StoreError>().is_some());
        if store_error {
            let inner = e
                .into_inner()
                .expect("checked")
                .downcast::<StoreError>()
                .expect("checked");
            return Err(TaskError::Store(*inner));
        }
        return Err(io(path)(e));
    }
    file.sync_all().map_err(io(path))
}
