//! The database is the store of record of what is published: a draw's
//! bundle, its substitution lists and its results notice are written in the
//! transaction of their ledger entry, and `publications/` is a cache that
//! may be deleted at any moment. Every page, download and verification
//! answers the same from the cache, from a rebuilt cache, and from another
//! host with a data folder of its own on the same database; whatever order
//! a crash interrupts, a draw is recorded and served, or not at all.
//!
//! Crashes are stopped at a chosen point by a fault armed on the desk
//! (`Desk::publish.fail_at`), a hook compiled only with the `fault-hooks`
//! feature, which only the tests enable (Cargo.toml): the work stops there
//! with an error, as a crash would stop it, and nothing after it is done.

#[path = "common/app.rs"]
mod app;
mod common;
#[path = "common/postgres.rs"]
mod postgres;

use std::path::Path;

use app::TestApp;
use axum::http::StatusCode;
use postgres::{on_both_databases, TestDb};
use serde_json::{json, Value};
use shuangsui::desk::publish::Fault;
use shuangsui::records;

on_both_databases!(
    a_deleted_cache_serves_the_same_pages_and_downloads,
    two_hosts_with_their_own_folders_serve_the_same_draw,
    a_crash_before_the_entry_records_and_serves_nothing,
    a_crash_before_the_cache_is_served_after_restart_and_by_another_host,
    a_folder_copied_in_by_hand_is_not_served_and_the_audit_says_so,
    a_bundle_of_an_older_data_folder_is_imported_once_it_holds,
    a_substitution_or_notice_interrupted_is_recorded_whole_or_not_at_all,
    a_hand_edited_cache_file_is_repaired_by_the_request_that_finds_it,
    scratch_folders_of_an_interrupted_rebuild_are_removed_at_start_unless_live,
    notes_an_older_data_folder_kept_on_disk_are_imported_without_a_new_entry,
);

/// A service on the test database: on SQLite a file outside its data
/// folder, so that a second data folder can share it.
async fn host(db: &TestDb) -> TestApp {
    let url = db.url.clone();
    TestApp::spawn_with(31, move |config| config.database_url = url).await
}

/// Another host: a data folder of its own on the same database. The pool
/// snapshots the first host froze are copied over: they are not what these
/// tests are about.
async fn second_host(db: &TestDb, first: &TestApp) -> TestApp {
    let other = host(db).await;
    copy_dir(
        &first.config.data_dir.join("snapshots"),
        &other.config.data_dir.join("snapshots"),
    );
    other
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

async fn announce(app: &TestApp, id: &str) -> String {
    let pools = app.pools();
    let text = common::plan_toml(&pools, 2, "").replace("id = \"TEST-1\"", &format!("id = \"{id}\""));
    app.add_plan(id, &text);
    let (status, body) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": id, "seed_method": {"kind": "commit"}}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    body["task_id"].as_str().unwrap().to_owned()
}

async fn draw(app: &TestApp, task: &str) -> (StatusCode, Value) {
    app.operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await
}

async fn announce_and_draw(app: &TestApp, id: &str) -> (String, String) {
    let task = announce(app, id).await;
    let (status, body) = draw(app, &task).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (task, body["bundle"].as_str().unwrap().to_owned())
}

/// The raw bytes of a GET.
async fn bytes(app: &TestApp, uri: &str) -> (StatusCode, Vec<u8>) {
    use tower::ServiceExt;
    let request = axum::http::Request::builder()
        .uri(uri)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.router().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 64 << 20).await.unwrap();
    (status, body.to_vec())
}

/// Everything the public and the API are served of one draw, each with its
/// status: pages, downloads (byte for byte), the rows and the lists.
async fn served(app: &TestApp, task: &str, bundle: &str) -> Vec<(String, StatusCode, Vec<u8>)> {
    let mut all = Vec::new();
    for uri in [
        format!("/draws/{bundle}"),
        format!("/draws/{bundle}/bundle.zip"),
        format!("/draws/{bundle}/drawn.csv"),
        format!("/draws/{bundle}/assignments.csv"),
        format!("/draws/{bundle}/assignments.xlsx"),
        format!("/api/v1/draws/{task}/assignments?per_page=1000"),
        format!("/api/v1/draws/{task}/substitutions"),
        "/api/v1/results".to_owned(),
        "/".to_owned(),
    ] {
        let (status, body) = bytes(app, &uri).await;
        all.push((uri, status, body));
    }
    all
}

fn assert_same(a: &[(String, StatusCode, Vec<u8>)], b: &[(String, StatusCode, Vec<u8>)]) {
    for ((uri, status_a, body_a), (_, status_b, body_b)) in a.iter().zip(b) {
        assert_eq!(status_a, status_b, "{uri}");
        assert!(status_a.is_success(), "{uri}: {}", String::from_utf8_lossy(body_a));
        assert!(
            body_a == body_b,
            "{uri} differs:\n{}\n---\n{}",
            String::from_utf8_lossy(body_a),
            String::from_utf8_lossy(body_b)
        );
    }
}

/// `POST /api/v1/ledger/verify`: its problems.
async fn verify(app: &TestApp) -> Vec<String> {
    let (status, report) = app.operator("/api/v1/ledger/verify", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

/// `shuangsui ledger verify` on the host's data folder and database.
fn verify_cli(app: &TestApp) -> (Option<i32>, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shuangsui"))
        .args(["ledger", "verify", "--data-dir"])
        .arg(&app.config.data_dir)
        .env("SHUANGSUI_DATABASE_URL", &app.config.database_url)
        .env_remove("SHUANGSUI_MIGRATION_DATABASE_URL")
        .env_remove("SHUANGSUI_DATA_DIR")
        .env_remove("SHUANGSUI_CHECKPOINT_KEY_FILE")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.code(), text)
}

async fn substitute(app: &TestApp, task: &str) -> Value {
    let (_, rows) = app.get(&format!("/api/v1/draws/{task}/assignments?per_page=1")).await;
    let code = rows["rows"][0]["credit_code"].as_str().unwrap().to_owned();
    let out = rows["rows"][0]["team"][0].as_str().unwrap().to_owned();
    let (status, made) = app
        .operator(
            &format!("/api/v1/draws/{task}/substitutions"),
            json!({"credit_code": code, "out": out, "reason": "conflict", "relation": "亲属", "note": "申请回避"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    made
}

async fn record_and_publish(app: &TestApp, task: &str) {
    let (_, rows) = app.get(&format!("/api/v1/draws/{task}/assignments?per_page=1")).await;
    let code = rows["rows"][0]["credit_code"].as_str().unwrap().to_owned();
    let result = json!({"task_id": task, "credit_code": code, "codes": ["1"], "inspection_date": app.state.desk.time.today().to_string()});
    let (status, recorded) = app.operator("/api/v1/results", result).await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    let (status, notice) = app.operator("/api/v1/results/publish", json!({"task_id": task})).await;
    assert_eq!(status, StatusCode::CREATED, "{notice}");
}

async fn a_deleted_cache_serves_the_same_pages_and_downloads(db: TestDb) {
    let mut app = host(&db).await;
    let (task, bundle) = announce_and_draw(&app, "TEST-1").await;
    substitute(&app, &task).await;
    record_and_publish(&app, &task).await;
    let before = served(&app, &task, &bundle).await;
    let zip_before = before[1].2.clone();
    assert!(zip_before.starts_with(b"PK"), "a zip");
    assert_eq!(verify(&app).await, Vec::<String>::new());

    // Deleted while serving: every read rebuilds what it needs.
    std::fs::remove_dir_all(app.publications()).unwrap();
    assert_same(&before, &served(&app, &task, &bundle).await);
    assert_eq!(verify(&app).await, Vec::<String>::new());
    let (code, text) = verify_cli(&app);
    assert_eq!(code, Some(0), "{text}");

    // Deleted while stopped: rebuilt at start.
    std::fs::remove_dir_all(app.publications()).unwrap();
    app.restart().await;
    assert!(app.bundle(&bundle).join("public/results.csv").is_file());
    let after = served(&app, &task, &bundle).await;
    assert_same(&before, &after);
    assert!(
        after[1].2 == zip_before,
        "bundle.zip is byte for byte the one served before"
    );

    // A hand-edited cache file is named by the audit, and repaired at start.
    let edited = app.bundle(&bundle).join("public/substitutions.json");
    let original = std::fs::read(&edited).unwrap();
    std::fs::write(&edited, b"{}").unwrap();
    let problems = verify(&app).await;
    assert!(
        problems.iter().any(
            |p| p.contains(&format!("publications/{bundle}/public/substitutions.json")) && p.contains("does not match")
        ),
        "{problems:#?}"
    );
    app.restart().await;
    assert_eq!(std::fs::read(&edited).unwrap(), original);
    assert_eq!(verify(&app).await, Vec::<String>::new());
}

async fn two_hosts_with_their_own_folders_serve_the_same_draw(db: TestDb) {
    let a = host(&db).await;
    let task = announce(&a, "TEST-1").await;
    let b = second_host(&db, &a).await;
    let (status, drawn) = draw(&a, &task).await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    let bundle = drawn["bundle"].as_str().unwrap().to_owned();
    // B was started before the draw: it serves it from the database at once.
    assert!(!b.bundle(&bundle).exists());
    assert_same(&served(&a, &task, &bundle).await, &served(&b, &task, &bundle).await);
    assert_eq!(verify(&b).await, Vec::<String>::new());

    // A substitution on B shows on A's pages, with the note B recorded.
    let made = substitute(&b, &task).await;
    assert_same(&served(&b, &task, &bundle).await, &served(&a, &task, &bundle).await);
    let (_, page) = a.get(&format!("/draws/{bundle}")).await;
    let incoming = made["entry"]["in"].as_str().unwrap();
    assert!(
        page.as_str().unwrap().contains(incoming),
        "A's page shows B's substitute"
    );
    let log = a.state.desk.substitution_log(&task).await.unwrap().unwrap();
    assert_eq!(log.substitutions[0].note.as_deref(), Some("申请回避"));
    assert!(!a.secrets().join("notes").exists() && !b.secrets().join("notes").exists());

    // Results on A show on B's pages and in B's bundle.
    record_and_publish(&a, &task).await;
    assert_same(&served(&a, &task, &bundle).await, &served(&b, &task, &bundle).await);
    assert!(b.bundle(&bundle).join("public/results.csv").is_file());
    assert_eq!(verify(&a).await, Vec::<String>::new());
    assert_eq!(verify(&b).await, Vec::<String>::new());
    let (code, text) = verify_cli(&b);
    assert_eq!(code, Some(0), "{text}");
}

async fn a_crash_before_the_entry_records_and_serves_nothing(db: TestDb) {
    let mut app = host(&db).await;
    let task = announce(&app, "TEST-1").await;
    app.state.desk.publish.fail_at(Fault::BeforeEntry);
    let (status, body) = draw(&app, &task).await;
    assert!(!status.is_success(), "{body}");
    app.restart().await;
    assert!(app.state.desk.draw_record(&task).await.unwrap().is_none());
    let pool = app.state.desk.ledger.raw_pool();
    assert!(
        records::bundle_versions(pool).await.unwrap().is_empty(),
        "nothing recorded"
    );
    let folders: Vec<_> = std::fs::read_dir(app.publications()).unwrap().collect();
    assert!(folders.is_empty(), "nothing cached: {folders:?}");
    let (_, draws) = app.get("/api/v1/draws").await;
    assert_eq!(draws.as_array().map(Vec::len), Some(0), "{draws}");
    // A retry draws, and is served.
    let (status, body) = draw(&app, &task).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let bundle = body["bundle"].as_str().unwrap();
    assert_eq!(bytes(&app, &format!("/draws/{bundle}")).await.0, StatusCode::OK);
    assert_eq!(verify(&app).await, Vec::<String>::new());
}

async fn a_crash_before_the_cache_is_served_after_restart_and_by_another_host(db: TestDb) {
    let mut app = host(&db).await;
    let task = announce(&app, "TEST-1").await;
    let other = second_host(&db, &app).await;
    app.state.desk.publish.fail_at(Fault::BeforeCache);
    let (status, body) = draw(&app, &task).await;
    assert!(!status.is_success(), "{body}");
    let (record, _) = app
        .state
        .desk
        .draw_record(&task)
        .await
        .unwrap()
        .expect("the draw is recorded");
    assert!(!app.bundle(&record.bundle).exists(), "the cache was never written");
    // Another host serves it at once.
    let on_other = served(&other, &task, &record.bundle).await;
    assert!(
        on_other.iter().all(|(_, s, _)| s.is_success()),
        "served by the other host"
    );
    // And this host after its restart, the same bytes.
    app.restart().await;
    assert!(app.bundle(&record.bundle).join("manifest.json").is_file());
    assert_same(&on_other, &served(&app, &task, &record.bundle).await);
    // Asking again returns the recorded draw.
    let (status, again) = draw(&app, &task).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["bundle"], record.bundle.as_str());
    assert_eq!(verify(&app).await, Vec::<String>::new());
}

async fn a_folder_copied_in_by_hand_is_not_served_and_the_audit_says_so(db: TestDb) {
    let mut app = host(&db).await;
    let (_, bundle) = announce_and_draw(&app, "TEST-1").await;
    let copy = "TEST-9_0123456789ab";
    copy_dir(&app.bundle(&bundle), &app.bundle(copy));
    app.restart().await;
    assert_eq!(bytes(&app, &format!("/draws/{copy}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        bytes(&app, &format!("/draws/{copy}/bundle.zip")).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, home) = bytes(&app, "/").await;
    assert!(!String::from_utf8_lossy(&home).contains(copy));
    assert!(records::bundle_files(app.state.desk.ledger.raw_pool(), copy)
        .await
        .unwrap()
        .is_empty());
    let problems = verify(&app).await;
    assert!(
        problems
            .iter()
            .any(|p| p.contains(&format!("publications/{copy}")) && p.contains("not recorded")),
        "{problems:#?}"
    );
    let (code, text) = verify_cli(&app);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains(&format!("publications/{copy}")), "{text}");
}

async fn a_bundle_of_an_older_data_folder_is_imported_once_it_holds(db: TestDb) {
    use shuangsui::desk::DrawRecord;
    use shuangsui::ledger::Key;
    use shuangsui::snapshot::bytes_hash;

    let mut app = host(&db).await;
    let (task, bundle) = announce_and_draw(&app, "TEST-1").await;
    let (real, _) = app.state.desk.draw_record(&task).await.unwrap().unwrap();
    // Two draws recorded the way a data folder made before this kept them:
    // a ledger entry, and the bundle only on disk. One is intact, the other
    // has a file edited after its draw.
    let desk = &app.state.desk;
    let mut legacy = Vec::new();
    for (k, edit) in [(2, false), (3, true)] {
        let id = format!("TEST-{k}");
        let task = announce(&app, &id).await;
        let name = format!("{id}_0123456789ab");
        copy_dir(&app.bundle(&bundle), &app.bundle(&name));
        if edit {
            let path = app.bundle(&name).join("public/assignments.csv");
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.truncate(bytes.len() / 2);
            std::fs::write(path, bytes).unwrap();
        }
        let manifest = std::fs::read(app.bundle(&name).join("manifest.json")).unwrap();
        let record = DrawRecord {
            task_id: task.clone(),
            bundle: name.clone(),
            manifest_sha256: bytes_hash(&manifest),
            ..real.clone()
        };
        desk.ledger
            .append_typed(&Key::Draw(&task), &record, &desk.time.stamp())
            .await
            .unwrap();
        legacy.push(name);
    }
    app.restart().await;
    let pool = app.state.desk.ledger.raw_pool();
    let imported = records::bundle_files(pool, &legacy[0]).await.unwrap();
    assert!(
        imported.iter().any(|f| f.path == "public/assignments.csv"),
        "{imported:?}"
    );
    assert!(
        records::bundle_files(pool, &legacy[1]).await.unwrap().is_empty(),
        "the edited bundle is not imported"
    );
    // The imported one is now a cache like any other: deleted, it is rebuilt.
    std::fs::remove_dir_all(app.bundle(&legacy[0])).unwrap();
    assert_eq!(bytes(&app, &format!("/draws/{}", legacy[0])).await.0, StatusCode::OK);
    let problems = verify(&app).await;
    assert!(
        problems
            .iter()
            .any(|p| p.contains(&legacy[1]) && p.contains("database holds no file")),
        "{problems:#?}"
    );
    assert!(
        !problems
            .iter()
            .any(|p| p.contains(&legacy[0]) && p.contains("database")),
        "{problems:#?}"
    );
}

async fn a_substitution_or_notice_interrupted_is_recorded_whole_or_not_at_all(db: TestDb) {
    let mut app = host(&db).await;
    let (task, bundle) = announce_and_draw(&app, "TEST-1").await;
    let list = format!("public/{}", shuangsui::substitution::FILE);
    let versions = |app: &TestApp| {
        let pool = app.state.desk.ledger.raw_pool().clone();
        let bundle = bundle.clone();
        async move { records::bundle_files(&pool, &bundle).await.unwrap() }
    };

    // Stopped before its entry: no substitution, no list, no note.
    app.state.desk.publish.fail_at(Fault::BeforeEntry);
    let (_, rows) = app.get(&format!("/api/v1/draws/{task}/assignments?per_page=1")).await;
    let ask = json!({"credit_code": rows["rows"][0]["credit_code"], "out": rows["rows"][0]["team"][0],
                     "reason": "conflict", "relation": "亲属", "note": "申请回避"});
    let uri = format!("/api/v1/draws/{task}/substitutions");
    let (status, body) = app.operator(&uri, ask.clone()).await;
    assert!(!status.is_success(), "{body}");
    app.restart().await;
    assert!(app.state.desk.substitution_log(&task).await.unwrap().is_none());
    assert!(!versions(&app).await.iter().any(|f| f.path == list));
    assert!(!app.bundle(&bundle).join(&list).exists());

    // Stopped after its entry, before the cache: served whole after restart.
    app.state.desk.publish.fail_at(Fault::BeforeCache);
    let (status, body) = app.operator(&uri, ask).await;
    assert!(!status.is_success(), "{body}");
    assert!(!app.bundle(&bundle).join(&list).exists(), "the cache was not written");
    app.restart().await;
    assert!(app.bundle(&bundle).join(&list).is_file());
    let log = app.state.desk.substitution_log(&task).await.unwrap().unwrap();
    assert_eq!(log.substitutions.len(), 1);
    assert_eq!(
        log.substitutions[0].note.as_deref(),
        Some("申请回避"),
        "the note came with its entry"
    );

    // A results notice stopped before its cache is served after restart.
    let code = rows["rows"][0]["credit_code"].as_str().unwrap();
    // Only a business of the draw, found in the recorded list, takes a result.
    let stranger = json!({"task_id": task, "credit_code": "91520200000000000X", "codes": ["1"], "inspection_date": app.state.desk.time.today().to_string()});
    let (status, refused) = app.operator("/api/v1/results", stranger).await;
    assert!(
        !status.is_success() && refused.to_string().contains("was not drawn"),
        "{refused}"
    );
    let result = json!({"task_id": task, "credit_code": code, "codes": ["1"], "inspection_date": app.state.desk.time.today().to_string()});
    assert_eq!(app.operator("/api/v1/results", result).await.0, StatusCode::CREATED);
    app.state.desk.publish.fail_at(Fault::BeforeCache);
    let (status, body) = app.operator("/api/v1/results/publish", json!({"task_id": task})).await;
    assert!(!status.is_success(), "{body}");
    assert!(versions(&app).await.iter().any(|f| f.path == "public/results.csv"));
    app.restart().await;
    let notice = std::fs::read_to_string(app.bundle(&bundle).join("public/results.csv")).unwrap();
    assert!(notice.contains(code), "{notice}");
    assert_eq!(verify(&app).await, Vec::<String>::new());
}

async fn a_hand_edited_cache_file_is_repaired_by_the_request_that_finds_it(db: TestDb) {
    let app = host(&db).await;
    let (task, bundle) = announce_and_draw(&app, "TEST-1").await;
    substitute(&app, &task).await;
    let before = served(&app, &task, &bundle).await;
    let desk = &app.state.desk;
    let recorded = |path: &'static str| {
        let bundle = bundle.clone();
        async move { desk.recorded_file(&bundle, path).await.unwrap().unwrap() }
    };

    // Each file the page reads, and the confidential copy it does not: the
    // page finds the edit, rebuilds the folder from the record and serves it.
    for path in [
        "public/assignments.csv",
        "public/manifest.json",
        "public/substitutions.json",
        "manifest.json",
    ] {
        let cached = app.bundle(&bundle).join(path);
        let original = recorded(path).await;
        assert_eq!(std::fs::read(&cached).unwrap(), original, "{path} starts as recorded");
        let mut edited = original.clone();
        edited.truncate(edited.len() / 2);
        std::fs::write(&cached, &edited).unwrap();
        let (status, page) = bytes(&app, &format!("/draws/{bundle}")).await;
        assert_eq!(status, StatusCode::OK, "{path}: {}", String::from_utf8_lossy(&page));
        assert_eq!(std::fs::read(&cached).unwrap(), original, "{path} is repaired");
    }

    // A download hands out the recorded bytes, not the edited ones.
    for (path, download) in [
        ("public/assignments.csv", "drawn.csv"),
        ("public/substitutions.json", "substitutions.json"),
        ("public/manifest.json", "manifest.json"),
    ] {
        std::fs::write(app.bundle(&bundle).join(path), b"forged").unwrap();
        let (status, body) = bytes(&app, &format!("/draws/{bundle}/{download}")).await;
        assert_eq!(status, StatusCode::OK, "{download}");
        assert!(body == recorded(path).await, "{download} is the recorded file");
    }
    // And the API's detail of the draw, from the public manifest.
    std::fs::write(app.bundle(&bundle).join("public/manifest.json"), b"{ not json").unwrap();
    let (status, detail) = app.get(&format!("/api/v1/draws/{task}")).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["record"]["bundle"], bundle.as_str());

    // A file no entry records, put in the folder by hand, is not served.
    assert!(desk.recorded_file(&bundle, "public/merge.csv").await.unwrap().is_none());
    let added = app.bundle(&bundle).join("public/merge.csv");
    std::fs::write(&added, "序号\r\n").unwrap();
    assert_eq!(
        bytes(&app, &format!("/draws/{bundle}/merge.csv")).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(!added.exists());

    assert_same(&before, &served(&app, &task, &bundle).await);
    assert_eq!(verify(&app).await, Vec::<String>::new());
}

/// A scratch folder as a cache rebuild leaves it when its process dies:
/// named after the folder it rebuilds, holding a copy of it.
fn scratch(beside: &Path, name: &str) -> std::path::PathBuf {
    let dir = beside.parent().unwrap().join(name);
    copy_dir(beside, &dir);
    dir
}

async fn scratch_folders_of_an_interrupted_rebuild_are_removed_at_start_unless_live(db: TestDb) {
    let mut app = host(&db).await;
    let (task, bundle) = announce_and_draw(&app, "TEST-1").await;
    let (announced, _) = app.state.desk.announcement(&task).await.unwrap().unwrap();
    let snapshot = announced.snapshot_combined.to_hex();
    let snapshot_dir = app.config.data_dir.join("snapshots").join(&snapshot);
    assert!(snapshot_dir.is_dir());
    // The process ids of a process that has ended and of one still running.
    let mut ended = std::process::Command::new("true").spawn().unwrap();
    let ended_pid = ended.id();
    ended.wait().unwrap();
    let mut running = std::process::Command::new("sleep").arg("600").spawn().unwrap();
    let running_pid = running.id();

    let bundle_dir = app.bundle(&bundle);
    let dead_sync = scratch(&bundle_dir, &format!(".{bundle}.sync-{ended_pid}-0123456789abcdef"));
    let dead_tmp = scratch(&snapshot_dir, &format!(".{snapshot}.tmp-{ended_pid}-0123456789abcdef"));
    let dead_old = scratch(&snapshot_dir, &format!(".{snapshot}.old-{ended_pid}-fedcba9876543210"));
    // The copy an announcement was writing as it read the pools.
    let dead_read = scratch(&snapshot_dir, &format!(".read.tmp-{ended_pid}-00ff00ff00ff00ff"));
    let live_sync = scratch(&bundle_dir, &format!(".{bundle}.sync-{running_pid}-0123456789abcdef"));
    // Named as before process ids were: only their age tells.
    let stale = scratch(&bundle_dir, &format!(".{bundle}.sync-00112233aabbccdd"));
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::open(&stale).unwrap().set_modified(hour_ago).unwrap();
    let recent = scratch(&bundle_dir, &format!(".{bundle}.sync-ffeeddccbbaa9988"));
    // Not a scratch folder of the service's, whatever its age.
    let other = scratch(&bundle_dir, &format!(".{bundle}.keep-{ended_pid}-0123456789abcdef"));

    // Never served, never listed, never a problem of the audit.
    let (_, draws) = app.get("/api/v1/draws").await;
    assert_eq!(draws.as_array().map(Vec::len), Some(1), "{draws}");
    for name in [&dead_sync, &live_sync, &stale] {
        let name = name.file_name().unwrap().to_str().unwrap();
        assert_eq!(bytes(&app, &format!("/draws/{name}")).await.0, StatusCode::NOT_FOUND);
    }
    let (_, home) = bytes(&app, "/").await;
    assert!(!String::from_utf8_lossy(&home).contains(".sync-"));
    assert_eq!(verify(&app).await, Vec::<String>::new());

    app.restart().await;
    for gone in [&dead_sync, &dead_tmp, &dead_old, &dead_read, &stale] {
        assert!(!gone.exists(), "{} is removed", gone.display());
    }
    for kept in [&live_sync, &recent, &other] {
        assert!(kept.exists(), "{} is kept", kept.display());
    }
    assert!(bundle_dir.join("manifest.json").is_file() && snapshot_dir.is_dir());
    assert_eq!(bytes(&app, &format!("/draws/{bundle}")).await.0, StatusCode::OK);
    assert_eq!(verify(&app).await, Vec::<String>::new());
    let (code, text) = verify_cli(&app);
    assert_eq!(code, Some(0), "{text}");

    // Once its process has ended, the next start removes it too.
    running.kill().unwrap();
    running.wait().unwrap();
    app.restart().await;
    assert!(!live_sync.exists());
}

async fn notes_an_older_data_folder_kept_on_disk_are_imported_without_a_new_entry(db: TestDb) {
    use shuangsui::desk::SubstitutionRecord;
    use shuangsui::ledger::Key;
    use shuangsui::records::Attached;
    use shuangsui::snapshot::bytes_hash;

    let mut app = host(&db).await;
    let (task, bundle) = announce_and_draw(&app, "TEST-1").await;
    // A substitution as the service recorded one before it kept notes and
    // reasons in the database: the real reason in the ledger entry, the
    // lists attached, the note on disk only.
    let (_, rows) = app.get(&format!("/api/v1/draws/{task}/assignments?per_page=1")).await;
    let request: shuangsui::substitution::Request = serde_json::from_value(
        json!({"credit_code": rows["rows"][0]["credit_code"], "out": rows["rows"][0]["team"][0], "reason": "leave"}),
    )
    .unwrap();
    let stored = shuangsui::bundle::read(&app.bundle(&bundle)).unwrap();
    let (log, entry) =
        shuangsui::pipeline::substitute_checked(&stored, &app.pools(), None, &request, "2026-03-02T10:00:00+08:00")
            .unwrap();
    let desk = &app.state.desk;
    let mut attached = Vec::new();
    for (path, bytes) in [
        ("substitutions.json", log.to_json()),
        ("public/substitutions.json", log.without_notes().to_json()),
    ] {
        let mut tx = desk.ledger.raw_pool().begin().await.unwrap();
        let (file, _) = shuangsui::store::put_bytes(&mut tx, bytes.as_bytes()).await.unwrap();
        tx.commit().await.unwrap();
        let (bundle, path) = (bundle.clone(), path.to_owned());
        attached.push(Attached::BundleFile {
            bundle,
            path,
            file: file.hash,
        });
    }
    let record = SubstitutionRecord {
        task_id: task.clone(),
        bundle: bundle.clone(),
        entry: entry.without_notes(),
        result_sha256: log.result_sha256,
    };
    desk.ledger
        .append_typed_with(
            &Key::Substitute(&task, 1),
            &record,
            "2026-03-02T10:00:00+08:00",
            &attached,
        )
        .await
        .unwrap();
    // The name notes were kept under: the task, the substitution's number
    // and a tag of the entry the ledger holds.
    let public = serde_json::to_string(&record.entry).unwrap();
    let tag = &bytes_hash(public.as_bytes()).to_hex()[..16];
    let name = format!("{task}-{}-{tag}.json", record.entry.seq);
    let notes = app.secrets().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    let note = r#"{"note":"本人请假","relation":null}"#;
    std::fs::write(notes.join(&name), note).unwrap();
    // Not notes of a recorded entry: another number, another tag, not a note.
    let other_seq = format!("{task}-7-{tag}.json");
    let other_tag = format!("{task}-{}-0000000000000000.json", record.entry.seq);
    std::fs::write(notes.join(&other_seq), note).unwrap();
    std::fs::write(notes.join(&other_tag), note).unwrap();
    let head = desk.ledger.head().await.unwrap();

    app.restart().await;
    let desk = &app.state.desk;
    let pool = desk.ledger.raw_pool();
    let stored = records::private_file(pool, &name)
        .await
        .unwrap()
        .expect("the note is imported");
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        shuangsui::store::read_file(&mut conn, &stored).await.unwrap(),
        note.as_bytes()
    );
    drop(conn);
    for stray in [&other_seq, &other_tag] {
        assert!(records::private_file(pool, stray).await.unwrap().is_none(), "{stray}");
    }
    assert_eq!(desk.ledger.head().await.unwrap(), head, "no entry was added");
    assert_eq!(desk.ledger.verify_chain().await.unwrap(), head);

    // Read from the database from now on: the folder may go.
    std::fs::remove_dir_all(&notes).unwrap();
    app.restart().await;
    let log = app.state.desk.substitution_log(&task).await.unwrap().unwrap();
    assert_eq!(log.substitutions[0].note.as_deref(), Some("本人请假"));
    assert_eq!(
        log.substitutions[0].reason,
        shuangsui::substitution::Reason::Leave,
        "the ledger's reason"
    );
    assert_eq!(verify(&app).await, Vec::<String>::new());
}
