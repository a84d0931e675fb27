//! A real crash: the built `shuangsui serve` is made to abort at a chosen
//! point of a draw (`SHUANGSUI_FAULT_ABORT`, a hook compiled only with the
//! `fault-hooks` feature, which the tests' own build of the package has
//! through its dev-dependency on itself), and a fresh process is started on
//! the same data folder and database. Whatever the point, the draw is
//! recorded and served, byte for byte its record, or there is nothing; the
//! ledger verifies; and asking again never draws twice.
//!
//! The in-process fault points of the same writes are tested in
//! tests/publish_of_record.rs; here the process really dies, with whatever
//! it had in flight (open files, a half-built cache folder, its database
//! connections).

#[path = "common/app.rs"]
mod app;
mod common;
#[path = "common/postgres.rs"]
mod postgres;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::{TestApp, TOKEN};
use postgres::{on_both_databases, TestDb};
use serde_json::{json, Value};
use shuangsui::desk::publish::FAULT_ABORT;

on_both_databases!(
    killed_before_the_draw_entry_the_service_has_drawn_nothing,
    killed_after_the_draw_entry_the_service_serves_the_recorded_draw,
    killed_while_caching_the_service_serves_the_draw_and_clears_the_scratch,
);

/// A `shuangsui serve` process, killed when dropped.
struct Service {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits for the process to end by itself; its exit status.
    fn ended(&mut self, within: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < within,
                "the service is still running:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The configuration file of the test app's data folder, pools, plans,
/// holidays and database, for the binary.
fn config_file(app: &TestApp) -> PathBuf {
    let path = app.root.path().join("serve.toml");
    let c = &app.config;
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\npools_dir = {:?}\nplans_dir = {:?}\nholidays_dir = {:?}\n\
         database_url = {:?}\njob_wait_ms = 120000\n",
        c.data_dir, c.pools_dir, c.plans_dir, c.holidays_dir, c.database_url
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts the built binary on `config`, to abort at `abort_at` if given,
/// and waits until it listens.
fn serve(config: &Path, abort_at: Option<&str>) -> Service {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shuangsui"));
    command
        .args(["serve", "--config"])
        .arg(config)
        .env("SHUANGSUI_OPERATOR_TOKEN", TOKEN)
        .env("RUST_LOG", "info")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for name in [
        "SHUANGSUI_LISTEN",
        "SHUANGSUI_DATA_DIR",
        "SHUANGSUI_POOLS_DIR",
        "SHUANGSUI_DATABASE_URL",
        "SHUANGSUI_MIGRATION_DATABASE_URL",
        "SHUANGSUI_OPERATOR_TOKEN_FILE",
        "SHUANGSUI_CHECKPOINT_KEY_FILE",
        FAULT_ABORT,
    ] {
        command.env_remove(name);
    }
    if let Some(at) = abort_at {
        command.env(FAULT_ABORT, at);
    }
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (listening, address) = std::sync::mpsc::channel();
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("serving") {
                if let Some(addr) = line.split("addr=").nth(1).and_then(|a| a.split_whitespace().next()) {
                    let _ = listening.send(addr.parse::<SocketAddr>().unwrap());
                }
            }
            let mut log = kept.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    match address.recv_timeout(Duration::from_secs(120)) {
        Ok(addr) => Service { child, addr, log },
        Err(_) => {
            let _ = child.kill();
            panic!("the service did not start:\n{}", log.lock().unwrap());
        }
    }
}

/// One HTTP/1.0 request (so the answer is never chunked); its status and
/// body, or the error of a connection the process dropped.
fn http(addr: SocketAddr, method: &str, uri: &str, body: Option<&Value>) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(180)))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {uri} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let Some(split) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "no complete answer",
        ));
    };
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {head}"));
    Ok((status, answer[split + 4..].to_vec()))
}

fn get(service: &Service, uri: &str) -> (u16, Vec<u8>) {
    http(service.addr, "GET", uri, None).unwrap_or_else(|e| panic!("GET {uri}: {e}\n{}", service.log()))
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(bytes)))
}

/// A plan announced in process, on the same data folder and database: the
/// announcement is not what is crashed.
async fn announced(db: &TestDb) -> (TestApp, String) {
    let url = db.url.clone();
    let app = TestApp::spawn_with(31, move |config| config.database_url = url).await;
    app.add_plan("TEST-1", &common::plan_toml(&app.pools(), 2, ""));
    let (status, body) = app
        .operator(
            "/api/v1/announcements",
            json!({"plan": "TEST-1", "seed_method": {"kind": "commit"}}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    (app, body["task_id"].as_str().unwrap().to_owned())
}

fn draw_request(task: &str) -> Value {
    json!({"task_id": task, "seed": {"kind": "reveal"}})
}

/// Asks `service` to draw `task`, which must kill it at its abort point.
fn draw_and_die(mut service: Service, task: &str, at: &str) {
    let answer = http(service.addr, "POST", "/api/v1/draws", Some(&draw_request(task)));
    if let Ok((status, body)) = &answer {
        assert!(
            *status >= 500 || body.is_empty(),
            "the draw was answered {status} instead of aborting at {at}: is the binary built without the \
             fault-hooks feature? {}\n{}",
            String::from_utf8_lossy(body),
            service.log()
        );
    }
    let status = service.ended(Duration::from_secs(120));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(libc::SIGABRT),
        "the service ended with {status}, not by aborting at {at}:\n{}",
        service.log()
    );
}

/// `shuangsui ledger verify` on the data folder and database passes.
fn ledger_verify(app: &TestApp) {
    let (code, text) = app.ledger_cli_on_database(&["verify"]);
    assert_eq!(code, Some(0), "{text}");
}

/// The draws the ledger records, read by a fresh process.
fn draws(service: &Service) -> Vec<Value> {
    let (status, body) = get(service, "/api/v1/draws");
    assert_eq!(status, 200);
    json_of(&body).as_array().unwrap().clone()
}

/// A drawn task is served by `service` as its record holds it: the page,
/// the bundle, and each public file byte for byte the database's copy.
async fn served_as_recorded(app: &TestApp, service: &Service, task: &str) -> String {
    let (status, detail) = get(service, &format!("/api/v1/draws/{task}"));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&detail));
    let bundle = json_of(&detail)["record"]["bundle"].as_str().unwrap().to_owned();
    let desk = &app.state.desk;
    for (download, path) in [
        ("drawn.csv", "public/assignments.csv"),
        ("manifest.json", "public/manifest.json"),
        ("plan.json", "public/plan.json"),
    ] {
        let recorded = desk.recorded_file(&bundle, path).await.unwrap().expect("recorded");
        let (status, body) = get(service, &format!("/draws/{bundle}/{download}"));
        assert_eq!(status, 200, "{download}");
        assert!(body == recorded, "{download} is served as recorded");
        let cached = std::fs::read(app.bundle(&bundle).join(path)).unwrap();
        assert!(cached == recorded, "{path} is cached as recorded");
    }
    for uri in [
        format!("/draws/{bundle}"),
        format!("/draws/{bundle}/bundle.zip"),
        "/".to_owned(),
    ] {
        assert_eq!(get(service, &uri).0, 200, "{uri}");
    }
    bundle
}

/// Asking again answers with the draw already recorded, and draws no other.
fn asked_again(service: &Service, task: &str, bundle: &str) {
    let (status, body) = http(service.addr, "POST", "/api/v1/draws", Some(&draw_request(task))).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["bundle"], bundle);
    assert_eq!(draws(service).len(), 1);
}

/// The hidden scratch folders in the publications folder.
fn scratch_folders(app: &TestApp) -> Vec<String> {
    std::fs::read_dir(app.publications())
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

async fn killed_before_the_draw_entry_the_service_has_drawn_nothing(db: TestDb) {
    let (app, task) = announced(&db).await;
    let config = config_file(&app);
    draw_and_die(serve(&config, Some("before_entry")), &task, "before_entry");

    let fresh = serve(&config, None);
    assert!(draws(&fresh).is_empty(), "nothing is recorded");
    let folders: Vec<_> = std::fs::read_dir(app.publications()).unwrap().collect();
    assert!(folders.is_empty(), "nothing is cached: {folders:?}");
    // Asked again, it draws once, and serves it.
    let (status, body) = http(fresh.addr, "POST", "/api/v1/draws", Some(&draw_request(&task))).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let bundle = served_as_recorded(&app, &fresh, &task).await;
    asked_again(&fresh, &task, &bundle);
    drop(fresh);
    ledger_verify(&app);
}

async fn killed_after_the_draw_entry_the_service_serves_the_recorded_draw(db: TestDb) {
    let (app, task) = announced(&db).await;
    let config = config_file(&app);
    draw_and_die(serve(&config, Some("before_cache")), &task, "before_cache");
    let (record, _) = app.state.desk.draw_record(&task).await.unwrap().expect("recorded");
    assert!(!app.bundle(&record.bundle).exists(), "died before caching it");

    let fresh = serve(&config, None);
    assert_eq!(draws(&fresh).len(), 1);
    let bundle = served_as_recorded(&app, &fresh, &task).await;
    assert_eq!(bundle, record.bundle);
    asked_again(&fresh, &task, &bundle);
    drop(fresh);
    ledger_verify(&app);
}

async fn killed_while_caching_the_service_serves_the_draw_and_clears_the_scratch(db: TestDb) {
    let (app, task) = announced(&db).await;
    let config = config_file(&app);
    draw_and_die(serve(&config, Some("before_swap")), &task, "before_swap");
    let (record, _) = app.state.desk.draw_record(&task).await.unwrap().expect("recorded");
    assert!(
        !app.bundle(&record.bundle).exists(),
        "died before the folder was in place"
    );
    let left = scratch_folders(&app);
    assert!(
        left.len() == 1 && left[0].starts_with(&format!(".{}.sync-", record.bundle)),
        "the half-made folder is left: {left:?}"
    );

    // A fresh process removes it (its maker is gone) and serves the draw.
    let fresh = serve(&config, None);
    assert!(scratch_folders(&app).is_empty(), "{:?}", scratch_folders(&app));
    let bundle = served_as_recorded(&app, &fresh, &task).await;
    asked_again(&fresh, &task, &bundle);
    drop(fresh);
    ledger_verify(&app);
}
