//! Inspection results (检查结果): recorded by operators for drawn targets,
//! then published in a results notice (检查结果公告) within 20 working days
//! of being recorded (SAMR rule 49 Art 39), counted on the official calendar
//! with its make-up workdays (provisionally on the statutory holidays for a
//! year whose table is not yet out, and marked so).
//!
//! Recording and publishing are ledger entries like everything else, so a
//! result can be neither changed silently nor published late without it
//! showing.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::WorkCalendar;
use crate::ledger::{Appended, Entry, Kind};
use crate::tasks::{Desk, TaskError};

/// The result categories of the national publicity system (several may
/// apply to one inspection), with their Chinese labels.
pub const RESULT_CODES: [(&str, &str); 17] = [
    ("1", "未发现问题"),
    ("A", "发现问题待后续处理"),
    ("B", "未按规定公示应当公示的信息"),
    ("C", "公示信息隐瞒真实情况弄虚作假"),
    ("6", "通过登记的住所（经营场所）无法联系"),
    ("D", "违反其他工商行政管理规定行为"),
    ("3", "违反食品药品相关规定"),
    ("4", "违反质量技术监督相关规定"),
    ("5", "违反其他部门相关规定"),
    ("E", "发现问题经责令已改正"),
    ("F", "未发现开展本次抽查涉及的经营活动"),
    ("7", "已关闭停业或正在组织清算"),
    ("8", "不配合检查情节严重"),
    ("9", "注销"),
    ("10", "被吊销"),
    ("11", "被撤销"),
    ("12", "迁出"),
];

/// The Chinese label of a result code, if it is one.
pub fn label(code: &str) -> Option<&'static str> {
    RESULT_CODES.iter().find(|(c, _)| *c == code).map(|(_, label)| *label)
}

/// One inspection's outcome, as an operator records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectionResult {
    pub task_id: String,
    pub credit_code: String,
    /// Result codes; at least one.
    pub codes: Vec<String>,
    /// When the inspection was completed.
    pub inspection_date: NaiveDate,
    #[serde(default)]
    pub methods: Vec<String>,
    #[serde(default)]
    pub follow_up: String,
    #[serde(default)]
    pub closed: bool,
}

/// A recorded result with its ledger facts and publication deadline.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    pub result: InspectionResult,
    pub seq: u64,
    pub recorded_at: String,
    /// 20 working days after the day it was recorded.
    pub publish_by: NaiveDate,
    /// `publish_by` counts days of a year without an official holiday table,
    /// on the statutory holidays alone (see [`crate::calendar`]); it is
    /// computed afresh on every read, so it becomes official, and may move,
    /// once that year's table is added.
    pub provisional: bool,
    /// The results notice that published it, if any.
    pub published_in: Option<u64>,
}

/// What a results notice published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub task_id: String,
    /// The ledger entries of the results it publishes.
    pub results: Vec<u64>,
}

fn recorded_day(entry: &Entry) -> Result<NaiveDate, TaskError> {
    crate::tasks::parse_time(&entry.recorded_at)
        .map(|t| t.date_naive())
        .ok_or_else(|| TaskError::WrongSeedMaterial(format!("ledger entry {} has no valid time", entry.seq)))
}

impl Desk {
    /// Records a result for a target of a drawn task. Each target's result
    /// is recorded once; a second recording is refused, never overwritten.
    pub async fn record_result(
        &self,
        result: InspectionResult,
        calendar: &WorkCalendar,
    ) -> Result<Recorded, TaskError> {
        let invalid = |message: String| TaskError::Invalid(message);
        if result.codes.is_empty() {
            return Err(invalid("a result needs at least one result code".into()));
        }
        if let Some(code) = result.codes.iter().find(|c| label(c).is_none()) {
            return Err(invalid(format!(
                "{code:?} is not a result code of the national publicity system"
            )));
        }
        let (record, _) = self
            .draw_record(&result.task_id)
            .await?
            .ok_or_else(|| TaskError::UnknownTask(result.task_id.clone()))?;
        let rows = std::fs::read(
            self.publications_dir
                .join(&record.bundle)
                .join("public/assignments.csv"),
        )
        .map_err(|source| TaskError::Io {
            path: self.publications_dir.join(&record.bundle),
            source,
        })?;
        let rows = crate::public::publications::parse_rows(&rows).map_err(|e| invalid(e.to_string()))?;
        if !rows.iter().any(|r| r.credit_code == result.credit_code) {
            return Err(invalid(format!(
                "{} was not drawn in task {}",
                result.credit_code, result.task_id
            )));
        }
        let today = self.time.today();
        // Checked before recording: a result whose deadline the calendar
        // cannot compute would have no deadline anyone could enforce.
        calendar
            .publication_deadline(today)
            .map_err(|e| invalid(e.to_string()))?;
        let key = format!("result:{}:{}", result.task_id, result.credit_code);
        let payload = serde_json::to_string(&result).expect("results serialise");
        match self
            .ledger
            .append(Kind::ResultRecorded, &key, &payload, &self.time.stamp())
            .await?
        {
            Appended::New(entry) => self.recorded(entry, calendar, &BTreeSet::new()),
            Appended::Existing(_) => Err(TaskError::Conflict(key)),
        }
    }

    fn recorded(
        &self,
        entry: Entry,
        calendar: &WorkCalendar,
        published: &BTreeSet<u64>,
    ) -> Result<Recorded, TaskError> {
        // Computed from the recorded day on every read, never stored, so a
        // year's table added later replaces a provisional deadline.
        let deadline = calendar
            .deadline(recorded_day(&entry)?)
            .map_err(|e| TaskError::Invalid(e.to_string()))?;
        Ok(Recorded {
            result: entry.payload()?,
            seq: entry.seq,
            recorded_at: entry.recorded_at.clone(),
            publish_by: deadline.date,
            provisional: deadline.provisional,
            published_in: published.contains(&entry.seq).then_some(entry.seq),
        })
    }

    /// Every recorded result, with its deadline and whether it is published.
    pub async fn results(&self, calendar: &WorkCalendar) -> Result<Vec<Recorded>, TaskError> {
        let notices = self.ledger.of_kind(Kind::ResultsPublished).await?;
        let mut published_by = std::collections::BTreeMap::new();
        for entry in &notices {
            let notice: Notice = entry.payload()?;
            for seq in notice.results {
                published_by.entry(seq).or_insert(entry.seq);
            }
        }
        let published: BTreeSet<u64> = published_by.keys().copied().collect();
        let mut all = Vec::new();
        for entry in self.ledger.of_kind(Kind::ResultRecorded).await? {
            let mut recorded = self.recorded(entry, calendar, &published)?;
            recorded.published_in = published_by.get(&recorded.seq).copied();
            all.push(recorded);
        }
        Ok(all)
    }

    /// Publishes every recorded, unpublished result of a task in one notice.
    pub async fn publish_results(&self, task_id: &str, calendar: &WorkCalendar) -> Result<(Notice, u64), TaskError> {
        let pending: Vec<u64> = self
            .results(calendar)
            .await?
            .into_iter()
            .filter(|r| r.result.task_id == task_id && r.published_in.is_none())
            .map(|r| r.seq)
            .collect();
        if pending.is_empty() {
            return Err(TaskError::Invalid(format!(
                "task {task_id} has no recorded result waiting to be published"
            )));
        }
        let notice = Notice {
            task_id: task_id.to_owned(),
            results: pending,
        };
        let key = format!("results-notice:{task_id}:{}", notice.results.last().expect("not empty"));
        let payload = serde_json::to_string(&notice).expect("notices serialise");
        let entry = self
            .ledger
            .append(Kind::ResultsPublished, &key, &payload, &self.time.stamp())
            .await?;
        self.write_results_file(task_id, calendar).await?;
        Ok((notice, entry.entry().seq))
    }

    /// Writes a task's published results into its bundle's public copy as
    /// `results.csv` (spec §8), from the ledger, so the bundle a reader
    /// downloads holds the results with the draw.
    async fn write_results_file(&self, task_id: &str, calendar: &WorkCalendar) -> Result<(), TaskError> {
        let (record, _) = self
            .draw_record(task_id)
            .await?
            .ok_or_else(|| TaskError::UnknownTask(task_id.to_owned()))?;
        let public = self.publications_dir.join(&record.bundle).join("public");
        let io = |source| TaskError::Io {
            path: public.clone(),
            source,
        };
        let rows = std::fs::read(public.join("assignments.csv")).map_err(io)?;
        let names: std::collections::HashMap<String, String> = crate::public::publications::parse_rows(&rows)
            .map_err(|e| TaskError::Invalid(e.to_string()))?
            .into_iter()
            .map(|r| (r.credit_code, r.name))
            .collect();
        let notices: std::collections::HashMap<u64, String> = self
            .ledger
            .of_kind(Kind::ResultsPublished)
            .await?
            .iter()
            .map(|e| (e.seq, e.recorded_at.chars().take(10).collect()))
            .collect();
        let mut published: Vec<Recorded> = self
            .results(calendar)
            .await?
            .into_iter()
            .filter(|r| r.result.task_id == task_id && r.published_in.is_some())
            .collect();
        published.sort_by(|a, b| a.result.credit_code.cmp(&b.result.credit_code));
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(b"\xEF\xBB\xBF".to_vec());
        let header = [
            "统一社会信用代码",
            "名称",
            "检查结果代码",
            "检查结果",
            "完成日期",
            "公告日期",
            "账本序号",
        ];
        let in_memory = |e: csv::Error| TaskError::Invalid(e.to_string());
        writer.write_record(header).map_err(in_memory)?;
        for r in &published {
            let labels: Vec<&str> = r.result.codes.iter().filter_map(|c| label(c)).collect();
            let notice = r
                .published_in
                .and_then(|seq| notices.get(&seq))
                .cloned()
                .unwrap_or_default();
            writer
                .write_record([
                    r.result.credit_code.as_str(),
                    names.get(&r.result.credit_code).map_or("", String::as_str),
                    &r.result.codes.join(";"),
                    &labels.join("；"),
                    &r.result.inspection_date.to_string(),
                    &notice,
                    &r.seq.to_string(),
                ])
                .map_err(in_memory)?;
        }
        let bytes = writer.into_inner().map_err(|e| TaskError::Invalid(e.to_string()))?;
        crate::bundle::replace_file(&public.join("results.csv"), &bytes)?;
        Ok(())
    }
}
