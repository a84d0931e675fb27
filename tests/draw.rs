//! The draw's guarantees, checked against an independent reading of the rules:
//! no conflicted, unqualified or expired officer is ever assigned, no team is
//! short, same inputs give the same bytes, and row order or encoding of the
//! inputs does not matter.

mod common;

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;
use shuangsui::bundle::{assignments_csv, Visibility};
use shuangsui::draw::{draw, result_hash, targets_scope, Bar, DrawError, MergeFault, Outcome, TargetScope};
use shuangsui::history::{History, Inspection};
use shuangsui::plan::Plan;
use shuangsui::pools::{Pools, RiskClass};

use common::*;

/// Checks every rule of the plan on a finished draw, from first principles.
fn assert_rules_hold(pools: &Pools, plan: &Plan, outcome: &Outcome) {
    let conflicts: HashSet<(&str, &str)> = pools
        .conflicts
        .iter()
        .map(|c| (c.cert.as_str(), c.code.as_str()))
        .collect();
    let mut loads: BTreeMap<u32, u32> = BTreeMap::new();
    let mut seen_targets = HashSet::new();
    for visit in &outcome.visits {
        let target = &pools.targets[visit.target as usize];
        assert!(
            seen_targets.insert(visit.target),
            "target {} visited twice",
            target.code
        );
        assert_eq!(
            visit.team.len(),
            plan.team_size() as usize,
            "short team for {}",
            target.code
        );
        let distinct: HashSet<_> = visit.team.iter().collect();
        assert_eq!(
            distinct.len(),
            visit.team.len(),
            "an officer twice in one team at {}",
            target.code
        );
        for &i in &visit.items {
            let item = &pools.items[i as usize];
            assert!(plan.items().contains(&item.code));
            let entity = pools.entity_types.name(target.entity_type);
            assert!(item.entity_types.is_empty() || item.entity_types.iter().any(|e| e == entity));
        }
        for &o in &visit.team {
            let officer = &pools.inspectors[o as usize];
            assert_eq!(officer.department, plan.department());
            assert!(
                officer.valid_until >= plan.inspection_date(),
                "expired certificate {}",
                officer.cert
            );
            for &i in &visit.items {
                let field = &pools.items[i as usize].field;
                assert!(
                    officer.areas.contains(field),
                    "{} not qualified for {field}",
                    officer.cert
                );
            }
            assert!(
                !conflicts.contains(&(officer.cert.as_str(), target.code.as_str())),
                "declared conflict {} at {}",
                officer.cert,
                target.code
            );
            if plan.recusal().same_township {
                assert_ne!(
                    &officer.township,
                    pools.townships.name(target.township),
                    "same township"
                );
            }
            *loads.entry(o).or_default() += 1;
        }
    }
    assert!(
        loads.values().all(|&l| l <= plan.workload_cap()),
        "workload cap exceeded"
    );
}

#[test]
fn rules_hold_on_a_generated_pool() {
    let root = tempfile::tempdir().unwrap();
    let pools = load_pools(&small_pool(root.path(), 1));
    let plan = plan(&pools, 3, "[selection]\nratios = { A = 5, B = 10, C = 30, D = 100 }");
    let outcome = draw_ok(&pools, &plan, &seed(1));
    assert!(
        outcome.visits.len() > 50,
        "too few visits to mean anything: {}",
        outcome.visits.len()
    );
    assert!(
        outcome.visits.iter().any(|v| v.items.len() > 1),
        "no visit merged two items"
    );
    assert_rules_hold(&pools, &plan, &outcome);
}

#[test]
fn quotas_follow_the_ratios_per_class() {
    let root = tempfile::tempdir().unwrap();
    let pools = load_pools(&small_pool(root.path(), 2));
    let plan = plan(
        &pools,
        2,
        "[selection]\nratios = { A = 1, B = \"3\", C = \"10%\", D = 30 }",
    );
    let outcome = draw_ok(&pools, &plan, &seed(2));
    for stratum in &outcome.strata {
        let bp = [100u64, 300, 1000, 3000][stratum.class.unwrap() as usize];
        let expected = (stratum.eligible as u64 * bp).div_ceil(10_000);
        assert_eq!(stratum.drawn as u64, expected, "{stratum}");
    }
    // Every drawn (target, item) pair is counted in exactly one stratum.
    let pairs: usize = outcome.visits.iter().map(|v| v.items.len()).sum();
    assert_eq!(pairs as u32, outcome.strata.iter().map(|s| s.drawn).sum::<u32>());
}

#[test]
fn same_inputs_give_the_same_bytes() {
    let root = tempfile::tempdir().unwrap();
    let dir = small_pool(root.path(), 3);
    let pools = load_pools(&dir);
    let plan = plan(&pools, 3, "");
    let a = draw_ok(&pools, &plan, &seed(3));
    let again = load_pools(&dir);
    let b = draw_ok(&again, &plan, &seed(3));
    assert_eq!(
        assignments_csv(&pools, &plan, &a, Visibility::Confidential),
        assignments_csv(&again, &plan, &b, Visibility::Confidential)
    );
    let c = draw_ok(&pools, &plan, &seed(4));
    assert_ne!(
        result_hash(&pools, &a),
        result_hash(&pools, &c),
        "a different seed should draw differently"
    );
}

#[test]
fn row_order_column_order_line_ends_and_encoding_do_not_matter() {
    let root = tempfile::tempdir().unwrap();
    let dir = small_pool(root.path(), 5);
    let rewritten = root.path().join("rewritten");
    rewrite_pool(&dir, &rewritten);
    let (a, b) = (load_pools(&dir), load_pools(&rewritten));
    assert_eq!(a.snapshot, b.snapshot);
    let plan = plan(&a, 3, "");
    assert_eq!(
        assignments_csv(&a, &plan, &draw_ok(&a, &plan, &seed(5)), Visibility::Confidential),
        assignments_csv(&b, &plan, &draw_ok(&b, &plan, &seed(5)), Visibility::Confidential)
    );
}

#[test]
fn a_recently_inspected_target_is_excluded_for_that_item_only() {
    let root = tempfile::tempdir().unwrap();
    let pools = load_pools(&small_pool(root.path(), 6));
    let plan = plan(
        &pools,
        2,
        "[selection]\nratios = { A = 100, B = 100, C = 100, D = 100 }\nexclude_inspected_within_days = 90",
    );
    let everyone = draw_ok(&pools, &plan, &seed(6));
    let visit = everyone
        .visits
        .iter()
        .find(|v| v.items.len() >= 2)
        .expect("a visit with two items");
    let target = &pools.targets[visit.target as usize];
    let first_item = pools.items[visit.items[0] as usize].code.clone();
    let inspection = |days_before: u64| Inspection {
        code: target.code,
        item: first_item.clone(),
        date: plan.inspection_date() - chrono::Days::new(days_before),
        officers: vec![],
    };
    let recent = draw(&pools, &plan, &History::new(vec![inspection(89)]), &seed(6)).unwrap();
    let found = recent
        .visits
        .iter()
        .find(|v| v.target == visit.target)
        .expect("still drawn for its other items");
    assert!(
        !found.items.contains(&visit.items[0]),
        "inspected 89 days ago, yet drawn again for the same item"
    );
    assert_eq!(found.items.len(), visit.items.len() - 1);
    let old = draw(&pools, &plan, &History::new(vec![inspection(90)]), &seed(6)).unwrap();
    assert_eq!(
        old.visits, everyone.visits,
        "an inspection 90 days back is outside a 90-day window"
    );
}

#[test]
fn the_previous_inspector_is_rotated_off() {
    let root = tempfile::tempdir().unwrap();
    let pools = load_pools(&small_pool(root.path(), 7));
    let plan = plan(&pools, 2, "");
    let first = draw_ok(&pools, &plan, &seed(7));
    let history = History::new(
        first
            .visits
            .iter()
            .map(|v| Inspection {
                code: pools.targets[v.target as usize].code,
                item: pools.items[v.items[0] as usize].code.clone(),
                date: plan.inspection_date() - chrono::Days::new(400),
                officers: v
                    .team
                    .iter()
                    .map(|&o| pools.inspectors[o as usize].cert.clone())
                    .collect(),
            })
            .collect(),
    );
    let second = draw(&pools, &plan, &history, &seed(7)).unwrap();
    let before: BTreeMap<u32, &Vec<u32>> = first.visits.iter().map(|v| (v.target, &v.team)).collect();
    let mut compared = 0;
    for visit in &second.visits {
        if let Some(old_team) = before.get(&visit.target) {
            compared += 1;
            assert!(
                visit.team.iter().all(|o| !old_team.contains(o)),
                "an officer of the last inspection came back"
            );
        }
    }
    assert!(compared > 10, "the test needs targets drawn twice, got {compared}");
}

#[test]
fn an_infeasible_plan_names_every_short_target_and_why() {
    let root = tempfile::tempdir().unwrap();
    let pools = load_pools(&small_pool(root.path(), 8));
    let text = plan_toml(
        &pools,
        3,
        "[selection]\nratios = { A = 100, B = 100, C = 100, D = 100 }",
    )
    .replace("workload_cap = 40", "workload_cap = 1");
    let plan = Plan::parse_toml(&text, "t.toml").unwrap();
    match draw(&pools, &plan, &History::default(), &seed(8)) {
        Err(DrawError::Shortages(shortages)) => {
            assert!(!shortages.is_empty());
            assert!(shortages.iter().all(|s| s.available < plan.team_size()));
            // Reasons are itemised for the first shortages; each of those
            // must name the caps, since without caps the plan is feasible.
            let itemised: Vec<_> = shortages.iter().filter_map(|s| s.reasons.as_ref()).collect();
            assert!(!itemised.is_empty());
            assert!(itemised.iter().all(|r| r.count(Bar::AtWorkloadCap) > 0), "{itemised:?}");
            let message = DrawError::Shortages(shortages).to_string();
            assert!(message.contains("at the workload cap"), "{message}");
        }
        other => panic!("expected shortages, got {other:?}"),
    }
}

/// A shortage counts every officer of the department once (spec §6): under
/// the first rule that rules them out, checked here from the pool's text, or
/// among those available; what no other rule explains is the cap.
#[test]
fn a_shortage_counts_every_officer_of_the_department_once() {
    let root = tempfile::tempdir().unwrap();
    let pools = load_pools(&small_pool(root.path(), 8));
    let earlier = draw_ok(&pools, &plan(&pools, 3, ""), &seed(80));
    let inspected = |v: &shuangsui::draw::Visit| Inspection {
        code: pools.targets[v.target as usize].code,
        item: pools.items[v.items[0] as usize].code.clone(),
        date: chrono::NaiveDate::from_ymd_opt(2025, 1, 6).unwrap(),
        officers: v
            .team
            .iter()
            .map(|&o| pools.inspectors[o as usize].cert.clone())
            .collect(),
    };
    let history = History::new(earlier.visits.iter().map(inspected).collect());
    let text = plan_toml(
        &pools,
        3,
        "[selection]\nratios = { A = 100, B = 100, C = 100, D = 100 }",
    )
    .replace("workload_cap = 40", "workload_cap = 1");
    let plan = Plan::parse_toml(&text, "t.toml").unwrap();
    let Err(DrawError::Shortages(shortages)) = draw(&pools, &plan, &history, &seed(8)) else {
        panic!("expected shortages");
    };
    let conflicts: HashSet<(&str, &str)> = pools
        .conflicts
        .iter()
        .map(|c| (c.cert.as_str(), c.code.as_str()))
        .collect();
    let mut previous_counted = 0;
    for shortage in &shortages {
        let Some(reasons) = &shortage.reasons else { continue };
        let target = &pools.targets[pools.target_index(&shortage.code).unwrap()];
        let last_team: HashSet<&str> = history
            .inspections
            .iter()
            .filter(|i| i.code == shortage.code)
            .flat_map(|i| i.officers.iter().map(|c| c.as_str()))
            .collect();
        let fields: Vec<&str> = shortage
            .items
            .iter()
            .map(|code| {
                pools
                    .items
                    .iter()
                    .find(|i| i.code.as_str() == code)
                    .unwrap()
                    .field
                    .as_str()
            })
            .collect();
        let mut expected: BTreeMap<Bar, u32> = BTreeMap::new();
        let mut in_department = 0;
        for officer in pools.inspectors.iter().filter(|o| o.department == plan.department()) {
            in_department += 1;
            let bar = if officer.valid_until < plan.inspection_date() {
                Bar::CertificateExpired
            } else if !fields.iter().all(|f| officer.areas.iter().any(|a| a == f)) {
                Bar::NotQualified
            } else if conflicts.contains(&(officer.cert.as_str(), shortage.code.as_str())) {
                Bar::DeclaredConflict
            } else if officer.township == pools.townships.name(target.township) {
                Bar::SameTownship
            } else if last_team.contains(officer.cert.as_str()) {
                Bar::PreviousInspector
            } else {
                continue;
            };
            *expected.entry(bar).or_default() += 1;
        }
        previous_counted += reasons.count(Bar::PreviousInspector);
        assert_eq!(reasons.in_department(), in_department, "{shortage}");
        for bar in [
            Bar::CertificateExpired,
            Bar::NotQualified,
            Bar::DeclaredConflict,
            Bar::SameTownship,
            Bar::PreviousInspector,
        ] {
            assert_eq!(
                reasons.count(bar),
                expected.get(&bar).copied().unwrap_or(0),
                "{bar:?}: {shortage}"
            );
        }
        assert_eq!(reasons.count(Bar::OnTeamOrTakenOff), 0, "{shortage}");
        assert_eq!(reasons.count(Bar::OnEarlierTeam), 0, "{shortage}");
        let barred: u32 = Bar::ALL.iter().map(|&b| reasons.count(b)).sum();
        assert_eq!(barred + shortage.available, in_department, "{shortage}");
    }
    assert!(previous_counted > 0, "the history should rule some officers out");
}

#[test]
fn a_fixed_count_draws_exactly_that_many_per_item() {
    let root = tempfile::tempdir().unwrap();
    let pools = load_pools(&small_pool(root.path(), 9));
    let plan = plan(&pools, 2, "[selection]\ncount = 7");
    let outcome = draw_ok(&pools, &plan, &seed(9));
    assert!(outcome.strata.iter().all(|s| s.drawn == 7 && s.class.is_none()));
    let too_many = self::plan(&pools, 2, "[selection]\ncount = 100000");
    assert!(matches!(
        draw(&pools, &too_many, &History::default(), &seed(9)),
        Err(DrawError::CountTooLarge { .. })
    ));
}

#[test]
fn every_target_of_a_stratum_is_equally_likely() {
    let root = tempfile::tempdir().unwrap();
    let pools = load_pools(&small_pool(root.path(), 10));
    let plan = plan(&pools, 1, "[selection]\nratios = { A = 10, B = 10, C = 10, D = 10 }");
    let runs = 400u32;
    let mut hits: BTreeMap<u32, u32> = BTreeMap::new();
    let mut class_b_eligible = 0;
    for n in 0..runs {
        let outcome = draw_ok(&pools, &plan, &seed(1000 + n as u64));
        class_b_eligible = outcome
            .strata
            .iter()
            .find(|s| s.class == Some(RiskClass::B))
            .unwrap()
            .eligible;
        for v in &outcome.visits {
            if pools.targets[v.target as usize].risk == RiskClass::B {
                *hits.entry(v.target).or_default() += 1;
            }
        }
    }
    // Each class-B target is drawn with p = k/n per run; no target may be
    // missed entirely, and the spread must look binomial (well within 6 sigma).
    assert_eq!(
        hits.len() as u32,
        class_b_eligible,
        "some class-B targets were never drawn in {runs} runs"
    );
    let k = (class_b_eligible as f64 * 0.1).ceil();
    let p = k / class_b_eligible as f64;
    let mean = p * runs as f64;
    let sigma = (runs as f64 * p * (1.0 - p)).sqrt();
    for (&target, &count) in &hits {
        assert!(
            (count as f64 - mean).abs() < 6.0 * sigma,
            "target {target} drawn {count} times, expected about {mean:.0}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Whatever the pool and seed, a draw that succeeds obeys every rule,
    /// and the same seed on the same pool gives the same result.
    #[test]
    fn rules_hold_for_any_pool_and_seed(pool_seed in 0u64..1000, draw_seed in any::<u64>(), items in 1usize..4, cap in 3u32..30) {
        let root = tempfile::tempdir().unwrap();
        let pools = load_pools(&small_pool(root.path(), pool_seed));
        let text = plan_toml(&pools, items, "[selection]\nratios = { A = 5, B = 5, C = 20, D = 50 }")
            .replace("workload_cap = 40", &format!("workload_cap = {cap}"));
        let plan = Plan::parse_toml(&text, "p.toml").unwrap();
        match draw(&pools, &plan, &History::default(), &seed(draw_seed)) {
            Ok(outcome) => {
                assert_rules_hold(&pools, &plan, &outcome);
                let again = draw(&pools, &plan, &History::default(), &seed(draw_seed)).unwrap();
                prop_assert_eq!(outcome, again);
            }
            // A tight cap may make a plan infeasible; it must then say so for
            // real shortages, never hand out a short team.
            Err(DrawError::Shortages(shortages)) => prop_assert!(shortages.iter().all(|s| s.available < plan.team_size())),
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }
}

#[test]
fn work_is_spread_evenly_when_nothing_else_constrains_it() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("pool");
    let options = shuangsui::generate::GenOptions {
        conflicts: 0,
        ..small_options(23)
    };
    shuangsui::generate::generate(&options, &dir).unwrap();
    let pools = load_pools(&dir);
    let text = plan_toml(&pools, 1, "[selection]\nratios = { A = 20, B = 20, C = 20, D = 100 }")
        .replace("same_township = true", "same_township = false")
        .replace("previous_inspector = true", "previous_inspector = false");
    let plan = Plan::parse_toml(&text, "p.toml").unwrap();
    let outcome = draw_ok(&pools, &plan, &seed(23));
    let field = &pools.items[outcome.visits[0].items[0] as usize].field;
    let qualified: Vec<u32> = (0..pools.inspectors.len() as u32)
        .filter(|&o| {
            let officer = &pools.inspectors[o as usize];
            officer.department == plan.department()
                && officer.areas.contains(field)
                && officer.valid_until >= plan.inspection_date()
        })
        .collect();
    let mut loads: BTreeMap<u32, u32> = qualified.iter().map(|&o| (o, 0)).collect();
    for visit in &outcome.visits {
        for o in &visit.team {
            *loads.get_mut(o).expect("only qualified officers serve") += 1;
        }
    }
    let (min, max) = (loads.values().min().unwrap(), loads.values().max().unwrap());
    assert!(
        outcome.visits.len() * 2 > qualified.len(),
        "the test needs more visits than officers"
    );
    assert!(
        max - min <= 1,
        "loads range from {min} to {max} over {} officers",
        qualified.len()
    );
}

/// Checks every rule of a joint plan (spec §13) on a finished draw: each
/// department of a visit supplies exactly `team_size` of its own officers,
/// the initiating department first (so the leader is one of its officers),
/// each qualified for that department's items on the visit, none expired,
/// conflicted or from the target's township, no one over the cap.
fn assert_joint_rules_hold(pools: &Pools, plan: &Plan, outcome: &Outcome) {
    let departments: Vec<&str> = plan.departments().collect();
    let size = plan.team_size() as usize;
    let conflicts: HashSet<(&str, &str)> = pools
        .conflicts
        .iter()
        .map(|c| (c.cert.as_str(), c.code.as_str()))
        .collect();
    let mut loads: BTreeMap<u32, u32> = BTreeMap::new();
    for visit in &outcome.visits {
        let target = &pools.targets[visit.target as usize];
        let owners: Vec<&str> = visit
            .items
            .iter()
            .map(|&i| pools.items[i as usize].department.as_str())
            .collect();
        let expected: Vec<&str> = departments
            .iter()
            .enumerate()
            .filter(|&(k, d)| k == 0 || owners.contains(d))
            .map(|(_, d)| *d)
            .collect();
        assert_eq!(visit.team.len(), size * expected.len(), "team size at {}", target.code);
        let distinct: HashSet<_> = visit.team.iter().collect();
        assert_eq!(distinct.len(), visit.team.len(), "an officer twice at {}", target.code);
        for (department, members) in expected.iter().zip(visit.team.chunks(size)) {
            for &o in members {
                let officer = &pools.inspectors[o as usize];
                assert_eq!(
                    &officer.department, department,
                    "{} in the wrong sub-team",
                    officer.cert
                );
                assert!(
                    officer.valid_until >= plan.inspection_date(),
                    "expired {}",
                    officer.cert
                );
                for &i in &visit.items {
                    let item = &pools.items[i as usize];
                    if item.department == *department {
                        assert!(
                            officer.areas.contains(&item.field),
                            "{} lacks {}",
                            officer.cert,
                            item.field
                        );
                    }
                }
                assert!(!conflicts.contains(&(officer.cert.as_str(), target.code.as_str())));
                if plan.recusal().same_township {
                    assert_ne!(&officer.township, pools.townships.name(target.township));
                }
                *loads.entry(o).or_default() += 1;
            }
        }
        let leader = &pools.inspectors[visit.team[0] as usize];
        assert_eq!(
            leader.department,
            plan.department(),
            "the leader must be of the initiator"
        );
        for &i in &visit.items {
            assert!(plan.items().contains(&pools.items[i as usize].code));
        }
    }
    assert!(
        loads.values().all(|&l| l <= plan.workload_cap()),
        "workload cap exceeded"
    );
}

fn joint_plan(pools: &Pools, extra: &str) -> Plan {
    Plan::parse_toml(&joint_plan_toml(pools, 2, 2, extra), "joint.toml").unwrap()
}

#[test]
fn a_joint_plan_draws_each_department_from_its_own_officers() {
    let root = tempfile::tempdir().unwrap();
    let pools = load_pools(&small_pool(root.path(), 31));
    let plan = joint_plan(&pools, "[selection]\nratios = { A = 3, B = 3, C = 10, D = 30 }");
    let outcome = draw_ok(&pools, &plan, &seed(31));
    assert_joint_rules_hold(&pools, &plan, &outcome);
    let participant = &plan.joint().unwrap().participants[0];
    let joint_visits = outcome
        .visits
        .iter()
        .filter(|v| {
            v.team
                .iter()
                .any(|&o| &pools.inspectors[o as usize].department == participant)
        })
        .count();
    assert!(joint_visits > 0, "no visit needed the participating department");
    assert!(
        joint_visits < outcome.visits.len(),
        "every visit needed both departments: the test covers less than it should"
    );
    // One draw over the union: four strata, labelled with the union item.
    assert_eq!(outcome.strata.len(), 4);
    assert!(outcome.strata.iter().all(|s| s.item == "*"));
    assert_eq!(
        outcome.strata.iter().map(|s| s.drawn as usize).sum::<usize>(),
        outcome.visits.len()
    );
}

#[test]
fn a_joint_draw_does_not_depend_on_row_order_or_encoding() {
    let root = tempfile::tempdir().unwrap();
    let dir = small_pool(root.path(), 32);
    let rewritten = root.path().join("rewritten");
    rewrite_pool(&dir, &rewritten);
    let (a, b) = (load_pools(&dir), load_pools(&rewritten));
    let plan = joint_plan(&a, "[selection]\ncount = 25");
    assert_eq!(
        assignments_csv(&a, &plan, &draw_ok(&a, &plan, &seed(32)), Visibility::Confidential),
        assignments_csv(&b, &plan, &draw_ok(&b, &plan, &seed(32)), Visibility::Confidential)
    );
}

#[test]
fn a_joint_shortage_names_the_short_department() {
    let root = tempfile::tempdir().unwrap();
    let pools = load_pools(&small_pool(root.path(), 33));
    let text = joint_plan_toml(
        &pools,
        1,
        1,
        "[selection]\nratios = { A = 100, B = 100, C = 100, D = 100 }",
    )
    .replace("workload_cap = 40", "workload_cap = 1");
    let plan = Plan::parse_toml(&text, "joint.toml").unwrap();
    match draw(&pools, &plan, &History::default(), &seed(33)) {
        Err(DrawError::Shortages(shortages)) => {
            let departments: Vec<&str> = plan.departments().collect();
            assert!(shortages
                .iter()
                .all(|s| s.available < plan.team_size() && departments.contains(&s.department.as_deref().unwrap())));
            let message = DrawError::Shortages(shortages).to_string();
            assert!(departments.iter().any(|d| message.contains(d)), "{message}");
        }
        other => panic!("expected shortages, got {other:?}"),
    }
}

#[test]
fn joint_plans_are_refused_when_malformed() {
    let root = tempfile::tempdir().unwrap();
    let pools = load_pools(&small_pool(root.path(), 34));
    let good = joint_plan_toml(&pools, 1, 1, "[selection]\ncount = 5");
    let refused = |text: String, needle: &str| {
        let err = Plan::parse_toml(&text, "joint.toml").unwrap_err().to_string();
        assert!(err.contains(needle), "{err}");
    };
    // No single item's ratios can govern a draw over the union of items.
    refused(good.replace("[selection]\ncount = 5", ""), "ratios or count");
    let initiator = plan(&pools, 1, "").department().to_owned();
    refused(
        good.replace("joint = [\"", &format!("joint = [\"{initiator}\", \"")),
        "initiates",
    );
    refused(good.replace("joint = [", "joint = [] #"), "at least one");
    // A participant not in departments.csv, and an item of a department
    // that is not in the plan.
    let unknown = Plan::parse_toml(&good.replace("joint = [\"", "joint = [\"盘州市气象局\", \""), "j.toml").unwrap();
    assert!(matches!(
        draw(&pools, &unknown, &History::default(), &seed(34)),
        Err(DrawError::UnknownDepartment(d)) if d == "盘州市气象局"
    ));
    let (participant, _) = participant_items(&pools, 1);
    let other = pools
        .departments
        .iter()
        .find(|d| **d != initiator && **d != participant)
        .unwrap();
    let foreign = Plan::parse_toml(&good.replace(&participant, other), "j.toml").unwrap();
    assert!(matches!(
        draw(&pools, &foreign, &History::default(), &seed(34)),
        Err(DrawError::ForeignItem { .. })
    ));
}

#[test]
fn a_plain_plan_keeps_its_json_and_its_single_department_teams() {
    // A plan without `joint` or `merge_with` serialises as before those
    // keys existed (so its hashes are unchanged) and draws as §6 says.
    let root = tempfile::tempdir().unwrap();
    let pools = load_pools(&small_pool(root.path(), 35));
    let single = plan(&pools, 2, "[selection]\ncount = 10");
    assert!(!single.to_json().contains("joint") && !single.to_json().contains("merge_with"));
    let outcome = draw_ok(&pools, &single, &seed(35));
    assert_rules_hold(&pools, &single, &outcome);
    assert!(outcome.visits.iter().all(|v| v.merged.is_none()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    /// Whatever the pool and seed, a joint draw that succeeds obeys every
    /// rule and is reproducible; one that fails names real shortages.
    #[test]
    fn joint_rules_hold_for_any_pool_and_seed(pool_seed in 0u64..1000, draw_seed in any::<u64>(), own in 1usize..3, joined in 1usize..3, cap in 3u32..30) {
        let root = tempfile::tempdir().unwrap();
        let pools = load_pools(&small_pool(root.path(), pool_seed));
        let text = joint_plan_toml(&pools, own, joined, "[selection]\nratios = { A = 2, B = 3, C = 10, D = 30 }")
            .replace("workload_cap = 40", &format!("workload_cap = {cap}"));
        let plan = Plan::parse_toml(&text, "joint.toml").unwrap();
        match draw(&pools, &plan, &History::default(), &seed(draw_seed)) {
            Ok(outcome) => {
                assert_joint_rules_hold(&pools, &plan, &outcome);
                let again = draw(&pools, &plan, &History::default(), &seed(draw_seed)).unwrap();
                prop_assert_eq!(outcome, again);
            }
            Err(DrawError::Shortages(shortages)) => prop_assert!(shortages
                .iter()
                .all(|s| s.available < plan.team_size() && s.department.is_some())),
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }
}

#[test]
fn a_merging_plan_is_not_drawn_without_its_earlier_visits() {
    let root = tempfile::tempdir().unwrap();
    let pools = load_pools(&small_pool(root.path(), 36));
    let text = plan_toml(&pools, 1, "[selection]\ncount = 5")
        .replace("id = \"TEST-1\"", "id = \"TEST-2\"\nmerge_with = [\"TEST-1\"]");
    let merging = Plan::parse_toml(&text, "m.toml").unwrap();
    let err = draw(&pools, &merging, &History::default(), &seed(36)).unwrap_err();
    assert_eq!(
        err,
        DrawError::Merge(MergeFault::Plans {
            named: vec!["TEST-1".into()],
            given: vec![],
        })
    );
    assert_eq!(
        err.to_string(),
        "merging with earlier plans: the plan names [TEST-1] in merge_with, the earlier visits given are of []"
    );
    let itself = text.replace("[\"TEST-1\"]", "[\"TEST-2\"]");
    assert!(Plan::parse_toml(&itself, "m.toml").is_err());
}

/// The scope the rules of §5 step 1 give, written out from the spec on the
/// pools' texts, beside the draw's own account of it.
fn scope_by_the_spec(pools: &Pools, plan: &Plan, history: &History, index: usize) -> TargetScope {
    let target = &pools.targets[index];
    let (entity, industry) = (
        pools.entity_types.name(target.entity_type),
        pools.industries.name(target.industry),
    );
    let allows = |listed: &[String], value: &str| listed.is_empty() || listed.iter().any(|v| v == value);
    let filters = plan.targets();
    if !allows(&filters.townships, pools.townships.name(target.township))
        || !allows(&filters.entity_types, entity)
        || !allows(&filters.industries, industry)
    {
        return TargetScope::OutsideFilters;
    }
    let window = plan.exclude_inspected_within_days() as u64;
    let suited: Vec<_> = plan
        .items()
        .iter()
        .map(|code| pools.items.iter().find(|i| &i.code == code).unwrap())
        .filter(|item| allows(&item.entity_types, entity) && allows(&item.industries, industry))
        .collect();
    let recent = |item: &shuangsui::pools::Item| {
        window > 0
            && history.inspections.iter().any(|i| {
                i.code == target.code
                    && i.item == item.code
                    && i.date + chrono::Days::new(window) > plan.inspection_date()
            })
    };
    match (suited.is_empty(), suited.iter().all(|item| recent(item))) {
        (true, _) => TargetScope::NoItemApplies,
        (false, true) => TargetScope::RecentlyInspected,
        (false, false) => TargetScope::Eligible,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    /// A plan's scope, as the public is told it, is the spec's: every target
    /// the draw chose is in it, and the strata count exactly its targets.
    #[test]
    fn a_plans_scope_is_what_the_draw_could_choose(pool_seed in 0u64..1000, draw_seed in any::<u64>(), items in 1usize..4, joint: bool, filtered: bool) {
        let root = tempfile::tempdir().unwrap();
        let pools = load_pools(&small_pool(root.path(), pool_seed));
        let mut extra = "[selection]\nratios = { A = 10, B = 10, C = 30, D = 60 }\nexclude_inspected_within_days = 90\n".to_owned();
        if filtered {
            let township = pools.townships.name(pools.targets[0].township);
            extra.push_str(&format!("[targets]\ntownships = [{township:?}]\n"));
        }
        let text = match joint {
            true => joint_plan_toml(&pools, items, 1, &extra),
            false => plan_toml(&pools, items, &extra),
        };
        let plan = Plan::parse_toml(&text, "p.toml").unwrap();
        // Half the targets a first draw chose were inspected 30 days before:
        // excluded for those items, in scope for the others.
        let first = draw(&pools, &plan, &History::default(), &seed(draw_seed)).ok();
        let inspections = first.iter().flat_map(|o| &o.visits).step_by(2).flat_map(|visit| {
            visit.items.iter().map(|&item| Inspection {
                code: pools.targets[visit.target as usize].code,
                item: pools.items[item as usize].code.clone(),
                date: plan.inspection_date() - chrono::Days::new(30),
                officers: vec![],
            })
        });
        let history = History::new(inspections.collect());
        let scope = targets_scope(&pools, &plan, &history).unwrap();
        prop_assert_eq!(scope.len(), pools.targets.len());
        for (index, found) in scope.iter().enumerate() {
            prop_assert_eq!(*found, scope_by_the_spec(&pools, &plan, &history, index), "target {}", index);
        }
        if let Ok(outcome) = draw(&pools, &plan, &history, &seed(draw_seed.wrapping_add(1))) {
            for visit in &outcome.visits {
                prop_assert_eq!(scope[visit.target as usize], TargetScope::Eligible);
            }
            // One stratum set over the plan's union: a joint plan, or a plain
            // plan of one item.
            if joint || plan.items().len() == 1 {
                let eligible: u32 = outcome.strata.iter().map(|s| s.eligible).sum();
                let in_scope = scope.iter().filter(|s| **s == TargetScope::Eligible).count();
                prop_assert_eq!(eligible as usize, in_scope);
            }
        }
    }
}
