//! Tasks (抽查任务): a plan batch announced, then drawn exactly once.
//!
//! Announcing freezes the inputs — the plan and a content-addressed copy of
//! the pool files — and says how the seed will be obtained, before anyone can
//! know it. Drawing accepts only seed material that fits the announcement,
//! records the draw in the ledger and publishes its bundle. Asking to draw a
//! task again returns the same draw; a genuine redraw is a new task that names
//! the old one and why, and both stay public.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Utc};

use crate::clock::OfficeClock;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::bundle::{self, Manifest};
use crate::draw::{check_new_plan, DrawError};
use crate::history::History;
use crate::ledger::{Appended, Entry, Head, Kind, Ledger, LedgerError};
use crate::pipeline::{self, DrawInputs, EarlierBundle, PipelineError};
use crate::plan::Plan;
use crate::pools::{is_workbook, load_path, LoadOptions, Pools, Problems, SnapshotHashes, FILES};

/// The name a workbook of live pools is stored under in a snapshot folder.
const SNAPSHOT_WORKBOOK: &str = "pools.xlsx";
use crate::seed::{commitment, Seed, SeedSpec};
use crate::snapshot::{bytes_hash, Hash32};

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
    SubstitutionRefused(String),
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

/// How an announced task's seed will be obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SeedMethod {
    /// Digits read out at a public ceremony at the stated time (RFC 3339);
    /// the draw accepts them only from that time on.
    Ceremony { at: String },
    /// A future drand round, published at `round_time`.
    Beacon {
        chain: String,
        round: u64,
        round_time: String,
    },
    /// A server secret, committed to now (its SHA-256 is published) and
    /// revealed at the draw, combined with a future beacon round if named.
    Commit {
        commitment: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        beacon: Option<BeaconRound>,
    },
}

/// A beacon round named in an announcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeaconRound {
    pub chain: String,
    pub round: u64,
    pub round_time: String,
}

/// Seed material offered at draw time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SeedMaterial {
    Ceremony {
        digits: String,
    },
    /// The announced round's signature, hex, as drand publishes it.
    Beacon {
        signature: String,
    },
    /// The server reveals its own committed secret (with the announced
    /// round's signature when one was named).
    Reveal {
        #[serde(default)]
        beacon_signature: Option<String>,
    },
}

/// A redraw names the task it replaces and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redraw {
    pub of: String,
    pub reason: String,
}

/// The ledger payload of an announcement (published in full).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    pub task_id: String,
    pub plan: Plan,
    pub plan_sha256: Hash32,
    pub snapshot: SnapshotHashes,
    pub snapshot_combined: Hash32,
    pub seed_method: SeedMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redraw: Option<Redraw>,
    /// The scheduled occurrence that announced it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<String>,
    /// An ad-hoc draw: announced and drawn at once, with a seed nobody could
    /// check in advance. Marked as such wherever it is shown.
    #[serde(default)]
    pub unannounced: bool,
    /// A plan merging with earlier plans of its period (spec §14): the draws
    /// it joins, fixed at announcement so the draw cannot pick others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merge_sources: Vec<MergeSource>,
    /// The earlier draws whose inspections count for exclusion and rotation
    /// (spec §7), and the hash of the history they give, fixed at
    /// announcement: before the seed can be known, neither a later draw nor
    /// a later substitution may change what this task draws.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history_sources: Vec<HistoryDraw>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_sha256: Option<Hash32>,
}

/// An earlier draw a task's history takes in, with the number of its
/// substitutions made by the announcement: the teams as they stood then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryDraw {
    pub plan_id: String,
    pub task_id: String,
    pub bundle: String,
    pub result_sha256: Hash32,
    pub substitutions: u32,
}

/// An earlier draw a merging plan joins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeSource {
    pub plan_id: String,
    pub task_id: String,
    pub bundle: String,
    pub result_sha256: Hash32,
}

impl Announcement {
    fn new(
        task_id: String,
        plan: Plan,
        pools: &Pools,
        seed_method: SeedMethod,
        redraw: Option<Redraw>,
        occurrence: Option<String>,
    ) -> Self {
        Announcement {
            task_id,
            plan_sha256: bytes_hash(plan.to_json().as_bytes()),
            plan,
            snapshot: pools.snapshot,
            snapshot_combined: pools.snapshot.combined(),
            seed_method,
            redraw,
            occurrence,
            unannounced: false,
            merge_sources: Vec::new(),
            history_sources: Vec::new(),
            history_sha256: None,
        }
    }
}

/// The ledger payload of a draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawRecord {
    pub task_id: String,
    pub bundle: String,
    pub seed: String,
    pub result_sha256: Hash32,
    /// SHA-256 of the bundle's (confidential) manifest.json bytes.
    pub manifest_sha256: Hash32,
    pub ledger_head_before: Head,
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
    /// One draw at a time in this process; the ledger's unique keys guard
    /// against other processes.
    pub(crate) drawing: Mutex<()>,
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

    /// Copies the live pools into the content-addressed store (once per
    /// content) and returns them loaded. The live pools are a folder of the
    /// five CSV files or one `.xlsx` workbook; the copy keeps that form.
    pub fn freeze_pools(&self) -> Result<(Pools, PathBuf), TaskError> {
        let pools = load_path(&self.pools_dir, LoadOptions::default()).map_err(TaskError::Pools)?;
        let dir = self.snapshots_dir.join(pools.snapshot.combined().to_hex());
        if !dir.exists() {
            // A name of its own per attempt: requests of this process and of
            // other instances may be freezing the same pools at this moment.
            let temp = self.snapshots_dir.join(format!(
                ".{}.tmp-{}",
                pools.snapshot.combined(),
                &Seed::random().to_hex()[..16]
            ));
            std::fs::create_dir_all(&temp).map_err(io(&temp))?;
            if is_workbook(&self.pools_dir) {
                std::fs::copy(&self.pools_dir, temp.join(SNAPSHOT_WORKBOOK)).map_err(io(&self.pools_dir))?;
            } else {
                for (_, name) in FILES {
                    let from = self.pools_dir.join(name);
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

    /// Announces a task. Announcing the same task again with the same plan
    /// returns the first announcement; with a different plan it is refused.
    pub async fn announce(
        &self,
        plan: Plan,
        method: MethodRequest,
        redraw: Option<Redraw>,
        occurrence: Option<String>,
    ) -> Result<(Announcement, Entry), TaskError> {
        let merge_sources = self.merge_sources(&plan).await?;
        let task_id = match &redraw {
            None => plan.id.clone(),
            Some(r) => self.redraw_id(&r.of).await?,
        };
        if let Some(existing) = self.announcement(&task_id).await? {
            return if existing.0.plan == plan && redraw.is_none() {
                Ok(existing)
            } else {
                Err(TaskError::Conflict(task_id))
            };
        }
        let (history_sources, history) = self.fixed_history(&task_id, &plan, &merge_sources).await?;
        let (pools, _) = self.freeze_pools()?;
        // Refused now, while nothing is recorded: a task that cannot be drawn
        // is never announced.
        check_new_plan(&pools, &plan, &history)?;
        let snapshot_key = format!("snapshot:{}", pools.snapshot.combined());
        let snapshot_payload = serde_json::to_string(&pools.snapshot).expect("hashes serialise");
        self.ledger
            .append(
                Kind::SnapshotRegistered,
                &snapshot_key,
                &snapshot_payload,
                &self.time.stamp(),
            )
            .await?;
        let mut our_secret = None;
        let seed_method = match method {
            MethodRequest::Ceremony { at } => {
                future_time(&at, self.time.now())?;
                SeedMethod::Ceremony { at }
            }
            MethodRequest::Beacon { at } => {
                let round = future_round(&at, self.time.now())?;
                SeedMethod::Beacon {
                    chain: round.chain,
                    round: round.round,
                    round_time: round.round_time,
                }
            }
            MethodRequest::Commit { beacon_at } => {
                let now = self.time.now();
                let beacon = beacon_at.as_deref().map(|at| future_round(at, now)).transpose()?;
                let secret = Seed::random();
                let commitment = commitment(&secret);
                // On disk before the ledger can hold its commitment, so a
                // crash after the append cannot lose it.
                let path = self.secret_path(&commitment);
                crate::bundle::write_private(&path, secret.to_hex().as_bytes())?;
                sync_dir(&self.secrets_dir)?;
                our_secret = Some(path);
                SeedMethod::Commit { commitment, beacon }
            }
        };
        let mut announcement = Announcement::new(task_id.clone(), plan, &pools, seed_method, redraw, occurrence);
        announcement.merge_sources = merge_sources;
        announcement.history_sources = history_sources;
        announcement.history_sha256 = Some(history.hash());
        let payload = serde_json::to_string(&announcement).expect("announcements serialise");
        let appended = self
            .ledger
            .append(
                Kind::PlanAnnounced,
                &announce_key(&task_id),
                &payload,
                &self.time.stamp(),
            )
            .await?;
        if let (Appended::Existing(_), Some(path)) = (&appended, &our_secret) {
            // Another request announced the task first: its commitment is
            // the one on record, and ours can never be revealed.
            std::fs::remove_file(path).map_err(io(path))?;
        }
        let entry = appended.entry().clone();
        Ok((entry.payload()?, entry))
    }

    async fn redraw_id(&self, of: &str) -> Result<String, TaskError> {
        if self.announcement(of).await?.is_none() {
            return Err(TaskError::UnknownTask(of.into()));
        }
        let base = of.split('~').next().unwrap_or(of);
        for n in 2.. {
            let id = format!("{base}~{n}");
            if self.announcement(&id).await?.is_none() {
                return Ok(id);
            }
        }
        unreachable!("some redraw number is free")
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

    pub async fn announcement(&self, task_id: &str) -> Result<Option<(Announcement, Entry)>, TaskError> {
        match self.ledger.by_key(&announce_key(task_id)).await? {
            None => Ok(None),
            Some(entry) => Ok(Some((entry.payload()?, entry))),
        }
    }

    pub async fn announcements(&self) -> Result<Vec<(Announcement, Entry)>, TaskError> {
        let entries = self.ledger.of_kind(Kind::PlanAnnounced).await?;
        entries.into_iter().map(|e| Ok((e.payload()?, e))).collect()
    }

    pub async fn draw_record(&self, task_id: &str) -> Result<Option<(DrawRecord, Entry)>, TaskError> {
        match self.ledger.by_key(&draw_key(task_id)).await? {
            None => Ok(None),
            Some(entry) if entry.kind == Kind::DrawMade => Ok(Some((entry.payload()?, entry))),
            Some(_) => Err(TaskError::Skipped(task_id.into())),
        }
    }

    pub async fn draw_records(&self) -> Result<Vec<(DrawRecord, Entry)>, TaskError> {
        let entries = self.ledger.of_kind(Kind::DrawMade).await?;
        entries.into_iter().map(|e| Ok((e.payload()?, e))).collect()
    }

    /// Draws an announced task once. A second call returns the first draw.
    pub async fn draw(&self, task_id: &str, material: SeedMaterial) -> Result<(DrawRecord, Entry), TaskError> {
        let _one_at_a_time = self.drawing.lock().await;
        if let Some(done) = self.draw_record(task_id).await? {
            return Ok(done);
        }
        let (announcement, _) = self
            .announcement(task_id)
            .await?
            .ok_or_else(|| TaskError::UnknownTask(task_id.into()))?;
        let seed = self.seed_for(&announcement, material)?;
        self.draw_with(&announcement, &seed).await
    }

    /// An ad-hoc draw: announced and drawn at once with operating-system
    /// entropy. Allowed, but marked as unannounced everywhere.
    pub async fn draw_unannounced(&self, plan: Plan) -> Result<(DrawRecord, Entry), TaskError> {
        let merge_sources = self.merge_sources(&plan).await?;
        let _one_at_a_time = self.drawing.lock().await;
        let (pools, _) = self.freeze_pools()?;
        let task_id = format!("{}@adhoc-{}", plan.id, &Seed::random().to_hex()[..8]);
        let (history_sources, history) = self.fixed_history(&task_id, &plan, &merge_sources).await?;
        check_new_plan(&pools, &plan, &history)?;
        let mut announcement = Announcement::new(
            task_id.clone(),
            plan,
            &pools,
            SeedMethod::Ceremony { at: "—".into() },
            None,
            None,
        );
        announcement.unannounced = true;
        announcement.merge_sources = merge_sources;
        announcement.history_sources = history_sources;
        announcement.history_sha256 = Some(history.hash());
        let payload = serde_json::to_string(&announcement).expect("announcements serialise");
        self.ledger
            .append(
                Kind::PlanAnnounced,
                &announce_key(&task_id),
                &payload,
                &self.time.stamp(),
            )
            .await?;
        let seed = SeedSpec::parse("random").expect("random is a seed form");
        self.draw_with(&announcement, &seed).await
    }

    fn seed_for(&self, announcement: &Announcement, material: SeedMaterial) -> Result<SeedSpec, TaskError> {
        let wrong = TaskError::WrongSeedMaterial;
        match (&announcement.seed_method, material) {
            (SeedMethod::Ceremony { at }, SeedMaterial::Ceremony { digits }) => {
                let at = parse_time(at).ok_or_else(|| wrong(format!("announced time {at:?} is not RFC 3339")))?;
                if self.time.now() < at {
                    return Err(wrong(format!(
                        "the ceremony is announced for {at}; digits are accepted from then on"
                    )));
                }
                SeedSpec::ceremony(&digits).map_err(|e| wrong(e.to_string()))
            }
            (SeedMethod::Beacon { chain, round, .. }, SeedMaterial::Beacon { signature }) => {
                let record = beacon_record(chain, *round, &signature)?;
                SeedSpec::beacon(record).map_err(|e| wrong(e.to_string()))
            }
            (
                SeedMethod::Commit {
                    commitment: published,
                    beacon,
                },
                SeedMaterial::Reveal { beacon_signature },
            ) => {
                let mut path = self.secret_path(published);
                if !path.exists() {
                    path = self.legacy_secret_path(&announcement.task_id);
                }
                let text = std::fs::read_to_string(&path).map_err(io(&path))?;
                let secret = Seed::parse_hex(&text).map_err(|e| wrong(e.to_string()))?;
                if commitment(&secret) != *published {
                    return Err(wrong("the stored secret does not match the commitment".into()));
                }
                let record = match (beacon, beacon_signature) {
                    (None, None) => None,
                    (Some(b), Some(signature)) => Some(beacon_record(&b.chain, b.round, &signature)?),
                    (Some(b), None) => return Err(wrong(format!("round {} of {} must be given", b.round, b.chain))),
                    (None, Some(_)) => return Err(wrong("this task's announcement named no beacon round".into())),
                };
                SeedSpec::reveal(&secret, record).map_err(|e| wrong(e.to_string()))
            }
            (method, material) => Err(TaskError::WrongSeedMaterial(format!(
                "the task was announced with {} but {} was offered",
                method_name(method),
                material_name(&material)
            ))),
        }
    }

    /// Draws on the frozen snapshot, stages the bundle, records the draw,
    /// then publishes: a crash before the record leaves nothing; after it,
    /// the staged bundle is renamed into place.
    async fn draw_with(&self, announcement: &Announcement, seed: &SeedSpec) -> Result<(DrawRecord, Entry), TaskError> {
        let snapshot = self.snapshot_pools(&announcement.snapshot_combined);
        let pools = load_path(&snapshot, LoadOptions::default()).map_err(TaskError::Pools)?;
        let earlier = self.announced_history(announcement).await?;
        let to_merge = self.merge_inputs(announcement)?;
        let inputs = DrawInputs::assemble(&announcement.plan, &earlier, &to_merge).map_err(inputs_error)?;
        if let Some(fixed) = announcement.history_sha256 {
            if inputs.history.hash() != fixed {
                return Err(TaskError::Invalid(format!(
                    "the history of {} no longer has the hash its announcement fixed ({fixed})",
                    announcement.task_id
                )));
            }
        }
        let head_before = self.ledger.head().await?;
        let ledger = bundle::LedgerRef {
            task_id: announcement.task_id.clone(),
            head_seq: head_before.seq,
            head_hash: head_before.hash,
            unannounced: announcement.unannounced,
        };
        let pipeline::Drawn {
            name,
            confidential,
            public,
            ..
        } = inputs.draw(&pools, seed, Some(ledger), &self.time.stamp())?;
        // A staging folder of its own per attempt: another instance may be
        // staging the same task's bundle at this moment.
        let staging = self
            .publications_dir
            .join(".staging")
            .join(&Seed::random().to_hex()[..16]);
        let staged = bundle::write(&staging, &name, &confidential, &public)?;
        let manifest_bytes = std::fs::read(staged.join("manifest.json")).map_err(io(&staged))?;
        let record = DrawRecord {
            task_id: announcement.task_id.clone(),
            bundle: name.clone(),
            seed: seed.seed.to_hex(),
            result_sha256: confidential.manifest.result_sha256,
            manifest_sha256: bytes_hash(&manifest_bytes),
            ledger_head_before: head_before,
        };
        let payload = serde_json::to_string(&record).expect("draw records serialise");
        let appended = self
            .ledger
            .append(
                Kind::DrawMade,
                &draw_key(&announcement.task_id),
                &payload,
                &self.time.stamp(),
            )
            .await?;
        match appended {
            Appended::New(entry) => {
                let published = self.publications_dir.join(&name);
                std::fs::rename(&staged, &published).map_err(io(&published))?;
                std::fs::remove_dir(&staging).map_err(io(&staging))?;
                Ok((record, entry))
            }
            // Another instance drew it first: ours was never recorded.
            Appended::Existing(entry) => {
                std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
                Ok((entry.payload()?, entry))
            }
        }
    }

    /// The earlier draws a new task's history takes in (spec §7), and that
    /// history: the latest draw of every other task recorded so far — a
    /// redraw replaces the draws before it, which never happened, so of a
    /// task and its redraws only the latest announced counts, once drawn —
    /// except the draws the plan merges with, which are visits of its own
    /// period, not earlier inspections.
    async fn fixed_history(
        &self,
        task_id: &str,
        plan: &Plan,
        merge_sources: &[MergeSource],
    ) -> Result<(Vec<HistoryDraw>, History), TaskError> {
        let mut latest = std::collections::HashMap::new();
        for (announced, _) in self.announcements().await? {
            let chain = chain_of(&announced.task_id).to_owned();
            latest.insert(chain, announced.task_id);
        }
        let mut sources = Vec::new();
        for (record, _) in self.draw_records().await? {
            let chain = chain_of(&record.task_id);
            if chain == chain_of(task_id)
                || latest.get(chain) != Some(&record.task_id)
                || merge_sources.iter().any(|m| m.task_id == record.task_id)
            {
                continue;
            }
            let Some((announced, _)) = self.announcement(&record.task_id).await? else {
                return Err(TaskError::UnknownTask(record.task_id));
            };
            let substitutions = match self.substitution_log(&record.task_id).await? {
                Some(log) => log.substitutions.len() as u32,
                None => 0,
            };
            sources.push(HistoryDraw {
                plan_id: announced.plan.id,
                task_id: record.task_id,
                bundle: record.bundle,
                result_sha256: record.result_sha256,
                substitutions,
            });
        }
        let history = self.history_of(plan, &sources).await?;
        Ok((sources, history))
    }

    /// The earlier draws an announced task's history is rebuilt from: those
    /// its announcement fixed, with the substitutions it counted. Its hash
    /// is checked against the announcement's when the draw is assembled.
    async fn announced_history(&self, announcement: &Announcement) -> Result<Vec<EarlierBundle>, TaskError> {
        if announcement.history_sha256.is_none() {
            // Announced before histories were fixed: drawn without one, as then.
            return Ok(Vec::new());
        }
        self.earlier_bundles(&announcement.history_sources).await
    }

    /// The history a plan draws with from these earlier draws (spec §7, the
    /// same rule as `--history`, through the same pipeline).
    async fn history_of(&self, plan: &Plan, sources: &[HistoryDraw]) -> Result<History, TaskError> {
        let earlier = self.earlier_bundles(sources).await?;
        let (history, _) = pipeline::history_of(plan, &earlier).map_err(inputs_error)?;
        Ok(history)
    }

    /// The published bundles of these earlier draws and their first
    /// `substitutions` substitutions as the ledger records them.
    async fn earlier_bundles(&self, sources: &[HistoryDraw]) -> Result<Vec<EarlierBundle>, TaskError> {
        let mut earlier = Vec::new();
        for source in sources {
            let stored = bundle::read(&self.publications_dir.join(&source.bundle))?;
            if stored.manifest.result_sha256 != source.result_sha256 {
                return Err(TaskError::Invalid(format!(
                    "bundle {} is not the draw of {} the ledger records",
                    source.bundle, source.task_id
                )));
            }
            let mut entries = self
                .substitution_log(&source.task_id)
                .await?
                .map(|log| log.substitutions)
                .unwrap_or_default();
            if entries.len() < source.substitutions as usize {
                return Err(TaskError::Invalid(format!(
                    "{} has {} substitutions in the ledger, fewer than the {} counted",
                    source.task_id,
                    entries.len(),
                    source.substitutions
                )));
            }
            entries.truncate(source.substitutions as usize);
            earlier.push(EarlierBundle {
                bundle: stored,
                substitutions: entries,
            });
        }
        Ok(earlier)
    }

    /// The draws a merging plan joins (spec §14): for each plan it names, the
    /// latest draw of that plan (a redraw replaces the draw it redoes). The
    /// plan must be drawable with them now, or it is refused at once.
    async fn merge_sources(&self, plan: &Plan) -> Result<Vec<MergeSource>, TaskError> {
        let Some(named) = &plan.merge_with else {
            return Ok(Vec::new());
        };
        let records = self.draw_records().await?;
        let mut sources = Vec::new();
        for id in named {
            let mut latest = None;
            for (record, _) in &records {
                if let Some((announced, _)) = self.announcement(&record.task_id).await? {
                    if announced.plan.id == *id {
                        latest = Some(record);
                    }
                }
            }
            let record = latest.ok_or_else(|| {
                TaskError::Invalid(format!(
                    "plan {} merges with {id}, which has not been drawn here: draw {id} first",
                    plan.id
                ))
            })?;
            sources.push(MergeSource {
                plan_id: id.clone(),
                task_id: record.task_id.clone(),
                bundle: record.bundle.clone(),
                result_sha256: record.result_sha256,
            });
        }
        let stored = self.merge_bundles(&sources)?;
        pipeline::merged_of(plan, &stored).map_err(inputs_error)?;
        Ok(sources)
    }

    fn merge_bundles(&self, sources: &[MergeSource]) -> Result<Vec<bundle::Stored>, TaskError> {
        sources
            .iter()
            .map(|source| {
                let stored = bundle::read(&self.publications_dir.join(&source.bundle))?;
                if stored.manifest.result_sha256 != source.result_sha256 {
                    return Err(TaskError::Invalid(format!(
                        "bundle {} is not the draw of {} the announcement named",
                        source.bundle, source.plan_id
                    )));
                }
                Ok(stored)
            })
            .collect()
    }

    /// The bundles an announced task merges with, from the draws its
    /// announcement fixed; none for a plan that merges with none.
    fn merge_inputs(&self, announcement: &Announcement) -> Result<Vec<bundle::Stored>, TaskError> {
        if announcement.plan.merge_with.is_none() {
            return Ok(Vec::new());
        }
        self.merge_bundles(&announcement.merge_sources)
    }

    /// Reads a published bundle's confidential manifest.
    pub fn manifest(&self, bundle: &str) -> Result<Manifest, TaskError> {
        let stored = bundle::read(&self.publications_dir.join(bundle))?;
        Ok(stored.manifest)
    }
}

/// What an operator asks for when announcing. Times are RFC 3339 and must
/// lie in the future: a seed source announced after the fact proves nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MethodRequest {
    Ceremony {
        at: String,
    },
    /// The first quicknet round published at or after `at`.
    Beacon {
        at: String,
    },
    Commit {
        #[serde(default)]
        beacon_at: Option<String>,
    },
}

/// `text` as an instant, refused unless it is after `now`.
fn future_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, TaskError> {
    let at = parse_time(text)
        .ok_or_else(|| TaskError::WrongSeedMaterial(format!("{text:?} is not an RFC 3339 time")))?
        .with_timezone(&Utc);
    if at <= now {
        return Err(TaskError::WrongSeedMaterial(format!("{text} is not in the future")));
    }
    Ok(at)
}

fn future_round(text: &str, now: DateTime<Utc>) -> Result<BeaconRound, TaskError> {
    let at = future_time(text, now)?;
    let chain = &crate::beacon::QUICKNET;
    // Strictly after the announcement: the round's value must be unknown now.
    let round = chain.round_at(at + chrono::Duration::seconds(1));
    let round_time = chain
        .round_time(round)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Ok(BeaconRound {
        chain: chain.name.to_owned(),
        round,
        round_time,
    })
}

fn beacon_record(chain: &str, round: u64, signature: &str) -> Result<crate::seed::BeaconRecord, TaskError> {
    let bytes = hex::decode(signature.trim())
        .map_err(|e| TaskError::WrongSeedMaterial(format!("the beacon signature is not hex: {e}")))?;
    crate::seed::BeaconRecord::verified(chain, round, &bytes).map_err(|e| TaskError::WrongSeedMaterial(e.to_string()))
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), TaskError> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// The task a redraw chain starts with: `TASK` for `TASK`, `TASK~2`, ….
fn chain_of(task_id: &str) -> &str {
    task_id.split('~').next().unwrap_or(task_id)
}

fn announce_key(task_id: &str) -> String {
    format!("announce:{task_id}")
}

fn draw_key(task_id: &str) -> String {
    format!("draw:{task_id}")
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

fn method_name(method: &SeedMethod) -> &'static str {
    match method {
        SeedMethod::Ceremony { .. } => "a public ceremony",
        SeedMethod::Beacon { .. } => "a beacon round",
        SeedMethod::Commit { .. } => "a server commitment",
    }
}

fn material_name(material: &SeedMaterial) -> &'static str {
    match material {
        SeedMaterial::Ceremony { .. } => "ceremony digits",
        SeedMaterial::Beacon { .. } => "a beacon signature",
        SeedMaterial::Reveal { .. } => "a reveal",
    }
}

/// Parses an RFC 3339 time.
pub fn parse_time(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok()
}

impl Desk {
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
            time,
        }
    }
}
