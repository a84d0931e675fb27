//! Simultaneous announcements of one commit–reveal task: whichever reaches
//! the ledger first wins, and the secret kept is the one whose commitment
//! the ledger holds, so the task can always be revealed and drawn.

#[path = "common/app.rs"]
mod app;
mod common;

use app::TestApp;
use serde_json::json;
use shuangsui::desk::{MethodRequest, SeedMaterial, SeedMethod};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_simultaneous_commit_announcements_leave_a_drawable_task() {
    let app = TestApp::spawn(31).await;
    let plan = app.add_plan("test-plan", &common::plan_toml(&app.pools(), 2, ""));
    let other = app.other_instance().await;
    let desks = [app.state.desk.clone(), other.desk.clone()];
    let mut tasks = Vec::new();
    for n in 0..50 {
        let desk = desks[n % 2].clone();
        let plan = plan.clone();
        tasks.push(tokio::spawn(async move {
            desk.announce(plan, MethodRequest::Commit { beacon_at: None }, None, None)
                .await
        }));
    }
    let mut commitments = Vec::new();
    for task in tasks {
        let (announcement, _) = task.await.unwrap().unwrap();
        let SeedMethod::Commit { commitment, .. } = announcement.seed_method else {
            panic!("announced as a commitment")
        };
        commitments.push(commitment);
    }
    commitments.dedup();
    assert_eq!(
        commitments.len(),
        1,
        "every request reports the one recorded announcement"
    );

    let (record, _) = desks[1]
        .draw(plan.id(), SeedMaterial::Reveal { beacon_signature: None })
        .await
        .unwrap_or_else(|e| panic!("the reveal draw fails: {e}"));
    let bundle = app.bundle(&record.bundle);
    let report = shuangsui::verify::verify(&bundle, app.pools_dir(), Default::default()).unwrap();
    assert!(report.verified(), "{:?}", report.difference);
    let manifest = shuangsui::bundle::read(&bundle).unwrap().manifest;
    assert_eq!(
        serde_json::to_value(&manifest.seed.source).unwrap()["commitment"],
        json!(commitments[0]),
        "the draw reveals the secret of the recorded commitment"
    );
    let (_, audit) = app.operator("/api/v1/ledger/verify", json!({})).await;
    assert_eq!(audit["problems"], json!([]), "{audit}");
    let left: Vec<_> = std::fs::read_dir(app.secrets())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".hex"))
        .collect();
    assert!(left.len() <= 1, "the losers' secrets are removed: {left:?}");
}
