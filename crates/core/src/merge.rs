//! Merging visits of plans of one period (进一次门、查多项事 across plans,
//! `docs/ALGORITHM.md` §14). A plan may name earlier drawn plans of the same
//! inspection date; a target it draws that one of them also visits is
//! inspected in one door opening with that earlier visit. The earlier visits
//! a draw relied on are frozen into its bundle as `merge.csv`, so the draw
//! stays a pure function of what the bundle holds, like `history.csv`.
//!
//! Like the history, this module holds the rule and the commitment and reads
//! no file: the bundle module reads and writes `merge.csv`.

use chrono::NaiveDate;

use crate::history::EarlierDraw;
use crate::ids::{CertNo, CreditCode, ItemCode};
use crate::plan::Plan;
use crate::snapshot::{text_records, Hash32};

/// One visit of an earlier plan of the same period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierVisit {
    pub plan_id: String,
    pub date: NaiveDate,
    pub code: CreditCode,
    /// Item codes, ascending.
    pub items: Vec<ItemCode>,
    /// The team, leader first.
    pub officers: Vec<CertNo>,
}

impl EarlierVisit {
    /// The record's five texts, as `merge.csv` holds them.
    pub fn fields(&self) -> [String; 5] {
        [
            self.plan_id.clone(),
            self.date.format("%Y-%m-%d").to_string(),
            self.code.to_string(),
            self.items.iter().map(ItemCode::as_str).collect::<Vec<_>>().join(";"),
            self.officers.iter().map(CertNo::as_str).collect::<Vec<_>>().join(";"),
        ]
    }
}

/// The earlier plans a draw merges with, and their visits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merged {
    /// The plan ids given, in the order of the plan's `merge_with`.
    pub plans: Vec<String>,
    /// Sorted by their texts (spec §14); one per (plan, target).
    pub visits: Vec<EarlierVisit>,
}

pub const MERGE_HEADER: [&str; 5] = ["plan_id", "date", "credit_code", "item_codes", "officers"];
/// The domain tag of `merge_sha256`'s list hash (spec §14).
pub const MERGE_TAG: &str = "shuangsui/v1/merge";

impl Merged {
    pub fn new(plans: Vec<String>, mut visits: Vec<EarlierVisit>) -> Self {
        // By the texts, as the spec sorts them: a list compared element by
        // element can order differently from its `;`-joined text.
        visits.sort_by_cached_key(EarlierVisit::fields);
        visits.dedup();
        Merged { plans, visits }
    }

    /// `merge_sha256` (spec §14): the list hash over the sorted records.
    pub fn hash(&self) -> Hash32 {
        text_records(MERGE_TAG, MERGE_HEADER, &self.records()).0
    }

    /// The records' texts in order, as `merge.csv` lists them.
    pub fn records(&self) -> Vec<[String; 5]> {
        self.visits.iter().map(EarlierVisit::fields).collect()
    }

    /// The visits of the earlier draws a plan names in `merge_with`: one
    /// draw for every named plan, none for a plan not named, each of the
    /// same inspection date (the period, spec §14). Their teams are taken
    /// as drawn.
    pub fn from_draws(plan: &Plan, draws: &[EarlierDraw]) -> Result<Self, MergeError> {
        let named = plan.merge_with().unwrap_or_default();
        if named.is_empty() {
            return match draws.first() {
                None => Ok(Merged::default()),
                Some(d) => Err(MergeError::NothingNamed {
                    origin: d.origin.clone(),
                    plan: plan.id().to_owned(),
                }),
            };
        }
        let mut by_plan: Vec<Option<&EarlierDraw>> = vec![None; named.len()];
        for draw in draws {
            let id = &draw.plan_id;
            let at = named.iter().position(|n| n == id).ok_or_else(|| MergeError::NotNamed {
                origin: draw.origin.clone(),
                other: id.clone(),
                plan: plan.id().to_owned(),
                named: named.join(", "),
            })?;
            if by_plan[at].is_some() {
                return Err(MergeError::Twice {
                    origin: draw.origin.clone(),
                    other: id.clone(),
                });
            }
            if draw.date != plan.inspection_date() {
                return Err(MergeError::OtherPeriod {
                    origin: draw.origin.clone(),
                    other: id.clone(),
                    other_date: draw.date,
                    plan: plan.id().to_owned(),
                    date: plan.inspection_date(),
                });
            }
            by_plan[at] = Some(draw);
        }
        if let Some(missing) = named.iter().zip(&by_plan).find(|(_, d)| d.is_none()) {
            return Err(MergeError::Missing {
                plan: plan.id().to_owned(),
                other: missing.0.clone(),
            });
        }
        let visits = by_plan
            .into_iter()
            .flatten()
            .flat_map(|draw| {
                draw.visits.iter().map(|v| EarlierVisit {
                    plan_id: draw.plan_id.clone(),
                    date: draw.date,
                    code: v.code,
                    items: v.items.clone(),
                    officers: v.team.clone(),
                })
            })
            .collect();
        Ok(Merged::new(named.to_vec(), visits))
    }
}

/// Why the earlier draws given do not fit the plan's `merge_with`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("{origin}: plan {plan} names no plans in merge_with, so no bundle can be merged")]
    NothingNamed { origin: String, plan: String },
    #[error("{origin}: plan {other} is not named in merge_with of plan {plan} ({named})")]
    NotNamed {
        origin: String,
        other: String,
        plan: String,
        named: String,
    },
    #[error("{origin}: a second bundle of plan {other}")]
    Twice { origin: String, other: String },
    #[error("{origin}: plan {other} inspects on {other_date}, plan {plan} on {date}; only plans of one inspection date can merge")]
    OtherPeriod {
        origin: String,
        other: String,
        other_date: NaiveDate,
        plan: String,
        date: NaiveDate,
    },
    #[error("plan {plan} merges with {other}, but no bundle of it was given (--merge)")]
    Missing { plan: String, other: String },
    #[error("the bundle of plan {0} is given both as history and to merge with")]
    AlsoHistory(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_does_not_depend_on_the_order_given() {
        let a = EarlierVisit {
            plan_id: "P-1".into(),
            date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            code: CreditCode::parse("91350100M000100Y43").unwrap(),
            items: vec![ItemCode::parse("SCJG-001").unwrap()],
            officers: vec![CertNo::parse("X2").unwrap(), CertNo::parse("X1").unwrap()],
        };
        let b = EarlierVisit {
            plan_id: "P-0".into(),
            ..a.clone()
        };
        let plans = vec!["P-1".to_owned(), "P-0".to_owned()];
        let one = Merged::new(plans.clone(), vec![a.clone(), b.clone()]);
        let two = Merged::new(plans, vec![b, a]);
        assert_eq!(one.hash(), two.hash());
        assert_eq!(one, two);
    }
}
