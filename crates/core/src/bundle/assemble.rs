//! A bundle's contents made from a draw's inputs and outcome: the manifest
//! and every file of both copies (confidential, public) as text, before
//! anything is written (`docs/ALGORITHM.md` §8). Writing them to a folder,
//! atomically, is the root crate's `shuangsui::bundle`.

use crate::draw::{Outcome, Published, ALGORITHM_VERSION};
use crate::history::History;
use crate::merge::Merged;
use crate::plan::Plan;
use crate::pools::Pools;
use crate::seed::{Seed, SeedSpec};
use crate::snapshot::bytes_hash;

use super::format::{
    self, write_assignments, Counts, FileHash, HistorySource, Manifest, PlanRef, SeedRecord, Visibility, FORMAT,
};

/// What a manifest's `generator` names. The core and the `shuangsui` program
/// share one version (the root crate's tests hold them equal), so the core's
/// own is the program's.
pub const GENERATOR: &str = concat!("shuangsui ", env!("CARGO_PKG_VERSION"));

/// Everything a bundle holds, before it is written.
pub struct Contents {
    pub manifest: Manifest,
    pub files: Vec<(String, String)>,
}

/// Builds the two copies of a bundle (confidential, public), created at
/// `created_at` (RFC 3339, the office's local time: the root crate's `clock`).
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
        generator: GENERATOR.to_owned(),
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
pub fn bundle_name(id: &str, seed: &Seed) -> String {
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
        let seed = Seed::parse_hex(&"ab".repeat(32)).unwrap();
        // The shell names a bundle by its plan, whose id is already one safe
        // segment; the service by its task, whose redraws carry a `~`.
        assert_eq!(bundle_name("PZ-SCJG-2026Q1", &seed), "PZ-SCJG-2026Q1_abababababab");
        assert_eq!(bundle_name("PZ-SCJG-2026Q1~2", &seed), "PZ-SCJG-2026Q1_2_abababababab");
        assert_eq!(bundle_name("P/../x@adhoc", &seed), "P_.._x_adhoc_abababababab");
    }
}
