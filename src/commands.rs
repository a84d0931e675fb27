//! The steps of each command, composed from the library's parts, so that the
//! binary only parses arguments and prints.

use std::path::{Path, PathBuf};

use crate::bundle::{self, BundleError};
use crate::draw::{draw_merged, draw_new, DrawError, Outcome};
use crate::history::{EarlierBundle, EarlierDraw, History};
use crate::merge::Merged;
use crate::plan::{Plan, PlanError};
use crate::pools::{load_path, LoadOptions, Pools, Problems};
use crate::seed::{Seed, SeedSpec};
use crate::substitution::{self, Entry, Request, Roster};

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("the pools {dir} have problems:\n{problems}")]
    Pools { dir: PathBuf, problems: Problems },
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("history: {0}")]
    History(String),
    #[error("merge: {0}")]
    Merge(String),
    #[error(transparent)]
    Draw(#[from] DrawError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Substitution(#[from] substitution::ExtendError),
    #[error(transparent)]
    SubstitutionFile(#[from] substitution::FileError),
    #[error("{0}")]
    NotThisDraw(String),
}

/// Loads a pool folder, or a `.xlsx` workbook (see [`load_path`]).
pub fn load_pools(dir: &Path, options: LoadOptions) -> Result<Pools, CommandError> {
    load_path(dir, options).map_err(|problems| CommandError::Pools {
        dir: dir.to_owned(),
        problems,
    })
}

/// What a finished draw reports.
pub struct Drawn {
    pub path: PathBuf,
    pub outcome: Outcome,
    pub manifest: bundle::Manifest,
}

/// The earlier bundles a draw takes in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Earlier<'a> {
    /// Inspections that count for exclusion and rotation (spec §5, §6).
    pub history: &'a [PathBuf],
    /// Plans of the same period whose visits this plan joins (spec §14).
    pub merge: &'a [PathBuf],
}

/// Loads the inputs, draws, and writes the bundle, created at `created_at`
/// (RFC 3339, office time). Every input is checked before anything is
/// written, and the bundle appears whole or not at all.
pub fn draw_bundle(
    data: &Path,
    plan_path: &Path,
    seed: &SeedSpec,
    earlier: Earlier<'_>,
    out: &Path,
    created_at: &str,
    options: LoadOptions,
) -> Result<Drawn, CommandError> {
    let plan = Plan::load(plan_path)?;
    let stored = earlier
        .history
        .iter()
        .map(|dir| EarlierBundle::read(dir))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CommandError::History)?;
    let to_merge = earlier
        .merge
        .iter()
        .map(|dir| bundle::read(dir))
        .collect::<Result<Vec<_>, _>>()?;
    let draws: Vec<EarlierDraw<'_>> = stored.iter().map(EarlierBundle::as_earlier).collect();
    let history = History::for_plan(&plan, &draws).map_err(CommandError::History)?;
    let sources: Vec<bundle::HistorySource> = stored.iter().map(|e| bundle::HistorySource::of(&e.bundle)).collect();
    let merge_sources: Vec<bundle::HistorySource> = to_merge.iter().map(bundle::HistorySource::of).collect();
    // A visit of the same period is joined, not an earlier inspection: as
    // history it would bar its own team and exclude its own items.
    if let Some(both) = merge_sources.iter().find(|m| sources.contains(m)) {
        return Err(CommandError::Merge(format!(
            "the bundle of plan {} is given both as history and to merge with",
            both.plan_id
        )));
    }
    let merged = Merged::from_bundles(&plan, &to_merge).map_err(CommandError::Merge)?;
    let pools = load_pools(data, options)?;
    // A new draw: its filters must match targets and it must draw a visit.
    let outcome = draw_new(&pools, &plan, &history, &merged, &seed.seed)?;
    // merge_sources in the order the plan names its plans.
    let merge_sources: Vec<bundle::HistorySource> = merged
        .plans
        .iter()
        .filter_map(|id| merge_sources.iter().find(|s| s.plan_id == *id).cloned())
        .collect();
    let merge = plan.merge_with.as_ref().map(|_| bundle::MergeInputs {
        merged: &merged,
        sources: &merge_sources,
    });
    let (confidential, public) =
        bundle::merged_contents(&pools, &plan, &history, &sources, merge, seed, &outcome, created_at);
    let path = bundle::write(out, &bundle::bundle_name(&plan, seed), &confidential, &public)?;
    Ok(Drawn {
        path,
        outcome,
        manifest: confidential.manifest,
    })
}

/// Draws a substitute for an officer of a drawn visit (spec §12) and adds it
/// to the bundle's `substitutions.json` and its public copy. The pool folder
/// must be the one the draw was made on; it is never changed (a conflict
/// declared here belongs in the live `conflicts.csv` for later draws).
pub fn substitute_in_bundle(
    bundle_dir: &Path,
    data: &Path,
    request: &Request,
    decided_at: &str,
    options: LoadOptions,
) -> Result<Entry, CommandError> {
    let stored = bundle::read(bundle_dir)?;
    if stored.manifest.visibility != bundle::Visibility::Confidential {
        return Err(CommandError::NotThisDraw(format!(
            "{} is a public copy; substitutions are made on the confidential bundle",
            bundle_dir.display()
        )));
    }
    let pools = load_pools(data, options)?;
    if pools.snapshot != stored.manifest.snapshot {
        return Err(CommandError::NotThisDraw(format!(
            "{} is not the pool snapshot the draw was made on",
            data.display()
        )));
    }
    let seed = Seed::parse_hex(&stored.manifest.seed.hex)
        .map_err(|e| CommandError::NotThisDraw(format!("manifest.json: seed: {e}")))?;
    let merged = crate::verify::merge_inputs(&stored).map_err(CommandError::Merge)?;
    let outcome = draw_merged(&pools, &stored.plan, &stored.history, &merged, &seed)?;
    if crate::draw::result_hash(&pools, &outcome) != stored.manifest.result_sha256 {
        return Err(CommandError::NotThisDraw(format!(
            "{} does not verify; run shuangsui verify first",
            bundle_dir.display()
        )));
    }
    let log = substitution::read(bundle_dir)?;
    let (log, entry) = substitution::extend(
        &stored,
        Roster::merging(&pools, &stored.plan, &stored.history, &merged, &seed, outcome),
        log,
        request,
        decided_at,
    )?;
    substitution::write(bundle_dir, &log)?;
    Ok(entry)
}
