//! The service: `shuangsui serve`. An axum router over the task desk, with
//! the operator API behind a bearer token and everything else read-only.
//! [`app`] builds the router apart from serving it, so tests drive it
//! without a socket.

pub mod allowance;
pub mod api;
pub mod checkpoints;
pub mod config;
pub mod data_dir;
pub mod edge;
pub mod error;
pub mod jobs;
pub mod pages;
pub mod results;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use subtle::ConstantTimeEq;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use self::config::{Config, Token};
use self::error::ApiError;
use self::jobs::Jobs;
use crate::calendar::WorkCalendar;
use crate::clock::{Clock, OfficeClock};
use crate::desk::checkpoint::{open_or_create_key, Checkpoints, KeyError};
use crate::desk::Desk;
use crate::lease::{run_leased, Lease, SchedulerStatus};
use crate::ledger::Ledger;
use crate::public::publications::Publications;
use crate::schedule::Schedule;
use crate::scheduled::DeskExecutor;

#[derive(Clone)]
pub struct AppState {
    pub desk: Arc<Desk>,
    pub token: Option<Token>,
    pub plans_dir: PathBuf,
    pub publications: Publications,
    /// What the public reads keep between requests: the draws as read and
    /// the search index over them.
    pub reads: Arc<pages::Reads>,
    /// The working-day calendar, for result deadlines: the official tables,
    /// and provisional years after them.
    pub calendar: Arc<WorkCalendar>,
    /// The ledger's signed checkpoints and its Merkle tree.
    pub checkpoints: Arc<Checkpoints>,
    /// The published bundles found failing their check, with the problem
    /// last logged for each, so each is logged once and not per request.
    pub broken: Arc<std::sync::Mutex<std::collections::BTreeMap<String, String>>>,
    /// Whether this instance holds the scheduler lease ([`crate::lease`]).
    pub scheduler: Arc<SchedulerStatus>,
    /// The operator's long operations, run detached from their requests.
    pub jobs: Arc<Jobs>,
}

/// Proof that a request carried the operator's bearer token.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let expected = state.token.as_ref().ok_or_else(ApiError::unauthorized)?;
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(ApiError::unauthorized)?;
        // Constant time, so the comparison does not leak how much matched.
        if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            Ok(Operator)
        } else {
            Err(ApiError::unauthorized())
        }
    }
}

/// The largest request body accepted: plans are a few kilobytes.
const BODY_LIMIT: usize = 256 * 1024;
/// Long operations run as jobs ([`jobs`]) and answer within the job wait,
/// so nothing should take a minute; a request cut off here cancels no job.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

pub fn app(state: AppState) -> Router {
    let headers = Arc::new(edge::security_headers(crate::public::pages::STYLE));
    let api = Router::new()
        .route("/pools", get(api::pools))
        .route("/announcements", get(api::announcements).post(api::announce))
        .route("/announcements/{task_id}", get(api::announcement))
        .route("/draws", get(api::draws).post(api::draw))
        .route("/draws/{task_id}", get(api::draw_detail))
        .route("/adhoc-draws", post(api::draw_unannounced))
        .route("/jobs/{job_id}", get(api::job))
        .route("/ledger/head", get(api::ledger_head))
        .route("/ledger", get(api::ledger_entries))
        .route("/ledger/verify", post(api::verify_ledger))
        .route("/ledger/checkpoint", get(checkpoints::checkpoint))
        .route("/ledger/checkpoint/key", get(checkpoints::key))
        .route("/ledger/proof/inclusion", get(checkpoints::inclusion))
        .route("/ledger/proof/consistency", get(checkpoints::consistency))
        .route("/search", get(pages::search_api))
        .route("/standing/{credit_code}", get(pages::standing_api))
        .route("/results", get(results::published).post(results::record))
        .route("/results/publish", post(results::publish))
        .route("/results/due", get(results::due))
        .route("/draws/{task_id}/assignments", get(pages::assignments_api))
        .route(
            "/draws/{task_id}/substitutions",
            get(api::substitutions).post(api::substitute),
        )
        .route("/openapi.json", get(openapi))
        .fallback(|| async { ApiError::not_found("no such endpoint") });
    Router::new()
        .nest("/api/v1", api)
        .route("/", get(pages::home))
        .route("/search", get(pages::search_page))
        .route("/verify", get(pages::verify_page))
        .route("/results", get(results::page))
        .route("/results.xlsx", get(results::xlsx))
        .route("/draws/{name}", get(pages::draw_page))
        .route("/draws/{name}/{file}", get(pages::download))
        .route("/static/{*path}", get(pages::asset))
        .route("/healthz", get(|| async { "ok" }))
        .route("/healthz/scheduler", get(scheduler_status))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        // Outermost, so that what the layers above answer passes them too.
        .layer(axum::middleware::from_fn(edge::json_errors))
        .layer(axum::middleware::from_fn(move |request, next| {
            edge::with_security_headers(headers.clone(), request, next)
        }))
        .with_state(state)
}

/// Whether this instance runs the scheduler, for operators and their
/// monitoring: `{"role": "holder"|"standby"|"off", …}`.
async fn scheduler_status(State(state): State<AppState>) -> impl IntoResponse {
    axum::Json(state.scheduler.report())
}

/// The OpenAPI document, pinned by a snapshot test.
pub const OPENAPI: &str = include_str!("../../docs/openapi.json");

async fn openapi(State(_): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    #[error(transparent)]
    Task(#[from] crate::desk::TaskError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Schedule(#[from] crate::schedule::ScheduleError),
    #[error(transparent)]
    Calendar(#[from] crate::calendar::CalendarError),
    #[error(transparent)]
    DataDir(#[from] data_dir::DataDirError),
    #[error(transparent)]
    CheckpointKey(#[from] KeyError),
}

/// Opens the ledger and the desk for a configuration: refuses a database
/// the data folder does not belong to, brings the ledger's schema up to
/// date (as the owner role when one is configured), and on first start
/// creates the data folder, records its database and seeds the default live
/// pools (see [`data_dir`]). Every time the service records or checks is
/// read from `clock` in the configured time zone.
pub async fn state(config: &Config, clock: Arc<dyn Clock>) -> Result<AppState, ServeError> {
    let recorded = data_dir::claim(config)?;
    if let Some(recorded) = recorded.as_ref().filter(|r| r.id.is_some()) {
        // Before anything is made in it: an empty database at the URL is
        // refused as surely as another office's.
        let found = Ledger::probe_id(&config.database_url).await?;
        data_dir::check_id(config, recorded, found.as_deref())?;
    }
    if data_dir::seed_pools(config)? {
        tracing::info!(
            pools = %config.pools_dir.display(),
            sample = %config.sample_pools.as_deref().unwrap_or(std::path::Path::new("")).display(),
            "seeded the live pools from the sample"
        );
    }
    if config.migration_database_url.is_none() && !config.database_url.starts_with("sqlite:") {
        tracing::warn!(
            "the service's database role also owns the ledger, so it could drop the triggers that \
             keep it append-only; set migration_database_url to an owner role (README, PostgreSQL)"
        );
    }
    let ledger = Ledger::open_as(&config.database_url, config.migration_url()).await?;
    data_dir::record(config, recorded.as_ref(), ledger.database_id().await?)?;
    // Created at first start; every host of one ledger must be given the same file.
    let signer = open_or_create_key(
        &config.checkpoint_key_path(),
        config.ledger_origin.as_deref(),
        &config.default_origin(),
    )?;
    let time = OfficeClock::new(clock, config.time_zone);
    let mut desk = Desk::new(ledger, config.pools_dir.clone(), &config.data_dir, time)?;
    desk.seed_times = config.seed_times;
    // Snapshots and secrets a data folder kept on disk before the database
    // held them; checked against the entries that name them.
    desk.import_legacy_snapshots().await?;
    // The cache made to match the database: bundles of a data folder made
    // before the database held them are imported, every cached file is
    // compared with its record and rebuilt where it differs.
    desk.sync_publications(true).await?;
    let jobs = Jobs::new(desk.ledger.pool().clone(), desk.time.clone(), config.job_wait);
    let reader = Ledger::open_existing(&config.database_url).await?;
    let publications = Publications::open(&desk.publications_dir);
    let calendar = WorkCalendar::load_dir(&config.holidays_dir)?;
    Ok(AppState {
        desk: Arc::new(desk),
        token: config.token.clone(),
        plans_dir: config.plans_dir.clone(),
        publications,
        reads: Arc::new(pages::Reads::new(reader)),
        calendar: Arc::new(calendar),
        checkpoints: Arc::new(Checkpoints::new(signer)),
        broken: Default::default(),
        scheduler: Arc::new(SchedulerStatus::default()),
        jobs: Arc::new(jobs),
    })
}

/// The desk of an existing data folder, for `ledger verify`: creates
/// nothing, and refuses a folder that is missing, belongs to another
/// database, or has published draws but an empty ledger.
pub async fn existing_desk(config: &Config, clock: Arc<dyn Clock>) -> Result<Desk, ServeError> {
    let recorded = data_dir::check_existing(config)?;
    let ledger = Ledger::open_existing(&config.database_url).await?;
    if let Some(recorded) = &recorded {
        data_dir::check_id(config, recorded, ledger.database_id().await?.as_deref())?;
    }
    let time = OfficeClock::new(clock, config.time_zone);
    let desk = Desk::open_existing(ledger, config.pools_dir.clone(), &config.data_dir, time);
    let count = data_dir::published_draws(&desk.publications_dir);
    if count > 0 && desk.ledger.head().await? == crate::ledger::Head::GENESIS {
        return Err(data_dir::DataDirError::EmptyLedger {
            database: data_dir::Database::of_url(&config.database_url).to_string(),
            publications: desk.publications_dir.display().to_string(),
            count,
        }
        .into());
    }
    Ok(desk)
}

/// How long before the official holiday tables run out the service warns at
/// start: the State Council's notice usually comes in November.
pub const CALENDAR_WARNING_DAYS: u64 = 60;

/// Serves until SIGINT or SIGTERM. In-flight requests and jobs — a draw
/// among them — run to completion before the process exits; a draw not yet recorded when
/// the process dies leaves nothing behind (see [`Desk`]). The scheduler
/// reads the same `clock` as the desk, and jobs that name no time zone run
/// in the configured one.
pub async fn serve(config: Config, clock: Arc<dyn Clock>) -> Result<(), ServeError> {
    crate::heavy::lower_parallel_work();
    let state = state(&config, clock).await?;
    let today = state.desk.time.today();
    if let Some(warning) = state.calendar.ending_soon(today, CALENDAR_WARNING_DAYS) {
        tracing::warn!(holidays = %config.holidays_dir.display(), "{warning}");
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
    let descriptors = edge::raise_descriptor_limit();
    let limits = match descriptors {
        Some(descriptors) => config.edge.within_descriptors(descriptors),
        None => config.edge,
    };
    tracing::info!(
        addr = %listener.local_addr()?,
        max_connections = limits.max_connections,
        header_read_timeout_s = limits.header_read_timeout.as_secs(),
        "serving"
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let scheduler = spawn_scheduler(&config, &state, until_stopped(stopped.clone()))?;
    let jobs = state.jobs.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    edge::serve(listener, app(state), limits, stopped).await;
    // Jobs outlive their requests; the process does not outlive its jobs.
    jobs.drain().await;
    if let Some(scheduler) = scheduler {
        // A step already under way finishes; then the loop stops.
        let _ = scheduler.await;
    }
    Ok(())
}

/// Starts the configured schedule, if any, under the scheduler lease: this
/// instance runs it only while it holds the lease, and stands by otherwise
/// (see [`crate::lease`]; `state.scheduler` says which). Runs until
/// `shutdown` completes; a step under way then finishes first.
pub fn spawn_scheduler(
    config: &Config,
    state: &AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Option<tokio::task::JoinHandle<()>>, ServeError> {
    let Some(path) = config.schedule.as_ref().filter(|p| p.exists()) else {
        return Ok(None);
    };
    let schedule = Schedule::load_in(path, config.time_zone)?;
    schedule.check_ceremony_lead(state.desk.seed_times.ceremony_lead, &path.display().to_string())?;
    tracing::info!(
        jobs = schedule.jobs().len(),
        "schedule loaded; asking for the scheduler lease"
    );
    let executor = Arc::new(DeskExecutor::new(state.desk.clone()));
    Ok(Some(tokio::spawn(run_leased(
        Lease::for_database(&config.database_url),
        schedule,
        executor,
        state.desk.time.clock(),
        config.scheduler_lease,
        state.scheduler.clone(),
        shutdown,
    ))))
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
