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

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt;

use serde::Serialize;

use super::eligibility::{earlier_teams, Need, RuledOut, Rules, VisitRules};
use super::{DrawError, Visit};
use crate::history::History;
use crate::ids::CreditCode;
use crate::merge::Merged;
use crate::plan::Plan;
use crate::pools::{Label, PoolRecords};
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
    let mut digits = [0u8; 10];
    Stream::first_word(seed, &[b"ticket", cert.as_bytes(), decimal(load, &mut digits)])
}

/// `n` in decimal, written into `buffer`: a ticket is drawn per officer and
/// visit, too often to allocate a string each time.
fn decimal(mut n: u32, buffer: &mut [u8; 10]) -> &[u8] {
    let mut at = buffer.len();
    loop {
        at -= 1;
        buffer[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buffer[at..];
        }
    }
}

/// The place of a queue: what its officers serve, and their partition.
type Place = (Need, Option<Label>);

/// The officers still able to take work, smallest key first, in one queue
/// per (department, required fields, partition). The partition is
/// [`Rules::partition`], the group a visit may bar as a whole (the home
/// township under the same-township rule), so a visit passes over its barred
/// group at once instead of officer by officer (they would otherwise pile up
/// at the front of the queue, never chosen, always skipped).
///
/// Each queue is a binary heap. An officer who takes a visit gets a new key
/// in every queue it is in; its old entries are not searched for but left
/// where they are and dropped when they come to the front, since an entry
/// counts only while it is the officer's key now (`current`). Keys are
/// distinct (they end with the officer), so the queues give officers in
/// exactly the order of their keys.
struct Queues {
    /// Sorted, so that the queues of one need are adjacent.
    places: Vec<Place>,
    heaps: Vec<BinaryHeap<Reverse<Key>>>,
    /// Per queue, how many officers it holds (its heap also holds old entries).
    live: Vec<usize>,
    /// Per inspector, the queues it is in.
    memberships: Vec<Vec<u32>>,
    /// Per inspector, its key now; `None` once it takes no more work.
    current: Vec<Option<Key>>,
}

impl Queues {
    /// Every officer, at load 0, in the queues of every need among `needs`
    /// that the officer serves (of its department, valid, qualified).
    fn new(rules: &Rules<'_>, needs: &BTreeSet<Need>, tickets: &[u64]) -> Self {
        let entries = rules.officers().iter().flat_map(|officer| {
            let partition = rules.partition(officer);
            let o = officer.index;
            needs
                .iter()
                .filter(move |&&n| rules.serves(officer, n))
                .map(move |&need| ((need, partition), (0, tickets[o as usize], o)))
        });
        Queues::of(tickets.len(), entries)
    }

    /// The queues holding each officer's `key` at every `place` listed for
    /// it; `inspectors` is the size of the inspector list.
    fn of(inspectors: usize, entries: impl IntoIterator<Item = (Place, Key)>) -> Self {
        let mut by_place: BTreeMap<Place, Vec<Reverse<Key>>> = BTreeMap::new();
        let mut current = vec![None; inspectors];
        for (place, key) in entries {
            by_place.entry(place).or_default().push(Reverse(key));
            current[key.2 as usize] = Some(key);
        }
        let mut memberships = vec![Vec::new(); inspectors];
        let mut places = Vec::with_capacity(by_place.len());
        let mut heaps = Vec::with_capacity(by_place.len());
        let mut live = Vec::with_capacity(by_place.len());
        for (q, (place, keys)) in by_place.into_iter().enumerate() {
            for &Reverse((_, _, o)) in &keys {
                memberships[o as usize].push(q as u32);
            }
            places.push(place);
            live.push(keys.len());
            heaps.push(BinaryHeap::from(keys));
        }
        Queues {
            places,
            heaps,
            live,
            memberships,
            current,
        }
    }

    /// The queues of `need`, as a range of indices.
    fn of_need(&self, need: Need) -> std::ops::Range<usize> {
        self.places.partition_point(|p| p.0 < need)..self.places.partition_point(|p| p.0 <= need)
    }

    /// How many qualified officers are queued for `need`, and how many of
    /// them are in the `barred` partition.
    fn counts(&self, need: Need, barred: Option<Label>) -> (usize, usize) {
        let mut all = 0;
        let mut in_barred = 0;
        for q in self.of_need(need) {
            all += self.live[q];
            if barred.is_some() && self.places[q].1 == barred {
                in_barred += self.live[q];
            }
        }
        (all, in_barred)
    }

    fn serves(&self, officer: u32, need: Need) -> bool {
        self.memberships
            .get(officer as usize)
            .is_some_and(|m| m.iter().any(|&q| self.places[q as usize].0 == need))
    }

    /// The front of queue `q`, once the old entries before it are dropped.
    fn head(&mut self, q: usize) -> Option<Key> {
        let heap = &mut self.heaps[q];
        while let Some(&Reverse(key)) = heap.peek() {
            if self.current[key.2 as usize] == Some(key) {
                return Some(key);
            }
            heap.pop();
        }
        None
    }

    /// The `size` smallest keys among queued officers for `need`, outside
    /// the `barred` partition and not `recused`, in ascending key order.
    /// The queues are left as they were (old entries aside).
    fn smallest(&mut self, need: Need, barred: Option<Label>, size: usize, recused: impl Fn(u32) -> bool) -> Vec<u32> {
        let mut heads: Vec<(Option<Key>, usize)> = self
            .of_need(need)
            .filter(|&q| barred.is_none() || self.places[q].1 != barred)
            .map(|q| (None, q))
            .collect();
        for head in &mut heads {
            head.0 = self.head(head.1);
        }
        // `size` comes from the plan and may be far more than there are
        // officers: room for the team grows with what is found.
        let mut team = Vec::new();
        let mut taken = Vec::new();
        while team.len() < size {
            let best = heads
                .iter()
                .enumerate()
                .filter_map(|(i, &(head, _))| head.map(|key| (key, i)))
                .min();
            let Some((key, at)) = best else { break };
            let q = heads[at].1;
            self.heaps[q].pop();
            taken.push((q, key));
            heads[at].0 = self.head(q);
            if !recused(key.2) {
                team.push(key.2);
            }
        }
        for (q, key) in taken {
            self.heaps[q].push(Reverse(key));
        }
        team
    }

    /// Gives an officer its `new` key in every queue it is in, or takes it
    /// out of them (`None`, at the cap).
    fn requeue(&mut self, officer: u32, new: Option<Key>) {
        let o = officer as usize;
        if self.current[o].is_some() {
            for &q in &self.memberships[o] {
                self.live[q as usize] -= 1;
            }
        }
        self.current[o] = new;
        if let Some(new) = new {
            for &q in &self.memberships[o] {
                self.heaps[q as usize].push(Reverse(new));
                self.live[q as usize] += 1;
            }
        }
    }
}

/// Fills `team` of every visit, or reports every visit that cannot be served.
pub(super) fn assign(
    pools: &PoolRecords,
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
            loads[o as usize] += 1;
            let load = loads[o as usize];
            tickets[o as usize] = ticket(seed, pools.inspectors[o as usize].cert.as_str(), load);
            queues.requeue(o, (load < cap).then_some((load, tickets[o as usize], o)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The queues as ordered sets, each officer's old key taken out of
    /// every queue it is in: what [`Queues`] must behave as.
    struct Sets {
        queues: BTreeMap<Place, BTreeSet<Key>>,
        keys: Vec<Option<Key>>,
    }

    impl Sets {
        fn smallest(&self, need: Need, barred: Option<Label>, size: usize, recused: impl Fn(u32) -> bool) -> Vec<u32> {
            let mut all: Vec<Key> = self
                .queues
                .iter()
                .filter(|((n, p), _)| *n == need && (barred.is_none() || *p != barred))
                .flat_map(|(_, q)| q.iter().copied())
                .collect();
            all.sort_unstable();
            all.into_iter()
                .map(|k| k.2)
                .filter(|&o| !recused(o))
                .take(size)
                .collect()
        }

        fn requeue(&mut self, officer: u32, new: Option<Key>) {
            let old = self.keys[officer as usize].take();
            for queue in self.queues.values_mut() {
                if old.is_some_and(|old| queue.remove(&old)) {
                    if let Some(new) = new {
                        queue.insert(new);
                    }
                }
            }
            self.keys[officer as usize] = new;
        }
    }

    fn need(department: u8, fields: u64) -> Need {
        Need { department, fields }
    }

    proptest! {
        /// Teams taken from the heaps, with their old entries left behind,
        /// are the teams the ordered sets give, visit after visit; and the
        /// counts stay those of the officers still queued.
        #[test]
        fn the_queues_give_officers_in_key_order(
            officers in proptest::collection::vec((0u8..2, 1u64..4, proptest::option::of(0u16..3), any::<u64>()), 1..40),
            visits in proptest::collection::vec((0u8..2, 1u64..4, proptest::option::of(0u16..3), 1usize..4, any::<u64>()), 1..60),
            cap in 1u32..4,
        ) {
            // Officer o serves every need of its department whose fields it holds.
            let mut entries = Vec::new();
            for (o, &(department, fields, partition, ticket)) in officers.iter().enumerate() {
                for wanted in 1..4u64 {
                    if wanted & !fields == 0 {
                        entries.push(((need(department, wanted), partition), (0, ticket, o as u32)));
                    }
                }
            }
            let mut queues = Queues::of(officers.len(), entries.iter().copied());
            let mut sets = Sets { queues: BTreeMap::new(), keys: vec![None; officers.len()] };
            for &(place, key) in &entries {
                sets.queues.entry(place).or_default().insert(key);
                sets.keys[key.2 as usize] = Some(key);
            }
            let mut loads = vec![0u32; officers.len()];
            for &(department, fields, barred, size, recusal) in &visits {
                let n = need(department, fields);
                // A visit recuses the officers whose bit is set in `recusal`.
                let recused = |o: u32| recusal >> (o % 64) & 1 == 1;
                let expected = sets.smallest(n, barred, size, recused);
                prop_assert_eq!(queues.smallest(n, barred, size, recused), expected.clone());
                let queued: usize = sets.queues.iter().filter(|((m, _), _)| *m == n).map(|(_, q)| q.len()).sum();
                let in_barred: usize = sets.queues.iter().filter(|((m, p), _)| *m == n && barred.is_some() && *p == barred).map(|(_, q)| q.len()).sum();
                prop_assert_eq!(queues.counts(n, barred), (queued, in_barred));
                if expected.len() < size {
                    continue;
                }
                for o in expected {
                    loads[o as usize] += 1;
                    let load = loads[o as usize];
                    let ticket = officers[o as usize].3.rotate_left(load);
                    let new = (load < cap).then_some((load, ticket, o));
                    queues.requeue(o, new);
                    sets.requeue(o, new);
                }
            }
        }
    }

    #[test]
    fn decimal_writes_every_digit() {
        let mut buffer = [0u8; 10];
        for n in [0, 7, 10, 19, 20, 4_294_967_295] {
            assert_eq!(decimal(n, &mut buffer), n.to_string().as_bytes());
        }
    }
}
