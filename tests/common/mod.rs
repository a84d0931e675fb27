//! Helpers shared by the integration tests: small generated pools, plans that
//! fit them, and a way to rewrite pool files (shuffle, re-encode) without
//! changing their content.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use shuangsui::draw::{draw, Outcome};
use shuangsui::generate::{generate, GenOptions};
use shuangsui::history::History;
use shuangsui::plan::Plan;
use shuangsui::pools::{load, LoadOptions, Pools};
use shuangsui::seed::Seed;

pub fn small_options(seed: u64) -> GenOptions {
    GenOptions {
        seed,
        items: 40,
        inspectors: 120,
        targets: 1500,
        conflicts: 150,
    }
}

/// Generates a small pool folder inside `root` and returns its path.
pub fn small_pool(root: &Path, seed: u64) -> PathBuf {
    let dir = root.join(format!("pool-{seed}"));
    generate(&small_options(seed), &dir).expect("generating a small pool");
    dir
}

pub fn load_pools(dir: &Path) -> Pools {
    load(dir, LoadOptions::default()).unwrap_or_else(|p| panic!("pool {} does not load:\n{p}", dir.display()))
}

/// The department with the most items, and up to `n` of its items that share
/// its most common enforcement field (so visits can merge several items).
pub fn busiest_items(pools: &Pools, n: usize) -> (String, Vec<String>) {
    let mut by_field: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for item in &pools.items {
        by_field
            .entry((&item.department, &item.field))
            .or_default()
            .push(item.code.as_str());
    }
    let ((department, _), codes) = by_field
        .into_iter()
        .max_by_key(|(_, codes)| codes.len())
        .expect("items");
    (
        department.to_owned(),
        codes.into_iter().take(n).map(str::to_owned).collect(),
    )
}

/// A plan over the busiest department's items, as TOML text.
pub fn plan_toml(pools: &Pools, items: usize, extra: &str) -> String {
    let (department, codes) = busiest_items(pools, items);
    let codes: Vec<String> = codes.iter().map(|c| format!("{c:?}")).collect();
    format!(
        r#"id = "TEST-1"
name = "测试计划"
department = "{department}"
inspection_date = "2026-03-02"
items = [{}]
{extra}
[teams]
size = 2
workload_cap = 40

[recusal]
same_township = true
previous_inspector = true
"#,
        codes.join(", ")
    )
}

pub fn plan(pools: &Pools, items: usize, extra: &str) -> Plan {
    Plan::parse_toml(&plan_toml(pools, items, extra), "test.toml").expect("test plan parses")
}

pub fn seed(n: u64) -> Seed {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&n.to_be_bytes());
    Seed::from_bytes(bytes)
}

pub fn draw_ok(pools: &Pools, plan: &Plan, seed: &Seed) -> Outcome {
    draw(pools, plan, &History::default(), seed).unwrap_or_else(|e| panic!("draw failed: {e}"))
}

/// Rewrites every CSV of `from` into `to`: rows in reverse order (header
/// kept first), columns rotated, CRLF line ends, GBK bytes.
pub fn rewrite_pool(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let mut reader = csv::Reader::from_path(&path).unwrap();
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        let mut rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        rows.reverse();
        let rotate = |mut v: Vec<String>| {
            v.rotate_left(1);
            v
        };
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        writer.write_record(rotate(header)).unwrap();
        for row in rows {
            writer.write_record(rotate(row)).unwrap();
        }
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
        assert!(!unmappable, "{} has text GBK cannot hold", path.display());
        std::fs::write(to.join(path.file_name().unwrap()), gbk).unwrap();
    }
}

/// Copies a pool folder so a test can damage one file.
pub fn copy_pool(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

/// A participating department for a joint plan with the busiest department
/// as initiator: the other department whose items' fields are held by the
/// most valid officers, and up to `n` of its items (the best-staffed first).
pub fn participant_items(pools: &Pools, n: usize) -> (String, Vec<String>) {
    let (initiator, _) = busiest_items(pools, 1);
    let date = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let holders = |department: &str, field: &str| {
        pools
            .inspectors
            .iter()
            .filter(|o| o.department == department && o.valid_until >= date && o.areas.iter().any(|a| a == field))
            .count()
    };
    let mut best: BTreeMap<&str, Vec<(usize, &str)>> = BTreeMap::new();
    for item in pools.items.iter().filter(|i| i.department != initiator) {
        best.entry(&item.department)
            .or_default()
            .push((holders(&item.department, &item.field), item.code.as_str()));
    }
    let (department, mut items) = best
        .into_iter()
        .max_by_key(|(_, items)| items.iter().map(|(h, _)| *h).max())
        .expect("a second department with items");
    items.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    (
        department.to_owned(),
        items.into_iter().take(n).map(|(_, c)| c.to_owned()).collect(),
    )
}

/// A joint plan: the busiest department initiates with `own` of its items,
/// the best-staffed other department joins with `joined` of its items.
pub fn joint_plan_toml(pools: &Pools, own: usize, joined: usize, extra: &str) -> String {
    let (department, mut codes) = busiest_items(pools, own);
    let (participant, theirs) = participant_items(pools, joined);
    codes.extend(theirs);
    let codes: Vec<String> = codes.iter().map(|c| format!("{c:?}")).collect();
    format!(
        r#"id = "JOINT-1"
name = "联合抽查测试计划"
department = "{department}"
joint = ["{participant}"]
inspection_date = "2026-03-02"
items = [{}]
{extra}
[teams]
size = 2
workload_cap = 40

[recusal]
same_township = true
previous_inspector = true
"#,
        codes.join(", ")
    )
}

/// The day the test app's clock starts: 09:00 Beijing time on 5 January
/// 2026, before the inspection date of every plan the tests announce, so
/// that no test depends on the day it runs.
pub const TEST_START: &str = "2026-01-05T01:00:00Z";

/// The test app's clock: it runs at the wall clock's pace (timeouts, jobs
/// and ceremonies a moment ahead behave as in real time) from
/// [`TEST_START`].
pub struct TestClock {
    start: chrono::DateTime<chrono::Utc>,
    started: std::time::Instant,
}

impl TestClock {
    pub fn new() -> TestClock {
        TestClock {
            start: TEST_START.parse().unwrap(),
            started: std::time::Instant::now(),
        }
    }
}

impl Default for TestClock {
    fn default() -> Self {
        TestClock::new()
    }
}

impl shuangsui::clock::Clock for TestClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.start + chrono::TimeDelta::from_std(self.started.elapsed()).unwrap()
    }
}
