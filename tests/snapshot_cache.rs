//! `snapshots/` is a cache the service checks against the database before
//! each use, and a file this process already hashed is not hashed again
//! while nothing has touched it: an edit after a first successful draw, even
//! one that keeps the file's length and modification time, is still found,
//! and the next draw is made on the snapshot as recorded.

#[path = "common/app.rs"]
mod app;
mod common;

use std::time::Duration;

use app::TestApp;
use axum::http::StatusCode;
use serde_json::{json, Value};

async fn announce(app: &TestApp, plan: &str) -> String {
    let (status, announced) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": plan, "seed_method": {"kind": "commit"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{announced}");
    announced["task_id"].as_str().unwrap().to_owned()
}

async fn draw(app: &TestApp, task: &str) -> Value {
    let (status, drawn) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    drawn
}

#[tokio::test]
async fn a_cache_edited_after_a_draw_is_rebuilt_before_the_next() {
    let app = TestApp::spawn(41).await;
    let pools = app.pools();
    let mut tasks = Vec::new();
    for n in 1..=3 {
        let plan = common::plan_toml(&pools, 2, "").replace("id = \"TEST-1\"", &format!("id = \"TEST-{n}\""));
        app.add_plan(&format!("p{n}"), &plan);
        tasks.push(announce(&app, &format!("p{n}")).await);
    }
    let (announced, _) = app.state.desk.announcement(&tasks[0]).await.unwrap().unwrap();
    let cached = app
        .config
        .data_dir
        .join("snapshots")
        .join(announced.snapshot_combined.to_hex())
        .join("inspectors.csv");

    draw(&app, &tasks[0]).await;
    // Long enough for the cached files' times to settle, so the second
    // draw's check is remembered and the third would skip the hash if it
    // looked at less than every time the edit below moves.
    std::thread::sleep(Duration::from_millis(2200));
    draw(&app, &tasks[1]).await;
    let original = std::fs::read(&cached).unwrap();
    let modified = std::fs::metadata(&cached).unwrap().modified().unwrap();

    // One digit changed in place: same length, same inode, and the
    // modification time put back; only the change time moves.
    let mut changed = original.clone();
    let at = changed.len() - 3;
    changed[at] = if changed[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&cached, &changed).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&cached)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    assert_eq!(std::fs::metadata(&cached).unwrap().len(), original.len() as u64);
    assert_eq!(std::fs::metadata(&cached).unwrap().modified().unwrap(), modified);

    let third = draw(&app, &tasks[2]).await;
    assert_eq!(
        std::fs::read(&cached).unwrap(),
        original,
        "the edited cache was rebuilt, not drawn from"
    );
    let bundle = app.bundle(third["bundle"].as_str().unwrap());
    let report = shuangsui::verify::verify(&bundle, app.pools_dir(), Default::default()).unwrap();
    assert!(report.verified(), "{:?}", report.difference);
}
