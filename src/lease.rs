//! The scheduler lease: of all the instances sharing one ledger, only the
//! one holding it runs the scheduler ([`crate::schedule`]).
//!
//! The ledger's unique keys already make every scheduled step happen once,
//! whoever offers it. Without a lease, though, every instance works every
//! occurrence: each loads the pools, freezes the inputs and races the others
//! to the claim. With it, one instance schedules and the others stand by,
//! asking again every `poll` interval, so when the holder dies another takes
//! over within that interval.
//!
//! # PostgreSQL: a session advisory lock
//!
//! Several hosts share a PostgreSQL, so the lease is a session-level
//! advisory lock (`pg_try_advisory_lock`, through sqlx's [`PgAdvisoryLock`])
//! held on a connection of its own. It was chosen over a lease row with an
//! expiry because the server frees it the moment the holder's connection
//! ends: a crashed or stopped holder is replaced at the next poll, with no
//! expiry to wait out, no clock shared between hosts, and no table the
//! service role would need UPDATE on beside a ledger it may only INSERT
//! into.
//!
//! What a lock bound to a connection does not notice is a holder that hangs
//! while its connection stays open. Two things cover that:
//!
//! - the lock's connection sets `idle_session_timeout` (PostgreSQL 14 and
//!   later) to a few poll intervals, and the holder checks the lock on it
//!   every interval. A holder frozen whole (a stopped process, a wedged
//!   runtime, a host that vanished without closing its socket) stops
//!   checking, and the server ends its session, freeing the lock;
//! - the holder watches its own scheduler: a step that has run longer than
//!   `stall` makes it give the lease up and stand back for two intervals, so
//!   another instance can take over.
//!
//! # SQLite: a file lock
//!
//! An SQLite ledger is on one host, but two processes may still open one
//! database file. The lease is an exclusive `flock` on a file beside it
//! (`ledger.db-scheduler.lock`), which the kernel frees when the holder's
//! process ends.

use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sqlx::postgres::{PgAdvisoryLock, PgConnection};
use sqlx::{Connection, Either};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::clock::Clock;
use crate::ledger::sqlite_path;
use crate::schedule::{run_scheduler, Action, BoxFuture, Executor, Job, Occurrence, Outcome, Schedule, StepError};

/// How often a standby instance asks for the lease, and the holder checks
/// it, by default: a dead holder is replaced well within a minute.
pub const DEFAULT_POLL: Duration = Duration::from_secs(10);
/// How long one scheduled step may run before the holder counts its
/// scheduler as stalled. A national-scale draw takes seconds to a minute.
pub const DEFAULT_STALL: Duration = Duration::from_secs(600);
/// The lease's advisory lock key is derived from this text (sqlx's HKDF).
const LOCK_NAME: &str = "shuangsui scheduler lease";

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("scheduler lease on the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("scheduler lease file {path}: {source}")]
    File { path: String, source: std::io::Error },
    #[error("the scheduler lease's connection no longer holds the lock")]
    Lost,
    #[error("the scheduler lease's check did not answer within {0:?}")]
    Unanswered(Duration),
}

/// The poll interval and the stall limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTimes {
    pub poll: Duration,
    pub stall: Duration,
}

impl Default for LeaseTimes {
    fn default() -> Self {
        LeaseTimes {
            poll: DEFAULT_POLL,
            stall: DEFAULT_STALL,
        }
    }
}

/// The scheduler lease of one ledger database, held or not.
pub enum Lease {
    Postgres(PgLease),
    File(FileLease),
}

impl Lease {
    /// The lease for the ledger at `database_url`: the advisory lock on
    /// PostgreSQL, the file beside the database file on SQLite.
    pub fn for_database(database_url: &str) -> Lease {
        match sqlite_path(database_url) {
            Some(path) => Lease::File(FileLease {
                path: PathBuf::from(format!("{path}-scheduler.lock")),
                file: None,
            }),
            None => Lease::Postgres(PgLease {
                url: database_url.to_owned(),
                lock: PgAdvisoryLock::new(LOCK_NAME),
                conn: None,
            }),
        }
    }

    /// What holds the lease, for the status endpoint.
    pub fn kind(&self) -> &'static str {
        match self {
            Lease::Postgres(_) => "postgres advisory lock",
            Lease::File(_) => "file lock",
        }
    }

    /// Takes the lease if nobody holds it; `false` when another does.
    pub async fn try_take(&mut self, poll: Duration) -> Result<bool, LeaseError> {
        match self {
            Lease::Postgres(lease) => match tokio::time::timeout(poll, lease.try_take(poll)).await {
                Ok(result) => result,
                Err(_) => Err(LeaseError::Unanswered(poll)),
            },
            Lease::File(lease) => lease.try_take(),
        }
    }

    /// Checks that this instance still holds the lease (and, on PostgreSQL,
    /// keeps its session from timing out as idle).
    pub async fn check(&mut self, within: Duration) -> Result<(), LeaseError> {
        match self {
            Lease::Postgres(lease) => match tokio::time::timeout(within, lease.check()).await {
                Ok(result) => result,
                Err(_) => Err(LeaseError::Unanswered(within)),
            },
            Lease::File(lease) => match lease.file {
                Some(_) => Ok(()),
                None => Err(LeaseError::Lost),
            },
        }
    }

    /// Gives the lease up. Closing the lock's connection (or the file)
    /// frees it, so this cannot fail in a way that keeps it held.
    pub async fn release(&mut self) {
        match self {
            Lease::Postgres(lease) => {
                if let Some(conn) = lease.conn.take() {
                    // Closing ends the session, which frees the lock; if the
                    // connection is already broken, it is freed already.
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn.close()).await;
                }
            }
            Lease::File(lease) => lease.file = None,
        }
    }
}

/// The advisory lock, held on `conn` while `Some`.
pub struct PgLease {
    url: String,
    lock: PgAdvisoryLock,
    conn: Option<PgConnection>,
}

impl PgLease {
    async fn try_take(&mut self, poll: Duration) -> Result<bool, LeaseError> {
        let mut conn = PgConnection::connect(&self.url).await?;
        // A holder checks every `poll`; a session silent for three checks
        // belongs to a holder that hangs, and the server ends it.
        let timeout_ms = (poll * 3).as_millis().max(1000);
        let set = format!("SET idle_session_timeout = {timeout_ms}");
        if let Err(e) = sqlx::query(&set).execute(&mut conn).await {
            // Before PostgreSQL 14: only a holder whose connection drops is
            // replaced; one that hangs connected keeps the lease.
            tracing::warn!(error = %e, "the database cannot end a hung scheduler's session (idle_session_timeout)");
        }
        match self.lock.try_acquire(conn).await? {
            Either::Left(guard) => {
                // Held for as long as the connection lives: released by
                // closing it, not by a guard.
                self.conn = Some(guard.leak());
                Ok(true)
            }
            Either::Right(conn) => {
                let _ = conn.close().await;
                Ok(false)
            }
        }
    }

    async fn check(&mut self) -> Result<(), LeaseError> {
        let conn = self.conn.as_mut().ok_or(LeaseError::Lost)?;
        // The only advisory lock this session ever takes is the lease.
        let held: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks \
             WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted)",
        )
        .fetch_one(conn)
        .await?;
        if held {
            Ok(())
        } else {
            Err(LeaseError::Lost)
        }
    }
}

/// The lock file, locked while `Some`.
pub struct FileLease {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl FileLease {
    fn try_take(&mut self) -> Result<bool, LeaseError> {
        let error = |source| LeaseError::File {
            path: self.path.display().to_string(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.path)
            .map_err(error)?;
        // flock, not fcntl: its lock belongs to this open file, so two
        // instances in one process exclude each other as two processes do.
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {
                self.file = Some(file);
                Ok(true)
            }
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
            Err(errno) => Err(error(errno.into())),
        }
    }
}

/// Whether this instance runs the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// No schedule is configured, or the service is stopping.
    Off,
    /// Another instance holds the lease (or it could not be asked for).
    Standby,
    /// This instance holds the lease and runs the scheduler.
    Holder,
}

/// What operators and tests can see of this instance's part in scheduling.
#[derive(Debug)]
pub struct SchedulerStatus {
    role: AtomicU8,
    since: Mutex<Option<DateTime<Utc>>>,
    kind: Mutex<&'static str>,
    terms: AtomicU64,
    steps: AtomicU64,
    ran: AtomicU64,
}

/// The status as served at `/healthz/scheduler`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    pub role: Role,
    /// When this instance last became the holder or a standby.
    pub since: Option<String>,
    /// `postgres advisory lock` or `file lock`; empty when off.
    pub lease: &'static str,
    /// How many times this instance has taken the lease.
    pub terms: u64,
    /// Scheduled steps this instance offered to the desk.
    pub steps: u64,
    /// Of those, the ones it carried out (the rest were done already).
    pub ran: u64,
}

impl Default for SchedulerStatus {
    fn default() -> Self {
        SchedulerStatus {
            role: AtomicU8::new(Role::Off as u8),
            since: Mutex::new(None),
            kind: Mutex::new(""),
            terms: AtomicU64::new(0),
            steps: AtomicU64::new(0),
            ran: AtomicU64::new(0),
        }
    }
}

impl SchedulerStatus {
    pub fn role(&self) -> Role {
        match self.role.load(Ordering::SeqCst) {
            x if x == Role::Holder as u8 => Role::Holder,
            x if x == Role::Standby as u8 => Role::Standby,
            _ => Role::Off,
        }
    }

    pub fn is_holder(&self) -> bool {
        self.role() == Role::Holder
    }

    pub fn report(&self) -> StatusReport {
        StatusReport {
            role: self.role(),
            since: self
                .since
                .lock()
                .expect("never poisoned")
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            lease: *self.kind.lock().expect("never poisoned"),
            terms: self.terms.load(Ordering::SeqCst),
            steps: self.steps.load(Ordering::SeqCst),
            ran: self.ran.load(Ordering::SeqCst),
        }
    }

    fn set(&self, role: Role, now: DateTime<Utc>) {
        if self.role.swap(role as u8, Ordering::SeqCst) != role as u8 {
            *self.since.lock().expect("never poisoned") = Some(now);
            if role == Role::Holder {
                self.terms.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// The desk's executor, counted and timed: the holder knows when a step
/// has been running too long.
struct Watched {
    inner: Arc<dyn Executor>,
    status: Arc<SchedulerStatus>,
    /// When the step under way began; `None` between steps.
    busy_since: Mutex<Option<Instant>>,
}

impl Watched {
    fn stalled(&self, stall: Duration) -> bool {
        self.busy_since
            .lock()
            .expect("never poisoned")
            .is_some_and(|since| since.elapsed() > stall)
    }
}

impl Executor for Watched {
    fn run<'a>(
        &'a self,
        job: &'a Job,
        occurrence: &'a Occurrence,
        action: Action,
    ) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            self.status.steps.fetch_add(1, Ordering::SeqCst);
            *self.busy_since.lock().expect("never poisoned") = Some(Instant::now());
            let result = self.inner.run(job, occurrence, action).await;
            *self.busy_since.lock().expect("never poisoned") = None;
            if matches!(result, Ok(Outcome::Ran | Outcome::Skipped)) {
                self.status.ran.fetch_add(1, Ordering::SeqCst);
            }
            result
        })
    }

    fn last_recorded<'a>(&'a self, job: &'a str) -> BoxFuture<'a, Result<Option<DateTime<Utc>>, StepError>> {
        self.inner.last_recorded(job)
    }
}

/// Why a term as holder ended.
enum Ended {
    Shutdown,
    Finished,
    Lost(LeaseError),
    Stalled,
}

/// Runs `schedule` on `executor` whenever this instance holds `lease`, until
/// `shutdown` completes: asks for the lease every `times.poll`, and while it
/// holds it checks it as often, giving it up when the check fails or a step
/// stalls. On shutdown a step under way finishes, then the lease is freed.
pub async fn run_leased(
    mut lease: Lease,
    schedule: Schedule,
    executor: Arc<dyn Executor>,
    clock: Arc<dyn Clock>,
    times: LeaseTimes,
    status: Arc<SchedulerStatus>,
    shutdown: impl Future<Output = ()>,
) {
    *status.kind.lock().expect("never poisoned") = lease.kind();
    let mut shutdown = pin!(shutdown);
    let mut told_standby = false;
    loop {
        status.set(Role::Standby, clock.now());
        let wait = match lease.try_take(times.poll).await {
            Ok(true) => None,
            Ok(false) => {
                if !told_standby {
                    tracing::info!(lease = lease.kind(), "another instance runs the scheduler; standing by");
                    told_standby = true;
                }
                Some(times.poll)
            }
            Err(error) => {
                tracing::warn!(%error, "cannot ask for the scheduler lease; asking again");
                Some(times.poll)
            }
        };
        if let Some(wait) = wait {
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(wait) => continue,
            }
        }
        told_standby = false;
        status.set(Role::Holder, clock.now());
        tracing::info!(lease = lease.kind(), "this instance is now the scheduler");
        let watched = Arc::new(Watched {
            inner: executor.clone(),
            status: status.clone(),
            busy_since: Mutex::new(None),
        });
        let (stop, stopped) = watch::channel(false);
        // Boxed, so a stalled scheduler can be dropped, and its steps with it.
        let mut scheduler = Box::pin(run_scheduler(
            schedule.clone(),
            watched.clone(),
            clock.clone(),
            async move {
                let mut stopped = stopped;
                let _ = stopped.wait_for(|stop| *stop).await;
            },
        ));
        let mut next_check = Instant::now() + times.poll;
        let ended = loop {
            tokio::select! {
                () = &mut shutdown => break Ended::Shutdown,
                () = &mut scheduler => break Ended::Finished,
                () = tokio::time::sleep_until(next_check) => {
                    next_check = Instant::now() + times.poll;
                    if let Err(error) = lease.check(times.poll).await {
                        break Ended::Lost(error);
                    }
                    if watched.stalled(times.stall) {
                        break Ended::Stalled;
                    }
                }
            }
        };
        let _ = stop.send(true);
        match ended {
            Ended::Shutdown => {
                // As before the lease: a step under way is let finish.
                scheduler.await;
                lease.release().await;
                tracing::info!("this instance stopped being the scheduler: shutting down");
                break;
            }
            Ended::Finished => {
                lease.release().await;
                tracing::info!("this instance stopped being the scheduler: no job has an occurrence left");
                break;
            }
            Ended::Lost(error) => {
                // Another instance may be scheduling already; a step under
                // way is given one interval to finish (its ledger claim is
                // what keeps it once), then cut.
                let _ = tokio::time::timeout(times.poll, &mut scheduler).await;
                drop(scheduler);
                lease.release().await;
                tracing::warn!(%error, "this instance stopped being the scheduler: lost the lease");
            }
            Ended::Stalled => {
                drop(scheduler);
                lease.release().await;
                tracing::warn!(
                    stall = ?times.stall,
                    "this instance stopped being the scheduler: a step ran too long; \
                     standing back so another instance takes over"
                );
                status.set(Role::Standby, clock.now());
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(times.poll * 2) => {}
                }
            }
        }
    }
    status.set(Role::Off, clock.now());
}
