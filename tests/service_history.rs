//! Service draws take their history from the earlier draws in the ledger
//! (spec §7), as `shuangsui draw --history` does: the targets of an earlier
//! draw are excluded for the same items within the plan's window, and its
//! officers (its current teams, after substitutions) do not inspect the same
//! targets again. The shell and the service build the history the same way.

#[path = "common/app.rs"]
mod app;
mod common;
#[path = "common/postgres.rs"]
mod postgres;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use app::{twin_plan, TestApp};
use axum::http::StatusCode;
use postgres::{on_both_databases, TestDb};
use serde_json::{json, Value};
use shuangsui::bundle;
use shuangsui::history::History;

/// Announces a plan file with a commitment and draws it; the draw record.
async fn announce_and_draw(app: &TestApp, plan: &str) -> Value {
    let (status, announced) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": plan, "seed_method": {"kind": "commit"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{announced}");
    let task = announced["task_id"].as_str().unwrap();
    let (status, drawn) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    drawn
}

/// A service on pool 31 where plan A (two twin items in one township, 50%
/// of each class, dated 2026-03-02) is drawn, then plan B (the same at
/// 100%, dated 2026-06-01), which takes A as its history: the app, B's
/// plan and both draw records.
async fn a_then_b() -> (TestApp, shuangsui::plan::Plan, Value, Value) {
    a_then_b_on(None).await
}

/// [`a_then_b`] on the database at `url` (`None`: the data folder's own).
async fn a_then_b_on(url: Option<String>) -> (TestApp, shuangsui::plan::Plan, Value, Value) {
    let app = TestApp::spawn_with(31, |config| {
        if let Some(url) = url {
            config.database_url = url;
        }
    })
    .await;
    let pools = app.pools();
    app.add_plan(
        "plan-a",
        &twin_plan(&pools, "HIST-A", "历史测试计划", "2026-03-02", 50, ""),
    );
    let plan_b = app.add_plan(
        "plan-b",
        &twin_plan(&pools, "HIST-B", "历史测试计划", "2026-06-01", 100, ""),
    );
    let a = announce_and_draw(&app, "plan-a").await;
    let b = announce_and_draw(&app, "plan-b").await;
    (app, plan_b, a, b)
}

/// Per credit code: the items and the team of a bundle's visits.
type Visits = BTreeMap<String, (BTreeSet<String>, Vec<String>)>;

fn visits(dir: &Path) -> Visits {
    let stored = bundle::read(dir).unwrap();
    let text = stored.assignments.trim_start_matches('\u{feff}').to_owned();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let items = r[3].split(';').map(str::to_owned).collect();
            let team = r[6].split(';').map(str::to_owned).collect();
            (r[1].to_owned(), (items, team))
        })
        .collect()
}

/// The (target, item) pairs of a set of visits.
fn pairs(visits: &Visits) -> BTreeSet<(String, String)> {
    visits
        .iter()
        .flat_map(|(code, (items, _))| items.iter().map(move |i| (code.clone(), i.clone())))
        .collect()
}

fn bundle_history(dir: &Path) -> History {
    bundle::read(dir).unwrap().history
}

async fn audit_is_clean(app: &TestApp) {
    let (status, audit) = app.operator("/api/v1/ledger/verify", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(audit["problems"], json!([]), "{audit}");
}

#[tokio::test]
async fn a_later_draw_excludes_the_earlier_targets_and_rotates_its_officers() {
    let (app, plan_b, a, b) = a_then_b().await;
    let pools = app.pools();
    let a_dir = app.bundle(a["bundle"].as_str().unwrap());
    let b_dir = app.bundle(b["bundle"].as_str().unwrap());
    let (a_visits, b_visits) = (visits(&a_dir), visits(&b_dir));

    // Exclusion: B takes every eligible target of its items (100%), except
    // those A inspected for the same item.
    let common_pairs: Vec<_> = pairs(&a_visits).intersection(&pairs(&b_visits)).cloned().collect();
    assert_eq!(common_pairs, vec![], "B draws none of A's targets for the same items");
    let seed = shuangsui::seed::Seed::parse_hex(b["seed"].as_str().unwrap()).unwrap();
    let unaware = shuangsui::draw::draw(&pools, &plan_b, &History::default(), &seed).unwrap();
    let items = &pools.items;
    let unaware_pairs: BTreeSet<(String, String)> = unaware
        .visits
        .iter()
        .flat_map(|v| {
            let code = pools.targets[v.target as usize].code.to_string();
            v.items
                .iter()
                .map(move |&i| (code.clone(), items[i as usize].code.to_string()))
        })
        .collect();
    assert!(
        pairs(&a_visits).is_subset(&unaware_pairs),
        "without A's history B would draw all of A's pairs again"
    );

    // Rotation: where B visits a target of A (for the item A did not check
    // there), none of A's team is on B's.
    let shared: Vec<&String> = b_visits.keys().filter(|c| a_visits.contains_key(*c)).collect();
    assert!(!shared.is_empty(), "B visits some of A's targets for their other item");
    for code in &shared {
        let (a_team, b_team) = (&a_visits[*code].1, &b_visits[*code].1);
        assert!(
            b_team.iter().all(|o| !a_team.contains(o)),
            "{code}: A's team {a_team:?} inspects again in B: {b_team:?}"
        );
    }
    // The rule is what keeps them apart: the same draw without it puts one
    // of A's officers back on one of the shared targets.
    let history = bundle_history(&b_dir);
    let mut no_rotation = plan_b.clone().into_parts();
    no_rotation.recusal.previous_inspector = false;
    let no_rotation = shuangsui::plan::Plan::new(no_rotation).unwrap();
    let without = shuangsui::draw::draw(&pools, &no_rotation, &history, &seed).unwrap();
    let repeats = without.visits.iter().any(|v| {
        let code = pools.targets[v.target as usize].code.to_string();
        a_visits.get(&code).is_some_and(|(_, a_team)| {
            v.team
                .iter()
                .any(|&o| a_team.contains(&pools.inspectors[o as usize].cert.to_string()))
        })
    });
    assert!(repeats, "the pool lets the rotation rule make a difference");

    // B's bundle names A as its history and holds A's inspections.
    let manifest = bundle::read(&b_dir).unwrap().manifest;
    assert_eq!(
        manifest.history_sources,
        vec![bundle::HistorySource {
            plan_id: "HIST-A".into(),
            result_sha256: bundle::read(&a_dir).unwrap().manifest.result_sha256,
        }]
    );
    assert_eq!(history.inspections.len(), pairs(&a_visits).len());
    let report = shuangsui::verify::verify(&b_dir, app.pools_dir(), Default::default()).unwrap();
    assert!(report.verified(), "{:?}", report.difference);
    audit_is_clean(&app).await;
}

#[tokio::test]
async fn a_substitution_in_the_earlier_draw_changes_who_is_barred_later() {
    let app = TestApp::spawn(31).await;
    let pools = app.pools();
    app.add_plan(
        "plan-a",
        &twin_plan(&pools, "HIST-A", "历史测试计划", "2026-03-02", 50, ""),
    );
    let plan_b_text = twin_plan(&pools, "HIST-B", "历史测试计划", "2026-06-01", 100, "");
    let plan_b = app.add_plan("plan-b", &plan_b_text);

    let a = announce_and_draw(&app, "plan-a").await;
    let a_dir = app.bundle(a["bundle"].as_str().unwrap());
    let a_visits = visits(&a_dir);
    // B's targets follow from A's (target, item) pairs alone, not its
    // teams: find a target of A that B will visit too.
    let before = History::for_plan(
        &plan_b,
        &[bundle::read(&a_dir).unwrap().earlier_draw(Vec::new()).unwrap()],
    )
    .unwrap();
    let probe = shuangsui::draw::draw(&pools, &plan_b, &before, &common::seed(1)).unwrap();
    let code = probe
        .visits
        .iter()
        .map(|v| pools.targets[v.target as usize].code.to_string())
        .find(|c| a_visits.contains_key(c))
        .expect("B visits a target of A");
    let out = a_visits[&code].1[0].clone();
    let uri = format!("/api/v1/draws/{}/substitutions", a["task_id"].as_str().unwrap());
    let (status, made) = app
        .operator(&uri, json!({"credit_code": code, "out": out, "reason": "leave"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let incoming = made["entry"]["in"].as_str().unwrap().to_owned();

    let b = announce_and_draw(&app, "plan-b").await;
    let b_dir = app.bundle(b["bundle"].as_str().unwrap());
    let history = bundle_history(&b_dir);
    let at_target: Vec<String> = history
        .inspections
        .iter()
        .filter(|i| i.code.to_string() == code)
        .flat_map(|i| i.officers.iter().map(|o| o.to_string()))
        .collect();
    assert!(
        at_target.contains(&incoming),
        "the substitute inspected {code}: {at_target:?}"
    );
    assert!(
        !at_target.contains(&out),
        "the officer taken off never went to {code}: {at_target:?}"
    );
    let b_team = &visits(&b_dir)[&code].1;
    assert!(
        !b_team.contains(&incoming),
        "the substitute is barred from {code} in B: {b_team:?}"
    );

    // The shell, given A's bundle as history, builds the same history and
    // draws the same teams from the same seed.
    let plan_file = app.root.path().join("plan-b.toml");
    std::fs::write(&plan_file, &plan_b_text).unwrap();
    let out_dir = app.root.path().join("cli-bundles");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shuangsui"))
        .args(["draw", "--plan"])
        .arg(&plan_file)
        .args(["--seed", b["seed"].as_str().unwrap(), "--data"])
        .arg(app.pools_dir())
        .arg("--out")
        .arg(&out_dir)
        .arg("--history")
        .arg(&a_dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let cli_dir = std::path::PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    for file in ["history.csv", "assignments.csv"] {
        assert_eq!(
            std::fs::read_to_string(cli_dir.join(file)).unwrap(),
            std::fs::read_to_string(b_dir.join(file)).unwrap(),
            "{file} of the shell's draw and the service's"
        );
    }
    assert_eq!(
        bundle::read(&cli_dir).unwrap().manifest.history_sources,
        bundle::read(&b_dir).unwrap().manifest.history_sources
    );
    let report = shuangsui::verify::verify(&cli_dir, app.pools_dir(), Default::default()).unwrap();
    assert!(report.verified(), "{:?}", report.difference);
    audit_is_clean(&app).await;
}

#[tokio::test]
async fn draws_dated_after_the_inspection_date_and_replaced_draws_do_not_count() {
    let app = TestApp::spawn(31).await;
    let pools = app.pools();
    app.add_plan(
        "plan-a",
        &twin_plan(&pools, "HIST-A", "历史测试计划", "2026-03-02", 50, ""),
    );
    app.add_plan(
        "plan-b",
        &twin_plan(&pools, "HIST-B", "历史测试计划", "2026-06-01", 50, ""),
    );

    // B (June) is drawn first: A (March) is inspected before it, so B's
    // inspections are no history of A's.
    let b = announce_and_draw(&app, "plan-b").await;
    let a = announce_and_draw(&app, "plan-a").await;
    let a_dir = app.bundle(a["bundle"].as_str().unwrap());
    assert!(bundle_history(&a_dir).is_empty(), "a later inspection is no history");

    // B redrawn: its first draw never happened, and A's counts for it.
    let (status, redraw) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": "plan-b", "seed_method": {"kind": "commit"},
                   "redraw_of": b["task_id"], "reason": "测试重抽"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{redraw}");
    let task = redraw["task_id"].as_str().unwrap();
    let sources: Vec<&str> = redraw["history_sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(sources, vec!["HIST-A"], "the redrawn task is not its own history");
    let (status, drawn) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    let history = bundle_history(&app.bundle(drawn["bundle"].as_str().unwrap()));
    assert_eq!(history.inspections.len(), pairs(&visits(&a_dir)).len());
    audit_is_clean(&app).await;
}

/// The first line of `text` from "no officer can replace" on.
fn refusal(text: &str) -> Option<&str> {
    let at = text.find("no officer can replace")?;
    text[at..].lines().next()
}

#[tokio::test]
async fn a_refused_substitution_counts_the_same_at_the_service_and_in_the_shell() {
    let (app, plan_b, a, b) = a_then_b().await;
    let pools = app.pools();
    let a_visits = visits(&app.bundle(a["bundle"].as_str().unwrap()));
    let b_dir = app.bundle(b["bundle"].as_str().unwrap());
    // A visit of B to a target A visited with officers still valid then:
    // the rotation rule keeps them off it, and a refusal must say so.
    let valid_then = |cert: &String| {
        pools
            .inspectors
            .iter()
            .any(|o| o.cert.as_str() == cert && o.valid_until >= plan_b.inspection_date())
    };
    let (code, team) = visits(&b_dir)
        .into_iter()
        .find(|(code, _)| a_visits.get(code).is_some_and(|(_, team)| team.iter().all(valid_then)))
        .map(|(code, (_, team))| (code, team))
        .expect("B visits a target of A");

    // Keep replacing the leader until the department runs out.
    let uri = format!("/api/v1/draws/{}/substitutions", b["task_id"].as_str().unwrap());
    let mut out = team[0].clone();
    let message = loop {
        let (status, made) = app
            .operator(&uri, json!({"credit_code": code, "out": out, "reason": "leave"}))
            .await;
        if status != StatusCode::CREATED {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{made}");
            assert_eq!(made["error"], "substitution_refused", "{made}");
            break made["message"].as_str().unwrap().to_owned();
        }
        out = made["entry"]["in"].as_str().unwrap().to_owned();
    };
    let service = refusal(&message).unwrap_or_else(|| panic!("{message}"));
    let rotated = service
        .split(", ")
        .find_map(|part| part.strip_suffix(" inspected it last time"))
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("{service}"));
    assert!(rotated >= 2, "A's team is barred from {code} by rotation: {service}");

    // The shell replays the service's list on B's bundle and refuses the
    // same request with the same counts.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shuangsui"))
        .arg("substitute")
        .arg(&b_dir)
        .args(["--target", &code, "--officer", &out, "--reason", "leave", "--data"])
        .arg(app.pools_dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(refusal(&stderr), Some(service), "{stderr}");
}

/// What the rules of §5 step 1 say of a target in plan B below, written out
/// from A's bundle and the pools' texts: B takes every eligible target
/// (100%), so each target is drawn, or out of scope for one reason.
fn standing_in_b(
    pools: &shuangsui::pools::Pools,
    plan: &shuangsui::plan::Plan,
    a: &Visits,
    index: usize,
) -> &'static str {
    let target = &pools.targets[index];
    if !plan
        .targets()
        .townships
        .iter()
        .any(|t| t == pools.townships.name(target.township))
    {
        return "outside_filters";
    }
    let (entity, industry) = (
        pools.entity_types.name(target.entity_type),
        pools.industries.name(target.industry),
    );
    let allows = |listed: &[String], value: &str| listed.is_empty() || listed.iter().any(|v| v == value);
    let suited: Vec<String> = plan
        .items()
        .iter()
        .map(|code| pools.items.iter().find(|i| &i.code == code).unwrap())
        .filter(|item| allows(&item.entity_types, entity) && allows(&item.industries, industry))
        .map(|item| item.code.to_string())
        .collect();
    let inspected_by_a = a
        .get(target.code.as_str())
        .map(|(items, _)| items.clone())
        .unwrap_or_default();
    match suited.is_empty() {
        true => "no_item_applies",
        false if suited.iter().all(|item| inspected_by_a.contains(item)) => "recently_inspected",
        false => "drawn",
    }
}

/// Where `code` stood in A and in B, as `app` tells it.
async fn standing_of(app: &TestApp, code: &str) -> (String, String) {
    let (status, reply) = app.get(&format!("/api/v1/standing/{code}")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let draws = reply["draws"].as_array().unwrap().clone();
    // Newest inspection first: B, then A.
    let of = |k: usize| {
        draws[k]["standing"]
            .as_str()
            .unwrap_or_else(|| panic!("{reply}"))
            .to_owned()
    };
    assert_eq!(draws.len(), 2, "{reply}");
    assert_eq!(draws[0]["plan_id"], "HIST-B");
    (of(1), of(0))
}

on_both_databases!(a_business_is_told_where_it_stood_in_each_draw);

async fn a_business_is_told_where_it_stood_in_each_draw(db: TestDb) {
    let (app, plan_b, a, b) = a_then_b_on(Some(db.url.clone())).await;
    let pools = app.pools();
    let a_visits = visits(&app.bundle(a["bundle"].as_str().unwrap()));
    let standing = |code: String| {
        let app = &app;
        async move { standing_of(app, &code).await }
    };
    // Every target of the pool, in both draws, as the rules say.
    let mut seen = BTreeSet::new();
    let (mut served_a, mut served_b) = (Vec::new(), Vec::new());
    for (index, target) in pools.targets.iter().enumerate() {
        let (in_a, in_b) = standing(target.code.to_string()).await;
        served_a.push(in_a.clone());
        served_b.push(in_b.clone());
        assert_eq!(
            in_b,
            standing_in_b(&pools, &plan_b, &a_visits, index),
            "{} in B",
            target.code
        );
        let expected_a = match (a_visits.contains_key(target.code.as_str()), in_b.as_str()) {
            (true, _) => "drawn",
            // In A's scope exactly where B's is, but for A's own history.
            (false, "drawn" | "recently_inspected") => "in_scope_not_drawn",
            (false, other) => other,
        };
        assert_eq!(in_a, expected_a, "{} in A", target.code);
        seen.insert(in_a);
        seen.insert(in_b);
    }
    for kind in ["drawn", "in_scope_not_drawn", "recently_inspected", "outside_filters"] {
        assert!(seen.contains(kind), "no target of the pool was {kind}: {seen:?}");
    }
    // Another host, with a data folder of its own on the same database,
    // tells the same: from the snapshots and bundles the database holds.
    let url = db.url.clone();
    let other = TestApp::spawn_with(31, move |config| config.database_url = url).await;
    for (k, target) in pools.targets.iter().enumerate() {
        let told = standing_of(&other, target.code.as_str()).await;
        assert_eq!(
            (&told.0, &told.1),
            (&served_a[k], &served_b[k]),
            "{} on the other host",
            target.code
        );
    }
    // The shell tells the same from the bundle and the pool folder.
    let codes: Vec<String> = pools.targets.iter().map(|t| t.code.to_string()).collect();
    for (draw, served) in [(&a, &served_a), (&b, &served_b)] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_shuangsui"))
            .arg("standing")
            .arg(app.bundle(draw["bundle"].as_str().unwrap()))
            .arg("--data")
            .arg(app.pools_dir())
            .args(&codes)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let told: Vec<String> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|line| line.split('\t').nth(1).unwrap().to_owned())
            .collect();
        assert_eq!(
            &told, served,
            "the shell and the service disagree on {}",
            draw["bundle"]
        );
    }
    let public = app.bundle(a["bundle"].as_str().unwrap()).join("public");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shuangsui"))
        .args([
            "standing".as_ref(),
            public.as_os_str(),
            "--data".as_ref(),
            app.pools_dir().as_os_str(),
        ])
        .arg(&codes[0])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs the confidential bundle"));

    // A lower-case code is the same code; one not in the frozen directory
    // is said to be so; one that is no code is refused.
    let first = pools.targets[0].code.to_string();
    let (lower_a, lower_b) = standing(first.to_lowercase()).await;
    assert_eq!((lower_a, lower_b), standing(first.clone()).await);
    let mut unknown = b"91520281MA6DWXY3K".to_vec();
    unknown.push(shuangsui::ids::credit_check_char(&unknown).unwrap());
    let unknown = String::from_utf8(unknown).unwrap();
    assert!(pools.targets.iter().all(|t| t.code.as_str() != unknown));
    assert_eq!(
        standing(unknown).await,
        ("not_listed".to_owned(), "not_listed".to_owned())
    );
    let (status, reply) = app.get("/api/v1/standing/91520281MA6DWXY3K0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");

    // The search page says it too, for a whole code; not a word of the class.
    let eligible = pools
        .targets
        .iter()
        .find(|t| {
            !a_visits.contains_key(t.code.as_str())
                && standing_in_b(&pools, &plan_b, &a_visits, pools.target_index(&t.code).unwrap()) == "drawn"
        })
        .expect("a target A could have drawn and did not");
    let page = app.get(&format!("/search?q={}", eligible.code)).await.1;
    let page = page.as_str().unwrap();
    assert!(page.contains("在抽查范围内，未被抽中"), "{page}");
    assert!(page.contains("已被抽中"), "B drew it: {page}");
    let risk = pools.targets.iter().find(|t| t.code == eligible.code).unwrap().risk;
    assert!(
        !page.contains(&format!("{risk:?}类")) && !page.contains("风险等级"),
        "{page}"
    );
}
