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
//!
//! Who may serve is not decided here: every rule, and the counts of a
//! shortage, come from [`super::eligibility`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::Serialize;

use super::eligibility::{earlier_teams, Need, RuledOut, Rules, VisitRules};
use super::{DrawError, Visit};
use crate::history::History;
use crate::ids::CreditCode;
use crate::merge::Merged;
use crate::plan::Plan;
use crate::pools::{Label, Pools};
use crate::random::Stream;
use crate::seed::Seed;

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
    pub reasons: Option<RuledOut>,
}

impl fmt::Display for Shortage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({}): ", self.code, self.name, self.items.join(", "))?;
        if let Some(department) = &self.department {
            write!(f, "{department} ")?;
        }
        write!(f, "needs {} officers, {} available", self.needed, self.available)?;
        match &self.reasons {
            Some(reasons) => reasons.write_shortage(f),
            None => Ok(()),
        }
    }
}

/// Whether an earlier team may do this visit too (spec §14): laid out as
/// this visit's sub-teams would be, every member eligible for them.
fn may_serve(rules: &Rules<'_>, bars: &VisitRules<'_>, team: &[Option<u32>]) -> bool {
    let size = rules.plan().team_size() as usize;
    team.len() == size * bars.needs.len()
        && bars.needs.iter().zip(team.chunks(size)).all(|(&need, members)| {
            members.iter().all(|&o| {
                o.and_then(|o| rules.officer(o))
                    .is_some_and(|officer| bars.bar(officer, need, None).is_none())
            })
        })
}

/// A visit that cannot get `need`, with `available` officers found.
fn shortage(
    rules: &Rules<'_>,
    visit: &Visit,
    bars: &VisitRules<'_>,
    need: Need,
    loads: &[u32],
    available: usize,
    itemise: bool,
) -> Shortage {
    let pools = rules.pools();
    let plan = rules.plan();
    let reasons = itemise.then(|| {
        let mut reasons = RuledOut::default();
        for officer in rules.officers() {
            reasons.record(bars.bar(officer, need, Some(loads[officer.index as usize])));
        }
        reasons
    });
    let target = &pools.targets[visit.target as usize];
    Shortage {
        code: target.code,
        name: pools.target_name(target).to_owned(),
        items: visit
            .items
            .iter()
            .map(|&i| pools.items[i as usize].code.to_string())
            .collect(),
        department: plan
            .joint()
            .as_ref()
            .map(|_| rules.department_name(need.department).to_owned()),
        needed: plan.team_size(),
        available: available as u32,
        reasons,
    }
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
/// per (department, required fields, partition). The partition is
/// [`Rules::partition`], the group a visit may bar as a whole (the home
/// township under the same-township rule), so a visit passes over its barred
/// group at once instead of officer by officer (they would otherwise pile up
/// at the front of the queue, never chosen, always skipped).
struct Queues {
    queues: BTreeMap<(Need, Option<Label>), BTreeSet<Key>>,
    memberships: HashMap<u32, Vec<(Need, Option<Label>)>>,
}

impl Queues {
    /// Every officer, at load 0, in the queues of every need among `needs`
    /// that the officer serves (of its department, valid, qualified).
    fn new(rules: &Rules<'_>, needs: &BTreeSet<Need>, tickets: &[u64]) -> Self {
        let mut queues: BTreeMap<(Need, Option<Label>), BTreeSet<Key>> = BTreeMap::new();
        let mut memberships: HashMap<u32, Vec<(Need, Option<Label>)>> = HashMap::new();
        for officer in rules.officers() {
            let partition = rules.partition(officer);
            for &need in needs.iter().filter(|&&n| rules.serves(officer, n)) {
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
    /// them are in the `barred` partition.
    fn counts(&self, need: Need, barred: Option<Label>) -> (usize, usize) {
        let mut all = 0;
        let mut in_barred = 0;
        for (partition, queue) in self.partitions(need) {
            all += queue.len();
            if barred.is_some() && partition == barred {
                in_barred += queue.len();
            }
        }
        (all, in_barred)
    }

    fn serves(&self, officer: u32, need: Need) -> bool {
        self.memberships
            .get(&officer)
            .is_some_and(|m| m.iter().any(|&(n, _)| n == need))
    }

    /// The `size` smallest keys among queued officers for `need`, outside
    /// the `barred` partition and not `recused`, in ascending key order.
    fn smallest(&self, need: Need, barred: Option<Label>, size: usize, recused: impl Fn(u32) -> bool) -> Vec<u32> {
        let mut heads: Vec<_> = self
            .partitions(need)
            .filter(|&(partition, _)| barred.is_none() || partition != barred)
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
    let rules = Rules::compile(pools, plan, history, visits.iter().map(|v| v.target))?;
    let mut bars: Vec<VisitRules<'_>> = visits.iter().map(|v| rules.visit(v)).collect();
    // Merged visits (spec §14): the earlier team does this visit too if it
    // may; otherwise it stays off this visit's own team.
    let mut served = vec![false; visits.len()];
    if !merged.visits.is_empty() {
        let earlier = earlier_teams(pools, plan, merged);
        for ((visit, bar), served) in visits.iter_mut().zip(&mut bars).zip(&mut served) {
            let Some((rank, team)) = earlier.get(&pools.targets[visit.target as usize].code) else {
                continue;
            };
            visit.merged = Some(*rank);
            if may_serve(&rules, bar, team) {
                visit.team = team.iter().flatten().copied().collect();
                *served = true;
            } else {
                bar.earlier = team.iter().flatten().copied().collect();
            }
        }
    }
    let mut loads = vec![0u32; pools.inspectors.len()];
    let mut tickets = vec![0u64; pools.inspectors.len()];
    for officer in rules.officers().iter().filter(|o| o.valid) {
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
            // Those barred one by one are few: check each of them.
            let mut named: Vec<u32> = bar.named().collect();
            named.sort_unstable();
            named.dedup();
            let barred = bar.barred_group();
            bar.needs
                .iter()
                .map(|&need| {
                    let (qualified, in_barred) = queues.counts(need, barred);
                    let other = named
                        .iter()
                        .filter(|&&o| queues.serves(o, need))
                        .filter_map(|&o| rules.officer(o))
                        .filter(|&o| barred.is_none() || rules.partition(o) != barred)
                        .filter(|&o| bar.recusal(o).is_some())
                        .count();
                    qualified - in_barred - other
                })
                .min()
                .expect("every visit needs its initiating department")
        })
        .collect();
    let mut order: Vec<u32> = (0..visits.len() as u32).collect();
    let n = order.len();
    Stream::derive(seed, &[b"visits"]).pick(&mut order, n);
    order.sort_by_key(|&v| eligible[v as usize]);

    let cap = plan.workload_cap();
    let size = plan.team_size() as usize;
    let mut shortages = Vec::new();
    for &v in order.iter().filter(|&&v| !served[v as usize]) {
        let bar = &bars[v as usize];
        let recused = |o: u32| rules.officer(o).is_some_and(|o| bar.recusal(o).is_some());
        let mut team: Vec<u32> = Vec::new();
        let mut short = false;
        // Departments are disjoint, so the sub-teams cannot compete for an
        // officer and loads change only once the whole team is known.
        for &need in &bar.needs {
            let sub = queues.smallest(need, bar.barred_group(), size, recused);
            if sub.len() < size {
                let itemise = shortages.len() < ITEMISED_SHORTAGES;
                shortages.push(shortage(
                    &rules,
                    &visits[v as usize],
                    bar,
                    need,
                    &loads,
                    sub.len(),
                    itemise,
                ));
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
