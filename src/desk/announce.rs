//! Announcing a task: the plan and a content-addressed copy of the pool
//! files are frozen, the seed's source is stated before anyone can know the
//! seed, and the earlier draws the task takes in — its history (spec §7) and
//! the draws it merges with (spec §14) — are fixed, so nothing recorded
//! later can change what the task draws.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{blocking, chain_of, inputs_error, parse_time, Desk, TaskError};
use crate::bundle;
use crate::draw::check_new_plan;
use crate::history::History;
use crate::ledger::{Entry, Key, Kind, Payload};
use crate::pipeline::{self, EarlierBundle};
use crate::plan::Plan;
use crate::pools::{Pools, SnapshotHashes};
use crate::seed::commitment;
use crate::snapshot::bytes_hash;
use crate::snapshot::Hash32;

/// How an announced task's seed will be obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SeedMethod {
    /// Digits read out at a public ceremony at the stated time (RFC 3339)
    /// and place; the draw accepts them only from that time on.
    Ceremony {
        at: String,
        /// Where the public may watch. Announcements made before places were
        /// recorded have none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        place: Option<String>,
    },
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
    pub(super) fn new(
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

/// What an operator asks for when announcing. Times are RFC 3339 and must
/// lie in the future: a seed source announced after the fact proves nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MethodRequest {
    Ceremony {
        at: String,
        #[serde(default)]
        place: Option<String>,
    },
    /// The first quicknet round published at or after `at`.
    Beacon { at: String },
    Commit {
        #[serde(default)]
        beacon_at: Option<String>,
    },
}

impl Payload for Announcement {
    const KIND: Kind = Kind::PlanAnnounced;
}

impl Desk {
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
            None => plan.id().to_owned(),
            Some(r) => self.redraw_id(&r.of).await?,
        };
        if let Some(existing) = self.announcement(&task_id).await? {
            return if existing.0.plan == plan && redraw.is_none() {
                Ok(existing)
            } else {
                Err(TaskError::Conflict(task_id))
            };
        }
        // Checked before anything is written: a refused request records
        // nothing, not even the snapshot of the pools.
        self.check_inspection_date(&plan)?;
        let stated = self.seed_times.stated(method, self.time.now())?;
        let (history_sources, history) = self.fixed_history(&task_id, &plan, &merge_sources).await?;
        let frozen = self.freeze_pools().await?;
        let snapshot = frozen.attached();
        // Refused now, while nothing is recorded: a task that cannot be drawn
        // is never announced.
        let (pools, plan, history) = checked(frozen.pools, plan, history).await?;
        let combined = pools.snapshot.combined();
        self.ledger
            .append_typed_with(
                &Key::Snapshot(&combined),
                &pools.snapshot,
                &self.time.stamp(),
                std::slice::from_ref(&snapshot),
            )
            .await?;
        self.keep_copy(frozen.copy, &combined).await;
        // The announcement registers its snapshot too: whichever entry
        // registered it first, the task's pools are on record with it.
        let mut attached = vec![snapshot];
        let seed_method = match stated {
            Stated::Ready(method) => method,
            Stated::Commit { beacon } => {
                let secret = crate::entropy::random_seed();
                let commitment = commitment(&secret);
                // Stored now, named by the announcement's own transaction: a
                // crash before it leaves an unnamed secret that nothing reveals.
                attached.push(self.store_secret(&secret).await?);
                SeedMethod::Commit { commitment, beacon }
            }
        };
        let mut announcement = Announcement::new(task_id.clone(), plan, &pools, seed_method, redraw, occurrence);
        announcement.merge_sources = merge_sources;
        announcement.history_sources = history_sources;
        announcement.history_sha256 = Some(history.hash());
        // Another request may have announced the task first: then nothing
        // is attached, and the secret on record is the one it committed to.
        let appended = self
            .ledger
            .append_typed_with(&Key::Announce(&task_id), &announcement, &self.time.stamp(), &attached)
            .await?;
        let entry = appended.entry().clone();
        Ok((entry.typed()?, entry))
    }

    /// A draw comes before the inspections it chooses: a plan whose
    /// inspection date is before today, in the office's time zone, is
    /// neither announced nor drawn ad hoc, so no draw can be made to match
    /// inspections already done. The day itself is allowed: a scheduled
    /// occurrence is dated the day it runs.
    pub(super) fn check_inspection_date(&self, plan: &Plan) -> Result<(), TaskError> {
        let today = self.time.today();
        if plan.inspection_date() < today {
            return Err(TaskError::Invalid(format!(
                "the inspection date {} has passed (today is {today}): a draw must come before the inspections \
                 it chooses; give the plan a date to come (inspection_date)",
                plan.inspection_date()
            )));
        }
        Ok(())
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

    pub async fn announcement(&self, task_id: &str) -> Result<Option<(Announcement, Entry)>, TaskError> {
        match self.ledger.get(&Key::Announce(task_id)).await? {
            None => Ok(None),
            Some(entry) => Ok(Some((entry.typed()?, entry))),
        }
    }

    pub async fn announcements(&self) -> Result<Vec<(Announcement, Entry)>, TaskError> {
        Ok(self.ledger.all().await?)
    }

    /// The earlier draws a new task's history takes in (spec §7), and that
    /// history: the latest draw of every other task recorded so far — a
    /// redraw replaces the draws before it, which never happened, so of a
    /// task and its redraws only the latest announced counts, once drawn —
    /// except the draws the plan merges with, which are visits of its own
    /// period, not earlier inspections.
    pub(super) async fn fixed_history(
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
                plan_id: announced.plan.id().to_owned(),
                task_id: record.task_id,
                bundle: record.bundle,
                result_sha256: record.result_sha256,
                substitutions,
            });
        }
        let history = self.history_of(plan, &sources).await?;
        Ok((sources, history))
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
    pub(super) async fn earlier_bundles(&self, sources: &[HistoryDraw]) -> Result<Vec<EarlierBundle>, TaskError> {
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
    pub(super) async fn merge_sources(&self, plan: &Plan) -> Result<Vec<MergeSource>, TaskError> {
        let Some(named) = plan.merge_with() else {
            return Ok(Vec::new());
        };
        let records = self.draw_records().await?;
        let mut sources = Vec::new();
        for id in named {
            let mut latest = None;
            for (record, _) in &records {
                if let Some((announced, _)) = self.announcement(&record.task_id).await? {
                    if announced.plan.id() == *id {
                        latest = Some(record);
                    }
                }
            }
            let record = latest.ok_or_else(|| {
                TaskError::Invalid(format!(
                    "plan {} merges with {id}, which has not been drawn here: draw {id} first",
                    plan.id()
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

    pub(super) fn merge_bundles(&self, sources: &[MergeSource]) -> Result<Vec<bundle::Stored>, TaskError> {
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
}

/// How far ahead of its announcement a seed's time may be: a ceremony far
/// enough ahead for the public to be told and come (`ceremony_lead_hours` in
/// the config, default 24), and neither a ceremony nor a beacon round so far
/// ahead (a year) that it is a typing mistake no draw would wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedTimes {
    pub ceremony_lead: std::time::Duration,
    pub furthest_ahead: std::time::Duration,
}

impl Default for SeedTimes {
    fn default() -> Self {
        SeedTimes {
            ceremony_lead: std::time::Duration::from_secs(24 * 3600),
            furthest_ahead: std::time::Duration::from_secs(366 * 24 * 3600),
        }
    }
}

/// A seed method as checked before anything is recorded; a commitment's
/// secret is made only once the announcement is about to be written.
enum Stated {
    Ready(SeedMethod),
    Commit { beacon: Option<BeaconRound> },
}

/// The most characters a ceremony's place may have.
pub const MAX_PLACE_CHARS: usize = 200;

/// Why a ceremony's place is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    #[error("a ceremony must say where it is held (place), so that the public can attend")]
    Missing,
    #[error("the ceremony's place is longer than {MAX_PLACE_CHARS} characters")]
    TooLong,
    #[error("the ceremony's place must be one line of plain text (no line breaks or direction marks)")]
    NotOneLine,
}

/// Where a ceremony is held, as the public is told it: required, since a
/// ceremony nobody can find is not public; one line of plain text, trimmed.
/// The same rule for an operator's announcement and a scheduled job.
pub fn ceremony_place(place: Option<&str>) -> Result<String, PlaceError> {
    let place = place.map(str::trim).unwrap_or_default();
    if place.is_empty() {
        return Err(PlaceError::Missing);
    }
    if place.chars().count() > MAX_PLACE_CHARS {
        return Err(PlaceError::TooLong);
    }
    // Line and paragraph separators break the line as surely as a newline;
    // direction overrides would make the page show another text than the
    // ledger holds.
    let breaks_or_reorders = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if place.chars().any(breaks_or_reorders) {
        return Err(PlaceError::NotOneLine);
    }
    Ok(place.to_owned())
}

impl SeedTimes {
    /// The seed method an operator asked for, checked against `now`.
    fn stated(&self, method: MethodRequest, now: DateTime<Utc>) -> Result<Stated, TaskError> {
        Ok(match method {
            MethodRequest::Ceremony { at, place } => {
                self.ceremony(&at, now)?;
                let place =
                    ceremony_place(place.as_deref()).map_err(|e| TaskError::WrongSeedMaterial(e.to_string()))?;
                let place = Some(place);
                Stated::Ready(SeedMethod::Ceremony { at, place })
            }
            MethodRequest::Beacon { at } => {
                let round = self.round(&at, now)?;
                Stated::Ready(SeedMethod::Beacon {
                    chain: round.chain,
                    round: round.round,
                    round_time: round.round_time,
                })
            }
            MethodRequest::Commit { beacon_at } => Stated::Commit {
                beacon: beacon_at.as_deref().map(|at| self.round(at, now)).transpose()?,
            },
        })
    }

    /// A ceremony's time, refused unless it is at least the lead time ahead
    /// and not beyond the furthest.
    fn ceremony(&self, text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, TaskError> {
        let at = self.ahead(text, now)?;
        let lead = chrono::Duration::from_std(self.ceremony_lead).unwrap_or(chrono::Duration::MAX);
        if at < now + lead {
            return Err(TaskError::WrongSeedMaterial(format!(
                "the ceremony at {text} is less than {} h ahead: the public must be told in time to attend \
                 (ceremony_lead_hours)",
                self.ceremony_lead.as_secs() / 3600
            )));
        }
        Ok(at)
    }

    /// The beacon round at or after `text`, refused beyond the furthest.
    fn round(&self, text: &str, now: DateTime<Utc>) -> Result<BeaconRound, TaskError> {
        self.ahead(text, now)?;
        future_round(text, now)
    }

    fn ahead(&self, text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, TaskError> {
        let at = future_time(text, now)?;
        let furthest = chrono::Duration::from_std(self.furthest_ahead).unwrap_or(chrono::Duration::MAX);
        if at > now + furthest {
            return Err(TaskError::WrongSeedMaterial(format!(
                "{text} is more than {} days ahead; was the year mistyped?",
                self.furthest_ahead.as_secs() / 86_400
            )));
        }
        Ok(at)
    }
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

/// Checks on a blocking thread that the plan can be drawn on these pools with
/// this history (the draw's own rules, [`check_new_plan`]), handing them back.
pub(super) async fn checked(pools: Pools, plan: Plan, history: History) -> Result<(Pools, Plan, History), TaskError> {
    blocking(move || {
        check_new_plan(&pools, &plan, &history)?;
        Ok((pools, plan, history))
    })
    .await
}
