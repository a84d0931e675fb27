//! The draw: a pure function of (pools, plan, history, seed) under algorithm
//! version 1. It first draws targets per item and credit-risk stratum, merges
//! the items that land on one target into one visit, then draws a team for
//! each visit. `docs/ALGORITHM.md` §4–§6 specify it step by step; every
//! random choice goes through [`crate::random::Stream`].

mod teams;

use std::collections::{HashMap, HashSet};
use std::fmt;

use rayon::prelude::*;
use serde::Serialize;

use crate::history::History;
use crate::plan::{Plan, Quota};
use crate::pools::{Label, Labels, Pools, RiskClass};
use crate::random::Stream;
use crate::seed::Seed;
use crate::snapshot::{list_hash, record_hash, Hash32};

pub use teams::{Shortage, ShortageReasons};

/// The version of the draw algorithm; any change of output bumps it.
pub const ALGORITHM_VERSION: u32 = 1;

/// One visit: a target with every item drawn for it, and its team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    /// Index into `Pools::targets`.
    pub target: u32,
    /// Indices into `Pools::items`, ascending (= item code order).
    pub items: Vec<u32>,
    /// Indices into `Pools::inspectors`, in draw order; the first is the leader.
    pub team: Vec<u32>,
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
    #[error("a plan may hold at most 64 distinct enforcement fields, this one has {0}")]
    TooManyFields(usize),
    #[error("{}", shortage_report(.0))]
    Shortages(Vec<Shortage>),
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
        .filter(|s| s.reasons.as_ref().is_some_and(|r| r.at_workload_cap > 0))
        .count();
    if capped > 0 {
        text.push_str(&format!(
            "\n{capped} of them ran into workload caps: raise teams.workload_cap, lower the ratios or split the plan"
        ));
    }
    text
}

/// Draws the plan. The result depends only on the arguments' content.
pub fn draw(pools: &Pools, plan: &Plan, history: &History, seed: &Seed) -> Result<Outcome, DrawError> {
    if pools.departments.binary_search(&plan.department).is_err() {
        return Err(DrawError::UnknownDepartment(plan.department.clone()));
    }
    let items = plan_items(pools, plan)?;
    let (chosen, strata) = draw_targets(pools, plan, history, seed, &items)?;
    let mut visits: Vec<Visit> = chosen
        .into_iter()
        .map(|(target, items)| Visit {
            target,
            items,
            team: Vec::new(),
        })
        .collect();
    teams::assign(pools, plan, history, seed, &mut visits)?;
    Ok(Outcome { visits, strata })
}

/// The plan's items as indices into `Pools::items`, ascending.
fn plan_items(pools: &Pools, plan: &Plan) -> Result<Vec<u32>, DrawError> {
    plan.items
        .iter()
        .map(|code| {
            let index = pools
                .items
                .binary_search_by(|i| i.code.cmp(code))
                .map_err(|_| DrawError::UnknownItem(code.to_string()))?;
            let item = &pools.items[index];
            if item.department != plan.department {
                return Err(DrawError::ForeignItem {
                    item: code.to_string(),
                    owner: item.department.clone(),
                    department: plan.department.clone(),
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

/// Draws targets for every item (spec §5) and groups them by target. Items
/// are independent (each has its own streams), so they are drawn in parallel.
fn draw_targets(
    pools: &Pools,
    plan: &Plan,
    history: &History,
    seed: &Seed,
    items: &[u32],
) -> Result<(DrawnItems, Vec<StratumCount>), DrawError> {
    let filters = PlanFilters {
        entity_types: label_filter(&pools.entity_types, &plan.targets.entity_types),
        industries: label_filter(&pools.industries, &plan.targets.industries),
        townships: label_filter(&pools.townships, &plan.targets.townships),
    };
    let excluded = recently_inspected(pools, plan, history);
    let per_item: Vec<Result<ItemDraw, DrawError>> = items
        .par_iter()
        .map(|&item| draw_item(pools, plan, seed, item, &filters, excluded.get(&item)))
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

/// Draws one item: its eligible targets per stratum, and those picked.
fn draw_item(
    pools: &Pools,
    plan: &Plan,
    seed: &Seed,
    item_index: u32,
    filters: &PlanFilters,
    excluded: Option<&HashSet<u32>>,
) -> Result<ItemDraw, DrawError> {
    let item = &pools.items[item_index as usize];
    let entity = label_filter(&pools.entity_types, &item.entity_types);
    let industry = label_filter(&pools.industries, &item.industries);
    // Eligible targets of each class, in credit-code order.
    let mut by_class: [Vec<u32>; 4] = Default::default();
    for (index, target) in pools.targets.iter().enumerate() {
        let eligible = admits(&entity, target.entity_type)
            && admits(&industry, target.industry)
            && admits(&filters.entity_types, target.entity_type)
            && admits(&filters.industries, target.industry)
            && admits(&filters.townships, target.township)
            && excluded.is_none_or(|set| !set.contains(&(index as u32)));
        if eligible {
            by_class[target.risk as usize].push(index as u32);
        }
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
    match &plan.quota {
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

/// Per item, the targets inspected for it within the plan's exclusion window:
/// an inspection dated d excludes the pair when d + N days > inspection date.
fn recently_inspected(pools: &Pools, plan: &Plan, history: &History) -> HashMap<u32, HashSet<u32>> {
    let mut excluded: HashMap<u32, HashSet<u32>> = HashMap::new();
    let days = plan.exclude_inspected_within_days;
    if days == 0 {
        return excluded;
    }
    for inspection in &history.inspections {
        if inspection.date + chrono::Days::new(days as u64) <= plan.inspection_date {
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
    pub fn new(pools: &Pools, outcome: &Outcome) -> Self {
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
pub fn result_hash(pools: &Pools, outcome: &Outcome) -> Hash32 {
    Published::new(pools, outcome).result_sha256
}

/// `selection_sha256` of a draw (spec §7).
pub fn selection_hash(pools: &Pools, outcome: &Outcome) -> Hash32 {
    Published::new(pools, outcome).selection_sha256
}

impl fmt::Display for StratumCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = self.class.map_or("*", RiskClass::as_str);
        write!(f, "{} {class}: {}/{}", self.item, self.drawn, self.eligible)
    }
}
