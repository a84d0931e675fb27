//! Earlier inspections, as far as a draw needs them: which targets were
//! inspected for which item, when, and by whom (the teams as they stood
//! after any substitutions). They come from earlier draws — given to
//! `shuangsui draw --history`, or at the service every earlier draw in the
//! ledger — and are frozen into each new bundle as `history.csv`, so the
//! draw stays a pure function of what the bundle holds.
//!
//! This module holds the rule (spec §7) and the commitment over its records;
//! it reads no file. The bundle module turns `assignments.csv` and
//! `history.csv` into the typed rows taken here, and the draw pipeline
//! (`shuangsui::pipeline`, in the root crate) gathers the earlier draws.

use chrono::NaiveDate;

use crate::ids::{CertNo, CreditCode, ItemCode};
use crate::plan::Plan;
use crate::snapshot::{text_records, Hash32};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Inspection {
    pub code: CreditCode,
    pub item: ItemCode,
    pub date: NaiveDate,
    /// The team, leader first.
    pub officers: Vec<CertNo>,
}

impl Inspection {
    /// The record's four texts, as `history.csv` holds them and §7 hashes
    /// and sorts them.
    pub fn fields(&self) -> [String; 4] {
        [
            self.code.to_string(),
            self.item.to_string(),
            self.date.format("%Y-%m-%d").to_string(),
            self.officers.iter().map(CertNo::as_str).collect::<Vec<_>>().join(";"),
        ]
    }
}

/// A visit of an earlier draw as its published list gives it: the target,
/// the items checked, and the team as drawn, leader first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawnVisit {
    pub code: CreditCode,
    pub items: Vec<ItemCode>,
    pub team: Vec<CertNo>,
}

/// A substitution made on an earlier draw (spec §12): on the visit to
/// `code`, `incoming` went instead of `out`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swap {
    pub seq: u32,
    pub code: CreditCode,
    pub out: CertNo,
    pub incoming: CertNo,
}

/// An earlier draw whose inspections count for a new one: its plan's
/// inspection date, its visits as drawn, and the substitutions made on it
/// so far, in list order. `origin` names it in messages (its bundle folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierDraw {
    pub origin: String,
    pub plan_id: String,
    pub date: NaiveDate,
    pub visits: Vec<DrawnVisit>,
    pub substitutions: Vec<Swap>,
}

/// Why a substitution list does not apply to a drawn list: it is not that
/// draw's. The one error of [`apply_substitutions`], for every caller: the
/// public views of a draw, the history of later draws.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotThisDraw {
    #[error("substitution {seq}: {code} is not on the drawn list")]
    NotDrawn { seq: u32, code: CreditCode },
    #[error("substitution {seq}: {out} is not on the current team for {code}")]
    NotOnTeam { seq: u32, out: CertNo, code: CreditCode },
}

/// Why an earlier draw's substitutions do not fit its visits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {error}")]
pub struct HistoryError {
    /// The earlier draw, as [`EarlierDraw::origin`] names it.
    pub origin: String,
    pub error: NotThisDraw,
}

/// A drawn visit as some list holds it, which substitutions change: its
/// target, and its current team in order.
pub trait Staffed {
    /// The visited target's credit code.
    fn code(&self) -> &str;
    /// Puts `incoming` in the place of `out` on the current team, so a
    /// substitute for the leader leads and a joint team keeps its
    /// department blocks (spec §12, §13); `false` when `out` is not on it.
    fn replace(&mut self, out: &CertNo, incoming: &CertNo) -> bool;
}

impl Staffed for DrawnVisit {
    fn code(&self) -> &str {
        self.code.as_str()
    }

    fn replace(&mut self, out: &CertNo, incoming: &CertNo) -> bool {
        match self.team.iter_mut().find(|c| *c == out) {
            Some(place) => {
                *place = incoming.clone();
                true
            }
            None => false,
        }
    }
}

/// The current teams of a drawn list after these substitutions (spec §12):
/// each swap, in list order, puts its substitute in the place of the
/// officer taken off. Returns, per swap, the position in `visits` of the
/// visit it changed. A swap naming a business not on the list, or an
/// officer not on its current team (one already taken off included), means
/// the list is not this draw's: an error naming the swap, never a silently
/// different team. Every caller that brings drawn teams up to date does it
/// here, so none can accept a list another refuses.
pub fn apply_substitutions<V: Staffed>(visits: &mut [V], swaps: &[Swap]) -> Result<Vec<usize>, NotThisDraw> {
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::with_capacity(visits.len());
    for (k, visit) in visits.iter().enumerate() {
        at.entry(visit.code().to_owned()).or_insert(k);
    }
    swaps
        .iter()
        .map(|swap| {
            let &k = at.get(swap.code.as_str()).ok_or(NotThisDraw::NotDrawn {
                seq: swap.seq,
                code: swap.code,
            })?;
            if !visits[k].replace(&swap.out, &swap.incoming) {
                return Err(NotThisDraw::NotOnTeam {
                    seq: swap.seq,
                    out: swap.out.clone(),
                    code: swap.code,
                });
            }
            Ok(k)
        })
        .collect()
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Sorted and unique.
    pub inspections: Vec<Inspection>,
}

pub const HISTORY_HEADER: [&str; 4] = ["credit_code", "item_code", "date", "officers"];
/// The domain tag of the history's list hash (spec §7).
pub const HISTORY_TAG: &str = "shuangsui/v1/history";

impl History {
    pub fn new(mut inspections: Vec<Inspection>) -> Self {
        // By the four texts, as §7 sorts them: a team compared officer by
        // officer can order differently from its `;`-joined text.
        inspections.sort_by_cached_key(Inspection::fields);
        inspections.dedup();
        History { inspections }
    }

    pub fn is_empty(&self) -> bool {
        self.inspections.is_empty()
    }

    /// SHA-256 commitment over the sorted records (`docs/ALGORITHM.md` §7).
    pub fn hash(&self) -> Hash32 {
        text_records(HISTORY_TAG, HISTORY_HEADER, &self.records()).0
    }

    /// The records' texts in order, as `history.csv` lists them.
    pub fn records(&self) -> Vec<[String; 4]> {
        self.inspections.iter().map(Inspection::fields).collect()
    }

    /// The history a plan is drawn with (`docs/ALGORITHM.md` §7): one
    /// record per (visit, item) of each earlier draw, dated on that draw's
    /// inspection date, with the visit's current team — the drawn team with
    /// the draw's substitutions applied in order (§12), since the officer
    /// taken off never went. Draws dated after the plan's inspection date
    /// had not happened by then and do not count. The shell and the service
    /// both build their history here, so the two cannot disagree.
    pub fn for_plan(plan: &Plan, earlier: &[EarlierDraw]) -> Result<Self, HistoryError> {
        let mut inspections = Vec::new();
        for draw in earlier {
            if draw.date > plan.inspection_date() {
                continue;
            }
            let mut visits = draw.visits.clone();
            apply_substitutions(&mut visits, &draw.substitutions).map_err(|error| HistoryError {
                origin: draw.origin.clone(),
                error,
            })?;
            for DrawnVisit { code, items, team } in visits {
                inspections.extend(items.into_iter().map(|item| Inspection {
                    code,
                    item,
                    date: draw.date,
                    officers: team.clone(),
                }));
            }
        }
        Ok(History::new(inspections))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_sort_by_their_texts() {
        let inspection = |officers: &[&str]| Inspection {
            code: CreditCode::parse("91520281100000004R").unwrap(),
            item: ItemCode::parse("SCJG-001").unwrap(),
            date: NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
            officers: officers.iter().map(|c| CertNo::parse(c).unwrap()).collect(),
        };
        // "12;3" < "1;23" as text (0x32 < 0x3B), though ["1", "23"] < ["12", "3"].
        let history = History::new(vec![inspection(&["1", "23"]), inspection(&["12", "3"])]);
        assert_eq!(history.inspections[0].officers[0].as_str(), "12");
    }

    #[test]
    fn the_hash_does_not_depend_on_the_order_given() {
        let a = Inspection {
            code: CreditCode::parse("91350100M000100Y43").unwrap(),
            item: ItemCode::parse("SCJG-001").unwrap(),
            date: NaiveDate::from_ymd_opt(2025, 4, 1).unwrap(),
            officers: vec![CertNo::parse("X2").unwrap(), CertNo::parse("X1").unwrap()],
        };
        let b = Inspection {
            item: ItemCode::parse("SCJG-002").unwrap(),
            ..a.clone()
        };
        assert_eq!(
            History::new(vec![a.clone(), b.clone()]).hash(),
            History::new(vec![b, a]).hash()
        );
    }

    #[test]
    fn substitutions_change_the_team_that_went() {
        let cert = |c: &str| CertNo::parse(c).unwrap();
        let code = CreditCode::parse("91350100M000100Y43").unwrap();
        let plan_date = Plan::parse_toml(
            "id = \"P-B\"\nname = \"计划\"\ndepartment = \"局\"\ninspection_date = \"2026-06-01\"\n\
             items = [\"SCJG-001\"]\n[selection]\ncount = 1\n[teams]\nsize = 2\nworkload_cap = 4\n",
            "p.toml",
        )
        .unwrap();
        let draw = EarlierDraw {
            origin: "A".into(),
            plan_id: "P-A".into(),
            date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            visits: vec![DrawnVisit {
                code,
                items: vec![ItemCode::parse("SCJG-001").unwrap()],
                team: vec![cert("X1"), cert("X2")],
            }],
            substitutions: vec![Swap {
                seq: 1,
                code,
                out: cert("X2"),
                incoming: cert("X3"),
            }],
        };
        let history = History::for_plan(&plan_date, std::slice::from_ref(&draw)).unwrap();
        assert_eq!(history.inspections[0].officers, [cert("X1"), cert("X3")]);
        let mut wrong = draw;
        wrong.substitutions[0].out = cert("X9");
        assert!(matches!(
            History::for_plan(&plan_date, &[wrong]),
            Err(HistoryError {
                error: NotThisDraw::NotOnTeam { seq: 1, .. },
                ..
            })
        ));
    }
}
