//! The public pages and the search through the service: a draw's list a
//! page at a time, a page that is not there a clear 404 (or 400 for a page
//! number that is not one) saying how many pages there are, never a 500;
//! the search counts its hits and pages them; and though the service keeps
//! the draws it read in memory, a new draw or a substitution reaches the
//! pages and the search at the next request.

#[path = "common/app.rs"]
mod app;
mod common;

use app::TestApp;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

/// Announces and draws plan `TEST-k` of the 3 busiest items with the
/// selection `selection` and a workload cap of `cap`; its bundle name, or
/// the error.
async fn try_draw(app: &TestApp, k: u32, selection: &str, cap: u32) -> Result<String, Value> {
    let pools = app.pools();
    let extra = format!("[selection]\n{selection}\n");
    let text = common::plan_toml(&pools, 3, &extra)
        .replace("id = \"TEST-1\"", &format!("id = \"TEST-{k}\""))
        .replace("workload_cap = 40", &format!("workload_cap = {cap}"));
    let task = app.announce_plan(&format!("plan-{k}"), &text).await;
    let (status, body) = app
        .operator("/api/v1/draws", json!({"task_id": task, "seed": {"kind": "reveal"}}))
        .await;
    if !status.is_success() {
        return Err(body);
    }
    Ok(body["bundle"].as_str().unwrap().to_owned())
}

/// Draws plan `TEST-k`: 10 businesses for each of 3 items.
async fn draw(app: &TestApp, k: u32) -> String {
    try_draw(app, k, "count = 10", 40).await.unwrap()
}

/// Draws `TEST-1` with a ratio that makes more than one page of visits and
/// at most two: the ratio found first on a service of its own, so the
/// service under test holds this draw alone. Its bundle name and visits.
async fn two_pages(app: &TestApp) -> (String, usize) {
    let probe = TestApp::spawn(31).await;
    for (k, percent) in (2..).zip((30..=90).step_by(5)) {
        let ratios = format!("ratios = {{ A = {percent}, B = {percent}, C = {percent}, D = {percent} }}");
        let Ok(_) = try_draw(&probe, k, &ratios, 400).await else {
            continue;
        };
        let (_, rows) = probe
            .get(&format!("/api/v1/draws/TEST-{k}/assignments?per_page=1"))
            .await;
        let n = rows["total"].as_u64().unwrap() as usize;
        if n > 200 {
            assert!(n <= 400, "{percent}% gives {n} visits: more than two pages");
            let bundle = try_draw(app, 1, &ratios, 400).await.unwrap();
            return (bundle, n);
        }
    }
    panic!("no ratio of the busiest items gives more than 200 visits");
}

/// GET `uri`: the status, the `X-Total-Count` header and the body as text.
async fn get(app: &TestApp, uri: &str) -> (StatusCode, Option<String>, String) {
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = app.router().oneshot(request).await.unwrap();
    let status = response.status();
    let total = response
        .headers()
        .get("x-total-count")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await.unwrap();
    (status, total, String::from_utf8(bytes.to_vec()).unwrap())
}

fn rows(page: &str) -> usize {
    page.matches("<tr><td class=\"n\" data-label=\"序号\">").count()
}

#[tokio::test]
async fn a_draw_page_shows_its_list_a_page_at_a_time() {
    let app = TestApp::spawn(31).await;
    let (bundle, n) = two_pages(&app).await;
    let (status, _, first) = get(&app, &format!("/draws/{bundle}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows(&first), 200);
    assert!(first.contains(&format!("显示第 1–200 条，共 {n} 条")), "{first}");
    assert!(first.contains(&format!("href=\"/draws/{bundle}?page=2\"")));
    let (status, _, second) = get(&app, &format!("/draws/{bundle}?page=2")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows(&second), n - 200);
    assert!(second.contains(&format!("显示第 201–{n} 条，共 {n} 条")));
    assert!(second.contains(&format!("<tr><td class=\"n\" data-label=\"序号\">{n}</td>")));
    assert!(!second.contains("<tr><td class=\"n\" data-label=\"序号\">200</td>"));

    let (status, _, beyond) = get(&app, &format!("/draws/{bundle}?page=3")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{beyond}");
    assert!(beyond.contains("共 2 页"), "{beyond}");
    assert!(
        beyond.contains(&format!("href=\"/draws/{bundle}?page=2\"")),
        "a link to the last page"
    );
    for bad in ["0", "-1", "abc", "2.5", "99999999999999999999999"] {
        let (status, _, page) = get(&app, &format!("/draws/{bundle}?page={bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {page}");
        assert!(page.contains("共 2 页"), "{bad}: {page}");
    }
    let (status, _, _) = get(&app, "/draws/TEST-9_000000000000?page=2").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The API's rows and the page's agree.
    let (_, rows_api) = app.get("/api/v1/draws/TEST-1/assignments?page=3&per_page=100").await;
    let last = rows_api["rows"].as_array().unwrap().last().unwrap();
    assert!(second.contains(&format!("<code>{}</code>", last["credit_code"].as_str().unwrap())));
}

#[tokio::test]
async fn the_search_counts_its_hits_and_pages_them() {
    let app = TestApp::spawn(31).await;
    let (_, n) = two_pages(&app).await;
    // Every credit code starts with a 9: every business of the draw is a hit.
    let (status, total, body) = get(&app, "/api/v1/search?q=9").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(total, Some(n.to_string()));
    let first: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(first.len(), 200);
    let (status, total, body) = get(&app, "/api/v1/search?q=9&page=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(total, Some(n.to_string()));
    let second: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(second.len(), n - 200);
    assert!(
        second.iter().all(|h| !first.contains(h)),
        "the second page holds the others"
    );
    let (status, _, body) = get(&app, "/api/v1/search?q=9&page=3").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"], "not_found");
    for bad in ["0", "x"] {
        let (status, _, body) = get(&app, &format!("/api/v1/search?q=9&page={bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error"],
            "bad_request",
            "{body}"
        );
    }

    let (status, _, page) = get(&app, "/search?q=9").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("显示前 200 条，共 {n} 条")), "{page}");
    assert_eq!(page.matches("<section class=\"card\"><h3>").count(), 200);
    assert!(page.contains("href=\"/search?q=9&amp;page=2\""));
    let (status, _, page) = get(&app, "/search?q=9&page=2").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("显示第 201–{n} 条，共 {n} 条")));
    assert_eq!(page.matches("<section class=\"card\"><h3>").count(), n - 200);
    let (status, _, page) = get(&app, "/search?q=9&page=3").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("没有第 3 页"), "{page}");
    let (status, _, _) = get(&app, "/search?q=9&page=zero").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_new_draw_and_a_substitution_reach_the_kept_pages_and_search() {
    let app = TestApp::spawn(31).await;
    let first = draw(&app, 1).await;
    let (_, rows) = app.get("/api/v1/draws/TEST-1/assignments").await;
    let code = rows["rows"][0]["credit_code"].as_str().unwrap().to_owned();
    let out = rows["rows"][0]["team"][0].as_str().unwrap().to_owned();
    let search = format!("/api/v1/search?q={code}");
    let draws_of = |body: &str| -> Vec<String> {
        serde_json::from_str::<Vec<Value>>(body)
            .unwrap()
            .iter()
            .map(|h| h["draw"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, _, before) = get(&app, &search).await;
    assert_eq!(draws_of(&before), std::slice::from_ref(&first));
    let (_, _, page) = get(&app, &format!("/draws/{first}")).await;
    assert!(
        page.contains(&format!("<td data-label=\"组长\"><code>{out}</code></td>")),
        "the drawn leader"
    );

    let (status, made) = app
        .operator(
            "/api/v1/draws/TEST-1/substitutions",
            json!({"credit_code": code, "out": out, "reason": "leave"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let incoming = made["entry"]["in"].as_str().unwrap();
    let (_, _, after) = get(&app, &search).await;
    let hits: Vec<Value> = serde_json::from_str(&after).unwrap();
    assert_eq!(hits[0]["leader"], incoming, "{after}");
    assert_eq!(hits[0]["drawn_team"][0], out.as_str());
    let (_, _, page) = get(&app, &format!("/draws/{first}")).await;
    assert!(
        page.contains(&format!("<td data-label=\"组长\"><code>{incoming}</code></td>")),
        "the substitute leads"
    );
    let (_, _, csv) = get(&app, &format!("/draws/{first}/assignments.csv")).await;
    assert!(csv.contains(incoming), "the download is of the list as it stands");

    // A new draw is searched at the next request.
    let second = draw(&app, 2).await;
    let (_, rows) = app.get("/api/v1/draws/TEST-2/assignments").await;
    let code = rows["rows"][0]["credit_code"].as_str().unwrap();
    let (_, _, now) = get(&app, &format!("/api/v1/search?q={code}")).await;
    assert!(draws_of(&now).contains(&second), "{now}");
}
