//! The announce side of the store of record: a task's pool snapshot and its
//! commit–reveal secret are in the database, written with the entry that
//! names them. `snapshots/` and `secrets/` may be deleted at any moment; a
//! second data folder on the same database draws what the first announced;
//! a hand-edited chunk, or a snapshot pointed at another file, fails the
//! draw instead of changing it; content stored without its entry is no
//! announcement; data folders from before are imported on start; and a
//! one-line change to the pools adds only a few chunks.

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
use shuangsui::desk::SeedMaterial;
use shuangsui::ledger::{Key, Ledger};
use shuangsui::service::config::Config;
use shuangsui::snapshot::Hash32;
use shuangsui::store;
use sqlx::Row;

on_both_databases!(
    deleting_snapshots_and_secrets_changes_nothing,
    a_second_data_folder_draws_what_the_first_announced,
    a_hand_edited_chunk_fails_the_draw_and_never_changes_it,
    a_snapshot_pointed_at_other_files_fails_the_draw,
    the_bytes_read_at_announcement_are_the_cached_copy,
    content_stored_without_its_entry_is_no_announcement,
    a_data_folder_from_before_is_imported_on_start,
    a_one_line_change_adds_only_a_few_chunks,
    chunks_stored_before_are_not_compressed_again_and_a_missing_one_is_stored,
    after_a_restart_the_last_snapshots_chunks_are_not_compressed_again,
    a_workbook_is_stored_as_read_and_drawn_from_the_database,
);

async fn spawn(db: &TestDb, seed: u64) -> TestApp {
    let url = db.url.clone();
    TestApp::spawn_with(seed, move |config| config.database_url = url).await
}

/// Announces `plan` (in the plans folder) for a commit–reveal draw through
/// the service; returns the task and its commitment.
async fn announce(app: &TestApp, plan: &str) -> (String, String) {
    let (status, announced) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": plan, "seed_method": {"kind": "commit"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{announced}");
    (
        announced["task_id"].as_str().unwrap().to_owned(),
        announced["seed_method"]["commitment"]
            .as_str()
            .unwrap_or_else(|| panic!("no commitment in {announced}"))
            .to_owned(),
    )
}

async fn draw(app: &TestApp, task: &str) -> (StatusCode, Value) {
    app.operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await
}

/// `shuangsui ledger verify` of the app's data folder on its database.
fn ledger_verify(app: &TestApp) -> (Option<i32>, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shuangsui"))
        .args(["ledger", "verify", "--data-dir", app.config.data_dir.to_str().unwrap()])
        .env("SHUANGSUI_DATABASE_URL", &app.config.database_url)
        .env_remove("SHUANGSUI_MIGRATION_DATABASE_URL")
        .env_remove("SHUANGSUI_DATA_DIR")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.code(), text)
}

fn verified(bundle: &Path, pools: &Path) {
    let report = shuangsui::verify::verify(bundle, pools, Default::default()).unwrap();
    assert!(report.verified(), "{:?}", report.difference);
}

fn snapshots(app: &TestApp) -> std::path::PathBuf {
    app.config.data_dir.join("snapshots")
}

fn files_in(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().file_name().into_string().unwrap()).collect(),
        Err(_) => Vec::new(),
    }
}

fn remove(dir: &Path) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// The commitment a drawn bundle reveals the secret of.
fn revealed_commitment(bundle: &Path) -> Value {
    let manifest = shuangsui::bundle::read(bundle).unwrap().manifest;
    serde_json::to_value(&manifest.seed.source).unwrap()["commitment"].clone()
}

async fn deleting_snapshots_and_secrets_changes_nothing(db: TestDb) {
    let app = spawn(&db, 31).await;
    app.add_plan("p", &common::plan_toml(&app.pools(), 2, ""));
    let (task, commitment) = announce(&app, "p").await;
    assert!(
        files_in(&app.secrets()).iter().all(|n| !n.ends_with(".hex")),
        "no secret is kept on disk: {:?}",
        files_in(&app.secrets())
    );
    remove(&snapshots(&app));
    remove(&app.secrets());

    let (status, drawn) = draw(&app, &task).await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    let bundle = app.bundle(drawn["bundle"].as_str().unwrap());
    verified(&bundle, app.pools_dir());
    assert_eq!(revealed_commitment(&bundle), json!(commitment));

    // The cache the draw rebuilt holds the live pools' very bytes.
    let (announced, _) = app.state.desk.announcement(&task).await.unwrap().unwrap();
    let cached = snapshots(&app).join(announced.snapshot_combined.to_hex());
    for name in [
        "departments.csv",
        "items.csv",
        "inspectors.csv",
        "targets.csv",
        "conflicts.csv",
    ] {
        assert_eq!(
            std::fs::read(cached.join(name)).unwrap(),
            std::fs::read(app.pools_dir().join(name)).unwrap(),
            "{name}"
        );
    }
    // A hand-edited cache is repaired before it is used, not verified against.
    let edited = cached.join("inspectors.csv");
    let original = std::fs::read(&edited).unwrap();
    let mut changed = original.clone();
    let at = changed.len() - 3;
    changed[at] = if changed[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&edited, &changed).unwrap();
    let (status, audit) = app.operator("/api/v1/ledger/verify", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    assert_eq!(audit["problems"], json!([]), "{audit}");
    assert_eq!(std::fs::read(&edited).unwrap(), original, "the cache is rebuilt");

    // And the auditor's command, with no cache at all.
    remove(&snapshots(&app));
    let (code, text) = ledger_verify(&app);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("draws checked: 1"), "{text}");
    assert!(
        !snapshots(&app).exists(),
        "the check writes nothing into the data folder"
    );
}

async fn a_second_data_folder_draws_what_the_first_announced(db: TestDb) {
    let app = spawn(&db, 31).await;
    app.add_plan("p", &common::plan_toml(&app.pools(), 2, ""));
    let (task, commitment) = announce(&app, "p").await;

    // Another host: its own empty data folder, and live pools of its own
    // that are not the ones announced, so only the database can give it
    // the snapshot and the secret.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut config: Config = app.config.clone();
    config.data_dir = elsewhere.path().join("state");
    config.pools_dir = common::small_pool(elsewhere.path(), 32);
    let other = shuangsui::service::state(&config, app.clock.clone()).await.unwrap();
    let (record, _) = other
        .desk
        .draw(&task, SeedMaterial::Reveal { beacon_signature: None })
        .await
        .unwrap_or_else(|e| panic!("the other host cannot draw: {e}"));
    let bundle = config.data_dir.join("publications").join(&record.bundle);
    verified(&bundle, app.pools_dir());
    assert_eq!(revealed_commitment(&bundle), json!(commitment));
    assert!(files_in(&config.data_dir.join("secrets")).is_empty());
    // The first host records the same draw.
    let (mine, _) = app.state.desk.draw_record(&task).await.unwrap().unwrap();
    assert_eq!(mine, record);
}

/// The chunk hashes of the stored file `name` of a snapshot.
async fn chunks_of(ledger: &Ledger, snapshot: &Hash32, name: &str) -> Vec<Hash32> {
    let mut conn = ledger.raw_pool().acquire().await.unwrap();
    let files = store::snapshot_files(&mut conn, snapshot).await.unwrap().unwrap();
    store::file_info(&mut conn, &files[name]).await.unwrap().unwrap().chunks
}

async fn chunk_data(ledger: &Ledger, chunk: &Hash32) -> Vec<u8> {
    sqlx::query("SELECT data FROM store_chunks WHERE hash = $1")
        .bind(chunk.to_hex())
        .fetch_one(ledger.raw_pool())
        .await
        .unwrap()
        .try_get::<Vec<u8>, _>(0)
        .unwrap()
}

async fn set_chunk_data(ledger: &Ledger, chunk: &Hash32, data: &[u8]) {
    sqlx::query("UPDATE store_chunks SET data = $1 WHERE hash = $2")
        .bind(data)
        .bind(chunk.to_hex())
        .execute(ledger.raw_pool())
        .await
        .unwrap();
}

async fn a_hand_edited_chunk_fails_the_draw_and_never_changes_it(db: TestDb) {
    let app = spawn(&db, 31).await;
    app.add_plan("p", &common::plan_toml(&app.pools(), 2, ""));
    let (task, _) = announce(&app, "p").await;
    let desk = &app.state.desk;
    let (announced, _) = desk.announcement(&task).await.unwrap().unwrap();
    let chunk = chunks_of(&desk.ledger, &announced.snapshot_combined, "targets.csv").await[0];
    let original = chunk_data(&desk.ledger, &chunk).await;
    let mut edited = original.clone();
    let last = edited.len() - 1;
    edited[last] ^= 0x01;
    set_chunk_data(&desk.ledger, &chunk, &edited).await;
    remove(&snapshots(&app));

    // The service answers with an error of its own that names the chunk,
    // and nothing of the server but hashes; the desk's error names it too.
    let (status, failed) = draw(&app, &task).await;
    assert_store_corrupt(&app, status, &failed, &chunk);
    let message = desk
        .draw(&task, SeedMaterial::Reveal { beacon_signature: None })
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(&chunk.to_hex()) && message.contains("corrupt"),
        "the error names the chunk: {message}"
    );
    assert!(desk.draw_record(&task).await.unwrap().is_none(), "nothing is drawn");
    assert!(
        files_in(&snapshots(&app)).is_empty(),
        "no partial cache is left: {:?}",
        files_in(&snapshots(&app))
    );

    // Put back, the same task draws, on the pools it was announced on.
    set_chunk_data(&desk.ledger, &chunk, &original).await;
    let (status, drawn) = draw(&app, &task).await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    let bundle = drawn["bundle"].as_str().unwrap();
    verified(&app.bundle(bundle), app.pools_dir());

    // A published file's chunk edited, its cache gone: the public page, the
    // download and the API say which chunk, the same way.
    let recorded = shuangsui::records::bundle_files(desk.ledger.raw_pool(), bundle)
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.path == "public/assignments.csv")
        .unwrap();
    let chunk = {
        let mut conn = desk.ledger.raw_pool().acquire().await.unwrap();
        store::file_info(&mut conn, &recorded.file)
            .await
            .unwrap()
            .unwrap()
            .chunks[0]
    };
    let original = chunk_data(&desk.ledger, &chunk).await;
    let mut edited = original.clone();
    edited[0] ^= 0x01;
    set_chunk_data(&desk.ledger, &chunk, &edited).await;
    remove(&app.publications());
    for uri in [
        format!("/draws/{bundle}"),
        format!("/draws/{bundle}/drawn.csv"),
        format!("/api/v1/draws/{task}"),
    ] {
        let (status, failed) = app.get(&uri).await;
        assert_store_corrupt(&app, status, &failed, &chunk);
    }
    set_chunk_data(&desk.ledger, &chunk, &original).await;
    assert_eq!(app.get(&format!("/draws/{bundle}")).await.0, StatusCode::OK);
}

/// Renames the business on the middle line of the pool folder's targets.csv.
fn rename_one_target(pools: &Path) {
    let targets = pools.join("targets.csv");
    let text = std::fs::read_to_string(&targets).unwrap();
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let middle = lines.len() / 2;
    let mut fields: Vec<String> = lines[middle].split(',').map(str::to_owned).collect();
    fields[1].push_str("（新店）");
    lines[middle] = fields.join(",");
    std::fs::write(&targets, lines.join("\n")).unwrap();
}

/// The database edited so that a task's snapshot names the target file of
/// another snapshot: each file is sound, stored under its own hash, but
/// the records are not the ones announced. The draw, made while the pools
/// are hashed, is refused and nothing of it is kept.
async fn a_snapshot_pointed_at_other_files_fails_the_draw(db: TestDb) {
    let app = spawn(&db, 31).await;
    let pools = app.pools();
    app.add_plan("first", &common::plan_toml(&pools, 2, ""));
    let second = common::plan_toml(&pools, 2, "").replace("id = \"", "id = \"again-");
    app.add_plan("second", &second);
    let (task, _) = announce(&app, "first").await;
    rename_one_target(app.pools_dir());
    let (other, _) = announce(&app, "second").await;
    let desk = &app.state.desk;
    let snapshot = |task: String| async move { desk.announcement(&task).await.unwrap().unwrap().0.snapshot_combined };
    let (mine, theirs) = (snapshot(task.clone()).await, snapshot(other).await);
    let files_of = |snapshot: Hash32| async move {
        let mut conn = desk.ledger.raw_pool().acquire().await.unwrap();
        store::snapshot_files(&mut conn, &snapshot).await.unwrap().unwrap()
    };
    let (own, replacement) = (
        files_of(mine).await["targets.csv"],
        files_of(theirs).await["targets.csv"],
    );
    assert_ne!(own, replacement);
    let point_at = |file: Hash32| async move {
        sqlx::query("UPDATE store_snapshot_files SET file_hash = $1 WHERE snapshot_hash = $2 AND name = 'targets.csv'")
            .bind(file.to_hex())
            .bind(mine.to_hex())
            .execute(desk.ledger.raw_pool())
            .await
            .unwrap();
    };
    point_at(replacement).await;
    remove(&snapshots(&app));

    let (status, failed) = draw(&app, &task).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{failed}");
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.contains("not the snapshot") && message.contains(&mine.to_hex()),
        "{message}"
    );
    assert!(desk.draw_record(&task).await.unwrap().is_none(), "nothing is drawn");
    let published: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bundle_files")
        .fetch_one(desk.ledger.raw_pool())
        .await
        .unwrap();
    assert_eq!(published, 0, "nothing is published");

    // Put back, the task draws on the pools it was announced on.
    point_at(own).await;
    let (status, drawn) = draw(&app, &task).await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    let bundle = app.bundle(drawn["bundle"].as_str().unwrap());
    let manifest = shuangsui::bundle::read(&bundle).unwrap().manifest;
    assert_eq!(manifest.snapshot_combined, mine);
}

/// The pools' bytes are written out as they are read, and that copy is the
/// snapshot's cache once the announcement names it: the live pools may
/// change after, and the store's chunks be damaged, and the first draw
/// still draws what was announced without writing the pools back out of
/// the store. An announcement refused leaves no copy.
async fn the_bytes_read_at_announcement_are_the_cached_copy(db: TestDb) {
    let app = spawn(&db, 31).await;
    let pools = app.pools();
    app.add_plan("p", &common::plan_toml(&pools, 2, ""));
    app.add_plan(
        "nowhere",
        &common::plan_toml(&pools, 2, "[targets]\ntownships = [\"无此街道\"]\n").replace("TEST-1", "TEST-2"),
    );
    let announced_bytes: Vec<(&str, Vec<u8>)> = shuangsui::pools::FILES
        .iter()
        .map(|(_, name)| (*name, std::fs::read(app.pools_dir().join(name)).unwrap()))
        .collect();
    let refused_without_a_copy = |plan: &'static str, why: &'static str| {
        let app = &app;
        async move {
            let (status, refused) = app
                .operator(
                    "/api/v1/announcements",
                    json!({"plan": plan, "seed_method": {"kind": "commit"}}),
                )
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
            assert_eq!(files_in(&snapshots(app)), Vec::<String>::new(), "{why} keeps no copy");
        }
    };
    refused_without_a_copy("nowhere", "a plan refused").await;
    let targets = app.pools_dir().join("targets.csv");
    std::fs::write(
        &targets,
        "credit_code,name,entity_type,industry,township,risk_class\nX,甲,个体工商户,餐饮业,红果街道,E\n",
    )
    .unwrap();
    refused_without_a_copy("p", "pools refused while read").await;
    std::fs::write(&targets, &announced_bytes[3].1).unwrap();

    let (task, _) = announce(&app, "p").await;
    let desk = &app.state.desk;
    let (announced, _) = desk.announcement(&task).await.unwrap().unwrap();
    let combined = announced.snapshot_combined;
    assert_eq!(
        files_in(&snapshots(&app)),
        vec![combined.to_hex()],
        "one copy, no scratch folder"
    );
    rename_one_target(app.pools_dir());
    let chunk = chunks_of(&desk.ledger, &combined, "targets.csv").await[0];
    let mut damaged = chunk_data(&desk.ledger, &chunk).await;
    damaged[0] ^= 0x01;
    set_chunk_data(&desk.ledger, &chunk, &damaged).await;

    let (status, drawn) = draw(&app, &task).await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    let cached = snapshots(&app).join(combined.to_hex());
    for (name, bytes) in &announced_bytes {
        assert_eq!(&std::fs::read(cached.join(name)).unwrap(), bytes, "{name} as announced");
    }
    let bundle = app.bundle(drawn["bundle"].as_str().unwrap());
    assert_eq!(
        shuangsui::bundle::read(&bundle).unwrap().manifest.snapshot_combined,
        combined
    );
    verified(&bundle, &cached);
}

/// The answer to a request that met a damaged chunk: `store_corrupt`, a
/// message naming the chunk, and no path of the server.
fn assert_store_corrupt(app: &TestApp, status: StatusCode, body: &Value, chunk: &Hash32) {
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["error"], "store_corrupt", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(&chunk.to_hex()), "names the chunk: {message}");
    let root = app.root.path().display().to_string();
    assert!(
        !message.contains(&root) && !message.contains("/"),
        "no server paths: {message}"
    );
}

async fn content_stored_without_its_entry_is_no_announcement(db: TestDb) {
    let mut app = spawn(&db, 31).await;
    app.add_plan("p", &common::plan_toml(&app.pools(), 2, ""));
    // What announcing does before its entry, then nothing: as if the
    // process died there.
    let frozen = app.state.desk.freeze_pools().await.unwrap();
    assert!(frozen.stats.chunks_new > 0);
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM store_snapshots")
        .fetch_one(app.state.desk.ledger.raw_pool())
        .await
        .unwrap();
    assert_eq!(rows, 0, "no snapshot is registered without its entry");
    app.restart().await;
    let (_, listed) = app.get("/api/v1/announcements").await;
    assert_eq!(listed, json!([]));
    assert_eq!(app.state.desk.ledger.head().await.unwrap().seq, 0);

    // Died after the snapshot's own entry, before the announcement's.
    let desk = &app.state.desk;
    let combined = frozen.pools.snapshot.combined();
    desk.ledger
        .append_typed_with(
            &Key::Snapshot(&combined),
            &frozen.pools.snapshot,
            "2026-03-02T09:00:00+08:00",
            &[frozen.attached()],
        )
        .await
        .unwrap();
    app.restart().await;
    let (_, listed) = app.get("/api/v1/announcements").await;
    assert_eq!(listed, json!([]));

    let (task, commitment) = announce(&app, "p").await;
    remove(&snapshots(&app));
    let (status, drawn) = draw(&app, &task).await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    let bundle = app.bundle(drawn["bundle"].as_str().unwrap());
    verified(&bundle, app.pools_dir());
    assert_eq!(revealed_commitment(&bundle), json!(commitment));
}

/// Copies every entry of `from` into the empty `to` without what they
/// attach: a ledger as the desk wrote it before the store kept snapshots
/// and secrets.
async fn copy_entries(from: &Ledger, to: &Ledger) {
    for entry in from.entries(0, 1000).await.unwrap() {
        to.append(entry.kind, &entry.key, &entry.payload, &entry.recorded_at)
            .await
            .unwrap();
    }
    assert_eq!(from.head().await.unwrap(), to.head().await.unwrap());
}

async fn a_data_folder_from_before_is_imported_on_start(db: TestDb) {
    let app = spawn(&db, 31).await;
    app.add_plan("p", &common::plan_toml(&app.pools(), 2, ""));
    app.add_plan(
        "q",
        &common::plan_toml(&app.pools(), 3, "").replace("id = \"", "id = \"other-"),
    );
    let (task, commitment) = announce(&app, "p").await;
    let (other_task, other_commitment) = announce(&app, "q").await;
    let desk = &app.state.desk;
    let (announced, entry) = desk.announcement(&task).await.unwrap().unwrap();
    let secret = {
        let name = format!("commit-{commitment}.hex");
        let file = shuangsui::records::private_file(desk.ledger.raw_pool(), &name)
            .await
            .unwrap()
            .unwrap();
        let mut conn = desk.ledger.raw_pool().acquire().await.unwrap();
        store::read_file(&mut conn, &file).await.unwrap()
    };

    // The old layout: the same entries with nothing attached, the snapshot
    // as a folder, the first task's secret as a file, the second's a file
    // that is not its secret.
    let old_db = db.another().await;
    let old_ledger = Ledger::open(&old_db.url).await.unwrap();
    copy_entries(&desk.ledger, &old_ledger).await;
    let folder = tempfile::tempdir().unwrap();
    let state = folder.path().join("state");
    let snapshot = state.join("snapshots").join(announced.snapshot_combined.to_hex());
    common::copy_pool(app.pools_dir(), &snapshot);
    std::fs::create_dir_all(state.join("secrets")).unwrap();
    std::fs::write(state.join("secrets").join(format!("commit-{commitment}.hex")), &secret).unwrap();
    std::fs::write(
        state.join("secrets").join(format!("commit-{other_commitment}.hex")),
        shuangsui::entropy::random_seed().to_hex(),
    )
    .unwrap();

    let mut config: Config = app.config.clone();
    config.data_dir = state.clone();
    config.database_url = old_db.url.clone();
    config.migration_database_url = None;
    let started = shuangsui::service::state(&config, app.clock.clone()).await.unwrap();
    let imported = started.desk.ledger.raw_pool();
    let mut conn = imported.acquire().await.unwrap();
    assert!(store::snapshot_files(&mut conn, &announced.snapshot_combined)
        .await
        .unwrap()
        .is_some());
    drop(conn);
    let rows = sqlx::query("SELECT name, entry_seq FROM private_files ORDER BY name")
        .fetch_all(imported)
        .await
        .unwrap();
    let rows: Vec<(String, i64)> = rows
        .iter()
        .map(|r| (r.try_get(0).unwrap(), r.try_get(1).unwrap()))
        .collect();
    assert_eq!(
        rows,
        vec![(format!("commit-{commitment}.hex"), entry.seq as i64)],
        "only the secret that matches its commitment is imported, on its announcement"
    );

    // Imported, the folder's files are no longer needed.
    remove(&state.join("snapshots"));
    remove(&state.join("secrets"));
    let (record, _) = started
        .desk
        .draw(&task, SeedMaterial::Reveal { beacon_signature: None })
        .await
        .unwrap_or_else(|e| panic!("the imported task cannot be drawn: {e}"));
    let bundle = state.join("publications").join(&record.bundle);
    verified(&bundle, app.pools_dir());
    assert_eq!(revealed_commitment(&bundle), json!(commitment));
    // The task whose secret file was wrong cannot be revealed, and says so.
    let refused = started
        .desk
        .draw(&other_task, SeedMaterial::Reveal { beacon_signature: None })
        .await
        .unwrap_err();
    assert!(refused.to_string().contains(&other_commitment), "{refused}");
}

/// Chunk data and chunk lists held by the store, in bytes.
async fn store_bytes(ledger: &Ledger) -> i64 {
    let chunks: Option<i64> = sqlx::query_scalar("SELECT CAST(SUM(LENGTH(data)) AS BIGINT) FROM store_chunks")
        .fetch_one(ledger.raw_pool())
        .await
        .unwrap();
    let lists: Option<i64> = sqlx::query_scalar("SELECT CAST(SUM(LENGTH(chunks)) AS BIGINT) FROM store_files")
        .fetch_one(ledger.raw_pool())
        .await
        .unwrap();
    chunks.unwrap_or(0) + lists.unwrap_or(0)
}

/// A service whose live pools are the county pool in `data/`, with two
/// plans, `first` and `second`, to announce one after the other.
async fn on_the_county_pool(db: &TestDb) -> TestApp {
    let app = spawn(db, 31).await;
    for (_, name) in shuangsui::pools::FILES {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(name),
            app.pools_dir().join(name),
        )
        .unwrap();
    }
    let pools = app.pools();
    app.add_plan("first", &common::plan_toml(&pools, 2, ""));
    let second = common::plan_toml(&pools, 2, "").replace("id = \"", "id = \"again-");
    app.add_plan("second", &second);
    app
}

/// On the county pool in `data/` (9.3 MB of targets): announcing again
/// after one business is renamed stores a few chunks, not a second copy.
async fn a_one_line_change_adds_only_a_few_chunks(db: TestDb) {
    let app = on_the_county_pool(&db).await;
    let live = app.pools_dir().to_owned();
    let ledger = &app.state.desk.ledger;

    let (first, _) = announce(&app, "first").await;
    let before = store_bytes(ledger).await;
    rename_one_target(&live);
    let size = std::fs::metadata(live.join("targets.csv")).unwrap().len() as f64;

    let (again, _) = announce(&app, "second").await;
    let added = store_bytes(ledger).await - before;
    let desk = &app.state.desk;
    let (one, _) = desk.announcement(&first).await.unwrap().unwrap();
    let (two, _) = desk.announcement(&again).await.unwrap().unwrap();
    assert_ne!(
        one.snapshot_combined, two.snapshot_combined,
        "the change is a new snapshot"
    );
    let (a, b) = (
        chunks_of(ledger, &one.snapshot_combined, "targets.csv").await,
        chunks_of(ledger, &two.snapshot_combined, "targets.csv").await,
    );
    let differing = b.iter().filter(|c| !a.contains(c)).count();
    eprintln!(
        "one-line change to targets.csv ({size} bytes, {} chunks): {differing} new chunks, \
         {added} store bytes added ({:.3}% of the file)",
        b.len(),
        100.0 * added as f64 / size
    );
    assert!(differing <= 2, "{differing} of {} chunks changed", b.len());
    assert!(
        (added as f64) <= 0.02 * size,
        "{added} bytes added for a one-line change to {size} bytes"
    );
}

async fn codec_of(ledger: &Ledger, chunk: &Hash32) -> Option<i64> {
    sqlx::query_scalar("SELECT codec FROM store_chunks WHERE hash = $1")
        .bind(chunk.to_hex())
        .fetch_optional(ledger.raw_pool())
        .await
        .unwrap()
}

/// The county pool announced twice, one business renamed between: the
/// chunks the second reading shares with the first are not compressed
/// again, since this process stored them. One of them deleted from the
/// database meanwhile is stored again (raw), and the second snapshot reads
/// back whole: a chunk is only believed stored.
async fn chunks_stored_before_are_not_compressed_again_and_a_missing_one_is_stored(db: TestDb) {
    let app = on_the_county_pool(&db).await;
    let live = app.pools_dir().to_owned();
    let desk = &app.state.desk;
    let (first, _) = announce(&app, "first").await;
    let (one, _) = desk.announcement(&first).await.unwrap().unwrap();
    let before = chunks_of(&desk.ledger, &one.snapshot_combined, "targets.csv").await;
    let (deleted, shared) = (before[0], before[before.len() - 1]);
    assert_eq!(
        codec_of(&desk.ledger, &shared).await,
        Some(1),
        "stored compressed at first"
    );
    delete_chunk(&desk.ledger, &deleted).await;
    rename_one_target(&live);

    let (again, _) = announce(&app, "second").await;
    let (two, _) = desk.announcement(&again).await.unwrap().unwrap();
    let after = chunks_of(&desk.ledger, &two.snapshot_combined, "targets.csv").await;
    assert!(after.contains(&deleted) && after.contains(&shared));
    assert_eq!(codec_of(&desk.ledger, &deleted).await, Some(0), "stored again, raw");
    assert_eq!(codec_of(&desk.ledger, &shared).await, Some(1), "kept as it was");
    drawn_from_the_store(&app, &again, &live).await;
}

/// The same after a restart: the new process has stored nothing yet, so it
/// takes the chunks of the last snapshot registered as stored. A chunk of it
/// deleted from the database meanwhile is therefore stored raw, not
/// compressed; without that, the first announcement after every start would
/// compress the whole target directory again.
async fn after_a_restart_the_last_snapshots_chunks_are_not_compressed_again(db: TestDb) {
    let mut app = on_the_county_pool(&db).await;
    let live = app.pools_dir().to_owned();
    let (first, _) = announce(&app, "first").await;
    let (one, _) = app.state.desk.announcement(&first).await.unwrap().unwrap();
    let before = chunks_of(&app.state.desk.ledger, &one.snapshot_combined, "targets.csv").await;
    let deleted = before[0];
    assert_eq!(
        codec_of(&app.state.desk.ledger, &deleted).await,
        Some(1),
        "stored compressed at first"
    );
    delete_chunk(&app.state.desk.ledger, &deleted).await;
    app.restart().await;
    rename_one_target(&live);

    let (again, _) = announce(&app, "second").await;
    let desk = &app.state.desk;
    let (two, _) = desk.announcement(&again).await.unwrap().unwrap();
    let after = chunks_of(&desk.ledger, &two.snapshot_combined, "targets.csv").await;
    assert!(after.contains(&deleted), "the renamed business lies in another chunk");
    assert_eq!(codec_of(&desk.ledger, &deleted).await, Some(0), "known, so stored raw");
    drawn_from_the_store(&app, &again, &live).await;
}

/// A chunk taken out of the database behind the service's back.
async fn delete_chunk(ledger: &Ledger, chunk: &shuangsui::snapshot::Hash32) {
    sqlx::query("DELETE FROM store_chunks WHERE hash = $1")
        .bind(chunk.to_hex())
        .execute(ledger.raw_pool())
        .await
        .unwrap();
}

/// Draws `task` with no cached snapshot on disk, so from the store alone,
/// and checks the bundle against the pools at `live`.
async fn drawn_from_the_store(app: &TestApp, task: &str, live: &Path) {
    remove(&snapshots(app));
    let (status, drawn) = draw(app, task).await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    verified(&app.bundle(drawn["bundle"].as_str().unwrap()), live);
}

async fn a_workbook_is_stored_as_read_and_drawn_from_the_database(db: TestDb) {
    let mut app = spawn(&db, 31).await;
    app.add_plan("p", &common::plan_toml(&app.pools(), 2, ""));
    let workbook = app.root.path().join("pools.xlsx");
    shuangsui::pools::write_workbook(app.pools_dir(), &workbook, shuangsui::pools::Encoding::Utf8).unwrap();
    app.config.pools_dir = workbook.clone();
    app.restart().await;
    let (task, _) = announce(&app, "p").await;
    let desk = &app.state.desk;
    let (announced, _) = desk.announcement(&task).await.unwrap().unwrap();
    let mut conn = desk.ledger.raw_pool().acquire().await.unwrap();
    let files = store::snapshot_files(&mut conn, &announced.snapshot_combined)
        .await
        .unwrap()
        .unwrap();
    drop(conn);
    let bytes = std::fs::read(&workbook).unwrap();
    assert_eq!(
        files.into_iter().collect::<Vec<_>>(),
        vec![("pools.xlsx".to_owned(), shuangsui::snapshot::bytes_hash(&bytes))],
        "the workbook is one file, its bytes as read"
    );
    remove(&snapshots(&app));
    let (status, drawn) = draw(&app, &task).await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    verified(&app.bundle(drawn["bundle"].as_str().unwrap()), &workbook);
    let cached = snapshots(&app).join(announced.snapshot_combined.to_hex());
    assert_eq!(files_in(&cached), vec!["pools.xlsx".to_owned()]);
}
