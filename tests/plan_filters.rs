//! A plan's filter value that matches no target, and a plan that would draw
//! no visit, are refused before anything is drawn or announced, naming the
//! value and the closest existing ones; a misspelt township must not just
//! shrink the draw. Old bundles are redone as they were drawn.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use shuangsui::draw::{check_new_plan, draw, draw_new, DrawError, NoVisits};
use shuangsui::history::History;
use shuangsui::merge::Merged;
use shuangsui::pools::Pools;
use shuangsui::service::config::{Config, Token};
use shuangsui::service::{app, state};
use tower::ServiceExt;

const TOKEN: &str = "operator-token-for-plan-filter-tests";

/// A township of the pool with its last character changed: what a typing
/// slip gives.
fn misspelt_township(pools: &Pools) -> (String, String) {
    let township = pools.townships.name(pools.targets[0].township).to_owned();
    let mut chars: Vec<char> = township.chars().collect();
    let last = chars.len() - 1;
    chars[last] = if chars[last] == '到' { '倒' } else { '到' };
    (township, chars.into_iter().collect())
}

fn filter(field: &str, value: &str) -> String {
    format!("[targets]\n{field} = [{value:?}]\n")
}

const NO_QUOTA: &str = "[selection]\nratios = { A = 0, B = 0, C = 0, D = 0 }\n";

#[test]
fn the_library_refuses_an_unmatched_filter_and_an_empty_draw_but_replays_them() {
    let root = tempfile::tempdir().unwrap();
    let pools = common::load_pools(&common::small_pool(root.path(), 61));
    let (township, misspelt) = misspelt_township(&pools);
    let seed = common::seed(1);
    let none = History::default();

    let plan = common::plan(&pools, 2, &filter("townships", &misspelt));
    let err = check_new_plan(&pools, &plan, &none).unwrap_err();
    let DrawError::UnmatchedFilter {
        field, value, closest, ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!((*field, value.as_str()), ("targets.townships", misspelt.as_str()));
    assert_eq!(closest.first(), Some(&township), "{err}");
    assert!(closest.len() <= 3);
    assert!(
        err.to_string().contains(&misspelt) && err.to_string().contains(&township),
        "{err}"
    );
    assert!(matches!(
        draw_new(&pools, &plan, &none, &Merged::default(), &seed),
        Err(DrawError::UnmatchedFilter { .. })
    ));
    // The pure draw is what verify redoes: an old bundle with such a plan
    // still gives what it gave.
    assert!(draw(&pools, &plan, &none, &seed).is_ok());

    for (field, existing) in [
        ("entity_types", pools.entity_types.name(0)),
        ("industries", pools.industries.name(0)),
    ] {
        let plan = common::plan(&pools, 2, &filter(field, &format!("{existing}X")));
        let err = check_new_plan(&pools, &plan, &none).unwrap_err().to_string();
        assert!(
            err.contains(&format!("targets.{field}")) && err.contains(existing),
            "{err}"
        );
    }

    let plan = common::plan(&pools, 2, NO_QUOTA);
    let err = check_new_plan(&pools, &plan, &none).unwrap_err();
    // The reason is data, not text: every quota is 0 over eligible targets.
    let DrawError::NoVisits(NoVisits::ZeroQuotas { eligible }) = err else {
        panic!("{err}")
    };
    assert!(eligible > 0);
    assert_eq!(
        err.to_string(),
        format!(
            "the plan draws no visit: every quota is 0 ({eligible} eligible targets over all items and classes): raise the ratios"
        )
    );
    assert!(matches!(
        draw_new(&pools, &plan, &none, &Merged::default(), &seed),
        Err(DrawError::NoVisits(_))
    ));
    let replayed = draw(&pools, &plan, &none, &seed).unwrap();
    assert!(replayed.visits.is_empty());

    // A filter that is right passes.
    let plan = common::plan(&pools, 2, &filter("townships", &township));
    check_new_plan(&pools, &plan, &none).unwrap();
}

fn draw_cli(data: &Path, plan: &Path, out: &Path) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_shuangsui"))
        .args(["draw", "--seed", &"ab".repeat(32), "--data"])
        .arg(data)
        .arg("--plan")
        .arg(plan)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.code(), text)
}

#[test]
fn the_draw_command_refuses_them_with_exit_2_and_writes_no_bundle() {
    let root = tempfile::tempdir().unwrap();
    let data = common::small_pool(root.path(), 62);
    let pools = common::load_pools(&data);
    let (township, misspelt) = misspelt_township(&pools);
    let out = root.path().join("bundles");
    for (extra, expected) in [
        (filter("townships", &misspelt), vec![misspelt.clone(), township.clone()]),
        (NO_QUOTA.to_owned(), vec!["draws no visit".to_owned()]),
    ] {
        let plan = root.path().join("plan.toml");
        std::fs::write(&plan, common::plan_toml(&pools, 2, &extra)).unwrap();
        let (code, text) = draw_cli(&data, &plan, &out);
        assert_eq!(code, Some(2), "{text}");
        for word in expected {
            assert!(text.contains(&word), "{word}: {text}");
        }
        assert!(
            !out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(),
            "a bundle was written"
        );
    }
    let plan = root.path().join("plan.toml");
    std::fs::write(&plan, common::plan_toml(&pools, 2, &filter("townships", &township))).unwrap();
    let (code, text) = draw_cli(&data, &plan, &out);
    assert_eq!(code, Some(0), "{text}");
}

/// The service on a small pool with the plans given, by name.
async fn service(root: &Path, plans: &[(&str, String)]) -> (shuangsui::service::AppState, PathBuf) {
    let pools_dir = common::small_pool(root, 63);
    let plans_dir = root.join("plans");
    std::fs::create_dir_all(&plans_dir).unwrap();
    for (name, text) in plans {
        std::fs::write(plans_dir.join(format!("{name}.toml")), text).unwrap();
    }
    let mut config = Config::at(root.join("state"), pools_dir, plans_dir, root.join("holidays"));
    config.token = Token::new(TOKEN.into());
    std::fs::create_dir_all(&config.holidays_dir).unwrap();
    // The service wants a holiday table; one empty year is enough here.
    std::fs::write(
        config.holidays_dir.join("2026.toml"),
        "year = 2026\nsource = \"test\"\n[[holiday]]\nname = \"元旦\"\ndays = [\"2026-01-01\"]\n",
    )
    .unwrap();
    let clock = std::sync::Arc::new(common::TestClock::new());
    (state(&config, clock).await.unwrap(), config.data_dir)
}

async fn call(
    state: &shuangsui::service::AppState,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json");
    let request = match body {
        Some(body) => request.body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_service_refuses_them_at_announcement_and_records_nothing() {
    let root = tempfile::tempdir().unwrap();
    let pools = common::load_pools(&common::small_pool(root.path(), 63));
    let (township, misspelt) = misspelt_township(&pools);
    let plans = [
        (
            "misspelt",
            common::plan_toml(&pools, 2, &filter("townships", &misspelt)),
        ),
        ("empty", common::plan_toml(&pools, 2, NO_QUOTA)),
        ("good", common::plan_toml(&pools, 2, &filter("townships", &township))),
    ];
    let (state, _) = service(&root.path().join("svc"), &plans).await;
    for (plan, expected) in [
        ("misspelt", vec![misspelt.as_str(), township.as_str()]),
        ("empty", vec!["draws no visit"]),
    ] {
        for (uri, body) in [
            (
                "/api/v1/announcements",
                json!({"plan": plan, "seed_method": {"kind": "commit"}}),
            ),
            ("/api/v1/adhoc-draws", json!({"plan": plan})),
        ] {
            let (status, reply) = call(&state, "POST", uri, Some(body)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{uri} {plan}: {reply}");
            assert_eq!(reply["error"], "invalid_plan", "{reply}");
            let message = reply["message"].as_str().unwrap();
            for word in &expected {
                assert!(message.contains(word), "{word}: {message}");
            }
        }
    }
    let (_, head) = call(&state, "GET", "/api/v1/ledger/head", None).await;
    assert_eq!(head["seq"], 0, "a refused plan leaves no trace in the ledger: {head}");
    let (status, reply) = call(
        &state,
        "POST",
        "/api/v1/announcements",
        Some(json!({"plan": "good", "seed_method": {"kind": "commit"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
}
