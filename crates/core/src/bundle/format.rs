//! The files of a bundle as text: `manifest.json`, `assignments.csv`,
//! `history.csv`, `merge.csv` and `substitutions.json` are written and read
//! here and nowhere else (spec §7, §8, §12, §14). Readers go by the header's
//! column names, never by position, and hand the rest of the program typed
//! rows; the history and merge rules take those rows and never see a file.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::draw::StratumCount;
use crate::draw::{Outcome, Published};
use crate::history::{DrawnVisit, History, Inspection, Swap, HISTORY_HEADER, HISTORY_TAG};
use crate::ids::{CertNo, CreditCode, ItemCode};
use crate::merge::{EarlierVisit, Merged, MERGE_HEADER, MERGE_TAG};
use crate::plan::Plan;
use crate::pools::Pools;
use crate::pools::SnapshotHashes;
use crate::snapshot::{text_records, Hash32};

/// The `format` of every manifest this program writes and reads.
pub const FORMAT: &str = "shuangsui-bundle/1";

/// Whether a copy of the bundle may be published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Holds risk classes and per-class counts: for the regulator and auditors.
    Confidential,
    /// What the public sees: no risk classes, no recusal list, only hashes.
    Public,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRef {
    pub id: String,
    pub name: String,
    /// SHA-256 of `plan.json` as stored in the bundle.
    pub sha256: Hash32,
    /// The plan itself, so the manifest alone says what was drawn.
    pub content: Plan,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedRecord {
    pub hex: String,
    pub source: crate::seed::SeedSource,
}

/// An earlier bundle whose inspections are part of a draw's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistorySource {
    pub plan_id: String,
    pub result_sha256: Hash32,
}

impl HistorySource {
    /// The source an earlier bundle with this manifest is recorded as.
    pub fn of(manifest: &Manifest) -> Self {
        HistorySource {
            plan_id: manifest.plan.id.clone(),
            result_sha256: manifest.result_sha256,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub visits: usize,
    /// (target, item) pairs: one visit may cover several items.
    pub item_checks: usize,
    pub officers: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHash {
    pub name: String,
    pub sha256: Hash32,
}

/// `manifest.json`. Field order is the order of the specification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub algorithm_version: u32,
    pub visibility: Visibility,
    pub plan: PlanRef,
    pub seed: SeedRecord,
    pub snapshot: SnapshotHashes,
    pub snapshot_combined: Hash32,
    pub history_sha256: Hash32,
    /// The earlier bundles the history was taken from.
    pub history_sources: Vec<HistorySource>,
    /// Plans that merge (spec §14): the earlier bundles of the period, in
    /// the order of the plan's `merge_with`, and the hash of `merge.csv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_sources: Option<Vec<HistorySource>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_sha256: Option<Hash32>,
    pub selection_sha256: Hash32,
    pub result_sha256: Hash32,
    pub counts: Counts,
    /// Per item and credit-risk class; only in the confidential copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strata: Option<Vec<StratumCount>>,
    pub files: Vec<FileHash>,
    pub created_at: String,
    pub generator: String,
    /// Set when the service drew it: the task and the ledger head just
    /// before the draw, so a rewritten history shows against any bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<LedgerRef>,
}

/// Where a service draw sits in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRef {
    pub task_id: String,
    pub head_seq: u64,
    pub head_hash: Hash32,
    /// Drawn without announcement, with a seed nobody could check beforehand.
    pub unannounced: bool,
}

/// `manifest.json` as text: pretty JSON and a final newline.
pub fn manifest_json(manifest: &Manifest) -> String {
    let mut text = serde_json::to_string_pretty(manifest).expect("manifests serialise");
    text.push('\n');
    text
}

/// Reads `manifest.json`: a manifest of the format this program knows.
pub fn read_manifest(text: &str) -> Result<Manifest, FormatError> {
    let manifest: Manifest = serde_json::from_str(text).map_err(|e| FormatError::Json(e.to_string()))?;
    if manifest.format != FORMAT {
        return Err(FormatError::Format(manifest.format));
    }
    Ok(manifest)
}

/// Why a bundle file's text is not what the format says. The caller names
/// the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("header is {found:?}, expected {expected:?}")]
    Header { found: Vec<String>, expected: Vec<String> },
    #[error("line {line}: {message}")]
    Row { line: usize, message: String },
    #[error("{0}")]
    Csv(String),
    #[error("{0}")]
    Json(String),
    #[error("format {0:?} is not {FORMAT:?}")]
    Format(String),
    #[error("format {0:?} is not {SUBSTITUTIONS_FORMAT:?} or {PUBLIC_SUBSTITUTIONS_FORMAT:?}")]
    SubstitutionsFormat(String),
    #[error("substitution {seq}: {problem} in a list of format {format:?}")]
    SubstitutionForm { seq: u32, problem: String, format: String },
}

fn row(line: usize, message: impl std::fmt::Display) -> FormatError {
    FormatError::Row {
        line,
        message: message.to_string(),
    }
}

/// The columns of the public `assignments.csv` (spec §8).
pub const PUBLIC_HEADER: [&str; 7] = [
    "序号",
    "统一社会信用代码",
    "名称",
    "抽查事项",
    "抽查事项名称",
    "组长",
    "检查人员",
];
/// The confidential copy's extra column, always the last.
pub const RISK_CLASS_HEADER: &str = "信用风险分类";
/// Joint plans only (spec §13): the departments of the visit, in team order.
pub const DEPARTMENTS_HEADER: &str = "检查部门";
/// Merging plans only (spec §14): the earlier plan whose visit this joins.
pub const MERGED_HEADER: &str = "合并至";

/// The header of `assignments.csv` for a plan (spec §8, §13, §14).
pub fn assignments_header(plan: &Plan, visibility: Visibility) -> Vec<&'static str> {
    let mut header = PUBLIC_HEADER.to_vec();
    if plan.joint().is_some() {
        header.push(DEPARTMENTS_HEADER);
    }
    if plan.merge_with().is_some() {
        header.push(MERGED_HEADER);
    }
    if visibility == Visibility::Confidential {
        header.push(RISK_CLASS_HEADER);
    }
    header
}

/// `assignments.csv` as text: UTF-8 with BOM (so Excel reads it right),
/// CRLF, one row per visit in credit-code order.
pub fn assignments_csv(pools: &Pools, plan: &Plan, outcome: &Outcome, visibility: Visibility) -> String {
    write_assignments(pools, plan, outcome, &Published::new(pools, outcome), visibility)
}

/// [`assignments_csv`] from texts already made.
pub fn write_assignments(
    pools: &Pools,
    plan: &Plan,
    outcome: &Outcome,
    published: &Published,
    visibility: Visibility,
) -> String {
    let confidential = visibility == Visibility::Confidential;
    // Sized up front: a national draw writes tens of megabytes.
    let mut bytes = Vec::with_capacity(200 * (outcome.visits.len() + 1));
    bytes.extend_from_slice("\u{feff}".as_bytes());
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(bytes);
    writer
        .write_record(assignments_header(plan, visibility))
        .expect("in-memory write");
    let mut names = String::new();
    let mut departments = String::new();
    for (n, (visit, (items, team))) in outcome.visits.iter().zip(&published.texts).enumerate() {
        let target = &pools.targets[visit.target as usize];
        names.clear();
        for (k, &i) in visit.items.iter().enumerate() {
            if k > 0 {
                names.push('；');
            }
            names.push_str(&pools.items[i as usize].name);
        }
        // Every drawn visit has a full team; an empty one writes no leader
        // rather than failing half-way through a file.
        let leader = visit
            .team
            .first()
            .map_or("", |&o| pools.inspectors[o as usize].cert.as_str());
        let number = (n + 1).to_string();
        let row = [
            number.as_str(),
            target.code.as_str(),
            pools.target_name(target),
            items,
            &names,
            leader,
            team,
        ];
        let mut extra = [""; 3];
        let mut width = 0;
        if plan.joint().is_some() {
            departments.clear();
            // Each department of the visit supplies team_size consecutive
            // members, so naming them in order assigns every officer.
            for (k, chunk) in visit.team.chunks((plan.team_size() as usize).max(1)).enumerate() {
                if k > 0 {
                    departments.push(';');
                }
                departments.push_str(&pools.inspectors[chunk[0] as usize].department);
            }
            extra[width] = &departments;
            width += 1;
        }
        if let Some(named) = plan.merge_with() {
            extra[width] = visit.merged.map_or("", |m| named[m as usize].as_str());
            width += 1;
        }
        if confidential {
            extra[width] = target.risk.as_str();
            width += 1;
        }
        writer
            .write_record(row.iter().chain(&extra[..width]))
            .expect("in-memory write");
    }
    String::from_utf8(writer.into_inner().expect("in-memory write")).expect("every field is UTF-8")
}

/// One row of `assignments.csv`, as text. The confidential copy's risk
/// class is checked in the header and not returned: no reader needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentRow {
    /// 序号: 1, 2, … in credit-code order.
    pub number: u32,
    pub credit_code: String,
    pub name: String,
    /// Item codes.
    pub items: Vec<String>,
    /// Item names, in the order of `items`.
    pub item_names: Vec<String>,
    /// The leader's certificate number.
    pub leader: String,
    /// The team's certificate numbers, leader first.
    pub team: Vec<String>,
    /// Joint plans only (spec §13): the departments of the visit in team
    /// order, each supplying an equal, consecutive share of `team`.
    pub departments: Vec<String>,
    /// Merging plans only (spec §14): the earlier plan whose visit this joins.
    pub merged_with: Option<String>,
}

impl AssignmentRow {
    /// The row's target, items and team as typed ids.
    pub fn visit(&self) -> Result<DrawnVisit, crate::ids::IdError> {
        Ok(DrawnVisit {
            code: CreditCode::parse(&self.credit_code)?,
            items: self
                .items
                .iter()
                .map(|i| ItemCode::parse(i))
                .collect::<Result<_, _>>()?,
            team: self.team.iter().map(|c| CertNo::parse(c)).collect::<Result<_, _>>()?,
        })
    }
}

/// Reads `assignments.csv` (UTF-8, optional BOM) of a copy of the given
/// visibility: the public header, then the columns of joint and merging
/// plans when the plan has them (spec §8, §13, §14), in that order, then
/// the risk class in the confidential copy only. Any other header — in
/// particular a confidential one where a public one is expected — is refused.
pub fn read_assignments(bytes: &[u8], visibility: Visibility) -> Result<Vec<AssignmentRow>, FormatError> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let header = reader.headers().map_err(|e| FormatError::Csv(e.to_string()))?.clone();
    let mut rest = header.iter().skip(PUBLIC_HEADER.len()).peekable();
    let departments_at = rest.next_if_eq(&DEPARTMENTS_HEADER).map(|_| PUBLIC_HEADER.len());
    let merged_at = rest
        .next_if_eq(&MERGED_HEADER)
        .map(|_| PUBLIC_HEADER.len() + departments_at.map_or(0, |_| 1));
    let risk = visibility == Visibility::Confidential;
    let risk_ok = !risk || rest.next_if_eq(&RISK_CLASS_HEADER).is_some();
    if header.iter().take(PUBLIC_HEADER.len()).ne(PUBLIC_HEADER) || !risk_ok || rest.next().is_some() {
        let mut expected: Vec<String> = PUBLIC_HEADER.iter().map(|h| h.to_string()).collect();
        if risk {
            expected.push(RISK_CLASS_HEADER.into());
        }
        return Err(FormatError::Header {
            found: header.iter().map(str::to_owned).collect(),
            expected,
        });
    }
    // A list field: empty text is an empty list, not one empty element.
    let split = |text: &str, separator: char| -> Vec<String> {
        if text.is_empty() {
            Vec::new()
        } else {
            text.split(separator).map(str::to_owned).collect()
        }
    };
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        // Line 1 is the header.
        let line = index + 2;
        let record = record.map_err(|e| row(line, e))?;
        let number = record[0]
            .parse::<u32>()
            .map_err(|_| row(line, format!("序号 {:?} is not a number", &record[0])))?;
        rows.push(AssignmentRow {
            number,
            credit_code: record[1].to_owned(),
            name: record[2].to_owned(),
            items: split(&record[3], ';'),
            item_names: split(&record[4], '；'),
            leader: record[5].to_owned(),
            team: split(&record[6], ';'),
            departments: departments_at.map_or_else(Vec::new, |at| split(&record[at], ';')),
            merged_with: merged_at.map(|at| record[at].to_owned()).filter(|m| !m.is_empty()),
        });
    }
    Ok(rows)
}

/// The visits of `assignments.csv`, typed: what the history and merge rules
/// take of an earlier draw.
pub fn read_visits(bytes: &[u8], visibility: Visibility) -> Result<Vec<DrawnVisit>, FormatError> {
    read_assignments(bytes, visibility)?
        .iter()
        .enumerate()
        .map(|(k, r)| r.visit().map_err(|e| row(k + 2, e)))
        .collect()
}

/// `history.csv` (spec §7): the sorted records under their header.
pub fn history_csv(history: &History) -> String {
    text_records(HISTORY_TAG, HISTORY_HEADER, &history.records()).1
}

/// Reads `history.csv`.
pub fn read_history(text: &str) -> Result<History, FormatError> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    check_header(&mut reader, &HISTORY_HEADER)?;
    let mut inspections = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = record.map_err(|e| row(line, e))?;
        let bad = |field: &str, e: &dyn std::fmt::Display| row(line, format!("{field}: {e}"));
        let code = CreditCode::parse(&record[0]).map_err(|e| bad("credit_code", &e))?;
        let item = ItemCode::parse(&record[1]).map_err(|e| bad("item_code", &e))?;
        let date = NaiveDate::parse_from_str(&record[2], "%Y-%m-%d").map_err(|e| bad("date", &e))?;
        let officers = record[3]
            .split(';')
            .filter(|s| !s.is_empty())
            .map(|s| CertNo::parse(s).map_err(|e| bad("officers", &e)))
            .collect::<Result<Vec<_>, _>>()?;
        inspections.push(Inspection {
            code,
            item,
            date,
            officers,
        });
    }
    Ok(History::new(inspections))
}

/// `merge.csv` (spec §14): the sorted earlier visits under their header.
pub fn merge_csv(merged: &Merged) -> String {
    text_records(MERGE_TAG, MERGE_HEADER, &merged.records()).1
}

/// Reads `merge.csv` of a bundle; `plans` come from its manifest.
pub fn read_merge(plans: Vec<String>, text: &str) -> Result<Merged, FormatError> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    check_header(&mut reader, &MERGE_HEADER)?;
    let mut visits = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = record.map_err(|e| row(line, e))?;
        let bad = |field: &str, e: &dyn std::fmt::Display| row(line, format!("{field}: {e}"));
        let list = |text: &str| {
            text.split(';')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        visits.push(EarlierVisit {
            plan_id: record[0].to_owned(),
            date: NaiveDate::parse_from_str(&record[1], "%Y-%m-%d").map_err(|e| bad("date", &e))?,
            code: CreditCode::parse(&record[2]).map_err(|e| bad("credit_code", &e))?,
            items: list(&record[3])
                .iter()
                .map(|s| ItemCode::parse(s).map_err(|e| bad("item_codes", &e)))
                .collect::<Result<_, _>>()?,
            officers: list(&record[4])
                .iter()
                .map(|s| CertNo::parse(s).map_err(|e| bad("officers", &e)))
                .collect::<Result<_, _>>()?,
        });
    }
    Ok(Merged::new(plans, visits))
}

/// The `format` of `substitutions.json` (spec §12): the confidential list,
/// and public copies written before the public reason was neutral.
pub const SUBSTITUTIONS_FORMAT: &str = "shuangsui-substitutions/1";
/// The `format` of the public copy's list: every reason `adjustment`.
pub const PUBLIC_SUBSTITUTIONS_FORMAT: &str = "shuangsui-substitutions/2";
/// The substitution list's file, in a bundle and in its public copy.
pub const SUBSTITUTIONS_FILE: &str = "substitutions.json";

/// Why an officer leaves a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// 请假: sick leave, other leave.
    Leave,
    /// 调离: moved to another post.
    Transfer,
    /// 新申报回避: a conflict with the target declared only now.
    Conflict,
    Other,
    /// 人员调整: the one reason the public copy gives (format
    /// [`PUBLIC_SUBSTITUTIONS_FORMAT`]). The real one is confidential: 回避
    /// would pair an officer with a business, an entry of the recusal list,
    /// and 请假 would publish an officer's leave. No operator gives it.
    Adjustment,
}

impl Reason {
    pub fn parse(text: &str) -> Option<Reason> {
        match text {
            "leave" => Some(Reason::Leave),
            "transfer" => Some(Reason::Transfer),
            "conflict" => Some(Reason::Conflict),
            "other" => Some(Reason::Other),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Reason::Leave => "请假",
            Reason::Transfer => "调离",
            Reason::Conflict => "新申报回避",
            Reason::Other => "其他",
            Reason::Adjustment => "人员调整",
        }
    }
}

/// One substitution as the list records it (spec §12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub seq: u32,
    pub credit_code: CreditCode,
    pub out: CertNo,
    #[serde(rename = "in")]
    pub incoming: CertNo,
    pub reason: Reason,
    pub decided_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
}

impl Entry {
    /// The substitution as the rule that brings drawn teams up to date
    /// takes it ([`crate::history::apply_substitutions`]).
    pub fn swap(&self) -> Swap {
        Swap {
            seq: self.seq,
            code: self.credit_code,
            out: self.out.clone(),
            incoming: self.incoming.clone(),
        }
    }

    /// The entry as the public may see it, in the public copy and the
    /// ledger: without its notes, and with the neutral reason.
    pub fn public(&self) -> Entry {
        Entry {
            reason: Reason::Adjustment,
            ..self.without_notes()
        }
    }

    /// The entry without its confidential `note` and `relation`: the
    /// public form before the reason was withheld.
    pub fn without_notes(&self) -> Entry {
        Entry {
            note: None,
            relation: None,
            ..self.clone()
        }
    }
}

/// `substitutions.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    pub format: String,
    pub plan_id: String,
    pub draw_result_sha256: Hash32,
    pub substitutions: Vec<Entry>,
    /// The §7 result hash over the teams after the last substitution.
    pub result_sha256: Hash32,
}

impl Log {
    /// The list as the public copy holds it: every entry without its
    /// confidential `note` and `relation`, and with the neutral reason.
    pub fn public(&self) -> Log {
        Log {
            format: PUBLIC_SUBSTITUTIONS_FORMAT.into(),
            substitutions: self.substitutions.iter().map(Entry::public).collect(),
            ..self.clone()
        }
    }

    /// The list without its notes, in its own format: what a public copy of
    /// format [`SUBSTITUTIONS_FORMAT`], written before, holds.
    pub fn without_notes(&self) -> Log {
        Log {
            substitutions: self.substitutions.iter().map(Entry::without_notes).collect(),
            ..self.clone()
        }
    }

    /// The public copy this confidential list must have beside it: one of
    /// format `/2`, or, for a copy written before, of `/1` without notes.
    pub fn public_as(&self, format: &str) -> Log {
        if format == SUBSTITUTIONS_FORMAT {
            self.without_notes()
        } else {
            self.public()
        }
    }

    /// `substitutions.json` as text: pretty JSON, fields in the order of
    /// the spec, and a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("substitution logs serialise");
        text.push('\n');
        text
    }
}

/// Reads `substitutions.json`: a list of the format this program knows.
pub fn read_substitutions(text: &str) -> Result<Log, FormatError> {
    let log: Log = serde_json::from_str(text).map_err(|e| FormatError::Json(e.to_string()))?;
    let public = match log.format.as_str() {
        SUBSTITUTIONS_FORMAT => false,
        PUBLIC_SUBSTITUTIONS_FORMAT => true,
        _ => return Err(FormatError::SubstitutionsFormat(log.format)),
    };
    // Each format has its reasons: the neutral one only, or never.
    for entry in &log.substitutions {
        let problem = match (public, entry.reason) {
            (true, Reason::Adjustment) if entry.note.is_none() && entry.relation.is_none() => continue,
            (true, Reason::Adjustment) => "a confidential note",
            (true, _) => "a reason other than adjustment",
            (false, Reason::Adjustment) => "the reason adjustment",
            (false, _) => continue,
        };
        return Err(FormatError::SubstitutionForm {
            seq: entry.seq,
            problem: problem.into(),
            format: log.format.clone(),
        });
    }
    Ok(log)
}

fn check_header<R: std::io::Read>(reader: &mut csv::Reader<R>, expected: &[&str]) -> Result<(), FormatError> {
    let header = reader.headers().map_err(|e| FormatError::Csv(e.to_string()))?;
    if header.iter().ne(expected.iter().copied()) {
        return Err(FormatError::Header {
            found: header.iter().map(str::to_owned).collect(),
            expected: expected.iter().map(|h| h.to_string()).collect(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The public copy's reading is tested with `public::publications::parse_rows`.
    const CSV: &str = "\u{feff}序号,统一社会信用代码,名称,抽查事项,抽查事项名称,组长,检查人员\r\n\
        1,9152020001383091EP,盘州市富峰医药有限公司,SCJG-130;SCJG-160,企业年度报告公示信息的检查；价格检查,520281,520281;520282\r\n\
        2,91520200MA1DN7F3D0,\"盘州市\"\"天海\"\",商贸\",SCJG-161,商品零售经营者价格欺诈行为的检查,520283,520283;520284\r\n";

    #[test]
    fn the_risk_class_column_is_the_confidential_copys_and_only_its() {
        let confidential = "序号,统一社会信用代码,名称,抽查事项,抽查事项名称,组长,检查人员,合并至,信用风险分类\r\n\
            1,9152020001383091EP,某公司,SCJG-130,检查,520281,520281;520282,,A\r\n";
        let err = read_assignments(confidential.as_bytes(), Visibility::Public).unwrap_err();
        assert!(matches!(err, FormatError::Header { .. }), "{err}");
        let rows = read_assignments(confidential.as_bytes(), Visibility::Confidential).unwrap();
        assert_eq!(rows[0].team, ["520281", "520282"]);
        // Read by name, not by position: the visit is the same either way.
        let visits = read_visits(confidential.as_bytes(), Visibility::Confidential).unwrap();
        assert_eq!(visits[0].code.as_str(), "9152020001383091EP");
        assert_eq!(visits[0].team.len(), 2);
        let public = CSV;
        assert!(matches!(
            read_assignments(public.as_bytes(), Visibility::Confidential),
            Err(FormatError::Header { .. })
        ));
    }

    #[test]
    fn a_row_with_a_bad_id_names_its_line() {
        let csv = "序号,统一社会信用代码,名称,抽查事项,抽查事项名称,组长,检查人员\r\n\
            1,9152020001383091EP,某公司,SCJG-130,检查,520281,520281;520282\r\n\
            2,NOT-A-CODE,某店,SCJG-130,检查,C3,C3;C4\r\n";
        let err = read_visits(csv.as_bytes(), Visibility::Public).unwrap_err();
        assert!(matches!(err, FormatError::Row { line: 3, .. }), "{err}");
    }

    #[test]
    fn history_csv_round_trips() {
        let a = Inspection {
            code: CreditCode::parse("91350100M000100Y43").unwrap(),
            item: ItemCode::parse("SCJG-001").unwrap(),
            date: NaiveDate::from_ymd_opt(2025, 4, 1).unwrap(),
            officers: vec![CertNo::parse("X2").unwrap(), CertNo::parse("X1").unwrap()],
        };
        let b = Inspection {
            item: ItemCode::parse("SCJG-002").unwrap(),
            ..a.clone()
        };
        let one = History::new(vec![a.clone(), b.clone()]);
        let two = History::new(vec![b, a]);
        assert_eq!(history_csv(&one), history_csv(&two));
        assert_eq!(read_history(&history_csv(&one)).unwrap(), one);
        let renamed = history_csv(&one).replacen("credit_code", "code", 1);
        assert!(matches!(read_history(&renamed), Err(FormatError::Header { .. })));
    }

    #[test]
    fn merge_csv_round_trips() {
        let a = EarlierVisit {
            plan_id: "P-1".into(),
            date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            code: CreditCode::parse("91350100M000100Y43").unwrap(),
            items: vec![ItemCode::parse("SCJG-001").unwrap()],
            officers: vec![CertNo::parse("X2").unwrap(), CertNo::parse("X1").unwrap()],
        };
        let b = EarlierVisit {
            plan_id: "P-0".into(),
            ..a.clone()
        };
        let plans = vec!["P-1".to_owned(), "P-0".to_owned()];
        let one = Merged::new(plans.clone(), vec![a, b]);
        assert_eq!(read_merge(plans, &merge_csv(&one)).unwrap(), one);
    }

    /// `substitutions.json` is read and written here: the same bytes come
    /// back, the public copy drops exactly the confidential fields, and a
    /// list of another format is refused.
    #[test]
    fn substitutions_json_round_trips_and_its_public_copy_keeps_no_notes() {
        let text = "{\n  \"format\": \"shuangsui-substitutions/1\",\n  \"plan_id\": \"P-1\",\n  \
            \"draw_result_sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\",\n  \
            \"substitutions\": [\n    {\n      \"seq\": 1,\n      \"credit_code\": \"91350100M000100Y43\",\n      \
            \"out\": \"X1\",\n      \"in\": \"X2\",\n      \"reason\": \"conflict\",\n      \
            \"decided_at\": \"2026-03-01T10:00:00+08:00\",\n      \"note\": \"亲属\",\n      \"relation\": \"配偶\"\n    }\n  ],\n  \
            \"result_sha256\": \"1111111111111111111111111111111111111111111111111111111111111111\"\n}\n";
        let log = read_substitutions(text).unwrap();
        assert_eq!(log.to_json(), text, "the bytes written are the bytes read");
        assert_eq!(log.substitutions[0].reason, Reason::Conflict);
        assert_eq!(log.substitutions[0].swap().incoming.as_str(), "X2");
        let public = log.public().to_json();
        assert!(!public.contains("note") && !public.contains("relation") && !public.contains("亲属"));
        assert!(public.contains("\"format\": \"shuangsui-substitutions/2\""), "{public}");
        assert!(
            public.contains("\"reason\": \"adjustment\"") && !public.contains("conflict"),
            "{public}"
        );
        assert_eq!(read_substitutions(&public).unwrap(), log.public());
        assert_eq!(
            log.public_as(SUBSTITUTIONS_FORMAT),
            log.without_notes(),
            "a copy written before"
        );
        assert_eq!(log.public_as(PUBLIC_SUBSTITUTIONS_FORMAT), log.public());
        // Each format holds its own reasons only.
        let revealing = text.replace("shuangsui-substitutions/1", "shuangsui-substitutions/2");
        assert!(matches!(
            read_substitutions(&revealing),
            Err(FormatError::SubstitutionForm { seq: 1, .. })
        ));
        let noted = public.replace(
            "\"reason\": \"adjustment\",",
            "\"reason\": \"adjustment\", \"note\": \"x\",",
        );
        assert!(matches!(
            read_substitutions(&noted),
            Err(FormatError::SubstitutionForm { .. })
        ));
        let neutral = text.replace("\"conflict\"", "\"adjustment\"");
        assert!(matches!(
            read_substitutions(&neutral),
            Err(FormatError::SubstitutionForm { .. })
        ));
        let other = text.replace("shuangsui-substitutions/1", "shuangsui-substitutions/3");
        assert!(matches!(
            read_substitutions(&other),
            Err(FormatError::SubstitutionsFormat(f)) if f == "shuangsui-substitutions/3"
        ));
        let unknown = text.replace("\"seq\": 1,", "\"seq\": 1, \"extra\": 0,");
        assert!(matches!(read_substitutions(&unknown), Err(FormatError::Json(_))));
    }
}
