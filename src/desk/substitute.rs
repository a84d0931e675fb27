//! Substitutions at the service: an operator names the officer who cannot
//! go, the desk draws the substitute on the draw's frozen snapshot, records
//! it in the ledger together with the bundle's new `substitutions.json` (and
//! the operator's confidential note), in one transaction. The ledger and the
//! database are the record; the cache folder is its published form.

use serde::{Deserialize, Serialize};

use super::publish::{bundle_rows, prepare};
use super::{blocking, Desk, TaskError};
use crate::bundle;
use crate::ledger::{Appended, Attached, Key, Kind, LedgerError, Payload};
use crate::pipeline::{substitute_checked, SubstituteError};
use crate::pools::{declare_conflict, load_path, Declared, LoadOptions};
use crate::snapshot::{bytes_hash, Hash32};
use crate::substitution::{Entry, Log, Reason, Request, FILE, FORMAT};
use crate::{records, store};

/// The ledger payload of a substitution: the public entry (its reason the
/// neutral `adjustment`; entries made before hold the real one), and the
/// current result after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubstitutionRecord {
    pub task_id: String,
    pub bundle: String,
    pub entry: Entry,
    pub result_sha256: Hash32,
}

impl Payload for SubstitutionRecord {
    const KIND: Kind = Kind::OfficerSubstituted;
}

/// What the operator is told after a substitution.
#[derive(Debug, Clone, Serialize)]
pub struct Substituted {
    pub seq: u64,
    #[serde(flatten)]
    pub record: SubstitutionRecord,
    /// The reason as kept confidentially (the record shows the public one).
    pub reason: Reason,
    /// For a newly declared conflict: whether it is now on the live recusal
    /// list, or why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recusal_list: Option<String>,
}

/// Confidential notes are private files of the database, named by the
/// entry the ledger records (as they were on disk beside the secrets, where
/// data folders made before keep them). `recorded` is that entry as it
/// stands in the ledger, whatever its reason.
pub(super) fn note_name(task_id: &str, recorded: &Entry) -> String {
    let public = serde_json::to_string(recorded).expect("entries serialise");
    let tag = &bytes_hash(public.as_bytes()).to_hex()[..16];
    format!("{}-{}-{tag}.json", task_id.replace(['/', '\\'], "_"), recorded.seq)
}

/// What the ledger does not show of a substitution.
#[derive(Serialize, Deserialize)]
struct Notes {
    note: Option<String>,
    relation: Option<String>,
    /// The real reason: absent from notes written while the ledger held it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<Reason>,
}

impl Desk {
    /// Draws a substitute for `request.out` on a drawn task (spec §12) and
    /// records it. A refused substitution records nothing.
    pub async fn substitute(&self, task_id: &str, request: Request) -> Result<Substituted, TaskError> {
        // The pair joins the live recusal list, whose every row names its
        // relation: without one the list would no longer load.
        if request.reason == Reason::Conflict && request.relation.trim().is_empty() {
            return Err(TaskError::Invalid(
                "a conflict must give its relation (relation, 回避关系): the live recusal list records it".into(),
            ));
        }
        let _one_at_a_time = self.drawing.lock().await;
        let (record, _) = self
            .draw_record(task_id)
            .await?
            .ok_or_else(|| TaskError::UnknownTask(task_id.to_owned()))?;
        let (announcement, _) = self
            .announcement(task_id)
            .await?
            .ok_or_else(|| TaskError::UnknownTask(task_id.to_owned()))?;
        // The bundle as its record holds it: the cache folder brought up to
        // date first (it may have been drawn on another host, or deleted).
        self.sync_publications(false).await?;
        self.repair_publications(std::slice::from_ref(&record.bundle)).await?;
        let bundle_dir = self.publications_dir.join(&record.bundle);
        let snapshot = self.snapshot_pools(&announcement.snapshot_combined).await?;
        let log = self.substitution_log(task_id).await?;
        let decided_at = self.time.stamp();
        let (dir, task, drawn) = (bundle_dir.clone(), task_id.to_owned(), record.clone());
        // Reading the bundle and loading its snapshot take seconds at
        // national scale: on a blocking thread.
        let (log, entry, files, note) = blocking(move || {
            let (task_id, record) = (task.as_str(), drawn);
            let stored = bundle::read(&dir)?;
            let pools = load_path(&snapshot, LoadOptions::default()).map_err(TaskError::Pools)?;
            // The same checked state as `shuangsui substitute`: a bundle that
            // is not the draw the ledger recorded takes no substitution.
            if stored.manifest.seed.hex != record.seed || stored.manifest.result_sha256 != record.result_sha256 {
                return Err(TaskError::Invalid(format!(
                    "bundle {} is not the draw of {task_id} the ledger records",
                    record.bundle
                )));
            }
            let (log, entry) =
                substitute_checked(&stored, &pools, log, &request, &decided_at).map_err(|e| match e {
                    SubstituteError::Refused(e) => TaskError::SubstitutionRefused(e),
                    SubstituteError::Drawn(e) => TaskError::Invalid(format!("bundle {}: {e}", record.bundle)),
                })?;
            let files = prepare(vec![
                (FILE.to_owned(), log.to_json().into_bytes()),
                (format!("public/{FILE}"), log.public().to_json().into_bytes()),
            ])?;
            // Every substitution has its notes now: the reason is one.
            let notes = Notes {
                note: entry.note.clone(),
                relation: entry.relation.clone(),
                reason: Some(entry.reason),
            };
            let bytes = serde_json::to_vec(&notes).expect("notes serialise");
            let note = prepare(vec![(note_name(task_id, &entry.public()), bytes)])?;
            Ok((log, entry, files, note))
        })
        .await?;
        let payload = SubstitutionRecord {
            task_id: task_id.to_owned(),
            bundle: record.bundle.clone(),
            entry: entry.public(),
            result_sha256: log.result_sha256,
        };
        // The lists and the note in the store, then the entry with the rows
        // naming them: one transaction, so neither is ever lost or orphaned.
        self.store_prepared(&files).await?;
        self.store_prepared(&note).await?;
        let mut attached = bundle_rows(&record.bundle, &files);
        attached.extend(note.iter().map(|n| Attached::PrivateFile {
            name: n.path.clone(),
            file: n.hash(),
        }));
        let appended = self
            .ledger
            .append_typed_with(
                &Key::Substitute(task_id, entry.seq),
                &payload,
                &self.time.stamp(),
                &attached,
            )
            .await?;
        let seq = match appended {
            Appended::New(ledger_entry) => ledger_entry.seq,
            Appended::Existing(_) => {
                return Err(TaskError::Raced(format!(
                    "substitution {} of {task_id} was just made by another operator; look again and ask again",
                    entry.seq
                )))
            }
        };
        self.cache_after_entry(&record.bundle, seq, files).await?;
        let pools_dir = self.pools_dir.clone();
        let conflict = entry.clone();
        let recusal_list = blocking(move || {
            let entry = conflict;
            Ok((entry.reason == Reason::Conflict).then(|| {
                match declare_conflict(
                    &pools_dir,
                    &entry.out,
                    &entry.credit_code,
                    entry.relation.as_deref().unwrap_or(""),
                ) {
                    Ok(Declared::Added) => "added to the live conflicts.csv".to_owned(),
                    Ok(Declared::AlreadyListed) => "already on the live conflicts.csv".to_owned(),
                    Err(reason) => format!("NOT added to the live conflicts.csv: {reason}"),
                }
            }))
        })
        .await?;
        Ok(Substituted {
            seq,
            record: payload,
            reason: entry.reason,
            recusal_list,
        })
    }

    /// A task's substitutions as the ledger records them, with their
    /// confidential notes; `None` when it has none.
    pub async fn substitution_log(&self, task_id: &str) -> Result<Option<Log>, TaskError> {
        let Some((record, _)) = self.draw_record(task_id).await? else {
            return Err(TaskError::UnknownTask(task_id.to_owned()));
        };
        let records: Vec<SubstitutionRecord> = self
            .ledger
            .all::<SubstitutionRecord>()
            .await?
            .into_iter()
            .map(|(record, _)| record)
            .filter(|r| r.task_id == task_id)
            .collect();
        let Some(last) = records.last() else {
            return Ok(None);
        };
        let plan_id = match self.announcement(task_id).await? {
            Some((announcement, _)) => announcement.plan.id().to_owned(),
            None => return Err(TaskError::UnknownTask(task_id.to_owned())),
        };
        let mut substitutions = Vec::new();
        for r in &records {
            let mut entry = r.entry.clone();
            let name = note_name(task_id, &entry);
            let bytes = match records::private_file(self.ledger.raw_pool(), &name).await? {
                Some(file) => {
                    let mut conn = self.ledger.raw_pool().acquire().await.map_err(LedgerError::from)?;
                    Some(store::read_file(&mut conn, &file).await.map_err(LedgerError::from)?)
                }
                // A note kept on disk, by a data folder made before notes
                // were kept in the database.
                None => std::fs::read(self.secrets_dir.join("notes").join(&name)).ok(),
            };
            if let Some(bytes) = bytes {
                let notes: Notes = serde_json::from_slice(&bytes).map_err(|e| TaskError::Invalid(e.to_string()))?;
                entry.note = notes.note;
                entry.relation = notes.relation;
                entry.reason = notes.reason.unwrap_or(entry.reason);
            }
            if entry.reason == Reason::Adjustment {
                return Err(TaskError::Invalid(format!(
                    "the confidential reason of substitution {} of {task_id} is missing from the database",
                    entry.seq
                )));
            }
            substitutions.push(entry);
        }
        Ok(Some(Log {
            format: FORMAT.into(),
            plan_id,
            draw_result_sha256: record.result_sha256,
            substitutions,
            result_sha256: last.result_sha256,
        }))
    }
}
