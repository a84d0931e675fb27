//! Published files of record: a bundle's files, its substitution lists and
//! its results notice live in the database ([`crate::records`]), written in
//! the transaction of the entry that makes them true; `publications/` is a
//! cache of them that may be deleted at any moment.
//!
//! Writing: the files are rendered to bytes, cut into chunks and compressed
//! on a blocking thread ([`prepare`]), put in the store (content-addressed,
//! so content stored before a crash that never got its entry names nothing
//! and harms nothing), and then the entry and its `bundle_files` rows are
//! appended in one short transaction.
//!
//! The cache: [`Desk::sync_publications`] makes each recorded bundle's folder
//! hold exactly the newest recorded version of each of its files. A folder
//! that differs is rebuilt beside it, synced, and exchanged with the old one
//! in one rename, so a reader sees the old folder or the new. It runs at
//! start (comparing every cached file's hash, and importing the bundles of
//! data folders made before the database held them) and whenever the ledger
//! head has moved (only the bundles whose record changed), so a draw made on
//! another host is served here at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::substitute::{note_name, SubstitutionRecord};
use super::{blocking, io, sync_dir, Desk, DrawRecord, TaskError};
use crate::ledger::{Attached, LedgerError};
use crate::records;
use crate::results::Notice;
use crate::snapshot::{bytes_hash, Hash32};
use crate::stamp::FileStamp;
use crate::store::{self, FileWriter, PreparedChunk, StoredFile};

/// A file's path in its bundle and its bytes.
type NamedBytes = (String, Vec<u8>);

/// A file rendered, hashed and chunked, ready for the store.
pub(crate) struct Prepared {
    pub path: String,
    pub bytes: Vec<u8>,
    file: StoredFile,
    chunks: Vec<PreparedChunk>,
}

impl Prepared {
    pub fn hash(&self) -> Hash32 {
        self.file.hash
    }
}

/// Chunks and compresses files for the store: CPU work, for a blocking thread.
pub(crate) fn prepare(files: Vec<(String, Vec<u8>)>) -> Result<Vec<Prepared>, TaskError> {
    files
        .into_iter()
        .map(|(path, bytes)| {
            let mut chunks = Vec::new();
            let mut writer = FileWriter::new(|chunk| {
                chunks.push(chunk);
                Ok(())
            });
            writer.write(&bytes).map_err(LedgerError::from)?;
            let file = writer.finish().map_err(LedgerError::from)?;
            Ok(Prepared {
                path,
                bytes,
                file,
                chunks,
            })
        })
        .collect()
}

/// The `bundle_files` rows of prepared files.
pub(crate) fn bundle_rows(bundle: &str, files: &[Prepared]) -> Vec<Attached> {
    files
        .iter()
        .map(|f| Attached::BundleFile {
            bundle: bundle.to_owned(),
            path: f.path.clone(),
            file: f.hash(),
        })
        .collect()
}

/// A point in the writing of a published file where a test may stop the
/// work, as a crash there would: nothing after it is done (armed only in a
/// build with the `fault-hooks` feature, which only the tests enable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The content is in the store; the entry is not yet appended.
    BeforeEntry,
    /// The entry is appended; the cache folder is not yet written.
    BeforeCache,
    /// A cache folder is written beside the one it replaces, not yet put in
    /// its place: reached only as a real crash ([`FAULT_ABORT`]), the
    /// folder's rebuild being no work of the desk's to stop.
    BeforeSwap,
}

/// The environment variable that, in a build with `fault-hooks`, makes the
/// process abort at the [`Fault`] it names (`before_entry`, `before_cache`,
/// `before_swap`).
#[cfg(feature = "fault-hooks")]
pub const FAULT_ABORT: &str = "SHUANGSUI_FAULT_ABORT";

impl Fault {
    /// The fault's name in [`FAULT_ABORT`].
    pub fn name(self) -> &'static str {
        match self {
            Fault::BeforeEntry => "before_entry",
            Fault::BeforeCache => "before_cache",
            Fault::BeforeSwap => "before_swap",
        }
    }

    /// Aborts the process here if [`FAULT_ABORT`] names this point: a real
    /// crash, for the tests that run the built binary.
    fn abort_if_named(self) {
        #[cfg(feature = "fault-hooks")]
        if std::env::var(FAULT_ABORT).is_ok_and(|named| named == self.name()) {
            std::process::abort();
        }
    }
}

/// What this process knows of the cache: the head it last synced at, the
/// recorded version of each bundle it last made the folder match, and the
/// recorded bundles at that head (what the pages read).
#[derive(Default)]
pub struct Cache {
    state: tokio::sync::Mutex<Synced>,
    /// Per bundle, the cached files last found to hash to their record, by
    /// path, with that record and the file's [`FileStamp`] then: a request
    /// re-reads a file only when its stamp has changed.
    checked: std::sync::Mutex<BTreeMap<String, Checked>>,
    #[cfg(feature = "fault-hooks")]
    fault: std::sync::Mutex<Option<Fault>>,
}

#[derive(Default)]
struct Synced {
    head: Option<u64>,
    versions: BTreeMap<String, u64>,
    drawn: Arc<Vec<String>>,
}

/// Cached files found sound, by path: the hash they matched and their stamp.
type Checked = BTreeMap<String, (Hash32, FileStamp)>;

impl Cache {
    fn checked(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Checked>> {
        self.checked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms a fault: the next write reaching `at` stops there with an error.
    #[cfg(feature = "fault-hooks")]
    pub fn fail_at(&self, at: Fault) {
        *self.fault.lock().expect("the fault's lock") = Some(at);
    }

    fn check(&self, _at: Fault) -> Result<(), TaskError> {
        #[cfg(feature = "fault-hooks")]
        {
            let at = _at;
            at.abort_if_named();
            let mut armed = self.fault.lock().expect("the fault's lock");
            if *armed == Some(at) {
                *armed = None;
                return Err(TaskError::Invalid(format!("fault injected at {at:?}")));
            }
        }
        Ok(())
    }
}

/// A served file that differs from its record, found by a sync or the audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheProblem {
    pub bundle: String,
    pub path: String,
    pub problem: &'static str,
}

impl std::fmt::Display for CacheProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "publications/{}/{} {}", self.bundle, self.path, self.problem)
    }
}

impl Desk {
    /// Puts prepared files in the store, before the entry that names them.
    pub(crate) async fn store_prepared(&self, files: &[Prepared]) -> Result<(), TaskError> {
        let mut conn = self.ledger.raw_pool().acquire().await.map_err(LedgerError::from)?;
        for f in files {
            for chunk in &f.chunks {
                store::put_chunk(&mut conn, chunk).await.map_err(LedgerError::from)?;
            }
            store::put_file(&mut conn, &f.file).await.map_err(LedgerError::from)?;
        }
        drop(conn);
        self.publish.check(Fault::BeforeEntry)
    }

    /// After the entry: the cache folder, from the bytes in hand where they
    /// are the recorded ones.
    /// The version written is remembered, so the next sync does not take
    /// this bundle for one another host changed.
    pub(crate) async fn cache_after_entry(
        &self,
        bundle: &str,
        seq: u64,
        fresh: Vec<Prepared>,
    ) -> Result<(), TaskError> {
        self.publish.check(Fault::BeforeCache)?;
        let fresh = fresh.into_iter().map(|f| (f.file.hash, f.bytes)).collect();
        self.sync_bundle(bundle, fresh).await?;
        let mut synced = self.publish.state.lock().await;
        let known = synced.versions.entry(bundle.to_owned()).or_default();
        *known = (*known).max(seq);
        Ok(())
    }

    /// Brings the cache up to date with the database. `full` (at start)
    /// hashes every cached file and imports bundles held only on disk;
    /// otherwise only the bundles whose record changed since the last sync
    /// are looked at, and only when the head has moved: one head query.
    /// Returns the recorded bundles, newest draw last.
    pub async fn sync_publications(&self, full: bool) -> Result<Arc<Vec<String>>, TaskError> {
        let head = self.ledger.head().await?.seq;
        let mut synced = self.publish.state.lock().await;
        if !full && synced.head == Some(head) {
            return Ok(synced.drawn.clone());
        }
        let draws = self.draw_records().await?;
        let mut versions = records::bundle_versions(self.ledger.raw_pool()).await?;
        if full {
            // Before the bundles: an imported bundle's substitution list is
            // made again with its notes.
            self.import_legacy_notes().await?;
            for (record, _) in &draws {
                if !versions.contains_key(&record.bundle) {
                    self.import_legacy_bundle(record).await?;
                }
            }
            versions = records::bundle_versions(self.ledger.raw_pool()).await?;
        }
        for (bundle, version) in &versions {
            if full || synced.versions.get(bundle) != Some(version) {
                for problem in self.sync_bundle(bundle, BTreeMap::new()).await? {
                    tracing::warn!(%problem, "a cached published file differed from its record; rebuilt");
                }
            }
        }
        synced.head = Some(head);
        synced.versions = versions;
        synced.drawn = Arc::new(draws.into_iter().map(|(r, _)| r.bundle).collect());
        Ok(synced.drawn.clone())
    }

    /// Rebuilds the cache folders of `bundles` from the database, comparing
    /// every file: for a page that found one missing or failing its check.
    pub async fn repair_publications(&self, bundles: &[String]) -> Result<(), TaskError> {
        for bundle in bundles {
            for problem in self.sync_bundle(bundle, BTreeMap::new()).await? {
                tracing::warn!(%problem, "a cached published file differed from its record; rebuilt");
            }
        }
        Ok(())
    }

    /// Makes sure the cache holds a bundle's recorded files, unchanged,
    /// before a page or a download reads them: one query and a `stat` per
    /// file when nothing changed since they were last found sound; a file
    /// whose stamp changed is hashed again. A missing file (the cache may
    /// be deleted at any moment), one that differs from its record (edited
    /// by hand) or one no entry records has the folder rebuilt from the
    /// database, so what is served is what is recorded.
    pub async fn ensure_cached(&self, bundle: &str) -> Result<(), TaskError> {
        let recorded = self.recorded_files(bundle).await?;
        if recorded.is_empty() {
            return Ok(());
        }
        let dir = self.publications_dir.join(bundle);
        let wanted: Vec<(String, Hash32)> = recorded.iter().map(|f| (f.path.clone(), f.file)).collect();
        let known = self.publish.checked().get(bundle).cloned().unwrap_or_default();
        let (sound, whole) = blocking(move || check_stamped(&dir, &wanted, &known)).await?;
        if whole {
            self.publish.checked().insert(bundle.to_owned(), sound);
            return Ok(());
        }
        for problem in self.sync_bundle(bundle, BTreeMap::new()).await? {
            tracing::warn!(%problem, "a cached published file differed from its record; rebuilt from the database before serving it");
        }
        Ok(())
    }

    /// Makes one bundle's cache folder hold exactly its recorded files.
    /// `fresh` are bytes in hand by hash, read instead of the database.
    /// Returns the cached files found
    /// differing from their record (a missing folder or file is no problem:
    /// the cache may be deleted at any moment).
    async fn sync_bundle(
        &self,
        bundle: &str,
        fresh: BTreeMap<Hash32, Vec<u8>>,
    ) -> Result<Vec<CacheProblem>, TaskError> {
        let recorded = self.recorded_files(bundle).await?;
        if recorded.is_empty() {
            return Ok(Vec::new());
        }
        let dir = self.publications_dir.join(bundle);
        let wanted: Vec<(String, Hash32)> = recorded.iter().map(|f| (f.path.clone(), f.file)).collect();
        let (check_dir, check_wanted) = (dir.clone(), wanted.clone());
        let (matching, problems) = blocking(move || compare_folder(&check_dir, &check_wanted)).await?;
        if matching.len() == wanted.len() && problems.is_empty() {
            self.publish.checked().insert(bundle.to_owned(), matching);
            return Ok(Vec::new());
        }
        // Rebuilt: every file is looked at again on its next use.
        self.publish.checked().remove(bundle);
        let mut bytes: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut fresh = fresh;
        let mut conn = None;
        for (path, file) in &wanted {
            if matching.contains_key(path) {
                continue;
            }
            let content = match fresh.remove(file) {
                Some(content) => content,
                None => {
                    if conn.is_none() {
                        conn = Some(self.ledger.raw_pool().acquire().await.map_err(LedgerError::from)?);
                    }
                    let conn = conn.as_mut().expect("just acquired");
                    store::read_file(conn, file).await.map_err(LedgerError::from)?
                }
            };
            bytes.insert(path.clone(), content);
        }
        drop(conn);
        let (root, name) = (self.publications_dir.clone(), bundle.to_owned());
        let matching: BTreeSet<String> = matching.into_keys().collect();
        blocking(move || rebuild(&root, &name, &wanted, &matching, bytes)).await?;
        Ok(problems)
    }

    /// The newest recorded version of one file of a bundle, from the
    /// database (never the cache); `None` when the bundle records none.
    pub async fn recorded_file(&self, bundle: &str, path: &str) -> Result<Option<Vec<u8>>, TaskError> {
        let recorded = records::bundle_files(self.ledger.raw_pool(), bundle).await?;
        let Some(file) = recorded.into_iter().find(|f| f.path == path) else {
            return Ok(None);
        };
        let mut conn = self.ledger.raw_pool().acquire().await.map_err(LedgerError::from)?;
        Ok(Some(
            store::read_file(&mut conn, &file.file)
                .await
                .map_err(LedgerError::from)?,
        ))
    }

    /// Writes a bundle's recorded files into `into` (a scratch folder, not
    /// the cache), for the audit to check the record itself. `false` when
    /// the database records no file of the bundle.
    pub(crate) async fn materialize(&self, bundle: &str, into: &Path) -> Result<bool, TaskError> {
        let recorded = self.recorded_files(bundle).await?;
        if recorded.is_empty() {
            return Ok(false);
        }
        let mut files = Vec::new();
        let mut conn = self.ledger.raw_pool().acquire().await.map_err(LedgerError::from)?;
        for f in &recorded {
            files.push((
                f.path.clone(),
                store::read_file(&mut conn, &f.file).await.map_err(LedgerError::from)?,
            ));
        }
        drop(conn);
        let into = into.to_owned();
        blocking(move || {
            for (path, bytes) in files {
                let target = into.join(path);
                let parent = target.parent().expect("a file path has a folder");
                std::fs::create_dir_all(parent).map_err(io(parent))?;
                std::fs::write(&target, bytes).map_err(io(&target))?;
            }
            Ok(())
        })
        .await?;
        Ok(true)
    }

    /// A bundle's recorded files, their paths checked to stay inside it.
    async fn recorded_files(&self, bundle: &str) -> Result<Vec<records::BundleFile>, TaskError> {
        let recorded = records::bundle_files(self.ledger.raw_pool(), bundle).await?;
        if !recorded.is_empty() && !plain_segment(bundle) {
            return Err(TaskError::Invalid(format!(
                "recorded bundle name {bundle:?} is not a folder name"
            )));
        }
        if let Some(bad) = recorded.iter().find(|f| !f.path.split('/').all(plain_segment)) {
            return Err(TaskError::Invalid(format!(
                "bundle {bundle} records a file at {:?}, outside its folder",
                bad.path
            )));
        }
        Ok(recorded)
    }

    /// The cached files of every recorded bundle compared with their record,
    /// by hash, writing nothing: what the audit reports. A missing file is
    /// not reported (the cache is rebuilt on demand); a file that differs,
    /// or one the record does not hold, is.
    pub async fn cache_problems(&self) -> Result<Vec<CacheProblem>, TaskError> {
        let mut problems = Vec::new();
        for bundle in records::bundle_versions(self.ledger.raw_pool()).await?.into_keys() {
            let recorded = self.recorded_files(&bundle).await?;
            let wanted: Vec<(String, Hash32)> = recorded.iter().map(|f| (f.path.clone(), f.file)).collect();
            let dir = self.publications_dir.join(&bundle);
            let (_, found) = blocking(move || compare_folder(&dir, &wanted)).await?;
            problems.extend(found);
        }
        Ok(problems)
    }

    /// Imports the confidential notes of substitutions that a data folder
    /// made before the database held them keeps in `secrets/notes/`. A note
    /// is imported only under the name of a recorded substitution entry
    /// (its task, its number and a tag of the public entry) and only if it
    /// reads as a note, and it is attached to that entry as a private file,
    /// as [`Desk::import_legacy_snapshots`] attaches an old secret: rows
    /// beside the entry, never a new entry, so the chain is unchanged. What
    /// does not check is left where it is, with a warning. The files stay
    /// on disk; the database's copy is the one read from then on.
    async fn import_legacy_notes(&self) -> Result<(), TaskError> {
        let dir = self.secrets_dir.join("notes");
        if !dir.is_dir() {
            return Ok(());
        }
        let mut named = BTreeSet::new();
        for (record, entry) in self.ledger.all::<SubstitutionRecord>().await? {
            let name = note_name(&record.task_id, &record.entry);
            named.insert(name.clone());
            if records::private_file(self.ledger.raw_pool(), &name).await?.is_some() {
                continue;
            }
            let path = dir.join(&name);
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&path)(e)),
            };
            if !reads_as_notes(&bytes) {
                tracing::warn!(file = %path.display(), "not the confidential note of a substitution; not imported");
                continue;
            }
            let mut tx = self.ledger.raw_pool().begin().await.map_err(LedgerError::from)?;
            let (file, _) = store::put_bytes(&mut tx, &bytes).await.map_err(LedgerError::from)?;
            records::insert(
                &mut tx,
                entry.seq,
                &[Attached::PrivateFile {
                    name: name.clone(),
                    file: file.hash,
                }],
            )
            .await?;
            match tx.commit().await {
                Ok(()) => {
                    tracing::info!(file = %path.display(), seq = entry.seq, "imported the note of a substitution into the database")
                }
                // Another instance imported it at the same moment.
                Err(_) if records::private_file(self.ledger.raw_pool(), &name).await?.is_some() => {}
                Err(e) => return Err(LedgerError::from(e).into()),
            }
        }
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !named.contains(&name) {
                tracing::warn!(file = %entry.path().display(), "no recorded substitution entry has this note's name; not imported");
            }
        }
        Ok(())
    }

    /// A bundle of a data folder made before the database held bundles: its
    /// files are imported, in one transaction, once they hold against the
    /// ledger — the confidential manifest against its draw entry's
    /// `manifest_sha256`, each file against the hash its copy's manifest
    /// records, the public manifest against the confidential one. Its
    /// substitution lists and results notice are made again from the
    /// ledger, which is their record. A bundle that does not hold is left
    /// unimported (and the audit names it).
    async fn import_legacy_bundle(&self, record: &DrawRecord) -> Result<(), TaskError> {
        let dir = self.publications_dir.join(&record.bundle);
        if !plain_segment(&record.bundle) || !dir.join("manifest.json").is_file() {
            return Ok(());
        }
        let expected = record.manifest_sha256;
        let read_dir = dir.clone();
        let files = blocking(move || legacy_files(&read_dir, expected)).await;
        let mut files = match files {
            Ok(files) => files,
            Err(e) => {
                tracing::error!(bundle = %record.bundle, problem = %e, "a bundle on disk does not hold against the ledger: not imported");
                return Ok(());
            }
        };
        let draw_seq = self
            .draw_record(&record.task_id)
            .await?
            .map(|(_, e)| e.seq)
            .ok_or_else(|| TaskError::UnknownTask(record.task_id.clone()))?;
        let mut later: Vec<(u64, Vec<NamedBytes>)> = Vec::new();
        let substituted: Vec<u64> = self
            .ledger
            .all::<SubstitutionRecord>()
            .await?
            .into_iter()
            .filter(|(r, _)| r.task_id == record.task_id)
            .map(|(_, e)| e.seq)
            .collect();
        if let (Some(&last), Some(log)) = (substituted.last(), self.substitution_log(&record.task_id).await?) {
            later.push((
                last,
                vec![
                    (crate::substitution::FILE.to_owned(), log.to_json().into_bytes()),
                    (
                        format!("public/{}", crate::substitution::FILE),
                        log.public().to_json().into_bytes(),
                    ),
                ],
            ));
        }
        let noticed = self
            .ledger
            .all::<Notice>()
            .await?
            .into_iter()
            .filter(|(n, _)| n.task_id == record.task_id)
            .map(|(_, e)| e.seq)
            .max();
        if let Some(last) = noticed {
            // The names of its rows come from the assignments just checked.
            let public_rows = files
                .iter()
                .find(|(p, _)| p == "public/assignments.csv")
                .map(|(_, b)| b.clone())
                .unwrap_or_default();
            if let Some(bytes) = self.results_notice_bytes(&record.task_id, &public_rows, None).await? {
                later.push((last, vec![(format!("public/{}", super::results::RESULTS_FILE), bytes)]));
            }
        }
        files.retain(|(p, _)| !later.iter().any(|(_, l)| l.iter().any(|(q, _)| q == p)));
        let mut groups = vec![(draw_seq, files)];
        groups.extend(later);
        let mut rows = Vec::new();
        for (seq, group) in groups {
            let prepared = blocking(move || prepare(group)).await?;
            self.store_prepared(&prepared).await?;
            rows.push((seq, bundle_rows(&record.bundle, &prepared)));
        }
        let mut tx = self.ledger.raw_pool().begin().await.map_err(LedgerError::from)?;
        for (seq, attached) in &rows {
            records::insert(&mut tx, *seq, attached).await?;
        }
        match tx.commit().await {
            Ok(()) => {
                tracing::info!(bundle = %record.bundle, "imported a bundle held only on disk into the database");
                Ok(())
            }
            // Another host imported it at the same moment: the same content.
            Err(_)
                if !records::bundle_files(self.ledger.raw_pool(), &record.bundle)
                    .await?
                    .is_empty() =>
            {
                Ok(())
            }
            Err(e) => Err(LedgerError::from(e).into()),
        }
    }
}

/// Whether bytes are a substitution's confidential notes as they were kept
/// on disk: a JSON object of `note` and `relation`, each text or null.
fn reads_as_notes(bytes: &[u8]) -> bool {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return false;
    };
    fields
        .iter()
        .all(|(key, value)| matches!(key.as_str(), "note" | "relation") && (value.is_string() || value.is_null()))
}

/// One plain path segment: no separator, no leading '.', no control
/// characters, so a recorded name cannot leave the publications folder.
fn plain_segment(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.chars().any(|c| c == '/' || c == '\\' || c.is_control())
}

/// Which recorded files the folder holds unchanged (with their stamps when
/// read), and the problems: files that differ from their record, and files
/// the record does not hold.
fn compare_folder(dir: &Path, wanted: &[(String, Hash32)]) -> Result<(Checked, Vec<CacheProblem>), TaskError> {
    let bundle = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut matching = Checked::new();
    let mut problems = Vec::new();
    if !dir.is_dir() {
        return Ok((matching, problems));
    }
    for (path, file) in wanted {
        let Some((bytes, stamp)) = read_stamped(&dir.join(path))? else {
            continue;
        };
        if bytes_hash(&bytes) == *file {
            matching.insert(path.clone(), (*file, stamp));
        } else {
            problems.push(CacheProblem {
                bundle: bundle.clone(),
                path: path.clone(),
                problem: "does not match the file its entry records",
            });
        }
    }
    problems.extend(unrecorded_files(dir, &bundle, wanted)?);
    Ok((matching, problems))
}

/// The files under a bundle's folder that its record does not hold.
fn unrecorded_files(dir: &Path, bundle: &str, wanted: &[(String, Hash32)]) -> Result<Vec<CacheProblem>, TaskError> {
    let recorded: BTreeSet<&str> = wanted.iter().map(|(p, _)| p.as_str()).collect();
    Ok(files_under(dir)?
        .into_iter()
        .filter(|path| !recorded.contains(path.as_str()))
        .map(|path| CacheProblem {
            bundle: bundle.to_owned(),
            path,
            problem: "is served, but no entry records it",
        })
        .collect())
}

/// A file's bytes and its stamp, taken from the open file before reading,
/// so a write during the read shows as a changed stamp next time; `None`
/// when it is missing.
fn read_stamped(path: &Path) -> Result<Option<(Vec<u8>, FileStamp)>, TaskError> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let stamp = FileStamp::of(&file.metadata().map_err(io(path))?);
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io(path))?;
    Ok(Some((bytes, stamp)))
}

/// The request path's check of a bundle's folder: each recorded file whose
/// stamp is the one `known` found sound is taken as it is, the others are
/// hashed. Returns the files found sound, and whether the folder is whole:
/// every recorded file there and matching, and no other file.
fn check_stamped(dir: &Path, wanted: &[(String, Hash32)], known: &Checked) -> Result<(Checked, bool), TaskError> {
    let mut sound = Checked::new();
    for (path, file) in wanted {
        let at = dir.join(path);
        let stamp = match std::fs::metadata(&at) {
            Ok(meta) => FileStamp::of(&meta),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((sound, false)),
            Err(e) => return Err(io(&at)(e)),
        };
        if known.get(path) == Some(&(*file, stamp)) {
            sound.insert(path.clone(), (*file, stamp));
            continue;
        }
        match read_stamped(&at)? {
            Some((bytes, stamp)) if bytes_hash(&bytes) == *file => {
                sound.insert(path.clone(), (*file, stamp));
            }
            _ => return Ok((sound, false)),
        }
    }
    let whole = unrecorded_files(dir, "", wanted)?.is_empty();
    Ok((sound, whole))
}

/// Every file under `dir`, by its path relative to it with '/' between.
fn files_under(dir: &Path) -> Result<Vec<String>, TaskError> {
    let mut found = Vec::new();
    let mut stack = vec![(dir.to_owned(), String::new())];
    while let Some((at, prefix)) = stack.pop() {
        for entry in std::fs::read_dir(&at).map_err(io(&at))? {
            let entry = entry.map_err(io(&at))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry.file_type().map_err(io(&entry.path()))?;
            if kind.is_dir() {
                stack.push((entry.path(), format!("{prefix}{name}/")));
            } else {
                found.push(format!("{prefix}{name}"));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Builds the bundle's folder beside it — the matching files linked from
/// the old folder, the others written and synced — and swaps it in with
/// one exchange of names, so a reader of the folder sees the old files or
/// the new, then removes the old one.
fn rebuild(
    root: &Path,
    name: &str,
    wanted: &[(String, Hash32)],
    matching: &BTreeSet<String>,
    bytes: BTreeMap<String, Vec<u8>>,
) -> Result<(), TaskError> {
    std::fs::create_dir_all(root).map_err(io(root))?;
    let dir = root.join(name);
    let temp = root.join(super::scratch_name(name, "sync"));
    let built = (|| {
        for (path, _) in wanted {
            let target = temp.join(path);
            let parent = target.parent().expect("a file path has a folder");
            std::fs::create_dir_all(parent).map_err(io(parent))?;
            if matching.contains(path) {
                std::fs::hard_link(dir.join(path), &target).map_err(io(&target))?;
            } else {
                write_synced(&target, &bytes[path])?;
            }
        }
        for sub in dirs_under(&temp) {
            sync_dir(&sub)?;
        }
        Ok::<(), TaskError>(())
    })();
    if let Err(e) = built {
        let _ = std::fs::remove_dir_all(&temp);
        return Err(e);
    }
    Fault::BeforeSwap.abort_if_named();
    if dir.is_dir() {
        let exchanged = rustix::fs::renameat_with(
            rustix::fs::CWD,
            &temp,
            rustix::fs::CWD,
            &dir,
            rustix::fs::RenameFlags::EXCHANGE,
        );
        if let Err(e) = exchanged {
            let _ = std::fs::remove_dir_all(&temp);
            return Err(io(&dir)(e.into()));
        }
    } else if let Err(e) = std::fs::rename(&temp, &dir) {
        let _ = std::fs::remove_dir_all(&temp);
        // Another instance on this folder built it meanwhile, from the
        // same record.
        if !dir.is_dir() {
            return Err(io(&dir)(e));
        }
        return Ok(());
    }
    sync_dir(root)?;
    // After the exchange `temp` names the old folder.
    if temp.exists() {
        std::fs::remove_dir_all(&temp).map_err(io(&temp))?;
    }
    Ok(())
}

fn dirs_under(dir: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![dir.to_owned()];
    let mut at = 0;
    while at < dirs.len() {
        if let Ok(entries) = std::fs::read_dir(&dirs[at]) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(entry.path());
                }
            }
        }
        at += 1;
    }
    dirs
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), TaskError> {
    use std::io::Write;
    let mut file = std::fs::File::create(path).map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Reads a bundle folder made before the database held bundles and checks
/// it: the confidential manifest must be the one the draw entry records,
/// every file a manifest lists must have the hash it records, and the
/// public manifest must be the confidential one's public copy. Returns its
/// files (README.txt, which no hash covers, taken as it is).
fn legacy_files(dir: &Path, manifest_sha256: Hash32) -> Result<Vec<(String, Vec<u8>)>, TaskError> {
    use crate::bundle::format::read_manifest;
    let invalid = |message: String| TaskError::Invalid(format!("{}: {message}", dir.display()));
    let mut files = Vec::new();
    let mut manifests = Vec::new();
    for prefix in ["", "public/"] {
        let path = dir.join(format!("{prefix}manifest.json"));
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let manifest = read_manifest(&String::from_utf8_lossy(&bytes)).map_err(|e| invalid(e.to_string()))?;
        files.push((format!("{prefix}manifest.json"), bytes));
        for listed in &manifest.files {
            let path = dir.join(format!("{prefix}{}", listed.name));
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            if bytes_hash(&bytes) != listed.sha256 {
                return Err(invalid(format!("{prefix}{} does not match its manifest", listed.name)));
            }
            files.push((format!("{prefix}{}", listed.name), bytes));
        }
        let readme = dir.join(format!("{prefix}README.txt"));
        if let Ok(bytes) = std::fs::read(&readme) {
            files.push((format!("{prefix}README.txt"), bytes));
        }
        manifests.push(manifest);
    }
    if bytes_hash(&files[0].1) != manifest_sha256 {
        return Err(invalid("manifest.json is not the one its draw entry records".into()));
    }
    let (confidential, public) = (&manifests[0], &manifests[1]);
    if public.seed != confidential.seed
        || public.result_sha256 != confidential.result_sha256
        || public.plan.sha256 != confidential.plan.sha256
        || public.snapshot_combined != confidential.snapshot_combined
    {
        return Err(invalid(
            "public/manifest.json is not the public copy of manifest.json".into(),
        ));
    }
    Ok(files)
}
