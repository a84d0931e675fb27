//! The desk: the service's side of a task's life. A task (抽查任务) is
//! announced, drawn exactly once, may have officers substituted, and gets
//! its inspection results recorded and published; each of those steps is
//! one ledger entry, claimed by its unique key (see [`crate::ledger::Key`]),
//! and the files the desk keeps — frozen pool snapshots, commit–reveal
//! secrets, published bundles — are what those entries point to. Snapshots
//! and secrets are kept in the database with their entry ([`frozen`]).
//!
//! One file per step: [`announce`] (freezing the inputs and the earlier draws
//! a task takes in), [`draw`] (the seed becomes the draw, through
//! [`crate::pipeline`], the same pipeline as `shuangsui draw`),
//! [`substitute`] (换人), [`results`] (检查结果 and their notice) and
//! [`audit`] (checking the record); and [`scope`], which tells a business
//! where it stood in a published draw. This module holds the desk itself
//! and the storage every step shares.
//!
//! The work that takes CPU or disk time — loading and freezing pools, the
//! draw, writing a bundle and syncing it, the substitution's redraw, the
//! audit's re-verification — runs on tokio's blocking threads, so the
//! service keeps answering while a draw is under way.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use tokio::sync::Mutex;

use crate::bundle::{self, Manifest};
use crate::clock::OfficeClock;
use crate::draw::DrawError;
use crate::ledger::{Kind, Ledger, LedgerError, Payload};
use crate::pipeline::PipelineError;
use crate::pools::{Problems, SnapshotHashes};
use crate::snapshot::Hash32;

pub mod announce;
pub mod audit;
pub mod checkpoint;
pub mod draw;
pub mod frozen;
pub mod publish;
pub mod results;
pub mod scope;
pub mod substitute;

pub use announce::{Announcement, BeaconRound, HistoryDraw, MergeSource, MethodRequest, Redraw, SeedMethod};
pub use draw::{DrawRecord, SeedMaterial};
pub use substitute::{Substituted, SubstitutionRecord};

/// The name a workbook of live pools is stored under in a snapshot folder.
const SNAPSHOT_WORKBOOK: &str = "pools.xlsx";

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("no task {0}")]
    UnknownTask(String),
    #[error("{0}")]
    Invalid(String),
    #[error("task {0} has already been announced with different content")]
    Conflict(String),
    #[error("task {0} was recorded as skipped (its scheduled time passed while the service was down); announce a redraw to draw it")]
    Skipped(String),
    #[error("substitution refused: {0}")]
    SubstitutionRefused(#[source] crate::substitution::ExtendError),
    #[error("{0}")]
    Raced(String),
    #[error("the seed material does not fit the announcement: {0}")]
    WrongSeedMaterial(String),
    #[error("the pool folder has problems:\n{0}")]
    Pools(Problems),
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    #[error(transparent)]
    Draw(#[from] DrawError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Bundle(#[from] bundle::BundleError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TaskError + '_ {
    move |source| TaskError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Where the service keeps its state on disk, and the ledger.
pub struct Desk {
    pub ledger: Ledger,
    /// The live pool folder operators maintain.
    pub pools_dir: PathBuf,
    /// A cache of the pool snapshots the database holds, one folder per
    /// snapshot, checked and rebuilt on use (see [`frozen`]).
    pub snapshots_dir: PathBuf,
    /// Published bundles.
    pub publications_dir: PathBuf,
    /// Confidential files kept beside the database: substitution notes, and
    /// commit–reveal secrets of data folders made before the database kept
    /// them (imported at start, see [`Desk::import_legacy_snapshots`]).
    pub secrets_dir: PathBuf,
    /// One draw or substitution at a time in this process; the ledger's
    /// unique keys guard against other processes. Held across the await of
    /// the blocking work, never inside it: the work itself runs off the
    /// runtime's workers.
    pub(crate) drawing: Mutex<()>,
    /// Runs inside the draw's blocking work, before the draw: lets a test
    /// hold the draw while it checks that the runtime is still serving.
    #[cfg(test)]
    pub(crate) before_draw: std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>,
    /// Every time the desk records or checks, in the office's time zone.
    pub time: OfficeClock,
    /// Set for a desk opened only to check ([`Desk::open_existing`]): where
    /// it rebuilds snapshots instead of in the data folder.
    pub(crate) scratch: Option<frozen::Scratch>,
    /// What this process knows of its `publications/` cache ([`publish`]).
    pub publish: publish::Cache,
    /// How far ahead an announcement may set its ceremony or beacon round.
    pub seed_times: announce::SeedTimes,
    /// The chunks of the target directory this process last stored: the
    /// next announcement does not compress them again ([`frozen`]).
    pub(crate) known_chunks: std::sync::Mutex<std::sync::Arc<crate::store::KnownChunks>>,
    /// The published draws' scopes asked for so far ([`scope`]).
    pub(crate) scopes: scope::ScopeCache,
}

impl Desk {
    pub fn new(ledger: Ledger, pools_dir: PathBuf, state_dir: &Path, time: OfficeClock) -> Result<Desk, TaskError> {
        let mut desk = Desk::open_existing(ledger, pools_dir, state_dir, time);
        desk.scratch = None;
        for dir in [&desk.snapshots_dir, &desk.publications_dir, &desk.secrets_dir] {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        desk.recover()?;
        Ok(desk)
    }

    /// Removes what an interrupted draw left behind: bundles staged but never
    /// recorded leave no trace. And the scratch folders a cache rebuild
    /// died in (see [`scratch_name`]), which nothing serves or reads, once
    /// no live process can be writing them.
    fn recover(&self) -> Result<(), TaskError> {
        // `.staging` is where versions that kept publications on disk staged
        // a draw; nothing writes it now. Such a version may still be running
        // on this folder during an upgrade, mid-draw: its folder goes only
        // once left alone for as long as any other scratch folder.
        let staging = self.publications_dir.join(".staging");
        if is_stale(&staging, std::time::SystemTime::now()) {
            match std::fs::remove_dir_all(&staging) {
                Ok(()) => {
                    tracing::info!(folder = %staging.display(), "removed the staged bundle of an interrupted draw")
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&staging)(e)),
            }
        }
        for dir in [&self.publications_dir, &self.snapshots_dir] {
            for leftover in abandoned_scratch(dir, std::time::SystemTime::now())? {
                match std::fs::remove_dir_all(&leftover) {
                    Ok(()) => {
                        tracing::info!(folder = %leftover.display(), "removed the scratch folder of an interrupted cache rebuild")
                    }
                    // Another instance starting on this folder removed it first.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(&leftover)(e)),
                }
            }
        }
        Ok(())
    }

    /// The cached copy of a stored pool folder a task was announced on
    /// (see [`frozen`]).
    pub fn snapshot_dir(&self, combined: &Hash32) -> PathBuf {
        self.snapshots_dir.join(combined.to_hex())
    }

    /// Where a commit–reveal secret was kept, under its commitment, before
    /// secrets were kept in the database: read only to import it.
    fn secret_path(&self, commitment: &str) -> PathBuf {
        self.secrets_dir.join(format!("commit-{commitment}.hex"))
    }

    /// Where secrets were kept before they were named by their commitment,
    /// for tasks announced then and not yet drawn.
    fn legacy_secret_path(&self, task_id: &str) -> PathBuf {
        self.secrets_dir
            .join(format!("{}.hex", task_id.replace(['/', '\\'], "_")))
    }

    /// Reads a published bundle's confidential manifest.
    pub fn manifest(&self, bundle: &str) -> Result<Manifest, TaskError> {
        let stored = bundle::read(&self.publications_dir.join(bundle))?;
        Ok(stored.manifest)
    }

    /// The desk of an existing data folder, to read and check it: unlike
    /// [`Desk::new`] it creates no folder and leaves a staged draw alone,
    /// since the service may be drawing at that moment.
    pub fn open_existing(ledger: Ledger, pools_dir: PathBuf, state_dir: &Path, time: OfficeClock) -> Desk {
        Desk {
            ledger,
            pools_dir,
            snapshots_dir: state_dir.join("snapshots"),
            publications_dir: state_dir.join("publications"),
            secrets_dir: state_dir.join("secrets"),
            drawing: Mutex::new(()),
            #[cfg(test)]
            before_draw: std::sync::Mutex::new(None),
            time,
            scratch: Some(frozen::Scratch::new()),
            publish: publish::Cache::default(),
            seed_times: announce::SeedTimes::default(),
            known_chunks: std::sync::Mutex::default(),
            scopes: scope::ScopeCache::default(),
        }
    }
}

/// Runs CPU- or disk-bound work on a thread of its own, below the requests
/// in priority ([`crate::heavy`]), so the runtime's workers go on serving
/// requests (and the scheduler ticking) meanwhile. A panic in the work is
/// the caller's panic, as if it had run in place.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, TaskError>
where
    F: FnOnce() -> Result<T, TaskError> + Send + 'static,
    T: Send + 'static,
{
    match crate::heavy::run(work).await {
        Ok(done) => done,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// A registered snapshot's entry holds its file hashes.
impl Payload for SnapshotHashes {
    const KIND: Kind = Kind::SnapshotRegistered;
}

/// The kinds of scratch folder a cache rebuild makes beside the folder it
/// rebuilds: `sync` (a bundle, [`publish`]), `tmp` and `old` (a snapshot,
/// [`frozen`]).
const SCRATCH_KINDS: [&str; 3] = ["sync", "tmp", "old"];

/// A scratch folder older than this, whose name carries no process id (made
/// by an earlier version), is taken for abandoned: a rebuild writes a few
/// files and is done in seconds.
const SCRATCH_STALE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The name of a scratch folder beside `name`: `.NAME.KIND-PID-RANDOM`. The
/// leading '.' keeps it out of every listing of bundles or snapshots; the
/// process id tells a later start whether its maker is still alive (two
/// instances may share a data folder), the random part keeps two rebuilds
/// of one process apart.
pub(crate) fn scratch_name(name: &str, kind: &str) -> String {
    let random = crate::entropy::random_seed().to_hex();
    format!(".{name}.{kind}-{}-{}", std::process::id(), &random[..16])
}

/// The scratch folders in `dir` that no live process is writing: named by a
/// process that is gone (or by this one's id, left by an earlier process
/// that had it: this one has made none yet), or without a process id in
/// their name and older than [`SCRATCH_STALE`]. Without `/proc` to ask,
/// only the age counts. The process id is this host's: instances on other
/// hosts sharing the folder over a network file system are not told apart.
fn abandoned_scratch(dir: &Path, now: std::time::SystemTime) -> Result<Vec<PathBuf>, TaskError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let can_ask = Path::new("/proc/self").is_dir();
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(suffix) = name.strip_prefix('.').and_then(|n| n.rsplit_once('.')).map(|(_, s)| s) else {
            continue;
        };
        let parts: Vec<&str> = suffix.split('-').collect();
        let (kind, pid) = match parts[..] {
            [kind, pid, random] if is_hex16(random) => (kind, pid.parse::<u32>().ok()),
            [kind, random] if is_hex16(random) => (kind, None),
            _ => continue,
        };
        if !SCRATCH_KINDS.contains(&kind) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let abandoned = match pid {
            Some(pid) if can_ask => pid == std::process::id() || !Path::new(&format!("/proc/{pid}")).exists(),
            _ => is_stale(&entry.path(), now),
        };
        if abandoned {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

/// Whether `path` exists and was last changed more than [`SCRATCH_STALE`]
/// before `now`.
fn is_stale(path: &Path, now: std::time::SystemTime) -> bool {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|at| now.duration_since(at).ok())
        .is_some_and(|age| age > SCRATCH_STALE)
}

fn is_hex16(text: &str) -> bool {
    text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), TaskError> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// The task a redraw chain starts with: `TASK` for `TASK`, `TASK~2`, ….
fn chain_of(task_id: &str) -> &str {
    task_id.split('~').next().unwrap_or(task_id)
}

/// The service's reading of a pipeline error: what is wrong with the
/// earlier draws is the request's problem, as it always was; a bundle that
/// cannot be read is the service's.
fn inputs_error(error: PipelineError) -> TaskError {
    match error {
        PipelineError::Bundle(e) => TaskError::Bundle(e),
        PipelineError::Draw(e) => TaskError::Draw(e),
        PipelineError::History(e) => TaskError::Invalid(e.to_string()),
        PipelineError::Merge(e) => TaskError::Invalid(e.to_string()),
        other => TaskError::Invalid(other.to_string()),
    }
}

/// Parses an RFC 3339 time.
pub fn parse_time(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok()
}
