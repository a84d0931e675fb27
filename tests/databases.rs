//! The ledger on both databases it supports, SQLite and a real PostgreSQL
//! (tests/common/postgres.rs): the schema by migrations, also over a ledger
//! made before them and on simultaneous first starts; append-only enforced
//! by the database itself; the service's role that may only INSERT and
//! SELECT; a data folder that refuses any database but its own; and the
//! service's announce → draw → substitute → results → verify on each.

#[path = "common/app.rs"]
mod app;
mod common;
#[path = "common/postgres.rs"]
mod postgres;

use std::process::Command;

use app::{TestApp, TOKEN};
use axum::http::StatusCode;
use postgres::{on_both_databases, Backend, TestDb};
use serde_json::json;
use shuangsui::ledger::{Entry, Head, Kind, Ledger, LedgerError};
use shuangsui::snapshot::Hash32;
use sqlx::{Connection, Executor};

on_both_databases!(
    the_database_refuses_to_change_history,
    concurrent_appenders_all_land_in_one_chain,
    a_ledger_made_before_migrations_opens_and_keeps_verifying,
    simultaneous_first_starts_all_succeed_with_one_schema,
    the_service_announces_draws_substitutes_records_and_verifies,
    a_data_folder_refuses_a_database_that_is_not_its_own,
);

async fn appended(ledger: &Ledger, n: usize) -> Head {
    for k in 0..n {
        ledger
            .append(
                Kind::PlanAnnounced,
                &format!("announce:T{k}"),
                "{}",
                "2026-01-05T09:00:00+08:00",
            )
            .await
            .unwrap();
    }
    ledger.head().await.unwrap()
}

/// A statement the database must refuse; returns its error text.
async fn refused(ledger: &Ledger, sql: &str) -> String {
    match sqlx::query(sql).execute(ledger.raw_pool()).await {
        Err(e) => e.to_string(),
        Ok(done) => panic!("the database accepted {sql:?} ({} rows)", done.rows_affected()),
    }
}

async fn the_database_refuses_to_change_history(db: TestDb) {
    let ledger = Ledger::open(&db.url).await.unwrap();
    let head = appended(&ledger, 3).await;
    let last = ledger.entries(2, 1).await.unwrap().remove(0);
    let mut attempts = vec![
        "UPDATE ledger SET payload = '{\"forged\":true}' WHERE seq = 2".to_owned(),
        "DELETE FROM ledger WHERE seq = 3".to_owned(),
        "DELETE FROM ledger".to_owned(),
        // A gap, and a link to anything but the head.
        format!(
            "INSERT INTO ledger VALUES (9, 'plan_announced', 'announce:gap', '{{}}', 't', '{}', '{}')",
            head.hash, head.hash
        ),
        format!(
            "INSERT INTO ledger VALUES (4, 'plan_announced', 'announce:fork', '{{}}', 't', '{}', '{}')",
            last.prev_hash, head.hash
        ),
        // The upsert: an insert that turns into an update of a taken key.
        format!(
            "INSERT INTO ledger VALUES (4, 'plan_announced', 'announce:T0', '{{}}', 't', '{}', '{}') \
             ON CONFLICT (entry_key) DO UPDATE SET payload = 'forged'",
            head.hash, head.hash
        ),
    ];
    if db.backend == Backend::Sqlite {
        // REPLACE deletes the colliding row without firing DELETE triggers:
        // over an entry's seq, and, as the next entry, over a taken key.
        attempts.push(format!(
            "REPLACE INTO ledger VALUES (2, 'plan_announced', 'announce:T1', '{{\"forged\":true}}', 't', '{}', '{}')",
            last.prev_hash, last.hash
        ));
        attempts.push(format!(
            "INSERT OR REPLACE INTO ledger VALUES (4, 'plan_announced', 'announce:T0', '{{}}', 't', '{}', '{}')",
            head.hash, head.hash
        ));
    } else {
        // CASCADE, since the store of record's tables refer to the ledger
        // (a plain TRUNCATE is refused for that reason before any trigger).
        attempts.push("TRUNCATE ledger CASCADE".into());
        attempts.push("TRUNCATE ledger_database".into());
        attempts.push("UPDATE ledger_database SET id = 'another'".into());
    }
    for sql in &attempts {
        let message = refused(&ledger, sql).await;
        assert!(
            message.contains("append-only") || message.contains("ledger conflict"),
            "{sql}: refused by the ledger's own rule, not by chance: {message}"
        );
    }
    assert_eq!(ledger.verify_chain().await.unwrap(), head, "nothing changed");
    assert_eq!(ledger.entries(0, 100).await.unwrap().len(), 3);
    // And the next entry, made the one way, still goes in.
    assert_eq!(appended(&ledger, 4).await.seq, 4);
    ledger.verify_chain().await.unwrap();
}

async fn concurrent_appenders_all_land_in_one_chain(db: TestDb) {
    // Two instances on one database: each often finds the head moved under
    // it, which the triggers report and the appender retries.
    let one = Ledger::open(&db.url).await.unwrap();
    let two = Ledger::open(&db.url).await.unwrap();
    let mut tasks = Vec::new();
    for (n, ledger) in [one.clone(), two.clone()].into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for k in 0..15 {
                ledger
                    .append(Kind::PlanAnnounced, &format!("announce:{n}-{k}"), "{}", "t")
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(one.verify_chain().await.unwrap().seq, 30);
}

/// The schema as the ledger made it before migrations.
const OLD_SCHEMA: &str = "CREATE TABLE ledger (
    seq BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    entry_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)";
const OLD_SQLITE_GUARDS: [&str; 2] = [
    "CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
     BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END",
    "CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
     BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END",
];

async fn a_ledger_made_before_migrations_opens_and_keeps_verifying(db: TestDb) {
    sqlx::any::install_default_drivers();
    let mut old = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    old.execute(OLD_SCHEMA).await.unwrap();
    if db.backend == Backend::Sqlite {
        for guard in OLD_SQLITE_GUARDS {
            old.execute(guard).await.unwrap();
        }
    }
    let mut prev = Hash32([0; 32]);
    for seq in 1..=3u64 {
        let key = format!("announce:OLD-{seq}");
        let hash = Entry::compute_hash(seq, Kind::PlanAnnounced, &key, "{}", "t", &prev);
        sqlx::query("INSERT INTO ledger VALUES ($1, 'plan_announced', $2, '{}', 't', $3, $4)")
            .bind(seq as i64)
            .bind(&key)
            .bind(prev.to_hex())
            .bind(hash.to_hex())
            .execute(&mut old)
            .await
            .unwrap();
        prev = hash;
    }
    old.close().await.unwrap();

    let ledger = Ledger::open(&db.url).await.unwrap();
    assert_eq!(ledger.verify_chain().await.unwrap(), Head { seq: 3, hash: prev });
    assert!(
        ledger.database_id().await.unwrap().is_some(),
        "the migrations gave it an id"
    );
    appended(&ledger, 1).await;
    assert_eq!(ledger.verify_chain().await.unwrap().seq, 4);
    refused(&ledger, "DELETE FROM ledger").await;
    // Opened again, nothing is applied twice and the id stays.
    let id = ledger.database_id().await.unwrap();
    let again = Ledger::open(&db.url).await.unwrap();
    assert_eq!(again.database_id().await.unwrap(), id);
    assert_eq!(again.verify_chain().await.unwrap().seq, 4);
}

async fn simultaneous_first_starts_all_succeed_with_one_schema(db: TestDb) {
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { Ledger::open(&url).await })
        })
        .collect();
    let mut ids = Vec::new();
    for open in opens {
        let ledger = open
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("a first start failed: {e}"));
        ids.push(ledger.database_id().await.unwrap().unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one database id: {ids:?}");
    let ledger = Ledger::open(&db.url).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(ledger.raw_pool())
        .await
        .unwrap();
    let all = shuangsui::ledger::migrator(!db.is_postgres()).migrations.len();
    assert_eq!(applied as usize, all, "every migration applied once");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger_database")
        .fetch_one(ledger.raw_pool())
        .await
        .unwrap();
    assert_eq!(rows, 1);
    appended(&ledger, 2).await;
    ledger.verify_chain().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_role_can_only_insert_and_select() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let (owner, service) = db.two_roles().await;
    let ledger = Ledger::open_as(&service, &owner).await.unwrap();
    let head = appended(&ledger, 3).await;
    assert!(ledger.database_id().await.unwrap().is_some());
    // As the service's own role, even with the triggers out of the way it
    // could not: it may not change rows, nor touch the triggers or table.
    for sql in [
        "UPDATE ledger SET payload = 'x'",
        "DELETE FROM ledger",
        "TRUNCATE ledger",
        "DROP TRIGGER ledger_no_update_or_delete ON ledger",
        "DROP TRIGGER ledger_no_truncate ON ledger",
        "ALTER TABLE ledger DISABLE TRIGGER ALL",
        "DROP TABLE ledger",
        "DROP FUNCTION ledger_refuse_change() CASCADE",
        "UPDATE ledger_database SET id = 'x'",
        "INSERT INTO ledger_database (id, one_row) VALUES ('x', false)",
        "DELETE FROM _sqlx_migrations",
    ] {
        let message = refused(&ledger, sql).await;
        assert!(
            message.contains("permission denied") || message.contains("must be owner"),
            "{sql}: {message}"
        );
    }
    assert_eq!(ledger.verify_chain().await.unwrap(), head);
    // A restart as the service role keeps working (the grants are made
    // each start and are idempotent).
    let again = Ledger::open_as(&service, &owner).await.unwrap();
    assert_eq!(appended(&again, 4).await.seq, 4);
    // Without the owner it cannot even bring the schema up to date.
    let other = db.another().await;
    let (other_owner, other_service) = other.two_roles().await;
    let err = Ledger::open(&other_service)
        .await
        .err()
        .expect("the service role made a schema");
    assert!(err.to_string().contains("permission denied"), "{err}");
    // An owner of one database and a service role reaching another: refused.
    Ledger::open(&other_owner).await.unwrap();
    match Ledger::open_as(&service, &other_owner).await {
        Err(LedgerError::TwoDatabases { .. }) => {}
        Err(e) => panic!("expected the two databases to be told apart, got {e}"),
        Ok(_) => panic!("opened across two databases"),
    }
}

/// `shuangsui ledger verify` of the app's data folder on `database_url`
/// (`None`: the default, SQLite in the folder).
fn ledger_verify_on(app: &TestApp, database_url: Option<&str>) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shuangsui"));
    match database_url {
        Some(url) => command.env("SHUANGSUI_DATABASE_URL", url),
        None => command.env_remove("SHUANGSUI_DATABASE_URL"),
    };
    command
        .args(["ledger", "verify", "--data-dir", app.config.data_dir.to_str().unwrap()])
        .env_remove("SHUANGSUI_MIGRATION_DATABASE_URL")
        .env_remove("SHUANGSUI_DATA_DIR")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn ledger_verify(app: &TestApp, database_url: &str) -> std::process::Output {
    ledger_verify_on(app, Some(database_url))
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn the_service_announces_draws_substitutes_records_and_verifies(db: TestDb) {
    let app = TestApp::spawn_with(31, db.for_service().await).await;
    let pools = app.pools();
    app.add_plan("smoke", &common::plan_toml(&pools, 2, ""));
    let (status, announced) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": "smoke", "seed_method": {"kind": "commit"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{announced}");
    let task = announced["task_id"].as_str().unwrap().to_owned();
    let (status, drawn) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    let (_, rows) = app.get(&format!("/api/v1/draws/{task}/assignments?per_page=2")).await;
    let code = rows["rows"][0]["credit_code"].as_str().unwrap().to_owned();
    let leader = rows["rows"][0]["team"][0].as_str().unwrap().to_owned();
    let (status, made) = app
        .operator(
            &format!("/api/v1/draws/{task}/substitutions"),
            json!({"credit_code": code, "out": leader, "reason": "leave"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let result = json!({"task_id": task, "credit_code": code, "codes": ["1"], "inspection_date": app.state.desk.time.today().to_string(),
                        "methods": ["实地核查"], "follow_up": "", "closed": true});
    let (status, recorded) = app.operator("/api/v1/results", result).await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    let (status, notice) = app.operator("/api/v1/results/publish", json!({"task_id": task})).await;
    assert_eq!(status, StatusCode::CREATED, "{notice}");

    let (status, audit) = app.operator("/api/v1/ledger/verify", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    assert_eq!(audit["problems"], json!([]), "{audit}");
    assert_eq!(audit["draws_checked"], 1);
    let (_, head) = app.get("/api/v1/ledger/head").await;
    // A second instance on the same database sees the same ledger.
    let other = app.other_instance().await;
    assert_eq!(
        other.desk.ledger.head().await.unwrap().seq,
        head["seq"].as_u64().unwrap()
    );
    // And `shuangsui ledger verify` from the command line, as the service.
    let output = ledger_verify(&app, &app.config.database_url);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("ledger verified") && text(&output).contains("draws checked: 1"));
    let _ = TOKEN;
}

async fn a_data_folder_refuses_a_database_that_is_not_its_own(db: TestDb) {
    let app = TestApp::spawn_with(31, db.for_service().await).await;
    let marker = std::fs::read_to_string(app.config.data_dir.join("database.toml")).unwrap();
    let id = app.state.desk.ledger.database_id().await.unwrap().unwrap();
    assert!(marker.contains(&format!("id = \"{id}\"")), "{marker}");
    let start = |config: shuangsui::service::config::Config| async move {
        match shuangsui::service::state(&config, std::sync::Arc::new(shuangsui::clock::SystemClock)).await {
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    };
    let sqlite_default = format!("sqlite://{}?mode=rwc", app.config.data_dir.join("ledger.db").display());

    if db.is_postgres() {
        // Its URL forgotten: the default SQLite is refused, and not made.
        let mut forgot = app.config.clone();
        forgot.database_url = sqlite_default.clone();
        forgot.migration_database_url = None;
        let err = start(forgot).await.unwrap_err();
        assert!(
            err.contains("database.toml") && err.contains("SHUANGSUI_DATABASE_URL"),
            "{err}"
        );
        assert!(!app.config.data_dir.join("ledger.db").exists());
        let output = ledger_verify_on(&app, None);
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        assert!(text(&output).contains("SHUANGSUI_DATABASE_URL"), "{}", text(&output));
        assert!(!app.config.data_dir.join("ledger.db").exists(), "verify made a ledger");
        // The same database reached as another role (as another host may):
        // the id is the same, so it is the same database.
        let mut owner = app.config.clone();
        owner.database_url = owner.migration_database_url.take().unwrap();
        start(owner).await.unwrap();
    } else {
        // The ledger file gone: a fresh empty SQLite in its place is refused.
        let ledger_db = app.config.data_dir.join("ledger.db");
        let moved = app.root.path().join("moved-ledger.db");
        std::fs::rename(&ledger_db, &moved).unwrap();
        let err = start(app.config.clone()).await.unwrap_err();
        assert!(err.contains(&id) && err.contains("holds no ledger"), "{err}");
        assert!(!ledger_db.exists(), "no empty ledger was made in its place");
        std::fs::rename(&moved, &ledger_db).unwrap();
    }

    // Another database of the same kind, empty: refused before anything is
    // made in it, naming both.
    let other = db.another().await;
    let mut elsewhere = app.config.clone();
    elsewhere.database_url = other.url.clone();
    elsewhere.migration_database_url = None;
    if !db.is_postgres() {
        // A SQLite URL outside the folder stands for "another database".
        std::fs::create_dir_all(std::path::Path::new(sqlite_path(&other.url)).parent().unwrap()).unwrap();
    }
    let err = start(elsewhere.clone()).await.unwrap_err();
    assert!(err.contains(&id) && err.contains("holds no ledger"), "{err}");
    let untouched = Ledger::probe_id(&other.url).await.unwrap();
    assert_eq!(untouched, None, "nothing was made in the other database");
    // The same, once it holds a ledger of its own.
    let other_ledger = Ledger::open(&other.url).await.unwrap();
    let other_id = other_ledger.database_id().await.unwrap().unwrap();
    drop(other_ledger);
    let err = start(elsewhere.clone()).await.unwrap_err();
    assert!(err.contains(&id) && err.contains(&other_id), "{err}");
    let output = ledger_verify(&app, &other.url);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains(&id) && text(&output).contains(&other_id),
        "{}",
        text(&output)
    );
    // And its own database still opens, and verifies from the command line.
    start(app.config.clone()).await.unwrap();
    let output = ledger_verify(&app, &app.config.database_url);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}

fn sqlite_path(url: &str) -> &str {
    shuangsui::ledger::sqlite_path(url).unwrap()
}

#[tokio::test]
async fn a_marker_written_before_ids_gains_the_id_and_then_holds_to_it() {
    let app = TestApp::spawn(31).await;
    let marker = app.config.data_dir.join("database.toml");
    let id = app.state.desk.ledger.database_id().await.unwrap().unwrap();
    // The marker as the first starts before ids wrote it.
    std::fs::write(&marker, "kind = \"sqlite\"\n").unwrap();
    let start = |config| async move {
        shuangsui::service::state(&config, std::sync::Arc::new(shuangsui::clock::SystemClock))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    start(app.config.clone()).await.unwrap();
    let text = std::fs::read_to_string(&marker).unwrap();
    assert!(text.contains(&format!("id = \"{id}\"")), "{text}");
    // From now on an empty ledger in its place is refused.
    std::fs::remove_file(app.config.data_dir.join("ledger.db")).unwrap();
    let err = start(app.config.clone()).await.unwrap_err();
    assert!(err.contains(&id), "{err}");
}
