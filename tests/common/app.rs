//! A service on a fresh data folder, driven through its router without a
//! socket: the one test app of every test file that needs a service.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::Value;
use shuangsui::clock::Clock;
use shuangsui::pools::Pools;
use shuangsui::service::config::{Config, Token};
use shuangsui::service::{app, state, AppState};
use tower::ServiceExt;

pub const TOKEN: &str = "operator-token-for-tests";

pub struct TestApp {
    pub root: tempfile::TempDir,
    pub config: Config,
    pub state: AppState,
    pub clock: std::sync::Arc<dyn Clock>,
}

/// A holiday table for `year` with one holiday, 元旦 (the official tables
/// are tested in tests/calendar.rs).
pub fn test_table(year: i32) -> String {
    format!("year = {year}\nsource = \"test\"\n[[holiday]]\nname = \"元旦\"\ndays = [\"{year}-01-01\"]\n")
}

/// Test tables for the years around the test clock's and the wall clock's
/// year, so deadlines never run off the table whatever day the tests run.
pub fn test_tables(holidays: &Path) {
    let this_year = chrono::Datelike::year(&chrono::Utc::now());
    for year in 2025.min(this_year - 1)..=2027.max(this_year + 1) {
        std::fs::write(holidays.join(format!("{year}.toml")), test_table(year)).unwrap();
    }
}

impl TestApp {
    /// `shuangsui ledger ARGS --data-dir DIR` on this service's data folder,
    /// as an auditor runs it beside the service, with nothing taken from the
    /// environment: the exit code and all it printed.
    pub fn ledger_cli(&self, args: &[&str]) -> (Option<i32>, String) {
        self.ledger_command(args, None)
    }

    /// The same, told the database by `SHUANGSUI_DATABASE_URL`, as on a host
    /// whose data folder does not hold the database's password.
    pub fn ledger_cli_on_database(&self, args: &[&str]) -> (Option<i32>, String) {
        self.ledger_command(args, Some(&self.config.database_url))
    }

    fn ledger_command(&self, args: &[&str], database: Option<&str>) -> (Option<i32>, String) {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_shuangsui"));
        command
            .arg("ledger")
            .args(args)
            .arg("--data-dir")
            .arg(&self.config.data_dir)
            .env_remove("SHUANGSUI_DATABASE_URL")
            .env_remove("SHUANGSUI_MIGRATION_DATABASE_URL")
            .env_remove("SHUANGSUI_DATA_DIR")
            .env_remove("SHUANGSUI_CHECKPOINT_KEY_FILE")
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if let Some(url) = database {
            command.env("SHUANGSUI_DATABASE_URL", url);
        }
        let output = command.output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        (output.status.code(), text)
    }

    /// Adds the plan `name` and announces it with a commitment; its task id.
    pub async fn announce_plan(&self, name: &str, toml: &str) -> String {
        self.add_plan(name, toml);
        let (status, body) = self
            .operator(
                "/api/v1/announcements",
                serde_json::json!({"plan": name, "seed_method": {"kind": "commit"}}),
            )
            .await;
        assert!(status.is_success(), "{body}");
        body["task_id"].as_str().unwrap().to_owned()
    }

    /// A service on the small pool of `pool_seed`, with no plans yet.
    pub async fn spawn(pool_seed: u64) -> TestApp {
        Self::spawn_with(pool_seed, |_| {}).await
    }

    /// The same, with the configuration changed by `adjust` before the first
    /// start (e.g. another database).
    pub async fn spawn_with(pool_seed: u64, adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_on(
            pool_seed,
            std::sync::Arc::new(super::common::TestClock::new()),
            test_tables,
            adjust,
        )
        .await
    }

    /// A service on the small pool of `pool_seed` and on `clock`, with the
    /// holiday tables `fill` writes into the (empty) folder and the
    /// configuration changed by `adjust` before the first start.
    pub async fn spawn_on(
        pool_seed: u64,
        clock: std::sync::Arc<dyn Clock>,
        fill: impl FnOnce(&Path),
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        let root = tempfile::tempdir().unwrap();
        let pools = super::common::small_pool(root.path(), pool_seed);
        let plans_dir = root.path().join("plans");
        std::fs::create_dir_all(&plans_dir).unwrap();
        let holidays = root.path().join("holidays");
        std::fs::create_dir_all(&holidays).unwrap();
        fill(&holidays);
        let mut config = Config::at(root.path().join("state"), pools, plans_dir, holidays);
        config.token = Token::new(TOKEN.into());
        // A debug build on a loaded machine may take longer than the
        // default wait; tests that want a 202 ask for it (`Prefer:
        // respond-async`) or set their own wait.
        config.job_wait = std::time::Duration::from_secs(120);
        // Ceremonies a moment ahead, so tests need not wait a day; the lead
        // time itself is tested with its default (tests/service.rs).
        config.seed_times.ceremony_lead = std::time::Duration::ZERO;
        adjust(&mut config);
        let state = state(&config, clock.clone()).await.unwrap();
        TestApp {
            root,
            config,
            state,
            clock,
        }
    }

    /// The same data folder opened again, as after a restart.
    pub async fn restart(&mut self) {
        self.state = state(&self.config, self.clock.clone()).await.unwrap();
    }

    pub fn holidays(&self) -> PathBuf {
        self.config.holidays_dir.clone()
    }

    /// Adds `NAME.toml` to the plans folder and returns the plan.
    pub fn add_plan(&self, name: &str, toml: &str) -> shuangsui::plan::Plan {
        std::fs::write(self.config.plans_dir.join(format!("{name}.toml")), toml).unwrap();
        shuangsui::plan::Plan::parse_toml(toml, &format!("{name}.toml")).unwrap()
    }

    pub fn pools(&self) -> shuangsui::pools::Pools {
        super::common::load_pools(&self.config.pools_dir)
    }

    /// A second instance on the same data folder and database.
    pub async fn other_instance(&self) -> AppState {
        state(&self.config, self.clock.clone()).await.unwrap()
    }

    pub fn router(&self) -> Router {
        app(self.state.clone())
    }

    pub async fn call(&self, method: &str, uri: &str, body: Option<Value>, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.router().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await.unwrap();
        let value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    pub async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.call("GET", uri, None, None).await
    }

    pub async fn operator(&self, uri: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", uri, Some(body), Some(TOKEN)).await
    }

    pub fn publications(&self) -> PathBuf {
        self.config.data_dir.join("publications")
    }

    pub fn secrets(&self) -> PathBuf {
        self.config.data_dir.join("secrets")
    }

    pub fn bundle(&self, name: &str) -> PathBuf {
        self.publications().join(name)
    }

    pub fn pools_dir(&self) -> &Path {
        &self.config.pools_dir
    }
}

/// The most common township of the pool's targets: plans restricted to it
/// keep the draws small enough to take every eligible target.
pub fn busiest_township(pools: &Pools) -> String {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for target in &pools.targets {
        *count.entry(pools.townships.name(target.township)).or_default() += 1;
    }
    count.into_iter().max_by_key(|(_, n)| *n).unwrap().0.to_owned()
}

/// Two items of one department with the same field and the same scope, so
/// a target eligible for one is eligible for the other and a visit may
/// carry both.
pub fn twin_items(pools: &Pools) -> (String, [String; 2]) {
    for (k, a) in pools.items.iter().enumerate() {
        if let Some(b) = pools.items[k + 1..].iter().find(|b| {
            b.department == a.department
                && b.field == a.field
                && b.entity_types == a.entity_types
                && b.industries == a.industries
        }) {
            return (a.department.clone(), [a.code.to_string(), b.code.to_string()]);
        }
    }
    panic!("the pool has no two items of the same field and scope")
}

/// A plan over two twin items in one township, drawing `percent` of every
/// class, excluding targets inspected for the same item within a year, with
/// the previous-inspector rule on, so history changes what is drawn.
/// `extra` is TOML placed after the items (e.g. `merge_with = [...]`).
pub fn twin_plan(pools: &Pools, id: &str, name: &str, date: &str, percent: u32, extra: &str) -> String {
    let (department, [one, two]) = twin_items(pools);
    format!(
        r#"id = {id:?}
name = {name:?}
department = {department:?}
inspection_date = {date:?}
items = [{one:?}, {two:?}]
{extra}
[targets]
townships = [{township:?}]

[selection]
ratios = {{ A = "{percent}", B = "{percent}", C = "{percent}", D = "{percent}" }}
exclude_inspected_within_days = 365

[teams]
size = 2
workload_cap = 40

[recusal]
same_township = true
previous_inspector = true
"#,
        township = busiest_township(pools)
    )
}
