//! A published draw as it stands now: the drawn list, with each team as it
//! is after the substitutions made since the draw (`docs/ALGORITHM.md` §12).
//!
//! The draw itself — the bundle's hashed `assignments.csv` — never changes;
//! a substitution only adds an entry to `substitutions.json`. Every public
//! view of who inspects a business (the draw page, the search page and API,
//! the assignments API, the CSV and Excel lists) reads its teams from a
//! [`CurrentList`], so the views cannot disagree, and each can still show
//! the team as drawn beside the current one. After a results notice, each
//! business it published also carries its result (`results.csv`).

use std::collections::HashMap;
use std::io;

use super::publications::{PublicRow, PublishedDraw};
use crate::history::{apply_substitutions, Staffed};
use crate::ids::CertNo;
use crate::substitution::{self, Log};

/// Why a substitution list does not apply to a drawn list: the one error
/// the history of later draws gives for the same list.
pub use crate::history::NotThisDraw as NotThisList;

/// One substitution as it bears on one visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The entry's number in `substitutions.json`.
    pub seq: u32,
    /// The certificate number of the officer taken off the visit.
    pub out: String,
    /// The certificate number of the substitute.
    pub incoming: String,
}

/// A business's inspection result, as a results notice published it in the
/// draw's public `results.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedResult {
    /// The national result codes (see [`crate::results::label`]).
    pub codes: Vec<String>,
    /// The day the inspection was completed, `YYYY-MM-DD`.
    pub completed: String,
    /// The day of the notice that published it, `YYYY-MM-DD`.
    pub published_on: String,
}

/// One drawn business with its team as drawn and as it stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentRow {
    /// The row as drawn: exactly what the published `assignments.csv` holds.
    pub drawn: PublicRow,
    /// The current team, leader first: the drawn team with every substitute
    /// in the place of the officer replaced, so a substitute for the leader
    /// leads, and a joint team keeps its department blocks (spec §12, §13).
    pub team: Vec<String>,
    /// The substitutions made on this visit, in order.
    pub changes: Vec<Change>,
    /// Its inspection result, once a results notice has published it.
    pub result: Option<PublishedResult>,
}

impl CurrentRow {
    /// A row nobody has been substituted on.
    pub fn as_drawn(drawn: PublicRow) -> Self {
        CurrentRow {
            team: drawn.team.clone(),
            drawn,
            changes: Vec::new(),
            result: None,
        }
    }

    /// The current leader's certificate number.
    pub fn leader(&self) -> &str {
        self.team.first().map_or("", String::as_str)
    }

    /// The team as drawn, leader first.
    pub fn drawn_team(&self) -> &[String] {
        &self.drawn.team
    }

    pub fn is_substituted(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The numbers of the substitutions made on this visit.
    pub fn substitution_seqs(&self) -> Vec<u32> {
        self.changes.iter().map(|c| c.seq).collect()
    }
}

impl Staffed for CurrentRow {
    fn code(&self) -> &str {
        &self.drawn.credit_code
    }

    fn replace(&mut self, out: &CertNo, incoming: &CertNo) -> bool {
        match self.team.iter_mut().find(|c| c.as_str() == out.as_str()) {
            Some(place) => {
                *place = incoming.to_string();
                true
            }
            None => false,
        }
    }
}

/// The list of a published draw with its current teams.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CurrentList {
    /// In the order of the drawn list (序号).
    pub rows: Vec<CurrentRow>,
    /// The public substitution list the teams were brought up to date with;
    /// `None` when nobody has been substituted.
    pub substitutions: Option<Log>,
}

impl CurrentList {
    /// The drawn `rows` with the substitutions of `log` applied in order.
    /// An entry that names a business not on the list, or an officer not on
    /// its current team, means the list is not this draw's: an error naming
    /// the entry, never a silently different team.
    pub fn new(rows: Vec<PublicRow>, log: Option<Log>) -> Result<Self, NotThisList> {
        let mut rows: Vec<CurrentRow> = rows.into_iter().map(CurrentRow::as_drawn).collect();
        if let Some(log) = &log {
            let swaps: Vec<_> = log.substitutions.iter().map(substitution::Entry::swap).collect();
            let changed = apply_substitutions(&mut rows, &swaps)?;
            for (&k, entry) in changed.iter().zip(&log.substitutions) {
                rows[k].changes.push(Change {
                    seq: entry.seq,
                    out: entry.out.to_string(),
                    incoming: entry.incoming.to_string(),
                });
            }
        }
        Ok(CurrentList {
            rows,
            substitutions: log.map(|log| log.public()),
        })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl PublishedDraw {
    /// The list as it stands now: [`rows`](Self::rows) (checked against the
    /// manifest's hash) with the public `substitutions.json` applied. A list
    /// that cannot be read, belongs to another draw or does not apply is an
    /// error ([`io::ErrorKind::InvalidData`]): showing the drawn teams as
    /// current would be wrong without saying so.
    pub fn current(&self) -> io::Result<CurrentList> {
        let rows = self.rows()?;
        let public = self.public_dir();
        let path = public.join(substitution::FILE);
        let invalid =
            |message: String| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {message}", path.display()));
        let log = substitution::read(&public).map_err(|e| invalid(e.to_string()))?;
        if let Some(log) = &log {
            let m = &self.manifest;
            if log.plan_id != m.plan.id || log.draw_result_sha256 != m.result_sha256 {
                return Err(invalid("belongs to another draw".into()));
            }
        }
        let mut list = CurrentList::new(rows, log).map_err(|e| invalid(e.to_string()))?;
        let results_path = public.join(RESULTS_FILE);
        let mut results = match std::fs::read(&results_path) {
            Ok(bytes) => read_results(&bytes).map_err(|message| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {message}", results_path.display()),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => return Err(e),
        };
        for row in &mut list.rows {
            row.result = results.remove(&row.drawn.credit_code);
        }
        if let Some(code) = results.keys().next() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {code} is not on the drawn list", results_path.display()),
            ));
        }
        Ok(list)
    }
}

/// The results notice's file in a draw's public copy.
pub const RESULTS_FILE: &str = "results.csv";

/// The results of a public `results.csv`, by credit code, its columns read
/// by their names.
fn read_results(bytes: &[u8]) -> Result<HashMap<String, PublishedResult>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().map_err(|e| e.to_string())?.clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("no column {name}"))
    };
    let (code, results, completed, published) = (
        column("统一社会信用代码")?,
        column("检查结果代码")?,
        column("完成日期")?,
        column("公告日期")?,
    );
    let mut found = HashMap::new();
    for (k, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("row {}: {e}", k + 2))?;
        let field = |i: usize| record.get(i).unwrap_or("").to_owned();
        let result = PublishedResult {
            codes: field(results)
                .split(';')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
            completed: field(completed),
            published_on: field(published),
        };
        if found.insert(field(code), result).is_some() {
            return Err(format!("row {}: {} is listed twice", k + 2, field(code)));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::substitution::{Entry, Reason, FORMAT};

    fn row(code: &str, team: &[&str]) -> PublicRow {
        PublicRow {
            number: 1,
            credit_code: code.into(),
            name: "企业".into(),
            items: vec!["I-1".into()],
            item_names: vec!["事项".into()],
            leader: team[0].into(),
            team: team.iter().map(|c| c.to_string()).collect(),
            departments: Vec::new(),
            merged_with: None,
        }
    }

    fn entry(seq: u32, code: &str, out: &str, incoming: &str) -> Entry {
        Entry {
            seq,
            credit_code: crate::ids::CreditCode::parse(code).unwrap(),
            out: crate::ids::CertNo::parse(out).unwrap(),
            incoming: crate::ids::CertNo::parse(incoming).unwrap(),
            reason: Reason::Leave,
            decided_at: "2026-03-01T10:00:00+08:00".into(),
            note: Some("病假".into()),
            relation: None,
        }
    }

    fn log(entries: Vec<Entry>) -> Log {
        Log {
            format: FORMAT.into(),
            plan_id: "P".into(),
            draw_result_sha256: crate::snapshot::Hash32([0; 32]),
            substitutions: entries,
            result_sha256: crate::snapshot::Hash32([1; 32]),
        }
    }

    const A: &str = "9152020001383091EP";
    const B: &str = "91520200MA1DN7F3D0";

    #[test]
    fn substitutes_take_the_place_of_the_officers_they_replace() {
        let rows = vec![row(A, &["C1", "C2"]), row(B, &["C3", "C4"])];
        let list = CurrentList::new(
            rows,
            Some(log(vec![
                entry(1, A, "C1", "C9"),
                entry(2, A, "C9", "C8"),
                entry(3, B, "C4", "C7"),
            ])),
        )
        .unwrap();
        assert_eq!(list.rows[0].team, ["C8", "C2"], "the substitute for the leader leads");
        assert_eq!(list.rows[0].leader(), "C8");
        assert_eq!(list.rows[0].drawn_team(), ["C1", "C2"]);
        assert_eq!(list.rows[0].drawn.leader, "C1");
        assert_eq!(list.rows[0].substitution_seqs(), [1, 2]);
        assert_eq!(list.rows[1].team, ["C3", "C7"]);
        assert_eq!(list.rows[1].changes[0].out, "C4");
        let kept = list.substitutions.as_ref().unwrap();
        assert!(
            kept.substitutions.iter().all(|e| e.note.is_none()),
            "only the public copy is kept"
        );
    }

    #[test]
    fn without_substitutions_the_current_team_is_the_drawn_one() {
        let list = CurrentList::new(vec![row(A, &["C1", "C2"])], None).unwrap();
        assert_eq!(list.rows[0].team, list.rows[0].drawn.team);
        assert!(!list.rows[0].is_substituted());
    }

    #[test]
    fn a_list_that_does_not_apply_is_refused() {
        let rows = || vec![row(A, &["C1", "C2"])];
        let err = CurrentList::new(rows(), Some(log(vec![entry(1, B, "C1", "C9")]))).unwrap_err();
        assert!(err.to_string().contains("not on the drawn list"), "{err}");
        let err = CurrentList::new(rows(), Some(log(vec![entry(1, A, "C5", "C9")]))).unwrap_err();
        assert!(err.to_string().contains("not on the current team"), "{err}");
        // An officer already taken off is no longer on the team.
        let twice = vec![entry(1, A, "C1", "C9"), entry(2, A, "C1", "C8")];
        assert!(CurrentList::new(rows(), Some(log(twice))).is_err());
    }

    /// The public views and the history of later draws bring teams up to
    /// date in one place: a list one refuses, the other refuses with the
    /// same error, and a list one accepts gives both the same teams.
    #[test]
    fn the_views_and_the_history_refuse_the_same_lists() {
        use crate::history::{EarlierDraw, History};
        let plan = crate::plan::Plan::parse_toml(
            "id = \"P-B\"\nname = \"计划\"\ndepartment = \"局\"\ninspection_date = \"2026-06-01\"\n\
             items = [\"SCJG-001\"]\n[selection]\ncount = 1\n[teams]\nsize = 2\nworkload_cap = 4\n",
            "p.toml",
        )
        .unwrap();
        let mut drawn = vec![row(A, &["C1", "C2"]), row(B, &["C3", "C4"])];
        for r in &mut drawn {
            r.items = vec!["SCJG-001".into()];
        }
        let history = |entries: &[Entry]| {
            let draw = EarlierDraw {
                origin: "earlier".into(),
                plan_id: "P".into(),
                date: chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
                visits: drawn.iter().map(|r| r.visit().unwrap()).collect(),
                substitutions: entries.iter().map(Entry::swap).collect(),
            };
            History::for_plan(&plan, &[draw])
        };
        let bad_lists = [
            vec![entry(1, "91350100M000100Y43", "C1", "C9")],
            vec![entry(1, A, "C5", "C9")],
            vec![entry(1, A, "C1", "C9"), entry(2, A, "C1", "C8")],
        ];
        for entries in bad_lists {
            let views = CurrentList::new(drawn.clone(), Some(log(entries.clone()))).unwrap_err();
            let earlier = history(&entries).unwrap_err();
            assert_eq!(earlier.error, views, "{entries:?}");
            assert_eq!(earlier.to_string(), format!("earlier: {views}"));
        }
        let good = vec![entry(1, A, "C1", "C9"), entry(2, B, "C4", "C7")];
        let list = CurrentList::new(drawn.clone(), Some(log(good.clone()))).unwrap();
        let teams = history(&good).unwrap();
        for (row, inspection) in list.rows.iter().zip(&teams.inspections) {
            let officers: Vec<&str> = inspection.officers.iter().map(CertNo::as_str).collect();
            assert_eq!(row.team, officers);
        }
    }
}
