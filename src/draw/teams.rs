//! Drawing a team for every visit (spec §6): only qualified officers of the
//! plan's department with a valid certificate, never one under recusal, the
//! least-loaded first so the work is spread as evenly as the caps allow, and
//! a full team or an error that says why not. A joint plan (§13) draws one
//! sub-team per department of the visit, each from that department alone; a
//! plan merging with earlier plans of its period (§14) lets an earlier team
//! that may serve this visit do so, and keeps it off a team of its own.
//!
//! Every officer holds a key (load, ticket); a ticket is a fresh random word
//! drawn each time the officer's load changes, so among equally loaded
//! officers the order is uniformly random and partners change from round to
//! round. A visit takes the smallest keys among its eligible officers. Keys
//! live in one ordered queue per department and distinct set of required
//! fields, so a visit costs a few queue steps, not a pass over the whole
//! department.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::Serialize;

use super::{DrawError, Visit};
use crate::history::History;
use crate::ids::CreditCode;
use crate::merge::Merged;
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
    /// On the earlier team of a merged visit (spec §14).
    pub on_earlier_team: u32,
    pub at_workload_cap: u32,
}

/// A drawn target that cannot get a full team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shortage {
    pub code: CreditCode,
    pub name: String,
    pub items: Vec<String>,
    /// The department that is short, named for joint plans only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    pub needed: u32,
    pub available: u32,
    /// Itemised for the first shortages only (see `ITEMISED_SHORTAGES`).
    pub reasons: Option<ShortageReasons>,
}

impl fmt::Display for Shortage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({}): ", self.code, self.name, self.items.join(", "))?;
        if let Some(department) = &self.department {
            write!(f, "{department} ")?;
        }
        write!(f, "needs {} officers, {} available", self.needed, self.available)?;
        let Some(r) = &self.reasons else { return Ok(()) };
        write!(
            f,
            " — of {} in the department: {} certificate expired, {} not qualified, {} declared conflict, \
             {} same township, {} inspected it last time, ",
            r.in_department,
            r.certificate_expired,
            r.not_qualified,
            r.declared_conflict,
            r.same_township,
            r.previous_inspector,
        )?;
        if r.on_earlier_team > 0 {
            write!(f, "{} on the earlier team, ", r.on_earlier_team)?;
        }
        write!(f, "{} at the workload cap", r.at_workload_cap)
    }
}

/// Facts about one officer of a plan's department, computed once.
struct Officer {
    index: u32,
    /// Position of the officer's department in `Plan::departments`.
    department: u8,
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
    EarlierTeam,
}

/// What one department must supply to a visit: officers of department
/// `department` (position in `Plan::departments`) holding every field in
/// `fields`. Ordered as the sub-teams are listed: initiator first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Need {
    department: u8,
    fields: u64,
}

struct VisitBars<'a> {
    /// One per department of the visit, in team order.
    needs: Vec<Need>,
    township: Option<Label>,
    declared: &'a [u32],
    previous: &'a [u32],
    /// The earlier team of a merged visit that does not serve it (§14).
    earlier: Vec<u32>,
}

impl VisitBars<'_> {
    /// Why `officer` may not serve as one of this visit's `need`, if at all.
    fn bar(&self, officer: &Officer, need: Need) -> Option<Bar> {
        if !officer.valid {
            Some(Bar::Expired)
        } else if officer.fields & need.fields != need.fields {
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
        } else if self.earlier.contains(&index) {
            Some(Bar::EarlierTeam)
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
    /// `Plan::departments`, initiator first.
    departments: Vec<&'a str>,
    /// The officers of the plan's departments, in cert_no order.
    officers: Vec<Officer>,
    /// Per inspector index, the position in `officers` (or `u32::MAX`).
    officer_at: Vec<u32>,
    /// Home township of every inspector, by inspector index.
    townships: Vec<Option<Label>>,
    /// Per target, the officers on the declared recusal list for it.
    declared: HashMap<u32, Vec<u32>>,
    /// Per target, the officers of its previous inspection (rotation rule).
    previous: HashMap<u32, Vec<u32>>,
    /// Per plan item: its department's position and its field's bit.
    item_needs: HashMap<u32, Need>,
}

impl Rules<'_> {
    /// The bars that apply to one visit, looked up once per visit.
    fn visit_bars(&self, visit: &Visit) -> VisitBars<'_> {
        const NONE: &[u32] = &[];
        // The initiating department always takes part (spec §13); with its
        // own items on the visit its officers must hold their fields.
        let mut needs = vec![Need {
            department: 0,
            fields: 0,
        }];
        for item in &visit.items {
            let need = self.item_needs[item];
            match needs.iter_mut().find(|n| n.department == need.department) {
                Some(n) => n.fields |= need.fields,
                None => needs.push(need),
            }
        }
        needs.sort_unstable();
        VisitBars {
            needs,
            township: self
                .plan
                .recusal
                .same_township
                .then(|| self.pools.targets[visit.target as usize].township),
            declared: self.declared.get(&visit.target).map_or(NONE, Vec::as_slice),
            previous: self.previous.get(&visit.target).map_or(NONE, Vec::as_slice),
            earlier: Vec::new(),
        }
    }

    fn officer(&self, index: u32) -> Option<&Officer> {
        let at = *self.officer_at.get(index as usize)?;
        self.officers.get(at as usize)
    }

    /// Whether an earlier team may do this visit too (spec §14): laid out
    /// as this visit's sub-teams would be, every member eligible for them.
    fn may_serve(&self, bars: &VisitBars<'_>, team: &[Option<u32>]) -> bool {
        let size = self.plan.team_size as usize;
        team.len() == size * bars.needs.len()
            && bars.needs.iter().zip(team.chunks(size)).all(|(&need, members)| {
                members.iter().all(|&o| {
                    o.and_then(|o| self.officer(o)).is_some_and(|officer| {
                        officer.department == need.department && bars.bar(officer, need).is_none()
                    })
                })
            })
    }

    fn shortage(
        &self,
        visit: &Visit,
        bars: &VisitBars<'_>,
        need: Need,
        loads: &[u32],
        available: usize,
        itemise: bool,
    ) -> Shortage {
        let in_department = self.officers.iter().filter(|o| o.department == need.department);
        let mut reasons = ShortageReasons {
            in_department: in_department.clone().count() as u32,
            ..Default::default()
        };
        for officer in in_department.filter(|_| itemise) {
            match bars.bar(officer, need) {
                Some(Bar::Expired) => reasons.certificate_expired += 1,
                Some(Bar::Unqualified) => reasons.not_qualified += 1,
                Some(Bar::Declared) => reasons.declared_conflict += 1,
                Some(Bar::Township) => reasons.same_township += 1,
                Some(Bar::Previous) => reasons.previous_inspector += 1,
                Some(Bar::EarlierTeam) => reasons.on_earlier_team += 1,
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
            department: self
                .plan
                .joint
                .as_ref()
                .map(|_| self.departments[need.department as usize].to_owned()),
            needed: self.plan.team_size,
            available: available as u32,
            reasons: itemise.then_some(reasons),
        }
    }
}

fn rules<'a>(pools: &'a Pools, plan: &'a Plan, history: &History, visits: &[Visit]) -> Result<Rules<'a>, DrawError> {
    let departments: Vec<&str> = plan.departments().collect();
    let department_of = |name: &str| departments.iter().position(|&d| d == name).map(|d| d as u8);
    // The plan's enforcement fields, numbered in order of first appearance in
    // item-code order; only membership matters, so the numbering is internal.
    let mut field_bits: HashMap<&str, u64> = HashMap::new();
    let mut item_needs = HashMap::new();
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
        let department = department_of(&pools.items[index].department).expect("plan items were checked");
        item_needs.insert(
            index as u32,
            Need {
                department,
                fields: bit,
            },
        );
    }
    let officers: Vec<Officer> = pools
        .inspectors
        .iter()
        .enumerate()
        .filter_map(|(index, o)| department_of(&o.department).map(|d| (index, o, d)))
        .map(|(index, o, department)| Officer {
            index: index as u32,
            department,
            valid: o.valid_until >= plan.inspection_date,
            fields: o
                .areas
                .iter()
                .filter_map(|a| field_bits.get(a.as_str()))
                .fold(0, |a, b| a | b),
            township: pools.townships.get(&o.township),
        })
        .collect();
    let mut officer_at = vec![u32::MAX; pools.inspectors.len()];
    for (at, officer) in officers.iter().enumerate() {
        officer_at[officer.index as usize] = at as u32;
    }
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
        departments,
        officers,
        officer_at,
        townships,
        declared,
        previous,
        item_needs,
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
/// per (department, required fields, partition). The partition is the officer's home
/// township when the same-township rule applies, so a visit passes over its
/// own township's officers as a whole instead of one by one (they would
/// otherwise pile up at the front of the queue, never chosen, always
/// skipped); without the rule there is one partition.
struct Queues {
    queues: BTreeMap<(Need, Option<Label>), BTreeSet<Key>>,
    memberships: HashMap<u32, Vec<(Need, Option<Label>)>>,
}

impl Queues {
    /// Every valid officer, at load 0, in the queues of every need among
    /// `needs` of their department whose fields they hold.
    fn new(rules: &Rules<'_>, needs: &BTreeSet<Need>, tickets: &[u64]) -> Self {
        let mut queues: BTreeMap<(Need, Option<Label>), BTreeSet<Key>> = BTreeMap::new();
        let mut memberships: HashMap<u32, Vec<(Need, Option<Label>)>> = HashMap::new();
        for officer in rules.officers.iter().filter(|o| o.valid) {
            let partition = officer.township.filter(|_| rules.plan.recusal.same_township);
            let serves = |n: &&Need| n.department == officer.department && officer.fields & n.fields == n.fields;
            for &need in needs.iter().filter(serves) {
                let o = officer.index;
                queues
                    .entry((need, partition))
                    .or_default()
                    .insert((0, tickets[o as usize], o));
                memberships.entry(o).or_default().push((need, partition));
            }
        }
        Queues { queues, memberships }
    }

    fn partitions(&self, need: Need) -> impl Iterator<Item = (Option<Label>, &BTreeSet<Key>)> {
        self.queues
            .range((need, None)..=(need, Some(Label::MAX)))
            .map(|(&(_, p), q)| (p, q))
    }

    /// How many qualified officers are queued for `need`, and how many of
    /// them live in `township` (0 unless the same-township rule applies).
    fn counts(&self, need: Need, township: Option<Label>) -> (usize, usize) {
        let mut all = 0;
        let mut local = 0;
        for (partition, queue) in self.partitions(need) {
            all += queue.len();
            if township.is_some() && partition == township {
                local += queue.len();
            }
        }
        (all, local)
    }

    fn serves(&self, officer: u32, need: Need) -> bool {
        self.memberships
            .get(&officer)
            .is_some_and(|m| m.iter().any(|&(n, _)| n == need))
    }

    /// The `size` smallest keys among queued officers for `need`, outside
    /// `township`'s partition and not `recused`, in ascending key order.
    fn smallest(&self, need: Need, township: Option<Label>, size: usize, recused: impl Fn(u32) -> bool) -> Vec<u32> {
        let mut heads: Vec<_> = self
            .partitions(need)
            .filter(|&(partition, _)| township.is_none() || partition != township)
            .map(|(_, queue)| queue.iter().peekable())
            .collect();
        // `size` comes from the plan and may be far more than there are
        // officers: room for the team grows with what is found.
        let mut team = Vec::new();
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
    merged: &Merged,
    seed: &Seed,
    visits: &mut [Visit],
) -> Result<(), DrawError> {
    let rules = rules(pools, plan, history, visits)?;
    let mut bars: Vec<VisitBars<'_>> = visits.iter().map(|v| rules.visit_bars(v)).collect();
    // Merged visits (spec §14): the earlier team does this visit too if it
    // may; otherwise it stays off this visit's own team.
    let mut served = vec![false; visits.len()];
    if !merged.visits.is_empty() {
        let named = plan.merge_with.as_deref().unwrap_or_default();
        let mut earlier: HashMap<CreditCode, (usize, Vec<Option<u32>>)> = HashMap::new();
        for visit in &merged.visits {
            let rank = named
                .iter()
                .position(|n| *n == visit.plan_id)
                .expect("merge inputs were checked");
            let team = visit
                .officers
                .iter()
                .map(|c| pools.inspector_index(c).map(|o| o as u32))
                .collect();
            match earlier.get(&visit.code) {
                Some((first, _)) if *first <= rank => {}
                _ => {
                    earlier.insert(visit.code, (rank, team));
                }
            }
        }
        for ((visit, bar), served) in visits.iter_mut().zip(&mut bars).zip(&mut served) {
            let Some((rank, team)) = earlier.get(&pools.targets[visit.target as usize].code) else {
                continue;
            };
            visit.merged = Some(*rank as u32);
            if rules.may_serve(bar, team) {
                visit.team = team.iter().flatten().copied().collect();
                *served = true;
            } else {
                bar.earlier = team.iter().flatten().copied().collect();
            }
        }
    }
    let mut loads = vec![0u32; pools.inspectors.len()];
    let mut tickets = vec![0u64; pools.inspectors.len()];
    for officer in rules.officers.iter().filter(|o| o.valid) {
        let o = officer.index as usize;
        tickets[o] = ticket(seed, pools.inspectors[o].cert.as_str(), 0);
    }
    let needs: BTreeSet<Need> = bars.iter().flat_map(|b| b.needs.iter().copied()).collect();
    let mut queues = Queues::new(&rules, &needs, &tickets);

    // Serve the hardest visits first (fewest eligible officers in the
    // department with the fewest), so that caps are not used up by visits
    // that had plenty of choice; among equals, a random order, so no target
    // is favoured by its credit code.
    let eligible: Vec<usize> = bars
        .iter()
        .map(|bar| {
            // The declared, previous and earlier lists are short: check each officer.
            let mut listed: Vec<u32> = bar
                .declared
                .iter()
                .chain(bar.previous)
                .chain(&bar.earlier)
                .copied()
                .collect();
            listed.sort_unstable();
            listed.dedup();
            bar.needs
                .iter()
                .map(|&need| {
                    let (qualified, same_township) = queues.counts(need, bar.township);
                    let other = listed
                        .iter()
                        .filter(|&&o| queues.serves(o, need))
                        .filter(|&&o| bar.township.is_none() || rules.townships[o as usize] != bar.township)
                        .count();
                    qualified - same_township - other
                })
                .min()
                .expect("every visit needs its initiating department")
        })
        .collect();
    let mut order: Vec<u32> = (0..visits.len() as u32).collect();
    let n = order.len();
    Stream::derive(seed, &[b"visits"]).pick(&mut order, n);
    order.sort_by_key(|&v| eligible[v as usize]);

    let cap = plan.workload_cap;
    let size = plan.team_size as usize;
    let mut shortages = Vec::new();
    for &v in order.iter().filter(|&&v| !served[v as usize]) {
        let bar = &bars[v as usize];
        let recused = |o: u32| bar.recused(o, rules.townships[o as usize]);
        let mut team: Vec<u32> = Vec::new();
        let mut short = false;
        // Departments are disjoint, so the sub-teams cannot compete for an
        // officer and loads change only once the whole team is known.
        for &need in &bar.needs {
            let sub = queues.smallest(need, bar.township, size, recused);
            if sub.len() < size {
                let itemise = shortages.len() < ITEMISED_SHORTAGES;
                shortages.push(rules.shortage(&visits[v as usize], bar, need, &loads, sub.len(), itemise));
                short = true;
            }
            if team.is_empty() {
                team = sub;
            } else {
                team.extend(sub);
            }
        }
        if short {
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
        shortages.sort_by(|a, b| (a.code, &a.department).cmp(&(b.code, &b.department)));
        Err(DrawError::Shortages(shortages))
    }
}
