//! Signed checkpoints catch what the hash chain cannot: an operator (or
//! anyone with the database) who deletes the last entries, rewrites one and
//! re-chains everything after it, or truncates and appends other entries.
//! The chain alone passes each of those; a checkpoint saved before fails
//! each, from the command line (`ledger verify --checkpoint`) and at the
//! service (`POST /api/v1/ledger/verify` with the checkpoint, and the
//! consistency proofs any outsider can ask for).

#[path = "common/app.rs"]
mod app;
mod common;

use std::path::Path;
use std::process::Command;

use app::TestApp;
use axum::http::StatusCode;
use serde_json::{json, Value};
use shuangsui::ledger::Entry;
use shuangsui::snapshot::Hash32;
use shuangsui::tlog::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use shuangsui::tlog::{Checkpoint, Signer, Verifier};

/// A service with one drawn task and two more announced: six entries.
async fn service() -> TestApp {
    let app = TestApp::spawn(31).await;
    let pools = app.pools();
    for k in 1..=5 {
        let text = common::plan_toml(&pools, 2, "").replace("id = \"TEST-1\"", &format!("id = \"TEST-{k}\""));
        app.add_plan(&format!("plan-{k}"), &text);
    }
    announce(&app, 1).await;
    let (status, body) = app
        .operator(
            "/api/v1/draws",
            json!({"task_id": task(&app, 1).await, "seed": {"kind": "reveal"}}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    announce(&app, 2).await;
    announce(&app, 3).await;
    app
}

async fn announce(app: &TestApp, k: u32) {
    let (status, body) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": format!("plan-{k}"), "seed_method": {"kind": "commit"}}),
        )
        .await;
    assert!(status.is_success(), "{body}");
}

async fn task(app: &TestApp, k: u32) -> String {
    let (_, list) = app.get("/api/v1/announcements").await;
    let list = list
        .as_array()
        .cloned()
        .unwrap_or_else(|| list["announcements"].as_array().unwrap().clone());
    list.iter()
        .map(|a| a["task_id"].as_str().unwrap().to_owned())
        .find(|t| t.starts_with(&format!("TEST-{k}")))
        .unwrap()
}

async fn get_text(app: &TestApp, uri: &str) -> (StatusCode, String) {
    let (status, body) = app.get(uri).await;
    match body {
        Value::String(text) => (status, text),
        other => (status, other.to_string()),
    }
}

async fn size(app: &TestApp) -> u64 {
    app.state.desk.ledger.head().await.unwrap().seq
}

fn verify_with(app: &TestApp, checkpoint: &Path, key: Option<&str>) -> (Option<i32>, String) {
    let path = checkpoint.to_str().unwrap();
    match key {
        Some(key) => app.ledger_cli(&["verify", "--checkpoint", path, "--key", key]),
        None => app.ledger_cli(&["verify", "--checkpoint", path]),
    }
}

/// Saves the service's current checkpoint to a file, as an auditor would.
async fn save_checkpoint(app: &TestApp, name: &str) -> (std::path::PathBuf, String) {
    let (status, note) = get_text(app, "/api/v1/ledger/checkpoint").await;
    assert_eq!(status, StatusCode::OK);
    let path = app.root.path().join(name);
    std::fs::write(&path, &note).unwrap();
    (path, note)
}

/// The operator's audit through the service, with a saved checkpoint.
async fn service_verify(app: &TestApp, note: &str) -> Value {
    let (status, audit) = app
        .operator("/api/v1/ledger/verify", json!({ "checkpoint": note }))
        .await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    audit
}

async fn raw(app: &TestApp, sql: &str) {
    sqlx::query(sql)
        .execute(app.state.desk.ledger.raw_pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// What an attacker with the database does to delete the entries after
/// `seq`: drop the guards, then the rows those entries attach (a secret, a
/// bundle's files), which name them, then the entries.
async fn delete_after(app: &TestApp, seq: u64) {
    for table in ["private_files", "bundle_files", "ledger"] {
        raw(app, &format!("DROP TRIGGER {table}_no_delete")).await;
        raw(
            app,
            &format!(
                "DELETE FROM {table} WHERE {} > {seq}",
                if table == "ledger" { "seq" } else { "entry_seq" }
            ),
        )
        .await;
    }
}

/// What an attacker with the database does after editing entries from
/// `from` on: recompute every hash after them so the chain holds again.
async fn rechain(app: &TestApp, from: u64) {
    let entries = app.state.desk.ledger.entries(0, 1000).await.unwrap();
    let mut prev = entries[from as usize - 2].hash;
    for entry in &entries[from as usize - 1..] {
        let hash = Entry::compute_hash(
            entry.seq,
            entry.kind,
            &entry.key,
            &entry.payload,
            &entry.recorded_at,
            &prev,
        );
        raw(
            app,
            &format!(
                "UPDATE ledger SET prev_hash = '{}', hash = '{}' WHERE seq = {}",
                prev.to_hex(),
                hash.to_hex(),
                entry.seq
            ),
        )
        .await;
        prev = hash;
    }
}

/// The outsider's check through the public API: the service's proof that
/// its ledger now extends the saved checkpoint.
async fn consistent_with(app: &TestApp, saved: &Checkpoint) -> bool {
    let (status, key) = get_text(app, "/api/v1/ledger/checkpoint/key").await;
    assert_eq!(status, StatusCode::OK);
    let verifier = Verifier::parse(key.trim()).unwrap();
    let (_, note) = get_text(app, "/api/v1/ledger/checkpoint").await;
    let now = Checkpoint::open(&note, &verifier).unwrap();
    if now.size < saved.size {
        return false;
    }
    let (status, proof) = app
        .get(&format!(
            "/api/v1/ledger/proof/consistency?from={}&to={}",
            saved.size, now.size
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{proof}");
    let hashes: Vec<Hash32> = proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash32::parse(h.as_str().unwrap()).unwrap())
        .collect();
    verify_consistency(saved.size, now.size, &hashes, &saved.root, &now.root).is_ok()
}

fn verifier_of(app: &TestApp) -> Verifier {
    let text = std::fs::read_to_string(app.config.data_dir.join("checkpoint.key")).unwrap();
    Signer::parse(text.trim()).unwrap().verifier().clone()
}

#[tokio::test]
async fn deleting_the_last_entries_passes_the_chain_and_fails_the_checkpoint() {
    let app = service().await;
    let (path, note) = save_checkpoint(&app, "saved.checkpoint").await;
    let saved = Checkpoint::open(&note, &verifier_of(&app)).unwrap();
    assert_eq!(saved.size, size(&app).await);
    let (code, text) = verify_with(&app, &path, None);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("checkpoint verified"), "{text}");

    // An attacker with the database drops the guards and deletes the last two.
    delete_after(&app, saved.size - 2).await;
    let (code, text) = app.ledger_cli(&["verify"]);
    assert_eq!(code, Some(0), "the chain alone does not notice: {text}");
    assert!(text.contains("ledger verified"), "{text}");
    let (code, text) = verify_with(&app, &path, None);
    assert_eq!(code, Some(1), "{text}");
    let want = format!(
        "the ledger was truncated: the checkpoint covers {} entries, the ledger now holds only {}",
        saved.size,
        saved.size - 2
    );
    assert!(text.contains(&want), "{text}");

    let audit = service_verify(&app, &note).await;
    assert_eq!(audit["checkpoint"]["extends"], false, "{audit}");
    assert!(audit["problems"][0].as_str().unwrap().contains(&want), "{audit}");
    assert!(!consistent_with(&app, &saved).await);
}

#[tokio::test]
async fn rewriting_an_entry_and_rechaining_passes_the_chain_and_fails_the_checkpoint() {
    let app = service().await;
    let (path, note) = save_checkpoint(&app, "saved.checkpoint").await;
    let saved = Checkpoint::open(&note, &verifier_of(&app)).unwrap();
    let victim = saved.size - 1;
    raw(&app, "DROP TRIGGER ledger_no_update").await;
    raw(
        &app,
        &format!("UPDATE ledger SET recorded_at = '2020-01-01T00:00:00+08:00' WHERE seq = {victim}"),
    )
    .await;
    let (code, text) = app.ledger_cli(&["verify"]);
    assert_eq!(code, Some(1), "an edit alone breaks the chain: {text}");
    rechain(&app, victim).await;
    let (code, text) = app.ledger_cli(&["verify"]);
    assert_eq!(code, Some(0), "re-chained, the chain holds: {text}");

    let (code, text) = verify_with(&app, &path, None);
    assert_eq!(code, Some(1), "{text}");
    let want = format!(
        "the ledger was rewritten: the root of its first {} entries is ",
        saved.size
    );
    assert!(text.contains(&want), "{text}");
    assert!(
        text.contains(&format!(
            "the checkpoint's is {}",
            shuangsui::tlog::checkpoint::base64(&saved.root)
        )),
        "{text}"
    );
    let audit = service_verify(&app, &note).await;
    assert!(audit["problems"][0].as_str().unwrap().contains(&want), "{audit}");
    assert!(
        !consistent_with(&app, &saved).await,
        "the service's tree follows the rewritten database"
    );
}

#[tokio::test]
async fn truncating_and_appending_other_entries_fails_the_checkpoint() {
    let app = service().await;
    let (path, note) = save_checkpoint(&app, "saved.checkpoint").await;
    let saved = Checkpoint::open(&note, &verifier_of(&app)).unwrap();
    delete_after(&app, saved.size - 2).await;
    // Other announcements where the deleted ones were, and one more.
    announce(&app, 4).await;
    announce(&app, 5).await;
    assert!(size(&app).await >= saved.size);
    let (code, text) = app.ledger_cli(&["verify"]);
    assert_eq!(code, Some(0), "the chain alone does not notice: {text}");
    let (code, text) = verify_with(&app, &path, None);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "the ledger was rewritten: the root of its first {} entries",
            saved.size
        )),
        "{text}"
    );
    let audit = service_verify(&app, &note).await;
    assert_eq!(audit["checkpoint"]["extends"], false, "{audit}");
    assert!(!consistent_with(&app, &saved).await);
}

#[tokio::test]
async fn an_honest_ledger_that_grew_extends_its_checkpoint_and_forged_or_foreign_ones_fail() {
    let app = service().await;
    let (path, note) = save_checkpoint(&app, "saved.checkpoint").await;
    let saved = Checkpoint::open(&note, &verifier_of(&app)).unwrap();
    // The command line signs the same checkpoint (Ed25519 is deterministic).
    let (code, printed) = app.ledger_cli(&["checkpoint"]);
    assert_eq!(code, Some(0), "{printed}");
    assert_eq!(printed, note);

    announce(&app, 4).await;
    let (code, text) = verify_with(&app, &path, None);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "the ledger extends {} at {} entries",
            saved.origin, saved.size
        )) && text.contains(&format!("now holds {}", size(&app).await)),
        "{text}"
    );
    let audit = service_verify(&app, &note).await;
    assert_eq!(audit["checkpoint"]["extends"], true, "{audit}");
    assert!(audit["problems"].as_array().unwrap().is_empty(), "{audit}");
    assert!(consistent_with(&app, &saved).await);

    // The verifier key the service publishes is the one the CLI uses by default.
    let (_, key) = get_text(&app, "/api/v1/ledger/checkpoint/key").await;
    let (code, text) = verify_with(&app, &path, Some(key.trim()));
    assert_eq!(code, Some(0), "{text}");

    // A forged signature: the size lowered and the note re-used.
    let forged = note.replacen(&format!("\n{}\n", saved.size), &format!("\n{}\n", saved.size - 1), 1);
    let forged_path = app.root.path().join("forged.checkpoint");
    std::fs::write(&forged_path, &forged).unwrap();
    let (code, text) = verify_with(&app, &forged_path, None);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("the checkpoint does not verify under"), "{text}");
    assert!(text.contains("invalid signature for key"), "{text}");

    // Signed by another key under the same origin: not this ledger's key.
    let impostor = Signer::from_seed(&saved.origin, &[9; 32]).unwrap();
    let foreign = saved.sign(&impostor).unwrap();
    let foreign_path = app.root.path().join("foreign.checkpoint");
    std::fs::write(&foreign_path, &foreign).unwrap();
    let (code, text) = verify_with(&app, &foreign_path, None);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("signed by no known key"), "{text}");
    // … and the genuine one against the impostor's key.
    let (code, text) = verify_with(&app, &path, Some(&impostor.verifier().to_string()));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("signed by no known key"), "{text}");
    let audit = service_verify(&app, &foreign).await;
    assert_eq!(audit["checkpoint"]["extends"], false, "{audit}");
}

#[tokio::test]
async fn every_inclusion_proof_verifies_against_the_checkpoint() {
    let app = service().await;
    let (_, note) = save_checkpoint(&app, "saved.checkpoint").await;
    let checkpoint = Checkpoint::open(&note, &verifier_of(&app)).unwrap();
    let (_, entries) = app.get("/api/v1/ledger?limit=1000").await;
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len() as u64, checkpoint.size);
    for entry in entries {
        let seq = entry["seq"].as_u64().unwrap();
        let (status, proof) = app
            .get(&format!(
                "/api/v1/ledger/proof/inclusion?seq={seq}&size={}",
                checkpoint.size
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{proof}");
        let hash = Hash32::parse(entry["hash"].as_str().unwrap()).unwrap();
        let leaf = leaf_hash(&hash.0);
        assert_eq!(proof["leaf_hash"], leaf.to_hex());
        assert_eq!(proof["root"], checkpoint.root.to_hex());
        let path: Vec<Hash32> = proof["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| Hash32::parse(h.as_str().unwrap()).unwrap())
            .collect();
        verify_inclusion(seq - 1, checkpoint.size, &leaf, &path, &checkpoint.root).unwrap();
        let other = leaf_hash(b"not an entry");
        assert!(verify_inclusion(seq - 1, checkpoint.size, &other, &path, &checkpoint.root).is_err());
    }
    let (status, body) = app
        .get(&format!(
            "/api/v1/ledger/proof/inclusion?seq=1&size={}",
            checkpoint.size + 1
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app.get("/api/v1/ledger/proof/inclusion?seq=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app.get("/api/v1/ledger/proof/consistency?from=3&to=2").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn every_public_page_shows_the_checkpoint_chinese_first() {
    let app = service().await;
    let (_, note) = save_checkpoint(&app, "saved.checkpoint").await;
    let checkpoint = Checkpoint::open(&note, &verifier_of(&app)).unwrap();
    let root = shuangsui::tlog::checkpoint::base64(&checkpoint.root);
    let (_, draws) = app.get("/api/v1/draws").await;
    let bundle = draws
        .as_array()
        .cloned()
        .unwrap_or_else(|| draws["draws"].as_array().unwrap().clone())[0]["bundle"]
        .as_str()
        .unwrap()
        .to_owned();
    for page in ["/", "/search?q=x", "/verify", "/results", &format!("/draws/{bundle}")] {
        let (status, html) = get_text(&app, page).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let line = html
            .find("签名检查点")
            .unwrap_or_else(|| panic!("{page} shows no checkpoint"));
        assert!(line < html.find("Signed checkpoint").unwrap(), "{page}: Chinese first");
        assert!(html.contains(&format!("前 {} 条", checkpoint.size)), "{page}");
        assert!(html.contains(&root), "{page}");
        assert!(html.contains("href=\"/api/v1/ledger/checkpoint\""), "{page}");
    }
}

#[tokio::test]
async fn a_second_instance_signs_with_the_same_key_and_a_configured_origin_must_match_it() {
    let app = service().await;
    let other = app.other_instance().await;
    assert_eq!(other.checkpoints.verifier(), app.state.checkpoints.verifier());
    assert_eq!(other.checkpoints.origin(), "shuangsui/state");
    let mut config = app.config.clone();
    config.ledger_origin = Some("shuangsui/elsewhere".into());
    let err = match shuangsui::service::state(&config, std::sync::Arc::new(shuangsui::clock::SystemClock)).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a key for another origin was accepted"),
    };
    assert!(err.contains("signs for \"shuangsui/state\""), "{err}");
}

/// Runs the standard-library checker `tools/checkpoint.py` on the entries
/// the API lists; `None` when there is no python3.
async fn python_check(app: &TestApp, checkpoint: &Path, key: &str) -> Option<(Option<i32>, String)> {
    let (_, entries) = app.get("/api/v1/ledger?limit=1000").await;
    let path = app.root.path().join("entries.json");
    std::fs::write(&path, entries.to_string()).unwrap();
    let output = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/checkpoint.py"))
        .arg("--checkpoint")
        .arg(checkpoint)
        .args(["--key", key, "--entries"])
        .arg(&path)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    Some((output.status.code(), text))
}

#[tokio::test]
async fn the_independent_python_checker_agrees() {
    let app = service().await;
    let (path, note) = save_checkpoint(&app, "saved.checkpoint").await;
    let saved = Checkpoint::open(&note, &verifier_of(&app)).unwrap();
    let (_, key) = get_text(&app, "/api/v1/ledger/checkpoint/key").await;
    let Some((code, text)) = python_check(&app, &path, key.trim()).await else {
        eprintln!("skipped: no python3");
        return;
    };
    assert_eq!(code, Some(0), "{text}");
    announce(&app, 4).await;
    let (code, text) = python_check(&app, &path, key.trim()).await.unwrap();
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&format!("now holds {}", saved.size + 1)), "{text}");
    let forged = note.replacen(&format!("\n{}\n", saved.size), &format!("\n{}\n", saved.size - 1), 1);
    let forged_path = app.root.path().join("forged.checkpoint");
    std::fs::write(&forged_path, forged).unwrap();
    let (code, text) = python_check(&app, &forged_path, key.trim()).await.unwrap();
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("invalid signature"), "{text}");

    delete_after(&app, saved.size - 2).await;
    let (code, text) = python_check(&app, &path, key.trim()).await.unwrap();
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("the ledger was truncated"), "{text}");
    announce(&app, 5).await;
    announce(&app, 2).await;
    announce(&app, 3).await;
    let (code, text) = python_check(&app, &path, key.trim()).await.unwrap();
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("the ledger was rewritten"), "{text}");
}
