//! Re-doing a draw from its bundle and the pool files, and naming the first
//! thing that differs. This is what `shuangsui verify` runs; an independent
//! implementation of `docs/ALGORITHM.md` must reach the same verdict.
//!
//! A pool folder without `conflicts.csv`, the confidential recusal list, is
//! verified partially (`docs/VERIFY.md`): the targets are re-drawn and the
//! listed teams held to every rule that does not need the list, and the
//! report says what was NOT checked.

use std::path::Path;

use crate::bundle::{self, BundleError, Manifest, Visibility};
use crate::draw::{check_listed_teams, draw_selection};
use crate::draw::{Outcome, ALGORITHM_VERSION};
use crate::pipeline::DrawInputs;
use crate::pools::{is_workbook, load_path, load_without_conflicts, LoadOptions, Pools, Problems};
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

/// The outcome of a verification: the checks that passed, what could not
/// be checked without the recusal list, and the first difference if any
/// (exit code 1).
#[derive(Debug, Default)]
pub struct Report {
    pub passed: Vec<String>,
    /// What a partial verification leaves out; empty when verified fully.
    pub not_checked: Vec<String>,
    pub difference: Option<String>,
}

impl Report {
    /// Reproduced exactly, everything checked.
    pub fn verified(&self) -> bool {
        self.difference.is_none() && self.not_checked.is_empty()
    }

    /// No difference found, but some of the draw was not checked.
    pub fn partially_verified(&self) -> bool {
        self.difference.is_none() && !self.not_checked.is_empty()
    }

    fn pass(&mut self, what: impl Into<String>) {
        self.passed.push(what.into());
    }

    /// Records what was not checked, once (both copies leave out the same).
    fn skip(&mut self, what: impl Into<String>) {
        let what = what.into();
        if !self.not_checked.contains(&what) {
            self.not_checked.push(what);
        }
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
    // A folder without the recusal list is one given for partial verification.
    let recusal = if is_workbook(data_dir) || data_dir.join("conflicts.csv").exists() {
        Recusal::Given
    } else {
        Recusal::NotGiven
    };
    let pools = match recusal {
        Recusal::Given => load_path(data_dir, options),
        Recusal::NotGiven => load_without_conflicts(data_dir, options),
    }
    .map_err(VerifyError::Pools)?;
    let (mut report, outcome) = check_bundle(&stored, &pools, recusal, Report::default());
    let confidential_log = substitution::read(bundle_dir)?;
    if let Some(outcome) = &outcome {
        report = check_substitutions(&stored, &pools, recusal, outcome, confidential_log.as_ref(), report);
    }
    if report.difference.is_none() && stored.manifest.visibility == Visibility::Confidential {
        let public_dir = bundle_dir.join("public");
        if public_dir.is_dir() {
            let public = bundle::read(&public_dir)?;
            let (checked, _) = check_bundle(&public, &pools, recusal, report);
            report = checked;
            if report.difference.is_none() {
                report = check_public_matches(&stored.manifest, &public.manifest, report);
            }
            if report.difference.is_none() {
                let public_log = substitution::read(&public_dir)?;
                let format = public_log
                    .as_ref()
                    .map_or(substitution::PUBLIC_FORMAT, |l| l.format.as_str());
                if public_log != confidential_log.as_ref().map(|log| log.public_as(format)) {
                    report = report.differ(
                        "public/substitutions.json is not substitutions.json without its confidential notes and reasons",
                    );
                }
            }
        }
    }
    Ok(report)
}

/// Whether the pools hold the confidential recusal list, `conflicts.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recusal {
    Given,
    /// Partial verification: the teams cannot be re-drawn.
    NotGiven,
}

/// Replays the substitutions made after the draw (spec §12), if any.
fn check_substitutions(
    stored: &bundle::Stored,
    pools: &Pools,
    recusal: Recusal,
    outcome: &Outcome,
    log: Option<&Log>,
    mut report: Report,
) -> Report {
    let Some(log) = log else { return report };
    let m = &stored.manifest;
    if log.plan_id != m.plan.id || log.draw_result_sha256 != m.result_sha256 {
        return report.differ("substitutions.json belongs to another draw (plan_id or draw_result_sha256)");
    }
    // Only the public copy withholds the reasons (spec §12).
    if m.visibility == Visibility::Confidential && log.format != substitution::FORMAT {
        return report.differ(format!(
            "substitutions.json withholds the reasons: the confidential copy keeps them (format {})",
            substitution::FORMAT
        ));
    }
    let seed = match Seed::parse_hex(&m.seed.hex) {
        Ok(seed) => seed,
        Err(e) => return report.differ(format!("manifest.json: seed: {e}")),
    };
    let merged = stored.merged().unwrap_or_default();
    let mut roster = Roster::merging(pools, &stored.plan, &stored.history, &merged, &seed, outcome.clone());
    let replayed = match recusal {
        Recusal::Given => roster.replay(&log.substitutions),
        Recusal::NotGiven => roster.replay_listed(&log.substitutions),
    };
    if let Err(difference) = replayed {
        return report.differ(format!("substitutions.json: {difference}"));
    }
    if roster.result_sha256() != log.result_sha256 {
        return report.differ("substitutions.json: result_sha256 differs from the replayed teams");
    }
    match recusal {
        Recusal::Given => report.pass(format!(
            "substitutions.json: all {} substitutions replayed; current result {}",
            log.substitutions.len(),
            log.result_sha256
        )),
        Recusal::NotGiven => {
            report.pass(format!(
                "substitutions.json: all {} substitutes obey every rule that does not need conflicts.csv; \
                 current result {}",
                log.substitutions.len(),
                log.result_sha256
            ));
            report.skip("substitutes NOT RE-DRAWN: the choice depends on the confidential recusal list");
        }
    }
    report
}

/// Checks one copy of a bundle; returns the redrawn outcome when it matches
/// (in a partial verification, the outcome with the teams it lists).
fn check_bundle(stored: &bundle::Stored, pools: &Pools, recusal: Recusal, report: Report) -> (Report, Option<Outcome>) {
    match redo_bundle(stored, pools, recusal, report) {
        Ok((report, outcome)) => (report, Some(outcome)),
        Err(report) => (report, None),
    }
}

fn redo_bundle(
    stored: &bundle::Stored,
    pools: &Pools,
    recusal: Recusal,
    mut report: Report,
) -> Result<(Report, Outcome), Report> {
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
        if *kind == "conflicts" && recusal == Recusal::NotGiven {
            report.skip("conflicts.csv snapshot NOT CHECKED: the confidential recusal list was not given");
            continue;
        }
        if *recorded != actual {
            return Err(report.differ(format!(
                "{kind}.csv in the pool folder is not the snapshot the draw was made on (bundle {recorded}, pool folder {actual})"
            )));
        }
    }
    match recusal {
        Recusal::Given => report.pass(format!("pool snapshot {} matches", m.snapshot_combined)),
        Recusal::NotGiven => {
            // The combined hash needs the recusal list's: take it from the
            // manifest, so at least the four files checked combine to it.
            let claimed = crate::pools::SnapshotHashes {
                conflicts: m.snapshot.conflicts,
                ..pools.snapshot
            };
            if claimed.combined() != m.snapshot_combined {
                return Err(report.differ(format!(
                    "{copy}manifest.json: snapshot_combined is not the combination of its snapshot hashes"
                )));
            }
            report.pass("pool snapshots of departments, items, inspectors, targets match");
        }
    }

    let inputs = match DrawInputs::of_bundle(stored) {
        Ok(inputs) => inputs,
        Err(difference) => return Err(report.differ(format!("{copy}{difference}"))),
    };
    if let Some(hash) = m.merge_sha256 {
        report.pass(format!("{copy}merge.csv matches merge_sha256 {hash}"));
    }

    // The bundle made again from its own inputs, by the code that made it;
    // without the recusal list, with the teams it lists.
    let redrawn = match recusal {
        Recusal::Given => inputs.redraw(pools, &seed.seed),
        Recusal::NotGiven => draw_selection(pools, &stored.plan, &inputs.history, &inputs.merged, &seed.seed),
    };
    let mut outcome = match redrawn {
        Ok(outcome) => outcome,
        Err(e) => return Err(report.differ(format!("redrawing fails on these inputs: {e}"))),
    };
    if recusal == Recusal::NotGiven {
        if let Err(difference) = list_teams(stored, pools, &mut outcome) {
            return Err(report.differ(format!("{copy}assignments.csv{difference}")));
        }
    }
    let (confidential, public) = inputs.contents(pools, &seed, &outcome, m.ledger.clone(), &m.created_at);
    let produced = match m.visibility {
        Visibility::Confidential => confidential,
        Visibility::Public => public,
    };
    let made = |name: &str| {
        produced
            .manifest
            .files
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.sha256)
    };
    let expected = produced
        .files
        .iter()
        .find(|(name, _)| name == "assignments.csv")
        .map_or("", |(_, text)| text.as_str());
    if let Some(line) = first_different_line(&stored.assignments, expected) {
        return Err(report.differ(format!("{copy}assignments.csv {line}")));
    }
    // An edited row was named above; this catches an edited manifest instead.
    if recorded("assignments.csv") != made("assignments.csv") {
        return Err(report.differ(format!(
            "{copy}manifest.json: the SHA-256 of assignments.csv differs from the redraw"
        )));
    }
    if recorded("history.csv") != made("history.csv") {
        return Err(report.differ(format!(
            "{copy}manifest.json: the SHA-256 of history.csv differs from the bundle's history"
        )));
    }
    let redrawn = &produced.manifest;
    if redrawn.selection_sha256 != m.selection_sha256 {
        return Err(report.differ(format!("{copy}manifest.json: selection_sha256 differs from the redraw")));
    }
    if redrawn.result_sha256 != m.result_sha256 {
        return Err(report.differ(format!("{copy}manifest.json: result_sha256 differs from the redraw")));
    }
    if redrawn.counts != m.counts {
        return Err(report.differ(format!("{copy}manifest.json: counts differ from the redraw")));
    }
    if redrawn.strata != m.strata {
        return Err(report.differ(format!("{copy}manifest.json: strata differ from the redraw")));
    }
    if recusal == Recusal::Given {
        report.pass(format!(
            "{copy}assignments.csv: all {} visits reproduced; result {}",
            outcome.visits.len(),
            m.result_sha256
        ));
        return Ok((report, outcome));
    }
    report.pass(format!(
        "{copy}assignments.csv: targets and items of all {} visits re-drawn, every column but the teams (组长, 检查人员) \
         reproduced; result {} is that of the teams listed",
        outcome.visits.len(),
        m.result_sha256
    ));
    if let Err(e) = check_listed_teams(pools, &stored.plan, &inputs.history, &inputs.merged, &outcome) {
        return Err(report.differ(format!("{copy}assignments.csv: {e}")));
    }
    let plan = &stored.plan;
    let recusals: String = [
        ("same-township recusal, ", plan.recusal().same_township),
        ("previous-inspector recusal, ", plan.recusal().previous_inspector),
    ]
    .iter()
    .filter(|(_, on)| *on)
    .map(|(rule, _)| *rule)
    .collect();
    report.pass(format!(
        "{copy}teams obey every rule that does not need conflicts.csv: size {}, department, certificate, \
         qualification, {recusals}workload cap {}",
        plan.team_size(),
        plan.workload_cap()
    ));
    report.skip(
        "teams (officer assignment) NOT RE-DRAWN: the draw depends on the confidential recusal list \
         conflicts.csv, which was not given",
    );
    Ok((report, outcome))
}

/// Puts the teams a bundle lists on the re-drawn visits, for a partial
/// verification; the error completes "assignments.csv…".
fn list_teams(stored: &bundle::Stored, pools: &Pools, outcome: &mut Outcome) -> Result<(), String> {
    let rows = bundle::format::read_assignments(stored.assignments.as_bytes(), stored.manifest.visibility)
        .map_err(|e| format!(": {e}"))?;
    if rows.len() != outcome.visits.len() {
        return Err(format!(
            " has {} visits, the redraw {}",
            rows.len(),
            outcome.visits.len()
        ));
    }
    for (k, (row, visit)) in rows.iter().zip(&mut outcome.visits).enumerate() {
        visit.team = row
            .team
            .iter()
            .map(|cert| {
                crate::ids::CertNo::parse(cert)
                    .ok()
                    .and_then(|c| pools.inspector_index(&c))
                    .map(|o| o as u32)
                    .ok_or_else(|| format!(" line {}: officer {cert} is not in inspectors.csv", k + 2))
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(())
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
