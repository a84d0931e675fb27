//! Scheduled occurrences carried out on the task desk: the bridge between
//! [`crate::schedule`] (when) and [`crate::desk`] (what).
//!
//! A recurring job names one plan file; each occurrence draws it as its own
//! task: the plan's id gets the occurrence's local date (`PZ-SCJG-2026Q1` →
//! `PZ-SCJG-2026Q1-20260401`) and its inspection date becomes that date.
//! The task's ledger keys (`announce:TASK`, `draw:TASK`) are what make each
//! step happen once; a skip claims the same key as the draw would, so an
//! occurrence is drawn or skipped, never both.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::desk::{Desk, MethodRequest, SeedMaterial, TaskError};
use crate::ledger::{Appended, Key, Kind, LedgerError, Payload};
use crate::plan::{Plan, PlanError, PlanFault, PlanFile};
use crate::schedule::{Action, BoxFuture, Executor, Job, Occurrence, Outcome, SeedMethod, StepError};

/// Why a step of an occurrence failed; the scheduler logs it and retries.
#[derive(Debug, thiserror::Error)]
pub enum ScheduledError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("plan {path}, dated for its occurrence: {fault}")]
    Dated {
        path: String,
        #[source]
        fault: PlanFault,
    },
    #[error("task {0} waits for its beacon round: post it to /api/v1/draws")]
    AwaitingBeacon(String),
    /// Names the step, as the log line needs: `draw JOB@TIME: …`.
    #[error("{action} {key}: {source}")]
    Step {
        action: Action,
        key: String,
        source: Box<ScheduledError>,
    },
}

/// The ledger payload of an occurrence recorded as skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    // In this order, the order the payload has always been written in.
    pub occurrence: String,
    pub reason: String,
    pub task_id: String,
}

impl Payload for Skipped {
    const KIND: Kind = Kind::OccurrenceSkipped;
}

pub struct DeskExecutor {
    desk: Arc<Desk>,
}

impl DeskExecutor {
    pub fn new(desk: Arc<Desk>) -> Self {
        DeskExecutor { desk }
    }

    /// The plan of one occurrence: the job's plan, named for it and dated
    /// its day, or `today` when that day has passed (an occurrence caught up
    /// after downtime is inspected from the day it is drawn: a draw never
    /// comes after its inspections).
    fn plan(job: &Job, occurrence: &Occurrence, today: NaiveDate) -> Result<Plan, ScheduledError> {
        let mut plan = Plan::load(job.plan())?.into_parts();
        let local = occurrence.at.with_timezone(&job.timezone()).date_naive();
        plan.id = format!("{}-{}", plan.id, local.format("%Y%m%d"));
        plan.inspection_date = local.max(today);
        // The dated id is held to the plan rules like any other: one too
        // long for a plan number must not reach a bundle it could not be
        // read back from.
        Plan::new(plan).map_err(|fault| ScheduledError::Dated {
            path: job.plan().display().to_string(),
            fault,
        })
    }

    async fn announce(&self, job: &Job, occurrence: &Occurrence) -> Result<Outcome, ScheduledError> {
        let plan = Self::plan(job, occurrence, self.desk.time.today())?;
        if self.desk.announcement(plan.id()).await?.is_some() {
            return Ok(Outcome::AlreadyDone);
        }
        let at = occurrence.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let method = match job.seed() {
            SeedMethod::Commit => MethodRequest::Commit { beacon_at: None },
            SeedMethod::Beacon => MethodRequest::Beacon { at },
            SeedMethod::Ceremony => MethodRequest::Ceremony {
                at,
                place: job.place().map(str::to_owned),
            },
        };
        self.desk
            .announce(plan, method, None, Some(occurrence.key.clone()))
            .await?;
        Ok(Outcome::Ran)
    }

    async fn draw(&self, job: &Job, occurrence: &Occurrence) -> Result<Outcome, ScheduledError> {
        let task = Self::plan(job, occurrence, self.desk.time.today())?.id().to_owned();
        if self.desk.ledger.get(&Key::Draw(&task)).await?.is_some() {
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
            SeedMethod::Beacon => Err(ScheduledError::AwaitingBeacon(task)),
            SeedMethod::Ceremony => Ok(Outcome::AlreadyDone),
        }
    }

    async fn skip(&self, job: &Job, occurrence: &Occurrence) -> Result<Outcome, ScheduledError> {
        let task = Self::plan(job, occurrence, self.desk.time.today())?.id().to_owned();
        let payload = Skipped {
            occurrence: occurrence.key.clone(),
            reason: "missed while the service was down".into(),
            task_id: task.clone(),
        };
        let appended = self
            .desk
            .ledger
            .append_typed(&Key::Draw(&task), &payload, &self.desk.time.stamp())
            .await?;
        Ok(match appended {
            Appended::New(_) => Outcome::Skipped,
            Appended::Existing(_) => Outcome::AlreadyDone,
        })
    }

    async fn last(&self, job: &str) -> Result<Option<DateTime<Utc>>, ScheduledError> {
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
        for (payload, _) in self.desk.ledger.all::<Skipped>().await? {
            if let Some(at) = occurrence_of(&payload.occurrence) {
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
    ) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            let outcome = match action {
                Action::Announce => self.announce(job, occurrence).await,
                Action::Draw => self.draw(job, occurrence).await,
                Action::Skip => self.skip(job, occurrence).await,
            };
            outcome.map_err(|source| {
                ScheduledError::Step {
                    action,
                    key: occurrence.key.clone(),
                    source: Box::new(source),
                }
                .into()
            })
        })
    }

    fn last_recorded<'a>(&'a self, job: &'a str) -> BoxFuture<'a, Result<Option<DateTime<Utc>>, StepError>> {
        Box::pin(async move { Ok(self.last(job).await?) })
    }
}
