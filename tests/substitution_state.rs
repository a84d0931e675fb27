//! A substitution starts from the drawn state its bundle lists, not from a
//! redraw: that state is the redraw's whenever the bundle is the draw it
//! records (plain, joint, with a history, merging with an earlier plan), and
//! a bundle whose teams are not the ones its manifest records is refused by
//! `shuangsui substitute` and by the service before anything is decided.

#[path = "common/app.rs"]
mod app;
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use app::TestApp;
use axum::http::StatusCode;
use proptest::prelude::*;
use serde_json::json;
use shuangsui::bundle::{self, Stored};
use shuangsui::pipeline::{drawn_checked, DrawInputs, DrawnError, EarlierBundle, Mismatch};
use shuangsui::plan::Plan;
use shuangsui::pools::Pools;
use shuangsui::seed::{SeedSource, SeedSpec};

use common::{busiest_items, joint_plan_toml, load_pools, plan_toml, seed, small_pool};

/// Draws `plan` with the earlier bundles given, writes its bundle under
/// `out` and reads it back; `None` when the plan cannot be drawn.
fn drawn_bundle(
    pools: &Pools,
    plan: &Plan,
    history: &[EarlierBundle],
    merge: &[Stored],
    draw_seed: u64,
    out: &Path,
) -> Option<Stored> {
    let inputs = DrawInputs::assemble(plan, history, merge).unwrap();
    let spec = SeedSpec {
        seed: seed(draw_seed),
        source: SeedSource::Hex,
    };
    let drawn = inputs.draw(pools, &spec, None, "2026-02-01T09:00:00+08:00").ok()?;
    let dir = bundle::write(out, &drawn.name, &drawn.confidential, &drawn.public).unwrap();
    Some(bundle::read(&dir).unwrap())
}

/// The state a substitution starts from equals the bundle's redraw, seed,
/// merge inputs and outcome alike (its merge marks and strata included).
fn assert_state_is_the_redraw(pools: &Pools, stored: &Stored) -> usize {
    let state = drawn_checked(stored, pools).unwrap();
    let inputs = DrawInputs::of_bundle(stored).unwrap();
    let redrawn = inputs.redraw(pools, &state.seed).unwrap();
    assert_eq!(state.outcome, redrawn);
    assert_eq!(state.merged, inputs.merged);
    assert_eq!(state.seed.to_hex(), stored.manifest.seed.hex);
    state.outcome.visits.len()
}

fn parse(text: &str) -> Plan {
    Plan::parse_toml(text, "p.toml").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn the_listed_state_is_the_redrawn_one(
        pool_seed in 0u64..1000,
        draw_seed in any::<u64>(),
        kind in 0usize..4,
        cap in 3u32..30,
    ) {
        let root = tempfile::tempdir().unwrap();
        let pools = load_pools(&small_pool(root.path(), pool_seed));
        let out = root.path().join("out");
        let capped = |text: String| text.replace("workload_cap = 40", &format!("workload_cap = {cap}"));
        let ratios = "[selection]\nratios = { A = 3, B = 5, C = 20, D = 50 }";
        let stored = match kind {
            0 => drawn_bundle(&pools, &parse(&capped(plan_toml(&pools, 2, ratios))), &[], &[], draw_seed, &out),
            1 => {
                let joint = capped(joint_plan_toml(&pools, 1, 1, "[selection]\nratios = { A = 2, B = 3, C = 10, D = 30 }"));
                drawn_bundle(&pools, &parse(&joint), &[], &[], draw_seed, &out)
            }
            // A later plan with the first as its history (rotation, exclusion).
            2 => {
                let first = parse(&plan_toml(&pools, 2, ratios));
                let Some(earlier) = drawn_bundle(&pools, &first, &[], &[], draw_seed ^ 1, &root.path().join("earlier")) else {
                    return Ok(());
                };
                let later = capped(plan_toml(&pools, 2, ratios))
                    .replace("id = \"TEST-1\"", "id = \"TEST-2\"")
                    .replace("2026-03-02", "2026-06-01");
                let history = [EarlierBundle::read(&earlier.dir).unwrap()];
                drawn_bundle(&pools, &parse(&later), &history, &[], draw_seed, &out)
            }
            // A plan of the same day merging with the first (spec §14),
            // with an item of another field so that some earlier teams serve
            // and others do not.
            _ => {
                let first = parse(&plan_toml(&pools, 2, "[selection]\ncount = 15"));
                let Some(earlier) = drawn_bundle(&pools, &first, &[], &[], draw_seed ^ 1, &root.path().join("earlier")) else {
                    return Ok(());
                };
                let (department, codes) = busiest_items(&pools, 2);
                let field = &pools.items.iter().find(|i| i.code.as_str() == codes[0]).unwrap().field;
                let other = pools
                    .items
                    .iter()
                    .find(|i| i.department == department && &i.field != field)
                    .unwrap();
                let merging = capped(plan_toml(&pools, 2, "[selection]\ncount = 15"))
                    .replace("id = \"TEST-1\"", "id = \"TEST-2\"\nmerge_with = [\"TEST-1\"]")
                    .replace("items = [", &format!("items = [{:?}, ", other.code.as_str()));
                drawn_bundle(&pools, &parse(&merging), &[], &[earlier], draw_seed, &out)
            }
        };
        // A tight cap may make a plan infeasible.
        let Some(stored) = stored else { return Ok(()) };
        assert_state_is_the_redraw(&pools, &stored);
        if kind == 3 {
            prop_assert!(stored.merge_csv.is_some());
        }
    }
}

/// Every kind of plan above draws and gives visits on at least one pool, so
/// the property is not passed vacuously.
#[test]
fn each_kind_of_bundle_is_drawn_and_compared() {
    let root = tempfile::tempdir().unwrap();
    let pools = load_pools(&small_pool(root.path(), 7));
    let ratios = "[selection]\nratios = { A = 3, B = 5, C = 20, D = 50 }";
    let plain = drawn_bundle(
        &pools,
        &parse(&plan_toml(&pools, 2, ratios)),
        &[],
        &[],
        7,
        &root.path().join("a"),
    )
    .unwrap();
    assert!(assert_state_is_the_redraw(&pools, &plain) > 10);
    let joint = joint_plan_toml(&pools, 1, 1, "[selection]\nratios = { A = 2, B = 3, C = 10, D = 30 }");
    let joint = drawn_bundle(&pools, &parse(&joint), &[], &[], 7, &root.path().join("b")).unwrap();
    assert!(assert_state_is_the_redraw(&pools, &joint) > 0);
    let earlier = drawn_bundle(
        &pools,
        &parse(&plan_toml(&pools, 2, "[selection]\ncount = 15")),
        &[],
        &[],
        8,
        &root.path().join("c"),
    )
    .unwrap();
    let merging = plan_toml(&pools, 2, "[selection]\ncount = 15")
        .replace("id = \"TEST-1\"", "id = \"TEST-2\"\nmerge_with = [\"TEST-1\"]");
    let merging = drawn_bundle(&pools, &parse(&merging), &[], &[earlier], 7, &root.path().join("d")).unwrap();
    assert_state_is_the_redraw(&pools, &merging);
    let state = drawn_checked(&merging, &pools).unwrap();
    assert!(
        state.outcome.visits.iter().any(|v| v.merged.is_some()),
        "some visit joins the earlier plan's"
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Swaps the first two officers of the first visit that has two (leader
/// and member) in `assignments.csv`: every row still names records of the
/// pools, but the teams are not the ones drawn. Returns the credit code and
/// the officer then listed first.
fn swap_first_team(dir: &Path) -> (String, String) {
    let path = dir.join("assignments.csv");
    let (text, code, first) = swapped(&std::fs::read_to_string(&path).unwrap());
    std::fs::write(&path, text).unwrap();
    (code, first)
}

/// [`swap_first_team`] on the text of `assignments.csv`: the new text,
/// the credit code and the officer now listed first.
fn swapped(text: &str) -> (String, String, String) {
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_owned).collect();
    // The last three columns (组长, 检查人员, 信用风险分类) hold no comma;
    // a name may.
    let row = lines
        .iter()
        .skip(1)
        .position(|l| l.rsplit(',').nth(1).is_some_and(|t| t.contains(';')))
        .unwrap()
        + 1;
    let mut tail: Vec<String> = lines[row].rsplitn(4, ',').map(str::to_owned).collect();
    tail.reverse();
    let mut team: Vec<String> = tail[2].split(';').map(str::to_owned).collect();
    team.swap(0, 1);
    tail[1] = team[0].clone();
    tail[2] = team.join(";");
    let code = lines[row].split(',').nth(1).unwrap().to_owned();
    lines[row] = tail.join(",");
    (lines.join("\r\n"), code, team[0].clone())
}

#[test]
fn a_bundle_whose_teams_were_edited_takes_no_substitution_at_the_shell() {
    let root = tempfile::tempdir().unwrap();
    let pool = small_pool(root.path(), 11);
    let pools = load_pools(&pool);
    let plan = parse(&plan_toml(
        &pools,
        2,
        "[selection]\nratios = { A = 3, B = 5, C = 20, D = 50 }",
    ));
    let stored = drawn_bundle(&pools, &plan, &[], &[], 11, &root.path().join("out")).unwrap();
    let dir: PathBuf = stored.dir.clone();
    let (code, officer) = swap_first_team(&dir);

    let edited = bundle::read(&dir).unwrap();
    assert!(matches!(
        drawn_checked(&edited, &pools),
        Err(DrawnError::Differs(Mismatch::Result))
    ));
    let output = Command::new(env!("CARGO_BIN_EXE_shuangsui"))
        .args([
            "substitute",
            s(&dir),
            "--target",
            &code,
            "--officer",
            &officer,
            "--reason",
            "leave",
            "--data",
            s(&pool),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("does not verify"), "{stderr}");
    assert!(stderr.contains("result_sha256"), "{stderr}");
    assert!(!dir.join("substitutions.json").exists(), "nothing was substituted");
}

#[tokio::test]
async fn a_bundle_whose_teams_were_edited_takes_no_substitution_at_the_service() {
    let app = TestApp::spawn(12).await;
    app.add_plan(
        "p",
        &plan_toml(
            &app.pools(),
            2,
            "[selection]\nratios = { A = 3, B = 5, C = 20, D = 50 }",
        ),
    );
    let (status, announced) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": "p", "seed_method": {"kind": "commit"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{announced}");
    let task = announced["task_id"].as_str().unwrap().to_owned();
    let (status, drawn) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    let name = drawn["bundle"].as_str().unwrap();
    let dir = app.bundle(name);

    // The cache folder is repaired from the database before a substitution,
    // so the teams are edited where the bundle is recorded, as someone
    // editing the SQLite file by hand would.
    let (text, code, officer) = swapped(&std::fs::read_to_string(dir.join("assignments.csv")).unwrap());
    let mut conn = app.state.desk.ledger.raw_pool().acquire().await.unwrap();
    let (forged, _) = shuangsui::store::put_bytes(&mut conn, text.as_bytes()).await.unwrap();
    sqlx::query("DROP TRIGGER bundle_files_no_update")
        .execute(&mut *conn)
        .await
        .unwrap();
    let done = sqlx::query("UPDATE bundle_files SET file_hash = $1 WHERE bundle = $2 AND path = 'assignments.csv'")
        .bind(forged.hash.to_hex())
        .bind(name)
        .execute(&mut *conn)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
    drop(conn);

    let (status, reply) = app
        .operator(
            &format!("/api/v1/draws/{task}/substitutions"),
            json!({"credit_code": code, "out": officer, "reason": "leave"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    assert_eq!(reply["error"], "invalid_request", "{reply}");
    let message = reply["message"].as_str().unwrap();
    assert!(
        message.contains("does not verify") && message.contains("result_sha256"),
        "{reply}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("assignments.csv")).unwrap(),
        text,
        "the substitution read the bundle as recorded"
    );
    assert!(!dir.join("substitutions.json").exists(), "nothing was substituted");
    let (_, ledger) = app.get("/api/v1/ledger").await;
    assert!(
        !ledger.to_string().contains("officer_substituted"),
        "no substitution in the ledger: {ledger}"
    );
}
