//! The public pages (一公开) and downloads, plus the API's public reads that
//! come from published bundles. Handlers fetch, then call the pure renderers
//! in [`crate::public`]; only the `public/` copy of a bundle is ever read.
//! Every team shown or served comes from the draw's
//! [`CurrentList`](crate::public::CurrentList), so the page, the search, the
//! API and the downloads agree after a substitution.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::allowance::{Allowance, BUILDS_PER_CLIENT};
use super::error::ApiError;
use super::AppState;
use crate::desk::{Announcement, DrawRecord, SeedMethod, TaskError};
use crate::ids::CreditCode;
use crate::ledger::{Head, Key, Ledger};
use crate::public::catalogue::{Catalogue, Kept, Shown};
use crate::public::pages::{self, AnnouncementView, CheckpointLine, LedgerHead};
use crate::public::publications::{Broken, Publications, PublishedDraw};
use crate::public::search::{DrawStanding, Found, Hit, SEARCH_LIMIT};
use crate::seed::SeedSource;
use crate::standing::Standing;

/// What the public reads keep in memory between requests, each part keyed
/// by what it was made from, so that it is made again only when that changed.
pub struct Reads {
    /// The draws as read from their files ([`Catalogue`]).
    pub catalogue: Catalogue,
    /// The ledger opened a second time, read-only, for the public reads: a
    /// draw holds the service's own connection while it writes (for seconds
    /// on a national pool), and SQLite lets a reader go on meanwhile.
    ledger: Ledger,
    /// The home page's announcements, by the ledger head they were read at.
    announcements: std::sync::Mutex<Option<(LedgerKey, Arc<Vec<AnnouncementView>>)>>,
    /// The bundles recorded, as the publications were last brought up to
    /// date, and the head that was done at.
    synced: std::sync::Mutex<Option<(u64, Arc<Vec<String>>)>>,
    /// Held by the one request bringing the publications up to date.
    syncing: tokio::sync::Mutex<()>,
    /// The downloads being built, per client address.
    pub builds: Arc<Allowance>,
    /// Where each ceremony draw's ceremony was held, by bundle name, as
    /// read from its announcement ([`ceremony_place`]).
    places: std::sync::Mutex<std::collections::HashMap<String, Option<String>>>,
    /// One search runs per core at a time, the others wait their turn in
    /// order: a search is a scan of every drawn name (milliseconds at
    /// national scale), and a crowd of them sharing the cores all at once
    /// would each take as long as the crowd, with the slowest far longer.
    searches: Arc<tokio::sync::Semaphore>,
}

/// A ledger head: the ledger only grows, so the same head means the same entries.
type LedgerKey = (u64, String);

impl Reads {
    /// `ledger`: the service's ledger opened again to read
    /// ([`Ledger::open_existing`]).
    pub fn new(ledger: Ledger) -> Self {
        Reads {
            catalogue: Catalogue::new(),
            ledger,
            announcements: Default::default(),
            synced: Default::default(),
            syncing: Default::default(),
            builds: Allowance::new(BUILDS_PER_CLIENT),
            places: Default::default(),
            searches: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
        }
    }

    /// The ledger's head, read without waiting for a write under way.
    pub async fn head(&self) -> Result<Head, ApiError> {
        self.ledger.head().await.map_err(ApiError::internal)
    }
}

/// Runs blocking work (file reads, parsing, a scan of every row) off the
/// async workers, which keep answering meanwhile.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)
}

/// The body of a download kept in memory, handed out without a copy.
struct KeptBody(Arc<Vec<u8>>);

impl AsRef<[u8]> for KeptBody {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

fn kept_body(bytes: Arc<Vec<u8>>) -> axum::body::Bytes {
    axum::body::Bytes::from_owner(KeptBody(bytes))
}

fn page(html: String) -> Response {
    Html(html).into_response()
}

fn missing(what: &str) -> Response {
    (StatusCode::NOT_FOUND, Html(pages::not_found_page(what))).into_response()
}

/// The ledger head and the latest signed checkpoint, for a page's footer.
pub(super) async fn head(state: &AppState) -> Result<LedgerHead, ApiError> {
    let head = state.reads.head().await?;
    let signed = state
        .checkpoints
        .latest(&state.reads.ledger)
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
/// While one request does that, which may wait for a draw's writes, the
/// others are answered with the bundles recorded before.
async fn recorded(state: &AppState) -> Result<Publications, ApiError> {
    let reads = &state.reads;
    let head = reads.head().await?.seq;
    let known = reads.synced.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let drawn = match known {
        Some((at, drawn)) if at == head => drawn,
        known => {
            let one = match (reads.syncing.try_lock(), known) {
                (Ok(one), _) => one,
                (Err(_), Some((_, drawn))) => return Ok(state.publications.only(drawn.iter().cloned())),
                (Err(_), None) => reads.syncing.lock().await,
            };
            // Made at a head at or after `head`: newer than its key at worst,
            // and then made again at the next request.
            let drawn = state.desk.sync_publications(false).await?;
            *reads.synced.lock().unwrap_or_else(|e| e.into_inner()) = Some((head, drawn.clone()));
            drop(one);
            drawn
        }
    };
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

/// The recorded draws that can be shown, newest first; the others are
/// logged. Manifests unchanged since the last request are not read again.
/// A recorded draw whose cached files are missing (the cache may be deleted
/// at any moment) or were edited is rebuilt from the database and read once
/// more; one whose record itself fails its check stays refused.
async fn published(state: &AppState) -> Result<Vec<PublishedDraw>, ApiError> {
    let publications = recorded(state).await?;
    let list = |publications: Publications| {
        let reads = state.reads.clone();
        async move {
            blocking(move || reads.catalogue.list(&publications))
                .await?
                .map_err(ApiError::internal)
        }
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

/// Page `page` (from 1) of the hits of `q`, [`SEARCH_LIMIT`] to a page, and
/// how many there are in all: a scan of every row, off the async workers, in
/// the same trip as bringing the index up to date.
///
/// The index is made again only when the published files have changed, and
/// then only for the draws whose files changed ([`Catalogue::search_index`]).
/// Keyed by what the files show, not by the ledger: a draw or a substitution
/// is recorded in the ledger before its files are written, so an index built
/// in between would otherwise be kept with the old teams. A draw whose files
/// fail their check is rebuilt from the database once; if it still fails, it
/// is left out of the index (and logged) and the others are searched.
async fn find(state: &AppState, q: &str, page: usize) -> Result<Found, ApiError> {
    let publications = recorded(state).await?;
    let skip = (page - 1).saturating_mul(SEARCH_LIMIT);
    let search = |publications: Publications| {
        let reads = state.reads.clone();
        let q = q.to_owned();
        async move {
            // Held by the search itself, so a client that has gone does not
            // free its turn while the scan still runs.
            let turn = Arc::clone(&reads.searches)
                .acquire_owned()
                .await
                .map_err(ApiError::internal)?;
            blocking(move || {
                let _turn = turn;
                let (index, broken) = reads.catalogue.search_index(&publications)?;
                Ok::<_, std::io::Error>((index.find(&q, skip, SEARCH_LIMIT), broken))
            })
            .await?
            .map_err(ApiError::internal)
        }
    };
    let (mut found, mut broken) = search(publications.clone()).await?;
    if !broken.is_empty() {
        for b in &broken {
            state.desk.ensure_cached(&b.name).await?;
        }
        (found, broken) = search(publications).await?;
    }
    report_broken(state, &broken);
    Ok(found)
}

fn method_text(method: &SeedMethod) -> String {
    match method {
        SeedMethod::Ceremony { at, place: Some(place) } => {
            format!("公开摇号：{at}，地点：{place}，现场录入 / public ceremony at {at}, {place}")
        }
        SeedMethod::Ceremony { at, place: None } => format!("公开摇号：{at} 现场录入 / public ceremony at {at}"),
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
    // The head first: what is read after it can only be newer, and is then
    // read again at the next request, whose head has moved.
    let ledger_head = head(&state).await?;
    let draws = published(&state).await?;
    let key: LedgerKey = (ledger_head.seq, ledger_head.hash.clone());
    let kept = state
        .reads
        .announcements
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .filter(|(at, _)| *at == key)
        .map(|(_, views)| views.clone());
    let announcements = match kept {
        Some(views) => views,
        None => {
            let records = state
                .reads
                .ledger
                .all::<DrawRecord>()
                .await
                .map_err(ApiError::internal)?;
            let views: Vec<AnnouncementView> = state
                .reads
                .ledger
                .all::<Announcement>()
                .await
                .map_err(ApiError::internal)?
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
            let views = Arc::new(views);
            *state.reads.announcements.lock().unwrap_or_else(|e| e.into_inner()) = Some((key, views.clone()));
            views
        }
    };
    let html = blocking(move || pages::index_page(&draws, &announcements, &ledger_head)).await?;
    Ok(page(html))
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

/// A recorded draw read whole ([`Shown`]): from memory while its files are
/// as they were when last read (four `stat`s), otherwise read afresh, after
/// making sure its cached files are there. `None` for a name the ledger does
/// not record.
async fn shown(state: &AppState, name: &str) -> Result<Option<Arc<Shown>>, Fault> {
    let publications = recorded(state).await?;
    let reads = state.reads.clone();
    let (seen, wanted) = (publications.clone(), name.to_owned());
    let kept = blocking(move || reads.catalogue.cached(&seen, &wanted))
        .await?
        .map_err(|e| Fault::of(name, e))?;
    if let Some(shown) = kept {
        return Ok(Some(shown));
    }
    if publications.get_recorded(name) {
        state.desk.ensure_cached(name).await.map_err(ApiError::from)?;
    }
    let reads = state.reads.clone();
    let wanted = name.to_owned();
    blocking(move || reads.catalogue.get(&publications, &wanted))
        .await?
        .map_err(|e| Fault::of(name, e))
}

/// A page number from the query: absent is the first page; anything but a
/// whole number from 1 is `None`.
fn page_number(asked: Option<&str>) -> Option<usize> {
    match asked {
        None => Some(1),
        Some(text) => text.trim().parse::<usize>().ok().filter(|&page| page > 0),
    }
}

#[derive(Deserialize)]
pub struct DrawPageQuery {
    #[serde(default)]
    page: Option<String>,
}

/// 任务公告 of one draw, a page of its list at a time. A page the list does
/// not have is a 404 page, a page number that is not one a 400 page; both
/// say how many pages there are.
pub async fn draw_page(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
    Query(query): Query<DrawPageQuery>,
) -> Result<Response, ApiError> {
    let shown = match shown(&state, &name).await {
        Ok(Some(shown)) => shown,
        Ok(None) => return task_draw(&state, &name).await,
        Err(fault) => return Ok(fault.page(&state)),
    };
    let pages = pages::page_count(shown.list.len());
    let asked = query.page.as_deref();
    let Some(number) = page_number(asked) else {
        let html = pages::no_such_page(&name, asked.unwrap_or(""), pages);
        return Ok((StatusCode::BAD_REQUEST, Html(html)).into_response());
    };
    let place = ceremony_place(&state, &shown.draw).await?;
    let with_place;
    let draw = match place {
        Some(place) => {
            with_place = PublishedDraw {
                ceremony_place: Some(place),
                ..shown.draw.clone()
            };
            &with_place
        }
        None => &shown.draw,
    };
    // One page of at most ROWS_PER_PAGE rows, from the list and counts read
    // once: a fraction of a millisecond, so it is written here.
    match pages::draw_page_at(draw, &shown.list, &shown.items, number, &head(&state).await?) {
        Ok(html) => Ok(page(html)),
        Err(_) => Ok((
            StatusCode::NOT_FOUND,
            Html(pages::no_such_page(&name, &number.to_string(), pages)),
        )
            .into_response()),
    }
}

/// Where a ceremony draw's ceremony was held, from its announcement in the
/// ledger (the bundle does not hold it); read once per draw and kept.
async fn ceremony_place(state: &AppState, draw: &PublishedDraw) -> Result<Option<String>, ApiError> {
    let (SeedSource::Ceremony { .. }, Some(ledger)) = (&draw.manifest.seed.source, &draw.manifest.ledger) else {
        return Ok(None);
    };
    if let Some(known) = state
        .reads
        .places
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&draw.name)
    {
        return Ok(known.clone());
    }
    // The public reads' own connection: not held up by a draw's writes.
    let announced = state
        .reads
        .ledger
        .get(&Key::Announce(&ledger.task_id))
        .await
        .map_err(TaskError::from)?;
    let place = match announced
        .map(|entry| entry.typed::<Announcement>())
        .transpose()
        .map_err(TaskError::from)?
    {
        Some(Announcement {
            seed_method: SeedMethod::Ceremony { place, .. },
            ..
        }) => place,
        _ => None,
    };
    let mut places = state.reads.places.lock().unwrap_or_else(|e| e.into_inner());
    places.insert(draw.name.clone(), place.clone());
    Ok(place)
}

/// `/draws/TASK`, the task number printed on notices, opens the draw of that
/// task; anything else that is not a draw is not found.
async fn task_draw(state: &AppState, task_id: &str) -> Result<Response, ApiError> {
    match state.desk.draw_record(task_id).await? {
        Some((record, _)) => Ok(axum::response::Redirect::to(&format!("/draws/{}", record.bundle)).into_response()),
        None => Ok(missing(&format!("抽查任务 {task_id}"))),
    }
}

/// How long a client may keep a download before asking for it again.
#[derive(Clone, Copy)]
enum Freshness {
    /// A recorded draw's own file: a draw's name never holds other bytes.
    Immutable,
    /// Changes with a substitution or a results notice: asked for again
    /// each time, and answered "not modified" while it is the same.
    Revalidate,
}

impl Freshness {
    fn cache_control(self) -> &'static str {
        match self {
            Freshness::Immutable => "public, max-age=31536000, immutable",
            Freshness::Revalidate => "public, no-cache",
        }
    }
}

/// The headers that let a client keep a download: its entity tag (the
/// SHA-256 of its bytes, in quotes) and how long it stays fresh.
fn caching(sha256: &str, freshness: Freshness) -> [(header::HeaderName, String); 2] {
    [
        (header::ETAG, format!("\"{sha256}\"")),
        (header::CACHE_CONTROL, freshness.cache_control().to_owned()),
    ]
}

/// Whether the request's `If-None-Match` names the entity tag of `sha256`
/// (RFC 9110 §13.1.2: weak comparison, and `*` matches any), so the client
/// already holds the bytes.
fn held(request: &HeaderMap, sha256: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == sha256)
}

/// A download, or "not modified" to a client that holds it already.
fn attachment(request: &HeaderMap, download: Sent<'_>) -> Response {
    let caching = caching(download.sha256, download.freshness);
    if held(request, download.sha256) {
        return (StatusCode::NOT_MODIFIED, caching).into_response();
    }
    let disposition = format!("attachment; filename=\"{}\"", download.filename);
    (
        caching,
        [
            (header::CONTENT_TYPE, download.kind.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        download.bytes,
    )
        .into_response()
}

/// What [`attachment`] sends.
struct Sent<'a> {
    kind: &'a str,
    bytes: axum::body::Bytes,
    filename: String,
    sha256: &'a str,
    freshness: Freshness,
}

pub async fn download(
    State(state): State<AppState>,
    UrlPath((name, file)): UrlPath<(String, String)>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(kept) = Kept::named(&file) {
        let client = peer.map(|Extension(ConnectInfo(peer))| peer.ip());
        return kept_download(&state, &name, kept, client, &request).await;
    }
    // The files below are sent as the folder holds them: no list is read.
    let draw = match one_draw(&state, &name).await {
        Ok(Some(draw)) => draw,
        Ok(None) => return Ok(missing(&format!("抽查任务 {name}"))),
        Err(fault) => return Ok(fault.page(&state)),
    };
    match file.as_str() {
        // The list as drawn: the bundle's own public assignments.csv, byte
        // for byte, so its SHA-256 is the one the manifest records; a client
        // holding those bytes is told so without the file being read.
        "drawn.csv" => {
            let recorded = draw
                .manifest
                .files
                .iter()
                .find(|f| f.name == "assignments.csv")
                .map(|f| f.sha256.to_hex());
            if let Some(recorded) = &recorded {
                if held(&request, recorded) {
                    return Ok((StatusCode::NOT_MODIFIED, caching(recorded, Freshness::Immutable)).into_response());
                }
            }
            let checked = draw.clone();
            let bytes = match blocking(move || checked.drawn_bytes()).await? {
                Ok(bytes) => bytes,
                Err(e) => return Ok(Fault::of(&draw.name, e).page(&state)),
            };
            // The bytes were just checked against the recorded hash (which
            // they cannot pass without): not hashed a second time.
            let sha256 = recorded.unwrap_or_else(|| crate::snapshot::bytes_hash(&bytes).to_hex());
            Ok(attachment(
                &request,
                Sent {
                    kind: "text/csv; charset=utf-8",
                    bytes: bytes.into(),
                    filename: format!("{name}-assignments.csv"),
                    sha256: &sha256,
                    freshness: Freshness::Immutable,
                },
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
                    let freshness = match file.as_str() {
                        "substitutions.json" | "results.csv" => Freshness::Revalidate,
                        _ => Freshness::Immutable,
                    };
                    let sha256 = crate::snapshot::bytes_hash(&bytes).to_hex();
                    Ok(attachment(
                        &request,
                        Sent {
                            kind,
                            bytes: bytes.into(),
                            filename: format!("{name}-{file}"),
                            sha256: &sha256,
                            freshness,
                        },
                    ))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(missing(&file)),
                Err(e) => Err(ApiError::internal(e)),
            }
        }
        _ => Ok(missing(&file)),
    }
}

/// The downloads made from a draw as it stands, kept with it ([`Shown`]):
/// the current list as CSV or Excel (the teams after any substitutions,
/// beside the teams as drawn; named so, because it is not the hashed
/// record) and the public copy as a zip. Each is made at its first download
/// and sent as it is until a substitution or a results notice changes the
/// draw, so a crowd of downloaders costs one build, not one each; a client
/// may have only so many builds under way ([`Allowance`]).
async fn kept_download(
    state: &AppState,
    name: &str,
    kept: Kept,
    client: Option<IpAddr>,
    request: &HeaderMap,
) -> Result<Response, ApiError> {
    let shown = match shown(state, name).await {
        Ok(Some(shown)) => shown,
        Ok(None) => return Ok(missing(&format!("抽查任务 {name}"))),
        Err(fault) => return Ok(fault.page(state)),
    };
    let made = match shown.kept(kept) {
        Some(made) => made,
        None => {
            let Some(turn) = state.reads.builds.take(client) else {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_requests",
                    "this address has downloads being built already; try again when they are done",
                ));
            };
            // The turn is given back when the build ends, even if the
            // client has gone by then.
            blocking(move || {
                let _turn = turn;
                shown.build(kept)
            })
            .await?
            .map_err(ApiError::internal)?
        }
    };
    let (kind, filename) = match kept {
        Kept::CurrentCsv => ("text/csv; charset=utf-8", format!("{name}-current.csv")),
        Kept::CurrentXlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            format!("{name}-current.xlsx"),
        ),
        Kept::Zip => ("application/zip", format!("{name}.zip")),
    };
    Ok(attachment(
        request,
        Sent {
            kind,
            bytes: kept_body(Arc::clone(&made.bytes)),
            filename,
            sha256: &made.sha256,
            freshness: Freshness::Revalidate,
        },
    ))
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
    #[serde(default)]
    page: Option<String>,
}

/// "Was this business drawn?", a page of hits at a time (`?page=N`). A
/// page beyond the last is a 404 page that says how many there are; a page
/// number that is not one, a 400 page.
pub async fn search_page(
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> Result<Response, ApiError> {
    let Some(number) = page_number(query.page.as_deref()) else {
        let found = Found::default();
        let html = pages::search_page_found(&query.q, &found, &[], SEARCH_LIMIT, &head(&state).await?);
        return Ok((StatusCode::BAD_REQUEST, Html(html)).into_response());
    };
    let found = find(&state, &query.q, number).await?;
    let status = if found.hits.is_empty() && found.total > 0 {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    // A whole credit code is also told where it stood in each draw; on the
    // first page only, as the hits of a code fit on one.
    let standings = match (whole_code(&query.q), number) {
        (Some(code), 1) => standings(&state, &code).await?,
        _ => Vec::new(),
    };
    let html = pages::search_page_found(&query.q, &found, &standings, SEARCH_LIMIT, &head(&state).await?);
    Ok((status, Html(html)).into_response())
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
    /// Its inspection result, once a results notice has published it.
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<HitResultJson>,
}

#[derive(Serialize)]
pub struct HitResultJson {
    /// The national result codes, each with its label.
    results: Vec<(String, String)>,
    completed: String,
    published_on: String,
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
            result: hit.result.map(|r| HitResultJson {
                results: r
                    .codes
                    .iter()
                    .map(|c| (c.clone(), crate::results::label(c).unwrap_or("").to_owned()))
                    .collect(),
                completed: r.completed,
                published_on: r.published_on,
            }),
        }
    }
}

/// The hits of `q` as JSON, [`SEARCH_LIMIT`] to a page (`?page=N`, from 1),
/// with the number of hits in all in `X-Total-Count`.
pub async fn search_api(State(state): State<AppState>, Query(query): Query<SearchQuery>) -> Result<Response, ApiError> {
    if query.q.trim().is_empty() {
        return Err(ApiError::bad_request("q must not be empty"));
    }
    let number = page_number(query.page.as_deref())
        .ok_or_else(|| ApiError::bad_request("page must be a whole number from 1"))?;
    let found = find(&state, &query.q, number).await?;
    if found.hits.is_empty() && found.total > 0 {
        return Err(ApiError::not_found(format!(
            "there is no page {number}: {} hits, {} to a page",
            found.total, SEARCH_LIMIT
        )));
    }
    let total = found.total.to_string();
    let hits: Vec<HitJson> = found.hits.into_iter().map(HitJson::from).collect();
    Ok(([(header::HeaderName::from_static("x-total-count"), total)], Json(hits)).into_response())
}

/// `q` as a whole 统一社会信用代码, in any case; `None` if it is not one.
fn whole_code(q: &str) -> Option<CreditCode> {
    CreditCode::parse_typed(q).ok()
}

/// Where the business `code` stood in each published draw, newest
/// inspection first. A draw whose inputs cannot be read just now is
/// listed without a standing, and logged; it takes no other draw down.
async fn standings(state: &AppState, code: &CreditCode) -> Result<Vec<DrawStanding>, ApiError> {
    let publications = recorded(state).await?;
    let names = publications.names().map_err(ApiError::internal)?;
    let mut rows = Vec::with_capacity(names.len());
    for name in names {
        let Ok(Some(shown)) = shown(state, &name).await else {
            continue; // a broken bundle: its own page says so
        };
        // A failure is logged where the scope is built, once.
        let standing = state
            .desk
            .draw_scope(&name)
            .await
            .ok()
            .map(|scope| scope.standing(code));
        let plan = &shown.draw.manifest.plan;
        rows.push(DrawStanding {
            draw_name: name,
            plan_id: plan.id.clone(),
            plan_name: plan.name.clone(),
            inspection_date: plan.content.inspection_date().to_string(),
            standing,
        });
    }
    rows.sort_by(|a, b| {
        b.inspection_date
            .cmp(&a.inspection_date)
            .then_with(|| a.draw_name.cmp(&b.draw_name))
    });
    Ok(rows)
}

#[derive(Serialize)]
pub struct StandingJson {
    draw: String,
    plan_id: String,
    plan_name: String,
    inspection_date: String,
    /// `drawn`, `in_scope_not_drawn`, `recently_inspected`,
    /// `no_item_applies`, `outside_filters` or `not_listed`; `null` when
    /// the draw's inputs could not be read just now.
    standing: Option<&'static str>,
}

/// Where one business, by its whole credit code, stood in each published
/// draw: drawn, in the plan's scope and not drawn, or out of it and why.
pub async fn standing_api(
    State(state): State<AppState>,
    UrlPath(code): UrlPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let parsed = CreditCode::parse_typed(&code)
        .map_err(|e| ApiError::bad_request(format!("not a 统一社会信用代码 (unified social credit code): {e}")))?;
    let draws: Vec<StandingJson> = standings(&state, &parsed)
        .await?
        .into_iter()
        .map(|row| StandingJson {
            draw: row.draw_name,
            plan_id: row.plan_id,
            plan_name: row.plan_name,
            inspection_date: row.inspection_date,
            standing: row.standing.map(Standing::code),
        })
        .collect();
    Ok(Json(
        serde_json::json!({ "credit_code": parsed.as_str(), "draws": draws }),
    ))
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
    let shown = shown(&state, &record.bundle)
        .await
        .map_err(|fault| fault.api(&state))?
        .ok_or_else(|| ApiError::internal("a recorded bundle is missing"))?;
    let list = &shown.list;
    let per_page = paging.per_page.clamp(1, 1000);
    let page = paging.page.max(1);
    let total = list.len();
    let chosen: Vec<RowJson> = list
        .rows
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|current| {
            let r = &current.drawn;
            RowJson {
                number: r.number,
                credit_code: r.credit_code.clone(),
                name: r.name.clone(),
                items: r.items.clone(),
                item_names: r.item_names.clone(),
                leader: current.leader().to_owned(),
                team: current.team.clone(),
                drawn_team: r.team.clone(),
                substitutions: current.substitution_seqs(),
                departments: r.departments.clone(),
                merged_with: r.merged_with.clone(),
            }
        })
        .collect();
    Ok(Json(
        serde_json::json!({ "task_id": task_id, "page": page, "per_page": per_page, "total": total, "rows": chosen }),
    ))
}
