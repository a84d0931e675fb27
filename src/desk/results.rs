//! Results at the desk: an operator records each drawn business's outcome
//! once, and publishes a task's results in one notice, which also writes
//! them into the task's public bundle (`results.csv`).

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::calendar::WorkCalendar;
use crate::desk::{Desk, TaskError};
use crate::ledger::{Appended, Entry, Key, Kind};
use crate::results::{label, InspectionResult, Notice, Recorded};

fn recorded_day(entry: &Entry) -> Result<NaiveDate, TaskError> {
    super::parse_time(&entry.recorded_at)
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
        let key = Key::Result(&result.task_id, &result.credit_code);
        match self.ledger.append_typed(&key, &result, &self.time.stamp()).await? {
            Appended::New(entry) => self.recorded(entry, calendar, &BTreeSet::new()),
            Appended::Existing(_) => Err(TaskError::Conflict(key.to_string())),
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
            result: entry.typed()?,
            seq: entry.seq,
            recorded_at: entry.recorded_at.clone(),
            publish_by: deadline.date,
            provisional: deadline.provisional,
            published_in: published.contains(&entry.seq).then_some(entry.seq),
        })
    }

    /// Every recorded result, with its deadline and whether it is published.
    pub async fn results(&self, calendar: &WorkCalendar) -> Result<Vec<Recorded>, TaskError> {
        let notices = self.ledger.all::<Notice>().await?;
        let mut published_by = std::collections::BTreeMap::new();
        for (notice, entry) in &notices {
            for &seq in &notice.results {
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
        let key = Key::ResultsNotice(task_id, *notice.results.last().expect("not empty"));
        let entry = self.ledger.append_typed(&key, &notice, &self.time.stamp()).await?;
        self.write_results_file(task_id, calendar).await?;
        Ok((notice, entry.entry().seq))
    }

    /// Writes a task's published results into its bundle's public copy as
    /// `results.csv` (spec §8), from the ledger, so the bundle a reader
    /// downloads holds the results with the draw.
    async fn write_results_file(&self, task_id: &str, _calendar: &WorkCalendar) -> Result<(), TaskError> {
        let (record, _) = self
            .draw_record(task_id)
            .await?
            .ok_or_else(|| TaskError::UnknownTask(task_id.to_owned()))?;
        let public = self.publications_dir.join(&record.bundle).join("public");
        if let Some(bytes) = self.results_notice_file(task_id, &record.bundle).await? {
            crate::bundle::replace_file(&public.join(RESULTS_FILE), &bytes)?;
        }
        Ok(())
    }

    /// The bytes `public/results.csv` of a task's bundle must hold: every
    /// result of the task a results notice has published, as the ledger
    /// records them, by credit code; `None` when no notice of the task has
    /// been published (then the file must not exist). The audit compares the
    /// served file with these bytes, so an edited notice shows.
    pub async fn results_notice_file(&self, task_id: &str, bundle: &str) -> Result<Option<Vec<u8>>, TaskError> {
        let notices = self.ledger.all::<Notice>().await?;
        if !notices.iter().any(|(n, _)| n.task_id == task_id) {
            return Ok(None);
        }
        // A result is published by the first notice that names it; the
        // notice's day is the day of its entry.
        let mut published_on: std::collections::HashMap<u64, String> = std::collections::HashMap::new();
        for (notice, entry) in &notices {
            for &seq in &notice.results {
                published_on
                    .entry(seq)
                    .or_insert_with(|| entry.recorded_at.chars().take(10).collect());
            }
        }
        let mut published: Vec<(InspectionResult, Entry)> = self
            .ledger
            .all::<InspectionResult>()
            .await?
            .into_iter()
            .filter(|(r, e)| r.task_id == task_id && published_on.contains_key(&e.seq))
            .collect();
        published.sort_by(|a, b| a.0.credit_code.cmp(&b.0.credit_code));
        let public = self.publications_dir.join(bundle).join("public");
        let rows = std::fs::read(public.join("assignments.csv")).map_err(|source| TaskError::Io {
            path: public.clone(),
            source,
        })?;
        let names: std::collections::HashMap<String, String> = crate::public::publications::parse_rows(&rows)
            .map_err(|e| TaskError::Invalid(e.to_string()))?
            .into_iter()
            .map(|r| (r.credit_code, r.name))
            .collect();
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
        for (result, entry) in &published {
            let labels: Vec<&str> = result.codes.iter().filter_map(|c| label(c)).collect();
            writer
                .write_record([
                    result.credit_code.as_str(),
                    names.get(&result.credit_code).map_or("", String::as_str),
                    &result.codes.join(";"),
                    &labels.join("；"),
                    &result.inspection_date.to_string(),
                    &published_on[&entry.seq],
                    &entry.seq.to_string(),
                ])
                .map_err(in_memory)?;
        }
        let bytes = writer.into_inner().map_err(|e| TaskError::Invalid(e.to_string()))?;
        Ok(Some(bytes))
    }
}

/// The results notice's file in a bundle's public copy.
pub const RESULTS_FILE: &str = "results.csv";
