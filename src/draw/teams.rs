//! Drawing a team for every visit (spec §6): only qualified officers of the
//! plan's department with a valid certificate, never one under recusal, the
//! least-loaded first so the work is spread as evenly as the caps allow, and
//! a full team or an error that says why not.
//!
//! Every officer holds a key (load, ticket); a ticket is a fresh random word
//! drawn each time the officer's load changes, so among equally loaded
//! officers the order is uniformly random and partners change from round to
//! round. A visit takes the smallest keys among its eligible officers. Keys
//! live in one ordered queue per distinct set of required fields, so a visit
//! costs a few queue steps, not a pass over the whole department.

use std::collections::{BTreeMap, BTreeSet, HashMap};
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
    /// Itemised for the first shortages only (see `ITEMISED_SHORTAGES`).
    pub reasons: Option<ShortageReasons>,
}

impl fmt::Display for Shortage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({}): needs {} officers, {} available",
            self.code,
            self.name,
            self.items.join(", "),
            self.needed,
            self.available
        )?;
        let Some(r) = &self.reasons else { return Ok(()) };
        write!(
            f,
            " — of {} in the department: {} certificate expired, {} not qualified, {} declared conflict, \
             {} same township, {} inspected it last time, {} at the workload cap",
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
        } else {
            self.recusal(officer.index, officer.township)
        }
    }

    /// The recusal rule, if any, that keeps a qualified officer off this visit.
    fn recusal(&self, index: u32, township: Option<Label>) -> Option<Bar> {
        if self.declared.contains(&index) {
            Some(Bar::Declared)
        } else if self.township.is_some() && township == self.township {
            Some(Bar::Township)
        } else if self.previous.contains(&index) {
            Some(Bar::Previous)
        } else {
            None
        }
    }

    fn recused(&self, index: u32, township: Option<Label>) -> bool {
        self.recusal(index, township).is_some()
    }
}

struct Rules<'a> {
    pools: &'a Pools,
    plan: &'a Plan,
    officers: Vec<Officer>,
    /// Home township of every inspector, by inspector index.
    townships: Vec<Option<Label>>,
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

    fn shortage(&self, visit: &Visit, loads: &[u32], available: usize, itemise: bool) -> Shortage {
        let bars = self.visit_bars(visit);
        let mut reasons = ShortageReasons {
            in_department: self.officers.len() as u32,
            ..Default::default()
        };
        for officer in self.officers.iter().filter(|_| itemise) {
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
            name: self.pools.target_name(target).to_owned(),
            items: visit
                .items
                .iter()
                .map(|&i| self.pools.items[i as usize].code.to_string())
                .collect(),
            needed: self.plan.team_size,
            available: available as u32,
            reasons: itemise.then_some(reasons),
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
    // Drawn targets by credit code: the recusal list and the history name
    // targets by code, and only drawn ones matter.
    let drawn: HashMap<CreditCode, u32> = visits
        .iter()
        .map(|v| (pools.targets[v.target as usize].code, v.target))
        .collect();
    let mut declared: HashMap<u32, Vec<u32>> = HashMap::new();
    for conflict in &pools.conflicts {
        if let Some(&target) = drawn.get(&conflict.code) {
            if let Some(officer) = pools.inspector_index(&conflict.cert) {
                declared.entry(target).or_default().push(officer as u32);
            }
        }
    }
    let previous = if plan.recusal.previous_inspector {
        previous_teams(pools, history, &drawn)
    } else {
        HashMap::new()
    };
    let townships = pools
        .inspectors
        .iter()
        .map(|o| pools.townships.get(&o.township))
        .collect();
    Ok(Rules {
        pools,
        plan,
        officers,
        townships,
        declared,
        previous,
        item_fields,
    })
}

/// For each drawn target, the officers of its most recent inspection (all
/// inspections on that latest date), for the rotation (轮换) rule.
fn previous_teams(pools: &Pools, history: &History, drawn: &HashMap<CreditCode, u32>) -> HashMap<u32, Vec<u32>> {
    let mut latest: HashMap<u32, (chrono::NaiveDate, Vec<u32>)> = HashMap::new();
    for inspection in &history.inspections {
        let Some(&target) = drawn.get(&inspection.code) else {
            continue;
        };
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

/// How many shortages get an itemised reason count; past that the error is
/// about the plan, not individual targets, and counting would cost a pass over
/// the department per target.
const ITEMISED_SHORTAGES: usize = 200;

/// An officer's place in the queues: smallest first.
type Key = (u32, u64, u32);

/// The ticket of an officer at a load level (spec §6): the first word of the
/// stream `["ticket", cert_no, load in decimal]`.
fn ticket(seed: &Seed, cert: &str, load: u32) -> u64 {
    Stream::derive(seed, &[b"ticket", cert.as_bytes(), load.to_string().as_bytes()]).next_u64()
}

/// The officers still able to take work, smallest key first, in one queue
/// per (required fields, partition). The partition is the officer's home
/// township when the same-township rule applies, so a visit passes over its
/// own township's officers as a whole instead of one by one (they would
/// otherwise pile up at the front of the queue, never chosen, always
/// skipped); without the rule there is one partition.
struct Queues {
    queues: BTreeMap<(u64, Option<Label>), BTreeSet<Key>>,
    memberships: HashMap<u32, Vec<(u64, Option<Label>)>>,
}

impl Queues {
    /// Every valid officer, at load 0, in the queues of every field set among
    /// `needs` that they are qualified for.
    fn new(rules: &Rules<'_>, needs: &BTreeSet<u64>, tickets: &[u64]) -> Self {
        let mut queues: BTreeMap<(u64, Option<Label>), BTreeSet<Key>> = BTreeMap::new();
        let mut memberships: HashMap<u32, Vec<(u64, Option<Label>)>> = HashMap::new();
        for officer in rules.officers.iter().filter(|o| o.valid) {
            let partition = officer.township.filter(|_| rules.plan.recusal.same_township);
            for &fields in needs.iter().filter(|&&f| officer.fields & f == f) {
                let o = officer.index;
                queues
                    .entry((fields, partition))
                    .or_default()
                    .insert((0, tickets[o as usize], o));
                memberships.entry(o).or_default().push((fields, partition));
            }
        }
        Queues { queues, memberships }
    }

    fn partitions(&self, fields: u64) -> impl Iterator<Item = (Option<Label>, &BTreeSet<Key>)> {
        self.queues
            .range((fields, None)..=(fields, Some(Label::MAX)))
            .map(|(&(_, p), q)| (p, q))
    }

    /// How many qualified officers are queued for `fields`, and how many of
    /// them live in `township` (0 unless the same-township rule applies).
    fn counts(&self, fields: u64, township: Option<Label>) -> (usize, usize) {
        let mut all = 0;
        let mut local = 0;
        for (partition, queue) in self.partitions(fields) {
            all += queue.len();
            if township.is_some() && partition == township {
                local += queue.len();
            }
        }
        (all, local)
    }

    fn serves(&self, officer: u32, fields: u64) -> bool {
        self.memberships
            .get(&officer)
            .is_some_and(|m| m.iter().any(|&(f, _)| f == fields))
    }

    /// The `size` smallest keys among queued officers for `fields`, outside
    /// `township`'s partition and not `recused`, in ascending key order.
    fn smallest(&self, fields: u64, township: Option<Label>, size: usize, recused: impl Fn(u32) -> bool) -> Vec<u32> {
        let mut heads: Vec<_> = self
            .partitions(fields)
            .filter(|&(partition, _)| township.is_none() || partition != township)
            .map(|(_, queue)| queue.iter().peekable())
            .collect();
        let mut team = Vec::with_capacity(size);
        while team.len() < size {
            let best = heads
                .iter_mut()
                .enumerate()
                .filter_map(|(i, head)| head.peek().map(|&&key| (key, i)))
                .min();
            let Some(((_, _, officer), i)) = best else { break };
            heads[i].next();
            if !recused(officer) {
                team.push(officer);
            }
        }
        team
    }

    /// Moves an officer from `old` to `new` (or out, at the cap) in every queue.
    fn requeue(&mut self, officer: u32, old: Key, new: Option<Key>) {
        for place in &self.memberships[&officer] {
            let queue = self.queues.get_mut(place).expect("memberships name existing queues");
            queue.remove(&old);
            if let Some(new) = new {
                queue.insert(new);
            }
        }
    }
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
    let bars: Vec<VisitBars<'_>> = visits.iter().map(|v| rules.visit_bars(v)).collect();
    let mut loads = vec![0u32; pools.inspectors.len()];
    let mut tickets = vec![0u64; pools.inspectors.len()];
    for officer in rules.officers.iter().filter(|o| o.valid) {
        let o = officer.index as usize;
        tickets[o] = ticket(seed, pools.inspectors[o].cert.as_str(), 0);
    }
    let needs: BTreeSet<u64> = bars.iter().map(|b| b.fields).collect();
    let mut queues = Queues::new(&rules, &needs, &tickets);

    // Serve the hardest visits first (fewest eligible officers), so that caps
    // are not used up by visits that had plenty of choice; among equals, a
    // random order, so no target is favoured by its credit code.
    let eligible: Vec<usize> = bars
        .iter()
        .map(|bar| {
            let (qualified, same_township) = queues.counts(bar.fields, bar.township);
            // The declared and previous lists are short: check each officer.
            let mut listed: Vec<u32> = bar.declared.iter().chain(bar.previous).copied().collect();
            listed.sort_unstable();
            listed.dedup();
            let other = listed
                .iter()
                .filter(|&&o| queues.serves(o, bar.fields))
                .filter(|&&o| bar.township.is_none() || rules.townships[o as usize] != bar.township)
                .count();
            qualified - same_township - other
        })
        .collect();
    let mut order: Vec<u32> = (0..visits.len() as u32).collect();
    let n = order.len();
    Stream::derive(seed, &[b"visits"]).pick(&mut order, n);
    order.sort_by_key(|&v| eligible[v as usize]);

    let cap = plan.workload_cap;
    let size = plan.team_size as usize;
    let mut shortages = Vec::new();
    for &v in &order {
        let bar = &bars[v as usize];
        let team = queues.smallest(bar.fields, bar.township, size, |o| {
            bar.recused(o, rules.townships[o as usize])
        });
        if team.len() < size {
            let itemise = shortages.len() < ITEMISED_SHORTAGES;
            shortages.push(rules.shortage(&visits[v as usize], &loads, team.len(), itemise));
            continue;
        }
        for &o in &team {
            let old = (loads[o as usize], tickets[o as usize], o);
            loads[o as usize] += 1;
            let load = loads[o as usize];
            tickets[o as usize] = ticket(seed, pools.inspectors[o as usize].cert.as_str(), load);
            queues.requeue(o, old, (load < cap).then_some((load, tickets[o as usize], o)));
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
