//! Re-doing a draw from its bundle and the pool files, and naming the first
//! thing that differs. This is what `shuangsui verify` runs; an independent
//! implementation of `docs/ALGORITHM.md` must reach the same verdict.

use std::path::Path;

use crate::bundle::{self, write_assignments, BundleError, Manifest, Visibility};
use crate::draw::{draw_merged, Outcome, Published, ALGORITHM_VERSION};
use crate::pools::{load_path, LoadOptions, Pools, Problems};
use crate::seed::{Seed, SeedSource, SeedSpec};
use crate::snapshot::bytes_hash;
use crate::substitution::{self, Log, Roster};

/// Why a verification could not even be attempted (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("the pool folder has problems:\n{0}")]
    Pools(Problems),
    #[error(transparent)]
    Substitutions(#[from] substitution::FileError),
    #[error("{path}: algorithm version {found} is not version {ALGORITHM_VERSION}, the one this program implements")]
    Unsupported { path: String, found: u32 },
}

/// The outcome of a verification: the checks that passed, and the first
/// difference if any (exit code 1).
#[derive(Debug, Default)]
pub struct Report {
    pub passed: Vec<String>,
    pub difference: Option<String>,
}

impl Report {
    pub fn verified(&self) -> bool {
        self.difference.is_none()
    }

    fn pass(&mut self, what: impl Into<String>) {
        self.passed.push(what.into());
    }

    /// Records the first difference; later checks are not run.
    fn differ(mut self, what: impl Into<String>) -> Report {
        self.difference = Some(what.into());
        self
    }
}

pub fn verify(bundle_dir: &Path, data_dir: &Path, options: LoadOptions) -> Result<Report, VerifyError> {
    let stored = bundle::read(bundle_dir)?;
    if stored.manifest.algorithm_version != ALGORITHM_VERSION {
        return Err(VerifyError::Unsupported {
            path: bundle_dir.join("manifest.json").display().to_string(),
            found: stored.manifest.algorithm_version,
        });
    }
    let pools = load_path(data_dir, options).map_err(VerifyError::Pools)?;
    let (mut report, outcome) = check_bundle(&stored, &pools, Report::default());
    let confidential_log = substitution::read(bundle_dir)?;
    if let Some(outcome) = &outcome {
        report = check_substitutions(&stored, &pools, outcome, confidential_log.as_ref(), report);
    }
    if report.verified() && stored.manifest.visibility == Visibility::Confidential {
        let public_dir = bundle_dir.join("public");
        if public_dir.is_dir() {
            let public = bundle::read(&public_dir)?;
            let (checked, _) = check_bundle(&public, &pools, report);
            report = checked;
            if report.verified() {
                report = check_public_matches(&stored.manifest, &public.manifest, report);
            }
            if report.verified() {
                let public_log = substitution::read(&public_dir)?;
                if public_log != confidential_log.as_ref().map(Log::public) {
                    report = report
                        .differ("public/substitutions.json is not substitutions.json without its confidential notes");
                }
            }
        }
    }
    Ok(report)
}

/// Replays the substitutions made after the draw (spec §12), if any.
fn check_substitutions(
    stored: &bundle::Stored,
    pools: &Pools,
    outcome: &Outcome,
    log: Option<&Log>,
    mut report: Report,
) -> Report {
    let Some(log) = log else { return report };
    let m = &stored.manifest;
    if log.plan_id != m.plan.id || log.draw_result_sha256 != m.result_sha256 {
        return report.differ("substitutions.json belongs to another draw (plan_id or draw_result_sha256)");
    }
    let seed = match Seed::parse_hex(&m.seed.hex) {
        Ok(seed) => seed,
        Err(e) => return report.differ(format!("manifest.json: seed: {e}")),
    };
    let merged = stored.merged().unwrap_or_default();
    let mut roster = Roster::merging(pools, &stored.plan, &stored.history, &merged, &seed, outcome.clone());
    if let Err(difference) = roster.replay(&log.substitutions) {
        return report.differ(format!("substitutions.json: {difference}"));
    }
    if roster.result_sha256() != log.result_sha256 {
        return report.differ("substitutions.json: result_sha256 differs from the replayed teams");
    }
    report.pass(format!(
        "substitutions.json: all {} substitutions replayed; current result {}",
        log.substitutions.len(),
        log.result_sha256
    ));
    report
}

/// Checks one copy of a bundle; returns the redrawn outcome when it matches.
fn check_bundle(stored: &bundle::Stored, pools: &Pools, report: Report) -> (Report, Option<Outcome>) {
    match redo_bundle(stored, pools, report) {
        Ok((report, outcome)) => (report, Some(outcome)),
        Err(report) => (report, None),
    }
}

fn redo_bundle(stored: &bundle::Stored, pools: &Pools, mut report: Report) -> Result<(Report, Outcome), Report> {
    let m = &stored.manifest;
    let copy = match m.visibility {
        Visibility::Confidential => "",
        Visibility::Public => "public/",
    };
    let recorded = |name: &str| m.files.iter().find(|f| f.name == name).map(|f| f.sha256);
    if recorded("plan.json") != Some(bytes_hash(stored.plan_json.as_bytes())) {
        return Err(report.differ(format!(
            "{copy}plan.json does not match its SHA-256 in manifest.json: the plan was edited"
        )));
    }
    if bytes_hash(stored.plan_json.as_bytes()) != m.plan.sha256
        || stored.plan.id() != m.plan.id
        || stored.plan != m.plan.content
    {
        return Err(report.differ(format!("{copy}plan.json is not the plan named in manifest.json")));
    }
    report.pass(format!("{copy}plan.json matches manifest.json"));

    let seed = match Seed::parse_hex(&m.seed.hex) {
        Ok(seed) => SeedSpec {
            seed,
            source: m.seed.source.clone(),
        },
        Err(e) => return Err(report.differ(format!("{copy}manifest.json: seed: {e}"))),
    };
    if let Err(e) = seed.consistent() {
        return Err(report.differ(format!("{copy}manifest.json: seed: {e}")));
    }
    report.pass(format!("seed {} ({})", m.seed.hex, source_name(&m.seed.source)));

    if stored.history.hash() != m.history_sha256 {
        return Err(report.differ(format!(
            "{copy}history.csv does not match history_sha256 in manifest.json"
        )));
    }
    for ((kind, recorded), (_, actual)) in m.snapshot.by_kind().iter().zip(pools.snapshot.by_kind()) {
        if *recorded != actual {
            return Err(report.differ(format!(
                "{kind}.csv in the pool folder is not the snapshot the draw was made on (bundle {recorded}, pool folder {actual})"
            )));
        }
    }
    report.pass(format!("pool snapshot {} matches", m.snapshot_combined));

    let merged = match stored.merged() {
        Ok(merged) => merged,
        Err(difference) => return Err(report.differ(format!("{copy}{difference}"))),
    };
    if let Some(hash) = m.merge_sha256 {
        report.pass(format!("{copy}merge.csv matches merge_sha256 {hash}"));
    }

    let outcome = match draw_merged(pools, &stored.plan, &stored.history, &merged, &seed.seed) {
        Ok(outcome) => outcome,
        Err(e) => return Err(report.differ(format!("redrawing fails on these inputs: {e}"))),
    };
    let published = Published::new(pools, &outcome);
    let expected = write_assignments(pools, &stored.plan, &outcome, &published, m.visibility);
    if let Some(line) = first_different_line(&stored.assignments, &expected) {
        return Err(report.differ(format!("{copy}assignments.csv {line}")));
    }
    // An edited row was named above; this catches an edited manifest instead.
    if recorded("assignments.csv") != Some(bytes_hash(expected.as_bytes())) {
        return Err(report.differ(format!(
            "{copy}manifest.json: the SHA-256 of assignments.csv differs from the redraw"
        )));
    }
    if recorded("history.csv") != Some(bytes_hash(bundle::format::history_csv(&stored.history).as_bytes())) {
        return Err(report.differ(format!(
            "{copy}manifest.json: the SHA-256 of history.csv differs from the bundle's history"
        )));
    }
    if published.selection_sha256 != m.selection_sha256 {
        return Err(report.differ(format!("{copy}manifest.json: selection_sha256 differs from the redraw")));
    }
    if published.result_sha256 != m.result_sha256 {
        return Err(report.differ(format!("{copy}manifest.json: result_sha256 differs from the redraw")));
    }
    report.pass(format!(
        "{copy}assignments.csv: all {} visits reproduced; result {}",
        outcome.visits.len(),
        m.result_sha256
    ));
    Ok((report, outcome))
}

/// The public copy must publish the same draw as the confidential one.
fn check_public_matches(confidential: &Manifest, public: &Manifest, mut report: Report) -> Report {
    // Spec §8: equal to the confidential manifest but for visibility, the
    // absent strata and the hash of its own assignments.csv.
    let expected = Manifest {
        visibility: Visibility::Public,
        strata: None,
        files: public.files.clone(),
        ..confidential.clone()
    };
    let same_files = ["plan.json", "history.csv", "merge.csv"].iter().all(|name| {
        let hash = |m: &Manifest| m.files.iter().find(|f| f.name == *name).map(|f| f.sha256);
        hash(confidential) == hash(public)
    });
    if *public != expected || !same_files {
        return report.differ("public/manifest.json does not describe the same draw as manifest.json");
    }
    report.pass("public copy publishes the same draw");
    report
}

fn source_name(source: &SeedSource) -> String {
    match source {
        SeedSource::Hex => "given as hex".into(),
        SeedSource::Ceremony { digits, .. } => format!("ceremony digits {digits}"),
        SeedSource::Random => "operating-system entropy, not announced in advance".into(),
        SeedSource::Beacon(b) => format!("{} round {}, signature verified", b.chain, b.round),
        SeedSource::CommitReveal { commitment, beacon, .. } => match beacon {
            None => format!("server secret revealed against commitment {commitment}"),
            Some(b) => format!(
                "server secret revealed against commitment {commitment}, with {} round {} (signature verified)",
                b.chain, b.round
            ),
        },
    }
}

/// Names the first line where the stored file and the redraw differ.
fn first_different_line(stored: &str, expected: &str) -> Option<String> {
    let mut stored_lines = stored.split_inclusive('\n');
    let mut expected_lines = expected.split_inclusive('\n');
    for number in 1.. {
        match (stored_lines.next(), expected_lines.next()) {
            (None, None) => return None,
            (Some(a), Some(b)) if a == b => continue,
            (Some(a), Some(b)) => {
                return Some(format!(
                    "line {number} differs from the redraw:\n  bundle: {}\n  redraw: {}",
                    a.trim_end(),
                    b.trim_end()
                ))
            }
            (Some(a), None) => return Some(format!("line {number} is extra: {}", a.trim_end())),
            (None, Some(b)) => return Some(format!("line {number} is missing; the redraw has: {}", b.trim_end())),
        }
    }
    unreachable!("the loop returns")
}
