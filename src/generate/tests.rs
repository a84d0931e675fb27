//! The generator's output: pinned bytes, the bundled data reproduced,
//! consistency of what it writes.

use std::collections::HashSet as StdHashSet;
use std::path::PathBuf;

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use super::*;
use crate::ids::CreditCode;

fn small() -> GenOptions {
    GenOptions {
        seed: 7,
        items: 10,
        inspectors: 20,
        targets: 50,
        conflicts: 5,
    }
}

fn read(dir: &Path, name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(dir.join(name)).unwrap();
    let headers = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (headers, rows)
}

fn all_bytes(dir: &Path) -> Vec<Vec<u8>> {
    FILES.iter().map(|f| fs::read(dir.join(f)).unwrap()).collect()
}

const FILES: [&str; 5] = [
    "departments.csv",
    "items.csv",
    "inspectors.csv",
    "targets.csv",
    "conflicts.csv",
];

#[test]
fn same_options_give_same_bytes() {
    let opts = GenOptions {
        seed: 11,
        items: 120,
        inspectors: 200,
        targets: 3000,
        conflicts: 300,
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate(&opts, a.path()).unwrap();
    generate(&opts, b.path()).unwrap();
    assert_eq!(all_bytes(a.path()), all_bytes(b.path()));

    let c = tempfile::tempdir().unwrap();
    generate(&GenOptions { seed: 12, ..opts }, c.path()).unwrap();
    assert_ne!(
        fs::read(a.path().join("targets.csv")).unwrap(),
        fs::read(c.path().join("targets.csv")).unwrap()
    );
}

#[test]
fn sections_do_not_depend_on_each_other() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate(&small(), a.path()).unwrap();
    generate(
        &GenOptions {
            inspectors: 40,
            items: 30,
            ..small()
        },
        b.path(),
    )
    .unwrap();
    assert_eq!(
        fs::read(a.path().join("targets.csv")).unwrap(),
        fs::read(b.path().join("targets.csv")).unwrap()
    );
}

/// Pins the output: if this changes, every published demo data set and
/// test vector built on it changes too, so it must be on purpose.
#[test]
fn output_is_pinned() {
    let dir = tempfile::tempdir().unwrap();
    generate(&small(), dir.path()).unwrap();
    let mut hash = Sha256::new();
    for bytes in all_bytes(dir.path()) {
        hash.update(&bytes);
    }
    assert_eq!(hex::encode(hash.finalize()), GOLDEN_SMALL);
}

const GOLDEN_SMALL: &str = "85052c768c147666d81e8d9859b0a7c0be193207401367e54412c7e8bf68fd4d";

#[test]
fn small_sizes_are_complete_and_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let summary = generate(&small(), dir.path()).unwrap();
    assert_eq!(
        summary,
        GenSummary {
            departments: 16,
            items: 10,
            inspectors: 20,
            targets: 50,
            conflicts: 5
        }
    );
    check_consistency(dir.path(), &summary);
}

#[test]
fn default_scale_directories_are_consistent() {
    // Default items and officers, fewer targets to keep the test quick.
    let opts = GenOptions {
        targets: 5000,
        ..GenOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let summary = generate(&opts, dir.path()).unwrap();
    assert_eq!(
        (summary.items, summary.inspectors, summary.conflicts),
        (635, 1343, 3000)
    );
    check_consistency(dir.path(), &summary);

    let (_, items) = read(dir.path(), "items.csv");
    // At the default size every field has more (object, aspect) pairs
    // than items, so no name needs a 子项 number.
    assert!(items.iter().all(|r| !r[1].contains("子项")));
    let names: StdHashSet<&str> = items.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(names.len(), items.len());
    let scjg = items.iter().filter(|r| r[2] == "盘州市市场监督管理局").count();
    assert_eq!(scjg, 200);
    assert!(items.iter().filter(|r| r[5] == "一般").count() > items.len() / 2);

    // Every field of a department is held by ≥ 40% of its officers.
    let (_, officers) = read(dir.path(), "inspectors.csv");
    for dept in &catalogue().departments {
        let staff: Vec<_> = officers.iter().filter(|r| r[2] == dept.name).collect();
        assert!(staff.len() >= 2, "{}", dept.name);
        for field in &dept.fields {
            let holders = staff
                .iter()
                .filter(|r| r[3].split(';').any(|a| a == field.name))
                .count();
            assert!(
                holders * 100 >= staff.len() * 40,
                "{} {}: {holders}/{}",
                dept.name,
                field.name,
                staff.len()
            );
        }
    }
}

fn check_consistency(dir: &Path, summary: &GenSummary) {
    for name in FILES {
        let bytes = fs::read(dir.join(name)).unwrap();
        assert!(!bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "{name} has a BOM");
        assert!(!bytes.contains(&b'\r'), "{name} has CR");
        assert!(!dir.join(format!("{name}.tmp")).exists());
    }

    let (headers, depts) = read(dir, "departments.csv");
    assert_eq!(headers, ["部门名称"]);
    assert_eq!(depts.len(), summary.departments);
    let dept_names: StdHashSet<&str> = depts.iter().map(|r| r[0].as_str()).collect();

    let (headers, items) = read(dir, "items.csv");
    assert_eq!(headers, ITEM_HEADERS);
    assert_eq!(items.len(), summary.items);
    let mut codes = StdHashSet::new();
    for row in &items {
        assert!(crate::ids::ItemCode::parse(&row[0]).is_ok(), "{row:?}");
        assert!(codes.insert(row[0].clone()), "duplicate item {}", row[0]);
        assert!(dept_names.contains(row[2].as_str()));
        assert!(
            row.iter().enumerate().all(|(i, v)| !v.is_empty() || i == 7 || i == 8),
            "{row:?}"
        );
        assert!(row[5] == "一般" || row[5] == "重点");
    }

    let (headers, officers) = read(dir, "inspectors.csv");
    assert_eq!(headers, INSPECTOR_HEADERS);
    assert_eq!(officers.len(), summary.inspectors);
    let mut certs = StdHashSet::new();
    for row in &officers {
        assert!(crate::ids::CertNo::parse(&row[0]).is_ok(), "{row:?}");
        assert!(row[0].bytes().all(|b| b.is_ascii_digit()));
        assert!(certs.insert(row[0].clone()), "duplicate officer {}", row[0]);
        assert!(dept_names.contains(row[2].as_str()));
        let areas: Vec<&str> = row[3].split(';').collect();
        assert!((1..=3).contains(&areas.len()), "{row:?}");
        assert!(NaiveDate::parse_from_str(&row[5], "%Y-%m-%d").is_ok());
        assert!(row[5].as_str() >= "2028-01-01" && row[5].as_str() <= "2032-12-31");
    }
    // Each item's field is held by someone of its department.
    for item in &items {
        assert!(
            officers
                .iter()
                .any(|o| o[2] == item[2] && o[3].split(';').any(|a| a == item[3])),
            "no officer for {item:?}"
        );
    }

    let (headers, targets) = read(dir, "targets.csv");
    assert_eq!(headers, TARGET_HEADERS);
    assert_eq!(targets.len(), summary.targets);
    let mut credit_codes = StdHashSet::new();
    for row in &targets {
        let code = CreditCode::parse(&row[0]).unwrap_or_else(|e| panic!("{}: {e}", row[0]));
        assert!(credit_codes.insert(code), "duplicate target {}", row[0]);
        assert!(row.iter().all(|v| !v.is_empty()), "{row:?}");
        assert!(["A", "B", "C", "D"].contains(&row[5].as_str()));
    }

    let (headers, conflicts) = read(dir, "conflicts.csv");
    assert_eq!(headers, CONFLICT_HEADERS);
    assert_eq!(conflicts.len(), summary.conflicts);
    let mut pairs = StdHashSet::new();
    for row in &conflicts {
        assert!(certs.contains(&row[0]), "{row:?}");
        assert!(credit_codes.contains(&CreditCode::parse(&row[1]).unwrap()), "{row:?}");
        assert!(pairs.insert((row[0].clone(), row[1].clone())), "duplicate pair {row:?}");
    }
}

#[test]
fn empty_and_impossible_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let none = GenOptions {
        seed: 1,
        items: 0,
        inspectors: 0,
        targets: 0,
        conflicts: 0,
    };
    assert_eq!(generate(&none, dir.path()).unwrap().targets, 0);

    // Exactly as many conflicts as pairs still works.
    let full = GenOptions {
        seed: 1,
        items: 3,
        inspectors: 3,
        targets: 4,
        conflicts: 12,
    };
    assert_eq!(generate(&full, dir.path()).unwrap().conflicts, 12);

    let too_many = GenOptions { conflicts: 13, ..full };
    let err = generate(&too_many, dir.path()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn creates_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b");
    generate(&small(), &nested).unwrap();
    assert!(nested.join("targets.csv").is_file());
}

/// SHA-256 of each of the five files in `dir`, by name.
fn file_hashes(dir: &Path) -> Vec<(&'static str, String)> {
    FILES
        .iter()
        .map(|&name| {
            let bytes = fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()));
            (name, hex::encode(Sha256::digest(bytes)))
        })
        .collect()
}

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The bundled `data/` is `gen-data --out data` with the default options;
/// the generator must keep reproducing it byte for byte, since the shipped
/// plans, the README's figures and anyone's earlier checks rest on it.
#[test]
fn default_options_reproduce_the_bundled_data() {
    let dir = tempfile::tempdir().unwrap();
    generate(&GenOptions::default(), dir.path()).unwrap();
    assert_eq!(file_hashes(dir.path()), file_hashes(&repo_path("data")));
}

/// The pool of the `generated` golden vector is `gen-data --seed 42
/// --items 30 --inspectors 200 --targets 400 --conflicts 60`.
#[test]
fn vector_options_reproduce_the_generated_vector_pool() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenOptions {
        seed: 42,
        items: 30,
        inspectors: 200,
        targets: 400,
        conflicts: 60,
    };
    generate(&opts, dir.path()).unwrap();
    assert_eq!(
        file_hashes(dir.path()),
        file_hashes(&repo_path("tests/vectors/generated/pool"))
    );
}
