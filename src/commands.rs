//! The steps of each command, composed from the library's parts, so that the
//! binary only parses arguments and prints.

use std::path::{Path, PathBuf};

use crate::bundle::{self, BundleError};
use crate::draw::{DrawError, Outcome};
use crate::ids::CreditCode;
use crate::pipeline::{substitute_checked, DrawInputs, DrawnError, EarlierBundle, PipelineError, SubstituteError};
use crate::plan::{Plan, PlanError, PlanFile};
use crate::pools::{check_path, Checked, LoadOptions, Pools, Problems};
use crate::seed::SeedSpec;
use crate::standing::{DrawScope, ScopeError, Standing};
use crate::substitution::{self, Entry, Request};

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("the pools {dir} have problems:\n{problems}")]
    Pools { dir: PathBuf, problems: Problems },
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Inputs(#[from] PipelineError),
    #[error(transparent)]
    Draw(#[from] DrawError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Substitution(#[from] substitution::ExtendError),
    #[error(transparent)]
    SubstitutionFile(#[from] substitution::FileError),
    #[error("{} is a public copy; this needs the confidential bundle", .0.display())]
    PublicCopy(PathBuf),
    #[error("{}", not_this_draw(bundle, data, error))]
    NotThisDraw {
        bundle: PathBuf,
        data: PathBuf,
        error: Box<DrawnError>,
    },
}

/// The messages `substitute` always gave: the pool folder named when it is
/// the wrong one, the bundle when it does not verify.
fn not_this_draw(bundle: &Path, data: &Path, error: &DrawnError) -> String {
    match error {
        DrawnError::OtherSnapshot => format!("{} is not the pool snapshot the draw was made on", data.display()),
        DrawnError::Differs(why) => format!(
            "{} does not verify ({why}); run shuangsui verify first",
            bundle.display()
        ),
        DrawnError::Merge(e) => format!("merge: {e}"),
        other => other.to_string(),
    }
}

/// Loads a pool folder, or a `.xlsx` workbook (see [`load_path`]).
pub fn load_pools(dir: &Path, options: LoadOptions) -> Result<Pools, CommandError> {
    check_pools(dir, options).map(Checked::hash)
}

/// [`load_pools`] up to the hash of the target directory.
pub fn check_pools(dir: &Path, options: LoadOptions) -> Result<Checked, CommandError> {
    check_path(dir, options).map_err(|problems| CommandError::Pools {
        dir: dir.to_owned(),
        problems,
    })
}

/// What a finished draw reports.
pub struct Drawn {
    pub path: PathBuf,
    pub outcome: Outcome,
    pub manifest: bundle::Manifest,
    /// The pools it was drawn from, handed back so that a process about to
    /// exit may leave them to the kernel: at national scale freeing them
    /// record by record costs a tenth of a second.
    pub pools: Pools,
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
/// (RFC 3339, office time). Every input is checked
/// before anything is written, and the bundle appears whole or not at all.
/// The draw itself is the service's: [`crate::pipeline`].
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
    let history = earlier
        .history
        .iter()
        .map(|dir| EarlierBundle::read(dir))
        .collect::<Result<Vec<_>, _>>()?;
    let to_merge = earlier
        .merge
        .iter()
        .map(|dir| bundle::read(dir))
        .collect::<Result<Vec<_>, _>>()?;
    let inputs = DrawInputs::assemble(&plan, &history, &to_merge)?;
    // Nationally the target directory's hash and the draw each take about a
    // second; the draw needs only the records, so both are made at once.
    let (pools, outcome) = check_pools(data, options)?.hash_while(|records| inputs.outcome(records, &seed.seed));
    let drawn = inputs.drawn(&pools, seed, outcome?, None, created_at);
    let path = bundle::write(out, &drawn.name, &drawn.confidential, &drawn.public)?;
    Ok(Drawn {
        path,
        outcome: drawn.outcome,
        manifest: drawn.confidential.manifest,
        pools,
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
        return Err(CommandError::PublicCopy(bundle_dir.to_owned()));
    }
    let pools = load_pools(data, options)?;
    let log = substitution::read(bundle_dir)?;
    let (log, entry) = substitute_checked(&stored, &pools, log, request, decided_at).map_err(|error| match error {
        SubstituteError::Refused(e) => CommandError::Substitution(e),
        SubstituteError::Drawn(error) => CommandError::NotThisDraw {
            bundle: bundle_dir.to_owned(),
            data: data.to_owned(),
            error: Box::new(error),
        },
    })?;
    substitution::write(bundle_dir, &log)?;
    Ok(entry)
}

/// Where each of `codes` stood in the draw of the confidential bundle in
/// `bundle_dir`, made on the pool folder `data` ([`crate::standing`]): the
/// same answer the service's search gives, from the same two inputs.
pub fn standings(
    bundle_dir: &Path,
    data: &Path,
    codes: &[CreditCode],
    options: LoadOptions,
) -> Result<Vec<Standing>, CommandError> {
    let stored = bundle::read(bundle_dir)?;
    if stored.manifest.visibility != bundle::Visibility::Confidential {
        return Err(CommandError::PublicCopy(bundle_dir.to_owned()));
    }
    let pools = load_pools(data, options)?;
    let scope = DrawScope::of(&stored, &pools).map_err(|error| match error {
        ScopeError::Draw(e) => CommandError::Draw(e),
        ScopeError::Drawn(error) => CommandError::NotThisDraw {
            bundle: bundle_dir.to_owned(),
            data: data.to_owned(),
            error: Box::new(error),
        },
    })?;
    Ok(codes.iter().map(|code| scope.standing(code)).collect())
}
