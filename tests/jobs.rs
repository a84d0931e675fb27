//! The operator's long operations as jobs, on both databases: answered as
//! before when done within the wait, else 202 and a job to ask about; a job
//! outlives a dropped request; two identical requests at once record their
//! effect once; a job whose instance died is reported abandoned, and asking
//! again never draws twice; pages answer while a job is under way.

#[path = "common/app.rs"]
mod app;
mod common;
#[path = "common/postgres.rs"]
mod postgres;

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::{TestApp, TOKEN};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::TimeDelta;
use postgres::{on_both_databases, TestDb};
use serde_json::{json, Value};
use shuangsui::clock::{Clock, FixedClock};
use shuangsui::service::{app as router, AppState};
use tower::ServiceExt;

on_both_databases!(
    a_job_done_within_the_wait_answers_as_before,
    a_job_outlives_its_request,
    identical_requests_at_once_record_once,
    a_job_whose_instance_died_is_abandoned_and_asking_again_draws_once,
);

/// The service on `db` as its own role ([`TestDb::for_service`]), with the
/// test plan in its plans folder.
async fn adjust_for(db: &TestDb) -> impl FnOnce(&mut shuangsui::service::config::Config) {
    let on_db = db.for_service().await;
    move |config| {
        on_db(config);
        let pools = common::load_pools(&config.pools_dir);
        std::fs::write(
            config.plans_dir.join("test-plan.toml"),
            common::plan_toml(&pools, 2, ""),
        )
        .unwrap();
    }
}

/// A request to `state`'s router as the operator, with extra headers: the
/// status, the headers and the JSON body.
async fn send(state: &AppState, method: &str, uri: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {TOKEN}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Reply { status, headers, body }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn job(&self) -> String {
        self.headers
            .get("job-id")
            .unwrap_or_else(|| panic!("no Job-Id header: {}", self.body))
            .to_str()
            .unwrap()
            .to_owned()
    }
}

const ASYNC: &[(&str, &str)] = &[("prefer", "respond-async")];

async fn announce(state: &AppState) -> String {
    let reply = send(
        state,
        "POST",
        "/api/v1/announcements",
        Some(json!({"plan": "test-plan", "seed_method": {"kind": "commit"}})),
        &[],
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["task_id"].as_str().unwrap().to_owned()
}

fn draw_body(task: &str) -> Value {
    json!({"task_id": task, "seed": {"kind": "reveal"}})
}

/// How many ledger entries claim `key`.
async fn entries_with(state: &AppState, key: &str) -> usize {
    let entries = state.desk.ledger.entries(0, 10_000).await.unwrap();
    entries.iter().filter(|e| e.key == key).count()
}

async fn job(state: &AppState, id: &str) -> Value {
    let reply = send(state, "GET", &format!("/api/v1/jobs/{id}"), None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// The job's report once it is no longer queued or running.
async fn finished(state: &AppState, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let report = job(state, id).await;
        if report["state"] != "queued" && report["state"] != "running" {
            return report;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "job {id} did not finish: {report}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_job_done_within_the_wait_answers_as_before(db: TestDb) {
    let app = TestApp::spawn_with(31, adjust_for(&db).await).await;
    let state = &app.state;
    let task = announce(state).await;

    let drawn = send(state, "POST", "/api/v1/draws", Some(draw_body(&task)), &[]).await;
    assert_eq!(drawn.status, StatusCode::OK, "{}", drawn.body);
    assert!(
        drawn.body["bundle"].is_string() && drawn.body["seq"].is_u64(),
        "{}",
        drawn.body
    );
    let report = job(state, &drawn.job()).await;
    assert_eq!(report["kind"], "draw");
    assert_eq!(report["state"], "succeeded");
    assert_eq!(report["step"], "done");
    assert_eq!(report["status"], 200);
    assert_eq!(
        report["outcome"], drawn.body,
        "the job keeps the answer the request had"
    );
    assert!(report["started_at"].is_string() && report["finished_at"].is_string());
    assert_eq!(report["instance"], state.jobs.instance());

    // A failure is the same error as before, and the job keeps it.
    let unknown = send(state, "POST", "/api/v1/draws", Some(draw_body("NOPE")), &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["error"], "unknown_task");
    let report = job(state, &unknown.job()).await;
    assert_eq!(report["state"], "failed");
    assert_eq!(report["status"], 404);
    assert_eq!(report["outcome"], unknown.body);

    // A request refused before it becomes a job makes none.
    let refused = send(state, "POST", "/api/v1/draws", Some(json!({"task": task})), &[]).await;
    assert!(refused.status.is_client_error() && refused.headers.get("job-id").is_none());

    // Jobs are the operator's, like the operations.
    let (status, _) = app.get(&format!("/api/v1/jobs/{}", drawn.job())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let missing = send(state, "GET", "/api/v1/jobs/0123", None, &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let (_, doc) = app.get("/api/v1/openapi.json").await;
    assert!(
        doc["paths"]["/jobs/{job_id}"]["get"].is_object(),
        "the job endpoint is documented"
    );
    assert!(doc["paths"]["/draws"]["post"]["responses"]["202"].is_object());

    // Another instance on the same database answers for this one's jobs.
    let other = app.other_instance().await;
    assert_eq!(job(&other, &drawn.job()).await["outcome"], drawn.body);
}

async fn a_job_outlives_its_request(db: TestDb) {
    let app = TestApp::spawn_with(31, adjust_for(&db).await).await;
    let state = &app.state;
    let task = announce(state).await;
    let held = state.jobs.hold_before_work().await;

    let accepted = send(state, "POST", "/api/v1/draws", Some(draw_body(&task)), ASYNC).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let id = accepted.job();
    let url = format!("/api/v1/jobs/{id}");
    assert_eq!(accepted.headers["location"], url.as_str());
    assert_eq!(accepted.headers["preference-applied"], "respond-async");
    assert_eq!(accepted.body["job"], id.as_str());
    assert_eq!(accepted.body["status_url"], url.as_str());
    let report = job(state, &id).await;
    assert_eq!(
        (&report["state"], &report["step"]),
        (&json!("queued"), &json!("queued"))
    );
    assert_eq!(report["outcome"], Value::Null);

    // The same draw asked by a client that gives up (or a request timeout
    // that cuts it off): the request is dropped, its job is not.
    let dropped = tokio::time::timeout(
        Duration::from_millis(200),
        send(state, "POST", "/api/v1/draws", Some(draw_body(&task)), &[]),
    )
    .await;
    assert!(dropped.is_err(), "the request should still be waiting for its held job");
    // And a verification, answered 202 at once.
    let verify = send(state, "POST", "/api/v1/ledger/verify", None, ASYNC).await;
    assert_eq!(verify.status, StatusCode::ACCEPTED);
    assert_eq!(entries_with(state, &format!("draw:{task}")).await, 0);

    drop(held);
    let report = finished(state, &id).await;
    assert_eq!(report["state"], "succeeded", "{report}");
    assert_eq!(report["status"], 200);
    assert_eq!(entries_with(state, &format!("draw:{task}")).await, 1);
    let (_, detail) = app.get(&format!("/api/v1/draws/{task}")).await;
    assert_eq!(report["outcome"]["seq"], detail["seq"]);
    let verified = finished(state, &verify.job()).await;
    assert_eq!(verified["kind"], "verify");
    assert_eq!(verified["outcome"]["problems"], json!([]), "{verified}");

    // With no wait configured every operation answers 202.
    let mut app = app;
    app.config.job_wait = Duration::ZERO;
    app.restart().await;
    let accepted = send(&app.state, "POST", "/api/v1/draws", Some(draw_body(&task)), &[]).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    let again = finished(&app.state, &accepted.job()).await;
    assert_eq!(
        again["outcome"], report["outcome"],
        "asking again returns the same draw"
    );
}

async fn identical_requests_at_once_record_once(db: TestDb) {
    let app = TestApp::spawn_with(31, adjust_for(&db).await).await;
    let state = &app.state;
    let body = json!({"plan": "test-plan", "seed_method": {"kind": "commit"}});
    let (a, b) = tokio::join!(
        send(state, "POST", "/api/v1/announcements", Some(body.clone()), &[]),
        send(state, "POST", "/api/v1/announcements", Some(body), &[]),
    );
    let created: Vec<_> = [&a, &b]
        .into_iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert!(!created.is_empty(), "{} / {}", a.body, b.body);
    for reply in [&a, &b] {
        assert!(
            reply.status == StatusCode::CREATED || reply.status == StatusCode::CONFLICT,
            "{}",
            reply.body
        );
    }
    let task = created[0].body["task_id"].as_str().unwrap().to_owned();
    assert_eq!(entries_with(state, &format!("announce:{task}")).await, 1);

    // Two instances on one database, each asked the same draw at once.
    let other = app.other_instance().await;
    let (a, b) = tokio::join!(
        send(state, "POST", "/api/v1/draws", Some(draw_body(&task)), &[]),
        send(&other, "POST", "/api/v1/draws", Some(draw_body(&task)), &[]),
    );
    for reply in [&a, &b] {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    assert_eq!(a.body["seq"], b.body["seq"], "both answer the one draw");
    assert_ne!(a.job(), b.job(), "two requests are two jobs");
    assert_eq!(entries_with(state, &format!("draw:{task}")).await, 1);
}

/// An instance in a runtime of its own, which the test then stops whole, as
/// a process dies: it draws `task` as a job held before its outcome is
/// recorded, and dies once the draw is in the ledger. The job's id.
fn die_after_drawing(app: &TestApp, task: &str) -> String {
    let (config, clock, task) = (app.config.clone(), app.clock.clone(), task.to_owned());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let id = runtime.block_on(async {
            let state = shuangsui::service::state(&config, clock).await.unwrap();
            let held = state.jobs.hold_before_outcome().await;
            let accepted = send(&state, "POST", "/api/v1/draws", Some(draw_body(&task)), ASYNC).await;
            assert_eq!(accepted.status, StatusCode::ACCEPTED);
            let start = Instant::now();
            while state.desk.draw_record(&task).await.unwrap().is_none() {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "the dying instance never drew"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Dropped here the guard would let the job record its outcome
            // before the runtime stops; the dead instance never gets there.
            std::mem::forget(held);
            accepted.job()
        });
        runtime.shutdown_background();
        id
    })
    .join()
    .unwrap()
}

async fn a_job_whose_instance_died_is_abandoned_and_asking_again_draws_once(db: TestDb) {
    let clock = Arc::new(FixedClock::at(common::TEST_START.parse().unwrap()));
    let shared: Arc<dyn Clock> = clock.clone();
    let app = TestApp::spawn_on(31, shared, app::test_tables, adjust_for(&db).await).await;
    let state = &app.state;
    let task = announce(state).await;
    let id = die_after_drawing(&app, &task);

    let report = job(state, &id).await;
    assert_eq!(report["state"], "running", "a fresh heartbeat: {report}");
    assert_eq!(report["step"], "drawing");
    assert_ne!(report["instance"], state.jobs.instance());
    clock.advance(TimeDelta::seconds(31));
    let report = job(state, &id).await;
    assert_eq!(report["state"], "abandoned", "{report}");
    assert!(report["note"].as_str().unwrap().contains("ledger"), "{report}");
    assert_eq!(report["outcome"], Value::Null);

    // Its effect is what the ledger recorded: the draw. Asked again, the
    // draw is answered, not made twice.
    assert_eq!(entries_with(state, &format!("draw:{task}")).await, 1);
    let retry = send(state, "POST", "/api/v1/draws", Some(draw_body(&task)), &[]).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.body);
    let (_, detail) = app.get(&format!("/api/v1/draws/{task}")).await;
    assert_eq!(retry.body["seq"], detail["seq"]);
    assert_eq!(entries_with(state, &format!("draw:{task}")).await, 1);
    assert_eq!(job(state, &retry.job()).await["state"], "succeeded");
}

/// On one runtime thread, the public pages and the read API answer while a
/// draw's job is under way: the job is a task of its own and its work runs
/// off the runtime's thread, so nothing the pages need waits for it.
#[tokio::test]
async fn pages_answer_while_a_job_is_under_way() {
    let app = TestApp::spawn_with(31, |config| {
        let pools = common::load_pools(&config.pools_dir);
        let plan = common::plan_toml(&pools, 2, "");
        std::fs::write(config.plans_dir.join("test-plan.toml"), plan).unwrap();
    })
    .await;
    let state = &app.state;
    let first = announce(state).await;
    let drawn = send(state, "POST", "/api/v1/draws", Some(draw_body(&first)), &[]).await;
    let bundle = drawn.body["bundle"].as_str().unwrap().to_owned();
    let second = announce(state).await;

    let held = state.jobs.hold_before_outcome().await;
    let accepted = send(state, "POST", "/api/v1/draws", Some(draw_body(&second)), ASYNC).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    let start = Instant::now();
    while state.desk.draw_record(&second).await.unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(60), "the job never drew");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for uri in [
        "/".to_owned(),
        format!("/draws/{bundle}"),
        "/api/v1/ledger/head".to_owned(),
        "/api/v1/search?q=x".to_owned(),
        "/api/v1/draws".to_owned(),
    ] {
        let reply = tokio::time::timeout(Duration::from_secs(10), send(state, "GET", &uri, None, &[]))
            .await
            .unwrap_or_else(|_| panic!("{uri} waited for the job"));
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
    }
    assert_eq!(job(state, &accepted.job()).await["state"], "running");
    drop(held);
    assert_eq!(finished(state, &accepted.job()).await["state"], "succeeded");
}
