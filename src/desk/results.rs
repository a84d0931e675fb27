//! Results at the desk: an operator records each drawn business's outcome
//! once, and publishes a task's results in one notice, which also records
//! them in the task's public bundle (`results.csv`), in the notice's own
//! transaction.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use super::publish::{bundle_rows, prepare};
use crate::calendar::WorkCalendar;
use crate::desk::{blocking, Desk, TaskError};
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
        let (record, drawn) = self
            .draw_record(&result.task_id)
            .await?
            .ok_or_else(|| TaskError::UnknownTask(result.task_id.clone()))?;
        let today = self.time.today();
        // An inspection is made after its draw and before it is recorded.
        let drawn_on = recorded_day(&drawn)?;
        if result.inspection_date < drawn_on {
            return Err(invalid(format!(
                "inspection_date {} is before the draw of {} on {drawn_on}",
                result.inspection_date, result.task_id
            )));
        }
        if result.inspection_date > today {
            return Err(invalid(format!(
                "inspection_date {} is in the future (today is {today})",
                result.inspection_date
            )));
        }
        let rows = self
            .recorded_file(&record.bundle, "public/assignments.csv")
            .await?
            .ok_or_else(|| invalid(format!("bundle {} records no public/assignments.csv", record.bundle)))?;
        if !drawn_in(&rows, &result.credit_code) {
            return Err(invalid(format!(
                "{} was not drawn in task {}",
                result.credit_code, result.task_id
            )));
        }
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
        let (record, _) = self
            .draw_record(task_id)
            .await?
            .ok_or_else(|| TaskError::UnknownTask(task_id.to_owned()))?;
        let stamp = self.time.stamp();
        let rows = self
            .recorded_file(&record.bundle, "public/assignments.csv")
            .await?
            .ok_or_else(|| TaskError::Invalid(format!("bundle {} records no public/assignments.csv", record.bundle)))?;
        // The notice's file is made before its entry, as the entry will make
        // it, so the two are written in one transaction.
        let bytes = self
            .results_notice_bytes(task_id, &rows, Some((&notice, &stamp)))
            .await?
            .expect("a task with a notice has a results file");
        let path = format!("public/{RESULTS_FILE}");
        let prepared = blocking(move || prepare(vec![(path, bytes)])).await?;
        self.store_prepared(&prepared).await?;
        let entry = self
            .ledger
            .append_typed_with(&key, &notice, &stamp, &bundle_rows(&record.bundle, &prepared))
            .await?;
        match &entry {
            Appended::New(new) => self.cache_after_entry(&record.bundle, new.seq, prepared).await?,
            Appended::Existing(_) => {
                self.sync_publications(false).await?;
            }
        }
        Ok((notice, entry.entry().seq))
    }

    /// The bytes `public/results.csv` of a task's bundle must hold: every
    /// result of the task a results notice has published, as the ledger
    /// records them, by credit code; `None` when no notice of the task has
    /// been published (then the file must not exist). The audit compares the
    /// served file with these bytes, so an edited notice shows.
    pub async fn results_notice_file(&self, task_id: &str, bundle: &str) -> Result<Option<Vec<u8>>, TaskError> {
        let rows = self
            .recorded_file(bundle, "public/assignments.csv")
            .await?
            .ok_or_else(|| TaskError::Invalid(format!("bundle {bundle} records no public/assignments.csv")))?;
        self.results_notice_bytes(task_id, &rows, None).await
    }

    /// [`Desk::results_notice_file`] from the public `assignments.csv`
    /// bytes (for the names), with `pending`, a notice about to be
    /// recorded at its time, counted as if it were.
    pub(crate) async fn results_notice_bytes(
        &self,
        task_id: &str,
        rows: &[u8],
        pending: Option<(&Notice, &str)>,
    ) -> Result<Option<Vec<u8>>, TaskError> {
        let notices = self.ledger.all::<Notice>().await?;
        let mut notices: Vec<(Notice, String)> = notices.into_iter().map(|(n, e)| (n, e.recorded_at)).collect();
        if let Some((notice, at)) = pending {
            notices.push((notice.clone(), at.to_owned()));
        }
        if !notices.iter().any(|(n, _)| n.task_id == task_id) {
            return Ok(None);
        }
        // A result is published by the first notice that names it; the
        // notice's day is the day of its entry.
        let mut published_on: std::collections::HashMap<u64, String> = std::collections::HashMap::new();
        for (notice, recorded_at) in &notices {
            for &seq in &notice.results {
                published_on
                    .entry(seq)
                    .or_insert_with(|| recorded_at.chars().take(10).collect());
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
        let names: std::collections::HashMap<String, String> = crate::public::publications::parse_rows(rows)
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
pub use crate::public::current::RESULTS_FILE;

/// Whether a business is a row of a public `assignments.csv` (bytes the
/// store checked against their hash, of a list whose header was checked at
/// its draw): its credit code is the second column, after the row number,
/// so a line starting `NUMBER,CODE,` is its row. A scan for that text, not
/// a parse of the whole list, which a result recorded does not need.
fn drawn_in(csv: &[u8], credit_code: &str) -> bool {
    if credit_code.is_empty() || credit_code.contains([',', '"', '\r', '\n']) {
        return false;
    }
    let needle = format!(",{credit_code},");
    memchr::memmem::find_iter(csv, needle.as_bytes()).any(|at| {
        let line_start = csv[..at].iter().rposition(|&b| b == b'\n').map_or(0, |n| n + 1);
        let number = &csv[line_start..at];
        !number.is_empty() && number.iter().all(u8::is_ascii_digit)
    })
}

#[cfg(test)]
mod tests {
    use super::drawn_in;

    #[test]
    fn a_business_is_drawn_when_its_code_is_a_rows_second_column() {
        let csv = "\u{feff}序号,统一社会信用代码,名称,抽查事项,抽查事项名称,组长,检查人员\r\n\
            1,9152020001383091EP,某公司,SCJG-130,检查,520281,520281;520282\r\n\
            2,91520200MA1DN7F3D0,\"某店,91520200000000000X,\",SCJG-130,检查,520283,520283;520284\r\n";
        assert!(drawn_in(csv.as_bytes(), "9152020001383091EP"));
        assert!(drawn_in(csv.as_bytes(), "91520200MA1DN7F3D0"));
        // In a name, not the code column; a part of a code; a header.
        assert!(!drawn_in(csv.as_bytes(), "91520200000000000X"));
        assert!(!drawn_in(csv.as_bytes(), "9152020001383091"));
        assert!(!drawn_in(csv.as_bytes(), "统一社会信用代码"));
        assert!(!drawn_in(csv.as_bytes(), ""));
    }
}
