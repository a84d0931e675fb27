//! Golden vectors: the public contract pinned to bytes. Each folder in
//! `tests/vectors/` holds a pool, a plan, a history and a seed, with the
//! expected hashes and the full `assignments.csv` (a plan that merges, §14,
//! also has the earlier visits as `merge.csv`). A failure here means the
//! output of algorithm version 1 changed: that is a new algorithm version,
//! never a quiet fix. Run with `UPDATE_VECTORS=1` only on purpose.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use shuangsui::bundle::{assignments_csv, Visibility};
use shuangsui::draw::{draw_merged, result_hash, selection_hash};
use shuangsui::history::History;
use shuangsui::merge::Merged;
use shuangsui::plan::Plan;
use shuangsui::pools::{load, LoadOptions};
use shuangsui::random::Stream;
use shuangsui::seed::{Seed, SeedSpec};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_VECTORS").is_some()
}

/// Compares with the stored file, or writes it when updating.
fn pin(path: &Path, actual: &str) {
    if updating() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        expected == actual,
        "{} changed:\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

#[test]
fn draw_vectors() {
    let mut cases = 0;
    for entry in std::fs::read_dir(vectors()).unwrap() {
        let case = entry.unwrap().path();
        if !case.join("plan.toml").is_file() {
            continue;
        }
        cases += 1;
        let pools =
            load(&case.join("pool"), LoadOptions::default()).unwrap_or_else(|p| panic!("{}: {p}", case.display()));
        let plan = Plan::load(&case.join("plan.toml")).unwrap();
        let history = History::from_csv(&std::fs::read_to_string(case.join("history.csv")).unwrap()).unwrap();
        let seed = SeedSpec::parse(std::fs::read_to_string(case.join("seed.txt")).unwrap().trim()).unwrap();
        let merged = match &plan.merge_with {
            None => Merged::default(),
            Some(named) => {
                Merged::from_csv(named.clone(), &std::fs::read_to_string(case.join("merge.csv")).unwrap()).unwrap()
            }
        };
        let outcome = draw_merged(&pools, &plan, &history, &merged, &seed.seed)
            .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        let mut expected = json!({
            "seed": seed.seed.to_hex(),
            "snapshot": pools.snapshot,
            "snapshot_combined": pools.snapshot.combined(),
            "plan_json_sha256": shuangsui::snapshot::bytes_hash(plan.to_json().as_bytes()),
            "history_sha256": history.hash(),
            "selection_sha256": selection_hash(&pools, &outcome),
            "result_sha256": result_hash(&pools, &outcome),
            "visits": outcome.visits.len(),
        });
        if plan.merge_with.is_some() {
            expected["merge_sha256"] = json!(merged.hash());
        }
        pin(
            &case.join("expected.json"),
            &(serde_json::to_string_pretty(&expected).unwrap() + "\n"),
        );
        pin(
            &case.join("assignments.csv"),
            &assignments_csv(&pools, &plan, &outcome, Visibility::Confidential),
        );
        pin(&case.join("plan.json"), &plan.to_json());
    }
    assert!(cases >= 2, "expected at least two vector cases, found {cases}");
}

/// The primitives of §3, for implementers to test their ChaCha20, stream
/// derivation, bounded integers and pick before the whole draw.
#[test]
fn stream_vectors() {
    let seed = Seed::parse_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f").unwrap();
    let mut cases = Vec::new();
    for labels in [
        vec!["visits"],
        vec!["targets", "SCJG-001", "A"],
        vec!["ticket", "52028101", "0"],
    ] {
        let bytes: Vec<&[u8]> = labels.iter().map(|l| l.as_bytes()).collect();
        let mut words = Stream::derive(&seed, &bytes);
        let words: Vec<String> = (0..4).map(|_| words.next_u64().to_string()).collect();
        let mut below = Stream::derive(&seed, &bytes);
        let bounded: Vec<u64> = [1u64, 2, 3, 10, 1000, 90_538, (1 << 63) + 1]
            .iter()
            .map(|&n| below.below(n))
            .collect();
        let mut pick = Stream::derive(&seed, &bytes);
        let mut list: Vec<u32> = (0..20).collect();
        pick.pick(&mut list, 5);
        cases.push(json!({
            "labels": labels,
            "first_words": words,
            "below": { "n": ["1", "2", "3", "10", "1000", "90538", "9223372036854775809"], "values": bounded.iter().map(u64::to_string).collect::<Vec<_>>() },
            "pick_5_of_0_to_19": &list[..5],
        }));
    }
    let ceremony = SeedSpec::parse("ceremony:3141 5926 5358 9793 2384").unwrap();
    let doc: Value = json!({
        "seed": seed.to_hex(),
        "note": "words are decimal strings of the little-endian u64s; below runs n in order on one fresh stream; pick on another",
        "streams": cases,
        "ceremony": { "text": "3141 5926 5358 9793 2384", "seed": ceremony.seed.to_hex() },
    });
    pin(
        &vectors().join("streams.json"),
        &(serde_json::to_string_pretty(&doc).unwrap() + "\n"),
    );
}
