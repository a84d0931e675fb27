//! Drawing a team for every visit (spec §6): only qualified officers of the
//! plan's department with a valid certificate, never one under recusal, the
//! least-loaded first so the work is spread as evenly as the caps allow, and
//! a full team or an error that says why not.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Serialize;

use super::{DrawError, Visit};
use crate::history::History;
use crate::ids::CreditCode;
use crate::plan::Plan;
use crate::pools::{Label, Pools};
use crate::random::Stream;
use crate::seed::Seed;

/// Why the officers of the plan's department could not serve one visit. Each
/// officer is counted once, under the first reason that rules them out, in
/// the order of the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShortageReasons {
    pub in_department: u32,
    pub certificate_expired: u32,
    pub not_qualified: u32,
    pub declared_conflict: u32,
    pub same_township: u32,
    pub previous_inspector: u32,
    pub at_workload_cap: u32,
}

/// A drawn target that cannot get a full team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shortage {
    pub code: CreditCode,
    pub name: String,
    pub items: Vec<String>,
    pub needed: u32,
    pub available: u32,
    pub reasons: ShortageReasons,
}

impl fmt::Display for Shortage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.reasons;
        write!(
            f,
            "{} {} ({}): needs {} officers, {} available — of {} in the department: {} certificate expired, {} not qualified, \
             {} declared conflict, {} same township, {} inspected it last time, {} at the workload cap",
            self.code,
            self.name,
            self.items.join(", "),
            self.needed,
            self.available,
            r.in_department,
            r.certificate_expired,
            r.not_qualified,
            r.declared_conflict,
            r.same_township,
            r.previous_inspector,
            r.at_workload_cap,
        )
    }
}

/// Facts about one officer of the plan's department, computed once.
struct Officer {
    index: u32,
    valid: bool,
    /// Bit i set: qualified for the plan's i-th enforcement field.
    fields: u64,
    township: Option<Label>,
}

/// Why an officer may not serve a visit, in the order reasons are reported.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bar {
    Expired,
    Unqualified,
    Declared,
    Township,
    Previous,
}

struct VisitBars<'a> {
    fields: u64,
    township: Option<Label>,
    declared: &'a [u32],
    previous: &'a [u32],
}

impl VisitBars<'_> {
    fn bar(&self, officer: &Officer) -> Option<Bar> {
        if !officer.valid {
            Some(Bar::Expired)
        } else if officer.fields & self.fields != self.fields {
            Some(Bar::Unqualified)
        } else if self.declared.contains(&officer.index) {
            Some(Bar::Declared)
        } else if self.township.is_some() && officer.township == self.township {
            Some(Bar::Township)
        } else if self.previous.contains(&officer.index) {
            Some(Bar::Previous)
        } else {
            None
        }
    }
}

struct Rules<'a> {
    pools: &'a Pools,
    plan: &'a Plan,
    officers: Vec<Officer>,
    /// Per target, the officers on the declared recusal list for it.
    declared: HashMap<u32, Vec<u32>>,
    /// Per target, the officers of its previous inspection (rotation rule).
    previous: HashMap<u32, Vec<u32>>,
    item_fields: HashMap<u32, u64>,
}

impl Rules<'_> {
    /// The bars that apply to one visit, looked up once per visit.
    fn visit_bars(&self, visit: &Visit) -> VisitBars<'_> {
        const NONE: &[u32] = &[];
        VisitBars {
            fields: visit.items.iter().map(|i| self.item_fields[i]).fold(0, |a, b| a | b),
            township: self
                .plan
                .recusal
                .same_township
                .then(|| self.pools.targets[visit.target as usize].township),
            declared: self.declared.get(&visit.target).map_or(NONE, Vec::as_slice),
            previous: self.previous.get(&visit.target).map_or(NONE, Vec::as_slice),
        }
    }

    fn eligible(&self, visit: &Visit) -> Vec<u32> {
        let bars = self.visit_bars(visit);
        self.officers
            .iter()
            .filter(|o| bars.bar(o).is_none())
            .map(|o| o.index)
            .collect()
    }

    fn shortage(&self, visit: &Visit, loads: &[u32], available: usize) -> Shortage {
        let bars = self.visit_bars(visit);
        let mut reasons = ShortageReasons {
            in_department: self.officers.len() as u32,
            ..Default::default()
        };
        for officer in &self.officers {
            match bars.bar(officer) {
                Some(Bar::Expired) => reasons.certificate_expired += 1,
                Some(Bar::Unqualified) => reasons.not_qualified += 1,
                Some(Bar::Declared) => reasons.declared_conflict += 1,
                Some(Bar::Township) => reasons.same_township += 1,
                Some(Bar::Previous) => reasons.previous_inspector += 1,
                None if loads[officer.index as usize] >= self.plan.workload_cap => reasons.at_workload_cap += 1,
                None => {}
            }
        }
        let target = &self.pools.targets[visit.target as usize];
        Shortage {
            code: target.code,
            name: target.name.to_string(),
            items: visit
                .items
                .iter()
                .map(|&i| self.pools.items[i as usize].code.to_string())
                .collect(),
            needed: self.plan.team_size,
            available: available as u32,
            reasons,
        }
    }
}

fn rules<'a>(pools: &'a Pools, plan: &'a Plan, history: &History, visits: &[Visit]) -> Result<Rules<'a>, DrawError> {
    // The plan's enforcement fields, numbered in order of first appearance in
    // item-code order; only membership matters, so the numbering is internal.
    let mut field_bits: HashMap<&str, u64> = HashMap::new();
    let mut item_fields = HashMap::new();
    for code in &plan.items {
        let index = pools
            .items
            .binary_search_by(|i| i.code.cmp(code))
            .expect("plan items were resolved");
        let field = pools.items[index].field.as_str();
        let next = field_bits.len();
        if next >= 64 && !field_bits.contains_key(field) {
            return Err(DrawError::TooManyFields(next + 1));
        }
        let bit = *field_bits.entry(field).or_insert(1 << next);
        item_fields.insert(index as u32, bit);
    }
    let officers: Vec<Officer> = pools
        .inspectors
        .iter()
        .enumerate()
        .filter(|(_, o)| o.department == plan.department)
        .map(|(index, o)| Officer {
            index: index as u32,
            valid: o.valid_until >= plan.inspection_date,
            fields: o
                .areas
                .iter()
                .filter_map(|a| field_bits.get(a.as_str()))
                .fold(0, |a, b| a | b),
            township: pools.townships.get(&o.township),
        })
        .collect();
    let drawn: HashSet<u32> = visits.iter().map(|v| v.target).collect();
    let mut declared: HashMap<u32, Vec<u32>> = HashMap::new();
    for conflict in &pools.conflicts {
        let target = pools.target_index(&conflict.code).map(|t| t as u32);
        let officer = pools.inspector_index(&conflict.cert).map(|o| o as u32);
        if let (Some(target), Some(officer)) = (target, officer) {
            if drawn.contains(&target) {
                declared.entry(target).or_default().push(officer);
            }
        }
    }
    let previous = if plan.recusal.previous_inspector {
        previous_teams(pools, history, &drawn)
    } else {
        HashMap::new()
    };
    Ok(Rules {
        pools,
        plan,
        officers,
        declared,
        previous,
        item_fields,
    })
}

/// For each drawn target, the officers of its most recent inspection (all
/// inspections on that latest date), for the rotation (轮换) rule.
fn previous_teams(pools: &Pools, history: &History, drawn: &HashSet<u32>) -> HashMap<u32, Vec<u32>> {
    let mut latest: HashMap<u32, (chrono::NaiveDate, Vec<u32>)> = HashMap::new();
    for inspection in &history.inspections {
        let Some(target) = pools.target_index(&inspection.code).map(|t| t as u32) else {
            continue;
        };
        if !drawn.contains(&target) {
            continue;
        }
        let officers = inspection
            .officers
            .iter()
            .filter_map(|c| pools.inspector_index(c).map(|o| o as u32));
        let entry = latest.entry(target).or_insert((inspection.date, Vec::new()));
        if inspection.date > entry.0 {
            *entry = (inspection.date, Vec::new());
        }
        if inspection.date == entry.0 {
            entry.1.extend(officers);
        }
    }
    latest.into_iter().map(|(target, (_, team))| (target, team)).collect()
}

/// Fills `team` of every visit, or reports every visit that cannot be served.
pub(super) fn assign(
    pools: &Pools,
    plan: &Plan,
    history: &History,
    seed: &Seed,
    visits: &mut [Visit],
) -> Result<(), DrawError> {
    let rules = rules(pools, plan, history, visits)?;
    let eligible: Vec<Vec<u32>> = visits.iter().map(|v| rules.eligible(v)).collect();

    // Serve the hardest visits first (fewest eligible officers), so that caps
    // are not used up by visits that had plenty of choice; among equals, a
    // random order, so no target is favoured by its credit code.
    let mut order: Vec<u32> = (0..visits.len() as u32).collect();
    let n = order.len();
    Stream::derive(seed, &[b"visits"]).pick(&mut order, n);
    order.sort_by_key(|&v| eligible[v as usize].len());

    let cap = plan.workload_cap;
    let size = plan.team_size as usize;
    let mut loads = vec![0u32; pools.inspectors.len()];
    let mut shortages = Vec::new();
    let mut available: Vec<u32> = Vec::new();
    for &v in &order {
        let visit = &visits[v as usize];
        available.clear();
        available.extend(
            eligible[v as usize]
                .iter()
                .copied()
                .filter(|&o| loads[o as usize] < cap),
        );
        if available.len() < size {
            shortages.push(rules.shortage(visit, &loads, available.len()));
            continue;
        }
        // Least-loaded first: a stable sort keeps certificate order within a
        // load level, and each level is drawn from uniformly in turn.
        available.sort_by_key(|&o| loads[o as usize]);
        let code = pools.targets[visit.target as usize].code;
        let mut stream = Stream::derive(seed, &[b"team", code.as_bytes()]);
        let mut team = Vec::with_capacity(size);
        let mut start = 0;
        while team.len() < size {
            let level = loads[available[start] as usize];
            let end = start
                + available[start..]
                    .iter()
                    .take_while(|&&o| loads[o as usize] == level)
                    .count();
            let take = (size - team.len()).min(end - start);
            stream.pick(&mut available[start..end], take);
            team.extend_from_slice(&available[start..start + take]);
            start = end;
        }
        for &o in &team {
            loads[o as usize] += 1;
        }
        visits[v as usize].team = team;
    }
    if shortages.is_empty() {
        Ok(())
    } else {
        shortages.sort_by_key(|s| s.code);
        Err(DrawError::Shortages(shortages))
    }
}
