//! Merging visits of plans of one period (进一次门、查多项事 across plans,
//! `docs/ALGORITHM.md` §14). A plan may name earlier drawn plans of the same
//! inspection date; a target it draws that one of them also visits is
//! inspected in one door opening with that earlier visit. The earlier visits
//! a draw relied on are frozen into its bundle as `merge.csv`, so the draw
//! stays a pure function of what the bundle holds, like `history.csv`.

use chrono::NaiveDate;

use crate::bundle::Stored;
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
    fn fields(&self) -> [String; 5] {
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
        self.texts().0
    }

    pub fn to_csv(&self) -> String {
        self.texts().1
    }

    fn texts(&self) -> (Hash32, String) {
        let records: Vec<[String; 5]> = self.visits.iter().map(EarlierVisit::fields).collect();
        text_records("shuangsui/v1/merge", MERGE_HEADER, &records)
    }

    /// Reads `merge.csv` of a bundle; `plans` come from its manifest.
    pub fn from_csv(plans: Vec<String>, text: &str) -> Result<Self, String> {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers().map_err(|e| e.to_string())?.clone();
        if header.iter().ne(MERGE_HEADER) {
            return Err(format!("merge.csv header must be {}", MERGE_HEADER.join(",")));
        }
        let mut visits = Vec::new();
        for (row, record) in reader.records().enumerate() {
            let line = row + 2;
            let record = record.map_err(|e| format!("merge.csv:{line}: {e}"))?;
            let bad = |field: &str, e: String| format!("merge.csv:{line}: {field}: {e}");
            let list = |text: &str| {
                text.split(';')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            };
            visits.push(EarlierVisit {
                plan_id: record[0].to_owned(),
                date: NaiveDate::parse_from_str(&record[1], "%Y-%m-%d").map_err(|e| bad("date", e.to_string()))?,
                code: CreditCode::parse(&record[2]).map_err(|e| bad("credit_code", e.to_string()))?,
                items: list(&record[3])
                    .iter()
                    .map(|s| ItemCode::parse(s).map_err(|e| bad("item_codes", e.to_string())))
                    .collect::<Result<_, _>>()?,
                officers: list(&record[4])
                    .iter()
                    .map(|s| CertNo::parse(s).map_err(|e| bad("officers", e.to_string())))
                    .collect::<Result<_, _>>()?,
            });
        }
        Ok(Merged::new(plans, visits))
    }

    /// The visits of the earlier bundles a plan names in `merge_with`: one
    /// bundle for every named plan, none for a plan not named, each of the
    /// same inspection date (the period, spec §14).
    pub fn from_bundles(plan: &Plan, bundles: &[Stored]) -> Result<Self, String> {
        let named = plan.merge_with.as_deref().unwrap_or_default();
        if named.is_empty() {
            return match bundles.first() {
                None => Ok(Merged::default()),
                Some(b) => Err(format!(
                    "{}: plan {} names no plans in merge_with, so no bundle can be merged",
                    b.dir.display(),
                    plan.id
                )),
            };
        }
        let mut by_plan: Vec<Option<&Stored>> = vec![None; named.len()];
        for stored in bundles {
            let id = &stored.manifest.plan.id;
            let at = named.iter().position(|n| n == id).ok_or_else(|| {
                format!(
                    "{}: plan {id} is not named in merge_with of plan {} ({})",
                    stored.dir.display(),
                    plan.id,
                    named.join(", ")
                )
            })?;
            if by_plan[at].is_some() {
                return Err(format!("{}: a second bundle of plan {id}", stored.dir.display()));
            }
            if stored.plan.inspection_date != plan.inspection_date {
                return Err(format!(
                    "{}: plan {id} inspects on {}, plan {} on {}; only plans of one inspection date can merge",
                    stored.dir.display(),
                    stored.plan.inspection_date,
                    plan.id,
                    plan.inspection_date
                ));
            }
            by_plan[at] = Some(stored);
        }
        if let Some(missing) = named.iter().zip(&by_plan).find(|(_, b)| b.is_none()) {
            return Err(format!(
                "plan {} merges with {}, but no bundle of it was given (--merge)",
                plan.id, missing.0
            ));
        }
        let mut visits = Vec::new();
        for stored in by_plan.into_iter().flatten() {
            let text = stored.assignments.trim_start_matches('\u{feff}');
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            for (row, record) in reader.records().enumerate() {
                let at =
                    |e: &dyn std::fmt::Display| format!("{}/assignments.csv:{}: {e}", stored.dir.display(), row + 2);
                let record = record.map_err(|e| at(&e))?;
                let (Some(code), Some(items), Some(team)) = (record.get(1), record.get(3), record.get(6)) else {
                    return Err(at(&"too few columns"));
                };
                visits.push(EarlierVisit {
                    plan_id: stored.manifest.plan.id.clone(),
                    date: stored.plan.inspection_date,
                    code: CreditCode::parse(code).map_err(|e| at(&e))?,
                    items: items
                        .split(';')
                        .map(ItemCode::parse)
                        .collect::<Result<_, _>>()
                        .map_err(|e| at(&e))?,
                    officers: team
                        .split(';')
                        .map(CertNo::parse)
                        .collect::<Result<_, _>>()
                        .map_err(|e| at(&e))?,
                });
            }
        }
        Ok(Merged::new(named.to_vec(), visits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip_and_order_independent_hash() {
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
        let two = Merged::new(plans.clone(), vec![b, a]);
        assert_eq!(one.hash(), two.hash());
        assert_eq!(Merged::from_csv(plans, &one.to_csv()).unwrap(), one);
    }
}
