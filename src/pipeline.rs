//! The one way a draw is made, for the shell and the service alike.
//!
//! A draw's inputs are the frozen pools, the plan, the seed, the earlier
//! draws whose inspections are its history (spec §7) and the earlier draws
//! of its period it merges with (§14). [`DrawInputs::assemble`] turns the
//! earlier bundles into the history and the merged visits, [`DrawInputs::draw`]
//! makes the draw and the two copies of its bundle. `shuangsui draw`
//! (`commands::draw_bundle`) and the service (`Desk::draw_with`) both go
//! through these two steps, so what one puts into a bundle the other cannot
//! leave out. Where the seed becomes the draw is `draw::draw_new`, called
//! here and only here for a new bundle.
//!
//! [`drawn_checked`] is the other half: a drawn bundle's state taken from
//! what it lists and checked against its manifest, which every
//! substitution starts from (spec §12).

use std::path::Path;

use crate::bundle::{self, Contents, FormatError, HistorySource, LedgerRef, Manifest, MergeRecordError, Stored};
use crate::draw::{draw_merged, draw_new, result_hash, DrawError, Outcome};
use crate::history::{History, HistoryError};
use crate::merge::{MergeError, Merged};
use crate::plan::Plan;
use crate::pools::{PoolRecords, Pools};
use crate::seed::{Seed, SeedSpec};
use crate::snapshot::bytes_hash;
use crate::substitution;
use shuangsui_core::bundle::listed::listed_outcome;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Bundle(#[from] bundle::BundleError),
    #[error("history: {0}")]
    History(#[from] HistoryError),
    #[error("history: {0}")]
    SubstitutionFile(#[from] substitution::FileError),
    #[error("history: {0}: substitutions.json belongs to another draw")]
    OtherDrawsSubstitutions(String),
    #[error("merge: {0}")]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Draw(#[from] DrawError),
}

/// An earlier bundle whose inspections count for a new draw, with the
/// substitutions made on it that count (all of them for `--history`; at the
/// service, those the announcement fixed).
pub struct EarlierBundle {
    pub bundle: Stored,
    pub substitutions: Vec<substitution::Entry>,
}

impl EarlierBundle {
    /// A bundle folder given as history, with its `substitutions.json`.
    pub fn read(dir: &Path) -> Result<Self, PipelineError> {
        let bundle = bundle::read(dir)?;
        let substitutions = match substitution::read(dir)? {
            None => Vec::new(),
            Some(log) => {
                let m = &bundle.manifest;
                if log.plan_id != m.plan.id || log.draw_result_sha256 != m.result_sha256 {
                    return Err(PipelineError::OtherDrawsSubstitutions(
                        dir.join(substitution::FILE).display().to_string(),
                    ));
                }
                log.substitutions
            }
        };
        Ok(EarlierBundle { bundle, substitutions })
    }
}

/// Everything a draw takes besides the pools and the seed, assembled.
pub struct DrawInputs<'a> {
    pub plan: &'a Plan,
    pub history: History,
    /// The bundles the history was taken from, in the order given.
    pub history_sources: Vec<HistorySource>,
    pub merged: Merged,
    /// The bundles merged with, in the order the plan names their plans.
    pub merge_sources: Vec<HistorySource>,
}

/// A draw made, and its bundle's two copies, not yet written.
pub struct Drawn {
    /// The bundle's folder name.
    pub name: String,
    pub outcome: Outcome,
    pub confidential: Contents,
    pub public: Contents,
}

impl<'a> DrawInputs<'a> {
    /// Builds the history (spec §7) and the merged visits (§14) from the
    /// earlier bundles. A bundle given both as history and to merge with is
    /// refused: a visit of the same period is joined, not an earlier
    /// inspection, and as history it would bar its own team and exclude its
    /// own items.
    pub fn assemble(plan: &'a Plan, history: &[EarlierBundle], merge: &[Stored]) -> Result<Self, PipelineError> {
        let (history, history_sources) = history_of(plan, history)?;
        if let Some(both) = merge
            .iter()
            .map(|stored| HistorySource::of(&stored.manifest))
            .find(|m| history_sources.contains(m))
        {
            return Err(MergeError::AlsoHistory(both.plan_id).into());
        }
        let (merged, merge_sources) = merged_of(plan, merge)?;
        Ok(DrawInputs {
            plan,
            history,
            history_sources,
            merged,
            merge_sources,
        })
    }

    /// The inputs a drawn bundle records: its plan, its frozen history and
    /// the bundles that history came from, and its merge inputs (spec §14),
    /// checked against its manifest ([`Stored::merged`]).
    pub fn of_bundle(stored: &'a Stored) -> Result<Self, MergeRecordError> {
        let m = &stored.manifest;
        Ok(DrawInputs {
            plan: &stored.plan,
            history: stored.history.clone(),
            history_sources: m.history_sources.clone(),
            merged: stored.merged()?,
            merge_sources: m.merge_sources.clone().unwrap_or_default(),
        })
    }

    /// Draws a new bundle (its filters must match targets and it must draw
    /// a visit) and builds both copies. A service draw passes where it sits
    /// in the ledger; its bundle is then named by the task, a shell draw's
    /// by the plan. `created_at` is the bundle's creation time (RFC 3339,
    /// office time: see [`crate::clock`]).
    pub fn draw(
        &self,
        pools: &Pools,
        seed: &SeedSpec,
        ledger: Option<LedgerRef>,
        created_at: &str,
    ) -> Result<Drawn, DrawError> {
        let outcome = self.outcome(pools, &seed.seed)?;
        Ok(self.drawn(pools, seed, outcome, ledger, created_at))
    }

    /// What a new draw of these inputs draws: the first half of
    /// [`DrawInputs::draw`], which reads only the pools' records, so that it
    /// can run while their snapshot is still being hashed
    /// ([`crate::pools::Checked::hash_while`]).
    pub fn outcome(&self, pools: &PoolRecords, seed: &Seed) -> Result<Outcome, DrawError> {
        draw_new(pools, self.plan, &self.history, &self.merged, seed)
    }

    /// The bundle of a new draw's `outcome`: the second half of
    /// [`DrawInputs::draw`].
    pub fn drawn(
        &self,
        pools: &Pools,
        seed: &SeedSpec,
        outcome: Outcome,
        ledger: Option<LedgerRef>,
        created_at: &str,
    ) -> Drawn {
        let name = bundle::bundle_name(ledger.as_ref().map_or(self.plan.id(), |l| &l.task_id), &seed.seed);
        let (confidential, public) = self.contents(pools, seed, &outcome, ledger, created_at);
        Drawn {
            name,
            outcome,
            confidential,
            public,
        }
    }

    /// Redoes the draw of these inputs, as verification and substitution
    /// do: [`draw_merged`], without the checks only a new draw must pass
    /// (`draw_new`), so an old draw keeps redrawing whatever it drew.
    pub fn redraw(&self, pools: &Pools, seed: &Seed) -> Result<Outcome, DrawError> {
        draw_merged(pools, self.plan, &self.history, &self.merged, seed)
    }

    /// The two copies of the bundle of `outcome`, drawn from these inputs
    /// with `seed`: the one way a bundle's contents are made. A new draw
    /// writes them; `verify` makes them again from the bundle's own inputs
    /// and compares, so what a bundle holds and what verification expects
    /// cannot drift apart.
    pub fn contents(
        &self,
        pools: &Pools,
        seed: &SeedSpec,
        outcome: &Outcome,
        ledger: Option<LedgerRef>,
        created_at: &str,
    ) -> (Contents, Contents) {
        let merge = self.plan.merge_with().as_ref().map(|_| bundle::MergeInputs {
            merged: &self.merged,
            sources: &self.merge_sources,
        });
        let (mut confidential, mut public) = bundle::merged_contents(
            pools,
            self.plan,
            &self.history,
            &self.history_sources,
            merge,
            seed,
            outcome,
            created_at,
        );
        for contents in [&mut confidential, &mut public] {
            contents.manifest.ledger = ledger.clone();
        }
        (confidential, public)
    }
}

/// The history a plan draws with from earlier bundles (spec §7), and those
/// bundles as its manifest names them, in the order given.
pub fn history_of(plan: &Plan, earlier: &[EarlierBundle]) -> Result<(History, Vec<HistorySource>), PipelineError> {
    let draws = earlier
        .iter()
        .map(|e| {
            e.bundle
                .earlier_draw(e.substitutions.iter().map(substitution::Entry::swap).collect())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let history = History::for_plan(plan, &draws)?;
    Ok((
        history,
        earlier.iter().map(|e| HistorySource::of(&e.bundle.manifest)).collect(),
    ))
}

/// The earlier visits a plan merges with from the bundles of its period
/// (spec §14), and those bundles in the order the plan names their plans.
pub fn merged_of(plan: &Plan, bundles: &[Stored]) -> Result<(Merged, Vec<HistorySource>), PipelineError> {
    let draws = bundles
        .iter()
        .map(|b| b.earlier_draw(Vec::new()))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = Merged::from_draws(plan, &draws)?;
    let given: Vec<HistorySource> = bundles
        .iter()
        .map(|stored| HistorySource::of(&stored.manifest))
        .collect();
    let sources = merged
        .plans
        .iter()
        .filter_map(|id| given.iter().find(|s| s.plan_id == *id).cloned())
        .collect();
    Ok((merged, sources))
}

/// Why a drawn bundle's state is not taken for a substitution.
#[derive(Debug, thiserror::Error)]
pub enum DrawnError {
    #[error("the pools are not the snapshot the draw was made on")]
    OtherSnapshot,
    #[error("manifest.json: seed: {0}")]
    Seed(String),
    #[error(transparent)]
    Merge(#[from] MergeRecordError),
    #[error("the bundle does not verify: {0}")]
    Differs(Mismatch),
}

/// Which of a bundle's files is not the one its manifest records.
#[derive(Debug, thiserror::Error)]
pub enum Mismatch {
    #[error("plan.json is not the plan its manifest names")]
    Plan,
    #[error("history.csv does not match the history_sha256 of its manifest")]
    History,
    #[error("assignments.csv: {0}")]
    Listed(FormatError),
    #[error("its assignments.csv does not give the result_sha256 of its manifest")]
    Result,
}

/// Why a substitution on a drawn bundle did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SubstituteError {
    /// The bundle is not the draw it records: nothing is substituted on it.
    #[error(transparent)]
    Drawn(#[from] DrawnError),
    /// The draw's rules refused the request (spec §12).
    #[error(transparent)]
    Refused(#[from] substitution::ExtendError),
}

/// The one way a substitute is drawn, for `shuangsui substitute` and the
/// service alike: the drawn state is taken from the bundle and checked
/// ([`drawn_checked`]), then the request is decided on that roster and
/// appended to `log`. Nothing is written.
pub fn substitute_checked(
    stored: &Stored,
    pools: &Pools,
    log: Option<substitution::Log>,
    request: &substitution::Request,
    decided_at: &str,
) -> Result<(substitution::Log, substitution::Entry), SubstituteError> {
    let drawn = drawn_checked(stored, pools)?;
    let roster = substitution::Roster::merging(
        pools,
        &stored.plan,
        &stored.history,
        &drawn.merged,
        &drawn.seed,
        drawn.outcome,
    );
    Ok(substitution::extend(stored, roster, log, request, decided_at)?)
}

/// A bundle's state right after its draw: what §12 starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawnState {
    pub seed: Seed,
    pub merged: Merged,
    pub outcome: Outcome,
}

/// The state right after a bundle's draw, taken from what it holds and
/// checked against its manifest, so nothing is substituted on a draw other
/// than the one published: the pools must be its snapshot; its plan,
/// history and merge inputs the ones the manifest records by hash; and the
/// outcome its `assignments.csv` lists must give its `result_sha256`.
///
/// The draw is not redone: at national scale a redraw is as long as the
/// draw itself, and every input the substitution rules read (plan,
/// history, merge inputs, seed, pools) is held to its recorded hash. The
/// outcome is the one a redraw gives whenever `shuangsui verify` passes:
/// the result hash covers every visit's credit code, item codes and team
/// in order, each naming one record of the pools, and the visits' merge
/// marks are made from the merge inputs as the draw makes them (§14). The
/// stream positions and the candidates a draw passed over are not needed:
/// §12 draws a substitute from streams of its own, over the rules alone.
pub fn drawn_checked(stored: &Stored, pools: &Pools) -> Result<DrawnState, DrawnError> {
    let manifest: &Manifest = &stored.manifest;
    if pools.snapshot != manifest.snapshot {
        return Err(DrawnError::OtherSnapshot);
    }
    let seed = Seed::parse_hex(&manifest.seed.hex).map_err(|e| DrawnError::Seed(e.to_string()))?;
    if bytes_hash(stored.plan_json.as_bytes()) != manifest.plan.sha256 || stored.plan != manifest.plan.content {
        return Err(DrawnError::Differs(Mismatch::Plan));
    }
    if stored.history.hash() != manifest.history_sha256 {
        return Err(DrawnError::Differs(Mismatch::History));
    }
    let merged = stored.merged()?;
    let outcome = listed_outcome(
        stored.assignments.as_bytes(),
        manifest.visibility,
        pools,
        &stored.plan,
        &merged,
        manifest.strata.clone().unwrap_or_default(),
    )
    .map_err(|e| DrawnError::Differs(Mismatch::Listed(e)))?;
    if result_hash(pools, &outcome) != manifest.result_sha256 {
        return Err(DrawnError::Differs(Mismatch::Result));
    }
    Ok(DrawnState { seed, merged, outcome })
}
