//! "Was this business drawn?": a search over every published draw by
//! 统一社会信用代码 (whole or part, any case) or by part of the business name.
//!
//! Built once from the published draws, with the teams as they stand after
//! any substitutions ([`CurrentList`]); a search is a substring scan over a
//! precomputed lowercase table: of the codes for a query of Latin letters and
//! digits (plus the few names holding such characters), of the names
//! otherwise. For 100 draws × 2,000 rows that is a few megabytes, scanned in
//! well under a millisecond.

use std::io;

use super::current::{CurrentList, CurrentRow};
use super::publications::{Broken, PublishedDraw};

/// The limit the service should pass to [`SearchIndex::search`]; the search
/// page says "only the first N are shown" when it gets this many hits.
pub const SEARCH_LIMIT: usize = 200;

/// One drawn business in one draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub draw_name: String,
    pub plan_id: String,
    pub plan_name: String,
    /// The plan's inspection date, `YYYY-MM-DD`.
    pub inspection_date: String,
    pub credit_code: String,
    pub name: String,
    /// Item codes.
    pub items: Vec<String>,
    /// Item names, in the order of `items`.
    pub item_names: Vec<String>,
    /// The current leader's certificate number (after any substitutions).
    pub leader: String,
    /// The current team's certificate numbers, leader first.
    pub team: Vec<String>,
    /// The team as drawn, leader first; the same as `team` unless somebody
    /// was substituted.
    pub drawn_team: Vec<String>,
    /// The numbers of the substitutions made on this visit (spec §12).
    pub substitutions: Vec<u32>,
}

struct DrawInfo {
    name: String,
    plan_id: String,
    plan_name: String,
    inspection_date: String,
}

/// Every row of every published draw, searchable.
pub struct SearchIndex {
    draws: Vec<DrawInfo>,
    /// (index into `draws`, row), in the order of the draws given, then 序号.
    rows: Vec<(usize, CurrentRow)>,
    /// The credit codes and the names, each in its own table, so that a query
    /// that cannot be part of a code (Chinese text) scans the names only…
    codes: Table,
    names: Table,
    /// …and a query of Latin letters and digits, which is most likely part of
    /// a code, scans besides the codes only the few names that hold such
    /// characters at all.
    latin_names: Table,
}

/// One field of some rows, lowercased, as one text: `field\u{0}` per row.
/// The separator cannot occur in a query, so a match never spans two rows.
struct Table {
    text: String,
    /// Where the k-th field starts in `text`.
    starts: Vec<usize>,
    /// The row of the k-th field, ascending.
    rows: Vec<usize>,
}

impl Table {
    fn with_capacity(rows: usize, bytes_per_row: usize) -> Self {
        Table {
            text: String::with_capacity(rows * bytes_per_row),
            starts: Vec::with_capacity(rows),
            rows: Vec::with_capacity(rows),
        }
    }

    /// Adds a field already [`fold`]ed.
    fn push(&mut self, row: usize, folded: &str) {
        self.rows.push(row);
        self.starts.push(self.text.len());
        self.text.push_str(folded);
        self.text.push('\u{0}');
    }

    /// The rows holding `needle`, ascending, at most `limit`.
    fn rows_matching(&self, needle: &str, limit: usize) -> Vec<usize> {
        let mut rows: Vec<usize> = Vec::new();
        // memmem rather than str::match_indices: 2–4 times faster here. A byte
        // search is exact for UTF-8, which matches only at character starts.
        for at in memchr::memmem::find_iter(self.text.as_bytes(), needle.as_bytes()) {
            // The field whose span holds `at`: the last start at or before it.
            let row = self.rows[self.starts.partition_point(|&start| start <= at) - 1];
            if rows.last() != Some(&row) {
                rows.push(row);
                if rows.len() == limit {
                    break;
                }
            }
        }
        rows
    }
}

impl SearchIndex {
    /// Reads the current list of every draw (see [`PublishedDraw::current`])
    /// and indexes it. Fails on the first draw whose list cannot be read.
    pub fn build(draws: &[PublishedDraw]) -> io::Result<Self> {
        let lists = draws
            .iter()
            .map(|draw| {
                draw.current()
                    .map_err(|e| io::Error::new(e.kind(), format!("draw {}: {e}", draw.name)))
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self::from_lists(draws, lists))
    }

    /// Like [`build`](Self::build), but a draw whose list cannot be read is
    /// left out of the index and returned beside it, so that one corrupt
    /// bundle does not take the search down for every other draw.
    pub fn build_skipping(draws: &[PublishedDraw]) -> (Self, Vec<Broken>) {
        let mut good = Vec::new();
        let mut lists = Vec::new();
        let mut broken = Vec::new();
        for draw in draws {
            match draw.current() {
                Ok(list) => {
                    good.push(draw.clone());
                    lists.push(list);
                }
                Err(e) => broken.push(Broken {
                    name: draw.name.clone(),
                    problem: e.to_string(),
                }),
            }
        }
        (Self::from_lists(&good, lists), broken)
    }

    /// Indexes lists already read: `lists[i]` is the list of `draws[i]`.
    pub fn from_lists(draws: &[PublishedDraw], lists: Vec<CurrentList>) -> Self {
        assert_eq!(draws.len(), lists.len(), "one list per draw");
        let total: usize = lists.iter().map(CurrentList::len).sum();
        let mut index = SearchIndex {
            draws: draws
                .iter()
                .map(|d| DrawInfo {
                    name: d.name.clone(),
                    plan_id: d.manifest.plan.id.clone(),
                    plan_name: d.manifest.plan.name.clone(),
                    inspection_date: d.manifest.plan.content.inspection_date().to_string(),
                })
                .collect(),
            rows: Vec::with_capacity(total),
            codes: Table::with_capacity(total, 19),
            names: Table::with_capacity(total, 40),
            latin_names: Table::with_capacity(0, 0),
        };
        let mut folded = String::new();
        for (d, list) in lists.into_iter().enumerate() {
            for row in list.rows {
                let k = index.rows.len();
                fold(&row.drawn.credit_code, &mut folded);
                index.codes.push(k, &folded);
                fold(&row.drawn.name, &mut folded);
                index.names.push(k, &folded);
                if folded.bytes().any(|b| b.is_ascii_alphanumeric()) {
                    index.latin_names.push(k, &folded);
                }
                index.rows.push((d, row));
            }
        }
        index
    }

    /// The number of rows indexed.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Rows whose credit code contains the query (any case) or whose name
    /// contains it, at most `limit`, in the order of the draws given (newest
    /// first from [`Publications::list`](super::Publications::list)), then 序号.
    /// An empty or all-space query finds nothing.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        let mut needle = String::new();
        fold(query, &mut needle);
        let needle = needle.trim();
        if needle.is_empty() || limit == 0 {
            return Vec::new();
        }
        // A credit code is 18 characters of 0-9 and A-Z (GB 32100-2015): any
        // other query can only be part of a name.
        let latin = needle.bytes().all(|b| b.is_ascii_alphanumeric());
        let rows = if latin {
            let by_name = self.latin_names.rows_matching(needle, limit);
            if needle.len() <= 18 {
                merge(self.codes.rows_matching(needle, limit), by_name, limit)
            } else {
                by_name
            }
        } else {
            self.names.rows_matching(needle, limit)
        };
        rows.into_iter().map(|row| self.hit(row)).collect()
    }

    fn hit(&self, row: usize) -> Hit {
        let (d, row) = &self.rows[row];
        let draw = &self.draws[*d];
        Hit {
            draw_name: draw.name.clone(),
            plan_id: draw.plan_id.clone(),
            plan_name: draw.plan_name.clone(),
            inspection_date: draw.inspection_date.clone(),
            credit_code: row.drawn.credit_code.clone(),
            name: row.drawn.name.clone(),
            items: row.drawn.items.clone(),
            item_names: row.drawn.item_names.clone(),
            leader: row.leader().to_owned(),
            team: row.team.clone(),
            drawn_team: row.drawn.team.clone(),
            substitutions: row.substitution_seqs(),
        }
    }
}

/// The union of two ascending lists of rows, ascending, at most `limit`.
fn merge(a: Vec<usize>, b: Vec<usize>, limit: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity((a.len() + b.len()).min(limit));
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while out.len() < limit {
        let next = match (a.peek(), b.peek()) {
            (Some(&x), Some(&y)) if x == y => {
                b.next();
                a.next()
            }
            (Some(&x), Some(&y)) if x > y => b.next(),
            (Some(_), _) => a.next(),
            (None, _) => b.next(),
        };
        match next {
            Some(row) => out.push(row),
            None => break,
        }
    }
    out
}

/// Replaces `out` with `text` as searched, the same for the index and the
/// query: full-width letters, digits and signs (as typed with a Chinese input
/// method) as ASCII, the ideographic space and control characters (our
/// separator among them, so a query can never hold it) as a space, and
/// lowercase.
fn fold(text: &str, out: &mut String) {
    out.clear();
    for c in text.chars() {
        match c {
            // U+FF01..U+FF5E are the full-width forms of U+0021..U+007E.
            '\u{ff01}'..='\u{ff5e}' => out.push(((c as u32 - 0xff01 + 0x21) as u8 as char).to_ascii_lowercase()),
            '\u{3000}' => out.push(' '),
            c if c.is_control() => out.push(' '),
            c => out.extend(c.to_lowercase()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public::publications::parse_rows;
    use crate::public::test_support::draw_named;

    fn index() -> SearchIndex {
        let a = draw_named("A_000000000001", "2026-03-01T10:00:00+08:00");
        let b = draw_named("B_000000000002", "2026-02-01T10:00:00+08:00");
        let rows_a = parse_rows(
            "序号,统一社会信用代码,名称,抽查事项,抽查事项名称,组长,检查人员\n\
             1,9152020001383091EP,盘州市富峰医药有限公司,SCJG-130,年报检查,C1,C1;C2\n\
             2,91520200MA1DN7F3D0,盘州市天海商贸有限公司,SCJG-161,价格检查,C3,C3;C4\n"
                .as_bytes(),
        )
        .unwrap();
        let rows_b = parse_rows(
            "序号,统一社会信用代码,名称,抽查事项,抽查事项名称,组长,检查人员\n\
             1,91520200MA1DN7F3D0,盘州市天海商贸有限公司,SCJG-190,广告检查,C5,C5;C6\n\
             2,92520200MA6EXAMPLE,盘州市ABC便利店,SCJG-190,广告检查,C7,C7;C8\n"
                .as_bytes(),
        )
        .unwrap();
        let lists = [rows_a, rows_b].map(|rows| CurrentList::new(rows, None).unwrap());
        SearchIndex::from_lists(&[a, b], lists.into())
    }

    fn found(hits: &[Hit]) -> Vec<(&str, &str)> {
        hits.iter()
            .map(|h| (h.draw_name.as_str(), h.credit_code.as_str()))
            .collect()
    }

    #[test]
    fn full_code_finds_every_draw() {
        let hits = index().search("91520200MA1DN7F3D0", 10);
        assert_eq!(
            found(&hits),
            [
                ("A_000000000001", "91520200MA1DN7F3D0"),
                ("B_000000000002", "91520200MA1DN7F3D0")
            ]
        );
        assert_eq!(hits[0].items, ["SCJG-161"]);
        assert_eq!(hits[0].leader, "C3");
        assert_eq!(hits[0].team, ["C3", "C4"]);
        assert_eq!(hits[1].plan_id, "PLAN-B_000000000002");
    }

    #[test]
    fn partial_code_any_case_and_full_width() {
        let index = index();
        assert_eq!(found(&index.search("ma1dn7", 10)).len(), 2);
        assert_eq!(found(&index.search("  MA1DN7  ", 10)).len(), 2);
        assert_eq!(found(&index.search("ＭＡ１ＤＮ７", 10)).len(), 2);
        assert_eq!(
            found(&index.search("1383091ep", 10)),
            [("A_000000000001", "9152020001383091EP")]
        );
    }

    #[test]
    fn name_substring() {
        let index = index();
        assert_eq!(
            found(&index.search("富峰", 10)),
            [("A_000000000001", "9152020001383091EP")]
        );
        assert_eq!(
            found(&index.search("abc便利", 10)),
            [("B_000000000002", "92520200MA6EXAMPLE")]
        );
        assert_eq!(index.search("盘州市", 10).len(), 4);
        assert_eq!(index.search("盘州市", 3).len(), 3);
    }

    #[test]
    fn empty_and_unmatched_queries_find_nothing() {
        let index = index();
        for query in ["", "   ", "\t\n", "\u{3000}", "不存在的公司"] {
            assert!(index.search(query, 10).is_empty(), "{query:?}");
        }
        // No match across the code/name boundary or across rows.
        assert!(index.search("3d0盘州", 10).is_empty());
        assert!(index.search("公司盘州", 10).is_empty());
        assert!(index.search("3d09152", 10).is_empty());
    }

    #[test]
    fn one_hit_per_row_even_if_code_and_name_match() {
        let index = index();
        // "ex" is in the code (…EXAMPLE) only; "a" is in two codes and one name.
        assert_eq!(index.search("example", 10).len(), 1);
        assert_eq!(index.search("a", 10).len(), 3);
        assert_eq!(index.search("a", 2).len(), 2);
    }

    #[test]
    fn hits_carry_the_current_team_and_the_drawn_one() {
        let draw = draw_named("A_000000000001", "2026-03-01T10:00:00+08:00");
        let rows = parse_rows(
            "序号,统一社会信用代码,名称,抽查事项,抽查事项名称,组长,检查人员\n\
             1,9152020001383091EP,盘州市富峰医药有限公司,SCJG-130,年报检查,C1,C1;C2\n"
                .as_bytes(),
        )
        .unwrap();
        let entry = crate::substitution::Entry {
            seq: 1,
            credit_code: crate::ids::CreditCode::parse("9152020001383091EP").unwrap(),
            out: crate::ids::CertNo::parse("C1").unwrap(),
            incoming: crate::ids::CertNo::parse("C9").unwrap(),
            reason: crate::substitution::Reason::Transfer,
            decided_at: "2026-03-01T11:00:00+08:00".into(),
            note: None,
            relation: None,
        };
        let log = crate::substitution::Log {
            format: crate::substitution::FORMAT.into(),
            plan_id: draw.manifest.plan.id.clone(),
            draw_result_sha256: draw.manifest.result_sha256,
            substitutions: vec![entry],
            result_sha256: crate::snapshot::Hash32([2; 32]),
        };
        let list = CurrentList::new(rows, Some(log)).unwrap();
        let index = SearchIndex::from_lists(&[draw], vec![list]);
        let hit = &index.search("富峰", 10)[0];
        assert_eq!(hit.team, ["C9", "C2"]);
        assert_eq!(hit.leader, "C9");
        assert_eq!(hit.drawn_team, ["C1", "C2"]);
        assert_eq!(hit.substitutions, [1]);
    }

    #[test]
    fn merges_rows_in_order() {
        assert_eq!(merge(vec![1, 4, 6], vec![2, 4, 7, 9], 10), [1, 2, 4, 6, 7, 9]);
        assert_eq!(merge(vec![1, 4, 6], vec![2, 4, 7, 9], 4), [1, 2, 4, 6]);
        assert_eq!(merge(vec![], vec![3], 4), [3]);
        assert_eq!(merge(vec![3], vec![], 4), [3]);
    }
}
