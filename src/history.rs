//! Earlier inspections, as far as a draw needs them: which targets were
//! inspected for which item, when, and by whom (the teams as they stood
//! after any substitutions). They come from earlier bundles — given to
//! `shuangsui draw --history`, or at the service every earlier draw in the
//! ledger — and are frozen into each new bundle as `history.csv`, so the
//! draw stays a pure function of what the bundle holds.

use std::path::Path;

use chrono::NaiveDate;

use crate::bundle::Stored;
use crate::ids::{CertNo, CreditCode, ItemCode};
use crate::plan::Plan;
use crate::snapshot::{text_records, Hash32};
use crate::substitution;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Inspection {
    pub code: CreditCode,
    pub item: ItemCode,
    pub date: NaiveDate,
    /// The team, leader first.
    pub officers: Vec<CertNo>,
}

impl Inspection {
    fn fields(&self) -> [String; 4] {
        [
            self.code.to_string(),
            self.item.to_string(),
            self.date.format("%Y-%m-%d").to_string(),
            self.officers.iter().map(CertNo::as_str).collect::<Vec<_>>().join(";"),
        ]
    }
}

/// An earlier draw whose inspections count for a new one: its bundle, and
/// the substitutions made on it so far (spec §12), in list order.
pub struct EarlierDraw<'a> {
    pub bundle: &'a Stored,
    pub substitutions: &'a [substitution::Entry],
}

/// An earlier bundle given as history to `shuangsui draw`, with the
/// substitutions its `substitutions.json` records.
pub struct EarlierBundle {
    pub bundle: Stored,
    pub substitutions: Vec<substitution::Entry>,
}

impl EarlierBundle {
    pub fn read(dir: &Path) -> Result<Self, String> {
        let bundle = crate::bundle::read(dir).map_err(|e| e.to_string())?;
        let substitutions = match substitution::read(dir).map_err(|e| e.to_string())? {
            None => Vec::new(),
            Some(log) => {
                let m = &bundle.manifest;
                if log.plan_id != m.plan.id || log.draw_result_sha256 != m.result_sha256 {
                    return Err(format!(
                        "{}: substitutions.json belongs to another draw",
                        dir.join(substitution::FILE).display()
                    ));
                }
                log.substitutions
            }
        };
        Ok(EarlierBundle { bundle, substitutions })
    }

    pub fn as_earlier(&self) -> EarlierDraw<'_> {
        EarlierDraw {
            bundle: &self.bundle,
            substitutions: &self.substitutions,
        }
    }
}

/// A visit as `assignments.csv` lists it: credit code, items, team.
type Visit = (CreditCode, Vec<ItemCode>, Vec<CertNo>);

/// The visits of a bundle's `assignments.csv`.
fn visits_of(stored: &Stored) -> Result<Vec<Visit>, String> {
    let text = stored.assignments.trim_start_matches('\u{feff}');
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut visits = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let at = |e: &dyn std::fmt::Display| format!("{}/assignments.csv:{}: {e}", stored.dir.display(), row + 2);
        let record = record.map_err(|e| at(&e))?;
        let (Some(code), Some(items), Some(team)) = (record.get(1), record.get(3), record.get(6)) else {
            return Err(at(&"too few columns"));
        };
        let code = CreditCode::parse(code).map_err(|e| at(&e))?;
        let items = items
            .split(';')
            .map(ItemCode::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| at(&e))?;
        let team = team
            .split(';')
            .map(CertNo::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| at(&e))?;
        visits.push((code, items, team));
    }
    Ok(visits)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Sorted and unique.
    pub inspections: Vec<Inspection>,
}

pub const HISTORY_HEADER: [&str; 4] = ["credit_code", "item_code", "date", "officers"];

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
        self.texts().0
    }

    pub fn to_csv(&self) -> String {
        self.texts().1
    }

    fn texts(&self) -> (Hash32, String) {
        let records: Vec<[String; 4]> = self.inspections.iter().map(Inspection::fields).collect();
        text_records("shuangsui/v1/history", HISTORY_HEADER, &records)
    }

    /// The history a plan is drawn with (`docs/ALGORITHM.md` §7): one
    /// record per (visit, item) of each earlier draw, dated on that draw's
    /// inspection date, with the visit's current team — the drawn team with
    /// the draw's substitutions applied in order (§12), since the officer
    /// taken off never went. Draws dated after the plan's inspection date
    /// had not happened by then and do not count. The shell and the service
    /// both build their history here, so the two cannot disagree.
    pub fn for_plan(plan: &Plan, earlier: &[EarlierDraw<'_>]) -> Result<Self, String> {
        let mut inspections = Vec::new();
        for draw in earlier {
            let stored = draw.bundle;
            if stored.plan.inspection_date > plan.inspection_date {
                continue;
            }
            let mut visits = visits_of(stored)?;
            for entry in draw.substitutions {
                let at = |e: &str| format!("{}: substitution {}: {e}", stored.dir.display(), entry.seq);
                let (_, _, team) = visits
                    .iter_mut()
                    .find(|(code, _, _)| *code == entry.credit_code)
                    .ok_or_else(|| at(&format!("{} was not drawn", entry.credit_code)))?;
                let place = team
                    .iter_mut()
                    .find(|c| **c == entry.out)
                    .ok_or_else(|| at(&format!("{} is not on the team for {}", entry.out, entry.credit_code)))?;
                *place = entry.incoming.clone();
            }
            for (code, items, officers) in visits {
                inspections.extend(items.into_iter().map(|item| Inspection {
                    code,
                    item,
                    date: stored.plan.inspection_date,
                    officers: officers.clone(),
                }));
            }
        }
        Ok(History::new(inspections))
    }

    pub fn from_csv(text: &str) -> Result<Self, String> {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers().map_err(|e| e.to_string())?.clone();
        if header.iter().ne(HISTORY_HEADER) {
            return Err(format!("history.csv header must be {}", HISTORY_HEADER.join(",")));
        }
        let mut inspections = Vec::new();
        for (row, record) in reader.records().enumerate() {
            let line = row + 2;
            let record = record.map_err(|e| format!("history.csv:{line}: {e}"))?;
            let bad = |field: &str, e: String| format!("history.csv:{line}: {field}: {e}");
            let code = CreditCode::parse(&record[0]).map_err(|e| bad("credit_code", e.to_string()))?;
            let item = ItemCode::parse(&record[1]).map_err(|e| bad("item_code", e.to_string()))?;
            let date = NaiveDate::parse_from_str(&record[2], "%Y-%m-%d").map_err(|e| bad("date", e.to_string()))?;
            let officers = record[3]
                .split(';')
                .filter(|s| !s.is_empty())
                .map(|s| CertNo::parse(s).map_err(|e| bad("officers", e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            inspections.push(Inspection {
                code,
                item,
                date,
                officers,
            });
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
    fn csv_round_trip_and_order_independent_hash() {
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
        let one = History::new(vec![a.clone(), b.clone()]);
        let two = History::new(vec![b, a]);
        assert_eq!(one.hash(), two.hash());
        assert_eq!(History::from_csv(&one.to_csv()).unwrap(), one);
    }
}
