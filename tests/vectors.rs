//! Golden vectors: the public contract pinned to bytes. Each folder in
//! `tests/vectors/` holds a pool, a plan, a history and a seed, with the
//! expected hashes and the full `assignments.csv` (a plan that merges, §14,
//! also has the earlier visits as `merge.csv`). A failure here means the
//! output of algorithm version 1 changed: that is a new algorithm version,
//! never a quiet fix. Run with `UPDATE_VECTORS=1` only on purpose.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use shuangsui::bundle::format::{read_history, read_merge};
use shuangsui::bundle::{assignments_csv, Visibility};
use shuangsui::draw::{draw, draw_merged, result_hash, selection_hash};
use shuangsui::history::History;
use shuangsui::ids::{CertNo, CreditCode};
use shuangsui::merge::Merged;
use shuangsui::plan::{Plan, PlanFile};
use shuangsui::pools::{load, LoadOptions};
use shuangsui::random::Stream;
use shuangsui::seed::{Seed, SeedSpec};
use shuangsui::substitution::{Entry, Log, Reason, Roster, SubstitutionError, FORMAT};

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
        let (_, pools, plan, history, merged, seed) = drawn_case(case.file_name().unwrap().to_str().unwrap());
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
        if plan.merge_with().is_some() {
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
    let ceremony = shuangsui::entropy::parse_seed("ceremony:3141 5926 5358 9793 2384").unwrap();
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

/// §12: substitutions replayed from the draw's seed. The `tiny` case pins a
/// list with a leader leaving, a newly declared conflict, a substitute who
/// leaves in turn, and an ordinary member leaving.
#[test]
fn substitution_vector() {
    let (case, pools, plan, history, _, seed) = drawn_case("tiny");
    let outcome = draw(&pools, &plan, &history, &seed.seed).unwrap();
    let draw_result = result_hash(&pools, &outcome);
    let mut roster = Roster::new(&pools, &plan, &history, &seed.seed, outcome);
    let code = |c: &str| CreditCode::parse(c).unwrap();
    let cert = |c: &str| CertNo::parse(c).unwrap();
    let mut entries = Vec::new();
    let first = substitute(
        &mut roster,
        &mut entries,
        "9152028110000000AC",
        cert("52028101"),
        Reason::Leave,
        "病假",
    );
    substitute(
        &mut roster,
        &mut entries,
        "91520281100000005W",
        cert("52028108"),
        Reason::Conflict,
        "近亲属",
    );
    // Nobody else holds all three fields of that visit: refused, and the
    // refusal leaves no trace in the numbering.
    let refused = roster.substitute(&code("9152028110000000AC"), &first, Reason::Transfer);
    assert!(
        matches!(refused, Err(SubstitutionError::NoCandidate { .. })),
        "{refused:?}"
    );
    substitute(
        &mut roster,
        &mut entries,
        "915202811000000060",
        cert("52028107"),
        Reason::Transfer,
        "调往县局",
    );
    substitute(
        &mut roster,
        &mut entries,
        "925202811000000070",
        cert("52028103"),
        Reason::Other,
        "外出培训",
    );
    let log = Log {
        format: FORMAT.into(),
        plan_id: plan.id().to_owned().to_owned(),
        draw_result_sha256: draw_result,
        substitutions: entries,
        result_sha256: roster.result_sha256(),
    };
    pin(&case.join("substitutions.json"), &log.to_json());
}

/// Makes the next substitution and records it as the list would.
fn substitute(
    roster: &mut Roster<'_>,
    entries: &mut Vec<Entry>,
    credit: &str,
    out: CertNo,
    reason: Reason,
    note: &str,
) -> CertNo {
    let code = CreditCode::parse(credit).unwrap();
    let incoming = roster.substitute(&code, &out, reason).unwrap();
    let incoming = roster.pools().inspectors[incoming as usize].cert.clone();
    entries.push(Entry {
        seq: roster.count(),
        credit_code: code,
        out,
        incoming: incoming.clone(),
        reason,
        decided_at: "2026-03-01T09:00:00+08:00".into(),
        note: (reason != Reason::Conflict).then(|| note.to_owned()),
        relation: (reason == Reason::Conflict).then(|| note.to_owned()),
    });
    incoming
}

/// A vector case's folder and inputs: pool, plan, history, merge inputs
/// and seed.
fn drawn_case(name: &str) -> (PathBuf, shuangsui::pools::Pools, Plan, History, Merged, SeedSpec) {
    let case = vectors().join(name);
    let pools = load(&case.join("pool"), LoadOptions::default()).unwrap_or_else(|p| panic!("{}: {p}", case.display()));
    let plan = Plan::load(&case.join("plan.toml")).unwrap();
    let history = read_history(&std::fs::read_to_string(case.join("history.csv")).unwrap()).unwrap();
    let seed = shuangsui::entropy::parse_seed(std::fs::read_to_string(case.join("seed.txt")).unwrap().trim()).unwrap();
    let merged = match plan.merge_with() {
        None => Merged::default(),
        Some(named) => read_merge(
            named.to_vec(),
            &std::fs::read_to_string(case.join("merge.csv")).unwrap(),
        )
        .unwrap(),
    };
    (case, pools, plan, history, merged, seed)
}

/// §12 with §13 and §14: in the `joint` case a health-bureau officer and
/// then the initiating department's leader leave one joint visit; in the
/// `merge` case a visit served by the earlier joint team is refused, and a
/// visit with a team of its own gets a substitute off the earlier team.
#[test]
fn substitution_vectors_for_joint_and_merged_plans() {
    let cert = |c: &str| CertNo::parse(c).unwrap();
    for name in ["joint", "merge"] {
        let (case, pools, plan, history, merged, seed) = drawn_case(name);
        let outcome = draw_merged(&pools, &plan, &history, &merged, &seed.seed).unwrap();
        let draw_result = result_hash(&pools, &outcome);
        let mut roster = Roster::merging(&pools, &plan, &history, &merged, &seed.seed, outcome);
        let mut entries = Vec::new();
        if name == "joint" {
            let health = substitute(
                &mut roster,
                &mut entries,
                "91520281100000004R",
                cert("52028301"),
                Reason::Leave,
                "病假",
            );
            let team = &roster.outcome().visits[1].team;
            let health_index = pools.inspector_index(&health).unwrap() as u32;
            assert_eq!(
                team[2], health_index,
                "the substitute takes the place in the health bureau's block"
            );
            assert_eq!(pools.inspectors[health_index as usize].department, "盘州市卫生健康局");
            let leader = substitute(
                &mut roster,
                &mut entries,
                "91520281100000004R",
                cert("52028102"),
                Reason::Transfer,
                "调往县局",
            );
            let leader = &pools.inspectors[pools.inspector_index(&leader).unwrap()];
            assert_eq!(
                leader.department,
                plan.department(),
                "the leader stays with the initiating department"
            );
        } else {
            let served = roster.substitute(
                &CreditCode::parse("91520281100000003N").unwrap(),
                &cert("52028104"),
                Reason::Leave,
            );
            assert!(
                matches!(served, Err(SubstitutionError::MergedVisit { .. })),
                "{served:?}"
            );
            let incoming = substitute(
                &mut roster,
                &mut entries,
                "91520281100000004R",
                cert("52028106"),
                Reason::Leave,
                "病假",
            );
            // The joint plan's team at this business was 52028102, 52028107, …
            assert!(!["52028102", "52028107"].contains(&incoming.as_str()), "{incoming}");
        }
        let log = Log {
            format: FORMAT.into(),
            plan_id: plan.id().to_owned().to_owned(),
            draw_result_sha256: draw_result,
            substitutions: entries,
            result_sha256: roster.result_sha256(),
        };
        pin(&case.join("substitutions.json"), &log.to_json());
    }
}
