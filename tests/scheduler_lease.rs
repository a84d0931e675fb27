//! The scheduler lease on both databases: of two instances on one ledger
//! only the holder runs the schedule; when it dies the other takes over
//! within the poll interval and runs the next occurrence; a holder whose
//! step stalls gives the lease up. Real time, seconds apart: the lease is
//! a lock in PostgreSQL or in the kernel, which tokio's paused clock
//! cannot move.

#[path = "common/app.rs"]
mod app;
mod common;
#[path = "common/postgres.rs"]
mod postgres;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::TestApp;
use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, Datelike, SubsecRound, TimeDelta, Timelike, Utc};
use postgres::{on_both_databases, TestDb};
use shuangsui::clock::SystemClock;
use shuangsui::lease::{run_leased, Lease, LeaseTimes, Role, SchedulerStatus};
use shuangsui::schedule::{Action, BoxFuture, Executor, Job, Occurrence, Outcome, Schedule, StepError};
use shuangsui::service::{app as router, spawn_scheduler, AppState};
use tower::ServiceExt;

on_both_databases!(
    one_instance_schedules_and_another_takes_over_when_it_dies,
    a_holder_whose_step_stalls_gives_the_lease_up,
);

const POLL: Duration = Duration::from_secs(1);

/// A 6-field cron for exactly `at`, read in UTC.
fn cron_at(at: DateTime<Utc>) -> String {
    format!(
        "{} {} {} {} {} *",
        at.second(),
        at.minute(),
        at.hour(),
        at.day(),
        at.month()
    )
}

/// The service on `db` as its own role ([`TestDb::for_service`]), so the
/// lease works with only the service's grants, polling every [`POLL`].
async fn adjust_for(db: &TestDb) -> impl FnOnce(&mut shuangsui::service::config::Config) {
    let on_db = db.for_service().await;
    move |config| {
        on_db(config);
        config.scheduler_lease = LeaseTimes {
            poll: POLL,
            stall: Duration::from_secs(120),
        };
    }
}

async fn wait_for(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

/// How many ledger entries have `key`.
async fn entries_with(state: &AppState, key: &str) -> usize {
    let entries = state.desk.ledger.entries(0, 10_000).await.unwrap();
    entries.iter().filter(|e| e.key == key).count()
}

async fn status_of(state: &AppState) -> serde_json::Value {
    let request = Request::get("/healthz/scheduler").body(Body::empty()).unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn one_instance_schedules_and_another_takes_over_when_it_dies(db: TestDb) {
    let mut app = TestApp::spawn_with(31, adjust_for(&db).await).await;
    let pools = app.pools();
    let plan = common::plan_toml(&pools, 2, "");
    app.add_plan("first", &plan);
    app.add_plan("second", &plan.replace("id = \"TEST-1\"", "id = \"TEST-2\""));
    // Two jobs, one occurrence each: the first due in a few seconds, the
    // second after the holder has died and another instance taken over.
    let first = app.clock.now().trunc_subsecs(0) + TimeDelta::seconds(5);
    let second = first + TimeDelta::seconds(12);
    let schedule = app.config.plans_dir.parent().unwrap().join("schedule.toml");
    let job = |name: &str, at: DateTime<Utc>| {
        format!(
            "[[job]]\nname = \"{name}\"\ncron = \"{}\"\ntimezone = \"UTC\"\nplan = \"plans/{name}.toml\"\nseed = \"commit\"\n",
            cron_at(at)
        )
    };
    std::fs::write(&schedule, job("first", first) + &job("second", second)).unwrap();
    app.config.schedule = Some(schedule);
    let task = |id: &str, at: DateTime<Utc>| format!("{id}-{}", at.format("%Y%m%d"));
    let (first_task, second_task) = (task("TEST-1", first), task("TEST-2", second));

    let one = app.state.clone();
    let two = app.other_instance().await;
    let never = || std::future::pending::<()>();
    let one_task = spawn_scheduler(&app.config, &one, never()).unwrap().unwrap();
    wait_for(
        "the first instance takes the lease",
        Duration::from_secs(10),
        async || one.scheduler.is_holder(),
    )
    .await;
    let two_task = spawn_scheduler(&app.config, &two, never()).unwrap().unwrap();
    wait_for("the second instance stands by", Duration::from_secs(10), async || {
        two.scheduler.role() == Role::Standby
    })
    .await;

    // The first occurrence: announced and drawn by the holder alone.
    let drawn = format!("draw:{first_task}");
    wait_for("the first occurrence is drawn", Duration::from_secs(60), async || {
        // The draw's entry is in the ledger before the desk has published
        // it and handed back: the step counts once it has.
        entries_with(&one, &drawn).await == 1 && one.scheduler.report().ran == 2
    })
    .await;
    let (holder, standby) = (one.scheduler.report(), two.scheduler.report());
    assert_eq!(holder.role, Role::Holder);
    assert_eq!(holder.ran, 2, "announced and drawn by the holder: {holder:?}");
    assert_eq!(standby.role, Role::Standby);
    assert_eq!(standby.steps, 0, "the standby offered no step at all: {standby:?}");
    assert_eq!(standby.terms, 0);
    assert_eq!(status_of(&one).await["role"], "holder");
    assert_eq!(status_of(&two).await["role"], "standby");

    // The holder dies (its task, with its lock's connection or file).
    one_task.abort();
    let _ = one_task.await;
    let died = Instant::now();
    wait_for(
        "the standby takes over within the poll interval",
        POLL + Duration::from_secs(4),
        async || two.scheduler.is_holder(),
    )
    .await;
    assert!(
        died.elapsed() < POLL + Duration::from_secs(4),
        "took over {:?} after the holder died",
        died.elapsed()
    );
    assert_eq!(status_of(&two).await["role"], "holder");
    assert!(
        app.clock.now() < second,
        "the takeover came before the second occurrence was due"
    );

    // The next occurrence: run by the new holder, and the first is not
    // done again.
    let drawn_next = format!("draw:{second_task}");
    wait_for("the next occurrence is drawn", Duration::from_secs(60), async || {
        entries_with(&two, &drawn_next).await == 1 && two.scheduler.report().ran == 2
    })
    .await;
    let report = two.scheduler.report();
    assert_eq!(report.terms, 1);
    assert_eq!(
        report.ran, 2,
        "the new holder announced and drew the next occurrence: {report:?}"
    );
    for key in [
        format!("announce:{first_task}"),
        drawn,
        format!("announce:{second_task}"),
        drawn_next,
    ] {
        assert_eq!(entries_with(&two, &key).await, 1, "{key}: one entry");
    }
    two.desk.ledger.verify_chain().await.unwrap();
    two_task.abort();
}

/// An executor whose steps never end, or that counts what it is offered.
struct Stuck;

impl Executor for Stuck {
    fn run<'a>(&'a self, _: &'a Job, _: &'a Occurrence, _: Action) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(std::future::pending())
    }

    fn last_recorded<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<DateTime<Utc>>, StepError>> {
        Box::pin(async { Ok(None) })
    }
}

#[derive(Default)]
struct Counting(AtomicUsize);

impl Executor for Counting {
    fn run<'a>(&'a self, _: &'a Job, _: &'a Occurrence, _: Action) -> BoxFuture<'a, Result<Outcome, StepError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(Outcome::Ran) })
    }

    fn last_recorded<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<DateTime<Utc>>, StepError>> {
        Box::pin(async { Ok(None) })
    }
}

async fn a_holder_whose_step_stalls_gives_the_lease_up(db: TestDb) {
    // The lease needs the ledger's database to exist, not its schema.
    let every_second = "[[job]]\nname = \"often\"\ncron = \"* * * * * *\"\nplan = \"p.toml\"\nseed = \"commit\"\n";
    let schedule = Schedule::parse_toml(every_second, "schedule.toml").unwrap();
    let times = LeaseTimes {
        poll: Duration::from_millis(500),
        stall: Duration::from_secs(2),
    };
    let start = |executor: Arc<dyn Executor>, status: Arc<SchedulerStatus>| {
        tokio::spawn(run_leased(
            Lease::for_database(&db.url),
            schedule.clone(),
            executor,
            Arc::new(SystemClock),
            times,
            status,
            std::future::pending(),
        ))
    };
    let (hung, healthy) = (
        Arc::new(SchedulerStatus::default()),
        Arc::new(SchedulerStatus::default()),
    );
    let hung_task = start(Arc::new(Stuck), hung.clone());
    wait_for(
        "the hung instance takes the lease",
        Duration::from_secs(10),
        async || hung.is_holder(),
    )
    .await;
    let counting = Arc::new(Counting::default());
    let healthy_task = start(counting.clone(), healthy.clone());
    wait_for("the healthy instance stands by", Duration::from_secs(10), async || {
        healthy.role() == Role::Standby
    })
    .await;
    // The hung holder's first step never ends: after `stall` it lets go,
    // and stands back long enough for the healthy instance to take over.
    wait_for(
        "the healthy instance takes over from the stalled one",
        Duration::from_secs(15),
        async || healthy.is_holder(),
    )
    .await;
    wait_for("the healthy instance runs steps", Duration::from_secs(10), async || {
        counting.0.load(Ordering::SeqCst) >= 2
    })
    .await;
    assert_eq!(hung.role(), Role::Standby, "{:?}", hung.report());
    assert_eq!(hung.report().terms, 1);
    assert_eq!(hung.report().steps, 1, "the stalled step was the only one it offered");
    hung_task.abort();
    healthy_task.abort();
}

/// PostgreSQL: a holder frozen whole (its process stopped, its host gone
/// without closing the socket) stops checking its lease, and the server
/// ends its silent session after three poll intervals, freeing the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_holder_loses_the_postgres_lock_to_the_session_timeout() {
    let Some(db) = TestDb::new(postgres::Backend::Postgres).await else {
        return;
    };
    let poll = Duration::from_millis(500);
    let mut frozen = Lease::for_database(&db.url);
    let mut other = Lease::for_database(&db.url);
    assert!(frozen.try_take(poll).await.unwrap());
    assert!(!other.try_take(poll).await.unwrap(), "held");
    frozen.check(poll).await.unwrap();
    // `frozen` says nothing from now on, as if its process were stopped.
    let silent = Instant::now();
    wait_for(
        "the frozen holder's session ends",
        Duration::from_secs(10),
        async || other.try_take(poll).await.unwrap(),
    )
    .await;
    assert!(
        silent.elapsed() >= poll * 3 - Duration::from_millis(100),
        "not freed before the timeout: {:?}",
        silent.elapsed()
    );
    assert!(
        frozen.check(poll).await.is_err(),
        "the frozen holder finds it lost the lease"
    );
}

/// The service refuses at start a schedule whose ceremony job would be
/// announced less than `ceremony_lead_hours` ahead: the desk would refuse
/// each of its announcements on the day.
#[tokio::test]
async fn a_ceremony_job_announced_too_late_stops_the_service_at_start() {
    let mut app = TestApp::spawn_with(32, |config| {
        config.seed_times.ceremony_lead = Duration::from_secs(24 * 3600);
    })
    .await;
    let pools = app.pools();
    app.add_plan("ceremony", &common::plan_toml(&pools, 2, ""));
    let schedule = app.config.plans_dir.parent().unwrap().join("schedule.toml");
    let write = |lead: &str| {
        let job = "[[job]]\nname = \"ceremony\"\ncron = \"30 9 * * MON#3\"\nplan = \"plans/ceremony.toml\"\nseed = \"ceremony\"\nplace = \"摇号室\"\n";
        std::fs::write(&schedule, format!("{job}announce_ahead = \"{lead}\"\n")).unwrap();
    };
    app.config.schedule = Some(schedule.clone());
    let never = || std::future::pending::<()>();

    write("12h");
    let refused = spawn_scheduler(&app.config, &app.state, never()).expect_err("a 12 h lead is refused");
    let message = refused.to_string();
    assert!(
        message.contains("job ceremony: announce_ahead: a ceremony must be announced at least 24 h ahead"),
        "{message}"
    );
    assert_eq!(app.state.scheduler.role(), Role::Off, "nothing was started");

    write("2d");
    let task = spawn_scheduler(&app.config, &app.state, never())
        .unwrap()
        .expect("a 2-day lead runs");
    task.abort();
}
