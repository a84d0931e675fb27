//! The edge toward anonymous clients: every response carries the security
//! headers and every error is JSON with a stable code, through the router;
//! and on a real socket, a client that sends its headers too slowly, sits
//! idle, or comes after the cap is reached holds no connection for long,
//! while the others keep being served.

#[path = "common/app.rs"]
mod app;
mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use app::TestApp;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shuangsui::service::edge::{self, EdgeLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

async fn raw(app: &TestApp, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = app.router().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 16 << 20).await.unwrap();
    (parts.status, parts.headers, bytes.to_vec())
}

fn get(uri: &str) -> Request<Body> {
    Request::builder().uri(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_the_policy_admits_the_pages_own_style() {
    let app = TestApp::spawn(1).await;
    for uri in [
        "/",
        "/search?q=x",
        "/api/v1/ledger/head",
        "/static/verify/page.js",
        "/no/such/page",
    ] {
        let (_, headers, _) = raw(&app, get(uri)).await;
        assert_eq!(headers["x-content-type-options"], "nosniff", "{uri}");
        assert_eq!(headers["x-frame-options"], "DENY", "{uri}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{uri}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.starts_with("default-src 'self';"), "{uri}: {policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{uri}: {policy}");
        assert!(
            !policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"),
            "{policy}"
        );
    }
    // The one inline stylesheet of a page is the one the policy admits: a
    // page whose style changed without the policy would show unstyled.
    let (status, headers, body) = raw(&app, get("/")).await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8(body).unwrap();
    let style = html.split("<style>").nth(1).unwrap().split("</style>").next().unwrap();
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style.as_bytes()));
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains(&format!("'sha256-{hash}'")), "{policy}");
    assert!(
        !html.contains(" style="),
        "inline style attributes are refused by the policy"
    );
}

/// The status, the error code and the message of a JSON error.
async fn json_error(app: &TestApp, request: Request<Body>) -> (StatusCode, String, String, axum::http::HeaderMap) {
    let (status, headers, body) = raw(app, request).await;
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{status}: {:?}",
        String::from_utf8_lossy(&body)
    );
    let value: Value = serde_json::from_slice(&body).unwrap();
    (
        status,
        value["error"].as_str().unwrap().to_owned(),
        value["message"].as_str().unwrap().to_owned(),
        headers,
    )
}

#[tokio::test]
async fn what_axum_refuses_before_a_handler_is_json_with_a_stable_code() {
    let app = TestApp::spawn(2).await;
    let (status, code, message, _) = json_error(&app, get("/api/v1/ledger?after=abc")).await;
    assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, "bad_request"));
    assert!(message.contains("after"), "{message}");

    let (status, code, _, headers) = json_error(
        &app,
        Request::builder()
            .method("DELETE")
            .uri("/api/v1/ledger/head")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    assert!(headers.contains_key("allow"), "the Allow header survives");

    let announce = |content_type: &str, body: Body| {
        Request::builder()
            .method("POST")
            .uri("/api/v1/announcements")
            .header("authorization", format!("Bearer {}", app::TOKEN))
            .header("content-type", content_type)
            .body(body)
            .unwrap()
    };
    let (status, code, _, _) = json_error(&app, announce("text/plain", Body::from("{}"))).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let (status, code, _, _) = json_error(&app, announce("application/json", Body::from("{not json"))).await;
    assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, "bad_request"));
    let (status, code, _, _) = json_error(&app, announce("application/json", Body::from("{\"plan\": 7}"))).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
    );
    let big = vec![b' '; 512 * 1024];
    let (status, code, _, _) = json_error(&app, announce("application/json", Body::from(big))).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
    );
}

#[tokio::test]
async fn a_hostile_name_or_number_is_a_clear_answer_never_a_500() {
    let app = TestApp::spawn(3).await;
    let long = "P".repeat(300);
    for uri in [
        format!("/api/v1/draws/{long}"),
        format!("/api/v1/announcements/{long}"),
        format!("/api/v1/draws/{long}/assignments"),
        format!("/api/v1/draws/{long}/substitutions"),
        format!("/draws/{long}"),
        format!("/draws/{long}/assignments.csv"),
        "/draws/..%2F..%2Fledger.db".to_owned(),
        "/draws/x/..%2F..%2F..%2Fetc%2Fpasswd".to_owned(),
    ] {
        let (status, _, _) = raw(&app, get(&uri)).await;
        assert!(status.is_client_error(), "{uri}: {status}");
    }
    // The last sequence number there can be: nothing after it, not the
    // ledger from its start.
    let pools = app.pools();
    app.add_plan("plan", &common::plan_toml(&pools, 2, ""));
    let (status, body) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": "plan", "seed_method": {"kind": "commit"}}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (_, all) = app.get("/api/v1/ledger?after=0").await;
    assert!(
        !all["entries"].as_array().or_else(|| all.as_array()).unwrap().is_empty(),
        "{all}"
    );
    let (status, value) = app.get("/api/v1/ledger?after=18446744073709551615").await;
    assert_eq!(status, StatusCode::OK);
    let entries = value["entries"]
        .as_array()
        .or_else(|| value.as_array())
        .expect("a list");
    assert!(entries.is_empty(), "{value}");
    let (status, code, _, _) = json_error(&app, get("/api/v1/ledger?after=18446744073709551616")).await;
    assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, "bad_request"));
}

/// A server on a real socket with the test app's router under `limits`.
struct Served {
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    done: tokio::task::JoinHandle<()>,
    _app: TestApp,
}

async fn serve(seed: u64, limits: EdgeLimits) -> Served {
    let app = TestApp::spawn(seed).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let done = tokio::spawn(edge::serve(listener, app.router(), limits, stopped));
    Served {
        addr,
        stop,
        done,
        _app: app,
    }
}

fn quick() -> EdgeLimits {
    EdgeLimits {
        header_read_timeout: Duration::from_millis(800),
        ..EdgeLimits::default()
    }
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";

/// Reads one response's head and the `Content-Length` bytes after it.
async fn response(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed before answering: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|l| l.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

/// How long until the server closes `stream` (reads return 0 or fail).
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Err(_) => panic!("still open after {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed_and_others_are_served_meanwhile() {
    let served = serve(4, quick()).await;
    // Slowloris: a request line and one header, and then nothing.
    let mut slow = TcpStream::connect(served.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").await.unwrap();
    // An idle keep-alive connection after one request.
    let mut idle = TcpStream::connect(served.addr).await.unwrap();
    idle.write_all(HEALTHZ).await.unwrap();
    assert!(response(&mut idle).await.starts_with("HTTP/1.1 200"));
    // Meanwhile another client is answered at once.
    let mut other = TcpStream::connect(served.addr).await.unwrap();
    other.write_all(HEALTHZ).await.unwrap();
    assert!(response(&mut other).await.starts_with("HTTP/1.1 200"));

    let slow_closed = closed_within(&mut slow, Duration::from_secs(10)).await;
    let idle_closed = closed_within(&mut idle, Duration::from_secs(10)).await;
    assert!(slow_closed >= Duration::from_millis(500), "{slow_closed:?}");
    assert!(idle_closed < Duration::from_secs(5), "{idle_closed:?}");
    served.stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), served.done)
        .await
        .expect("the server stops once its connections are closed")
        .unwrap();
}

#[tokio::test]
async fn over_the_cap_a_client_is_told_busy_and_a_freed_slot_serves_again() {
    let served = serve(
        5,
        EdgeLimits {
            max_connections: 2,
            ..quick()
        },
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(served.addr).await.unwrap();
        stream.write_all(HEALTHZ).await.unwrap();
        assert!(response(&mut stream).await.starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut third = TcpStream::connect(served.addr).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), third.read_to_string(&mut answer))
        .await
        .expect("refused at once")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.ends_with("}") && answer.contains("\"error\":\"busy\""),
        "{answer}"
    );
    let json = answer.split("\r\n\r\n").nth(1).unwrap();
    let value: Value = serde_json::from_str(json).expect("the body is JSON of its stated length");
    assert_eq!(value["error"], "busy");

    // The held connections go idle and are closed; then a slot is free.
    for stream in &mut held {
        closed_within(stream, Duration::from_secs(10)).await;
    }
    // A moment for the closed connections' tasks to give their slots back.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = TcpStream::connect(served.addr).await.unwrap();
        again.write_all(HEALTHZ).await.unwrap();
        let answer = response(&mut again).await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "no slot came free: {answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_connection_is_closed_after_its_last_allowed_request() {
    let served = serve(
        6,
        EdgeLimits {
            max_requests_per_connection: 3,
            ..quick()
        },
    )
    .await;
    let mut stream = TcpStream::connect(served.addr).await.unwrap();
    for n in 1..=3 {
        stream.write_all(HEALTHZ).await.unwrap();
        let answer = response(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert_eq!(
            answer.to_ascii_lowercase().contains("connection: close"),
            n == 3,
            "request {n}: {answer}"
        );
    }
    let closed = closed_within(&mut stream, Duration::from_secs(5)).await;
    assert!(
        closed < Duration::from_millis(500),
        "closed after the third answer, not by the idle timeout: {closed:?}"
    );
}

#[test]
fn the_edge_limits_are_read_from_the_config_file_and_zero_is_refused() {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/shuangsui.toml");
    let text = std::fs::read_to_string(&shipped).unwrap();
    let config = shuangsui::service::config::Config::load(&shipped, |_| None).unwrap();
    assert_eq!(config.edge, EdgeLimits::default());

    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("shuangsui.toml");
    let with = |edge: &str| {
        std::fs::write(&path, format!("{text}\n[edge]\n{edge}\n")).unwrap();
        shuangsui::service::config::Config::load(&path, |_| None)
    };
    let config =
        with("max_connections = 50\nheader_read_timeout_seconds = 3\nmax_requests_per_connection = 7").unwrap();
    assert_eq!(config.edge.max_connections, 50);
    assert_eq!(config.edge.header_read_timeout, Duration::from_secs(3));
    assert_eq!(config.edge.max_requests_per_connection, 7);
    assert_eq!(config.edge.max_connection_age, EdgeLimits::default().max_connection_age);
    let refused = with("header_read_timeout_seconds = 0").unwrap_err().to_string();
    assert!(refused.contains("edge.header_read_timeout_seconds"), "{refused}");
    assert!(with("max_conections = 5").is_err(), "a misspelt setting is refused");
}
