//! The recusal list (回避名单): which targets are named, drawn before the
//! targets exist so only those need remembering while they stream, then the
//! officers declaring a relation with each.

use std::collections::BTreeMap;

use super::catalogue::Catalogue;
use super::inspectors::Officer;
use super::sampling::{Rng, Weights};
use super::targets::NamedTarget;
use super::GenOptions;

pub(super) struct Conflict {
    pub officer: usize,
    pub target: u64,
    /// Index into the catalogue's relations.
    pub relation: usize,
}

/// Draws which targets the conflicts name. Maps target index → how many
/// conflicts name it, never more than there are officers.
pub(super) fn draw_conflict_targets(rng: &mut Rng, opts: &GenOptions) -> BTreeMap<u64, u32> {
    let mut wanted = BTreeMap::new();
    for _ in 0..opts.conflicts {
        loop {
            let target = rng.below(opts.targets as u64);
            let count = wanted.entry(target).or_insert(0u32);
            if (*count as usize) < opts.inspectors {
                *count += 1;
                break;
            }
        }
    }
    wanted
}

/// Pairs each drawn target with distinct officers. Declared relations are
/// mostly local (a relative's shop, a former employer nearby), so half the
/// time the officer is drawn among those living in the target's township.
pub(super) fn draw_conflicts(
    cat: &Catalogue,
    rng: &mut Rng,
    officers: &[Officer],
    wanted: &BTreeMap<u64, u32>,
    named: &BTreeMap<u64, NamedTarget>,
) -> Vec<Conflict> {
    let mut by_township = vec![Vec::new(); cat.townships.len()];
    for (i, o) in officers.iter().enumerate() {
        by_township[o.township].push(i);
    }
    let relations = Weights::of(&cat.relations);

    let mut conflicts = Vec::new();
    for (&target, &count) in wanted {
        let locals = &by_township[named[&target].township];
        let mut chosen: Vec<usize> = Vec::with_capacity(count as usize);
        while chosen.len() < count as usize {
            let officer = if !locals.is_empty() && rng.percent(50) {
                *rng.pick(locals)
            } else {
                rng.index(officers.len())
            };
            if !chosen.contains(&officer) {
                chosen.push(officer);
                conflicts.push(Conflict {
                    officer,
                    target,
                    relation: relations.sample(rng),
                });
            }
        }
    }
    // Grouped by officer, as declarations are collected.
    conflicts.sort_unstable_by_key(|c| (c.officer, c.target));
    conflicts
}
