//! The shell and the service make a draw the same way (`src/pipeline.rs`):
//! from the same pool, plan, seed, history and merge sources,
//! `shuangsui draw` and the service's announce-then-draw write the same
//! bundle byte for byte. Only the service manifest's `ledger` block (where
//! the draw sits in the ledger) and `created_at` (when the bundle was made)
//! may differ; every other byte of every file is compared.
//!
//! Both also substitute only on a bundle whose redraw gives the result its
//! manifest records.

#[path = "common/app.rs"]
mod app;
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use app::{twin_plan, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};
use shuangsui::bundle::{self, Manifest};

async fn announce(app: &TestApp, plan: &str, method: Value) -> String {
    let (status, announced) = app
        .operator("/api/v1/announcements", json!({"plan": plan, "seed_method": method}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{announced}");
    announced["task_id"].as_str().unwrap().to_owned()
}

async fn draw(app: &TestApp, task: &str, seed: Value) -> Value {
    let (status, drawn) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": seed}))
        .await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    drawn
}

/// Announces a task for a public ceremony two seconds from now, waits for
/// it, and draws it with `digits`: a seed source the shell can name too.
async fn ceremony_draw(app: &TestApp, plan: &str, digits: &str) -> Value {
    let at = app.clock.now() + chrono::Duration::milliseconds(1500);
    let task = announce(
        app,
        plan,
        json!({"kind": "ceremony", "at": at.to_rfc3339(), "place": "盘州市市场监管局摇号室"}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
    draw(app, &task, json!({"kind": "ceremony", "digits": digits})).await
}

fn shuangsui(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shuangsui"))
        .args(args)
        .output()
        .unwrap()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `shuangsui draw` of a plan text, with bundles given as history and to
/// merge with; the bundle's path.
fn cli_draw(app: &TestApp, name: &str, plan: &str, digits: &str, history: &[&Path], merge: &[&Path]) -> PathBuf {
    let plan_file = app.root.path().join(format!("{name}.toml"));
    std::fs::write(&plan_file, plan).unwrap();
    let out = app.root.path().join("cli-bundles");
    let seed = format!("ceremony:{digits}");
    let mut args = vec![
        "draw",
        "--plan",
        s(&plan_file),
        "--seed",
        &seed,
        "--data",
        s(app.pools_dir()),
        "--out",
        s(&out),
    ];
    for dir in history {
        args.extend(["--history", s(dir)]);
    }
    for dir in merge {
        args.extend(["--merge", s(dir)]);
    }
    let output = shuangsui(&args);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// Every file under a bundle folder, by its path inside it.
fn files(dir: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.insert(path.strip_prefix(dir).unwrap().to_owned());
            }
        }
    }
    found
}

fn manifest_text(manifest: &Manifest) -> String {
    let mut text = serde_json::to_string_pretty(manifest).unwrap();
    text.push('\n');
    text
}

/// The service's bundle is the shell's, byte for byte, but for the service
/// manifests' `ledger` block and their `created_at`.
fn assert_same_bundle(cli: &Path, service: &Path, task_id: &str) {
    assert_eq!(cli.file_name(), service.file_name(), "one bundle name for both");
    let names = files(cli);
    assert_eq!(names, files(service), "the same files");
    assert!(names.contains(Path::new("public/assignments.csv")), "{names:?}");
    for name in &names {
        let (ours, theirs) = (
            std::fs::read(cli.join(name)).unwrap(),
            std::fs::read(service.join(name)).unwrap(),
        );
        if name.file_name().unwrap() != "manifest.json" {
            assert!(
                ours == theirs,
                "{} differs between the shell's and the service's bundle",
                name.display()
            );
            continue;
        }
        let shell: Manifest = serde_json::from_slice(&ours).unwrap();
        let mut served: Manifest = serde_json::from_slice(&theirs).unwrap();
        // The parsed manifest writes back to the very bytes read, so what is
        // compared below is the file, not a reading of it.
        assert_eq!(manifest_text(&served).as_bytes(), &theirs[..], "{}", name.display());
        assert_eq!(manifest_text(&shell).as_bytes(), &ours[..], "{}", name.display());
        assert!(shell.ledger.is_none());
        let ledger = served
            .ledger
            .take()
            .expect("a service draw says where it sits in the ledger");
        assert_eq!(ledger.task_id, task_id);
        served.created_at = shell.created_at.clone();
        assert!(
            manifest_text(&served) == manifest_text(&shell),
            "{}: the manifests differ beyond ledger and created_at:\n{}\n{}",
            name.display(),
            manifest_text(&served),
            manifest_text(&shell)
        );
    }
}

/// Per credit code: the team of a bundle's visits, read by column name.
fn teams(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(dir.join("assignments.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (code, team) = (column("统一社会信用代码"), column("检查人员"));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[code].to_owned(), r[team].split(';').map(str::to_owned).collect())
        })
        .collect()
}

#[tokio::test]
async fn the_shell_and_the_service_write_the_same_bundle_from_the_same_inputs() {
    let app = TestApp::spawn(31).await;
    let pools = app.pools();
    app.add_plan(
        "plan-a",
        &twin_plan(&pools, "PIPE-A", "流水线测试计划", "2026-03-02", 50, ""),
    );
    let plan_m = twin_plan(
        &pools,
        "PIPE-M",
        "流水线测试计划",
        "2026-03-02",
        50,
        "merge_with = [\"PIPE-A\"]",
    );
    app.add_plan("plan-m", &plan_m);
    let plan_b = twin_plan(&pools, "PIPE-B", "流水线测试计划", "2026-06-01", 100, "");
    app.add_plan("plan-b", &plan_b);

    // A, drawn by the service, with one substitution: the history of later
    // draws takes the team as it stands after it.
    let task_a = announce(&app, "plan-a", json!({"kind": "commit"})).await;
    let a = draw(&app, &task_a, json!({"kind": "reveal"})).await;
    let a_dir = app.bundle(a["bundle"].as_str().unwrap());
    let (code, team) = teams(&a_dir).into_iter().next().unwrap();
    let (status, made) = app
        .operator(
            &format!("/api/v1/draws/{task_a}/substitutions"),
            json!({"credit_code": code, "out": team[0], "reason": "leave"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");

    // M merges with A (same period); B has A and M as its history.
    let m = ceremony_draw(&app, "plan-m", "31415926535897932384").await;
    let m_dir = app.bundle(m["bundle"].as_str().unwrap());
    let b = ceremony_draw(&app, "plan-b", "27182818284590452353").await;
    let b_dir = app.bundle(b["bundle"].as_str().unwrap());
    assert!(m_dir.join("merge.csv").is_file(), "M merges");
    assert_eq!(
        bundle::read(&b_dir).unwrap().manifest.history_sources.len(),
        2,
        "B's history takes in A and M"
    );
    let history = bundle::read(&b_dir).unwrap().history;
    assert!(
        history
            .inspections
            .iter()
            .any(|i| i.code.as_str() == code && i.officers.iter().any(|o| o.as_str() == made["entry"]["in"])),
        "the substitute inspected {code} in B's history"
    );

    let cli_m = cli_draw(&app, "m", &plan_m, "31415926535897932384", &[], &[&a_dir]);
    assert_same_bundle(&cli_m, &m_dir, "PIPE-M");
    let cli_b = cli_draw(&app, "b", &plan_b, "27182818284590452353", &[&a_dir, &m_dir], &[]);
    assert_same_bundle(&cli_b, &b_dir, "PIPE-B");
}

/// Empties the `history.csv` the database records for `bundle`, as someone
/// editing the SQLite file by hand would: its trigger dropped, its row
/// pointed at other stored bytes.
async fn forget_recorded_history(app: &TestApp, bundle: &str) {
    let recorded = std::fs::read_to_string(app.bundle(bundle).join("history.csv")).unwrap();
    let header = recorded.lines().next().unwrap();
    assert!(recorded.lines().count() > 1, "the bundle has a history to forget");
    let mut conn = app.state.desk.ledger.raw_pool().acquire().await.unwrap();
    let (forged, _) = shuangsui::store::put_bytes(&mut conn, format!("{header}\n").as_bytes())
        .await
        .unwrap();
    sqlx::query("DROP TRIGGER bundle_files_no_update")
        .execute(&mut *conn)
        .await
        .unwrap();
    let done = sqlx::query("UPDATE bundle_files SET file_hash = $1 WHERE bundle = $2 AND path = 'history.csv'")
        .bind(forged.hash.to_hex())
        .bind(bundle)
        .execute(&mut *conn)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

/// Empties a bundle's `history.csv`: the redraw then takes targets the
/// history excluded, and no longer gives the recorded result.
fn forget_history(dir: &Path) {
    let path = dir.join("history.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let header = text.lines().next().unwrap();
    assert!(text.lines().count() > 1, "the bundle has a history to forget");
    std::fs::write(&path, format!("{header}\n")).unwrap();
}

#[tokio::test]
async fn a_bundle_that_no_longer_redraws_its_result_takes_no_substitution_at_either() {
    let app = TestApp::spawn(31).await;
    let pools = app.pools();
    app.add_plan(
        "plan-a",
        &twin_plan(&pools, "PIPE-A", "流水线测试计划", "2026-03-02", 50, ""),
    );
    app.add_plan(
        "plan-b",
        &twin_plan(&pools, "PIPE-B", "流水线测试计划", "2026-06-01", 100, ""),
    );
    let task_a = announce(&app, "plan-a", json!({"kind": "commit"})).await;
    draw(&app, &task_a, json!({"kind": "reveal"})).await;
    let task_b = announce(&app, "plan-b", json!({"kind": "commit"})).await;
    let b = draw(&app, &task_b, json!({"kind": "reveal"})).await;
    let b_dir = app.bundle(b["bundle"].as_str().unwrap());
    let (code, team) = teams(&b_dir).into_iter().next().unwrap();
    let cli_copy = app.root.path().join("copy-of-b");
    std::fs::create_dir_all(&cli_copy).unwrap();
    for name in files(&b_dir) {
        let to = cli_copy.join(&name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(b_dir.join(&name), to).unwrap();
    }

    // The service: its bundle folders are a cache it repairs from the
    // database, so the history is forgotten where the draw is recorded.
    forget_recorded_history(&app, b["bundle"].as_str().unwrap()).await;
    let (status, reply) = app
        .operator(
            &format!("/api/v1/draws/{task_b}/substitutions"),
            json!({"credit_code": code, "out": team[0], "reason": "leave"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    assert_eq!(reply["error"], "invalid_request", "{reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("does not verify"),
        "{reply}"
    );
    assert!(!b_dir.join("substitutions.json").exists(), "nothing was substituted");
    let (_, ledger) = app.get("/api/v1/ledger").await;
    assert!(
        !ledger.to_string().contains("officer_substituted"),
        "no substitution in the ledger: {ledger}"
    );

    // The shell, on a copy of the same bundle.
    forget_history(&cli_copy);
    let output = shuangsui(&[
        "substitute",
        s(&cli_copy),
        "--target",
        &code,
        "--officer",
        &team[0],
        "--reason",
        "leave",
        "--data",
        s(app.pools_dir()),
    ]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("does not verify"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!cli_copy.join("substitutions.json").exists(), "nothing was substituted");
}
