//! A draw's outcome as its bundle lists it: the rows of `assignments.csv`
//! put back on the pools the draw was made on. What a substitution (spec
//! §12) starts from, instead of drawing the task again: the rows are not
//! trusted for themselves, only once the outcome they make hashes to the
//! manifest's `result_sha256` (the caller checks), which a redraw must give
//! too. A visit's `merged` mark is not a listed column taken on trust but
//! made from the merge inputs, as the draw makes it (§14).

use std::collections::HashMap;

use crate::draw::eligibility::earlier_teams;
use crate::draw::{Outcome, StratumCount, Visit};
use crate::ids::{CertNo, CreditCode};
use crate::merge::Merged;
use crate::plan::Plan;
use crate::pools::Pools;

use super::format::{read_assignments, FormatError, Visibility};

/// The outcome `assignments.csv` (bytes of a copy of `visibility`) lists,
/// on `pools`, for `plan` merging with `merged`; `strata` are the
/// manifest's (the rows do not hold them, and no result hash covers them).
/// A row naming a target, item or officer the pools do not hold is refused
/// with its line.
pub fn listed_outcome(
    bytes: &[u8],
    visibility: Visibility,
    pools: &Pools,
    plan: &Plan,
    merged: &Merged,
    strata: Vec<StratumCount>,
) -> Result<Outcome, FormatError> {
    let rows = read_assignments(bytes, visibility)?;
    let earlier = earlier_teams(pools, plan, merged);
    let mut visits = Vec::with_capacity(rows.len());
    // A national draw lists a few hundred thousand visits of some ten
    // thousand officers: each officer is looked up once, and each target
    // near the one before it (rows and targets are both in credit-code
    // order), not by a search of the whole directory every time.
    let mut officers: HashMap<CertNo, Option<u32>> = HashMap::new();
    let mut after = 0;
    for (k, row) in rows.iter().enumerate() {
        // Line 1 is the header.
        let line = k + 2;
        let bad = |message: String| FormatError::Row { line, message };
        let drawn = row.visit().map_err(|e| bad(e.to_string()))?;
        let target = target_near(pools, after, &drawn.code)
            .ok_or_else(|| bad(format!("target {} is not in the pools", drawn.code)))?;
        after = target + 1;
        let items = drawn
            .items
            .iter()
            .map(|code| {
                pools
                    .items
                    .binary_search_by(|i| i.code.cmp(code))
                    .map(|i| i as u32)
                    .map_err(|_| bad(format!("item {code} is not in the pools")))
            })
            .collect::<Result<_, _>>()?;
        let team = drawn
            .team
            .iter()
            .map(|cert| {
                let index = match officers.get(cert) {
                    Some(&index) => index,
                    None => {
                        let index = pools.inspector_index(cert).map(|o| o as u32);
                        officers.insert(cert.clone(), index);
                        index
                    }
                };
                index.ok_or_else(|| bad(format!("officer {cert} is not in the pools")))
            })
            .collect::<Result<_, _>>()?;
        visits.push(Visit {
            target: target as u32,
            items,
            team,
            merged: earlier.get(&drawn.code).map(|&(rank, _)| rank),
        });
    }
    Ok(Outcome { visits, strata })
}

/// The index of the target `code`, searched for from `from` on by doubling
/// steps, then in the whole directory if it is not there (rows out of
/// order, which a bundle that is its draw never has).
fn target_near(pools: &Pools, from: usize, code: &CreditCode) -> Option<usize> {
    let targets = &pools.targets;
    let mut end = from;
    let mut step = 1;
    while end < targets.len() && targets[end].code < *code {
        end = (end + step).min(targets.len());
        step *= 2;
    }
    let start = from.max(end.saturating_sub(step / 2 + 1));
    let window = &targets[start.min(end)..(end + 1).min(targets.len())];
    match window.binary_search_by(|t| t.code.cmp(code)) {
        Ok(at) => Some(start.min(end) + at),
        Err(_) => pools.target_index(code),
    }
}
