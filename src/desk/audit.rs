//! Auditing the service's record: the ledger chain holds, and every draw it
//! records is published unchanged and reproduces from its frozen snapshot.

use serde::Serialize;

use super::Desk;
use crate::ledger::{Head, LedgerError};
use crate::snapshot::bytes_hash;

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
    for (record, entry) in &records {
        let dir = desk.publications_dir.join(&record.bundle);
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
        let snapshot = match desk.announcement(&record.task_id).await {
            Ok(Some((announcement, _))) => desk.snapshot_pools(&announcement.snapshot_combined),
            _ => {
                problems.push(format!("draw {}: its announcement is missing", record.task_id));
                continue;
            }
        };
        if let Some(problem) = substitutions_match_ledger(desk, &record.task_id, &dir).await {
            problems.push(format!("draw {}: {problem}", record.task_id));
        }
        let bundle = dir.clone();
        let verified =
            tokio::task::spawn_blocking(move || crate::verify::verify(&bundle, &snapshot, Default::default())).await;
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
            Err(e) => problems.push(format!("draw {}: verification panicked: {e}", record.task_id)),
        }
    }
    Ok(AuditReport {
        head,
        draws_checked: records.len(),
        problems,
    })
}

/// The substitution lists in a bundle must be the ones the ledger records:
/// replaying catches a changed substitute, this catches a dropped entry.
async fn substitutions_match_ledger(desk: &Desk, task_id: &str, dir: &std::path::Path) -> Option<String> {
    let recorded = match desk.substitution_log(task_id).await {
        Ok(log) => log.map(|l| l.public()),
        Err(e) => return Some(format!("cannot read its substitutions from the ledger: {e}")),
    };
    for (copy, path) in [("", dir.to_owned()), ("public/", dir.join("public"))] {
        match crate::substitution::read(&path) {
            Ok(file) if file.as_ref().map(|l| l.public()) == recorded => {}
            Ok(_) => return Some(format!("{copy}substitutions.json is not the list the ledger records")),
            Err(e) => return Some(e.to_string()),
        }
    }
    None
}
