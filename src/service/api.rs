//! The JSON API under `/api/v1`. Handlers only translate between HTTP and
//! [`crate::desk::Desk`]; reads are public, writes need the operator token.
//! The long operations (announce, draw, ad-hoc draw, substitute, verify)
//! check their request here and then run as jobs ([`super::jobs`]).

use std::path::Path;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::ApiError;
use super::jobs::{JobKind, JobReport, Outcome, Preference};
use super::{AppState, Operator};
use crate::desk::{Announcement, DrawRecord, MethodRequest, Redraw, SeedMaterial, Substituted};
use crate::ledger::{Entry, Head};
use crate::plan::{Plan, PlanFile};
use crate::substitution::Request;

#[derive(Serialize)]
pub struct Recorded<T> {
    pub seq: u64,
    pub recorded_at: String,
    #[serde(flatten)]
    pub body: T,
}

fn recorded<T>((body, entry): (T, Entry)) -> Recorded<T> {
    Recorded {
        seq: entry.seq,
        recorded_at: entry.recorded_at,
        body,
    }
}

pub async fn pools(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let dir = state.desk.pools_dir.clone();
    let pools = crate::heavy::run(move || crate::pools::load_path(&dir, Default::default()))
        .await
        .map_err(|panic| ApiError::internal(crate::heavy::panic_message(&*panic)))?
        .map_err(|problems| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_pools", problems.to_string()))?;
    // Counts and hashes only: the pools themselves hold confidential fields.
    Ok(Json(json!({
        "counts": {
            "departments": pools.departments.len(),
            "items": pools.items.len(),
            "inspectors": pools.inspectors.len(),
            "targets": pools.targets.len(),
            "conflicts": pools.conflicts.len(),
        },
        "snapshot": pools.snapshot,
        "snapshot_combined": pools.snapshot.combined(),
    })))
}

pub async fn announcements(State(state): State<AppState>) -> Result<Json<Vec<Recorded<Announcement>>>, ApiError> {
    Ok(Json(
        state.desk.announcements().await?.into_iter().map(recorded).collect(),
    ))
}

pub async fn announcement(
    State(state): State<AppState>,
    UrlPath(task_id): UrlPath<String>,
) -> Result<Json<Recorded<Announcement>>, ApiError> {
    let found = state.desk.announcement(&task_id).await?;
    found
        .map(|a| Json(recorded(a)))
        .ok_or_else(|| ApiError::not_found(format!("no task {task_id}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnounceRequest {
    /// A plan under the plans folder, by file name without `.toml`.
    #[serde(default)]
    plan: Option<String>,
    /// Or the plan's TOML text.
    #[serde(default)]
    plan_toml: Option<String>,
    seed_method: MethodRequest,
    /// The day the inspections begin, for a plan file that serves batch
    /// after batch; left out, the plan's own `inspection_date`.
    #[serde(default)]
    inspection_date: Option<chrono::NaiveDate>,
    #[serde(default)]
    redraw_of: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

pub async fn announce(
    _: Operator,
    preference: Preference,
    State(state): State<AppState>,
    Json(request): Json<AnnounceRequest>,
) -> Result<Response, ApiError> {
    let plan = read_plan(&state.plans_dir, request.plan.as_deref(), request.plan_toml.as_deref())?;
    let plan = dated(plan, request.inspection_date)?;
    let redraw = match (request.redraw_of, request.reason) {
        (None, None) => None,
        (Some(of), Some(reason)) if !reason.trim().is_empty() => Some(Redraw { of, reason }),
        _ => {
            return Err(ApiError::bad_request(
                "a redraw needs both redraw_of and a non-empty reason",
            ))
        }
    };
    let desk = state.desk.clone();
    let work = async move {
        let announced = desk.announce(plan, request.seed_method, redraw, None).await?;
        Outcome::json(StatusCode::CREATED, &recorded(announced))
    };
    state.jobs.answer(JobKind::Announce, preference, work).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawRequest {
    task_id: String,
    seed: SeedMaterial,
}

pub async fn draw(
    _: Operator,
    preference: Preference,
    State(state): State<AppState>,
    Json(request): Json<DrawRequest>,
) -> Result<Response, ApiError> {
    let desk = state.desk.clone();
    let work = async move {
        let drawn = desk.draw(&request.task_id, request.seed).await?;
        Outcome::json(StatusCode::OK, &recorded(drawn))
    };
    state.jobs.answer(JobKind::Draw, preference, work).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdhocRequest {
    #[serde(default)]
    plan: Option<String>,
    #[serde(default)]
    plan_toml: Option<String>,
    #[serde(default)]
    inspection_date: Option<chrono::NaiveDate>,
}

pub async fn draw_unannounced(
    _: Operator,
    preference: Preference,
    State(state): State<AppState>,
    Json(request): Json<AdhocRequest>,
) -> Result<Response, ApiError> {
    let plan = read_plan(&state.plans_dir, request.plan.as_deref(), request.plan_toml.as_deref())?;
    let plan = dated(plan, request.inspection_date)?;
    let desk = state.desk.clone();
    // In a job, so that a request timing out can no longer leave the task
    // announced but never drawn.
    let work = async move {
        let drawn = desk.draw_unannounced(plan).await?;
        Outcome::json(StatusCode::CREATED, &recorded(drawn))
    };
    state.jobs.answer(JobKind::AdhocDraw, preference, work).await
}

pub async fn draws(State(state): State<AppState>) -> Result<Json<Vec<Recorded<DrawRecord>>>, ApiError> {
    Ok(Json(
        state.desk.draw_records().await?.into_iter().map(recorded).collect(),
    ))
}

pub async fn draw_detail(
    State(state): State<AppState>,
    UrlPath(task_id): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    let (record, entry) = state
        .desk
        .draw_record(&task_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task {task_id} has not been drawn")))?;
    // Drawn by an instance that died before caching it, or the cache deleted.
    state.desk.ensure_cached(&record.bundle).await?;
    // Reads and checks every file of the public copy: off the async workers.
    let folder = state.desk.publications_dir.join(&record.bundle).join("public");
    let public = tokio::task::spawn_blocking(move || crate::bundle::read(&folder))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({ "seq": entry.seq, "recorded_at": entry.recorded_at, "record": record, "manifest": public.manifest }),
    ))
}

/// Read on the public reads' own connection, so it does not wait for a
/// draw's writes.
pub async fn ledger_head(State(state): State<AppState>) -> Result<Json<Head>, ApiError> {
    Ok(Json(state.reads.head().await?))
}

#[derive(Deserialize)]
pub struct Page {
    #[serde(default)]
    after: u64,
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    100
}

pub async fn ledger_entries(
    State(state): State<AppState>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<Entry>>, ApiError> {
    let limit = page.limit.clamp(1, 1000);
    Ok(Json(
        state
            .desk
            .ledger
            .entries(page.after, limit)
            .await
            .map_err(ApiError::internal)?,
    ))
}

/// The body of a ledger verification, which may be empty.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// A signed checkpoint saved earlier: the ledger must extend it.
    #[serde(default)]
    checkpoint: Option<String>,
}

pub async fn verify_ledger(
    _: Operator,
    preference: Preference,
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let request: VerifyRequest = if body.trim_ascii().is_empty() {
        VerifyRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("the request body: {e}")))?
    };
    let jobs = state.jobs.clone();
    jobs.answer(JobKind::Verify, preference, verify_work(state, request))
        .await
}

/// The ledger's verification, as its job runs it.
async fn verify_work(state: AppState, request: VerifyRequest) -> Result<Outcome, ApiError> {
    // What other hosts recorded is cached here before the audit compares.
    state.desk.sync_publications(false).await?;
    let mut report = crate::desk::audit::audit(&state.desk)
        .await
        .map_err(ApiError::internal)?;
    let checkpoint = match &request.checkpoint {
        None => None,
        Some(note) => {
            let verifier = state.checkpoints.verifier();
            Some(
                match crate::desk::checkpoint::ledger_extends(&state.desk.ledger, note, verifier).await {
                    Ok(extends) => {
                        json!({ "extends": true, "size": extends.checkpoint.size, "ledger_size": extends.size })
                    }
                    Err(e) => {
                        report.problems.push(format!("checkpoint: {e}"));
                        json!({ "extends": false, "problem": e.to_string() })
                    }
                },
            )
        }
    };
    let mut value = serde_json::to_value(report).expect("reports serialise");
    if let Some(checkpoint) = checkpoint {
        value["checkpoint"] = checkpoint;
    }
    Outcome::json(StatusCode::OK, &value)
}

/// A plan by name from the plans folder, or from TOML text.
/// The plan with the inspection date the request gives, if it gives one:
/// held to the plan rules like a plan file.
fn dated(plan: Plan, date: Option<chrono::NaiveDate>) -> Result<Plan, ApiError> {
    let Some(date) = date else { return Ok(plan) };
    let mut parts = plan.into_parts();
    parts.inspection_date = date;
    Plan::new(parts).map_err(|fault| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_plan", fault.to_string()))
}

fn read_plan(dir: &Path, name: Option<&str>, toml: Option<&str>) -> Result<Plan, ApiError> {
    let invalid =
        |e: crate::plan::PlanError| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_plan", e.to_string());
    match (name, toml) {
        (Some(name), None) => {
            let safe = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
            if !safe {
                return Err(ApiError::bad_request("plan names are letters, digits, '-' and '_'"));
            }
            let path = dir.join(format!("{name}.toml"));
            if !path.is_file() {
                return Err(ApiError::not_found(format!("no plan {name}")));
            }
            Plan::load(&path).map_err(invalid)
        }
        (None, Some(text)) => Plan::parse_toml(text, "request").map_err(invalid),
        _ => Err(ApiError::bad_request("give either plan (a name) or plan_toml")),
    }
}

/// Draws a substitute for an officer who cannot go (spec §12).
pub async fn substitute(
    _: Operator,
    preference: Preference,
    State(state): State<AppState>,
    UrlPath(task_id): UrlPath<String>,
    Json(request): Json<Request>,
) -> Result<Response, ApiError> {
    let desk = state.desk.clone();
    let work = async move {
        let substituted: Substituted = desk.substitute(&task_id, request).await?;
        Outcome::json(StatusCode::CREATED, &substituted)
    };
    state.jobs.answer(JobKind::Substitute, preference, work).await
}

/// A job's state and, once it is done, the answer its request would have
/// had. Operator-only, like the operations: an outcome may name a task
/// before its announcement is public.
pub async fn job(
    _: Operator,
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<JobReport>, ApiError> {
    state
        .jobs
        .report(&id)
        .await
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))
}

/// A task's substitutions as published: without the confidential notes.
pub async fn substitutions(
    State(state): State<AppState>,
    UrlPath(task_id): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    let log = state.desk.substitution_log(&task_id).await?;
    Ok(Json(match log {
        Some(log) => serde_json::to_value(log.public()).map_err(ApiError::internal)?,
        None => json!({ "substitutions": [] }),
    }))
}
