//! Jobs: the operator's long operations (announce, draw, ad-hoc draw,
//! substitute, verify the ledger) run in tokio tasks of their own, detached
//! from the request that asked for them, so a dropped connection or the
//! request timeout never leaves one half done.
//!
//! The request waits for its job a short while (`job_wait_ms`): a job done
//! by then is answered exactly as the operation always was, with its id in
//! a `Job-Id` header; otherwise, or when the client sent
//! `Prefer: respond-async`, the answer is `202 Accepted` with
//! `Location: /api/v1/jobs/ID`, where the job's state and, once it is done,
//! the answer it would have had are kept.
//!
//! Jobs are rows in the database beside the ledger (migration 0005), so any
//! instance on a shared PostgreSQL answers for any job. A running job
//! renews its row's heartbeat every [`HEARTBEAT`]; a queued or running job
//! whose heartbeat is older than [`ABANDONED_AFTER`] belongs to an instance
//! that died, and is reported as `abandoned`. What it did is whatever the
//! ledger recorded: draws, announcements and substitutions are claimed by
//! unique ledger keys, so asking again finishes the work without doing it
//! twice. A job's row only reports; the ledger is the record.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{AnyPool, Row};
use tokio::sync::{watch, OwnedRwLockWriteGuard, RwLock};

use super::error::ApiError;
use crate::clock::OfficeClock;

/// How often a running job renews its heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How old a running job's heartbeat may be before the job is reported as
/// abandoned: six missed beats, so a slow database or a busy host is not
/// mistaken for a dead one.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(30);
/// How long a request waits for its job by default (`job_wait_ms`).
pub const DEFAULT_WAIT: Duration = Duration::from_millis(2000);
/// The header naming the job that answered a request.
pub const JOB_ID: &str = "job-id";

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Announce,
    Draw,
    AdhocDraw,
    Substitute,
    Verify,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Announce => "announce",
            JobKind::Draw => "draw",
            JobKind::AdhocDraw => "adhoc_draw",
            JobKind::Substitute => "substitute",
            JobKind::Verify => "verify",
        }
    }

    /// The step a running job of this kind is at: the runner sees the
    /// operation whole, so this names the operation.
    fn working(self) -> &'static str {
        match self {
            JobKind::Announce => "announcing",
            JobKind::Draw => "drawing",
            JobKind::AdhocDraw => "announcing and drawing",
            JobKind::Substitute => "substituting",
            JobKind::Verify => "verifying",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("the jobs table: {0}")]
    Database(#[from] sqlx::Error),
    #[error("job {id}: {message}")]
    Corrupt { id: String, message: String },
}

/// The answer an operation gives: its status and its JSON body, kept as
/// the text sent so that a job's answer is byte for byte the request's.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: StatusCode,
    pub body: String,
}

impl Outcome {
    /// `body` as JSON with `status`.
    pub fn json(status: StatusCode, body: &impl Serialize) -> Result<Outcome, ApiError> {
        Ok(Outcome {
            status,
            body: serde_json::to_string(body).map_err(ApiError::internal)?,
        })
    }

    fn of_error(error: ApiError) -> Outcome {
        let (status, body) = error.into_parts();
        Outcome { status, body }
    }

    fn into_response(self, id: &str) -> Response {
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            self.body,
        )
            .into_response();
        response
            .headers_mut()
            .insert(JOB_ID, HeaderValue::from_str(id).expect("job ids are hex"));
        response
    }
}

/// Whether the client asked to be answered at once (RFC 7240's
/// `Prefer: respond-async`) rather than after the job's short wait.
pub struct Preference {
    pub respond_async: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Preference {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let respond_async = parts.headers.get_all("prefer").iter().any(|value| {
            value.to_str().is_ok_and(|v| {
                v.split(',').any(|p| {
                    p.split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .eq_ignore_ascii_case("respond-async")
                })
            })
        });
        Ok(Preference { respond_async })
    }
}

/// The jobs of one instance, and the reports of every instance's jobs.
pub struct Jobs {
    pool: AnyPool,
    /// This process's id in the rows it runs.
    instance: String,
    time: OfficeClock,
    wait: Duration,
    /// Held in write by [`Jobs::hold_before_work`]: for tests and drills,
    /// jobs wait before doing anything.
    before_work: Arc<RwLock<()>>,
    /// Held by [`Jobs::hold_before_outcome`]: jobs wait after their work,
    /// before their outcome is recorded, as if their instance died there.
    before_outcome: Arc<RwLock<()>>,
    /// Read-held by every running job, so [`Jobs::drain`] waits for them.
    running: Arc<RwLock<()>>,
}

/// A job's row as reported by `GET /api/v1/jobs/{id}`.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    pub id: String,
    pub kind: String,
    /// `queued`, `running`, `succeeded`, `failed` or `abandoned`.
    pub state: String,
    /// Where it is: `queued`, the operation's step, `recording`, `done`.
    pub step: String,
    pub instance: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub heartbeat_at: String,
    /// The HTTP status the request would have answered, once done.
    pub status: Option<u16>,
    /// The body it would have answered (the operation's result, or the
    /// error JSON), once done.
    pub outcome: Option<Value>,
    /// For an abandoned job: what to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

const ABANDONED_NOTE: &str = "the instance running this job stopped before it finished; its effect, if any, \
                              is what the ledger recorded: ask for the operation again to finish it (a draw, an \
                              announcement or a substitution is never made twice)";

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// A random id: 128 bits from the operating system, as hex. Never part of
/// a draw.
fn new_id() -> String {
    use rand_core::{OsRng, TryRngCore};
    let mut bytes = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random source works");
    hex::encode(bytes)
}

impl Jobs {
    /// Jobs kept in the database of `pool`, timed by `time`, with requests
    /// waiting `wait` for theirs.
    pub fn new(pool: AnyPool, time: OfficeClock, wait: Duration) -> Jobs {
        Jobs {
            pool,
            instance: new_id(),
            time,
            wait,
            before_work: Default::default(),
            before_outcome: Default::default(),
            running: Default::default(),
        }
    }

    /// This process's id in its jobs' rows.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// For tests and drills: jobs started until the guard is dropped wait
    /// before their work.
    pub async fn hold_before_work(&self) -> OwnedRwLockWriteGuard<()> {
        self.before_work.clone().write_owned().await
    }

    /// For tests and drills: jobs that finish their work until the guard is
    /// dropped wait before their outcome is recorded.
    pub async fn hold_before_outcome(&self) -> OwnedRwLockWriteGuard<()> {
        self.before_outcome.clone().write_owned().await
    }

    /// Waits until every job this instance started has finished: at
    /// shutdown, so a job under way is not cut short with its request.
    pub async fn drain(&self) {
        let _all = self.running.write().await;
    }

    /// Starts `work` as a job of `kind` and answers the request: with the
    /// job's own answer if it is done within the wait (none when
    /// `preference` asks for an answer at once), else with 202.
    pub async fn answer<F>(&self, kind: JobKind, preference: Preference, work: F) -> Result<Response, ApiError>
    where
        F: Future<Output = Result<Outcome, ApiError>> + Send + 'static,
    {
        let (id, mut done) = self.start(kind, work).await.map_err(ApiError::internal)?;
        let wait = if preference.respond_async {
            Duration::ZERO
        } else {
            self.wait
        };
        let finished = tokio::time::timeout(wait, async {
            done.wait_for(Option::is_some).await.ok().and_then(|d| d.clone())
        })
        .await;
        if let Ok(Some(outcome)) = finished {
            return Ok(outcome.into_response(&id));
        }
        let url = format!("/api/v1/jobs/{id}");
        let mut response = (
            StatusCode::ACCEPTED,
            axum::Json(json!({ "job": id, "kind": kind.as_str(), "status_url": url })),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(header::LOCATION, HeaderValue::from_str(&url).expect("job ids are hex"));
        headers.insert(JOB_ID, HeaderValue::from_str(&id).expect("job ids are hex"));
        if preference.respond_async {
            headers.insert("preference-applied", HeaderValue::from_static("respond-async"));
        }
        Ok(response)
    }

    /// Records a queued job and starts it in a task of its own: the job's
    /// id, and where its outcome will appear.
    pub async fn start<F>(&self, kind: JobKind, work: F) -> Result<(String, watch::Receiver<Option<Outcome>>), JobError>
    where
        F: Future<Output = Result<Outcome, ApiError>> + Send + 'static,
    {
        let id = new_id();
        let now = self.time.now();
        sqlx::query(
            "INSERT INTO jobs (id, kind, state, step, instance, created_at, heartbeat_ms) \
             VALUES ($1, $2, 'queued', 'queued', $3, $4, $5)",
        )
        .bind(&id)
        .bind(kind.as_str())
        .bind(&self.instance)
        .bind(self.time.stamp())
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        let (sender, receiver) = watch::channel(None);
        let runner = Runner {
            pool: self.pool.clone(),
            time: self.time.clone(),
            id: id.clone(),
            kind,
        };
        let gates = (
            self.before_work.clone(),
            self.before_outcome.clone(),
            self.running.clone().read_owned().await,
        );
        tokio::spawn(async move {
            let (before_work, before_outcome, _running) = gates;
            let outcome = runner.run(work, &before_work, &before_outcome).await;
            sender.send_replace(Some(outcome));
        });
        Ok((id, receiver))
    }

    /// A job's report, from whichever instance ran it; `None` for an
    /// unknown id.
    pub async fn report(&self, id: &str) -> Result<Option<JobReport>, JobError> {
        let row = sqlx::query(
            "SELECT kind, state, step, instance, created_at, started_at, finished_at, heartbeat_ms, status, outcome \
             FROM jobs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let corrupt = |message: String| JobError::Corrupt {
            id: id.to_owned(),
            message,
        };
        let heartbeat_ms: i64 = row.try_get(7)?;
        let heartbeat = DateTime::<Utc>::from_timestamp_millis(heartbeat_ms)
            .ok_or_else(|| corrupt(format!("heartbeat {heartbeat_ms} is not a time")))?;
        let mut state: String = row.try_get(1)?;
        let stale = (self.time.now() - heartbeat)
            .to_std()
            .is_ok_and(|age| age > ABANDONED_AFTER);
        let mut note = None;
        if stale && (state == "queued" || state == "running") {
            state = "abandoned".into();
            note = Some(ABANDONED_NOTE);
        }
        let status: Option<i64> = row.try_get(8)?;
        let outcome: Option<String> = row.try_get(9)?;
        let outcome = outcome
            .map(|text| serde_json::from_str(&text).map_err(|e| corrupt(format!("outcome: {e}"))))
            .transpose()?;
        Ok(Some(JobReport {
            id: id.to_owned(),
            kind: row.try_get(0)?,
            state,
            step: row.try_get(2)?,
            instance: row.try_get(3)?,
            created_at: row.try_get(4)?,
            started_at: row.try_get(5)?,
            finished_at: row.try_get(6)?,
            heartbeat_at: self.time.zone().stamp(heartbeat),
            status: status.map(|s| s as u16),
            outcome,
            note,
        }))
    }
}

/// One job's task: runs the work, renews the heartbeat meanwhile, and
/// records the outcome.
struct Runner {
    pool: AnyPool,
    time: OfficeClock,
    id: String,
    kind: JobKind,
}

impl Runner {
    async fn run<F>(&self, work: F, before_work: &RwLock<()>, before_outcome: &RwLock<()>) -> Outcome
    where
        F: Future<Output = Result<Outcome, ApiError>> + Send + 'static,
    {
        let job = async {
            drop(before_work.read().await);
            self.update(
                "UPDATE jobs SET state = 'running', step = $2, started_at = $3, heartbeat_ms = $4 WHERE id = $1",
                self.kind.working(),
            )
            .await;
            // A task of its own, so a panic in the work fails the job
            // rather than leaving it running forever.
            let outcome = match tokio::spawn(work).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(error)) => Outcome::of_error(error),
                Err(e) => Outcome::of_error(ApiError::internal(format!("job {} stopped: {e}", self.id))),
            };
            drop(before_outcome.read().await);
            outcome
        };
        let heartbeat = async {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                let beat = sqlx::query("UPDATE jobs SET heartbeat_ms = $2 WHERE id = $1")
                    .bind(&self.id)
                    .bind(millis(self.time.now()))
                    .execute(&self.pool)
                    .await;
                if let Err(error) = beat {
                    tracing::warn!(job = %self.id, %error, "could not renew the job's heartbeat");
                }
            }
        };
        let outcome = tokio::select! {
            outcome = job => outcome,
            () = heartbeat => unreachable!("the heartbeat never ends"),
        };
        let state = if outcome.status.is_success() {
            "succeeded"
        } else {
            "failed"
        };
        let recorded = sqlx::query(
            "UPDATE jobs SET state = $2, step = 'done', finished_at = $3, heartbeat_ms = $4, status = $5, \
             outcome = $6 WHERE id = $1",
        )
        .bind(&self.id)
        .bind(state)
        .bind(self.time.stamp())
        .bind(millis(self.time.now()))
        .bind(i64::from(outcome.status.as_u16()))
        .bind(&outcome.body)
        .execute(&self.pool)
        .await;
        if let Err(error) = recorded {
            // The effect is in the ledger either way; only the report is lost.
            tracing::error!(job = %self.id, %error, "could not record the job's outcome");
        }
        outcome
    }

    /// Sets the row's state to running with `step`, logging a failure: the
    /// work goes on whether or not its report could be written.
    async fn update(&self, sql: &str, step: &str) {
        let now = self.time.now();
        let result = sqlx::query(sql)
            .bind(&self.id)
            .bind(step)
            .bind(self.time.zone().stamp(now))
            .bind(millis(now))
            .execute(&self.pool)
            .await;
        if let Err(error) = result {
            tracing::warn!(job = %self.id, %error, "could not record the job's step");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preference(values: &[&str]) -> bool {
        let mut request = axum::http::Request::builder();
        for v in values {
            request = request.header("prefer", *v);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime
            .block_on(Preference::from_request_parts(&mut parts, &()))
            .unwrap()
            .respond_async
    }

    #[test]
    fn respond_async_is_found_among_other_preferences() {
        assert!(preference(&["respond-async"]));
        assert!(preference(&["return=minimal, Respond-Async; wait=5"]));
        assert!(preference(&["return=minimal", "respond-async"]));
        assert!(!preference(&[]));
        assert!(!preference(&["return=representation"]));
        assert!(!preference(&["respond-asynchronously"]));
    }

    #[test]
    fn job_ids_are_unique_hex() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
