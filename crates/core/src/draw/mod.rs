//! The draw: a pure function of (pools, plan, history, seed) under algorithm
//! version 1. It first draws targets per item and credit-risk stratum, merges
//! the items that land on one target into one visit, then draws a team for
//! each visit. `docs/ALGORITHM.md` §4–§6 specify it step by step, §13 the
//! joint plans of several departments and §14 the merging of visits with
//! earlier plans of one period; every random choice goes through
//! [`crate::random::Stream`].

pub mod eligibility;
mod listed;
mod scope;
mod teams;

use std::collections::{HashMap, HashSet};
use std::fmt;

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::Serialize;

use crate::history::History;
use crate::merge::Merged;
use crate::plan::{Plan, Quota};
use crate::pools::{Label, Labels, PoolRecords, RiskClass, Target};
use crate::random::Stream;
use crate::seed::Seed;
use crate::snapshot::{list_hash, record_hash, Hash32};

pub use eligibility::{Bar, RuledOut};
pub use listed::{check_listed_teams, ListedTeamError};
pub use scope::{check_new_plan, draw_new, targets_scope, TargetScope};
pub use teams::Shortage;

/// The version of the draw algorithm; any change of output bumps it.
pub const ALGORITHM_VERSION: u32 = 1;

/// One visit: a target with every item drawn for it, and its team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    /// Index into `Pools::targets`.
    pub target: u32,
    /// Indices into `Pools::items`, ascending (= item code order).
    pub items: Vec<u32>,
    /// Indices into `Pools::inspectors`, in draw order; the first is the
    /// leader. A joint plan lists each department's officers together, the
    /// initiating department's first (spec §13).
    pub team: Vec<u32>,
    /// The earlier plan (index into the plan's `merge_with`) whose visit to
    /// this target this one joins (spec §14).
    pub merged: Option<u32>,
}

/// The size of one stratum and how many were drawn from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StratumCount {
    pub item: String,
    /// `None` when the plan draws a fixed count over all classes.
    pub class: Option<RiskClass>,
    pub eligible: u32,
    pub drawn: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Sorted by target credit code.
    pub visits: Vec<Visit>,
    pub strata: Vec<StratumCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrawError {
    #[error("plan department {0:?} is not in departments.csv")]
    UnknownDepartment(String),
    #[error("plan item {0} is not in items.csv")]
    UnknownItem(String),
    #[error("plan item {item} belongs to {owner}, not to the plan's department {department}")]
    ForeignItem {
        item: String,
        owner: String,
        department: String,
    },
    #[error("item {item}: the plan asks for {count} targets but only {eligible} are eligible")]
    CountTooLarge { item: String, count: u32, eligible: u32 },
    #[error("the joint plan asks for {count} targets but only {eligible} are eligible for any of its items")]
    JointCountTooLarge { count: u32, eligible: u32 },
    #[error("joint plan: {0}")]
    Joint(JointFault),
    #[error("merging with earlier plans: {0}")]
    Merge(MergeFault),
    #[error("a plan may hold at most 64 distinct enforcement fields, this one has {0}")]
    TooManyFields(usize),
    #[error("{}", shortage_report(.0))]
    Shortages(Vec<Shortage>),
    /// A new plan's filter value that no target has (checked before a new
    /// draw, never when one is redone: spec §5).
    #[error("{}", unmatched_report(.field, .value, .file, .closest))]
    UnmatchedFilter {
        /// The plan key, `targets.townships` and the like.
        field: &'static str,
        value: String,
        /// Where the targets come from, for the message.
        file: String,
        /// Up to three existing values nearest to `value`.
        closest: Vec<String>,
    },
    /// A new plan that would draw no visit at all.
    #[error("the plan draws no visit: {0}")]
    NoVisits(NoVisits),
}

/// Why a joint plan cannot be drawn (spec §13). Plans are checked when they
/// are built, so the draw meets these only if that check ever falls short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JointFault {
    #[error("participants must be a non-empty, sorted list of distinct departments other than the initiating one")]
    Participants,
    #[error("it draws once over the union of its items, so it needs ratios or count, not the items' own ratios")]
    ItemRatios,
}

/// Why the earlier visits given do not fit the plan's `merge_with` (spec §14).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeFault {
    #[error("the plan names [{}] in merge_with, the earlier visits given are of [{}]", .named.join(", "), .given.join(", "))]
    Plans { named: Vec<String>, given: Vec<String> },
    #[error("a visit of plan {plan} is given, which merge_with does not name")]
    Unnamed { plan: String },
    #[error("plan {plan} inspects on {date}, this plan on {ours}: only plans of one inspection date merge")]
    OtherDate {
        plan: String,
        date: NaiveDate,
        ours: NaiveDate,
    },
}

/// Why a new plan would draw no visit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoVisits {
    #[error(
        "no target is eligible for any of its items (check the target filters, the items' own scope and the exclusion window)"
    )]
    NoneEligible,
    #[error("every quota is 0 ({eligible} eligible targets over all items and classes): raise the ratios")]
    ZeroQuotas { eligible: u64 },
}

fn unmatched_report(field: &str, value: &str, file: &str, closest: &[String]) -> String {
    let mut text = format!("plan {field}: {value:?} matches no target in {file}");
    if closest.is_empty() {
        text.push_str(" (no target has any value there)");
    } else {
        let quoted: Vec<String> = closest.iter().map(|c| format!("{c:?}")).collect();
        text.push_str(&format!("; the closest existing values are {}", quoted.join(", ")));
    }
    text
}

fn shortage_report(shortages: &[Shortage]) -> String {
    const SHOWN: usize = 20;
    let mut text = format!("{} drawn targets cannot get a full team:", shortages.len());
    for s in shortages.iter().take(SHOWN) {
        text.push_str(&format!("\n  {s}"));
    }
    if shortages.len() > SHOWN {
        text.push_str(&format!("\n  … and {} more", shortages.len() - SHOWN));
    }
    let capped = shortages
        .iter()
        .filter(|s| s.reasons.as_ref().is_some_and(|r| r.count(Bar::AtWorkloadCap) > 0))
        .count();
    if capped > 0 {
        text.push_str(&format!(
            "\n{capped} of them ran into workload caps: raise teams.workload_cap, lower the ratios or split the plan"
        ));
    }
    text
}

/// Draws a plan that merges with no earlier plan. The result depends only
/// on the arguments' content.
pub fn draw(pools: &PoolRecords, plan: &Plan, history: &History, seed: &Seed) -> Result<Outcome, DrawError> {
    draw_merged(pools, plan, history, &Merged::default(), seed)
}

/// Draws a plan, joining the visits of the earlier plans of its period that
/// it names (`merged`; empty unless the plan has `merge_with`).
pub fn draw_merged(
    pools: &PoolRecords,
    plan: &Plan,
    history: &History,
    merged: &Merged,
    seed: &Seed,
) -> Result<Outcome, DrawError> {
    // The targets first, exactly as a partial verification redoes them;
    // then the teams.
    let mut outcome = draw_selection(pools, plan, history, merged, seed)?;
    teams::assign(pools, plan, history, merged, seed, &mut outcome.visits)?;
    Ok(outcome)
}

/// The targets of a draw without its teams: what [`draw_merged`] draws
/// before any officer is assigned (spec §5, §13.1), with each visit that
/// joins an earlier plan's visit marked (§14) — none of it depends on the
/// recusal list. Whoever holds the pools but not `conflicts.csv` can redo
/// this much of a draw, and check the listed teams against the rules that
/// do not need it ([`check_listed_teams`]). Every team is empty.
pub fn draw_selection(
    pools: &PoolRecords,
    plan: &Plan,
    history: &History,
    merged: &Merged,
    seed: &Seed,
) -> Result<Outcome, DrawError> {
    check_merged(plan, merged)?;
    let (chosen, strata) = draw_plan_targets(pools, plan, history, seed)?;
    let earlier = eligibility::earlier_teams(pools, plan, merged);
    let visits = chosen
        .into_iter()
        .map(|(target, items)| Visit {
            merged: earlier.get(&pools.targets[target as usize].code).map(|&(rank, _)| rank),
            target,
            items,
            team: Vec::new(),
        })
        .collect();
    Ok(Outcome { visits, strata })
}

/// The first stage of a draw: the plan's departments and items checked
/// against the pools, then its targets drawn (spec §5, §13.1).
fn draw_plan_targets(
    pools: &PoolRecords,
    plan: &Plan,
    history: &History,
    seed: &Seed,
) -> Result<(DrawnItems, Vec<StratumCount>), DrawError> {
    for department in plan.departments() {
        if pools
            .departments
            .binary_search_by(|d| d.as_str().cmp(department))
            .is_err()
        {
            return Err(DrawError::UnknownDepartment(department.to_owned()));
        }
    }
    if let Some(joint) = plan.joint() {
        // plan.json may come from anywhere: hold it to the rules of §13.
        let sorted = joint.participants.windows(2).all(|w| w[0] < w[1]);
        if joint.participants.is_empty() || !sorted || joint.participants.iter().any(|d| d == plan.department()) {
            return Err(DrawError::Joint(JointFault::Participants));
        }
    }
    let items = plan_items(pools, plan)?;
    if plan.joint().is_some() {
        draw_joint_targets(pools, plan, history, seed, &items)
    } else {
        draw_targets(pools, plan, history, seed, &items)
    }
}

/// The earlier visits must be exactly those of the plans named in
/// `merge_with`, all of this plan's inspection date (spec §14).
fn check_merged(plan: &Plan, merged: &Merged) -> Result<(), DrawError> {
    let named = plan.merge_with().unwrap_or_default();
    if merged.plans != named {
        return Err(DrawError::Merge(MergeFault::Plans {
            named: named.to_vec(),
            given: merged.plans.clone(),
        }));
    }
    for visit in &merged.visits {
        if !named.contains(&visit.plan_id) {
            return Err(DrawError::Merge(MergeFault::Unnamed {
                plan: visit.plan_id.clone(),
            }));
        }
        if visit.date != plan.inspection_date() {
            return Err(DrawError::Merge(MergeFault::OtherDate {
                plan: visit.plan_id.clone(),
                date: visit.date,
                ours: plan.inspection_date(),
            }));
        }
    }
    Ok(())
}

/// The plan's items as indices into `Pools::items`, ascending.
fn plan_items(pools: &PoolRecords, plan: &Plan) -> Result<Vec<u32>, DrawError> {
    plan.items()
        .iter()
        .map(|code| {
            let index = pools
                .items
                .binary_search_by(|i| i.code.cmp(code))
                .map_err(|_| DrawError::UnknownItem(code.to_string()))?;
            let item = &pools.items[index];
            if !plan.departments().any(|d| d == item.department) {
                return Err(DrawError::ForeignItem {
                    item: code.to_string(),
                    owner: item.department.clone(),
                    department: plan.departments().collect::<Vec<_>>().join("、"),
                });
            }
            Ok(index as u32)
        })
        .collect()
}

/// A set of labels as a bitmap over the interner; `None` lets every label in.
fn label_filter(labels: &Labels, names: &[String]) -> Option<Vec<bool>> {
    if names.is_empty() {
        return None;
    }
    let mut allowed = vec![false; labels.len()];
    for label in names.iter().filter_map(|n| labels.get(n)) {
        allowed[label as usize] = true;
    }
    Some(allowed)
}

fn admits(filter: &Option<Vec<bool>>, label: Label) -> bool {
    filter.as_ref().is_none_or(|allowed| allowed[label as usize])
}

/// Drawn targets in credit-code order, each with the items it was drawn for
/// (ascending).
type DrawnItems = Vec<(u32, Vec<u32>)>;

/// Target filters of the plan, as bitmaps over the target labels.
struct PlanFilters {
    entity_types: Option<Vec<bool>>,
    industries: Option<Vec<bool>>,
    townships: Option<Vec<bool>>,
}

impl PlanFilters {
    fn of(pools: &PoolRecords, plan: &Plan) -> Self {
        PlanFilters {
            entity_types: label_filter(&pools.entity_types, &plan.targets().entity_types),
            industries: label_filter(&pools.industries, &plan.targets().industries),
            townships: label_filter(&pools.townships, &plan.targets().townships),
        }
    }

    fn admit(&self, target: &Target) -> bool {
        admits(&self.entity_types, target.entity_type)
            && admits(&self.industries, target.industry)
            && admits(&self.townships, target.township)
    }

    /// The targets these filters let in, in credit-code order; `None` when
    /// there is no filter, so that no list of the whole directory is made.
    /// Every item of the plan draws from within these, so the directory is
    /// passed over once, not once per item (at national scale a pass is
    /// hundreds of megabytes), and each item then reads a short dense list
    /// instead of scattered records.
    fn targets(&self, pools: &PoolRecords) -> Option<Vec<Candidate>> {
        if self.entity_types.is_none() && self.industries.is_none() && self.townships.is_none() {
            return None;
        }
        Some(
            pools
                .targets
                .par_iter()
                .enumerate()
                .filter(|(_, target)| self.admit(target))
                .map(|(index, target)| Candidate::of(index as u32, target))
                .collect(),
        )
    }
}

/// The rules of a plan that decide its scope: its filters, and per item the
/// targets its history excludes.
struct PlanRules {
    filters: PlanFilters,
    excluded: HashMap<u32, HashSet<u32>>,
}

impl PlanRules {
    fn of(pools: &PoolRecords, plan: &Plan, history: &History) -> Self {
        PlanRules {
            filters: PlanFilters::of(pools, plan),
            excluded: recently_inspected(pools, plan, history),
        }
    }

    /// The question of [`ItemScope`] for each of `items`, in their order.
    fn item_scopes(&self, pools: &PoolRecords, items: &[u32]) -> Vec<ItemScope<'_>> {
        items
            .iter()
            .map(|&i| ItemScope::of(pools, i, self.excluded.get(&i)))
            .collect()
    }
}

/// Whether an item applies to a target (spec §5 step 1, first two bullets
/// and the history's): the item's entity types and industries admit it, and
/// the history has no inspection of it for the item within the exclusion
/// window. Every draw of targets and every account of a plan's scope asks
/// this one question.
struct ItemScope<'a> {
    item: u32,
    entity_types: Option<Vec<bool>>,
    industries: Option<Vec<bool>>,
    /// The targets the history excludes for this item.
    excluded: Option<&'a HashSet<u32>>,
}

impl<'a> ItemScope<'a> {
    fn of(pools: &PoolRecords, item: u32, excluded: Option<&'a HashSet<u32>>) -> Self {
        let record = &pools.items[item as usize];
        ItemScope {
            item,
            entity_types: label_filter(&pools.entity_types, &record.entity_types),
            industries: label_filter(&pools.industries, &record.industries),
            excluded,
        }
    }

    /// Whether the item is of the kind that applies to the target, history aside.
    fn suits(&self, entity_type: Label, industry: Label) -> bool {
        admits(&self.entity_types, entity_type) && admits(&self.industries, industry)
    }

    /// Whether the history excludes the target `index` for this item.
    fn excludes(&self, index: u32) -> bool {
        self.excluded.is_some_and(|set| set.contains(&index))
    }

    fn applies(&self, index: u32, entity_type: Label, industry: Label) -> bool {
        self.suits(entity_type, industry) && !self.excludes(index)
    }
}

/// What an item's draw reads of a target the plan's filters let in.
#[derive(Clone, Copy)]
struct Candidate {
    index: u32,
    entity_type: Label,
    industry: Label,
    risk: RiskClass,
}

impl Candidate {
    fn of(index: u32, target: &Target) -> Self {
        Candidate {
            index,
            entity_type: target.entity_type,
            industry: target.industry,
            risk: target.risk,
        }
    }
}

/// Draws targets for every item (spec §5) and groups them by target. Items
/// are independent (each has its own streams), so they are drawn in parallel.
fn draw_targets(
    pools: &PoolRecords,
    plan: &Plan,
    history: &History,
    seed: &Seed,
    items: &[u32],
) -> Result<(DrawnItems, Vec<StratumCount>), DrawError> {
    let rules = PlanRules::of(pools, plan, history);
    let in_plan = rules.filters.targets(pools);
    let per_item: Vec<Result<ItemDraw, DrawError>> = rules
        .item_scopes(pools, items)
        .par_iter()
        .map(|scope| draw_item(pools, plan, seed, scope, in_plan.as_deref()))
        .collect();
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let mut strata = Vec::new();
    for (&item, drawn) in items.iter().zip(per_item) {
        let ItemDraw {
            targets,
            strata: counts,
        } = drawn?;
        pairs.extend(targets.into_iter().map(|target| (target, item)));
        strata.extend(counts);
    }
    pairs.par_sort_unstable();
    let mut chosen: DrawnItems = Vec::new();
    for (target, item) in pairs {
        match chosen.last_mut() {
            Some((last, items)) if *last == target => items.push(item),
            _ => chosen.push((target, vec![item])),
        }
    }
    Ok((chosen, strata))
}

/// One item's draw: the targets picked, and its strata.
struct ItemDraw {
    targets: Vec<u32>,
    strata: Vec<StratumCount>,
}

/// Draws one item, the one `scope` asks of: its eligible targets per
/// stratum, and those picked. `in_plan` are the targets the plan's filters
/// let in (`None`: all).
fn draw_item(
    pools: &PoolRecords,
    plan: &Plan,
    seed: &Seed,
    scope: &ItemScope<'_>,
    in_plan: Option<&[Candidate]>,
) -> Result<ItemDraw, DrawError> {
    let item = &pools.items[scope.item as usize];
    // Eligible targets of each class, in credit-code order.
    let mut by_class: [Vec<u32>; 4] = Default::default();
    let mut consider = |target: Candidate| {
        if scope.applies(target.index, target.entity_type, target.industry) {
            by_class[target.risk as usize].push(target.index);
        }
    };
    match in_plan {
        Some(targets) => targets.iter().for_each(|&target| consider(target)),
        None => pools
            .targets
            .iter()
            .enumerate()
            .for_each(|(index, target)| consider(Candidate::of(index as u32, target))),
    }
    let code = item.code.as_str().as_bytes();
    let mut drawn = Vec::new();
    let mut strata = Vec::new();
    let mut take = |stratum: &mut Vec<u32>, k: usize, class: Option<RiskClass>| {
        let label = class.map_or("*", RiskClass::as_str);
        Stream::derive(seed, &[b"targets", code, label.as_bytes()]).pick(stratum, k);
        drawn.extend_from_slice(&stratum[..k]);
        strata.push(StratumCount {
            item: item.code.to_string(),
            class,
            eligible: stratum.len() as u32,
            drawn: k as u32,
        });
    };
    match plan.quota() {
        Quota::Count(count) => {
            let mut all: Vec<u32> = by_class.concat();
            all.sort_unstable(); // credit-code order across classes
            if *count as usize > all.len() {
                return Err(DrawError::CountTooLarge {
                    item: item.code.to_string(),
                    count: *count,
                    eligible: all.len() as u32,
                });
            }
            take(&mut all, *count as usize, None);
        }
        quota => {
            for class in RiskClass::ALL {
                let ratio = match quota {
                    Quota::RatiosBp(bp) => crate::pools::Ratio(bp[class as usize]),
                    _ => item.ratios[class as usize],
                };
                let stratum = &mut by_class[class as usize];
                let k = ratio.quota(stratum.len()).min(stratum.len());
                take(stratum, k, Some(class));
            }
        }
    }
    Ok(ItemDraw { targets: drawn, strata })
}

/// Draws the targets of a joint plan (spec §13): one draw over the union of
/// the items' scopes, each drawn target visited for every item that applies
/// to it and is not excluded by the history.
fn draw_joint_targets(
    pools: &PoolRecords,
    plan: &Plan,
    history: &History,
    seed: &Seed,
    items: &[u32],
) -> Result<(DrawnItems, Vec<StratumCount>), DrawError> {
    let rules = PlanRules::of(pools, plan, history);
    let (filters, scopes) = (&rules.filters, rules.item_scopes(pools, items));
    // Per target, the items that apply to it; only the eligible get one.
    let applicable: Vec<Option<Vec<u32>>> = pools
        .targets
        .par_iter()
        .enumerate()
        .map(|(index, target)| {
            if !filters.admit(target) {
                return None;
            }
            let its: Vec<u32> = scopes
                .iter()
                .filter(|scope| scope.applies(index as u32, target.entity_type, target.industry))
                .map(|scope| scope.item)
                .collect();
            (!its.is_empty()).then_some(its)
        })
        .collect();
    let mut by_class: [Vec<u32>; 4] = Default::default();
    for (index, its) in applicable.iter().enumerate() {
        if its.is_some() {
            by_class[pools.targets[index].risk as usize].push(index as u32);
        }
    }
    let mut drawn = Vec::new();
    let mut strata = Vec::new();
    let mut take = |stratum: &mut Vec<u32>, k: usize, class: Option<RiskClass>| {
        let label = class.map_or("*", RiskClass::as_str);
        Stream::derive(seed, &[b"joint-targets", label.as_bytes()]).pick(stratum, k);
        drawn.extend_from_slice(&stratum[..k]);
        strata.push(StratumCount {
            item: JOINT_STRATUM_ITEM.to_owned(),
            class,
            eligible: stratum.len() as u32,
            drawn: k as u32,
        });
    };
    match plan.quota() {
        Quota::Count(count) => {
            let mut all: Vec<u32> = by_class.concat();
            all.sort_unstable();
            if *count as usize > all.len() {
                return Err(DrawError::JointCountTooLarge {
                    count: *count,
                    eligible: all.len() as u32,
                });
            }
            take(&mut all, *count as usize, None);
        }
        Quota::RatiosBp(bp) => {
            for class in RiskClass::ALL {
                let stratum = &mut by_class[class as usize];
                let k = crate::pools::Ratio(bp[class as usize])
                    .quota(stratum.len())
                    .min(stratum.len());
                take(stratum, k, Some(class));
            }
        }
        // Refused when the plan is read: no one item's ratios govern the union.
        Quota::ItemRatios => return Err(DrawError::Joint(JointFault::ItemRatios)),
    }
    drawn.sort_unstable();
    let chosen = drawn
        .into_iter()
        .map(|target| {
            let its = applicable[target as usize].clone().expect("drawn targets are eligible");
            (target, its)
        })
        .collect();
    Ok((chosen, strata))
}

/// The `item` of a joint plan's strata in the manifest: not an item code
/// (codes cannot hold `*`), but the union of the plan's items.
pub const JOINT_STRATUM_ITEM: &str = "*";

/// Per item, the targets inspected for it within the plan's exclusion window:
/// an inspection dated d excludes the pair when d + N days > inspection date.
fn recently_inspected(pools: &PoolRecords, plan: &Plan, history: &History) -> HashMap<u32, HashSet<u32>> {
    let mut excluded: HashMap<u32, HashSet<u32>> = HashMap::new();
    let days = plan.exclude_inspected_within_days();
    if days == 0 {
        return excluded;
    }
    for inspection in &history.inspections {
        // A window that reaches past the calendar's end covers the date.
        let window_end = inspection.date.checked_add_days(chrono::Days::new(days as u64));
        if window_end.is_some_and(|end| end <= plan.inspection_date()) {
            continue;
        }
        let target = pools.target_index(&inspection.code);
        let item = pools.items.binary_search_by(|x| x.code.cmp(&inspection.item)).ok();
        if let (Some(target), Some(item)) = (target, item) {
            excluded.entry(item as u32).or_default().insert(target as u32);
        }
    }
    excluded
}

/// The texts of a draw's result and their hashes (spec §7), made once and
/// shared by the hashes and the bundle's files.
pub struct Published {
    /// Per visit, in credit-code order: the `;`-joined item codes and the
    /// `;`-joined team, leader first.
    pub texts: Vec<(String, String)>,
    /// Over (credit code, items): checkable without the recusal list.
    pub selection_sha256: Hash32,
    /// Over (credit code, items, team).
    pub result_sha256: Hash32,
}

impl Published {
    pub fn new(pools: &PoolRecords, outcome: &Outcome) -> Self {
        let texts: Vec<(String, String)> = outcome
            .visits
            .par_iter()
            .map(|visit| {
                let items: Vec<&str> = visit
                    .items
                    .iter()
                    .map(|&i| pools.items[i as usize].code.as_str())
                    .collect();
                let team: Vec<&str> = visit
                    .team
                    .iter()
                    .map(|&o| pools.inspectors[o as usize].cert.as_str())
                    .collect();
                (items.join(";"), team.join(";"))
            })
            .collect();
        let (selection, result): (Vec<Hash32>, Vec<Hash32>) = outcome
            .visits
            .par_iter()
            .zip(&texts)
            .map(|(visit, (items, team))| {
                let code = pools.targets[visit.target as usize].code;
                (
                    record_hash(&[code.as_str(), items]),
                    record_hash(&[code.as_str(), items, team]),
                )
            })
            .unzip();
        Published {
            selection_sha256: list_hash("shuangsui/v1/selection", selection.iter()),
            result_sha256: list_hash("shuangsui/v1/result", result.iter()),
            texts,
        }
    }
}

/// `result_sha256` of a draw (spec §7).
pub fn result_hash(pools: &PoolRecords, outcome: &Outcome) -> Hash32 {
    Published::new(pools, outcome).result_sha256
}

/// `selection_sha256` of a draw (spec §7).
pub fn selection_hash(pools: &PoolRecords, outcome: &Outcome) -> Hash32 {
    Published::new(pools, outcome).selection_sha256
}

impl fmt::Display for StratumCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = self.class.map_or("*", RiskClass::as_str);
        write!(f, "{} {class}: {}/{}", self.item, self.drawn, self.eligible)
    }
}
