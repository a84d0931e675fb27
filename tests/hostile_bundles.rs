//! A bundle comes from whoever hands it over. Edited in any way — even with
//! every hash recomputed so that it is consistent with itself — `verify`
//! finds a difference or refuses the input; it never panics.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{json, Value};
use shuangsui::bundle;
use shuangsui::bundle::format::read_history;
use shuangsui::draw::draw;
use shuangsui::plan::{Plan, PlanFile};
use shuangsui::pools::{load, LoadOptions};
use shuangsui::snapshot::bytes_hash;
use shuangsui::verify::verify;

const CASE: &str = "tests/vectors/tiny";

fn pool_dir() -> PathBuf {
    Path::new(CASE).join("pool")
}

/// The tiny vector's draw written as a bundle, with its substitutions; made
/// once, copied for every case.
fn pristine() -> &'static Path {
    static BUNDLE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = BUNDLE.get_or_init(|| {
        let case = Path::new(CASE);
        let pools = load(&pool_dir(), LoadOptions::default()).unwrap();
        let plan = Plan::load(&case.join("plan.toml")).unwrap();
        let history = read_history(&std::fs::read_to_string(case.join("history.csv")).unwrap()).unwrap();
        let seed =
            shuangsui::entropy::parse_seed(std::fs::read_to_string(case.join("seed.txt")).unwrap().trim()).unwrap();
        let outcome = draw(&pools, &plan, &history, &seed.seed).unwrap();
        let (confidential, public) = bundle::contents(
            &pools,
            &plan,
            &history,
            &[],
            &seed,
            &outcome,
            &shuangsui::clock::OfficeClock::system(shuangsui::clock::Zone::default()).stamp(),
        );
        let root = tempfile::tempdir().unwrap();
        let path = bundle::write(root.path(), "tiny", &confidential, &public).unwrap();
        let log = shuangsui::substitution::read(case)
            .unwrap()
            .expect("the tiny case has substitutions");
        shuangsui::substitution::write(&path, &log).unwrap();
        let report = verify(&path, &pool_dir(), LoadOptions::default()).unwrap();
        assert!(
            report.verified(),
            "the untouched bundle verifies: {:?}",
            report.difference
        );
        (root, path)
    });
    path
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_json(path: &Path, value: &Value) -> String {
    let text = serde_json::to_string_pretty(value).unwrap() + "\n";
    std::fs::write(path, &text).unwrap();
    text
}

/// Every place in a JSON document, as a path of keys and indexes.
fn places(value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(path.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                path.push(json!(key));
                places(child, path, out);
                path.pop();
            }
        }
        Value::Array(list) => {
            for (i, child) in list.iter().enumerate() {
                path.push(json!(i));
                places(child, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn at<'v>(value: &'v mut Value, path: &[Value]) -> &'v mut Value {
    path.iter().fold(value, |v, step| match step {
        Value::String(key) => &mut v[key.as_str()],
        step => &mut v[step.as_u64().unwrap() as usize],
    })
}

/// What a place is replaced with: each kind of value a hostile writer might
/// put there.
fn replacement() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        4 => Just(Some(json!(0))),
        1 => Just(Some(json!(1))),
        2 => Just(Some(json!(-1))),
        1 => Just(Some(json!(u32::MAX))),
        1 => Just(Some(json!(u64::MAX))),
        1 => Just(Some(json!(1e300))),
        1 => Just(Some(json!(""))),
        1 => Just(Some(json!("x"))),
        1 => Just(Some(json!("2026-02-30"))),
        1 => Just(Some(json!([]))),
        1 => Just(Some(json!(["x", "x"]))),
        1 => Just(Some(json!({}))),
        1 => Just(Some(Value::Null)),
        1 => Just(Some(json!(true))),
        // Removed from its object or list.
        2 => Just(None),
    ]
}

/// Writes `value` at `path`; `None` removes the place.
fn put(doc: &mut Value, path: &[Value], value: Option<Value>) {
    let Some((last, parent)) = path.split_last() else {
        *doc = value.unwrap_or(Value::Null);
        return;
    };
    let parent = at(doc, parent);
    match (parent, last, value) {
        (Value::Object(map), Value::String(key), Some(v)) => {
            map.insert(key.clone(), v);
        }
        (Value::Object(map), Value::String(key), None) => {
            map.remove(key);
        }
        (Value::Array(list), i, Some(v)) => list[i.as_u64().unwrap() as usize] = v,
        (Value::Array(list), i, None) => {
            list.remove(i.as_u64().unwrap() as usize);
        }
        _ => unreachable!("paths come from the document"),
    }
}

/// Records `text` as the bundle's `name` in its manifest, as an honest
/// writer of the edited bundle would.
fn rehash(dir: &Path, name: &str, text: &str) {
    let path = dir.join("manifest.json");
    let mut manifest = read_json(&path);
    let hash = json!(bytes_hash(text.as_bytes()));
    // Earlier edits may have left the manifest any shape: only what is
    // still there is updated.
    let Some(manifest_map) = manifest.as_object_mut() else {
        return;
    };
    if let Some(files) = manifest_map.get_mut("files").and_then(Value::as_array_mut) {
        for file in files.iter_mut().filter_map(Value::as_object_mut) {
            if file.get("name") == Some(&json!(name)) {
                file.insert("sha256".into(), hash.clone());
            }
        }
    }
    if name == "plan.json" {
        if let Some(plan) = manifest_map.get_mut("plan").and_then(Value::as_object_mut) {
            plan.insert("sha256".into(), hash);
            if let Ok(content) = serde_json::from_str::<Value>(text) {
                plan.insert("content".into(), content);
            }
        }
    }
    if name == "history.csv" {
        if let Ok(history) = read_history(text) {
            manifest_map.insert("history_sha256".into(), json!(history.hash()));
        }
    }
    write_json(&path, &manifest);
}

#[derive(Debug, Clone)]
enum Edit {
    /// Replaces (or removes) place `place` (an index into its places) of a
    /// JSON file of the bundle; plan.json's hashes are recomputed.
    Json {
        file: &'static str,
        place: prop::sample::Index,
        value: Option<Value>,
    },
    /// Sets (or removes) one key of plan.json, recomputing its hashes.
    PlanKey { key: &'static str, value: Option<Value> },
    /// Edits line `line` of a CSV file and records its new hash.
    Csv {
        file: &'static str,
        line: prop::sample::Index,
        how: CsvEdit,
    },
}

#[derive(Debug, Clone)]
enum CsvEdit {
    Delete,
    Duplicate,
    /// Field `field` becomes `text`.
    Field(prop::sample::Index, &'static str),
    /// The line loses its last `n` bytes.
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let json_file = prop::sample::select(vec![
        "plan.json",
        "manifest.json",
        "substitutions.json",
        "public/manifest.json",
    ]);
    let csv_file = prop::sample::select(vec!["assignments.csv", "history.csv", "public/assignments.csv"]);
    let csv_edit = prop_oneof![
        Just(CsvEdit::Delete),
        Just(CsvEdit::Duplicate),
        (
            any::<prop::sample::Index>(),
            prop::sample::select(vec![
                "",
                "x",
                "0",
                ";",
                "91520281100000004R",
                "52028101;52028101",
                "SCJG-999"
            ])
        )
            .prop_map(|(i, t)| CsvEdit::Field(i, t)),
        (1..40usize).prop_map(CsvEdit::Truncate),
    ];
    let plan_key = prop::sample::select(vec![
        "id",
        "name",
        "department",
        "inspection_date",
        "items",
        "targets",
        "quota",
        "exclude_inspected_within_days",
        "team_size",
        "workload_cap",
        "recusal",
        "joint",
        "merge_with",
    ]);
    prop_oneof![
        3 => (plan_key, replacement()).prop_map(|(key, value)| Edit::PlanKey { key, value }),
        3 => (json_file, any::<prop::sample::Index>(), replacement())
            .prop_map(|(file, place, value)| Edit::Json { file, place, value }),
        1 => (csv_file, any::<prop::sample::Index>(), csv_edit).prop_map(|(file, line, how)| Edit::Csv { file, line, how }),
    ]
}

/// Applies `edit` to the bundle at `dir`; says whether the edit put a value
/// of another kind (or a negative number) into plan.json, which no reader
/// may accept.
fn apply(dir: &Path, edit: &Edit) -> bool {
    match edit {
        Edit::PlanKey { key, value } => {
            let path = dir.join("plan.json");
            let mut doc = read_json(&path);
            let Some(plan) = doc.as_object_mut() else {
                return false;
            };
            let before = plan.get(*key).cloned();
            match value {
                Some(v) => plan.insert((*key).into(), v.clone()),
                None => plan.remove(*key),
            };
            let text = write_json(&path, &doc);
            rehash(dir, "plan.json", &text);
            let kind = |v: &Value| std::mem::discriminant(v);
            match (value, before) {
                (Some(v), Some(before)) => kind(v) != kind(&before) || v.as_i64().is_some_and(|n| n < 0),
                // A key every plan has, removed.
                (None, Some(_)) => !matches!(*key, "joint" | "merge_with"),
                _ => false,
            }
        }
        Edit::Json { file, place, value } => {
            let path = dir.join(file);
            let mut doc = read_json(&path);
            let mut all = Vec::new();
            places(&doc, &mut Vec::new(), &mut all);
            let place = &all[place.index(all.len())];
            let before = at(&mut doc, place).clone();
            put(&mut doc, place, value.clone());
            let text = write_json(&path, &doc);
            if *file == "plan.json" {
                rehash(dir, "plan.json", &text);
                let kind = |v: &Value| std::mem::discriminant(v);
                return match value {
                    Some(v) => {
                        (kind(v) != kind(&before) && !place.is_empty())
                            || v.as_i64().is_some_and(|n| n < 0)
                            || v.as_f64().is_some_and(|x| x.fract() != 0.0 || x > u64::MAX as f64)
                    }
                    None => false,
                };
            }
            false
        }
        Edit::Csv { file, line, how } => {
            let path = dir.join(file);
            let text = std::fs::read_to_string(&path).unwrap();
            let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
            let n = line.index(lines.len());
            match how {
                CsvEdit::Delete => {
                    lines.remove(n);
                }
                CsvEdit::Duplicate => {
                    let copy = lines[n].clone();
                    lines.insert(n, copy);
                }
                CsvEdit::Field(i, new) => {
                    let end = if lines[n].ends_with("\r\n") { "\r\n" } else { "\n" };
                    let mut fields: Vec<String> = lines[n]
                        .trim_end_matches(['\r', '\n'])
                        .split(',')
                        .map(str::to_owned)
                        .collect();
                    let i = i.index(fields.len());
                    fields[i] = (*new).to_owned();
                    lines[n] = fields.join(",") + end;
                }
                CsvEdit::Truncate(cut) => {
                    let line = &mut lines[n];
                    let mut keep = line.len().saturating_sub(*cut);
                    while !line.is_char_boundary(keep) {
                        keep -= 1;
                    }
                    line.truncate(keep);
                }
            }
            let text: String = lines.concat();
            std::fs::write(&path, &text).unwrap();
            let (dir, name) = match file.strip_prefix("public/") {
                Some(name) => (dir.join("public"), name),
                None => (dir.to_owned(), *file),
            };
            rehash(&dir, name, &text);
            false
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn verify_never_panics_on_an_edited_bundle(edits in prop::collection::vec(edit(), 1..4)) {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("bundle");
        copy_dir(pristine(), &dir);
        let mut invalid_plan = false;
        for edit in &edits {
            invalid_plan |= apply(&dir, edit);
        }
        let verdict = catch_unwind(AssertUnwindSafe(|| verify(&dir, &pool_dir(), LoadOptions::default())));
        let verdict = match verdict {
            Ok(verdict) => verdict,
            Err(_) => return Err(TestCaseError::fail(format!("verify panicked on {edits:?}"))),
        };
        if invalid_plan {
            prop_assert!(
                !matches!(&verdict, Ok(report) if report.verified()),
                "a plan.json no reader accepts was verified: {:?}", edits
            );
        }
    }
}

/// Edits plan.json of a copy of the bundle and recomputes every hash over it.
fn with_plan(edit: impl FnOnce(&mut Value)) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("bundle");
    copy_dir(pristine(), &dir);
    let mut plan = read_json(&dir.join("plan.json"));
    edit(&mut plan);
    let text = write_json(&dir.join("plan.json"), &plan);
    rehash(&dir, "plan.json", &text);
    (root, dir)
}

fn run_verify(dir: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shuangsui"))
        .arg("verify")
        .arg(dir)
        .arg("--data")
        .arg(pool_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

#[test]
fn a_team_size_of_zero_is_an_input_error_not_a_crash() {
    let (_root, dir) = with_plan(|plan| plan["team_size"] = json!(0));
    let (code, text) = run_verify(&dir);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("team_size") && text.contains("at least 2"), "{text}");
}

#[test]
fn a_plan_json_breaking_any_rule_of_a_toml_plan_is_refused() {
    type Edit = fn(&mut Value);
    let edits: [(&str, Edit); 6] = [
        ("workload_cap", |p| p["workload_cap"] = json!(0)),
        ("items", |p| p["items"] = json!([])),
        ("quota", |p| p["quota"] = json!({"count": 0})),
        ("recusal.declared", |p| p["recusal"]["declared"] = json!(false)),
        ("name", |p| p["name"] = json!("")),
        ("merge_with", |p| p["merge_with"] = json!([])),
    ];
    for (field, edit) in edits {
        let (_root, dir) = with_plan(edit);
        let (code, text) = run_verify(&dir);
        assert_eq!(code, Some(2), "{field}: {text}");
        assert!(text.contains(field), "{field}: {text}");
    }
}

#[test]
fn a_huge_exclusion_window_is_drawn_not_overflowed() {
    // Valid by the spec (any u32), and reaching past the calendar's end:
    // every earlier inspection is inside it.
    let (_root, dir) = with_plan(|plan| plan["exclude_inspected_within_days"] = json!(u32::MAX));
    let (code, text) = run_verify(&dir);
    assert_eq!(code, Some(1), "{text}");
}
