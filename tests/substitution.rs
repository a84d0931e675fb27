//! Substituting officers after a draw (spec §12): every substitute obeys the
//! draw's rules, a refusal changes nothing, the list replays to the same
//! teams, and `shuangsui verify` checks it.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Output};

use proptest::prelude::*;
use shuangsui::draw::{result_hash, Bar};
use shuangsui::history::{History, Inspection};
use shuangsui::plan::Plan;
use shuangsui::substitution::{Entry, Reason, ReplayError, Roster, SubstitutionError};

use common::{draw_ok, load_pools, plan_toml, seed, small_pool};

const REASONS: [Reason; 4] = [Reason::Leave, Reason::Transfer, Reason::Conflict, Reason::Other];

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Whatever is substituted, teams stay full and lawful, a refused
    /// substitution leaves the state as it was, and the list replays.
    #[test]
    fn substitutes_obey_the_rules_and_replay(
        pool_seed in 0u64..1000,
        draw_seed in any::<u64>(),
        cap in 3u32..12,
        asks in proptest::collection::vec((any::<u16>(), any::<u8>(), 0usize..4), 1..16),
    ) {
        let root = tempfile::tempdir().unwrap();
        let pools = load_pools(&small_pool(root.path(), pool_seed));
        let text = plan_toml(&pools, 2, "[selection]\nratios = { A = 2, B = 2, C = 5, D = 10 }")
            .replace("workload_cap = 40", &format!("workload_cap = {cap}"));
        let plan = Plan::parse_toml(&text, "p.toml").unwrap();
        let history = History::default();
        let seed = seed(draw_seed);
        let Ok(outcome) = shuangsui::draw::draw(&pools, &plan, &history, &seed) else {
            return Ok(()); // a tight cap may make the plan infeasible
        };
        prop_assume!(!outcome.visits.is_empty());
        let mut roster = Roster::new(&pools, &plan, &history, &seed, outcome.clone());
        let mut entries = Vec::new();
        let mut taken_off: HashMap<u32, HashSet<u32>> = HashMap::new();
        let mut declared: HashSet<(String, String)> = pools
            .conflicts
            .iter()
            .map(|c| (c.cert.to_string(), c.code.to_string()))
            .collect();
        for (visit_pick, member_pick, reason) in asks {
            let visit = &roster.outcome().visits[visit_pick as usize % outcome.visits.len()];
            let target = visit.target;
            let code = pools.targets[target as usize].code;
            let leaving = visit.team[member_pick as usize % visit.team.len()];
            let out = pools.inspectors[leaving as usize].cert.clone();
            let before = (roster.result_sha256(), roster.count());
            match roster.substitute(&code, &out, REASONS[reason]) {
                Ok(incoming) => {
                    taken_off.entry(target).or_default().insert(leaving);
                    if REASONS[reason] == Reason::Conflict {
                        declared.insert((out.to_string(), code.to_string()));
                    }
                    let cert = pools.inspectors[incoming as usize].cert.clone();
                    entries.push(Entry {
                        seq: roster.count(),
                        credit_code: code,
                        out,
                        incoming: cert,
                        reason: REASONS[reason],
                        decided_at: String::new(),
                        note: None,
                        relation: None,
                    });
                }
                Err(SubstitutionError::NoCandidate { .. }) => {
                    prop_assert_eq!(before, (roster.result_sha256(), roster.count()));
                }
                Err(other) => prop_assert!(false, "unexpected refusal {}", other),
            }
            check_teams(&roster, &plan, &taken_off, &declared)?;
        }
        let mut replayed = Roster::new(&pools, &plan, &history, &seed, outcome.clone());
        replayed.replay(&entries).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(replayed.outcome(), roster.outcome());
        // The draw itself is untouched by any of it.
        prop_assert_eq!(result_hash(&pools, &draw_ok(&pools, &plan, &seed)), result_hash(&pools, &outcome));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    /// In a joint plan (spec §13) a substitute comes from the department of
    /// the officer it replaces, so every department block keeps its
    /// department and the leader stays with the initiating department.
    #[test]
    fn joint_substitutes_keep_their_department(
        pool_seed in 0u64..1000,
        draw_seed in any::<u64>(),
        asks in proptest::collection::vec((any::<u16>(), any::<u8>()), 1..12),
    ) {
        let root = tempfile::tempdir().unwrap();
        let pools = load_pools(&small_pool(root.path(), pool_seed));
        let text = common::joint_plan_toml(&pools, 2, 2, "[selection]\nratios = { A = 3, B = 3, C = 10, D = 30 }");
        let plan = Plan::parse_toml(&text, "p.toml").unwrap();
        let history = History::default();
        let seed = seed(draw_seed);
        let Ok(outcome) = shuangsui::draw::draw(&pools, &plan, &history, &seed) else {
            return Ok(());
        };
        prop_assume!(!outcome.visits.is_empty());
        let departments_before: Vec<Vec<String>> = outcome
            .visits
            .iter()
            .map(|v| v.team.iter().map(|&o| pools.inspectors[o as usize].department.clone()).collect())
            .collect();
        let mut roster = Roster::new(&pools, &plan, &history, &seed, outcome.clone());
        for (visit_pick, member_pick) in asks {
            let visit = &roster.outcome().visits[visit_pick as usize % outcome.visits.len()];
            let code = pools.targets[visit.target as usize].code;
            let out = pools.inspectors[visit.team[member_pick as usize % visit.team.len()] as usize].cert.clone();
            match roster.substitute(&code, &out, Reason::Leave) {
                Ok(_) | Err(SubstitutionError::NoCandidate { .. }) => {}
                Err(other) => prop_assert!(false, "unexpected refusal {}", other),
            }
        }
        for (visit, before) in roster.outcome().visits.iter().zip(&departments_before) {
            let after: Vec<&String> = visit.team.iter().map(|&o| &pools.inspectors[o as usize].department).collect();
            prop_assert_eq!(after.iter().map(|d| d.as_str()).collect::<Vec<_>>(), before.iter().map(String::as_str).collect::<Vec<_>>());
            prop_assert_eq!(after[0], &plan.department());
        }
    }
}

/// §6 rules 1–6 and the cap for every current team, with the conflicts
/// declared through substitutions, and no officer back on a visit they left.
fn check_teams(
    roster: &Roster<'_>,
    plan: &Plan,
    taken_off: &HashMap<u32, HashSet<u32>>,
    declared: &HashSet<(String, String)>,
) -> Result<(), TestCaseError> {
    let pools = roster.pools();
    let mut loads: HashMap<u32, u32> = HashMap::new();
    for visit in &roster.outcome().visits {
        let target = &pools.targets[visit.target as usize];
        prop_assert_eq!(
            visit.team.len(),
            plan.team_size() as usize,
            "short team at {}",
            target.code
        );
        prop_assert_eq!(visit.team.iter().collect::<HashSet<_>>().len(), visit.team.len());
        for &o in &visit.team {
            *loads.entry(o).or_default() += 1;
            let officer = &pools.inspectors[o as usize];
            prop_assert_eq!(&officer.department, &plan.department());
            prop_assert!(officer.valid_until >= plan.inspection_date());
            for &i in &visit.items {
                prop_assert!(officer.areas.contains(&pools.items[i as usize].field));
            }
            prop_assert!(
                !declared.contains(&(officer.cert.to_string(), target.code.to_string())),
                "conflicted officer {} at {}",
                officer.cert,
                target.code
            );
            prop_assert_ne!(&officer.township, pools.townships.name(target.township));
            prop_assert!(!taken_off.get(&visit.target).is_some_and(|s| s.contains(&o)));
        }
    }
    prop_assert!(loads.values().all(|&n| n <= plan.workload_cap()));
    Ok(())
}

fn shuangsui(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shuangsui"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The tiny vector drawn into a bundle under `root`.
fn tiny_bundle(root: &Path) -> String {
    let out = root.join("bundles");
    let drawn = shuangsui(&[
        "draw",
        "--plan",
        "tests/vectors/tiny/plan.toml",
        "--seed",
        "ceremony:2026 0302 1415 9265 3589",
        "--data",
        "tests/vectors/tiny/pool",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(drawn.status.success(), "{}", text(&drawn));
    String::from_utf8(drawn.stdout).unwrap().trim().to_owned()
}

fn substitute(bundle: &str, target: &str, officer: &str, reason: &str, note: &str) -> Output {
    shuangsui(&[
        "substitute",
        bundle,
        "--data",
        "tests/vectors/tiny/pool",
        "--target",
        target,
        "--officer",
        officer,
        "--reason",
        reason,
        "--note",
        note,
    ])
}

/// The (credit code, team) of each row of a bundle's assignments.csv.
fn teams(bundle: &str) -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(Path::new(bundle).join("assignments.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[1].to_owned(), r[6].split(';').map(str::to_owned).collect())
        })
        .collect()
}

#[test]
fn cli_substitutions_are_recorded_and_verified() {
    let root = tempfile::tempdir().unwrap();
    let bundle = tiny_bundle(root.path());
    let drawn = teams(&bundle);
    let (first, second) = (&drawn[0], &drawn[1]);
    for ((code, team), reason, note) in [(first, "leave", "病假"), (second, "conflict", "")] {
        let made = substitute(&bundle, code, &team[0], reason, note);
        assert!(made.status.success(), "{}", text(&made));
    }
    let log = shuangsui::substitution::read(Path::new(&bundle)).unwrap().unwrap();
    assert_eq!(log.substitutions.len(), 2);
    assert_eq!(log.substitutions[0].note.as_deref(), Some("病假"));
    let public = std::fs::read_to_string(Path::new(&bundle).join("public/substitutions.json")).unwrap();
    assert!(!public.contains("病假"), "a confidential note reached the public copy");
    assert!(
        public.contains("\"reason\": \"adjustment\"")
            && !public.contains("\"conflict\"")
            && !public.contains("\"leave\""),
        "the public copy withholds the reasons: {public}"
    );
    let verified = shuangsui(&["verify", &bundle, "--data", "tests/vectors/tiny/pool"]);
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(
        text(&verified).contains("all 2 substitutions replayed"),
        "{}",
        text(&verified)
    );

    // Someone not on the team: refused with the reason, nothing written.
    let path = Path::new(&bundle).join("substitutions.json");
    let before = std::fs::read(&path).unwrap();
    let outsider = ["52028101", "52028102", "52028103", "52028104"]
        .into_iter()
        .find(|c| !first.1.iter().any(|m| m == c) && log.substitutions[0].incoming.as_str() != *c)
        .unwrap();
    let refused = substitute(&bundle, &first.0, outsider, "leave", "");
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(text(&refused).contains("not on the team"), "{}", text(&refused));
    assert_eq!(before, std::fs::read(&path).unwrap());

    // An edited substitute is named.
    let incoming = log.substitutions[1].incoming.to_string();
    let other = ["52028101", "52028102", "52028103"]
        .into_iter()
        .find(|c| *c != incoming)
        .unwrap();
    let edited = String::from_utf8(before)
        .unwrap()
        .replace(&format!("\"in\": \"{incoming}\""), &format!("\"in\": \"{other}\""));
    std::fs::write(&path, edited).unwrap();
    let caught = shuangsui(&["verify", &bundle, "--data", "tests/vectors/tiny/pool"]);
    assert_eq!(caught.status.code(), Some(1), "{}", text(&caught));
    assert!(text(&caught).contains("substitution 2"), "{}", text(&caught));

    // The confidential copy replaced by the public one: the reasons are gone
    // from the only copy that keeps them.
    std::fs::write(&path, &public).unwrap();
    let caught = shuangsui(&["verify", &bundle, "--data", "tests/vectors/tiny/pool"]);
    assert_eq!(caught.status.code(), Some(1), "{}", text(&caught));
    assert!(text(&caught).contains("withholds the reasons"), "{}", text(&caught));
}

#[test]
fn a_substitution_without_candidates_is_refused_with_reasons() {
    let root = tempfile::tempdir().unwrap();
    let bundle = tiny_bundle(root.path());
    let (code, team) = teams(&bundle).swap_remove(3);
    // Keep replacing the leader: the tiny pool runs out of qualified officers.
    let mut leaving = team[0].clone();
    let mut made = 0;
    let message = loop {
        let output = substitute(&bundle, &code, &leaving, "leave", "");
        if !output.status.success() {
            assert_eq!(output.status.code(), Some(2), "{}", text(&output));
            break text(&output);
        }
        made += 1;
        assert!(made < 10, "the tiny pool cannot have ten substitutes");
        let log = shuangsui::substitution::read(Path::new(&bundle)).unwrap().unwrap();
        leaving = log.substitutions.last().unwrap().incoming.to_string();
    };
    assert!(
        message.contains("no officer can replace") && message.contains("already on the team"),
        "{message}"
    );
    let log = shuangsui::substitution::read(Path::new(&bundle)).unwrap();
    assert_eq!(log.map_or(0, |l| l.substitutions.len()), made);
    let verified = shuangsui(&["verify", &bundle, "--data", "tests/vectors/tiny/pool"]);
    assert!(verified.status.success(), "{}", text(&verified));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    /// A refused substitution counts every officer of the leaving officer's
    /// department once, under the first rule of §12 step 2 that rules them
    /// out — checked here from the pool's own text, not through the draw's
    /// rules, with a history so that rotation counts too.
    #[test]
    fn refusals_count_each_officer_under_its_first_rule(
        pool_seed in 0u64..1000,
        draw_seed in any::<u64>(),
        cap in 1u32..4,
        visit_pick in any::<u16>(),
        asks in proptest::collection::vec((any::<u8>(), 0usize..4), 1..40),
    ) {
        let root = tempfile::tempdir().unwrap();
        let pools = load_pools(&small_pool(root.path(), pool_seed));
        // Few visits, so tight caps still draw; asks on one visit, so the
        // department runs out of candidates.
        let text = plan_toml(&pools, 2, "[selection]\ncount = 4");
        let earlier_plan = Plan::parse_toml(&text, "p.toml").unwrap();
        let plan = Plan::parse_toml(&text.replace("workload_cap = 40", &format!("workload_cap = {cap}")), "p.toml").unwrap();
        let Ok(earlier) = shuangsui::draw::draw(&pools, &earlier_plan, &History::default(), &seed(draw_seed ^ 1)) else {
            return Ok(());
        };
        let history = History::new(
            earlier
                .visits
                .iter()
                .map(|v| Inspection {
                    code: pools.targets[v.target as usize].code,
                    item: pools.items[v.items[0] as usize].code.clone(),
                    date: plan.inspection_date() - chrono::Days::new(400),
                    officers: v.team.iter().map(|&o| pools.inspectors[o as usize].cert.clone()).collect(),
                })
                .collect(),
        );
        let seed = seed(draw_seed);
        let Ok(outcome) = shuangsui::draw::draw(&pools, &plan, &history, &seed) else {
            return Ok(());
        };
        prop_assume!(!outcome.visits.is_empty());
        let mut roster = Roster::new(&pools, &plan, &history, &seed, outcome.clone());
        let mut taken_off: HashMap<u32, HashSet<u32>> = HashMap::new();
        let mut declared: HashSet<(String, String)> = pools
            .conflicts
            .iter()
            .map(|c| (c.cert.to_string(), c.code.to_string()))
            .collect();
        for (member_pick, reason) in asks {
            let visit = roster.outcome().visits[visit_pick as usize % outcome.visits.len()].clone();
            let target = &pools.targets[visit.target as usize];
            let leaving = visit.team[member_pick as usize % visit.team.len()];
            let out = pools.inspectors[leaving as usize].cert.clone();
            match roster.substitute(&target.code, &out, REASONS[reason]) {
                Ok(_) => {
                    taken_off.entry(visit.target).or_default().insert(leaving);
                    if REASONS[reason] == Reason::Conflict {
                        declared.insert((out.to_string(), target.code.to_string()));
                    }
                }
                Err(SubstitutionError::NoCandidate { reasons, .. }) => {
                    let mut loads: HashMap<u32, u32> = HashMap::new();
                    for o in roster.outcome().visits.iter().flat_map(|v| &v.team) {
                        *loads.entry(*o).or_default() += 1;
                    }
                    let previous: HashSet<String> = history
                        .inspections
                        .iter()
                        .filter(|i| i.code == target.code)
                        .flat_map(|i| i.officers.iter().map(|c| c.to_string()))
                        .collect();
                    let mut expected: HashMap<Bar, u32> = HashMap::new();
                    let mut in_department = 0;
                    for (o, officer) in pools.inspectors.iter().enumerate() {
                        if officer.department != pools.inspectors[leaving as usize].department {
                            continue;
                        }
                        in_department += 1;
                        let o = o as u32;
                        let pair = (officer.cert.to_string(), target.code.to_string());
                        let bar = if officer.valid_until < plan.inspection_date() {
                            Bar::CertificateExpired
                        } else if !visit.items.iter().all(|&i| officer.areas.contains(&pools.items[i as usize].field)) {
                            Bar::NotQualified
                        } else if declared.contains(&pair) || (REASONS[reason] == Reason::Conflict && o == leaving) {
                            Bar::DeclaredConflict
                        } else if officer.township == pools.townships.name(target.township) {
                            Bar::SameTownship
                        } else if previous.contains(officer.cert.as_str()) {
                            Bar::PreviousInspector
                        } else if o == leaving
                            || visit.team.contains(&o)
                            || taken_off.get(&visit.target).is_some_and(|s| s.contains(&o))
                        {
                            Bar::OnTeamOrTakenOff
                        } else {
                            prop_assert!(loads.get(&o).copied().unwrap_or(0) >= cap, "{} was eligible", officer.cert);
                            Bar::AtWorkloadCap
                        };
                        *expected.entry(bar).or_default() += 1;
                    }
                    prop_assert_eq!(reasons.in_department(), in_department);
                    for bar in Bar::ALL.into_iter().skip(1) {
                        prop_assert_eq!(reasons.count(bar), expected.get(&bar).copied().unwrap_or(0), "{:?}", bar);
                    }
                }
                Err(other) => prop_assert!(false, "unexpected refusal {}", other),
            }
        }
    }
}

/// A list that does not replay says how, by kind, with the first entry
/// that differs and the message `verify` prints.
#[test]
fn a_replay_names_the_first_difference_by_kind() {
    let root = tempfile::tempdir().unwrap();
    let pools = load_pools(&small_pool(root.path(), 7));
    let plan = common::plan(&pools, 2, "[selection]\nratios = { A = 5, B = 5, C = 10, D = 20 }");
    let history = History::default();
    let seed = seed(7);
    let outcome = draw_ok(&pools, &plan, &seed);
    let mut roster = Roster::new(&pools, &plan, &history, &seed, outcome.clone());
    let mut entries = Vec::new();
    for visit in outcome.visits.iter().take(2) {
        let code = pools.targets[visit.target as usize].code;
        let out = pools.inspectors[visit.team[0] as usize].cert.clone();
        let incoming = roster.substitute(&code, &out, Reason::Leave).unwrap();
        entries.push(Entry {
            seq: roster.count(),
            credit_code: code,
            out,
            incoming: pools.inspectors[incoming as usize].cert.clone(),
            reason: Reason::Leave,
            decided_at: String::new(),
            note: None,
            relation: None,
        });
    }
    let replay = |entries: &[Entry]| Roster::new(&pools, &plan, &history, &seed, outcome.clone()).replay(entries);
    assert_eq!(replay(&entries), Ok(()));

    let mut renumbered = entries.clone();
    renumbered[1].seq = 7;
    let error = replay(&renumbered).unwrap_err();
    assert_eq!(error, ReplayError::Numbering { expected: 2, found: 7 });
    assert_eq!(error.to_string(), "entry 2 is numbered 7");

    let mut other = entries.clone();
    let listed = entries[1].out.clone(); // never its own substitute
    other[1].incoming = listed.clone();
    let error = replay(&other).unwrap_err();
    assert!(
        matches!(&error, ReplayError::OtherSubstitute { seq: 2, listed: l, replayed, .. }
            if *l == listed && *replayed == entries[1].incoming),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "substitution 2 ({} out of {}): the list names {listed} as the substitute, the replay draws {}",
            entries[1].out, entries[1].credit_code, entries[1].incoming
        )
    );

    let mut unknown = entries.clone();
    let stranger = (0..pools.inspectors.len() as u32)
        .find(|o| !outcome.visits[0].team.contains(o))
        .unwrap();
    unknown[0].out = pools.inspectors[stranger as usize].cert.clone();
    let error = replay(&unknown).unwrap_err();
    assert!(
        matches!(
            error,
            ReplayError::Refused {
                seq: 1,
                source: SubstitutionError::NotOnTeam { .. }
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().starts_with("substitution 1: officer "), "{error}");
}
