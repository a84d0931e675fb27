//! What the service serves is what its ledger records, and `ledger verify`
//! holds the one to the other: a bundle folder copied into `publications/`
//! is not served and is named, as are an edited results notice, an edited
//! substitution list and a manifest naming a ledger head the chain does not
//! hold; a recorded bundle deleted is rebuilt from the database. And one corrupt bundle never takes
//! the search or any page down for the other draws: its own pages say that
//! its files fail their check.

#[path = "common/app.rs"]
mod app;
mod common;

use std::path::Path;

use app::TestApp;
use axum::http::StatusCode;
use serde_json::{json, Value};

/// A service with `drawn` tasks announced and drawn, `TEST-1` to `TEST-n`;
/// their bundle names, in order.
async fn service(drawn: u32) -> (TestApp, Vec<String>) {
    let app = TestApp::spawn(31).await;
    let pools = app.pools();
    let mut bundles = Vec::new();
    for k in 1..=drawn {
        bundles.push(announce_and_draw(&app, &pools, k).await);
    }
    (app, bundles)
}

async fn announce_and_draw(app: &TestApp, pools: &shuangsui::pools::Pools, k: u32) -> String {
    let task = announce(app, pools, k).await;
    let (status, body) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    assert!(status.is_success(), "{body}");
    body["bundle"].as_str().unwrap().to_owned()
}

/// Announces plan `TEST-k`; its task id.
async fn announce(app: &TestApp, pools: &shuangsui::pools::Pools, k: u32) -> String {
    let text = common::plan_toml(pools, 2, "").replace("id = \"TEST-1\"", &format!("id = \"TEST-{k}\""));
    app.announce_plan(&format!("plan-{k}"), &text).await
}

/// `POST /api/v1/ledger/verify`: its problems.
async fn verify_api(app: &TestApp) -> Vec<String> {
    let (status, report) = app.operator("/api/v1/ledger/verify", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

/// Both verifications fail, and each has a problem holding every one of
/// `needles`.
async fn both_name(app: &TestApp, needles: &[&str]) {
    let problems = verify_api(app).await;
    assert!(
        problems.iter().any(|p| needles.iter().all(|n| p.contains(n))),
        "no problem names {needles:?}: {problems:#?}"
    );
    let (code, text) = app.ledger_cli(&["verify"]);
    assert_ne!(code, Some(0), "{text}");
    assert!(
        text.lines().any(|l| needles.iter().all(|n| l.contains(n))),
        "no line names {needles:?}:\n{text}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

async fn text(app: &TestApp, uri: &str) -> (StatusCode, String) {
    let (status, body) = app.get(uri).await;
    match body {
        Value::String(text) => (status, text),
        other => (status, other.to_string()),
    }
}

/// A business drawn in the task, from the assignments API.
async fn a_business(app: &TestApp, task: &str) -> String {
    let (status, rows) = app.get(&format!("/api/v1/draws/{task}/assignments")).await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    rows["rows"][0]["credit_code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_folder_copied_into_publications_is_not_served_and_verify_names_it() {
    let (app, bundles) = service(1).await;
    let code = a_business(&app, "TEST-1").await;
    let copy = "TEST-9_0123456789ab";
    copy_dir(&app.bundle(&bundles[0]), &app.bundle(copy));

    let (status, _) = text(&app, &format!("/draws/{copy}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an unrecorded folder is no draw");
    let (status, _) = text(&app, &format!("/draws/{copy}/bundle.zip")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, home) = text(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!home.contains(copy), "the home page lists the copy");
    assert!(home.contains(&bundles[0]));
    let (status, hits) = app.get(&format!("/api/v1/search?q={code}")).await;
    assert_eq!(status, StatusCode::OK);
    let draws: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["draw"].as_str().unwrap())
        .collect();
    assert_eq!(draws, [bundles[0].as_str()], "the search finds the copy too");
    let (_, page) = text(&app, &format!("/search?q={code}")).await;
    assert!(!page.contains(copy));

    both_name(&app, &[&format!("publications/{copy}"), "not recorded"]).await;
}

#[tokio::test]
async fn a_recorded_bundle_deleted_is_rebuilt_and_a_hand_edited_one_is_named() {
    let (app, bundles) = service(2).await;
    // The folder is a cache of the database: deleted, it is rebuilt on the
    // next read, and the record still verifies.
    std::fs::remove_dir_all(app.bundle(&bundles[0])).unwrap();
    let (code, text_now) = app.ledger_cli(&["verify"]);
    assert_eq!(
        code,
        Some(0),
        "a deleted cache is no problem of the record:\n{text_now}"
    );
    let (status, _) = text(&app, &format!("/draws/{}", bundles[0])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(app.bundle(&bundles[0]).join("public/manifest.json").is_file());
    // Edited, it is refused and named.
    std::fs::write(app.bundle(&bundles[1]).join("public/README.txt"), "edited").unwrap();
    both_name(&app, &[&bundles[1], "public/README.txt", "does not match"]).await;
}

#[tokio::test]
async fn an_edited_results_notice_is_named() {
    let (app, bundles) = service(1).await;
    let code = a_business(&app, "TEST-1").await;
    let today = app.state.desk.time.today().to_string();
    let result = json!({"task_id": "TEST-1", "credit_code": code, "codes": ["1"], "inspection_date": today});
    let (status, recorded) = app.operator("/api/v1/results", result).await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    let seq = recorded["seq"].as_u64().unwrap();
    let (status, body) = app
        .operator("/api/v1/results/publish", json!({"task_id": "TEST-1"}))
        .await;
    assert!(status.is_success(), "{body}");
    let notice = app.bundle(&bundles[0]).join("public/results.csv");
    let (code_now, text_now) = app.ledger_cli(&["verify"]);
    assert_eq!(code_now, Some(0), "the notice as written verifies:\n{text_now}");

    let original = std::fs::read_to_string(&notice).unwrap();
    assert!(original.contains(&format!(",1,未发现问题,{today},")), "{original}");
    let edited = original.replace(",1,未发现问题,", ",A,发现问题待后续处理,");
    std::fs::write(&notice, edited).unwrap();
    both_name(&app, &[&bundles[0], "public/results.csv", "does not match"]).await;
    // The record itself, as the ledger makes it, names each result's entry.
    assert!(original.contains(&format!(",{seq}\r\n")), "{original}");

    std::fs::remove_file(&notice).unwrap();
    let (code_now, text_now) = app.ledger_cli(&["verify"]);
    assert_eq!(
        code_now,
        Some(0),
        "a deleted cache file is rebuilt, not a problem:\n{text_now}"
    );
}

#[tokio::test]
async fn a_swapped_substitute_is_named() {
    let (app, bundles) = service(1).await;
    let (_, rows) = app.get("/api/v1/draws/TEST-1/assignments?per_page=1000").await;
    let row = &rows["rows"][0];
    let code = row["credit_code"].as_str().unwrap();
    let out = row["team"][0].as_str().unwrap();
    let (status, made) = app
        .operator(
            "/api/v1/draws/TEST-1/substitutions",
            json!({"credit_code": code, "out": out, "reason": "leave"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let incoming = made["entry"]["in"].as_str().unwrap();
    // Another officer of the draw, who is not on this team.
    let other = rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["team"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()))
        .find(|c| *c != incoming && !row["team"].as_array().unwrap().iter().any(|t| t == c))
        .unwrap()
        .to_owned();
    let (code_now, text_now) = app.ledger_cli(&["verify"]);
    assert_eq!(code_now, Some(0), "{text_now}");

    let file = app.bundle(&bundles[0]).join("public/substitutions.json");
    let list = std::fs::read_to_string(&file).unwrap();
    let swapped = list.replace(&format!("\"in\": \"{incoming}\""), &format!("\"in\": \"{other}\""));
    assert_ne!(list, swapped);
    std::fs::write(&file, swapped).unwrap();
    both_name(&app, &[&bundles[0], "public/substitutions.json", "does not match"]).await;
}

#[tokio::test]
async fn a_manifest_naming_a_head_not_in_the_chain_is_named() {
    use shuangsui::desk::DrawRecord;
    use shuangsui::ledger::{Head, Key};
    use shuangsui::snapshot::{bytes_hash, Hash32};

    let (mut app, bundles) = service(1).await;
    let pools = app.pools();
    let task = announce(&app, &pools, 2).await;
    // A bundle recorded as TEST-2's draw whose manifest names a head the
    // chain does not hold: the ledger records the manifest's hash, so only
    // the head itself can give it away.
    let forged = "TEST-2_0123456789ab";
    copy_dir(&app.bundle(&bundles[0]), &app.bundle(forged));
    let path = app.bundle(forged).join("manifest.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let head_seq = manifest["ledger"]["head_seq"].as_u64().unwrap();
    let bogus = Hash32([7; 32]);
    manifest["ledger"]["task_id"] = json!(task);
    manifest["ledger"]["head_hash"] = json!(bogus.to_hex());
    let bytes = serde_json::to_string_pretty(&manifest).unwrap() + "\n";
    std::fs::write(&path, &bytes).unwrap();
    let (real, _) = app.state.desk.draw_record("TEST-1").await.unwrap().unwrap();
    let record = DrawRecord {
        task_id: task.clone(),
        bundle: forged.to_owned(),
        manifest_sha256: bytes_hash(bytes.as_bytes()),
        ledger_head_before: Head {
            seq: head_seq,
            hash: bogus,
        },
        ..real
    };
    app.state
        .desk
        .ledger
        .append_typed(&Key::Draw(&task), &record, &app.state.desk.time.stamp())
        .await
        .unwrap();
    // A folder the ledger names but the database does not hold is imported
    // at start, as a data folder made before bundles were kept there.
    app.restart().await;
    both_name(
        &app,
        &[&task, forged, &format!("ledger head {head_seq}"), &bogus.to_hex()],
    )
    .await;
}

/// How a bundle can go bad.
enum Corruption {
    Substitutions,
    Assignments,
    Manifest,
}

/// Corrupts a bundle where it is recorded, in the database, as someone
/// writing the SQLite file by hand would: a newer row for the file, naming
/// the bad bytes (a cached copy edited by hand is rebuilt from the record
/// by the request that finds it, tests/publish_of_record.rs).
async fn corrupt(app: &TestApp, bundle: &str, how: &Corruption) {
    let public = app.bundle(bundle).join("public");
    let (path, bytes) = match how {
        Corruption::Substitutions => ("public/substitutions.json", b"{\"format\": ".to_vec()),
        Corruption::Assignments => {
            let mut bytes = std::fs::read(public.join("assignments.csv")).unwrap();
            bytes.truncate(bytes.len() / 2);
            ("public/assignments.csv", bytes)
        }
        Corruption::Manifest => ("public/manifest.json", b"{ not json".to_vec()),
    };
    let desk = &app.state.desk;
    let head = desk.ledger.head().await.unwrap().seq;
    let mut conn = desk.ledger.raw_pool().acquire().await.unwrap();
    let (forged, _) = shuangsui::store::put_bytes(&mut conn, &bytes).await.unwrap();
    sqlx::query("INSERT INTO bundle_files (bundle, path, entry_seq, file_hash) VALUES ($1, $2, $3, $4)")
        .bind(bundle)
        .bind(path)
        .bind(head as i64)
        .bind(forged.hash.to_hex())
        .execute(&mut *conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn one_corrupt_bundle_never_takes_a_page_down_for_the_other_draws() {
    let (mut app, bundles) = service(4).await;
    let hows = [Corruption::Substitutions, Corruption::Assignments, Corruption::Manifest];
    let good = &bundles[3];
    let code = a_business(&app, "TEST-4").await;
    for (bundle, how) in bundles.iter().zip(&hows) {
        corrupt(&app, bundle, how).await;
    }
    // An edit of the database behind the service's back adds no ledger
    // entry, so a running instance goes on serving what it read before; the
    // next start brings the cache to the record, corrupt as it now is.
    app.restart().await;

    let (status, hits) = app.get(&format!("/api/v1/search?q={code}")).await;
    assert_eq!(status, StatusCode::OK, "{hits}");
    assert!(
        hits.as_array()
            .unwrap()
            .iter()
            .any(|h| h["draw"] == good.as_str() && h["credit_code"] == code.as_str()),
        "{hits}"
    );
    let (status, page) = text(&app, &format!("/search?q={code}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(good.as_str()), "{page}");
    let (status, home) = text(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains(good.as_str()));
    let (status, draws) = app.get("/api/v1/draws").await;
    assert_eq!(status, StatusCode::OK, "{draws}");
    let (status, rows) = app.get("/api/v1/draws/TEST-4/assignments").await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    assert_eq!(text(&app, &format!("/draws/{good}")).await.0, StatusCode::OK);
    for file in ["assignments.csv", "assignments.xlsx", "drawn.csv", "bundle.zip"] {
        let (status, body) = text(&app, &format!("/draws/{good}/{file}")).await;
        assert_eq!(status, StatusCode::OK, "{file}: {body}");
    }

    // Each bad draw's own page says plainly that its files fail their check.
    for (k, bundle) in bundles[..3].iter().enumerate() {
        let (status, page) = text(&app, &format!("/draws/{bundle}")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{bundle}: {page}");
        assert!(page.contains("未通过校验") && page.contains(bundle.as_str()), "{page}");
        assert!(
            !page.contains(&app.config.data_dir.display().to_string()),
            "no server paths: {page}"
        );
        let (status, body) = app.get(&format!("/api/v1/draws/TEST-{}/assignments", k + 1)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        assert_eq!(body["error"], "bundle_fails_check", "{body}");
        assert!(body["message"].as_str().unwrap().contains(bundle.as_str()), "{body}");
    }
    // The corrupt list as drawn is not handed out as if it were the record.
    let (status, _) = text(&app, &format!("/draws/{}/drawn.csv", bundles[1])).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}
