//! Where a business stood in a draw, by its 统一社会信用代码: drawn, in the
//! plan's scope and not drawn, or out of it and why — from the draw's own
//! inputs (its snapshot of the pools, its plan and its history). The
//! service's search tells it ([`crate::desk::scope`]); `shuangsui standing`
//! tells it from a bundle and its pool folder.
//!
//! The scope is decided by the rules of `docs/ALGORITHM.md` §5 step 1 alone
//! ([`targets_scope`]): the plan's and the items' filters and the history.
//! The risk class plays no part, so the answer reveals nothing of it; nor
//! does it name anything the public copy of the draw and the target
//! directory's public columns do not already show.

use std::sync::Arc;

use crate::bundle::Stored;
use crate::draw::{targets_scope, TargetScope};
use crate::ids::CreditCode;
use crate::pipeline::drawn_checked;
use crate::pools::Pools;

/// Where a business stood in one draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Drawn,
    /// Not drawn; its place in the plan's scope.
    NotDrawn(TargetScope),
    /// Not in the target directory the draw was made on.
    NotListed,
}

impl Standing {
    /// The stable name the API gives it.
    pub fn code(self) -> &'static str {
        match self {
            Standing::Drawn => "drawn",
            Standing::NotDrawn(TargetScope::Eligible) => "in_scope_not_drawn",
            Standing::NotDrawn(TargetScope::RecentlyInspected) => "recently_inspected",
            Standing::NotDrawn(TargetScope::NoItemApplies) => "no_item_applies",
            Standing::NotDrawn(TargetScope::OutsideFilters) => "outside_filters",
            Standing::NotListed => "not_listed",
        }
    }

    /// What it means, in Chinese and in English.
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            Standing::Drawn => ("已被抽中", "drawn"),
            Standing::NotDrawn(TargetScope::Eligible) => ("在抽查范围内，未被抽中", "in scope, not drawn"),
            Standing::NotDrawn(TargetScope::RecentlyInspected) => (
                "不在抽查范围内：适用的抽查事项在计划规定的间隔期内已对其检查过",
                "out of scope: inspected for the plan's items within its exclusion window",
            ),
            Standing::NotDrawn(TargetScope::NoItemApplies) => (
                "不在抽查范围内：计划的抽查事项都不适用于其主体类型或行业",
                "out of scope: no item of the plan applies to its entity type or industry",
            ),
            Standing::NotDrawn(TargetScope::OutsideFilters) => (
                "不在抽查范围内：所属区域、主体类型或行业不在计划范围内",
                "out of scope: its area, entity type or industry is outside the plan's",
            ),
            Standing::NotListed => (
                "不在本次抽取所用的检查对象名录库中",
                "not in the target directory the draw was made on",
            ),
        }
    }
}

/// Every target's standing in one draw, by credit code.
#[derive(Debug)]
pub struct DrawScope {
    /// The snapshot's targets' codes, ascending (the pools' order): the
    /// same for every draw on the snapshot, so they may share one list
    /// ([`DrawScope::sharing`]).
    codes: Arc<[CreditCode]>,
    /// Per target, in the same order.
    standing: Vec<Standing>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScopeError {
    #[error("{0}")]
    Drawn(#[from] crate::pipeline::DrawnError),
    #[error("{0}")]
    Draw(#[from] crate::draw::DrawError),
}

impl DrawScope {
    /// The scope of the draw in `stored`, made on `pools`, which are held
    /// to each other as for a substitution (the snapshot, plan and history
    /// the manifest records, the outcome its result hash): a scope is only
    /// told of the draw that was made.
    pub fn of(stored: &Stored, pools: &Pools) -> Result<Self, ScopeError> {
        let drawn = drawn_checked(stored, pools)?;
        let mut standing: Vec<Standing> = targets_scope(pools, &stored.plan, &stored.history)?
            .into_iter()
            .map(Standing::NotDrawn)
            .collect();
        for visit in &drawn.outcome.visits {
            standing[visit.target as usize] = Standing::Drawn;
        }
        let codes = pools.targets.iter().map(|t| t.code).collect();
        Ok(DrawScope { codes, standing })
    }

    /// The same scope holding `codes` instead of its own list, when the two
    /// are equal (another draw's on the same snapshot: a national list of
    /// codes is 180 MB); else `Err` with the scope as it was.
    pub fn sharing(self, codes: &Arc<[CreditCode]>) -> Result<Self, Self> {
        match *self.codes == **codes {
            true => Ok(DrawScope {
                codes: Arc::clone(codes),
                standing: self.standing,
            }),
            false => Err(self),
        }
    }

    /// Its list of codes, to share with another draw's.
    pub fn codes(&self) -> &Arc<[CreditCode]> {
        &self.codes
    }

    /// The bytes it holds of its own, beside its list of codes.
    pub fn own_bytes(&self) -> usize {
        self.standing.len() * std::mem::size_of::<Standing>()
    }

    /// Where the business `code` stood.
    pub fn standing(&self, code: &CreditCode) -> Standing {
        match self.codes.binary_search(code) {
            Ok(index) => self.standing[index],
            Err(_) => Standing::NotListed,
        }
    }

    /// The number of targets of its directory.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn from_parts(codes: Vec<CreditCode>, standing: Vec<Standing>) -> Self {
        DrawScope {
            codes: codes.into(),
            standing,
        }
    }
}
