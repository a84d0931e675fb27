//! The command line end to end: draw a bundle, verify it, and see every kind
//! of tampering named; bad input is refused with file, line and field, and
//! leaves nothing behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

fn shuangsui(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shuangsui"))
        .args(args)
        .output()
        .expect("running shuangsui")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

struct Drawn {
    _root: tempfile::TempDir,
    pool: PathBuf,
    bundle: PathBuf,
    plan: PathBuf,
}

const SEED: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn draw_bundle(pool_seed: u64) -> Drawn {
    let root = tempfile::tempdir().unwrap();
    let pool = small_pool(root.path(), pool_seed);
    let plan = root.path().join("plan.toml");
    std::fs::write(&plan, plan_toml(&load_pools(&pool), 3, "")).unwrap();
    let out = root.path().join("bundles");
    let output = draw_cmd(s(&plan), SEED, s(&pool), s(&out), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let bundle = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    assert!(bundle.join("manifest.json").is_file() && bundle.join("public/assignments.csv").is_file());
    Drawn {
        _root: root,
        pool,
        bundle,
        plan,
    }
}

/// `shuangsui draw` with the usual arguments, and any `extra` ones.
fn draw_cmd(plan: &str, seed: &str, data: &str, out: &str, extra: &[&str]) -> Output {
    let mut args = vec!["draw", "--plan", plan, "--seed", seed, "--data", data, "--out", out];
    args.extend_from_slice(extra);
    shuangsui(&args)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn verify(bundle: &Path, pool: &Path) -> Output {
    shuangsui(&["verify", s(bundle), "--data", s(pool)])
}

#[test]
fn a_fresh_bundle_verifies() {
    let d = draw_bundle(11);
    let output = verify(&d.bundle, &d.pool);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("verified"));
    let public = verify(&d.bundle.join("public"), &d.pool);
    assert_eq!(public.status.code(), Some(0), "{}", text(&public));
}

#[test]
fn the_public_copy_leaves_out_risk_classes() {
    let d = draw_bundle(12);
    let public = std::fs::read_to_string(d.bundle.join("public/assignments.csv")).unwrap();
    let full = std::fs::read_to_string(d.bundle.join("assignments.csv")).unwrap();
    assert!(full.starts_with('\u{feff}') && full.contains("信用风险分类"));
    assert!(!public.contains("信用风险分类"));
    let manifest = std::fs::read_to_string(d.bundle.join("public/manifest.json")).unwrap();
    assert!(!manifest.contains("strata") && manifest.contains("\"conflicts\""));
}

#[test]
fn a_changed_seed_is_caught() {
    let d = draw_bundle(13);
    let path = d.bundle.join("manifest.json");
    let manifest = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, manifest.replace(SEED, &SEED.replace('9', "8"))).unwrap();
    let output = verify(&d.bundle, &d.pool);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("assignments.csv line"), "{}", text(&output));
}

#[test]
fn an_edited_row_is_named() {
    let d = draw_bundle(14);
    let path = d.bundle.join("assignments.csv");
    let csv = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    let victim = lines[3];
    let leader = victim.split(',').nth(5).unwrap();
    let edited = csv.replacen(victim, &victim.replacen(leader, "EDITED-1", 1), 1);
    std::fs::write(&path, edited).unwrap();
    let output = verify(&d.bundle, &d.pool);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("line 4 differs"), "{}", text(&output));
}

#[test]
fn a_changed_pool_is_refused_naming_the_file() {
    let d = draw_bundle(15);
    let changed = d.pool.with_file_name("changed");
    copy_pool(&d.pool, &changed);
    let path = changed.join("inspectors.csv");
    let csv = std::fs::read_to_string(&path).unwrap();
    // One officer's name changes: the content, and so the snapshot, differs.
    let line = csv.lines().nth(1).unwrap();
    let fields: Vec<&str> = line.split(',').collect();
    let renamed = line.replacen(fields[1], &format!("{}某", fields[1]), 1);
    std::fs::write(&path, csv.replacen(line, &renamed, 1)).unwrap();
    let output = verify(&d.bundle, &changed);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("inspectors.csv in the pool folder is not the snapshot"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_draw_is_never_redone_in_place() {
    let d = draw_bundle(16);
    let before = std::fs::read(d.bundle.join("manifest.json")).unwrap();
    let out = d.bundle.parent().unwrap();
    let output = draw_cmd(s(&d.plan), SEED, s(&d.pool), s(out), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("already exists"), "{}", text(&output));
    assert_eq!(std::fs::read(d.bundle.join("manifest.json")).unwrap(), before);
}

#[test]
fn history_from_an_earlier_bundle_excludes_its_targets() {
    let d = draw_bundle(17);
    let plan = std::fs::read_to_string(&d.plan)
        .unwrap()
        .replace("[teams]", "[selection]\nexclude_inspected_within_days = 365\n\n[teams]");
    let plan_path = d.plan.with_file_name("plan2.toml");
    std::fs::write(&plan_path, plan).unwrap();
    let out = d.bundle.parent().unwrap();
    let seed = SEED.replace('0', "1");
    let output = draw_cmd(s(&plan_path), &seed, s(&d.pool), s(out), &["--history", s(&d.bundle)]);
    assert!(output.status.success(), "{}", text(&output));
    let second = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    let codes = |bundle: &Path| -> std::collections::BTreeSet<(String, String)> {
        let csv = std::fs::read_to_string(bundle.join("assignments.csv")).unwrap();
        csv.lines()
            .skip(1)
            .flat_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                f[3].split(';')
                    .map(|i| (f[1].to_owned(), i.to_owned()))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (first, again) = (codes(&d.bundle), codes(&second));
    assert!(!first.is_empty() && !again.is_empty());
    assert!(
        first.is_disjoint(&again),
        "a (target, item) inspected within 365 days was drawn again"
    );
    let output = verify(&second, &d.pool);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}

#[test]
fn ceremony_and_random_seeds_are_recorded() {
    let d = draw_bundle(18);
    let out = d.bundle.parent().unwrap();
    let output = draw_cmd(s(&d.plan), "ceremony:3141 5926 5358 9793 2384", s(&d.pool), s(out), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let bundle = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    let manifest = std::fs::read_to_string(bundle.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"kind\": \"ceremony\"") && manifest.contains("31415926535897932384"));
    assert_eq!(verify(&bundle, &d.pool).status.code(), Some(0));

    let output = draw_cmd(s(&d.plan), "random", s(&d.pool), s(out), &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("operating-system entropy"));
}

/// Damages one file of a copy of a good pool and checks the message and that
/// no bundle appears.
fn assert_refused(name: &str, damage: impl Fn(&str) -> String, expected: &[&str]) {
    let root = tempfile::tempdir().unwrap();
    let good = small_pool(root.path(), 19);
    let plan = root.path().join("plan.toml");
    std::fs::write(&plan, plan_toml(&load_pools(&good), 2, "")).unwrap();
    let bad = root.path().join("bad");
    copy_pool(&good, &bad);
    let path = bad.join(name);
    std::fs::write(&path, damage(&std::fs::read_to_string(&path).unwrap())).unwrap();

    let check = shuangsui(&["check", "--data", s(&bad), "--as-of", "2026-01-01"]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    for part in expected {
        assert!(text(&check).contains(part), "expected {part:?} in:\n{}", text(&check));
    }
    let out = root.path().join("out");
    let draw = draw_cmd(s(&plan), SEED, s(&bad), s(&out), &[]);
    assert_eq!(draw.status.code(), Some(2), "{}", text(&draw));
    assert!(
        !out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(),
        "a bundle was written from bad data"
    );
}

fn replace_line(csv: &str, line: usize, f: impl Fn(&str) -> String) -> String {
    csv.lines()
        .enumerate()
        .map(|(i, l)| if i + 1 == line { f(l) } else { l.to_owned() } + "\n")
        .collect()
}

#[test]
fn a_bad_check_character_is_named() {
    assert_refused(
        "targets.csv",
        |csv| {
            replace_line(csv, 5, |l| {
                let last = l.as_bytes()[17] as char;
                let wrong = if last == '0' { '1' } else { '0' };
                format!("{}{wrong}{}", &l[..17], &l[18..])
            })
        },
        &["targets.csv:5: credit_code: 统一社会信用代码 check character is"],
    );
}

#[test]
fn a_duplicate_id_names_both_lines() {
    assert_refused(
        "inspectors.csv",
        |csv| {
            let third = csv.lines().nth(2).unwrap().to_owned();
            format!("{csv}{third}\n")
        },
        &["duplicate id", "first on line 3"],
    );
}

#[test]
fn unknown_departments_and_dangling_conflicts_are_named() {
    assert_refused(
        "items.csv",
        |csv| replace_line(csv, 2, |l| l.replace("盘州市", "某县")),
        &["items.csv:2: department: unknown department"],
    );
    assert_refused(
        "conflicts.csv",
        |csv| replace_line(csv, 3, |l| format!("NOBODY-1{}", &l[l.find(',').unwrap()..])),
        &["conflicts.csv:3: cert_no: officer NOBODY-1 is not in inspectors.csv"],
    );
}

#[test]
fn a_missing_column_and_invalid_bytes_are_refused() {
    assert_refused(
        "targets.csv",
        |csv| replace_line(csv, 1, |l| l.replace("信用风险分类", "风险")),
        &["targets.csv:1: risk_class: missing column"],
    );
    assert_refused("departments.csv", |_| String::new(), &["departments.csv: is empty"]);
}

#[test]
fn expired_certificates_are_reported_by_check() {
    let root = tempfile::tempdir().unwrap();
    let pool = small_pool(root.path(), 20);
    let output = shuangsui(&["check", "--data", s(&pool), "--as-of", "2040-01-01"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("expired on"), "{}", text(&output));
    let output = shuangsui(&["check", "--data", s(&pool), "--as-of", "2026-01-01"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("snapshot SHA-256"));
}

#[test]
fn invalid_utf8_is_refused_with_its_line() {
    let root = tempfile::tempdir().unwrap();
    let pool = small_pool(root.path(), 21);
    let path = pool.join("targets.csv");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"\xff\xff\n");
    std::fs::write(&path, bytes).unwrap();
    // 1,500 rows after the header: the bad bytes are line 1,502.
    let output = shuangsui(&["check", "--data", s(&pool), "--encoding", "utf-8"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).contains("targets.csv:1502: invalid UTF-8"),
        "{}",
        text(&output)
    );
}

#[test]
fn line_numbers_hold_across_pieces_of_a_large_file() {
    // Large enough that the target directory is parsed in several pieces.
    let root = tempfile::tempdir().unwrap();
    let pool = root.path().join("pool");
    let options = shuangsui::generate::GenOptions {
        targets: 12_000,
        ..small_options(24)
    };
    shuangsui::generate::generate(&options, &pool).unwrap();
    let path = pool.join("targets.csv");
    assert!(
        std::fs::metadata(&path).unwrap().len() > 1 << 20,
        "the file must span several pieces"
    );
    let csv = std::fs::read_to_string(&path).unwrap();
    let damaged: String = csv
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let line = i + 1;
            if [2, 3, 6_001, 12_001].contains(&line) {
                format!("{},Q\n", l.rsplit_once(',').unwrap().0)
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&path, damaged).unwrap();
    let output = shuangsui(&["check", "--data", s(&pool)]);
    assert_eq!(output.status.code(), Some(1));
    let out = text(&output);
    let lines: Vec<String> = out
        .lines()
        .filter(|l| l.contains("is not A, B, C or D"))
        .map(|l| l.split(':').nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(lines, ["2", "3", "6001", "12001"]);
}

#[test]
fn a_bundle_of_another_algorithm_version_is_refused() {
    let d = draw_bundle(25);
    let path = d.bundle.join("manifest.json");
    let manifest = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        manifest.replace("\"algorithm_version\": 1,", "\"algorithm_version\": 2,"),
    )
    .unwrap();
    let output = verify(&d.bundle, &d.pool);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("algorithm version 2"), "{}", text(&output));
}

fn ledger_verify(data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shuangsui"))
        .args(["ledger", "verify", "--data-dir", s(data_dir)])
        .env_remove("SHUANGSUI_DATABASE_URL")
        .env_remove("SHUANGSUI_DATA_DIR")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

/// A data folder as the service leaves it after its first start.
fn started_data_folder(root: &Path) -> PathBuf {
    let dir = root.join("state");
    let config = shuangsui::service::config::Config::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("config/shuangsui.toml"),
        |_| None,
    )
    .unwrap()
    .with_data_dir(dir.clone(), false);
    let mut config = config;
    config.holidays_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/holidays");
    // The live pools: an explicit small folder, so nothing is seeded.
    config.pools_dir = common::small_pool(root, 5);
    config.sample_pools = None;
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(shuangsui::service::state(
            &config,
            std::sync::Arc::new(shuangsui::clock::SystemClock),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    dir
}

#[test]
fn ledger_verify_runs_on_a_started_data_folder() {
    let root = tempfile::tempdir().unwrap();
    let dir = started_data_folder(root.path());
    let output = ledger_verify(&dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("ledger verified") && text(&output).contains("draws checked: 0"));
}

#[test]
fn ledger_verify_of_a_wrong_folder_is_refused_and_creates_nothing() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("no-such-folder");
    let output = ledger_verify(&missing);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("does not exist"), "{}", text(&output));
    assert!(!missing.exists(), "verify created the folder");
    // A folder that exists but is no data folder: no ledger in it.
    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let output = ledger_verify(&empty);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("no ledger database") && text(&output).contains("ledger.db"),
        "{}",
        text(&output)
    );
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "verify created files");
    assert!(!text(&output).contains("ledger verified"));
}

#[test]
fn ledger_verify_refuses_an_empty_or_missing_ledger_beside_published_draws() {
    let root = tempfile::tempdir().unwrap();
    let dir = started_data_folder(root.path());
    // A bundle is published, but the ledger beside it records nothing: it
    // is not the ledger the draw was recorded in.
    std::fs::create_dir_all(dir.join("publications/TEST-1_0123456789ab")).unwrap();
    let output = ledger_verify(&dir);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("is empty") && text(&output).contains("1 published draw"),
        "{}",
        text(&output)
    );
    std::fs::remove_file(dir.join("ledger.db")).unwrap();
    let output = ledger_verify(&dir);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(!dir.join("ledger.db").exists(), "verify created a ledger");
}

#[test]
fn ledger_verify_of_a_postgres_data_folder_without_its_url_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("state");
    std::fs::create_dir_all(dir.join("publications")).unwrap();
    std::fs::write(
        dir.join("database.toml"),
        "kind = \"postgres\"\ndatabase = \"postgres://shuangsui@db.internal:5432/shuangsui\"\n",
    )
    .unwrap();
    let output = ledger_verify(&dir);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let message = text(&output);
    assert!(
        message.contains("database.toml")
            && message.contains("postgres://shuangsui@db.internal:5432/shuangsui")
            && message.contains("SHUANGSUI_DATABASE_URL"),
        "{message}"
    );
    assert!(!dir.join("ledger.db").exists(), "verify created a ledger");
}

#[test]
fn a_beacon_seeded_bundle_verifies_and_a_forged_round_does_not() {
    use shuangsui::seed::{BeaconRecord, SeedSource, SeedSpec};
    // quicknet round 1, as published by drand.
    let signature =
        hex::decode("b55e7cb2d5c613ee0b2e28d6750aabbb78c39dcc96bd9d38c2c2e12198df95571de8e8e402a0cc48871c7089a2b3af4b")
            .unwrap();
    let seed = SeedSpec::beacon(BeaconRecord::verified("quicknet", 1, &signature).unwrap()).unwrap();
    let root = tempfile::tempdir().unwrap();
    let pool = small_pool(root.path(), 26);
    let pools = load_pools(&pool);
    let plan = plan(&pools, 2, "");
    let history = shuangsui::history::History::default();
    let outcome = draw_ok(&pools, &plan, &seed.seed);
    let (confidential, public) = shuangsui::bundle::contents(
        &pools,
        &plan,
        &history,
        &[],
        &seed,
        &outcome,
        &shuangsui::clock::OfficeClock::system(shuangsui::clock::Zone::default()).stamp(),
    );
    let bundle = shuangsui::bundle::write(&root.path().join("out"), "beacon", &confidential, &public).unwrap();
    let output = verify(&bundle, &pool);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        text(&output).contains("quicknet round 1, signature verified"),
        "{}",
        text(&output)
    );

    // The same seed claimed for round 2: the signature no longer verifies.
    let path = bundle.join("manifest.json");
    let manifest = std::fs::read_to_string(&path).unwrap();
    assert!(matches!(seed.source, SeedSource::Beacon(_)));
    std::fs::write(&path, manifest.replace("\"round\": 1,", "\"round\": 2,")).unwrap();
    let output = verify(&bundle, &pool);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
}

/// Runs the independent verifier, if Python is installed.
fn verify_py(bundle: &Path, pool: &Path) -> Option<Output> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/verify.py");
    Command::new("python3")
        .arg(script)
        .arg(bundle)
        .arg("--data")
        .arg(pool)
        .output()
        .ok()
}

fn assert_verified_by_both(bundle: &Path, pool: &Path) {
    let output = verify(bundle, pool);
    assert!(output.status.success(), "{}", text(&output));
    if let Some(output) = verify_py(bundle, pool) {
        assert!(output.status.success(), "verify.py: {}", text(&output));
    }
}

/// The rows of a confidential assignments.csv, by header name.
fn rows(bundle: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(bundle.join("assignments.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

#[test]
fn a_joint_bundle_verifies_with_both_verifiers_and_names_the_departments() {
    let root = tempfile::tempdir().unwrap();
    let pool = small_pool(root.path(), 41);
    let pools = load_pools(&pool);
    let plan = root.path().join("joint.toml");
    std::fs::write(
        &plan,
        joint_plan_toml(&pools, 2, 2, "[selection]\nratios = { A = 3, B = 3, C = 10, D = 30 }"),
    )
    .unwrap();
    let output = draw_cmd(s(&plan), SEED, s(&pool), s(&root.path().join("out")), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let bundle = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    assert_verified_by_both(&bundle, &pool);
    assert_verified_by_both(&bundle.join("public"), &pool);
    // Without the recusal list: each department's block held to its rules.
    let partial = pool_without_conflicts(&pool, &root.path().join("pool-without-conflicts"));
    assert_partially_verified_by_both(&bundle, &partial);
    let (initiator, _) = busiest_items(&pools, 1);
    for row in rows(&bundle) {
        let departments: Vec<&str> = row["检查部门"].split(';').collect();
        assert_eq!(departments[0], initiator);
        assert_eq!(row["检查人员"].split(';').count(), 2 * departments.len());
    }
    let header = std::fs::read_to_string(bundle.join("public/assignments.csv")).unwrap();
    assert!(header.starts_with("\u{feff}序号,统一社会信用代码,名称,抽查事项,抽查事项名称,组长,检查人员,检查部门\r\n"));
}

/// Two plans of one inspection date: TEST-1, then TEST-2 merging with it.
struct MergeSetup {
    root: tempfile::TempDir,
    pool: PathBuf,
    earlier: PathBuf,
}

fn merge_setup(pool_seed: u64) -> MergeSetup {
    let root = tempfile::tempdir().unwrap();
    let pool = small_pool(root.path(), pool_seed);
    let pools = load_pools(&pool);
    let plan = root.path().join("first.toml");
    std::fs::write(&plan, plan_toml(&pools, 2, "[selection]\ncount = 15")).unwrap();
    let output = draw_cmd(s(&plan), SEED, s(&pool), s(&root.path().join("out")), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let earlier = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    MergeSetup { root, pool, earlier }
}

impl MergeSetup {
    /// Draws a second plan (its TOML after `change`) merging with `merge`.
    fn draw(&self, change: impl Fn(String) -> String, merge: &[&Path]) -> Output {
        self.draw_into("out", change, merge)
    }

    fn draw_into(&self, out: &str, change: impl Fn(String) -> String, merge: &[&Path]) -> Output {
        // The first plan's items and one of another field, so that some
        // earlier teams may serve and others lack the field.
        let pools = load_pools(&self.pool);
        let (department, codes) = busiest_items(&pools, 2);
        let field = &pools.items.iter().find(|i| i.code.as_str() == codes[0]).unwrap().field;
        let other = pools
            .items
            .iter()
            .find(|i| i.department == department && &i.field != field)
            .unwrap();
        let text = plan_toml(&pools, 2, "[selection]\ncount = 15")
            .replace("id = \"TEST-1\"", "id = \"TEST-2\"\nmerge_with = [\"TEST-1\"]")
            .replace("items = [", &format!("items = [{:?}, ", other.code.as_str()));
        let plan = self.root.path().join("second.toml");
        std::fs::write(&plan, change(text)).unwrap();
        let mut extra = Vec::new();
        for bundle in merge {
            extra.extend(["--merge", s(bundle)]);
        }
        let seed = "1f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        draw_cmd(s(&plan), seed, s(&self.pool), s(&self.root.path().join(out)), &extra)
    }
}

#[test]
fn a_merged_visit_joins_the_earlier_one_by_the_rule_and_verifies() {
    let setup = merge_setup(46);
    let output = setup.draw(|t| t, &[&setup.earlier]);
    assert!(output.status.success(), "{}", text(&output));
    let bundle = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    assert!(bundle.join("merge.csv").is_file() && bundle.join("public/merge.csv").is_file());
    assert_verified_by_both(&bundle, &setup.pool);
    assert_verified_by_both(&bundle.join("public"), &setup.pool);
    // Without the recusal list: served visits and own teams held to §14.
    let partial = pool_without_conflicts(&setup.pool, &setup.root.path().join("pool-without-conflicts"));
    assert_partially_verified_by_both(&bundle, &partial);

    let earlier: std::collections::HashMap<String, String> = rows(&setup.earlier)
        .into_iter()
        .map(|r| (r["统一社会信用代码"].clone(), r["检查人员"].clone()))
        .collect();
    let count = |bundle: &Path| {
        let (mut served, mut own) = (0, 0);
        for row in rows(bundle) {
            let code = &row["统一社会信用代码"];
            match earlier.get(code) {
                None => assert_eq!(row["合并至"], "", "{code} is not an earlier visit"),
                Some(team) => {
                    assert_eq!(row["合并至"], "TEST-1");
                    if *team == row["检查人员"] {
                        served += 1;
                    } else {
                        own += 1;
                        let old: Vec<&str> = team.split(';').collect();
                        assert!(
                            row["检查人员"].split(';').all(|c| !old.contains(&c)),
                            "{code}: its own team shares officers with the earlier one"
                        );
                    }
                }
            }
        }
        (served, own)
    };
    let (served, own) = count(&bundle);
    assert!(served > 0, "no earlier team served: {served} served, {own} own");
    // Teams of three: no earlier team of two may serve, each visit draws
    // its own without the earlier officers.
    let output = setup.draw_into("threes", |t| t.replace("size = 2", "size = 3"), &[&setup.earlier]);
    assert!(output.status.success(), "{}", text(&output));
    let threes = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    assert_verified_by_both(&threes, &setup.pool);
    assert_partially_verified_by_both(&threes, &partial);
    let (served, own) = count(&threes);
    assert!(served == 0 && own > 0, "{served} served, {own} own");

    // An edited merge.csv is caught.
    let copy = setup.root.path().join("tampered");
    copy_tree(&bundle, &copy);
    let path = copy.join("merge.csv");
    let merge_csv = std::fs::read_to_string(&path).unwrap();
    let first_team = merge_csv.lines().nth(1).unwrap().rsplit(',').next().unwrap().to_owned();
    let swapped: Vec<&str> = first_team.split(';').rev().collect();
    std::fs::write(&path, merge_csv.replacen(&first_team, &swapped.join(";"), 1)).unwrap();
    let output = verify(&copy, &setup.pool);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
}

#[test]
fn merge_bundles_must_be_those_the_plan_names_of_the_same_date() {
    let setup = merge_setup(43);
    let refused = |output: Output, needle: &str| {
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        assert!(text(&output).contains(needle), "{}", text(&output));
    };
    refused(setup.draw(|t| t, &[]), "no bundle of it was given");
    refused(
        setup.draw(|t| t.replace("[\"TEST-1\"]", "[\"OTHER-1\"]"), &[&setup.earlier]),
        "is not named in merge_with",
    );
    refused(
        setup.draw(|t| t.replace("2026-03-02", "2026-03-09"), &[&setup.earlier]),
        "only plans of one inspection date can merge",
    );
    refused(setup.draw(|t| t, &[&setup.earlier, &setup.earlier]), "a second bundle");
    // second.toml as the last call wrote it; the earlier bundle twice over.
    let history = ["--history", s(&setup.earlier), "--merge", s(&setup.earlier)];
    let plan = setup.root.path().join("second.toml");
    refused(
        draw_cmd(
            s(&plan),
            SEED,
            s(&setup.pool),
            s(&setup.root.path().join("x")),
            &history,
        ),
        "both as history and to merge with",
    );
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            copy_tree(&path, &to.join(path.file_name().unwrap()));
        } else {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn the_cli_writes_a_bundles_creation_time_in_shanghai_time_in_whole_seconds() {
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let d = draw_bundle(19);
    let after = chrono::Utc::now();
    for manifest in ["manifest.json", "public/manifest.json"] {
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.bundle.join(manifest)).unwrap()).unwrap();
        let at = manifest["created_at"].as_str().unwrap();
        // 2026-03-01T09:00:00+08:00: the form bundles have always had.
        assert!(at.len() == 25 && at.ends_with("+08:00"), "{at}");
        let instant = chrono::DateTime::parse_from_rfc3339(at).unwrap();
        assert!(before <= instant && instant <= after, "{at}");
    }
}

/// Verification makes the bundle again with the code that made it, so
/// every figure of the manifest is checked, not only the hashes: counts and
/// per-class strata edited in a manifest (which no file hash covers) are
/// caught, by the independent verifier too.
#[test]
fn edited_counts_or_strata_in_a_manifest_are_caught() {
    let d = draw_bundle(23);
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit, &str); 3] = [
        (
            "manifest.json",
            |m| m["counts"]["visits"] = (m["counts"]["visits"].as_u64().unwrap() + 1).into(),
            "manifest.json: counts differ from the redraw",
        ),
        (
            "manifest.json",
            |m| m["strata"][0]["eligible"] = (m["strata"][0]["eligible"].as_u64().unwrap() + 1).into(),
            "manifest.json: strata differ from the redraw",
        ),
        (
            "public/manifest.json",
            |m| m["counts"]["item_checks"] = (m["counts"]["item_checks"].as_u64().unwrap() + 1).into(),
            "public/manifest.json: counts differ from the redraw",
        ),
    ];
    for (k, (file, edit, expected)) in edits.into_iter().enumerate() {
        let copy = d.bundle.parent().unwrap().join(format!("edited-{k}"));
        copy_tree(&d.bundle, &copy);
        let path = copy.join(file);
        let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut manifest);
        std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap() + "\n").unwrap();
        let checked = if file.starts_with("public/") {
            copy.join("public")
        } else {
            copy.clone()
        };
        let output = verify(&checked, &d.pool);
        assert_eq!(output.status.code(), Some(1), "{file}: {}", text(&output));
        assert!(text(&output).contains(expected), "{}", text(&output));
        if let Some(output) = verify_py(&checked, &d.pool) {
            assert_eq!(output.status.code(), Some(1), "verify.py, {file}: {}", text(&output));
        }
    }
}

/// A copy of the `.csv` files of `pool` without `conflicts.csv`: the pools
/// as one without the confidential recusal list holds them.
fn pool_without_conflicts(pool: &Path, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(pool).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.ends_with(".csv") && name != "conflicts.csv" {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
    to.to_owned()
}

/// Both verifiers say "partially verified" (exit 0) and name what they did
/// not check.
fn assert_partially_verified_by_both(bundle: &Path, pool: &Path) {
    let output = verify(bundle, pool);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let said = text(&output);
    assert!(
        said.contains("partially verified: ") && said.contains("NOT checked: ") && said.contains("NOT RE-DRAWN"),
        "{said}"
    );
    assert!(!said.contains("\nverified:"), "{said}");
    if let Some(output) = verify_py(bundle, pool) {
        assert_eq!(output.status.code(), Some(0), "verify.py: {}", text(&output));
        assert!(
            text(&output).contains("partially verified: "),
            "verify.py: {}",
            text(&output)
        );
    }
}

/// Both verifiers say NOT VERIFIED (exit 1); the Rust one names `needle`.
fn assert_refused_by_both(bundle: &Path, pool: &Path, needle: &str) {
    let output = verify(bundle, pool);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("NOT VERIFIED: ") && text(&output).contains(needle),
        "{}",
        text(&output)
    );
    if let Some(output) = verify_py(bundle, pool) {
        assert_eq!(output.status.code(), Some(1), "verify.py: {}", text(&output));
        assert!(text(&output).contains("NOT VERIFIED: "), "verify.py: {}", text(&output));
    }
}

/// A public copy whose listed teams are `edit`ed (and its plan by
/// `plan_edit`), with every hash and count recomputed, so that only a rule
/// can tell the teams are wrong.
fn forged_public_copy(
    bundle: &Path,
    to: &Path,
    edit: impl Fn(&mut Vec<Vec<String>>),
    plan_edit: impl Fn(&mut serde_json::Value),
) -> PathBuf {
    use shuangsui::snapshot::{bytes_hash, list_hash, record_hash};
    copy_tree(&bundle.join("public"), to);
    let path = to.join("assignments.csv");
    let csv = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = csv.split_inclusive("\r\n").map(str::to_owned).collect();
    let split = |line: &str| line.trim_end().split(',').map(str::to_owned).collect::<Vec<_>>();
    let mut teams: Vec<Vec<String>> = lines[1..]
        .iter()
        .map(|l| split(l)[6].split(';').map(str::to_owned).collect())
        .collect();
    edit(&mut teams);
    let mut results = Vec::new();
    for (line, team) in lines[1..].iter_mut().zip(&teams) {
        // No field of these rows holds a comma or a quote.
        let mut fields = split(line);
        fields[5] = team[0].clone();
        fields[6] = team.join(";");
        results.push(record_hash(&[&fields[1], &fields[3], &fields[6]]));
        *line = fields.join(",") + "\r\n";
    }
    let csv = lines.concat();
    std::fs::write(&path, &csv).unwrap();
    let manifest_path = to.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    let mut plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(to.join("plan.json")).unwrap()).unwrap();
    plan_edit(&mut plan);
    let plan_json = serde_json::to_string_pretty(&plan).unwrap() + "\n";
    std::fs::write(to.join("plan.json"), &plan_json).unwrap();
    manifest["plan"]["content"] = plan;
    manifest["plan"]["sha256"] = bytes_hash(plan_json.as_bytes()).to_string().into();
    manifest["result_sha256"] = list_hash("shuangsui/v1/result", results.iter()).to_string().into();
    let officers: std::collections::BTreeSet<&String> = teams.iter().flatten().collect();
    manifest["counts"]["officers"] = officers.len().into();
    for file in manifest["files"].as_array_mut().unwrap() {
        match file["name"].as_str().unwrap() {
            "assignments.csv" => file["sha256"] = bytes_hash(csv.as_bytes()).to_string().into(),
            "plan.json" => file["sha256"] = bytes_hash(plan_json.as_bytes()).to_string().into(),
            _ => {}
        }
    }
    std::fs::write(&manifest_path, serde_json::to_string_pretty(&manifest).unwrap() + "\n").unwrap();
    to.to_owned()
}

/// Without the recusal list both verifiers re-draw the targets and hold the
/// listed teams to every other rule (docs/VERIFY.md): the shipped quarterly
/// plan on the bundled pools verifies partially, and a team with an officer
/// of another department, or teams over the workload cap, do not verify,
/// though every hash has been made to fit.
#[test]
fn without_the_recusal_list_a_bundle_verifies_partially_and_only_the_rules_catch_forged_teams() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("bundles");
    let output = draw_cmd(
        s(&repo.join("config/plans/quarterly-scjg.toml")),
        "ceremony:2026-0112-0930-4471-8265-3390",
        s(&repo.join("data")),
        s(&out),
        &[],
    );
    assert!(output.status.success(), "{}", text(&output));
    let bundle = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
    let pool = pool_without_conflicts(&repo.join("data"), &root.path().join("pool"));

    assert_partially_verified_by_both(&bundle, &pool);
    // Nothing was forged on the way: the untouched public copy passes too.
    let untouched = forged_public_copy(&bundle, &root.path().join("untouched"), |_| {}, |_| {});
    assert_partially_verified_by_both(&untouched, &pool);

    // One member of the first team swapped for an officer of another department.
    let pools = load_pools(&repo.join("data"));
    let department = pools
        .inspectors
        .iter()
        .find(|o| o.cert.as_str() == rows(&bundle)[0]["组长"])
        .unwrap()
        .department
        .clone();
    let stranger = pools
        .inspectors
        .iter()
        .find(|o| o.department != department)
        .unwrap()
        .cert
        .to_string();
    let forged = forged_public_copy(
        &bundle,
        &root.path().join("stranger"),
        |teams| teams[0][1] = stranger.clone(),
        |_| {},
    );
    assert_refused_by_both(&forged, &pool, &format!("officer {stranger} may not inspect"));
    assert_refused_by_both(&forged, &pool, "in another department");

    // The plan's cap lowered below the busiest officer's load.
    let mut loads: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    for row in rows(&bundle) {
        for cert in row["检查人员"].split(';') {
            *loads.entry(cert.to_owned()).or_default() += 1;
        }
    }
    let busiest = *loads.values().max().unwrap();
    assert!(busiest >= 2, "{busiest}");
    let capped = forged_public_copy(
        &bundle,
        &root.path().join("capped"),
        |_| {},
        |plan| plan["workload_cap"] = (busiest - 1).into(),
    );
    assert_refused_by_both(&capped, &pool, "at the workload cap");
}

/// Without the recusal list the substitutions are replayed by the rules
/// alone (each substitute must be one a draw could pick), by both verifiers.
#[test]
fn substitutions_replay_in_a_partial_verification() {
    let d = draw_bundle(27);
    let first = &rows(&d.bundle)[0];
    let (code, out) = (first["统一社会信用代码"].clone(), first["组长"].clone());
    for reason in ["leave", "conflict"] {
        let current = rows(&d.bundle)
            .into_iter()
            .find(|r| r["统一社会信用代码"] == code)
            .unwrap();
        let out = if reason == "leave" {
            out.clone()
        } else {
            current["检查人员"].split(';').nth(1).unwrap().to_owned()
        };
        let output = shuangsui(&[
            "substitute",
            s(&d.bundle),
            "--target",
            &code,
            "--officer",
            &out,
            "--reason",
            reason,
            "--data",
            s(&d.pool),
        ]);
        assert!(output.status.success(), "{}", text(&output));
    }
    assert_verified_by_both(&d.bundle, &d.pool);
    let partial = pool_without_conflicts(&d.pool, &d.bundle.parent().unwrap().join("pool-without-conflicts"));
    assert_partially_verified_by_both(&d.bundle, &partial);
    let said = text(&verify(&d.bundle, &partial));
    assert!(
        said.contains("substitutions.json: all 2 substitutes obey every rule that does not need conflicts.csv"),
        "{said}"
    );
    assert!(said.contains("substitutes NOT RE-DRAWN"), "{said}");
}
