//! Auditing the service's record: the ledger chain holds, and every draw it
//! records is published unchanged and reproduces from its frozen snapshot.
//!
//! The bundles checked are the database's record of them; the cache in
//! `publications/` is compared with that record file by file, and a served
//! file that differs from it, or that no entry records, is a problem.
//!
//! What is served must be what the ledger records, in both directions: each
//! bundle's manifest names a ledger head that is in the chain before its
//! draw; every bundle folder in `publications/` is recorded by a `draw_made`
//! entry and every recorded one is there; each `substitutions.json` is the
//! list the `officer_substituted` entries make; each `results.csv` is the
//! notice the `results_published` entries make. Every problem is reported,
//! each naming its draw, file or entry, not only the first.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::results::RESULTS_FILE;
use super::{Desk, DrawRecord};
use crate::bundle::format::read_manifest;
use crate::ledger::{Entry, Head, LedgerError};
use crate::snapshot::{bytes_hash, Hash32};

#[derive(Debug, Serialize)]
pub struct AuditReport {
    /// The head the chain verified up to.
    pub head: Head,
    pub draws_checked: usize,
    /// Empty when everything holds.
    pub problems: Vec<String>,
}

impl AuditReport {
    pub fn clean(&self) -> bool {
        self.problems.is_empty()
    }
}

pub async fn audit(desk: &Desk) -> Result<AuditReport, LedgerError> {
    let mut problems = Vec::new();
    let head = match desk.ledger.verify_chain().await {
        Ok(head) => head,
        Err(LedgerError::Corrupt { seq, message }) => {
            problems.push(format!("ledger entry {seq}: {message}"));
            Head::GENESIS
        }
        Err(e) => return Err(e),
    };
    let records = match desk.draw_records().await {
        Ok(records) => records,
        Err(e) => {
            problems.push(format!("cannot read the draws: {e}"));
            Vec::new()
        }
    };
    let chain = match chain_hashes(desk).await {
        Ok(chain) => chain,
        Err(e) => {
            problems.push(format!("cannot read the ledger's hashes: {e}"));
            BTreeMap::new()
        }
    };
    problems.extend(unrecorded_folders(desk, &records));
    match desk.cache_problems().await {
        Ok(found) => problems.extend(found.into_iter().map(|p| p.to_string())),
        Err(e) => problems.push(format!("cannot compare publications/ with the database: {e}")),
    }
    // The record is checked, not the cache: each bundle's recorded files are
    // written into a scratch folder of this audit (the cache was compared
    // with them above).
    let scratch = std::env::temp_dir().join(format!(
        "shuangsui-audit-{}",
        &crate::entropy::random_seed().to_hex()[..16]
    ));
    for (record, entry) in &records {
        let dir = scratch.join(&record.bundle);
        match desk.materialize(&record.bundle, &dir).await {
            Ok(true) => {}
            Ok(false) => {
                problems.push(format!(
                    "draw {} (entry {}): the database holds no file of bundle {}",
                    record.task_id, entry.seq, record.bundle
                ));
                continue;
            }
            Err(e) => {
                problems.push(format!(
                    "draw {} (entry {}): bundle {} cannot be read from the database: {e}",
                    record.task_id, entry.seq, record.bundle
                ));
                continue;
            }
        }
        let manifest = match std::fs::read(dir.join("manifest.json")) {
            Ok(bytes) => bytes,
            Err(e) => {
                problems.push(format!(
                    "draw {} (entry {}): bundle {} is missing: {e}",
                    record.task_id, entry.seq, record.bundle
                ));
                continue;
            }
        };
        if bytes_hash(&manifest) != record.manifest_sha256 {
            problems.push(format!(
                "draw {}: manifest.json of {} is not the one the ledger recorded",
                record.task_id, record.bundle
            ));
            continue;
        }
        if let Some(problem) = head_in_chain(record, entry, &manifest, &chain) {
            problems.push(format!(
                "draw {} (entry {}): manifest.json of {} {problem}",
                record.task_id, entry.seq, record.bundle
            ));
        }
        problems.extend(
            results_match_ledger(desk, record, &dir)
                .await
                .map(|problem| format!("draw {}: {problem}", record.task_id)),
        );
        let snapshot = match desk.announcement(&record.task_id).await {
            Ok(Some((announcement, _))) => match desk.snapshot_pools(&announcement.snapshot_combined).await {
                Ok(path) => path,
                Err(e) => {
                    problems.push(format!("draw {}: its frozen pools: {e}", record.task_id));
                    continue;
                }
            },
            _ => {
                problems.push(format!("draw {}: its announcement is missing", record.task_id));
                continue;
            }
        };
        for problem in substitutions_match_ledger(desk, &record.task_id, &dir).await {
            problems.push(format!("draw {}: {problem}", record.task_id));
        }
        let bundle = dir.clone();
        let verified = crate::heavy::run(move || crate::verify::verify(&bundle, &snapshot, Default::default())).await;
        match verified {
            Ok(Ok(report)) if report.verified() => {}
            Ok(Ok(report)) => problems.push(format!(
                "draw {}: {}",
                record.task_id,
                report.difference.unwrap_or_else(|| format!(
                    "its frozen pools verify it only partially: NOT checked: {}",
                    report.not_checked.join("; ")
                ))
            )),
            Ok(Err(e)) => problems.push(format!("draw {}: {e}", record.task_id)),
            Err(panic) => problems.push(format!(
                "draw {}: verification panicked: {}",
                record.task_id,
                crate::heavy::panic_message(&*panic)
            )),
        }
    }
    if scratch.exists() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    Ok(AuditReport {
        head,
        draws_checked: records.len(),
        problems,
    })
}

/// The substitution lists in a bundle must be the ones the ledger records:
/// replaying catches a changed substitute, this catches a dropped entry.
/// Both copies are compared in full (every field an entry holds, in order):
/// the confidential one without the notes, which are compared nowhere else
/// either, and the public one as it must be published (of either format:
/// public copies written before kept the real reason).
async fn substitutions_match_ledger(desk: &Desk, task_id: &str, dir: &std::path::Path) -> Vec<String> {
    let recorded = match desk.substitution_log(task_id).await {
        Ok(log) => log,
        Err(e) => return vec![format!("cannot read its substitutions from the ledger: {e}")],
    };
    let mut problems = Vec::new();
    for (copy, path) in [("", dir.to_owned()), ("public/", dir.join("public"))] {
        match crate::substitution::read(&path) {
            Ok(file) => {
                let (file, recorded) = match copy {
                    "" => (
                        file.map(|l| l.without_notes()),
                        recorded.as_ref().map(|l| l.without_notes()),
                    ),
                    _ => {
                        let format = file.as_ref().map(|l| l.format.clone()).unwrap_or_default();
                        (file, recorded.as_ref().map(|l| l.public_as(&format)))
                    }
                };
                if file != recorded {
                    problems.push(format!(
                        "{copy}substitutions.json is not the list the ledger records: {}",
                        first_difference(file.as_ref(), recorded.as_ref())
                    ));
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    problems
}

/// Where a substitution list first departs from the ledger's.
fn first_difference(file: Option<&crate::substitution::Log>, ledger: Option<&crate::substitution::Log>) -> String {
    let (file, ledger) = match (file, ledger) {
        (None, _) => return "the file is missing".into(),
        (_, None) => return "the ledger records no substitution".into(),
        (Some(file), Some(ledger)) => (file, ledger),
    };
    let pairs = file.substitutions.iter().zip(&ledger.substitutions);
    if let Some((at, _)) = pairs.enumerate().find(|(_, (a, b))| a != b) {
        return format!(
            "substitution {} differs from officer_substituted entry {} of the task",
            file.substitutions[at].seq,
            at + 1
        );
    }
    if file.substitutions.len() != ledger.substitutions.len() {
        return format!(
            "it lists {} substitutions, the ledger {}",
            file.substitutions.len(),
            ledger.substitutions.len()
        );
    }
    "its plan or result hashes differ".into()
}

/// Every entry's hash by its seq, with the genesis head at 0.
async fn chain_hashes(desk: &Desk) -> Result<BTreeMap<u64, Hash32>, LedgerError> {
    let mut chain = BTreeMap::from([(Head::GENESIS.seq, Head::GENESIS.hash)]);
    let mut after = 0;
    loop {
        let batch = desk.ledger.hashes(after, 10_000).await?;
        let Some(&(last, _)) = batch.last() else {
            return Ok(chain);
        };
        chain.extend(batch);
        after = last;
    }
}

/// The ledger head a bundle's manifest records (the head just before its
/// draw) must be an entry of the chain, with that hash at that seq, before
/// the draw's own entry, and the head the draw entry itself records.
fn head_in_chain(record: &DrawRecord, entry: &Entry, manifest: &[u8], chain: &BTreeMap<u64, Hash32>) -> Option<String> {
    let manifest = match std::str::from_utf8(manifest)
        .map_err(|e| e.to_string())
        .and_then(|text| read_manifest(text).map_err(|e| e.to_string()))
    {
        Ok(manifest) => manifest,
        Err(e) => return Some(format!("does not read: {e}")),
    };
    let Some(head) = manifest.ledger else {
        return Some("records no ledger head".into());
    };
    if head.task_id != record.task_id {
        return Some(format!("names task {}, not {}", head.task_id, record.task_id));
    }
    let named = format!("ledger head {} ({})", head.head_seq, head.head_hash);
    if head.head_seq >= entry.seq {
        return Some(format!(
            "names {named}, which is not before its draw's entry {}",
            entry.seq
        ));
    }
    match chain.get(&head.head_seq) {
        Some(hash) if *hash == head.head_hash => {}
        Some(hash) => {
            return Some(format!(
                "names {named}, but entry {} of the chain is {hash}",
                head.head_seq
            ))
        }
        None => return Some(format!("names {named}, which is not in the chain")),
    }
    let before = &record.ledger_head_before;
    if (before.seq, before.hash) != (head.head_seq, head.head_hash) {
        return Some(format!(
            "names {named}, but its draw entry records head {} ({})",
            before.seq, before.hash
        ));
    }
    None
}

/// The bundle folders in `publications/` that no `draw_made` entry records.
/// The public pages do not serve them; they are still a problem, since
/// nothing the ledger knows put them there. Names starting with '.' are the
/// service's own work in progress.
fn unrecorded_folders(desk: &Desk, records: &[(DrawRecord, Entry)]) -> Vec<String> {
    let recorded: BTreeSet<&str> = records.iter().map(|(r, _)| r.bundle.as_str()).collect();
    let entries = match std::fs::read_dir(&desk.publications_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => return vec![format!("cannot read {}: {e}", desk.publications_dir.display())],
    };
    let mut found: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.') && !recorded.contains(name.as_str()))
        .collect();
    found.sort();
    found
        .into_iter()
        .map(|name| format!("publications/{name} is not recorded by any draw_made entry of the ledger"))
        .collect()
}

/// A bundle's `public/results.csv` must be byte for byte the notice the
/// ledger's `results_published` and `result_recorded` entries make, and be
/// absent while no notice of the task has been published. The rows that
/// differ are named by their ledger entry.
async fn results_match_ledger(desk: &Desk, record: &DrawRecord, dir: &std::path::Path) -> Option<String> {
    let path = dir.join("public").join(RESULTS_FILE);
    let expected = match desk.results_notice_file(&record.task_id, &record.bundle).await {
        Ok(expected) => expected,
        Err(e) => return Some(format!("cannot make its results notice from the ledger: {e}")),
    };
    let served = match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Some(format!("public/{RESULTS_FILE}: {e}")),
    };
    match (expected, served) {
        (None, None) => None,
        (Some(expected), Some(served)) if expected == served => None,
        (None, Some(_)) => Some(format!(
            "public/{RESULTS_FILE} is served, but the ledger records no results notice of the task"
        )),
        (Some(_), None) => Some(format!(
            "public/{RESULTS_FILE} is missing, but the ledger records a results notice of the task"
        )),
        (Some(expected), Some(served)) => {
            let lines = |bytes: &[u8]| -> BTreeSet<String> {
                String::from_utf8_lossy(bytes)
                    .split("\r\n")
                    .map(str::to_owned)
                    .collect()
            };
            let (expected, served) = (lines(&expected), lines(&served));
            // The last column of a row is its result's ledger entry.
            let entry_of = |line: &str| line.rsplit(',').next().unwrap_or_default().to_owned();
            let mut differ: Vec<String> = expected
                .difference(&served)
                .map(|l| format!("entry {}", entry_of(l)))
                .collect();
            if served.difference(&expected).next().is_some() && differ.is_empty() {
                differ.push("a row the ledger does not record".into());
            }
            Some(format!(
                "public/{RESULTS_FILE} is not the results notice the ledger records ({} differ)",
                differ.join(", ")
            ))
        }
    }
}
