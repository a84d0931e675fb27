//! The audit bundle: everything needed to redo a draw, and its result, in one
//! folder (`docs/ALGORITHM.md` §8). A bundle is written under a temporary
//! name and renamed into place, so a crash leaves a whole bundle or none, and
//! an existing bundle is never overwritten.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::draw::{Outcome, Published, ALGORITHM_VERSION};
use crate::history::{DrawnVisit, EarlierDraw, History, Swap};
use crate::merge::Merged;
use crate::plan::Plan;
use crate::pools::Pools;
use crate::seed::SeedSpec;
use crate::snapshot::bytes_hash;

pub use shuangsui_core::bundle::format;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle {0} already exists: a draw is never redone in place; a redraw is a new bundle")]
    Exists(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_owned(),
        source,
    }
}

pub use format::{
    assignments_csv, assignments_header, write_assignments, AssignmentRow, FormatError, DEPARTMENTS_HEADER,
    MERGED_HEADER, PUBLIC_HEADER, RISK_CLASS_HEADER,
};
pub use format::{
    manifest_json, Counts, FileHash, HistorySource, LedgerRef, Manifest, PlanRef, SeedRecord, Visibility, FORMAT,
};

/// Everything a bundle holds, before it is written.
pub struct Contents {
    pub manifest: Manifest,
    pub files: Vec<(String, String)>,
}

/// Builds the two copies of a bundle (confidential, public), created at
/// `created_at` (RFC 3339, the office's local time: see [`crate::clock`]).
pub fn contents(
    pools: &Pools,
    plan: &Plan,
    history: &History,
    history_sources: &[HistorySource],
    seed: &SeedSpec,
    outcome: &Outcome,
    created_at: &str,
) -> (Contents, Contents) {
    merged_contents(pools, plan, history, history_sources, None, seed, outcome, created_at)
}

/// The earlier bundles a merging plan joined, and their visits.
pub struct MergeInputs<'a> {
    pub merged: &'a Merged,
    pub sources: &'a [HistorySource],
}

/// [`contents`] of a plan that may merge with earlier plans (spec §14).
// Every input is a separate part of the bundle; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub fn merged_contents(
    pools: &Pools,
    plan: &Plan,
    history: &History,
    history_sources: &[HistorySource],
    merge: Option<MergeInputs<'_>>,
    seed: &SeedSpec,
    outcome: &Outcome,
    created_at: &str,
) -> (Contents, Contents) {
    let published = Published::new(pools, outcome);
    let plan_json = plan.to_json();
    let history_csv = format::history_csv(history);
    let officers: std::collections::BTreeSet<u32> =
        outcome.visits.iter().flat_map(|v| v.team.iter().copied()).collect();
    let base = Manifest {
        format: FORMAT.into(),
        algorithm_version: ALGORITHM_VERSION,
        visibility: Visibility::Confidential,
        plan: PlanRef {
            id: plan.id().to_owned(),
            name: plan.name().to_owned(),
            sha256: bytes_hash(plan_json.as_bytes()),
            content: plan.clone(),
        },
        seed: SeedRecord {
            hex: seed.seed.to_hex(),
            source: seed.source.clone(),
        },
        snapshot: pools.snapshot,
        snapshot_combined: pools.snapshot.combined(),
        history_sha256: history.hash(),
        history_sources: history_sources.to_vec(),
        merge_sources: merge.as_ref().map(|m| m.sources.to_vec()),
        merge_sha256: merge.as_ref().map(|m| m.merged.hash()),
        selection_sha256: published.selection_sha256,
        result_sha256: published.result_sha256,
        counts: Counts {
            visits: outcome.visits.len(),
            item_checks: outcome.visits.iter().map(|v| v.items.len()).sum(),
            officers: officers.len(),
        },
        strata: Some(outcome.strata.clone()),
        files: Vec::new(),
        created_at: created_at.to_owned(),
        generator: format!("shuangsui {}", env!("CARGO_PKG_VERSION")),
        ledger: None,
    };
    let copy = |visibility: Visibility| {
        let mut files = vec![
            ("plan.json".to_owned(), plan_json.clone()),
            ("history.csv".to_owned(), history_csv.clone()),
            (
                "assignments.csv".to_owned(),
                write_assignments(pools, plan, outcome, &published, visibility),
            ),
        ];
        if let Some(merge) = &merge {
            files.push(("merge.csv".to_owned(), format::merge_csv(merge.merged)));
        }
        let mut manifest = base.clone();
        manifest.visibility = visibility;
        if visibility == Visibility::Public {
            manifest.strata = None;
        }
        manifest.files = files
            .iter()
            .map(|(name, text)| FileHash {
                name: name.clone(),
                sha256: bytes_hash(text.as_bytes()),
            })
            .collect();
        files.push(("README.txt".to_owned(), readme(&manifest)));
        Contents { manifest, files }
    };
    rayon::join(|| copy(Visibility::Confidential), || copy(Visibility::Public))
}

/// The folder name of a draw's bundle: the plan id (the shell) or the task
/// id (the service, where a redraw is `TASK~2`), made one safe path segment,
/// then the seed's first twelve hex digits. A plan id is already safe, so
/// the shell's names are the id as written.
pub fn bundle_name(id: &str, seed: &crate::seed::Seed) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}_{}", &seed.to_hex()[..12])
}

/// Writes the bundle into `out_dir/NAME` atomically and returns its path.
pub fn write(out_dir: &Path, name: &str, confidential: &Contents, public: &Contents) -> Result<PathBuf, BundleError> {
    fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let final_path = out_dir.join(name);
    if final_path.exists() {
        return Err(BundleError::Exists(final_path));
    }
    let temp = out_dir.join(format!(".{name}.tmp-{}", std::process::id()));
    if temp.exists() {
        fs::remove_dir_all(&temp).map_err(io(&temp))?;
    }
    let result = write_tree(&temp, confidential, public).and_then(|()| {
        // rename(2) will not replace a non-empty directory, so a bundle that
        // appeared meanwhile is not clobbered either.
        fs::rename(&temp, &final_path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::DirectoryNotEmpty => {
                BundleError::Exists(final_path.clone())
            }
            _ => BundleError::Io {
                path: final_path.clone(),
                source: e,
            },
        })
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&temp);
    }
    result?;
    if let Ok(dir) = fs::File::open(out_dir) {
        let _ = dir.sync_all();
    }
    Ok(final_path)
}

fn write_tree(temp: &Path, confidential: &Contents, public: &Contents) -> Result<(), BundleError> {
    let public_dir = temp.join("public");
    fs::create_dir_all(&public_dir).map_err(io(&public_dir))?;
    // Every file is written and synced on its own; syncs wait on the disk, so
    // they overlap.
    files(confidential, public)
        .par_iter()
        .try_for_each(|(path, bytes)| write_file(&temp.join(path), bytes))
}

/// The bundle's files as bytes, each with its path relative to the bundle
/// folder (`manifest.json`, `public/assignments.csv`): exactly what
/// [`write`] puts on disk, and what the service records in its database.
pub fn files(confidential: &Contents, public: &Contents) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for (prefix, contents) in [("", confidential), ("public/", public)] {
        files.push((
            format!("{prefix}manifest.json"),
            manifest_json(&contents.manifest).into_bytes(),
        ));
        files.extend(
            contents
                .files
                .iter()
                .map(|(name, text)| (format!("{prefix}{name}"), text.as_bytes().to_vec())),
        );
    }
    files
}

/// Writes a file only the service's own user may read, atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    use std::os::unix::fs::OpenOptionsExt;
    let temp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .map_err(io(&temp))?;
    file.write_all(bytes).map_err(io(&temp))?;
    file.sync_all().map_err(io(&temp))?;
    fs::rename(&temp, path).map_err(io(path))
}

/// Replaces a file that is added to a bundle after the draw: written under
/// a temporary name and renamed, so a reader sees the old file or the new.
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    let temp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let written = write_file(&temp, bytes).and_then(|()| fs::rename(&temp, path).map_err(io(path)));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    let mut file = fs::File::create(path).map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// A bundle as read back from disk.
pub struct Stored {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub plan: Plan,
    pub plan_json: String,
    pub history: History,
    pub assignments: String,
    /// `merge.csv`, present in bundles of plans that merge (spec §14).
    pub merge_csv: Option<String>,
}

pub fn read(dir: &Path) -> Result<Stored, BundleError> {
    let read_text = |name: &str| {
        let path = dir.join(name);
        fs::read_to_string(&path).map_err(|source| BundleError::Io { path, source })
    };
    let invalid = |name: &str, message: String| BundleError::Invalid {
        path: dir.join(name),
        message,
    };
    let manifest =
        format::read_manifest(&read_text("manifest.json")?).map_err(|e| invalid("manifest.json", e.to_string()))?;
    let plan_json = read_text("plan.json")?;
    let plan: Plan = serde_json::from_str(&plan_json).map_err(|e| invalid("plan.json", e.to_string()))?;
    let history =
        format::read_history(&read_text("history.csv")?).map_err(|e| invalid("history.csv", e.to_string()))?;
    let assignments = read_text("assignments.csv")?;
    let merge_path = dir.join("merge.csv");
    let merge_csv = if merge_path.exists() {
        Some(read_text("merge.csv")?)
    } else {
        None
    };
    Ok(Stored {
        dir: dir.to_owned(),
        manifest,
        plan,
        plan_json,
        history,
        assignments,
        merge_csv,
    })
}

impl Stored {
    /// The visits of its `assignments.csv`, typed, read by column name.
    pub fn visits(&self) -> Result<Vec<DrawnVisit>, BundleError> {
        format::read_visits(self.assignments.as_bytes(), self.manifest.visibility).map_err(|e| BundleError::Invalid {
            path: self.dir.join("assignments.csv"),
            message: e.to_string(),
        })
    }

    /// The draw as an earlier draw of a later one (history, spec §7, or
    /// merge, §14), with the substitutions made on it so far.
    pub fn earlier_draw(&self, substitutions: Vec<Swap>) -> Result<EarlierDraw, BundleError> {
        Ok(EarlierDraw {
            origin: self.dir.display().to_string(),
            plan_id: self.manifest.plan.id.clone(),
            date: self.plan.inspection_date(),
            visits: self.visits()?,
            substitutions,
        })
    }

    /// The earlier visits the bundle's draw merged with (spec §14), as it
    /// records them: `merge.csv` under `merge_sha256`, from the plans of
    /// `merge_sources`, which must be those the plan names. A plan that does
    /// not merge must carry none of these; for it the result is empty.
    pub fn merged(&self) -> Result<Merged, MergeRecordError> {
        let m = &self.manifest;
        let Some(named) = self.plan.merge_with() else {
            if self.merge_csv.is_some() || m.merge_sources.is_some() || m.merge_sha256.is_some() {
                return Err(MergeRecordError::Unexpected);
            }
            return Ok(Merged::default());
        };
        let (Some(text), Some(sources), Some(hash)) = (&self.merge_csv, &m.merge_sources, m.merge_sha256) else {
            return Err(MergeRecordError::Missing);
        };
        let ids: Vec<String> = sources.iter().map(|s| s.plan_id.clone()).collect();
        if ids != *named {
            return Err(MergeRecordError::OtherPlans {
                sources: ids.join(", "),
                named: named.join(", "),
            });
        }
        let merged = format::read_merge(ids, text)?;
        if merged.hash() != hash {
            return Err(MergeRecordError::Hash);
        }
        let recorded = m.files.iter().find(|f| f.name == "merge.csv").map(|f| f.sha256);
        if recorded != Some(bytes_hash(format::merge_csv(&merged).as_bytes())) {
            return Err(MergeRecordError::FileHash);
        }
        Ok(merged)
    }
}

/// Why a bundle's merge inputs (spec §14) do not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeRecordError {
    #[error("the bundle carries merge inputs, but its plan merges with no plan")]
    Unexpected,
    #[error("the plan merges with earlier plans, but merge.csv, merge_sources or merge_sha256 is missing")]
    Missing,
    #[error("manifest.json: merge_sources are of [{sources}], the plan names [{named}]")]
    OtherPlans { sources: String, named: String },
    #[error("merge.csv: {0}")]
    Csv(#[from] FormatError),
    #[error("merge.csv does not match merge_sha256 in manifest.json")]
    Hash,
    #[error("manifest.json: the SHA-256 of merge.csv differs from the bundle's merge.csv")]
    FileHash,
}

/// The bilingual note on how to re-check a bundle.
fn readme(manifest: &Manifest) -> String {
    format!(
        "双随机抽查审计包 / shuangsui audit bundle\r\n\
         ========================================\r\n\
         \r\n\
         计划 Plan: {id} {name}\r\n\
         随机种子 Seed: {seed}\r\n\
         结果哈希 Result SHA-256: {result}\r\n\
         名录快照 Snapshot SHA-256: {snapshot}\r\n\
         \r\n\
         如何复核（中文）\r\n\
         1. 取得本次抽查所用的名录库文件（其哈希须与 manifest.json 中 snapshot 一致）。\r\n\
         2. 运行: shuangsui verify <本目录> --data <名录库目录>\r\n\
         3. 输出“verified”即说明抽查结果可由公开的种子和算法完全复现；否则会指出第一处不同。\r\n\
         也可按 docs/ALGORITHM.md 的公开规范自行编写程序复核。\r\n\
         \r\n\
         How to re-check (English)\r\n\
         1. Get the pool files this draw used (their hashes must match `snapshot` in manifest.json).\r\n\
         2. Run: shuangsui verify <this folder> --data <pool folder>\r\n\
         3. \"verified\" means the result is exactly reproduced from the published seed and\r\n\
         algorithm; otherwise the first difference is named. An independent program written\r\n\
         from docs/ALGORITHM.md must give the same result.\r\n",
        id = manifest.plan.id,
        name = manifest.plan.name,
        seed = manifest.seed.hex,
        result = manifest.result_sha256,
        snapshot = manifest.snapshot_combined,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_for_a_plan_and_a_task() {
        let seed = crate::seed::Seed::parse_hex(&"ab".repeat(32)).unwrap();
        // The shell names a bundle by its plan, whose id is already one safe
        // segment; the service by its task, whose redraws carry a `~`.
        assert_eq!(bundle_name("PZ-SCJG-2026Q1", &seed), "PZ-SCJG-2026Q1_abababababab");
        assert_eq!(bundle_name("PZ-SCJG-2026Q1~2", &seed), "PZ-SCJG-2026Q1_2_abababababab");
        assert_eq!(bundle_name("P/../x@adhoc", &seed), "P_.._x_adhoc_abababababab");
    }
}
