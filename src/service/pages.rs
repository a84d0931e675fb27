//! The public pages (一公开) and downloads, plus the API's public reads that
//! come from published bundles. Handlers fetch, then call the pure renderers
//! in [`crate::public`]; only the `public/` copy of a bundle is ever read.
//! Every team shown or served comes from the draw's
//! [`CurrentList`](crate::public::CurrentList), so the page, the search, the
//! API and the downloads agree after a substitution.

use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::AppState;
use crate::desk::{Announcement, SeedMethod};
use crate::public::current::CurrentList;
use crate::public::pages::{self, AnnouncementView, CheckpointLine, LedgerHead};
use crate::public::publications::{Broken, Publications, PublishedDraw};
use crate::public::search::{Hit, SearchIndex, SEARCH_LIMIT};

fn page(html: String) -> Response {
    Html(html).into_response()
}

fn missing(what: &str) -> Response {
    (StatusCode::NOT_FOUND, Html(pages::not_found_page(what))).into_response()
}

/// The ledger head and the latest signed checkpoint, for a page's footer.
pub(super) async fn head(state: &AppState) -> Result<LedgerHead, ApiError> {
    let head = state.desk.ledger.head().await.map_err(ApiError::internal)?;
    let signed = state
        .checkpoints
        .latest(&state.desk.ledger)
        .await
        .map_err(ApiError::internal)?;
    Ok(LedgerHead {
        seq: head.seq,
        hash: head.hash.to_hex(),
        checkpoint: Some(CheckpointLine {
            size: signed.checkpoint.size,
            root: crate::desk::checkpoint::base64(&signed.checkpoint.root),
        }),
    })
}

/// The publications folder seen through the ledger: only the bundles a
/// `draw_made` entry records are read, so a folder copied in by hand is
/// never served as a draw.
/// The cache is brought up to date first when the ledger head has moved
/// (one head query), so what another host recorded is served here at once.
async fn recorded(state: &AppState) -> Result<Publications, ApiError> {
    let drawn = state.desk.sync_publications(false).await?;
    Ok(state.publications.only(drawn.iter().cloned()))
}

/// Logs each bundle that fails its check once per problem, not on every
/// request that meets it: its own pages say so to the public meanwhile.
pub(super) fn report_broken(state: &AppState, broken: &[Broken]) {
    let mut reported = state.broken.lock().unwrap_or_else(|e| e.into_inner());
    for b in broken {
        if reported.get(&b.name) != Some(&b.problem) {
            tracing::error!(
                draw = %b.name,
                problem = %b.problem,
                "a published bundle fails its check: its pages say so, every other draw is served"
            );
            reported.insert(b.name.clone(), b.problem.clone());
        }
    }
}

/// Why one draw cannot be served: it fails its check (its own error, never
/// the other draws'), or the service itself failed.
enum Fault {
    Broken(Broken),
    Api(ApiError),
}

impl From<ApiError> for Fault {
    fn from(e: ApiError) -> Self {
        Fault::Api(e)
    }
}

impl Fault {
    /// A bundle that fails its check is an [`std::io::ErrorKind::InvalidData`]
    /// error of [`Publications`] or [`PublishedDraw`].
    fn of(name: &str, error: std::io::Error) -> Fault {
        if error.kind() == std::io::ErrorKind::InvalidData {
            Fault::Broken(Broken {
                name: name.to_owned(),
                problem: error.to_string(),
            })
        } else {
            Fault::Api(ApiError::internal(error))
        }
    }

    /// For a public page: the draw's own error page.
    fn page(self, state: &AppState) -> Response {
        match self {
            Fault::Broken(broken) => {
                report_broken(state, std::slice::from_ref(&broken));
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html(pages::broken_draw_page(&broken.name)),
                )
                    .into_response()
            }
            Fault::Api(e) => e.into_response(),
        }
    }

    /// For the API: an error that names the draw.
    fn api(self, state: &AppState) -> ApiError {
        match self {
            Fault::Broken(broken) => {
                report_broken(state, std::slice::from_ref(&broken));
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "bundle_fails_check",
                    format!(
                        "the published files of draw {} fail their check; other draws are not affected",
                        broken.name
                    ),
                )
            }
            Fault::Api(e) => e,
        }
    }
}

/// The recorded draws that can be shown; the others are logged.
/// A recorded draw whose cached files are missing (the cache may be deleted
/// at any moment) or were edited is rebuilt from the database and read once
/// more; one whose record itself fails its check stays refused.
async fn published(state: &AppState) -> Result<Vec<PublishedDraw>, ApiError> {
    let publications = recorded(state).await?;
    let list = |publications: Publications| async move {
        tokio::task::spawn_blocking(move || publications.list_checked())
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)
    };
    let (mut draws, mut broken) = list(publications.clone()).await?;
    if !broken.is_empty() {
        for b in &broken {
            state.desk.ensure_cached(&b.name).await?;
        }
        (draws, broken) = list(publications).await?;
    }
    report_broken(state, &broken);
    Ok(draws)
}

/// The search index, rebuilt only when the published files have changed.
///
/// Keyed by what the files show, not by the ledger: a draw or a substitution
/// is recorded in the ledger before its files are written, so an index built
/// in between would otherwise be kept with the old teams. The fingerprint is
/// taken before the files are read, so an index can only be fresher than its
/// key, and the next search then rebuilds it. A draw whose files fail their
/// check is left out of the index (and logged); the others are searched.
async fn index(state: &AppState) -> Result<Arc<SearchIndex>, ApiError> {
    let publications = recorded(state).await?;
    let fingerprint = tokio::task::spawn_blocking(move || publications.fingerprint())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    if let Some((built_at, index)) = state.search.read().await.as_ref() {
        if *built_at == fingerprint {
            return Ok(index.clone());
        }
    }
    let draws = published(state).await?;
    let (built, broken) = tokio::task::spawn_blocking(move || SearchIndex::build_skipping(&draws))
        .await
        .map_err(ApiError::internal)?;
    report_broken(state, &broken);
    let built = Arc::new(built);
    *state.search.write().await = Some((fingerprint, built.clone()));
    Ok(built)
}

fn method_text(method: &SeedMethod) -> String {
    match method {
        SeedMethod::Ceremony { at } => format!("公开摇号：{at} 现场录入 / public ceremony at {at}"),
        SeedMethod::Beacon {
            chain,
            round,
            round_time,
        } => {
            format!("公共随机信标 drand {chain} 第 {round} 轮（{round_time}）/ public beacon round")
        }
        SeedMethod::Commit { commitment, beacon } => match beacon {
            None => format!("服务器承诺—揭示，承诺值 {commitment} / server commit–reveal"),
            Some(b) => format!(
                "服务器承诺—揭示 + drand {} 第 {} 轮，承诺值 {commitment} / commit–reveal with a beacon round",
                b.chain, b.round
            ),
        },
    }
}

fn announcement_view(announcement: &Announcement, announced_at: String, drawn: Option<String>) -> AnnouncementView {
    AnnouncementView {
        task_id: announcement.task_id.clone(),
        plan_id: announcement.plan.id().to_owned(),
        plan_name: announcement.plan.name().to_owned(),
        department: announcement.plan.department().to_owned(),
        inspection_date: announcement.plan.inspection_date().to_string(),
        seed_method: if announcement.unannounced {
            "未事先公告的临时抽取 / ad hoc, not announced in advance".into()
        } else {
            method_text(&announcement.seed_method)
        },
        announced_at,
        snapshot_combined: announcement.snapshot_combined.to_hex(),
        drawn,
    }
}

pub async fn home(State(state): State<AppState>) -> Result<Response, ApiError> {
    let draws = published(&state).await?;
    let records = state.desk.draw_records().await?;
    let announcements: Vec<AnnouncementView> = state
        .desk
        .announcements()
        .await?
        .iter()
        .rev()
        .map(|(a, entry)| {
            let drawn = records
                .iter()
                .find(|(r, _)| r.task_id == a.task_id)
                .map(|(r, _)| r.bundle.clone());
            announcement_view(a, entry.recorded_at.clone(), drawn)
        })
        .collect();
    Ok(page(pages::index_page(&draws, &announcements, &head(&state).await?)))
}

/// A recorded draw by its bundle name; `None` for a name the ledger does
/// not record.
async fn one_draw(state: &AppState, name: &str) -> Result<Option<PublishedDraw>, Fault> {
    let publications = recorded(state).await?;
    if publications.get_recorded(name) {
        state.desk.ensure_cached(name).await.map_err(ApiError::from)?;
    }
    let wanted = name.to_owned();
    tokio::task::spawn_blocking(move || publications.get(&wanted))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| Fault::of(name, e))
}

/// The draw's list with the teams as they stand now.
async fn current_of(draw: &PublishedDraw) -> Result<CurrentList, Fault> {
    let shown = draw.clone();
    tokio::task::spawn_blocking(move || shown.current())
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| Fault::of(&draw.name, e))
}

#[derive(Deserialize)]
pub struct DrawPageQuery {
    #[serde(default = "first")]
    page: usize,
}

pub async fn draw_page(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
    Query(query): Query<DrawPageQuery>,
) -> Result<Response, ApiError> {
    let draw = match one_draw(&state, &name).await {
        Ok(Some(draw)) => draw,
        Ok(None) => return Ok(missing(&format!("抽查任务 {name}"))),
        Err(fault) => return Ok(fault.page(&state)),
    };
    let list = match current_of(&draw).await {
        Ok(list) => list,
        Err(fault) => return Ok(fault.page(&state)),
    };
    Ok(page(pages::draw_page_paged(
        &draw,
        &list,
        query.page,
        &head(&state).await?,
    )))
}

pub async fn download(
    State(state): State<AppState>,
    UrlPath((name, file)): UrlPath<(String, String)>,
) -> Result<Response, ApiError> {
    let draw = match one_draw(&state, &name).await {
        Ok(Some(draw)) => draw,
        Ok(None) => return Ok(missing(&format!("抽查任务 {name}"))),
        Err(fault) => return Ok(fault.page(&state)),
    };
    let attachment = |kind: &'static str, bytes: Vec<u8>, filename: String| {
        let disposition = format!("attachment; filename=\"{filename}\"");
        (
            [
                (header::CONTENT_TYPE, kind.to_owned()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            bytes,
        )
            .into_response()
    };
    match file.as_str() {
        // The current list: the teams after any substitutions, beside the
        // teams as drawn. Named so, because it is not the hashed record.
        "assignments.csv" => {
            let list = match current_of(&draw).await {
                Ok(list) => list,
                Err(fault) => return Ok(fault.page(&state)),
            };
            let bytes = crate::public::exports::current_csv(&draw, &list);
            Ok(attachment(
                "text/csv; charset=utf-8",
                bytes,
                format!("{name}-current.csv"),
            ))
        }
        "assignments.xlsx" => {
            let list = match current_of(&draw).await {
                Ok(list) => list,
                Err(fault) => return Ok(fault.page(&state)),
            };
            let bytes = crate::public::exports::assignments_xlsx(&draw, &list).map_err(ApiError::internal)?;
            let kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
            Ok(attachment(kind, bytes, format!("{name}-current.xlsx")))
        }
        // The list as drawn: the bundle's own public assignments.csv, byte
        // for byte, so its SHA-256 is the one the manifest records.
        "drawn.csv" => {
            let checked = draw.clone();
            let bytes = match tokio::task::spawn_blocking(move || checked.drawn_bytes())
                .await
                .map_err(ApiError::internal)?
            {
                Ok(bytes) => bytes,
                Err(e) => return Ok(Fault::of(&draw.name, e).page(&state)),
            };
            Ok(attachment(
                "text/csv; charset=utf-8",
                bytes,
                format!("{name}-assignments.csv"),
            ))
        }
        // Added to the public copy after the draw; absent until then. The
        // rest of the public copy too, for the browser verifier, which
        // checks them itself (merge.csv exists only for plans that merge).
        "substitutions.json" | "results.csv" | "manifest.json" | "plan.json" | "history.csv" | "merge.csv" => {
            let path = draw.public_dir().join(&file);
            match tokio::fs::read(&path).await {
                Ok(bytes) => {
                    let kind = if file.ends_with(".json") {
                        "application/json"
                    } else {
                        "text/csv; charset=utf-8"
                    };
                    Ok(attachment(kind, bytes, format!("{name}-{file}")))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(missing(&file)),
                Err(e) => Err(ApiError::internal(e)),
            }
        }
        "bundle.zip" => {
            let bytes = crate::public::exports::bundle_zip(&draw).map_err(ApiError::internal)?;
            Ok(attachment("application/zip", bytes, format!("{name}.zip")))
        }
        _ => Ok(missing(&file)),
    }
}

/// The verifiers, specification and golden vectors the binary carries.
pub async fn asset(UrlPath(path): UrlPath<String>) -> Response {
    let Some(asset) = crate::public::assets::asset(&path) else {
        return missing(&path);
    };
    let mut response = ([(header::CONTENT_TYPE, asset.content_type)], asset.bytes).into_response();
    if let Some(name) = asset.download {
        let disposition = format!("attachment; filename=\"{name}\"");
        if let Ok(value) = header::HeaderValue::from_str(&disposition) {
            response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
        }
    }
    response
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub async fn search_page(
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> Result<Response, ApiError> {
    let hits = index(&state).await?.search(&query.q, SEARCH_LIMIT);
    Ok(page(pages::search_page(&query.q, &hits, &head(&state).await?)))
}

pub async fn verify_page(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(page(pages::verify_page(&head(&state).await?)))
}

#[derive(Serialize)]
pub struct HitJson {
    draw: String,
    plan_id: String,
    plan_name: String,
    inspection_date: String,
    credit_code: String,
    name: String,
    items: Vec<String>,
    /// The current leader and team, after any substitutions.
    leader: String,
    team: Vec<String>,
    /// The team as drawn, leader first.
    drawn_team: Vec<String>,
    /// The numbers of the substitutions made on this visit.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    substitutions: Vec<u32>,
}

impl From<Hit> for HitJson {
    fn from(hit: Hit) -> Self {
        HitJson {
            draw: hit.draw_name,
            plan_id: hit.plan_id,
            plan_name: hit.plan_name,
            inspection_date: hit.inspection_date,
            credit_code: hit.credit_code,
            name: hit.name,
            items: hit.items,
            leader: hit.leader,
            team: hit.team,
            drawn_team: hit.drawn_team,
            substitutions: hit.substitutions,
        }
    }
}

pub async fn search_api(
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Vec<HitJson>>, ApiError> {
    if query.q.trim().is_empty() {
        return Err(ApiError::bad_request("q must not be empty"));
    }
    let hits = index(&state).await?.search(&query.q, SEARCH_LIMIT);
    Ok(Json(hits.into_iter().map(HitJson::from).collect()))
}

#[derive(Deserialize)]
pub struct RowsPage {
    #[serde(default = "first")]
    page: usize,
    #[serde(default = "hundred")]
    per_page: usize,
}

fn first() -> usize {
    1
}

fn hundred() -> usize {
    100
}

#[derive(Serialize)]
pub struct RowJson {
    number: u32,
    credit_code: String,
    name: String,
    items: Vec<String>,
    item_names: Vec<String>,
    /// The current leader and team, after any substitutions (spec §12).
    leader: String,
    team: Vec<String>,
    /// The team as drawn, leader first: the bundle's `assignments.csv`.
    drawn_team: Vec<String>,
    /// The numbers of the substitutions made on this visit.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    substitutions: Vec<u32>,
    /// Joint plans only (spec §13): each department's share of `team`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    departments: Vec<String>,
    /// Merging plans only (spec §14): the earlier plan this visit joins.
    #[serde(skip_serializing_if = "Option::is_none")]
    merged_with: Option<String>,
}

/// A draw's public rows with their current teams, a page at a time.
pub async fn assignments_api(
    State(state): State<AppState>,
    UrlPath(task_id): UrlPath<String>,
    Query(paging): Query<RowsPage>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (record, _) = state
        .desk
        .draw_record(&task_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task {task_id} has not been drawn")))?;
    let draw = one_draw(&state, &record.bundle)
        .await
        .map_err(|fault| fault.api(&state))?
        .ok_or_else(|| ApiError::internal("a recorded bundle is missing"))?;
    let list = current_of(&draw).await.map_err(|fault| fault.api(&state))?;
    let per_page = paging.per_page.clamp(1, 1000);
    let page = paging.page.max(1);
    let total = list.len();
    let chosen: Vec<RowJson> = list
        .rows
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|current| {
            let leader = current.leader().to_owned();
            let substitutions = current.substitution_seqs();
            let r = current.drawn;
            RowJson {
                number: r.number,
                credit_code: r.credit_code,
                name: r.name,
                items: r.items,
                item_names: r.item_names,
                leader,
                team: current.team,
                drawn_team: r.team,
                substitutions,
                departments: r.departments,
                merged_with: r.merged_with,
            }
        })
        .collect();
    Ok(Json(
        serde_json::json!({ "task_id": task_id, "page": page, "per_page": per_page, "total": total, "rows": chosen }),
    ))
}
