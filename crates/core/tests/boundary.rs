//! The boundary of the core, checked: no crate that reaches the outside is a
//! dependency, direct or transitive, and the source names none of the
//! standard library's modules that do. A change that would let the draw read
//! a file or await a socket fails here, not in review.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Crates the core may not depend on, however indirectly: async runtimes,
/// databases, HTTP, logging, spreadsheets read from disk. (Cargo.lock counts
/// dev-dependencies too; proptest's own use of temporary files is not the
/// core's, so file helpers are left to the source check below.)
const FORBIDDEN_CRATES: &[&str] = &[
    "tokio",
    "sqlx",
    "axum",
    "tower",
    "tower-http",
    "hyper",
    "reqwest",
    "ureq",
    "tracing",
    "tracing-subscriber",
    "calamine",
];

/// Text the core's source may not contain: file system, network, process,
/// environment and operating-system entropy access, and the names of the
/// crates above.
const FORBIDDEN_TEXT: &[&str] = &[
    "std::fs",
    "OsRng",
    "getrandom",
    "std::net",
    "std::process",
    "std::env",
    "File::",
    "tokio",
    "sqlx",
    "axum",
    "tracing",
];

fn core_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every crate the core depends on, transitively, by the workspace's
/// Cargo.lock (which `cargo test` keeps current).
fn locked_dependencies() -> BTreeSet<String> {
    let lock = std::fs::read_to_string(core_dir().join("../../Cargo.lock")).expect("the workspace Cargo.lock");
    let lock: toml::Table = lock.parse().expect("Cargo.lock is TOML");
    let packages = lock["package"].as_array().expect("Cargo.lock lists packages");
    // A dependency is written "name" or "name version" (when two versions are locked).
    let deps_of = |name: &str| -> Vec<String> {
        packages
            .iter()
            .filter(|p| p["name"].as_str() == Some(name))
            .flat_map(|p| {
                p.get("dependencies")
                    .and_then(|d| d.as_array())
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|d| d.as_str().map(|d| d.split(' ').next().unwrap_or(d).to_string()))
            .collect()
    };
    let mut seen = BTreeSet::new();
    let mut queue = vec!["shuangsui-core".to_string()];
    while let Some(name) = queue.pop() {
        for dep in deps_of(&name) {
            if seen.insert(dep.clone()) {
                queue.push(dep);
            }
        }
    }
    seen
}

/// The crates named in the core's own Cargo.toml, in every dependency table.
fn declared_dependencies() -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(core_dir().join("Cargo.toml")).expect("crates/core/Cargo.toml");
    let manifest: toml::Table = manifest.parse().expect("Cargo.toml is TOML");
    let mut tables: Vec<&toml::Table> = ["dependencies", "dev-dependencies", "build-dependencies"]
        .iter()
        .filter_map(|key| manifest.get(*key).and_then(|t| t.as_table()))
        .collect();
    if let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) {
        for target in targets.values().filter_map(|t| t.as_table()) {
            for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
                tables.extend(target.get(key).and_then(|t| t.as_table()));
            }
        }
    }
    tables.iter().flat_map(|t| t.keys().cloned()).collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_manifest_names_no_crate_that_reaches_the_outside() {
    let declared = declared_dependencies();
    assert!(declared.contains("sha2"), "the manifest was read: {declared:?}");
    let named: Vec<_> = FORBIDDEN_CRATES.iter().filter(|c| declared.contains(**c)).collect();
    assert!(named.is_empty(), "crates/core/Cargo.toml names {named:?}");
}

#[test]
fn no_dependency_pulls_in_a_crate_that_reaches_the_outside() {
    let all = locked_dependencies();
    assert!(
        all.contains("rand_chacha") && all.contains("rand_core"),
        "the lock was read: {all:?}"
    );
    let pulled: Vec<_> = FORBIDDEN_CRATES.iter().filter(|c| all.contains(**c)).collect();
    assert!(
        pulled.is_empty(),
        "shuangsui-core depends, through Cargo.lock, on {pulled:?}"
    );
}

#[test]
fn the_source_names_no_file_system_network_or_runtime() {
    let mut files = Vec::new();
    rust_files(&core_dir().join("src"), &mut files);
    assert!(files.len() > 10, "the source was found: {files:?}");
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a source file");
        for (n, line) in text.lines().enumerate() {
            for word in FORBIDDEN_TEXT.iter().filter(|w| line.contains(**w)) {
                found.push(format!("{}:{}: {word}", file.display(), n + 1));
            }
        }
    }
    assert!(found.is_empty(), "the core reaches the outside:\n{}", found.join("\n"));
}

/// The operating system's entropy is the root crate's to ask for: the core's
/// manifest may not turn on rand_core's `os_rng` (which pulls in getrandom)
/// nor name getrandom itself. Cargo.lock cannot tell, since the root crate
/// enables the feature for the whole workspace.
#[test]
fn the_manifest_asks_for_no_operating_system_entropy() {
    let manifest = std::fs::read_to_string(core_dir().join("Cargo.toml")).expect("crates/core/Cargo.toml");
    let manifest: toml::Table = manifest.parse().expect("Cargo.toml is TOML");
    let deps = manifest["dependencies"].as_table().expect("a dependency table");
    assert!(deps.contains_key("rand_core"), "the manifest was read: {deps:?}");
    assert!(
        !declared_dependencies().contains("getrandom"),
        "the core names getrandom"
    );
    let features = |name: &str| -> Vec<String> {
        deps.get(name)
            .and_then(|d| d.get("features"))
            .and_then(|f| f.as_array())
            .map(|f| f.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    for name in ["rand_core", "rand_chacha"] {
        let named = features(name);
        assert!(
            !named
                .iter()
                .any(|f| f == "os_rng" || f == "std_rng" || f == "getrandom"),
            "crates/core/Cargo.toml turns on {named:?} for {name}"
        );
    }
}
