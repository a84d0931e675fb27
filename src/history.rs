//! Earlier inspections, as far as a draw needs them: which targets were
//! inspected for which item, when, and by whom. They come from earlier
//! bundles and are frozen into each new bundle as `history.csv`, so the draw
//! stays a pure function of what the bundle holds.

use chrono::NaiveDate;

use crate::ids::{CertNo, CreditCode, ItemCode};
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
    fn fields(&self) -> [String; 4] {
        [
            self.code.to_string(),
            self.item.to_string(),
            self.date.format("%Y-%m-%d").to_string(),
            self.officers.iter().map(CertNo::as_str).collect::<Vec<_>>().join(";"),
        ]
    }
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

    /// The inspections recorded in earlier bundles: one per drawn (target,
    /// item), dated on that plan's inspection date, with its team.
    pub fn from_bundles(bundles: &[crate::bundle::Stored]) -> Result<Self, String> {
        let mut inspections = Vec::new();
        for stored in bundles {
            let text = stored.assignments.trim_start_matches('\u{feff}');
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            for (row, record) in reader.records().enumerate() {
                let at =
                    |e: &dyn std::fmt::Display| format!("{}/assignments.csv:{}: {e}", stored.dir.display(), row + 2);
                let record = record.map_err(|e| at(&e))?;
                let (Some(code), Some(items), Some(team)) = (record.get(1), record.get(3), record.get(6)) else {
                    return Err(at(&"too few columns"));
                };
                let code = CreditCode::parse(code).map_err(|e| at(&e))?;
                let officers = team
                    .split(';')
                    .map(CertNo::parse)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| at(&e))?;
                for item in items.split(';') {
                    let item = ItemCode::parse(item).map_err(|e| at(&e))?;
                    inspections.push(Inspection {
                        code,
                        item,
                        date: stored.plan.inspection_date,
                        officers: officers.clone(),
                    });
                }
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
