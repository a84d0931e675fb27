//! The service driven through its router without a socket (and once over a
//! real port): every endpoint, the token, announce → draw, a draw asked for
//! twice, a redraw, a restart, and a tampered ledger.

#[path = "common/app.rs"]
mod app;
mod common;

use std::path::PathBuf;

use app::{TestApp, TOKEN};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use shuangsui::clock::{Clock, FixedClock, Zone};
use shuangsui::service::config::Config;
use shuangsui::service::{AppState, ServeError};
use shuangsui::substitution::Reason;
use tower::ServiceExt;

/// The service on `config`, on the test clock.
async fn state(config: &Config) -> Result<AppState, ServeError> {
    shuangsui::service::state(config, std::sync::Arc::new(common::TestClock::new())).await
}

/// The service tests' app: the common one on the small pool of seed 31,
/// with `test-plan` (two items, no filters) in its plans folder.
impl TestApp {
    async fn spawn_service() -> TestApp {
        Self::spawn_with_holidays(app::test_tables).await
    }

    /// With the holiday tables `fill` writes into the (empty) folder.
    async fn spawn_with_holidays(fill: impl FnOnce(&std::path::Path)) -> TestApp {
        Self::spawn_custom(fill, |_| {}).await
    }

    /// With holiday tables, and the configuration changed by `adjust` before
    /// the first start.
    async fn spawn_custom(fill: impl FnOnce(&std::path::Path), adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_service_on(std::sync::Arc::new(common::TestClock::new()), fill, adjust).await
    }

    /// On `clock`, with holiday tables and the configuration changed by
    /// `adjust`.
    async fn spawn_service_on(
        clock: std::sync::Arc<dyn Clock>,
        fill: impl FnOnce(&std::path::Path),
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        TestApp::spawn_on(31, clock, fill, |config| {
            let loaded = common::load_pools(&config.pools_dir);
            std::fs::write(
                config.plans_dir.join("test-plan.toml"),
                common::plan_toml(&loaded, 2, ""),
            )
            .unwrap();
            adjust(config)
        })
        .await
    }

    async fn announce_commit(&self) -> Value {
        let (status, body) = self
            .operator(
                "/api/v1/announcements",
                json!({"plan": "test-plan", "seed_method": {"kind": "commit"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }
}

#[tokio::test]
async fn operator_endpoints_refuse_without_the_token() {
    let app = TestApp::spawn_service().await;
    let body = json!({"plan": "test-plan", "seed_method": {"kind": "commit"}});
    for token in [None, Some("wrong-token-wrong-token")] {
        let (status, reply) = app
            .call("POST", "/api/v1/announcements", Some(body.clone()), token)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply["error"], "unauthorized");
    }
    for uri in ["/api/v1/draws", "/api/v1/adhoc-draws", "/api/v1/ledger/verify"] {
        let (status, _) = app.call("POST", uri, Some(json!({})), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let (_, head) = app.get("/api/v1/ledger/head").await;
    assert_eq!(head["seq"], 0, "a refused request must leave no trace");
}

#[tokio::test]
async fn announce_then_draw_once_and_verify() {
    let app = TestApp::spawn_service().await;
    let announced = app.announce_commit().await;
    let task = announced["task_id"].as_str().unwrap().to_owned();
    assert_eq!(announced["seed_method"]["kind"], "commit");
    assert_eq!(announced["seed_method"]["commitment"].as_str().unwrap().len(), 64);

    let draw = json!({"task_id": task, "seed": {"kind": "reveal"}});
    let (status, first) = app.operator("/api/v1/draws", draw.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, again) = app.operator("/api/v1/draws", draw).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first, again, "asking again returns the existing draw");

    let bundle = app.publications().join(first["bundle"].as_str().unwrap());
    let report = shuangsui::verify::verify(&bundle, &app.config.pools_dir, Default::default()).unwrap();
    assert!(report.verified(), "{:?}", report.difference);
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("public/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["seed"]["source"]["kind"], "commit_reveal");
    assert_eq!(manifest["ledger"]["task_id"], task.as_str());

    let (_, draws) = app.get("/api/v1/draws").await;
    assert_eq!(draws.as_array().unwrap().len(), 1);
    let (status, detail) = app.get(&format!("/api/v1/draws/{task}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        detail["manifest"]["strata"].is_null(),
        "the API serves the public manifest only"
    );
    let (_, announcements) = app.get("/api/v1/announcements").await;
    assert_eq!(announcements.as_array().unwrap().len(), 1);
    let (status, _) = app.get(&format!("/api/v1/announcements/{task}")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn seed_material_must_fit_the_announcement() {
    let app = TestApp::spawn_service().await;
    let past = json!({"plan": "test-plan", "seed_method": {"kind": "ceremony", "at": "2020-01-01T10:00:00+08:00", "place": "盘州市市场监管局摇号室"}});
    let (status, reply) = app.operator("/api/v1/announcements", past).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a ceremony in the past proves nothing: {reply}"
    );

    let soon = (app.clock.now() + chrono::Duration::hours(1)).to_rfc3339();
    let (status, announced) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": "test-plan", "seed_method": {"kind": "ceremony", "at": soon, "place": "盘州市市场监管局摇号室"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let task = announced["task_id"].as_str().unwrap();
    let early = json!({"task_id": task, "seed": {"kind": "ceremony", "digits": "12345678901234567890"}});
    let (status, reply) = app.operator("/api/v1/draws", early).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply["message"].as_str().unwrap().contains("accepted from then on"),
        "{reply}"
    );
    let wrong_kind = json!({"task_id": task, "seed": {"kind": "reveal"}});
    let (status, reply) = app.operator("/api/v1/draws", wrong_kind).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply["error"], "wrong_seed_material");
    let (_, draws) = app.get("/api/v1/draws").await;
    assert!(draws.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_redraw_is_a_new_linked_task_and_both_stay_public() {
    let app = TestApp::spawn_service().await;
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    app.operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    let (status, reply) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": "test-plan", "seed_method": {"kind": "commit"}, "redraw_of": task}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a redraw needs a reason: {reply}");
    let (status, redraw) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": "test-plan", "seed_method": {"kind": "commit"}, "redraw_of": task, "reason": "pool had a wrong township column"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{redraw}");
    let new_task = redraw["task_id"].as_str().unwrap();
    assert_eq!(new_task, format!("{task}~2"));
    assert_eq!(redraw["redraw"]["of"], task.as_str());
    app.operator(
        "/api/v1/draws",
        json!({"task_id": new_task, "seed": {"kind": "reveal"}}),
    )
    .await;
    let (_, draws) = app.get("/api/v1/draws").await;
    assert_eq!(draws.as_array().unwrap().len(), 2, "the old draw stays public");
}

#[tokio::test]
async fn a_restart_keeps_every_draw_and_never_redraws() {
    let mut app = TestApp::spawn_service().await;
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    let (_, first) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    app.restart().await;
    let (_, again) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    assert_eq!(first, again);
    let (_, audit) = app.operator("/api/v1/ledger/verify", json!({})).await;
    assert_eq!(audit["problems"], json!([]), "{audit}");
    assert_eq!(audit["draws_checked"], 1);
}

#[tokio::test]
async fn a_tampered_ledger_row_is_detected() {
    let app = TestApp::spawn_service().await;
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    app.operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    let pool = app.state.desk.ledger.raw_pool();
    sqlx::query("DROP TRIGGER ledger_no_update")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE ledger SET payload = replace(payload, 'commit', 'ceremony') WHERE kind = 'plan_announced'")
        .execute(pool)
        .await
        .unwrap();
    let (status, audit) = app.operator("/api/v1/ledger/verify", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let problems = audit["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|p| p.as_str().unwrap().contains("ledger entry")),
        "{audit}"
    );
}

#[tokio::test]
async fn read_endpoints_and_errors_speak_json() {
    let app = TestApp::spawn_service().await;
    let (status, pools) = app.get("/api/v1/pools").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pools["counts"]["targets"], 1500);
    assert!(pools.get("targets").is_none(), "counts and hashes only");
    let (status, reply) = app.get("/api/v1/announcements/NOPE").await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, reply) = app.get("/api/v1/nowhere").await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, _) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": "../etc/passwd", "seed_method": {"kind": "commit"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, entries) = app.get("/api/v1/ledger?after=0&limit=10").await;
    assert_eq!(status, StatusCode::OK);
    assert!(entries.as_array().unwrap().is_empty());
    let big = "x".repeat(300 * 1024);
    let (status, _) = app
        .call(
            "POST",
            "/api/v1/announcements",
            Some(json!({"plan_toml": big})),
            Some(TOKEN),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn an_unannounced_draw_is_marked_as_such() {
    let app = TestApp::spawn_service().await;
    let (status, record) = app.operator("/api/v1/adhoc-draws", json!({"plan": "test-plan"})).await;
    assert_eq!(status, StatusCode::CREATED, "{record}");
    let bundle = app.publications().join(record["bundle"].as_str().unwrap());
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("public/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["ledger"]["unannounced"], true);
    assert_eq!(manifest["seed"]["source"]["kind"], "random");
}

#[tokio::test]
async fn the_openapi_document_names_every_route() {
    let app = TestApp::spawn_service().await;
    let (status, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for route in [
        "/pools",
        "/announcements",
        "/announcements/{task_id}",
        "/draws",
        "/draws/{task_id}",
        "/adhoc-draws",
        "/ledger/head",
        "/ledger",
        "/ledger/verify",
        "/ledger/checkpoint",
        "/ledger/checkpoint/key",
        "/ledger/proof/inclusion",
        "/ledger/proof/consistency",
        "/search",
        "/standing/{credit_code}",
        "/openapi.json",
    ] {
        assert!(
            paths.contains(&&route.to_string()),
            "{route} is missing from the OpenAPI document"
        );
    }
}

#[tokio::test]
async fn serves_over_a_real_port() {
    let app = TestApp::spawn_service().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /api/v1/ledger/head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"seq\":0"));
    server.abort();
}

/// The scheduler's steps carried out on the desk: each occurrence becomes its
/// own dated task, announced and drawn once, also across a restart, and a
/// skip and a draw exclude each other. (The runner's timing and catch-up
/// policies are tested on virtual time in `tests/schedule.rs`.)
#[tokio::test]
async fn scheduled_steps_run_once_on_the_desk_across_a_restart() {
    use shuangsui::schedule::{Action, Executor, Occurrence, Outcome, Schedule};
    use shuangsui::scheduled::DeskExecutor;

    let mut app = TestApp::spawn_service().await;
    let schedule_path = app.config.plans_dir.parent().unwrap().join("schedule.toml");
    let job_toml = "[[job]]\nname = \"quarterly\"\ncron = \"0 9 1 1,4,7,10 *\"\nplan = \"plans/test-plan.toml\"\n\
                    seed = \"commit\"\nannounce_ahead = \"7d\"\n";
    std::fs::write(&schedule_path, job_toml).unwrap();
    let schedule = Schedule::load(&schedule_path).unwrap();
    let job = schedule.job("quarterly").unwrap();
    let april = chrono::DateTime::parse_from_rfc3339("2026-04-01T01:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let july = chrono::DateTime::parse_from_rfc3339("2026-07-01T01:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let (first, second) = (Occurrence::new("quarterly", april), Occurrence::new("quarterly", july));

    let executor = DeskExecutor::new(app.state.desk.clone());
    assert_eq!(executor.run(job, &first, Action::Announce).await.unwrap(), Outcome::Ran);
    assert_eq!(executor.last_recorded("quarterly").await.unwrap(), Some(april));
    // The service restarts between the announcement and the draw.
    app.restart().await;
    let executor = DeskExecutor::new(app.state.desk.clone());
    assert_eq!(
        executor.run(job, &first, Action::Announce).await.unwrap(),
        Outcome::AlreadyDone
    );
    assert_eq!(executor.run(job, &first, Action::Draw).await.unwrap(), Outcome::Ran);
    assert_eq!(
        executor.run(job, &first, Action::Draw).await.unwrap(),
        Outcome::AlreadyDone
    );
    assert_eq!(
        executor.run(job, &first, Action::Skip).await.unwrap(),
        Outcome::AlreadyDone,
        "drawn, so not skipped"
    );
    assert_eq!(
        executor.run(job, &second, Action::Skip).await.unwrap(),
        Outcome::Skipped
    );
    assert_eq!(
        executor.run(job, &second, Action::Draw).await.unwrap(),
        Outcome::AlreadyDone,
        "skipped, so not drawn"
    );
    assert_eq!(executor.last_recorded("quarterly").await.unwrap(), Some(july));

    let (_, draws) = app.get("/api/v1/draws").await;
    let draws = draws.as_array().unwrap();
    assert_eq!(draws.len(), 1);
    let task = draws[0]["task_id"].as_str().unwrap();
    assert!(task.ends_with("-20260401"), "{task}");
    let (_, announcement) = app.get(&format!("/api/v1/announcements/{task}")).await;
    assert_eq!(announcement["plan"]["inspection_date"], "2026-04-01");
    assert_eq!(announcement["occurrence"], "quarterly@2026-04-01T01:00:00Z");
}

/// A scheduled ceremony is announced with the place its job names.
#[tokio::test]
async fn a_scheduled_ceremony_is_announced_with_its_place() {
    use shuangsui::schedule::{Action, Executor, Occurrence, Outcome, Schedule};
    use shuangsui::scheduled::DeskExecutor;

    let app = TestApp::spawn_service().await;
    let schedule_path = app.config.plans_dir.parent().unwrap().join("schedule.toml");
    let job_toml = "[[job]]\nname = \"dice\"\ncron = \"30 9 * * MON#3\"\nplan = \"plans/test-plan.toml\"\n\
                    seed = \"ceremony\"\nplace = \"一楼摇号室\"\nannounce_ahead = \"10d\"\n";
    std::fs::write(&schedule_path, job_toml).unwrap();
    let schedule = Schedule::load(&schedule_path).unwrap();
    let job = schedule.job("dice").unwrap();
    let at = app.clock.now() + chrono::TimeDelta::days(30);
    let executor = DeskExecutor::new(app.state.desk.clone());
    let occurrence = Occurrence::new("dice", at);
    assert_eq!(
        executor.run(job, &occurrence, Action::Announce).await.unwrap(),
        Outcome::Ran
    );
    let (_, announcements) = app.get("/api/v1/announcements").await;
    let method = &announcements[0]["seed_method"];
    assert_eq!(method["kind"], "ceremony", "{announcements}");
    assert_eq!(method["place"], "一楼摇号室", "{announcements}");
}

/// A scheduled plan's dated id is a plan number like any other: a job whose
/// plan id leaves no room for the date is refused at its step, and nothing
/// is announced under an id no bundle reader would accept.
#[tokio::test]
async fn a_scheduled_plan_too_long_to_date_is_refused_at_its_step() {
    use shuangsui::schedule::{Action, Executor, Occurrence, Schedule};
    use shuangsui::scheduled::DeskExecutor;

    let app = TestApp::spawn_service().await;
    let plans = &app.config.plans_dir;
    // 30 characters: a valid plan id, 39 once dated (at most 32 are allowed).
    let long = "PZ-SCJG-2026-QUARTERLY-LONG-ID";
    let text = std::fs::read_to_string(plans.join("test-plan.toml")).unwrap();
    std::fs::write(
        plans.join("long.toml"),
        text.replace("id = \"TEST-1\"", &format!("id = \"{long}\"")),
    )
    .unwrap();
    let schedule_path = plans.parent().unwrap().join("schedule.toml");
    std::fs::write(
        &schedule_path,
        "[[job]]\nname = \"long\"\ncron = \"0 9 1 1,4,7,10 *\"\nplan = \"plans/long.toml\"\n\
         seed = \"commit\"\nannounce_ahead = \"7d\"\n",
    )
    .unwrap();
    let schedule = Schedule::load(&schedule_path).unwrap();
    let job = schedule.job("long").unwrap();
    let april = chrono::DateTime::parse_from_rfc3339("2026-04-01T01:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let executor = DeskExecutor::new(app.state.desk.clone());
    let err = executor
        .run(job, &Occurrence::new("long", april), Action::Announce)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("dated for its occurrence") && err.contains("id"), "{err}");
    let (_, announcements) = app.get("/api/v1/announcements").await;
    assert_eq!(announcements.as_array().unwrap().len(), 0, "{announcements}");
}

async fn get_raw(app: &TestApp, uri: &str) -> (StatusCode, String, String) {
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = app.router().oneshot(request).await.unwrap();
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20).await.unwrap();
    (status, kind, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn public_pages_show_draws_and_find_a_drawn_business() {
    let app = TestApp::spawn_service().await;
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    let (_, record) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    let bundle = record["bundle"].as_str().unwrap();
    let (_, rows) = app
        .get(&format!("/api/v1/draws/{task}/assignments?page=1&per_page=5"))
        .await;
    assert_eq!(
        rows["rows"].as_array().unwrap().len(),
        5.min(rows["total"].as_u64().unwrap() as usize)
    );
    let first = &rows["rows"][0];
    let (code, name) = (first["credit_code"].as_str().unwrap(), first["name"].as_str().unwrap());

    let (status, kind, home) = get_raw(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/html"));
    assert!(
        home.contains(&task) && home.contains("<form"),
        "the home page lists the draw and has a search box"
    );
    let (status, _, page) = get_raw(&app, &format!("/draws/{bundle}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(code) && !page.contains("信用风险分类"));

    let (_, _, found) = get_raw(&app, &format!("/search?q={}", urlencode(name))).await;
    assert!(found.contains(code), "the search page finds {name}");
    let (status, hits) = app.get(&format!("/api/v1/search?q={code}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hits[0]["credit_code"], code);
    assert_eq!(hits[0]["draw"], bundle);

    for (file, expected) in [
        ("assignments.csv", "text/csv"),
        ("assignments.xlsx", "application/vnd.openxmlformats"),
        ("bundle.zip", "application/zip"),
    ] {
        let (status, kind, _) = get_raw(&app, &format!("/draws/{bundle}/{file}")).await;
        assert_eq!(status, StatusCode::OK, "{file}");
        assert!(kind.starts_with(expected), "{file}: {kind}");
    }
    let (status, _, _) = get_raw(&app, "/draws/..%2Fsecrets").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, verify) = get_raw(&app, "/verify").await;
    assert_eq!(status, StatusCode::OK);
    assert!(verify.contains("shuangsui verify"));
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn every_documented_read_is_routed() {
    let app = TestApp::spawn_service().await;
    let (_, doc) = app.get("/api/v1/openapi.json").await;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        if operations.get("get").is_none() {
            continue;
        }
        let uri = format!("/api/v1{}?q=x", path.replace("{task_id}", "NOPE"));
        let (_, reply) = app.get(&uri).await;
        assert_ne!(
            reply["message"], "no such endpoint",
            "{path} is documented but not routed"
        );
    }
}

#[tokio::test]
async fn two_instances_sharing_a_database_draw_a_task_once() {
    let app = TestApp::spawn_service().await;
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    let other = state(&app.config).await.unwrap();
    let draw = |desk: std::sync::Arc<shuangsui::desk::Desk>, task: String| async move {
        desk.draw(&task, shuangsui::desk::SeedMaterial::Reveal { beacon_signature: None })
            .await
            .unwrap()
            .0
    };
    let (a, b) = tokio::join!(
        draw(app.state.desk.clone(), task.clone()),
        draw(other.desk.clone(), task.clone())
    );
    assert_eq!(a, b, "both instances report the one recorded draw");
    let bundles: Vec<_> = std::fs::read_dir(app.publications())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(
        bundles,
        std::slice::from_ref(&a.bundle),
        "one bundle published, nothing left staged"
    );
}

#[tokio::test]
async fn past_draws_verify_after_the_pools_change_and_staged_leftovers_vanish() {
    let mut app = TestApp::spawn_service().await;
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    app.operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    // The office edits its live pools after the draw.
    let targets = app.config.pools_dir.join("targets.csv");
    let text = std::fs::read_to_string(&targets).unwrap();
    let last = text.lines().last().unwrap().to_owned();
    std::fs::write(&targets, text.replace(&last, "")).unwrap();
    // A draw of an earlier version, interrupted before it was recorded, left
    // a staged bundle behind.
    let staging = app.publications().join(".staging");
    let staged = staging.join("LEFTOVER_0000");
    std::fs::create_dir_all(&staged).unwrap();
    // Changed a moment ago, it may be an earlier version's draw under way on
    // the same folder: kept. Not served, and not a problem of the audit.
    app.restart().await;
    assert!(staged.exists(), "a staging folder in use is left alone");
    let (status, _) = app.get("/draws/.staging").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, audit) = app.operator("/api/v1/ledger/verify", json!({})).await;
    assert_eq!(audit["problems"], json!([]), "{audit}");
    // Left alone for an hour, it is an interrupted draw's.
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::open(&staging).unwrap().set_modified(hour_ago).unwrap();
    app.restart().await;
    assert!(!staging.exists(), "an unrecorded draw leaves no trace after a restart");
    let (_, audit) = app.operator("/api/v1/ledger/verify", json!({})).await;
    assert_eq!(audit["problems"], json!([]), "{audit}");
    assert_eq!(audit["draws_checked"], 1);
}

#[tokio::test]
async fn results_are_recorded_once_published_in_a_notice_and_tracked_until_then() {
    let app = TestApp::spawn_service().await;
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    app.operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    let (_, rows) = app.get(&format!("/api/v1/draws/{task}/assignments?per_page=2")).await;
    let (code, name) = (
        rows["rows"][0]["credit_code"].as_str().unwrap(),
        rows["rows"][0]["name"].as_str().unwrap(),
    );
    let result = json!({"task_id": task, "credit_code": code, "codes": ["1"], "inspection_date": app.state.desk.time.today().to_string(),
                        "methods": ["实地核查"], "follow_up": "", "closed": true});

    let (status, recorded) = app.operator("/api/v1/results", result.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    let publish_by = chrono::NaiveDate::parse_from_str(recorded["publish_by"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let today = app.state.desk.time.today();
    assert!(
        publish_by >= today + chrono::Days::new(26),
        "20 working days are at least four weeks: {publish_by}"
    );
    let (status, _) = app.operator("/api/v1/results", result.clone()).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a result is recorded once, never overwritten"
    );
    let mut bad = result.clone();
    bad["codes"] = json!(["Z"]);
    assert_eq!(
        app.operator("/api/v1/results", bad).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let mut stranger = result.clone();
    stranger["credit_code"] = json!("91350100M000100Y43");
    assert_eq!(
        app.operator("/api/v1/results", stranger).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let (status, due) = app.call("GET", "/api/v1/results/due", None, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(due.as_array().unwrap().len(), 1);
    assert_eq!(due[0]["overdue"], false);
    assert_eq!(
        app.call("GET", "/api/v1/results/due", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, public) = app.get("/api/v1/results").await;
    assert!(
        public.as_array().unwrap().is_empty(),
        "nothing is public before the notice"
    );

    let (status, notice) = app.operator("/api/v1/results/publish", json!({"task_id": task})).await;
    assert_eq!(status, StatusCode::CREATED, "{notice}");
    let (_, due) = app.call("GET", "/api/v1/results/due", None, Some(TOKEN)).await;
    assert!(due.as_array().unwrap().is_empty());
    let (_, public) = app.get("/api/v1/results").await;
    assert_eq!(public[0]["credit_code"], code);
    assert_eq!(public[0]["name"], name);
    assert_eq!(public[0]["results"][0], json!(["1", "未发现问题"]));
    let (status, _, page) = get_raw(&app, "/results").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(name) && page.contains("未发现问题"));
    let bundle = app.publications().join(drawn_bundle(&app, &task).await);
    let csv = std::fs::read_to_string(bundle.join("public/results.csv")).unwrap();
    assert!(
        csv.starts_with("\u{feff}统一社会信用代码,名称,检查结果代码")
            && csv.contains(code)
            && csv.contains("未发现问题"),
        "the public bundle carries the published results: {csv}"
    );
    let (status, kind, _) = get_raw(&app, "/results.xlsx").await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("application/vnd.openxmlformats"), "{kind}");
    // A search for the business shows its published result; the other
    // business of the list has none.
    let (_, hits) = app.get(&format!("/api/v1/search?q={code}")).await;
    let completed = today.to_string();
    assert_eq!(hits[0]["result"]["results"][0], json!(["1", "未发现问题"]), "{hits}");
    assert_eq!(hits[0]["result"]["completed"], completed.as_str());
    assert_eq!(hits[0]["result"]["published_on"], completed.as_str());
    let other = rows["rows"][1]["credit_code"].as_str().unwrap();
    let (_, hits) = app.get(&format!("/api/v1/search?q={other}")).await;
    assert!(hits[0].get("result").is_none(), "{hits}");
    let (_, _, page) = get_raw(&app, &format!("/search?q={code}")).await;
    assert!(
        page.contains("检查结果 <span class=\"en\">Result</span></dt><dd><code>1</code> 未发现问题"),
        "{page}"
    );
    // The draw's own list shows each business's result, or that it has none yet.
    let (_, _, page) = get_raw(&app, &format!("/draws/{}", drawn_bundle(&app, &task).await)).await;
    assert!(
        page.contains("<td data-label=\"检查结果\"><code>1</code> 未发现问题"),
        "{page}"
    );
    assert!(
        page.contains("未公示 <span class=\"en\">not yet published</span>"),
        "{page}"
    );
    assert_eq!(
        app.operator("/api/v1/results/publish", json!({"task_id": task}))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

/// A one-holiday table for `year`, enough to count it as official.
#[tokio::test]
async fn a_deadline_past_the_official_tables_is_recorded_provisional_until_the_table_is_added() {
    // The official tables end before today's deadline does (as the shipped
    // ones, ending 2026-12-31, do for a result recorded from 2026-12-04 on):
    // the result is recorded all the same, its deadline counted on the
    // statutory holidays and marked provisional in the API and the due list.
    // The tables are the shipped ones, up to the year before today.
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/holidays");
    let table = move |year: i32| {
        std::fs::read_to_string(shipped.join(format!("{year}.toml"))).unwrap_or_else(|_| app::test_table(year))
    };
    let this_year =
        chrono::Datelike::year(&shuangsui::clock::OfficeClock::system(shuangsui::clock::Zone::SHANGHAI).today());
    let mut app = TestApp::spawn_with_holidays(|holidays| {
        for year in 2025..this_year {
            std::fs::write(holidays.join(format!("{year}.toml")), table(year)).unwrap();
        }
    })
    .await;
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    app.operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    let (_, rows) = app.get(&format!("/api/v1/draws/{task}/assignments?per_page=1")).await;
    let result = json!({"task_id": task, "credit_code": rows["rows"][0]["credit_code"], "codes": ["1"],
                        "inspection_date": app.state.desk.time.today().to_string()});
    let (status, recorded) = app.operator("/api/v1/results", result).await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    assert_eq!(recorded["provisional"], true, "{recorded}");
    let publish_by = recorded["publish_by"].as_str().unwrap().to_owned();
    let (_, due) = app.call("GET", "/api/v1/results/due", None, Some(TOKEN)).await;
    assert_eq!(due[0]["provisional"], true, "{due}");
    assert_eq!(due[0]["publish_by"], publish_by.as_str());

    // The notices for the years it counts are added: after a restart the
    // same result's deadline is official, recomputed from the recorded day.
    for year in this_year..=this_year + 1 {
        std::fs::write(app.holidays().join(format!("{year}.toml")), table(year)).unwrap();
    }
    app.restart().await;
    let (_, due) = app.call("GET", "/api/v1/results/due", None, Some(TOKEN)).await;
    assert_eq!(due[0]["provisional"], false, "{due}");
    assert_eq!(due.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_substitute_is_drawn_recorded_published_and_verified() {
    let app = TestApp::spawn_service().await;
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    let (_, drawn) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    let bundle = drawn["bundle"].as_str().unwrap().to_owned();
    let (_, rows) = app.get(&format!("/api/v1/draws/{task}/assignments?per_page=2")).await;
    let code = rows["rows"][0]["credit_code"].as_str().unwrap().to_owned();
    let leader = rows["rows"][0]["team"][0].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/draws/{task}/substitutions");
    let ask =
        json!({"credit_code": code, "out": leader, "reason": "conflict", "relation": "近亲属", "note": "本人申报"});

    assert_eq!(
        app.call("POST", &uri, Some(ask.clone()), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, made) = app.operator(&uri, ask.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let incoming = made["entry"]["in"].as_str().unwrap().to_owned();
    assert_ne!(incoming, leader);
    assert!(made["recusal_list"].as_str().unwrap().starts_with("added"), "{made}");
    assert!(made["entry"].get("relation").is_none(), "the ledger payload is public");
    let live = std::fs::read_to_string(app.config.pools_dir.join("conflicts.csv")).unwrap();
    assert!(
        live.contains(&format!("{leader},{code}")),
        "the declared conflict joins the live list"
    );

    // The same officer again: no longer on the team, refused, nothing recorded.
    let (_, head_before) = app.get("/api/v1/ledger/head").await;
    let (status, refused) = app.operator(&uri, ask).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"], "substitution_refused");
    assert_eq!(app.get("/api/v1/ledger/head").await.1, head_before);

    let (_, public) = app.get(&uri).await;
    assert_eq!(public["substitutions"][0]["in"], incoming.as_str());
    assert!(public.to_string().find("近亲属").is_none() && public.to_string().find("本人申报").is_none());
    let file = std::fs::read_to_string(app.publications().join(&bundle).join("substitutions.json")).unwrap();
    assert!(file.contains("本人申报"), "the confidential copy keeps the note");

    let (status, audit) = app.call("POST", "/api/v1/ledger/verify", None, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(audit["problems"], json!([]), "{audit}");
    let (status, _, page) = get_raw(&app, &format!("/draws/{bundle}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("人员调整") && page.contains(&incoming),
        "the page shows the substitution"
    );
    let (status, _, zip) = get_raw(&app, &format!("/draws/{bundle}/bundle.zip")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(zip.contains("substitutions.json"), "the public bundle carries the list");

    // An edited list is caught by the audit.
    let path = app.publications().join(&bundle).join("substitutions.json");
    let other = ["52028120010001", "52028120010002"]
        .into_iter()
        .find(|c| *c != incoming)
        .unwrap();
    let edited = file.replace(&format!("\"in\": \"{incoming}\""), &format!("\"in\": \"{other}\""));
    assert_ne!(edited, file);
    std::fs::write(&path, edited).unwrap();
    let (_, audit) = app.call("POST", "/api/v1/ledger/verify", None, Some(TOKEN)).await;
    assert_ne!(audit["problems"], json!([]), "{audit}");
}

/// A substitution's reason is confidential: 回避 would publish an entry of
/// the recusal list, 请假 an officer's leave. Everything public — the
/// ledger, the public copy, the API, the page — says 人员调整; the
/// confidential copy and the database keep the real reason, also across a
/// restart, and both copies verify.
#[tokio::test]
async fn a_public_substitution_withholds_its_reason() {
    let mut app = TestApp::spawn_service().await;
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    let (_, drawn) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    let bundle = drawn["bundle"].as_str().unwrap().to_owned();
    let (_, rows) = app.get(&format!("/api/v1/draws/{task}/assignments?per_page=2")).await;
    let uri = format!("/api/v1/draws/{task}/substitutions");
    let ask = |row: usize, reason: &str| {
        let relation = if reason == "conflict" { "配偶" } else { "" };
        json!({"credit_code": rows["rows"][row]["credit_code"], "out": rows["rows"][row]["team"][0],
               "reason": reason, "relation": relation})
    };
    let (_, head) = app.get("/api/v1/ledger/head").await;
    let (status, refused) = app.operator(&uri, ask(0, "adjustment")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("give the real one"),
        "{refused}"
    );
    // A conflict joins the live recusal list, which needs its relation.
    let mut bare = ask(0, "conflict");
    bare["relation"] = json!(" ");
    let (status, refused) = app.operator(&uri, bare).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("must give its relation"),
        "{refused}"
    );
    assert_eq!(app.get("/api/v1/ledger/head").await.1, head, "nothing recorded");
    for (row, reason) in [(0, "conflict"), (1, "leave")] {
        let (status, made) = app.operator(&uri, ask(row, reason)).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        assert_eq!(made["reason"], reason, "the operator is told the reason kept");
        assert_eq!(made["entry"]["reason"], "adjustment", "the ledger's entry is public");
    }

    let (_, ledger) = app.get("/api/v1/ledger").await;
    let substituted: Vec<&Value> = ledger
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "officer_substituted")
        .collect();
    assert_eq!(substituted.len(), 2, "{ledger}");
    for entry in substituted {
        let text = entry.to_string();
        assert!(
            text.contains("adjustment") && !text.contains("conflict") && !text.contains("leave"),
            "{text}"
        );
    }
    let (_, public) = app.get(&uri).await;
    let reasons: Vec<&Value> = public["substitutions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["reason"])
        .collect();
    assert_eq!(reasons, [&json!("adjustment"), &json!("adjustment")], "{public}");
    let dir = app.publications().join(&bundle);
    let public_file = std::fs::read_to_string(dir.join("public/substitutions.json")).unwrap();
    assert!(
        public_file.contains("\"format\": \"shuangsui-substitutions/2\""),
        "{public_file}"
    );
    assert!(
        !public_file.contains("conflict") && !public_file.contains("leave"),
        "{public_file}"
    );
    let confidential = std::fs::read_to_string(dir.join("substitutions.json")).unwrap();
    assert!(confidential.contains("\"reason\": \"conflict\"") && confidential.contains("\"reason\": \"leave\""));
    let (status, _, page) = get_raw(&app, &format!("/draws/{bundle}")).await;
    assert_eq!(status, StatusCode::OK);
    for label in ["新申报回避", "请假"] {
        assert!(!page.contains(label), "the page shows {label}");
    }

    let (_, audit) = app.call("POST", "/api/v1/ledger/verify", None, Some(TOKEN)).await;
    assert_eq!(audit["problems"], json!([]), "{audit}");
    // On the pools the draw was made on (the live list now holds the pair).
    let (announced, _) = app.state.desk.announcement(&task).await.unwrap().unwrap();
    let snapshot = app
        .config
        .data_dir
        .join("snapshots")
        .join(announced.snapshot_combined.to_hex());
    let report = shuangsui::verify::verify(&dir, &snapshot, Default::default()).unwrap();
    assert!(report.verified(), "{:?}", report.difference);
    app.restart().await;
    let log = app.state.desk.substitution_log(&task).await.unwrap().unwrap();
    let kept: Vec<Reason> = log.substitutions.iter().map(|e| e.reason).collect();
    assert_eq!(kept, [Reason::Conflict, Reason::Leave], "kept in the database");

    // A public copy that gives the reason away does not verify.
    std::fs::write(
        dir.join("public/substitutions.json"),
        public_file.replacen("\"adjustment\"", "\"conflict\"", 1),
    )
    .unwrap();
    let refused = shuangsui::verify::verify(&dir, &snapshot, Default::default()).unwrap_err();
    assert!(
        refused.to_string().contains("a reason other than adjustment"),
        "{refused}"
    );
}

/// The holiday tables of [`TestApp::spawn`].
fn three_years(holidays: &std::path::Path) {
    let this_year = chrono::Datelike::year(&chrono::Utc::now());
    for year in [this_year - 1, this_year, this_year + 1] {
        std::fs::write(holidays.join(format!("{year}.toml")), app::test_table(year)).unwrap();
    }
}

#[tokio::test]
async fn the_default_live_pools_are_a_copy_in_the_data_folder_and_the_sample_is_never_written() {
    // As with the shipped configuration: no pools_dir, so the live folder is
    // DATA_DIR/pools, seeded from the sample on first start.
    let app = TestApp::spawn_custom(three_years, |config| {
        config.sample_pools = Some(config.pools_dir.clone());
        config.pools_dir = config.data_dir.join("pools");
    })
    .await;
    let sample = app.config.sample_pools.clone().unwrap();
    let live = app.config.data_dir.join("pools");
    assert_eq!(app.state.desk.pools_dir, live);
    let sample_conflicts = std::fs::read(sample.join("conflicts.csv")).unwrap();
    assert_eq!(std::fs::read(live.join("conflicts.csv")).unwrap(), sample_conflicts);
    assert!(
        !std::fs::read_dir(&app.config.data_dir).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("seeding")),
        "no seeding leftovers"
    );

    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    app.operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    let (_, rows) = app.get(&format!("/api/v1/draws/{task}/assignments?per_page=1")).await;
    let code = rows["rows"][0]["credit_code"].as_str().unwrap().to_owned();
    let leader = rows["rows"][0]["team"][0].as_str().unwrap().to_owned();
    let ask = json!({"credit_code": code, "out": leader, "reason": "conflict", "relation": "近亲属"});
    let (status, made) = app.operator(&format!("/api/v1/draws/{task}/substitutions"), ask).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");

    assert_eq!(
        std::fs::read(sample.join("conflicts.csv")).unwrap(),
        sample_conflicts,
        "the sample (in the checkout: data/) is never written"
    );
    let grown = std::fs::read_to_string(live.join("conflicts.csv")).unwrap();
    assert!(grown.len() > sample_conflicts.len() && grown.contains(&format!("{leader},{code}")));

    // A second start keeps the live folder as it was left, grown.
    let mut app = app;
    app.restart().await;
    assert_eq!(std::fs::read_to_string(live.join("conflicts.csv")).unwrap(), grown);
}

#[test]
fn the_shipped_configuration_keeps_the_live_pools_under_the_data_folder() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/shuangsui.toml");
    let config = Config::load(&path, |_| None).unwrap();
    assert_eq!(config.pools_dir, PathBuf::from("var/pools"));
    assert_eq!(config.sample_pools, Some(PathBuf::from("data")));
    let moved = config.with_data_dir(PathBuf::from("/srv/state"), false);
    assert_eq!(moved.pools_dir, PathBuf::from("/srv/state/pools"));
    // An explicit folder wins, and is never seeded.
    let explicit = Config::load(&path, |name| {
        (name == "SHUANGSUI_POOLS_DIR").then(|| "/srv/pools".into())
    })
    .unwrap();
    assert_eq!(explicit.pools_dir, PathBuf::from("/srv/pools"));
    assert_eq!(explicit.sample_pools, None);
    let explicit = explicit.with_data_dir(PathBuf::from("/srv/state"), false);
    assert_eq!(explicit.pools_dir, PathBuf::from("/srv/pools"));
}

#[test]
fn seeding_refuses_an_incomplete_sample_and_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let sample = root.path().join("sample");
    std::fs::create_dir_all(&sample).unwrap();
    std::fs::write(sample.join("departments.csv"), "x\n").unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/shuangsui.toml");
    let mut config = Config::load(&path, |_| None)
        .unwrap()
        .with_data_dir(root.path().join("state"), false);
    config.sample_pools = Some(sample);
    std::fs::create_dir_all(config.data_dir.join(".pools.seeding-1")).unwrap();
    let err = shuangsui::service::data_dir::seed_pools(&config).unwrap_err();
    assert!(err.to_string().contains("items.csv"), "{err}");
    assert_eq!(
        std::fs::read_dir(&config.data_dir).unwrap().count(),
        0,
        "nothing half-seeded, and an interrupted start's leftovers are gone"
    );
}

#[tokio::test]
async fn the_data_folder_records_its_database_and_refuses_another() {
    let app = TestApp::spawn_service().await;
    let marker = app.config.data_dir.join("database.toml");
    let text = std::fs::read_to_string(&marker).unwrap();
    assert!(text.contains("kind = \"sqlite\""), "{text}");
    // A folder that belongs to PostgreSQL, started without the URL: refused,
    // naming the marker and what to set; no SQLite ledger is created.
    let other = tempfile::tempdir().unwrap();
    let mut config = app.config.clone();
    config.data_dir = other.path().join("state");
    config.database_url = format!("sqlite://{}?mode=rwc", config.data_dir.join("ledger.db").display());
    std::fs::create_dir_all(&config.data_dir).unwrap();
    std::fs::write(
        config.data_dir.join("database.toml"),
        "kind = \"postgres\"\ndatabase = \"postgres://shuangsui@db.internal:5432/shuangsui\"\n",
    )
    .unwrap();
    let err = match state(&config).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("started on the wrong database"),
    };
    assert!(
        err.contains("database.toml") && err.contains("SHUANGSUI_DATABASE_URL") && err.contains("db.internal"),
        "{err}"
    );
    assert!(!config.data_dir.join("ledger.db").exists());
}

#[test]
fn a_postgres_identity_leaves_out_the_password() {
    use shuangsui::service::data_dir::Database;
    let db = Database::of_url("postgres://clerk:s3cret@db.internal:5433/shuangsui?sslmode=require");
    assert_eq!(db.kind, "postgres");
    assert_eq!(
        db.database.as_deref(),
        Some("postgres://clerk@db.internal:5433/shuangsui")
    );
    assert_eq!(Database::of_url("sqlite:///var/x/ledger.db?mode=rwc").kind, "sqlite");
}

#[tokio::test]
async fn ledger_verify_from_the_command_line_checks_a_service_data_folder() {
    let app = TestApp::spawn_service().await;
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    app.operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shuangsui"))
        .args(["ledger", "verify", "--data-dir"])
        .arg(&app.config.data_dir)
        .env_remove("SHUANGSUI_DATABASE_URL")
        .env_remove("SHUANGSUI_DATA_DIR")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("draws checked: 1") && text.contains("ledger verified"),
        "{text}"
    );
}

async fn get_bytes(app: &TestApp, uri: &str) -> (StatusCode, String, Vec<u8>) {
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = app.router().oneshot(request).await.unwrap();
    let status = response.status();
    let disposition = response
        .headers()
        .get("content-disposition")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20).await.unwrap();
    (status, disposition, bytes.to_vec())
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// After a substitution, every view of the draw shows the substitute and
/// not the officer replaced as the current team, and keeps the team as
/// drawn beside it; the cached search index does not hold on to the old one.
#[tokio::test]
async fn after_a_substitution_every_view_shows_the_current_team() {
    let app = TestApp::spawn_service().await;
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    let (_, drawn) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    let bundle = drawn["bundle"].as_str().unwrap().to_owned();
    let (_, rows) = app
        .get(&format!("/api/v1/draws/{task}/assignments?per_page=1000"))
        .await;
    let row = &rows["rows"][rows["total"].as_u64().unwrap() as usize / 2];
    let code = row["credit_code"].as_str().unwrap().to_owned();
    let drawn_team = strings(&row["team"]);
    let out = drawn_team[0].clone();

    // Searched once before, so the index is cached with the drawn team.
    let (_, hits) = app.get(&format!("/api/v1/search?q={code}")).await;
    assert_eq!(strings(&hits[0]["team"]), drawn_team);

    let (status, made) = app
        .operator(
            &format!("/api/v1/draws/{task}/substitutions"),
            json!({"credit_code": code, "out": out, "reason": "leave", "note": "病假"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let incoming = made["entry"]["in"].as_str().unwrap().to_owned();
    let mut team = drawn_team.clone();
    team[0] = incoming.clone();
    let not_current = |what: &str, current: &[String]| {
        assert!(
            !current.contains(&out),
            "{what}: {out} is still on the current team {current:?}"
        );
        assert_eq!(current, team, "{what}");
    };

    // The draw page: the current team in the list, the drawn one marked.
    let (status, _, page) = get_raw(&app, &format!("/draws/{bundle}")).await;
    assert_eq!(status, StatusCode::OK);
    let tr = page
        .split("<tr>")
        .find(|tr| {
            tr.starts_with("<td class=\"n\" data-label=\"序号\">") && tr.contains(&format!("<code>{code}</code>"))
        })
        .unwrap();
    assert!(
        tr.contains(&format!(
            "<td data-label=\"组长\"><code>{incoming}</code></td><td data-label=\"检查人员\"><code>{}</code>",
            team.join("<br>")
        )),
        "{tr}"
    );
    assert!(tr.contains(&format!(
        "抽取时 <span class=\"en\">as drawn</span>：<code>{}</code>",
        drawn_team.join("、")
    )));
    assert!(
        page.contains("href=\"/draws/") && page.contains("/drawn.csv\""),
        "the page offers the drawn list"
    );

    // The search page and the search API, at once.
    let (_, _, found) = get_raw(&app, &format!("/search?q={code}")).await;
    let certs = |team: &[String]| {
        team.iter()
            .map(|c| format!("<code>{c}</code>"))
            .collect::<Vec<_>>()
            .join("、")
    };
    assert!(
        found.contains(&format!("<dd><code>{incoming}</code></dd>")),
        "the leader: {found}"
    );
    assert!(
        found.contains(&format!("<dd>{}</dd>", certs(&team))),
        "the current team"
    );
    assert!(found.contains("抽取时检查组") && found.contains(&format!("<dd>{}<br>", certs(&drawn_team))));
    let (_, hits) = app.get(&format!("/api/v1/search?q={code}")).await;
    assert_eq!(hits.as_array().unwrap().len(), 1);
    assert_eq!(hits[0]["leader"], incoming.as_str());
    not_current("search API", &strings(&hits[0]["team"]));
    assert_eq!(strings(&hits[0]["drawn_team"]), drawn_team);
    assert_eq!(hits[0]["substitutions"], json!([1]));

    // The assignments API.
    let (_, rows) = app
        .get(&format!("/api/v1/draws/{task}/assignments?per_page=1000"))
        .await;
    let row = rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["credit_code"] == code.as_str())
        .unwrap();
    assert_eq!(row["leader"], incoming.as_str());
    not_current("assignments API", &strings(&row["team"]));
    assert_eq!(strings(&row["drawn_team"]), drawn_team);
    assert_eq!(row["substitutions"], json!([1]));
    let others = rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["credit_code"] != code.as_str());
    for other in others {
        assert_eq!(other["team"], other["drawn_team"]);
        assert!(other.get("substitutions").is_none());
    }

    // The CSV and Excel downloads of the current list.
    let (status, disposition, csv) = get_bytes(&app, &format!("/draws/{bundle}/assignments.csv")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(disposition.contains("-current.csv"), "{disposition}");
    let mut reader = csv::Reader::from_reader(csv.strip_prefix("\u{feff}".as_bytes()).unwrap());
    let header = reader.headers().unwrap().clone();
    assert_eq!((&header[6], &header[7]), ("检查人员", "抽取时检查组"));
    let record = reader.records().map(Result::unwrap).find(|r| r[1] == code).unwrap();
    assert_eq!(&record[5], incoming);
    not_current("CSV", &record[6].split(';').map(str::to_owned).collect::<Vec<_>>());
    assert_eq!(&record[7], drawn_team.join(";"));
    let (status, disposition, xlsx) = get_bytes(&app, &format!("/draws/{bundle}/assignments.xlsx")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(disposition.contains("-current.xlsx"), "{disposition}");
    use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
    let mut workbook: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let sheet = workbook.worksheet_range("抽查名单").unwrap();
    assert_eq!(sheet.rows().nth(1).unwrap()[7], Data::String("抽取时检查组".into()));
    let cells = sheet.rows().find(|r| r[1] == Data::String(code.clone())).unwrap();
    assert_eq!(cells[5], Data::String(incoming.clone()));
    not_current(
        "xlsx",
        &cells[6].to_string().split(';').map(str::to_owned).collect::<Vec<_>>(),
    );
    assert_eq!(cells[7], Data::String(drawn_team.join(";")));
    assert_eq!(cells[8], Data::String(format!("#1 {out}→{incoming}")));

    // The list as drawn: the bundle's own file, byte for byte, its hash the
    // manifest's.
    let (status, _, as_drawn) = get_bytes(&app, &format!("/draws/{bundle}/drawn.csv")).await;
    assert_eq!(status, StatusCode::OK);
    let public = app.publications().join(&bundle).join("public");
    assert_eq!(as_drawn, std::fs::read(public.join("assignments.csv")).unwrap());
    let manifest: Value = serde_json::from_slice(&std::fs::read(public.join("manifest.json")).unwrap()).unwrap();
    let recorded = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "assignments.csv")
        .unwrap();
    assert_eq!(recorded["sha256"], shuangsui::snapshot::bytes_hash(&as_drawn).to_hex());
    let text = String::from_utf8(as_drawn).unwrap();
    let line = text.lines().find(|l| l.contains(&code)).unwrap();
    assert!(
        line.ends_with(&drawn_team.join(";")),
        "the drawn record keeps {out}: {line}"
    );
    let (_, audit) = app.call("POST", "/api/v1/ledger/verify", None, Some(TOKEN)).await;
    assert_eq!(audit["problems"], json!([]), "{audit}");

    // A search made between a substitution's ledger entry and the writing of
    // its public list (the desk records first, then writes) builds the index
    // from the list as it was; the next search after the write must not keep
    // that index.
    let second = rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["credit_code"] != code.as_str())
        .unwrap();
    let (code, drawn_team) = (second["credit_code"].as_str().unwrap(), strings(&second["team"]));
    let list = public.join("substitutions.json");
    let as_it_was = std::fs::read(&list).unwrap();
    let (status, made) = app
        .operator(
            &format!("/api/v1/draws/{task}/substitutions"),
            json!({"credit_code": code, "out": drawn_team[0], "reason": "other"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let written = std::fs::read(&list).unwrap();
    std::fs::write(&list, as_it_was).unwrap();
    let (_, hits) = app.get(&format!("/api/v1/search?q={code}")).await;
    assert_eq!(strings(&hits[0]["team"]), drawn_team, "before the write");
    std::fs::write(&list, written).unwrap();
    let (_, hits) = app.get(&format!("/api/v1/search?q={code}")).await;
    assert_eq!(hits[0]["leader"], made["entry"]["in"], "after the write");
}

#[tokio::test]
async fn a_dropped_substitution_is_caught_against_the_ledger() {
    let app = TestApp::spawn_service().await;
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    let (_, drawn) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    let bundle = app.publications().join(drawn["bundle"].as_str().unwrap());
    let (_, rows) = app.get(&format!("/api/v1/draws/{task}/assignments?per_page=2")).await;
    let uri = format!("/api/v1/draws/{task}/substitutions");
    for row in 0..2 {
        let ask = json!({"credit_code": rows["rows"][row]["credit_code"], "out": rows["rows"][row]["team"][1], "reason": "leave"});
        assert_eq!(app.operator(&uri, ask).await.0, StatusCode::CREATED);
    }
    // Put back the list as it was after the first substitution: it still
    // replays, but it is not what the ledger records.
    let mut log = shuangsui::substitution::read(&bundle).unwrap().unwrap();
    log.substitutions.pop();
    let pools = common::load_pools(&app.config.pools_dir);
    let plan = shuangsui::bundle::read(&bundle).unwrap().plan;
    let seed = shuangsui::seed::Seed::parse_hex(drawn["seed"].as_str().unwrap()).unwrap();
    let history = shuangsui::history::History::default();
    let outcome = shuangsui::draw::draw(&pools, &plan, &history, &seed).unwrap();
    let mut roster = shuangsui::substitution::Roster::new(&pools, &plan, &history, &seed, outcome);
    roster.replay(&log.substitutions).unwrap();
    log.result_sha256 = roster.result_sha256();
    shuangsui::substitution::write(&bundle, &log).unwrap();
    assert!(
        shuangsui::verify::verify(&bundle, &app.config.pools_dir, Default::default())
            .unwrap()
            .verified()
    );
    // The list served is not the one recorded with the entry.
    let (_, audit) = app.call("POST", "/api/v1/ledger/verify", None, Some(TOKEN)).await;
    assert!(
        audit["problems"][0]
            .as_str()
            .unwrap()
            .contains("substitutions.json does not match the file its entry records"),
        "{audit}"
    );
}

async fn drawn_bundle(app: &TestApp, task: &str) -> String {
    let (_, detail) = app.get(&format!("/api/v1/draws/{task}")).await;
    detail["record"]["bundle"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_excel_workbook_serves_as_the_live_pools() {
    let mut app = TestApp::spawn_service().await;
    let workbook = app.config.data_dir.parent().unwrap().join("pools.xlsx");
    shuangsui::pools::write_workbook(&app.config.pools_dir, &workbook, shuangsui::pools::Encoding::Utf8).unwrap();
    let csv_snapshot = app.get("/api/v1/pools").await.1["snapshot_combined"].clone();
    app.config.pools_dir = workbook;
    app.restart().await;
    let (status, pools) = app.get("/api/v1/pools").await;
    assert_eq!(status, StatusCode::OK, "{pools}");
    assert_eq!(pools["snapshot_combined"], csv_snapshot, "same values, same snapshot");

    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    let (status, drawn) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    let (_, rows) = app.get(&format!("/api/v1/draws/{task}/assignments?per_page=1")).await;
    let ask = json!({"credit_code": rows["rows"][0]["credit_code"], "out": rows["rows"][0]["team"][0], "reason": "conflict", "relation": "同学"});
    let (status, made) = app.operator(&format!("/api/v1/draws/{task}/substitutions"), ask).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert!(
        made["recusal_list"].as_str().unwrap().contains("conflicts sheet"),
        "a workbook is not edited behind the office's back: {made}"
    );
    let (_, audit) = app.call("POST", "/api/v1/ledger/verify", None, Some(TOKEN)).await;
    assert_eq!(audit["problems"], json!([]), "{audit}");
    assert_eq!(audit["draws_checked"], 1);
}

#[tokio::test]
async fn a_joint_plan_is_announced_drawn_verified_and_shown_by_department() {
    let app = TestApp::spawn_service().await;
    let loaded = common::load_pools(&app.config.pools_dir);
    let joint = common::joint_plan_toml(&loaded, 2, 2, "[selection]\nratios = { A = 3, B = 3, C = 10, D = 30 }");
    std::fs::write(app.config.plans_dir.join("joint-plan.toml"), joint).unwrap();
    let (status, announced) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": "joint-plan", "seed_method": {"kind": "commit"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{announced}");
    let participant = announced["plan"]["joint"]["participants"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let task = announced["task_id"].as_str().unwrap();
    let (status, drawn) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    let name = drawn["bundle"].as_str().unwrap();
    let report = shuangsui::verify::verify(
        &app.publications().join(name),
        &app.config.pools_dir,
        Default::default(),
    )
    .unwrap();
    assert!(report.verified(), "{:?}", report.difference);
    let (status, page) = app.get(&format!("/draws/{name}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.as_str().unwrap().contains(&participant),
        "the page names the joining department"
    );
    let (_, rows) = app
        .get(&format!("/api/v1/draws/{task}/assignments?per_page=1000"))
        .await;
    let rows = rows["rows"].as_array().unwrap();
    assert!(
        rows.iter().any(|r| r["departments"]
            .as_array()
            .is_some_and(|d| d.len() == 2 && d[1] == participant.as_str())),
        "the API says which department each share of a joint team comes from"
    );
    let (status, _, xlsx) = get_raw(&app, &format!("/draws/{name}/assignments.xlsx")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!xlsx.is_empty());

    // A plan merging with a plan not drawn here is refused at announcement.
    let merging_with = |earlier: &str| {
        common::plan_toml(&loaded, 1, "").replace(
            "id = \"TEST-1\"",
            &format!("id = \"TEST-2\"\nmerge_with = [\"{earlier}\"]"),
        )
    };
    let (status, reply) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan_toml": merging_with("TEST-1"), "seed_method": {"kind": "commit"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    assert!(
        reply["message"]
            .as_str()
            .unwrap_or_default()
            .contains("has not been drawn"),
        "{reply}"
    );

    // Merging with the joint plan just drawn (same inspection date): the
    // announcement fixes that draw, and the merged draw verifies.
    let (status, announced) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan_toml": merging_with("JOINT-1"), "seed_method": {"kind": "commit"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{announced}");
    assert_eq!(announced["merge_sources"][0]["bundle"], name);
    let (status, merged) = app
        .operator(
            "/api/v1/draws",
            json!({"task_id": "TEST-2", "seed": {"kind": "reveal"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    // Exactly the businesses both plans drew are visited once for both.
    let codes = |rows: &Value| -> std::collections::BTreeSet<String> {
        rows["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["credit_code"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, joint_rows) = app
        .get(&format!("/api/v1/draws/{task}/assignments?per_page=1000"))
        .await;
    let (_, rows) = app.get("/api/v1/draws/TEST-2/assignments?per_page=1000").await;
    let both = codes(&joint_rows);
    for row in rows["rows"].as_array().unwrap() {
        let joins = both.contains(row["credit_code"].as_str().unwrap());
        assert_eq!(row["merged_with"] == "JOINT-1", joins, "{row}");
        assert_eq!(row.get("merged_with").is_none(), !joins, "{row}");
    }
    let (_, audit) = app.call("POST", "/api/v1/ledger/verify", None, Some(TOKEN)).await;
    assert_eq!(audit["problems"], json!([]), "{audit}");
    assert_eq!(audit["draws_checked"], 2);
}

fn utc(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// A service on a clock that moves only when told, with the 2026 table.
async fn spawn_at(clock: &std::sync::Arc<FixedClock>, zone: Zone) -> TestApp {
    TestApp::spawn_service_on(
        clock.clone(),
        |holidays| std::fs::write(holidays.join("2026.toml"), app::test_table(2026)).unwrap(),
        |config| config.time_zone = zone,
    )
    .await
}

/// A draw comes before the inspections it chooses: a plan dated before
/// today (Beijing time) is neither announced nor drawn ad hoc, and nothing
/// is recorded; the day itself is in time, and an announcement may date a
/// plan file for its batch.
#[tokio::test]
async fn a_plan_whose_inspection_date_has_passed_is_not_announced() {
    // 2026-03-03 08:30 in Beijing: the test plan's date, 2026-03-02, is past.
    let clock = std::sync::Arc::new(FixedClock::at(utc("2026-03-03T00:30:00Z")));
    let app = spawn_at(&clock, Zone::SHANGHAI).await;
    let commit = json!({"kind": "commit"});
    for (uri, body) in [
        (
            "/api/v1/announcements",
            json!({"plan": "test-plan", "seed_method": commit}),
        ),
        ("/api/v1/adhoc-draws", json!({"plan": "test-plan"})),
        (
            "/api/v1/announcements",
            json!({"plan": "test-plan", "inspection_date": "2026-03-02", "seed_method": commit}),
        ),
    ] {
        let (status, reply) = app.operator(uri, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {reply}");
        let message = reply["message"].as_str().unwrap();
        assert!(
            message.contains("the inspection date 2026-03-02 has passed (today is 2026-03-03)"),
            "{message}"
        );
    }
    let (_, head) = app.get("/api/v1/ledger/head").await;
    assert_eq!(head["seq"], 0, "a refused request records nothing");
    let (status, reply) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": "test-plan", "inspection_date": "2026-02-30", "seed_method": commit}),
        )
        .await;
    assert!(status.is_client_error(), "not a date: {reply}");

    // Dated today, the plan is in time; the announcement records the date.
    let (status, announced) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": "test-plan", "inspection_date": "2026-03-03", "seed_method": commit}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{announced}");
    assert_eq!(announced["plan"]["inspection_date"], "2026-03-03");
    assert_eq!(announced["task_id"], "TEST-1", "the plan keeps its id");
}

/// An occurrence caught up after downtime is dated the day it is drawn,
/// not its own day, which has passed; its task keeps the occurrence's name.
#[tokio::test]
async fn a_scheduled_occurrence_caught_up_late_is_dated_today() {
    use shuangsui::schedule::{Action, Executor, Occurrence, Outcome, Schedule};
    use shuangsui::scheduled::DeskExecutor;

    let clock = std::sync::Arc::new(FixedClock::at(utc("2026-04-03T02:00:00Z")));
    let app = spawn_at(&clock, Zone::SHANGHAI).await;
    let schedule_path = app.config.plans_dir.parent().unwrap().join("schedule.toml");
    let job_toml = "[[job]]\nname = \"quarterly\"\ncron = \"0 9 1 1,4,7,10 *\"\nplan = \"plans/test-plan.toml\"\n\
                    seed = \"commit\"\n";
    std::fs::write(&schedule_path, job_toml).unwrap();
    let schedule = Schedule::load(&schedule_path).unwrap();
    let job = schedule.job("quarterly").unwrap();
    let missed = Occurrence::new("quarterly", utc("2026-04-01T01:00:00Z"));
    let executor = DeskExecutor::new(app.state.desk.clone());
    assert_eq!(
        executor.run(job, &missed, Action::Announce).await.unwrap(),
        Outcome::Ran
    );
    let (announced, _) = app.state.desk.announcement("TEST-1-20260401").await.unwrap().unwrap();
    assert_eq!(announced.plan.inspection_date().to_string(), "2026-04-03");
    assert_eq!(executor.run(job, &missed, Action::Draw).await.unwrap(), Outcome::Ran);
}

#[tokio::test]
async fn a_ceremony_is_announced_and_its_digits_accepted_by_the_desks_clock() {
    let clock = std::sync::Arc::new(FixedClock::at(utc("2026-03-01T00:00:00Z")));
    let app = spawn_at(&clock, Zone::SHANGHAI).await;
    let ceremony = |at: &str| json!({"plan": "test-plan", "seed_method": {"kind": "ceremony", "at": at, "place": "盘州市市场监管局摇号室"}});
    // A second before the desk's now is the past, however the wall clock reads.
    let (status, reply) = app
        .operator("/api/v1/announcements", ceremony("2026-03-01T07:59:59+08:00"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("is not in the future"),
        "{reply}"
    );
    let (status, announced) = app
        .operator("/api/v1/announcements", ceremony("2026-03-01T10:00:00+08:00"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{announced}");
    let task = announced["task_id"].as_str().unwrap().to_owned();
    let (_, entry) = app.state.desk.announcement(&task).await.unwrap().unwrap();
    assert_eq!(entry.recorded_at, "2026-03-01T08:00:00+08:00");

    let digits = json!({"task_id": task, "seed": {"kind": "ceremony", "digits": "12345678901234567890"}});
    clock.set(utc("2026-03-01T01:59:59Z"));
    let (status, reply) = app.operator("/api/v1/draws", digits.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("accepted from then on"),
        "{reply}"
    );
    clock.set(utc("2026-03-01T02:00:00Z"));
    let (status, drawn) = app.operator("/api/v1/draws", digits).await;
    assert_eq!(status, StatusCode::OK, "the ceremony's time has come: {drawn}");
    let bundle = app.publications().join(drawn["bundle"].as_str().unwrap());
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["created_at"], "2026-03-01T10:00:00+08:00");
    let (_, entry) = app.state.desk.draw_record(&task).await.unwrap().unwrap();
    assert_eq!(entry.recorded_at, "2026-03-01T10:00:00+08:00");
}

/// Whether the one result due is marked overdue.
async fn overdue(app: &TestApp) -> bool {
    let (status, due) = app.call("GET", "/api/v1/results/due", None, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{due}");
    due[0]["overdue"].as_bool().unwrap()
}

/// Records a result for the first business of a freshly drawn task.
async fn record_a_result(app: &TestApp) -> Value {
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    let (status, drawn) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    let (_, rows) = app.get(&format!("/api/v1/draws/{task}/assignments?per_page=1")).await;
    let result = json!({"task_id": task, "credit_code": rows["rows"][0]["credit_code"], "codes": ["1"],
                        "inspection_date": app.state.desk.time.today().to_string()});
    let (status, recorded) = app.operator("/api/v1/results", result).await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    recorded
}

#[tokio::test]
async fn a_result_deadline_and_its_overdue_mark_follow_the_desks_clock_in_office_time() {
    // Monday 2 March 2026, 09:00 in Shanghai: 20 working days on (the 2026
    // table holds only New Year's Day) is Monday 30 March.
    let clock = std::sync::Arc::new(FixedClock::at(utc("2026-03-02T01:00:00Z")));
    let app = spawn_at(&clock, Zone::SHANGHAI).await;
    let recorded = record_a_result(&app).await;
    assert_eq!(recorded["recorded_at"], "2026-03-02T09:00:00+08:00");
    assert_eq!(recorded["publish_by"], "2026-03-30");
    assert_eq!(recorded["provisional"], false);
    assert!(!overdue(&app).await);
    // The last second of 30 March in Shanghai: still in time.
    clock.set(utc("2026-03-30T15:59:59Z"));
    assert!(!overdue(&app).await);
    // Midnight in Shanghai, while it is still 30 March in UTC: overdue.
    clock.set(utc("2026-03-30T16:00:00Z"));
    assert!(overdue(&app).await);
}

#[tokio::test]
async fn a_configured_time_zone_sets_the_local_date_of_records_and_deadlines() {
    // 20:00 UTC on Sunday 1 March 2026 is already Monday 04:00 in Shanghai.
    let at = utc("2026-03-01T20:00:00Z");
    let shanghai = spawn_at(&std::sync::Arc::new(FixedClock::at(at)), Zone::SHANGHAI).await;
    let recorded = record_a_result(&shanghai).await;
    assert_eq!(recorded["recorded_at"], "2026-03-02T04:00:00+08:00");
    assert_eq!(recorded["publish_by"], "2026-03-30");

    let london = Zone::parse("Europe/London").unwrap();
    let elsewhere = spawn_at(&std::sync::Arc::new(FixedClock::at(at)), london).await;
    let recorded = record_a_result(&elsewhere).await;
    assert_eq!(recorded["recorded_at"], "2026-03-01T20:00:00+00:00");
    // Recorded on Sunday 1 March: 20 working days on is Friday 27 March.
    assert_eq!(recorded["publish_by"], "2026-03-27");
}

#[tokio::test]
async fn a_ceremony_must_be_announced_a_lead_time_ahead_and_no_seed_time_years_away() {
    let clock = std::sync::Arc::new(FixedClock::at(utc("2026-03-01T00:00:00Z")));
    let app = TestApp::spawn_service_on(
        clock.clone(),
        |holidays| std::fs::write(holidays.join("2026.toml"), app::test_table(2026)).unwrap(),
        // The shipped default, 24 h, which the other tests set aside.
        |config| config.seed_times = shuangsui::desk::announce::SeedTimes::default(),
    )
    .await;
    let announce = |method: Value| {
        let app = &app;
        async move {
            app.operator(
                "/api/v1/announcements",
                json!({"plan": "test-plan", "seed_method": method}),
            )
            .await
        }
    };
    let (status, reply) =
        announce(json!({"kind": "ceremony", "at": "2026-03-01T23:00:00Z", "place": "盘州市市场监管局摇号室"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    assert!(reply["message"].as_str().unwrap().contains("24 h ahead"), "{reply}");
    for far in [
        json!({"kind": "ceremony", "at": "2036-03-01T10:00:00+08:00", "place": "盘州市市场监管局摇号室"}),
        json!({"kind": "beacon", "at": "2029-03-01T10:00:00+08:00"}),
        json!({"kind": "commit", "beacon_at": "2062-03-01T10:00:00+08:00"}),
    ] {
        let (status, reply) = announce(far.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{far}: {reply}");
        assert!(reply["message"].as_str().unwrap().contains("days ahead"), "{reply}");
    }
    let (_, announcements) = app.get("/api/v1/announcements").await;
    assert!(
        announcements.as_array().unwrap().is_empty(),
        "a refused announcement records nothing"
    );
    let (_, head) = app.get("/api/v1/ledger/head").await;
    assert_eq!(head["seq"], 0, "not even the snapshot of the pools");
    // A day and a minute ahead is in time.
    let (status, reply) =
        announce(json!({"kind": "ceremony", "at": "2026-03-02T00:01:00Z", "place": "盘州市市场监管局摇号室"})).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
}

/// A ceremony is public only if people can find it: its announcement must
/// say where, and every page that shows the ceremony shows the place.
#[tokio::test]
async fn a_ceremony_says_where_it_is_held() {
    let clock = std::sync::Arc::new(FixedClock::at(utc("2026-03-01T00:00:00Z")));
    let app = spawn_at(&clock, Zone::SHANGHAI).await;
    let at = "2026-03-03T10:00:00+08:00";
    let ceremony =
        |place: Value| json!({"plan": "test-plan", "seed_method": {"kind": "ceremony", "at": at, "place": place}});
    let too_long = "室".repeat(201);
    for (place, says) in [
        (Value::Null, "must say where it is held"),
        (json!("   "), "must say where it is held"),
        (json!("一楼\n大厅"), "one line"),
        (json!("一楼\u{2028}大厅"), "one line"),
        (json!("一楼\u{202E}厅大"), "one line"),
        (json!(too_long), "longer than 200 characters"),
    ] {
        let (status, reply) = app.operator("/api/v1/announcements", ceremony(place.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{place}: {reply}");
        assert!(reply["message"].as_str().unwrap().contains(says), "{place}: {reply}");
    }
    let (_, head) = app.get("/api/v1/ledger/head").await;
    assert_eq!(head["seq"], 0, "a refused announcement records nothing");

    let place = " 盘州市市场监管局一楼<b>摇号室</b> ";
    let (status, announced) = app.operator("/api/v1/announcements", ceremony(json!(place))).await;
    assert_eq!(status, StatusCode::CREATED, "{announced}");
    assert_eq!(
        announced["seed_method"]["place"],
        place.trim(),
        "kept trimmed, in the ledger entry"
    );
    let (_, Value::String(home)) = app.get("/").await else {
        panic!("the home page is HTML")
    };
    assert!(
        home.contains("地点：盘州市市场监管局一楼&lt;b&gt;摇号室&lt;/b&gt;"),
        "the home page shows the place, escaped"
    );
    assert!(!home.contains("<b>摇号室"), "never as markup");

    // The draw page says it too, from the ledger: the bundle does not hold it.
    clock.set(utc("2026-03-03T02:00:00Z"));
    let task = announced["task_id"].as_str().unwrap();
    let digits = json!({"task_id": task, "seed": {"kind": "ceremony", "digits": "12345678901234567890"}});
    let (status, drawn) = app.operator("/api/v1/draws", digits).await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    let bundle = drawn["bundle"].as_str().unwrap();
    for _ in 0..2 {
        let (_, Value::String(page)) = app.get(&format!("/draws/{bundle}")).await else {
            panic!("the draw page is HTML")
        };
        assert!(
            page.contains("摇号地点 <span class=\"en\">held at</span>：盘州市市场监管局一楼&lt;b&gt;摇号室&lt;/b&gt;"),
            "{page}"
        );
        assert!(!page.contains("<b>摇号室"), "never as markup");
    }
}

#[tokio::test]
async fn a_result_dated_before_its_draw_or_after_today_is_refused() {
    let clock = std::sync::Arc::new(FixedClock::at(utc("2026-03-02T02:00:00Z")));
    let app = spawn_at(&clock, Zone::SHANGHAI).await;
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    let (status, drawn) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    clock.set(utc("2026-03-05T02:00:00Z"));
    let (_, rows) = app.get(&format!("/api/v1/draws/{task}/assignments?per_page=1")).await;
    let code = rows["rows"][0]["credit_code"].clone();
    let result = |date: &str| json!({"task_id": task, "credit_code": code, "codes": ["1"], "inspection_date": date});
    for (date, says) in [("2026-03-01", "before the draw"), ("2026-03-06", "in the future")] {
        let (status, reply) = app.operator("/api/v1/results", result(date)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{date}: {reply}");
        assert!(reply["message"].as_str().unwrap().contains(says), "{reply}");
    }
    let (_, due) = app.call("GET", "/api/v1/results/due", None, Some(TOKEN)).await;
    assert_eq!(due, json!([]), "nothing was recorded");
    // The day of the draw is possible (today is, as every other test shows).
    let (status, reply) = app.operator("/api/v1/results", result("2026-03-02")).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
}

/// A plan announced with a commitment and drawn by its reveal: the task
/// and the bundle's name.
async fn announced_and_drawn(app: &TestApp) -> (String, String) {
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    let (_, drawn) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    (task, drawn["bundle"].as_str().unwrap().to_owned())
}

/// A download with the headers that matter to a cache: status, `ETag`,
/// `Cache-Control`, and the body.
struct Fetched {
    status: StatusCode,
    etag: String,
    cache: String,
    body: Vec<u8>,
}

async fn fetch(app: &TestApp, uri: &str, if_none_match: Option<&str>) -> Fetched {
    let mut request = Request::builder().uri(uri);
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    let response = app
        .router()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (status, etag, cache) = (response.status(), header("etag"), header("cache-control"));
    let body = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .unwrap()
        .to_vec();
    Fetched {
        status,
        etag,
        cache,
        body,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    shuangsui::snapshot::bytes_hash(bytes).to_hex()
}

/// Every download names its bytes by their SHA-256; a client that already
/// holds them is answered 304 with no body. The draw's own files are
/// immutable; what a substitution changes is asked for again each time and
/// changes its tag when, and only when, the draw changes.
#[tokio::test]
async fn downloads_carry_their_hash_and_a_client_holding_one_is_not_sent_it_again() {
    let app = TestApp::spawn_service().await;
    let (task, bundle) = announced_and_drawn(&app).await;
    let uri = |file: &str| format!("/draws/{bundle}/{file}");

    let mut before = std::collections::HashMap::new();
    for (file, cache) in [
        ("assignments.csv", "public, no-cache"),
        ("assignments.xlsx", "public, no-cache"),
        ("bundle.zip", "public, no-cache"),
        ("drawn.csv", "public, max-age=31536000, immutable"),
        ("manifest.json", "public, max-age=31536000, immutable"),
        ("plan.json", "public, max-age=31536000, immutable"),
    ] {
        let first = fetch(&app, &uri(file), None).await;
        assert_eq!(first.status, StatusCode::OK, "{file}");
        assert_eq!(first.etag, format!("\"{}\"", sha256_hex(&first.body)), "{file}");
        assert_eq!(first.cache, cache, "{file}");
        let again = fetch(&app, &uri(file), None).await;
        assert_eq!(
            (again.etag.as_str(), again.body.len()),
            (first.etag.as_str(), first.body.len()),
            "{file}: kept"
        );

        for held in [
            first.etag.clone(),
            format!("W/{}", first.etag),
            format!("\"other\", {}", first.etag),
        ] {
            let not_sent = fetch(&app, &uri(file), Some(&held)).await;
            assert_eq!(not_sent.status, StatusCode::NOT_MODIFIED, "{file} with {held}");
            assert!(not_sent.body.is_empty(), "{file}: a 304 has no body");
            assert_eq!(
                (not_sent.etag.as_str(), not_sent.cache.as_str()),
                (first.etag.as_str(), cache)
            );
        }
        let stale = fetch(&app, &uri(file), Some("\"0000\"")).await;
        assert_eq!(
            (stale.status, stale.body.len()),
            (StatusCode::OK, first.body.len()),
            "{file}"
        );
        before.insert(file, first.etag);
    }
    // The list as drawn is named by the hash its public manifest records.
    let manifest: Value = serde_json::from_slice(&fetch(&app, &uri("manifest.json"), None).await.body).unwrap();
    let recorded = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "assignments.csv")
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(before["drawn.csv"], format!("\"{recorded}\""));

    // A substitution changes the current list and the zip, not the record.
    let (_, rows) = app.get(&format!("/api/v1/draws/{task}/assignments?per_page=1")).await;
    let row = &rows["rows"][0];
    let (status, made) = app
        .operator(
            &format!("/api/v1/draws/{task}/substitutions"),
            json!({"credit_code": row["credit_code"], "out": row["team"][0], "reason": "leave", "note": "病假"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    for file in ["assignments.csv", "assignments.xlsx", "bundle.zip"] {
        let after = fetch(&app, &uri(file), Some(&before[file])).await;
        assert_eq!(
            after.status,
            StatusCode::OK,
            "{file}: the old bytes are not the draw as it stands"
        );
        assert_ne!(after.etag, before[file], "{file}");
        assert_eq!(after.etag, format!("\"{}\"", sha256_hex(&after.body)), "{file}");
    }
    for file in ["drawn.csv", "manifest.json", "plan.json"] {
        let after = fetch(&app, &uri(file), Some(&before[file])).await;
        assert_eq!(
            after.status,
            StatusCode::NOT_MODIFIED,
            "{file} is the draw's own and unchanged"
        );
    }
}

async fn fetch_from(app: &TestApp, uri: &str, client: &str) -> (StatusCode, Vec<u8>) {
    let mut request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let peer: std::net::SocketAddr = format!("{client}:50000").parse().unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
    let response = app.router().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .unwrap()
        .to_vec();
    (status, body)
}

/// A client with its allowance of builds under way is told to come back
/// for a download not built yet; a kept download, and every other client,
/// are served as usual.
#[tokio::test]
async fn a_client_building_downloads_waits_for_more_and_others_do_not() {
    let app = TestApp::spawn_service().await;
    let (_, bundle) = announced_and_drawn(&app).await;
    let uri = |file: &str| format!("/draws/{bundle}/{file}");
    let (busy, other) = ("192.0.2.7", "192.0.2.8");
    // A draw read right after its files changed is not kept (catalogue::SETTLE).
    tokio::time::sleep(shuangsui::public::catalogue::SETTLE * 3).await;
    assert_eq!(fetch_from(&app, &uri("assignments.csv"), busy).await.0, StatusCode::OK);

    let builds = &app.state.reads.builds;
    let under_way: Vec<_> = (0..shuangsui::service::allowance::BUILDS_PER_CLIENT)
        .map(|_| builds.take(Some(busy.parse().unwrap())).unwrap())
        .collect();
    let (status, body) = fetch_from(&app, &uri("assignments.xlsx"), busy).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error"], "too_many_requests", "{error}");
    for (file, client, expected, why) in [
        (
            "assignments.csv",
            busy,
            StatusCode::OK,
            "a kept download needs no build",
        ),
        (
            "assignments.xlsx",
            other,
            StatusCode::OK,
            "another address has its own allowance",
        ),
        (
            "assignments.xlsx",
            busy,
            StatusCode::OK,
            "built for another client, it is kept for all",
        ),
        ("bundle.zip", busy, StatusCode::TOO_MANY_REQUESTS, "not built yet"),
    ] {
        assert_eq!(
            fetch_from(&app, &uri(file), client).await.0,
            expected,
            "{file} for {client}: {why}"
        );
    }
    drop(under_way);
    assert_eq!(fetch_from(&app, &uri("bundle.zip"), busy).await.0, StatusCode::OK);
}

/// The task number printed on notices opens its draw; every public page
/// links the results notice.
#[tokio::test]
async fn a_task_number_opens_its_draw_and_every_page_links_the_results() {
    let app = TestApp::spawn_service().await;
    let task = app.announce_commit().await["task_id"].as_str().unwrap().to_owned();
    let (status, _, _) = get_raw(&app, &format!("/draws/{task}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "announced, not drawn yet");
    let (_, drawn) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    let bundle = drawn["bundle"].as_str().unwrap().to_owned();
    assert_ne!(bundle, task);

    let request = Request::builder()
        .uri(format!("/draws/{task}"))
        .body(Body::empty())
        .unwrap();
    let response = app.router().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], format!("/draws/{bundle}").as_str());
    let (status, _, _) = get_raw(&app, "/draws/PZ-NO-SUCH-TASK").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for uri in [
        "/".to_owned(),
        format!("/draws/{bundle}"),
        "/search?q=x".into(),
        "/verify".into(),
        "/results".into(),
    ] {
        let (status, _, page) = get_raw(&app, &uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(page.contains("href=\"/results\""), "{uri} links the results notice");
    }
}
