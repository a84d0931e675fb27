//! The desk: the service's side of a task's life. A task (抽查任务) is
//! announced, drawn exactly once, may have officers substituted, and gets
//! its inspection results recorded and published; each of those steps is
//! one ledger entry, claimed by its unique key (see [`crate::ledger::Key`]),
//! and the files the desk keeps — frozen pool snapshots, commit–reveal
//! secrets, published bundles — are what those entries point to.
//!
//! One file per step: [`announce`] (freezing the inputs and the earlier draws
//! a task takes in), [`draw`] (the seed becomes the draw, through
//! [`crate::pipeline`], the same pipeline as `shuangsui draw`),
//! [`substitute`] (换人), [`results`] (检查结果 and their notice) and
//! [`audit`] (checking the record). This module holds the desk itself and
//! the storage every step shares.
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
use crate::pools::{is_workbook, load_path, LoadOptions, Pools, Problems, SnapshotHashes, FILES};
use crate::snapshot::Hash32;

pub mod announce;
pub mod audit;
pub mod checkpoint;
pub mod draw;
pub mod results;
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
    /// Content-addressed copies of every pool folder a task was announced on.
    pub snapshots_dir: PathBuf,
    /// Published bundles.
    pub publications_dir: PathBuf,
    /// Commit-reveal secrets until they are revealed; never published early.
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
}

impl Desk {
    pub fn new(ledger: Ledger, pools_dir: PathBuf, state_dir: &Path, time: OfficeClock) -> Result<Desk, TaskError> {
        let desk = Desk::open_existing(ledger, pools_dir, state_dir, time);
        for dir in [&desk.snapshots_dir, &desk.publications_dir, &desk.secrets_dir] {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        desk.recover()?;
        Ok(desk)
    }

    /// Removes what an interrupted draw left behind: bundles staged but never
    /// recorded leave no trace.
    fn recover(&self) -> Result<(), TaskError> {
        let staging = self.publications_dir.join(".staging");
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
        }
        Ok(())
    }

    /// Freezes the live pools (see [`freeze`]) on a blocking thread.
    pub async fn freeze_pools(&self) -> Result<(Pools, PathBuf), TaskError> {
        let (pools_dir, snapshots_dir) = (self.pools_dir.clone(), self.snapshots_dir.clone());
        blocking(move || freeze(&pools_dir, &snapshots_dir)).await
    }

    /// The stored pool folder a task was announced on.
    pub fn snapshot_dir(&self, combined: &Hash32) -> PathBuf {
        self.snapshots_dir.join(combined.to_hex())
    }

    /// What to load for a stored snapshot: its folder, or the workbook in it.
    pub fn snapshot_pools(&self, combined: &Hash32) -> PathBuf {
        let dir = self.snapshot_dir(combined);
        let workbook = dir.join(SNAPSHOT_WORKBOOK);
        if workbook.is_file() {
            workbook
        } else {
            dir
        }
    }

    /// A commit–reveal secret is stored under its commitment: simultaneous
    /// announcements of one task each keep their own, and the reveal finds
    /// the one whose commitment the ledger holds.
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
        }
    }
}

/// Copies the live pools into the content-addressed store (once per
/// content) and returns them loaded. The live pools are a folder of the
/// five CSV files or one `.xlsx` workbook; the copy keeps that form.
fn freeze(pools_dir: &Path, snapshots_dir: &Path) -> Result<(Pools, PathBuf), TaskError> {
    let pools = load_path(pools_dir, LoadOptions::default()).map_err(TaskError::Pools)?;
    let dir = snapshots_dir.join(pools.snapshot.combined().to_hex());
    if !dir.exists() {
        // A name of its own per attempt: requests of this process and of
        // other instances may be freezing the same pools at this moment.
        let temp = snapshots_dir.join(format!(
            ".{}.tmp-{}",
            pools.snapshot.combined(),
            &crate::entropy::random_seed().to_hex()[..16]
        ));
        std::fs::create_dir_all(&temp).map_err(io(&temp))?;
        if is_workbook(pools_dir) {
            std::fs::copy(pools_dir, temp.join(SNAPSHOT_WORKBOOK)).map_err(io(pools_dir))?;
        } else {
            for (_, name) in FILES {
                let from = pools_dir.join(name);
                std::fs::copy(&from, temp.join(name)).map_err(io(&from))?;
            }
        }
        if let Err(e) = std::fs::rename(&temp, &dir) {
            std::fs::remove_dir_all(&temp).map_err(io(&temp))?;
            // The same content frozen by another request meanwhile.
            if !dir.is_dir() {
                return Err(io(&dir)(e));
            }
        }
    }
    Ok((pools, dir))
}

/// Runs CPU- or disk-bound work on tokio's blocking threads, so the runtime's
/// workers go on serving requests (and the scheduler ticking) meanwhile. A
/// panic in the work is the caller's panic, as if it had run in place.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, TaskError>
where
    F: FnOnce() -> Result<T, TaskError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(done) => done,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(TaskError::Invalid(format!("the work was cancelled: {e}"))),
    }
}

/// A registered snapshot's entry holds its file hashes.
impl Payload for SnapshotHashes {
    const KIND: Kind = Kind::SnapshotRegistered;
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
