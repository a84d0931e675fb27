//! Results: operators record and publish them; the public reads the
//! results notice (检查结果公告). Handlers only translate; the rules live in
//! [`crate::results`].

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::{AppState, Operator};
use crate::public::pages::{self, ResultView};
use crate::results::{label, InspectionResult, Notice, Recorded};

pub async fn record(
    _: Operator,
    State(state): State<AppState>,
    Json(result): Json<InspectionResult>,
) -> Result<(StatusCode, Json<Recorded>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.desk.record_result(result, &state.calendar).await?),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    task_id: String,
}

#[derive(Serialize)]
pub struct Published {
    seq: u64,
    #[serde(flatten)]
    notice: Notice,
}

pub async fn publish(
    _: Operator,
    State(state): State<AppState>,
    Json(request): Json<PublishRequest>,
) -> Result<(StatusCode, Json<Published>), ApiError> {
    let (notice, seq) = state.desk.publish_results(&request.task_id, &state.calendar).await?;
    Ok((StatusCode::CREATED, Json(Published { seq, notice })))
}

#[derive(Serialize)]
pub struct Due {
    #[serde(flatten)]
    recorded: Recorded,
    overdue: bool,
}

/// Results recorded but not yet published, soonest deadline first.
pub async fn due(_: Operator, State(state): State<AppState>) -> Result<Json<Vec<Due>>, ApiError> {
    let today = state.desk.time.today();
    let mut due: Vec<Due> = state
        .desk
        .results(&state.calendar)
        .await?
        .into_iter()
        .filter(|r| r.published_in.is_none())
        .map(|recorded| Due {
            overdue: today > recorded.publish_by,
            recorded,
        })
        .collect();
    due.sort_by_key(|d| d.recorded.publish_by);
    Ok(Json(due))
}

/// The published results with the names and authorities the public sees.
async fn published_views(state: &AppState) -> Result<Vec<ResultView>, ApiError> {
    // A notice or a draw recorded by another host is cached here first.
    state.desk.sync_publications(false).await?;
    let mut names: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut authorities: HashMap<String, String> = HashMap::new();
    let mut views = Vec::new();
    for recorded in state.desk.results(&state.calendar).await?.into_iter().rev() {
        let Some(notice) = recorded.published_in else { continue };
        let task = recorded.result.task_id.clone();
        if !names.contains_key(&task) {
            let rows = match state.desk.draw_record(&task).await? {
                // A bundle that fails its check only loses its names here
                // (and is logged): the notice of every task stays up.
                Some((record, _)) => match state.publications.get(&record.bundle).and_then(|d| match d {
                    Some(draw) => draw.rows(),
                    None => Ok(Vec::new()),
                }) {
                    Ok(rows) => rows,
                    Err(e) => {
                        let problem = e.to_string();
                        let broken = crate::public::Broken {
                            name: record.bundle.clone(),
                            problem,
                        };
                        super::pages::report_broken(state, std::slice::from_ref(&broken));
                        Vec::new()
                    }
                },
                None => Vec::new(),
            };
            names.insert(
                task.clone(),
                rows.into_iter().map(|r| (r.credit_code, r.name)).collect(),
            );
            let authority = state
                .desk
                .announcement(&task)
                .await?
                .map(|(a, _)| a.plan.department().to_owned())
                .unwrap_or_default();
            authorities.insert(task.clone(), authority);
        }
        let result = &recorded.result;
        views.push(ResultView {
            task_id: task.clone(),
            credit_code: result.credit_code.clone(),
            name: names[&task].get(&result.credit_code).cloned().unwrap_or_default(),
            authority: authorities[&task].clone(),
            completed: result.inspection_date.to_string(),
            results: result
                .codes
                .iter()
                .map(|c| (c.clone(), label(c).unwrap_or("").to_owned()))
                .collect(),
            published_at: notice.to_string(),
        });
    }
    Ok(views)
}

#[derive(Serialize)]
pub struct ResultJson {
    task_id: String,
    credit_code: String,
    name: String,
    authority: String,
    completed: String,
    results: Vec<(String, String)>,
}

pub async fn published(State(state): State<AppState>) -> Result<Json<Vec<ResultJson>>, ApiError> {
    let views = published_views(&state).await?;
    Ok(Json(
        views
            .into_iter()
            .map(|v| ResultJson {
                task_id: v.task_id,
                credit_code: v.credit_code,
                name: v.name,
                authority: v.authority,
                completed: v.completed,
                results: v.results,
            })
            .collect(),
    ))
}

pub async fn page(State(state): State<AppState>) -> Result<Response, ApiError> {
    let views = published_views(&state).await?;
    let head = super::pages::head(&state).await?;
    Ok(Html(pages::results_page(&views, &head)).into_response())
}

pub async fn xlsx(State(state): State<AppState>) -> Result<Response, ApiError> {
    let views = published_views(&state).await?;
    let bytes = crate::public::exports::results_xlsx(&views).map_err(ApiError::internal)?;
    let kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    let disposition = "attachment; filename=\"results.xlsx\"";
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, kind),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
