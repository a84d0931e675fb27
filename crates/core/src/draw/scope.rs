//! What a new draw must satisfy before it is made or announced, beyond what
//! the draw itself checks: every filter value of the plan names a value some
//! target has, and the plan draws at least one visit. A misspelt township
//! otherwise just shrinks the draw, silently.
//!
//! These checks belong to assembling a new draw (the `draw` command, the
//! service's announcement and draw), not to the draw function: `verify`
//! redoes old draws, which must keep verifying whatever they drew.
//!
//! Here too is a plan's scope as a member of the public may be told it: for
//! each target, whether the plan could have drawn it ([`targets_scope`]).

use rayon::prelude::*;

use super::{draw_merged, draw_plan_targets, plan_items, DrawError, NoVisits, Outcome, PlanRules, StratumCount};
use crate::history::History;
use crate::merge::Merged;
use crate::plan::Plan;
use crate::pools::{Labels, PoolRecords};
use crate::seed::Seed;

/// How many existing values an unmatched filter value is shown with.
const CLOSEST: usize = 3;

/// Refuses a plan for a new draw on `pools` when a filter value matches no
/// target, or when it would draw no visit. How many targets each stratum
/// draws does not depend on the seed (spec §5), so this holds for whatever
/// seed is used later: a task is never announced that cannot be drawn.
pub fn check_new_plan(pools: &PoolRecords, plan: &Plan, history: &History) -> Result<(), DrawError> {
    check_filters(pools, plan)?;
    let (chosen, strata) = draw_plan_targets(pools, plan, history, &Seed::from_bytes([0; 32]))?;
    if chosen.is_empty() {
        return Err(DrawError::NoVisits(why_none(&strata)));
    }
    Ok(())
}

/// Draws a plan anew: [`draw_merged`] after the filter check, refusing an
/// outcome without visits (which would otherwise become an empty bundle).
pub fn draw_new(
    pools: &PoolRecords,
    plan: &Plan,
    history: &History,
    merged: &Merged,
    seed: &Seed,
) -> Result<Outcome, DrawError> {
    check_filters(pools, plan)?;
    let outcome = draw_merged(pools, plan, history, merged, seed)?;
    if outcome.visits.is_empty() {
        return Err(DrawError::NoVisits(why_none(&outcome.strata)));
    }
    Ok(outcome)
}

/// Where a target stands in a plan's scope, by the rules of §5 step 1 (and
/// §13.1, which uses the same): the ones that decide whether it can be
/// drawn at all, before its risk class decides how likely. Nothing here
/// depends on the risk class, so telling it to anyone reveals none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetScope {
    /// The plan's own filters (townships, entity types, industries) leave it out.
    OutsideFilters,
    /// None of the plan's items is of a kind that applies to it.
    NoItemApplies,
    /// Items apply to it, but the history has every one of them inspected
    /// on it within the exclusion window.
    RecentlyInspected,
    /// Some item of the plan applies to it: it could have been drawn.
    Eligible,
}

/// The scope of `plan` for each target of `pools`, in their order. A target
/// the draw chose is always [`TargetScope::Eligible`].
pub fn targets_scope(pools: &PoolRecords, plan: &Plan, history: &History) -> Result<Vec<TargetScope>, DrawError> {
    let items = plan_items(pools, plan)?;
    let rules = PlanRules::of(pools, plan, history);
    let (filters, scopes) = (&rules.filters, rules.item_scopes(pools, &items));
    Ok(pools
        .targets
        .par_iter()
        .enumerate()
        .map(|(index, target)| {
            if !filters.admit(target) {
                return TargetScope::OutsideFilters;
            }
            let mut suited = false;
            for scope in scopes.iter().filter(|s| s.suits(target.entity_type, target.industry)) {
                if !scope.excludes(index as u32) {
                    return TargetScope::Eligible;
                }
                suited = true;
            }
            match suited {
                true => TargetScope::RecentlyInspected,
                false => TargetScope::NoItemApplies,
            }
        })
        .collect())
}

/// Every value of the plan's target filters must be a value of its column.
fn check_filters(pools: &PoolRecords, plan: &Plan) -> Result<(), DrawError> {
    let filters = [
        ("targets.townships", &plan.targets().townships, &pools.townships),
        (
            "targets.entity_types",
            &plan.targets().entity_types,
            &pools.entity_types,
        ),
        ("targets.industries", &plan.targets().industries, &pools.industries),
    ];
    for (field, values, labels) in filters {
        if let Some(value) = values.iter().find(|v| labels.get(v).is_none()) {
            return Err(DrawError::UnmatchedFilter {
                field,
                value: value.clone(),
                file: pools.sources.targets.clone(),
                closest: closest(labels, value),
            });
        }
    }
    Ok(())
}

/// The existing values nearest to `value` by edit distance on characters,
/// nearest first, ties in text order.
fn closest(labels: &Labels, value: &str) -> Vec<String> {
    let mut scored: Vec<(usize, &str)> = (0..labels.len())
        .map(|l| labels.name(l as u16))
        .map(|name| (strsim::levenshtein(value, name), name))
        .collect();
    scored.sort_unstable();
    scored
        .into_iter()
        .take(CLOSEST)
        .map(|(_, name)| name.to_owned())
        .collect()
}

/// Why no stratum drew anything.
fn why_none(strata: &[StratumCount]) -> NoVisits {
    let eligible: u64 = strata.iter().map(|s| s.eligible as u64).sum();
    if eligible == 0 {
        NoVisits::NoneEligible
    } else {
        NoVisits::ZeroQuotas { eligible }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closest_values_come_nearest_first() {
        let mut labels = Labels::default();
        for name in ["红果街道", "翰林街道", "亦资街道", "柏果镇", "乌蒙镇"] {
            labels.intern(name);
        }
        // 亦资街道, 柏果镇 and 翰林街道 are all three edits away: text order decides.
        assert_eq!(closest(&labels, "红果街到"), ["红果街道", "亦资街道", "柏果镇"]);
        assert!(closest(&Labels::default(), "x").is_empty());
    }
}
