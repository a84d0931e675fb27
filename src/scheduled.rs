//! Scheduled occurrences carried out on the task desk: the bridge between
//! [`crate::schedule`] (when) and [`crate::tasks`] (what).
//!
//! A recurring job names one plan file; each occurrence draws it as its own
//! task: the plan's id gets the occurrence's local date (`PZ-SCJG-2026Q1` →
//! `PZ-SCJG-2026Q1-20260401`) and its inspection date becomes that date.
//! The task's ledger keys (`announce:TASK`, `draw:TASK`) are what make each
//! step happen once; a skip claims the same key as the draw would, so an
//! occurrence is drawn or skipped, never both.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::ledger::{Appended, Kind};
use crate::plan::Plan;
use crate::schedule::{Action, BoxFuture, Executor, Job, Occurrence, Outcome, SeedMethod};
use crate::tasks::{now_in_china, Desk, MethodRequest, SeedMaterial};

pub struct DeskExecutor {
    desk: Arc<Desk>,
}

impl DeskExecutor {
    pub fn new(desk: Arc<Desk>) -> Self {
        DeskExecutor { desk }
    }

    /// The plan of one occurrence: the job's plan, dated and named for it.
    fn plan(job: &Job, occurrence: &Occurrence) -> anyhow::Result<Plan> {
        let mut plan = Plan::load(job.plan())?;
        let local = occurrence.at.with_timezone(&job.timezone()).date_naive();
        plan.id = format!("{}-{}", plan.id, local.format("%Y%m%d"));
        plan.inspection_date = local;
        Ok(plan)
    }

    async fn announce(&self, job: &Job, occurrence: &Occurrence) -> anyhow::Result<Outcome> {
        let plan = Self::plan(job, occurrence)?;
        if self.desk.announcement(&plan.id).await?.is_some() {
            return Ok(Outcome::AlreadyDone);
        }
        let at = occurrence.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let method = match job.seed() {
            SeedMethod::Commit => MethodRequest::Commit { beacon_at: None },
            SeedMethod::Beacon => MethodRequest::Beacon { at },
            SeedMethod::Ceremony => MethodRequest::Ceremony { at },
        };
        self.desk
            .announce(plan, method, None, Some(occurrence.key.clone()))
            .await?;
        Ok(Outcome::Ran)
    }

    async fn draw(&self, job: &Job, occurrence: &Occurrence) -> anyhow::Result<Outcome> {
        let task = Self::plan(job, occurrence)?.id;
        if self.desk.ledger.by_key(&format!("draw:{task}")).await?.is_some() {
            return Ok(Outcome::AlreadyDone);
        }
        match job.seed() {
            SeedMethod::Commit => {
                self.desk
                    .draw(&task, SeedMaterial::Reveal { beacon_signature: None })
                    .await?;
                Ok(Outcome::Ran)
            }
            // The round's signature comes from an operator (this service
            // fetches nothing from the network); until then, keep asking.
            SeedMethod::Beacon => anyhow::bail!("task {task} waits for its beacon round: post it to /api/v1/draws"),
            SeedMethod::Ceremony => Ok(Outcome::AlreadyDone),
        }
    }

    async fn skip(&self, job: &Job, occurrence: &Occurrence) -> anyhow::Result<Outcome> {
        let task = Self::plan(job, occurrence)?.id;
        let payload = serde_json::json!({ "task_id": task, "occurrence": occurrence.key, "reason": "missed while the service was down" });
        let appended = self
            .desk
            .ledger
            .append(
                Kind::OccurrenceSkipped,
                &format!("draw:{task}"),
                &payload.to_string(),
                &now_in_china(),
            )
            .await?;
        Ok(match appended {
            Appended::New(_) => Outcome::Skipped,
            Appended::Existing(_) => Outcome::AlreadyDone,
        })
    }

    async fn last(&self, job: &str) -> anyhow::Result<Option<DateTime<Utc>>> {
        let prefix = format!("{job}@");
        let mut latest = None;
        let occurrence_of = |key: &str| -> Option<DateTime<Utc>> {
            let at = key.strip_prefix(&prefix)?;
            DateTime::parse_from_rfc3339(at).ok().map(|t| t.with_timezone(&Utc))
        };
        for (announcement, _) in self.desk.announcements().await? {
            if let Some(at) = announcement.occurrence.as_deref().and_then(occurrence_of) {
                latest = latest.max(Some(at));
            }
        }
        for entry in self.desk.ledger.of_kind(Kind::OccurrenceSkipped).await? {
            let payload: serde_json::Value = entry.payload()?;
            if let Some(at) = payload["occurrence"].as_str().and_then(occurrence_of) {
                latest = latest.max(Some(at));
            }
        }
        Ok(latest)
    }
}

impl Executor for DeskExecutor {
    fn run<'a>(
        &'a self,
        job: &'a Job,
        occurrence: &'a Occurrence,
        action: Action,
    ) -> BoxFuture<'a, anyhow::Result<Outcome>> {
        Box::pin(async move {
            let outcome = match action {
                Action::Announce => self.announce(job, occurrence).await,
                Action::Draw => self.draw(job, occurrence).await,
                Action::Skip => self.skip(job, occurrence).await,
            };
            outcome.with_context(|| format!("{action} {}", occurrence.key))
        })
    }

    fn last_recorded<'a>(&'a self, job: &'a str) -> BoxFuture<'a, anyhow::Result<Option<DateTime<Utc>>>> {
        Box::pin(self.last(job))
    }
}
