//! "Was this business drawn?": a search over every published draw by
//! 统一社会信用代码 (whole or part, any case) or by part of the business name.
//!
//! The index is made of one [`DrawIndex`] per draw, each built from that
//! draw's list with the teams as they stand after any substitutions
//! ([`CurrentList`]), so a new draw adds its own rows and a substitution or a
//! results notice rebuilds only its draw; the others are shared as they were.
//! A search looks for the query in precomputed lowercase tables: of the
//! codes for a query of Latin letters and digits (plus the few names holding
//! such characters), of the names otherwise; and among the names only in
//! those holding the query's rarest pair of neighbouring characters. It
//! counts every match, so a page can say how many there are, and hands out
//! one page of them.

use std::io;
use std::sync::Arc;

use memchr::memmem::Finder;
use rustc_hash::FxHashMap;

use super::current::{CurrentList, CurrentRow, PublishedResult};
use super::publications::{Broken, PublishedDraw};
use crate::standing::Standing;

/// Hits per page of a search: the search page shows this many at a time and
/// says how many there are in all.
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
    /// Its inspection result, once published.
    pub result: Option<PublishedResult>,
}

/// One page of the hits of a search, and how many there are in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// The hits asked for, in order.
    pub hits: Vec<Hit>,
    /// How many hits there are over every draw.
    pub total: usize,
    /// The position of the first of `hits` among all of them, from 0.
    pub first: usize,
}

/// Where a business stood in one published draw, for a search by its whole
/// credit code; `standing` is `None` when the draw's inputs could not be
/// read to tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawStanding {
    pub draw_name: String,
    pub plan_id: String,
    pub plan_name: String,
    pub inspection_date: String,
    pub standing: Option<Standing>,
}

#[derive(Debug)]
struct DrawInfo {
    name: String,
    plan_id: String,
    plan_name: String,
    inspection_date: String,
}

/// The rows of one published draw, searchable.
#[derive(Debug)]
pub struct DrawIndex {
    info: DrawInfo,
    list: Arc<CurrentList>,
    /// The credit codes and the names, each in its own table, so that a query
    /// that cannot be part of a code (Chinese text) scans the names only…
    codes: Table,
    names: Table,
    /// …and a query of Latin letters and digits, which is most likely part of
    /// a code, scans besides the codes only the few names that hold such
    /// characters at all.
    latin_names: Table,
}

/// Every row of every published draw, searchable: the draws' own indexes in
/// the order given (newest first from the service), shared, not copied.
#[derive(Debug, Default)]
pub struct SearchIndex {
    draws: Vec<Arc<DrawIndex>>,
}

/// One field of some rows, lowercased, as one text: `field\u{0}` per row.
/// The separator cannot occur in a query, so a match never spans two rows.
#[derive(Debug)]
struct Table {
    text: String,
    /// Where the k-th field starts in `text`.
    starts: Vec<usize>,
    /// The row of the k-th field, ascending.
    rows: Vec<usize>,
    /// For each pair of neighbouring characters, the fields holding it,
    /// ascending, each once. A query of two characters or more is then
    /// looked for only in the fields holding its rarest pair: over a year of
    /// national draws (millions of rows) a search reads a few hundred names
    /// instead of every one. `None` for the codes: 18 characters of 36,
    /// whose pairs are each in thousands of codes, so that the lists would
    /// be larger than the text and a scan of it is already quick.
    pairs: Option<FxHashMap<u64, Vec<u32>>>,
}

/// The key of a pair of characters in [`Table::pairs`].
fn pair(first: char, second: char) -> u64 {
    (first as u64) << 32 | second as u64
}

impl Table {
    /// A table searched by scanning its text.
    fn scanned(rows: usize, bytes_per_row: usize) -> Self {
        Table {
            text: String::with_capacity(rows * bytes_per_row),
            starts: Vec::with_capacity(rows),
            rows: Vec::with_capacity(rows),
            pairs: None,
        }
    }

    /// A table searched through its pairs of characters.
    fn indexed(rows: usize, bytes_per_row: usize) -> Self {
        Table {
            pairs: Some(FxHashMap::default()),
            ..Table::scanned(rows, bytes_per_row)
        }
    }

    /// Adds a field already [`fold`]ed.
    fn push(&mut self, row: usize, folded: &str) {
        let field = self.starts.len() as u32;
        self.rows.push(row);
        self.starts.push(self.text.len());
        self.text.push_str(folded);
        self.text.push('\u{0}');
        let Some(pairs) = &mut self.pairs else { return };
        for (first, second) in folded.chars().zip(folded.chars().skip(1)) {
            let fields = pairs.entry(pair(first, second)).or_default();
            if fields.last() != Some(&field) {
                fields.push(field);
            }
        }
    }

    /// The text of the k-th field, without its separator.
    fn field(&self, k: usize) -> &[u8] {
        let end = self.starts.get(k + 1).map_or(self.text.len(), |&next| next) - 1;
        &self.text.as_bytes()[self.starts[k]..end]
    }

    /// Every row holding `needle` (which `finder` finds), ascending, each once.
    fn rows_matching(&self, needle: &str, finder: &Finder<'_>) -> Vec<usize> {
        let mut pairs = needle.chars().zip(needle.chars().skip(1)).peekable();
        let Some(index) = self.pairs.as_ref().filter(|_| pairs.peek().is_some()) else {
            // Not indexed, or one character, which every field may hold.
            return self.scan(finder);
        };
        let mut rarest: &[u32] = &[];
        for (n, (first, second)) in pairs.enumerate() {
            match index.get(&pair(first, second)) {
                // A pair no field holds: neither does any field the query.
                None => return Vec::new(),
                Some(fields) if n == 0 || fields.len() < rarest.len() => rarest = fields,
                Some(_) => {}
            }
        }
        rarest
            .iter()
            .map(|&k| k as usize)
            .filter(|&k| finder.find(self.field(k)).is_some())
            .map(|k| self.rows[k])
            .collect()
    }

    /// [`Table::rows_matching`] by reading the whole text.
    fn scan(&self, finder: &Finder<'_>) -> Vec<usize> {
        let text = self.text.as_bytes();
        let mut rows = Vec::new();
        let (mut from, mut field) = (0, 0);
        // memmem rather than str::match_indices: 2–4 times faster here. A byte
        // search is exact for UTF-8, which matches only at character starts.
        while let Some(found) = finder.find(&text[from..]) {
            let at = from + found;
            field = field_at(&self.starts, field, at);
            rows.push(self.rows[field]);
            // The rest of this field can only find the same row again.
            match self.starts.get(field + 1) {
                Some(&next) => from = next,
                None => break,
            }
        }
        rows
    }
}

/// The field holding byte `at`: the last `k` with `starts[k] <= at`, looked
/// for from `from` (whose start is at or before `at`) in growing steps, so a
/// query matching most rows walks the table once and a rare one leaps.
fn field_at(starts: &[usize], from: usize, at: usize) -> usize {
    let (mut low, mut step) = (from, 1);
    loop {
        let probe = low + step;
        if probe >= starts.len() || starts[probe] > at {
            let high = probe.min(starts.len());
            return low + starts[low..high].partition_point(|&s| s <= at) - 1;
        }
        low = probe;
        step *= 2;
    }
}

/// A query as searched: folded, trimmed, and whether it could be part of a
/// credit code.
struct Needle {
    text: String,
    latin: bool,
}

impl Needle {
    /// `None` for an empty or all-space query, which finds nothing.
    fn new(query: &str) -> Option<Self> {
        let mut folded = String::new();
        fold(query, &mut folded);
        let text = folded.trim();
        if text.is_empty() {
            return None;
        }
        // A credit code is 18 characters of 0-9 and A-Z (GB 32100-2015): any
        // other query can only be part of a name.
        let latin = text.bytes().all(|b| b.is_ascii_alphanumeric());
        Some(Needle {
            text: text.to_owned(),
            latin,
        })
    }
}

impl DrawIndex {
    /// Indexes the list of `draw` as it stands now.
    pub fn new(draw: &PublishedDraw, list: Arc<CurrentList>) -> Self {
        let total = list.len();
        let mut index = DrawIndex {
            info: DrawInfo {
                name: draw.name.clone(),
                plan_id: draw.manifest.plan.id.clone(),
                plan_name: draw.manifest.plan.name.clone(),
                inspection_date: draw.manifest.plan.content.inspection_date().to_string(),
            },
            list: Arc::clone(&list),
            codes: Table::scanned(total, 19),
            names: Table::indexed(total, 40),
            latin_names: Table::indexed(0, 0),
        };
        let mut folded = String::new();
        for (k, row) in list.rows.iter().enumerate() {
            fold(&row.drawn.credit_code, &mut folded);
            index.codes.push(k, &folded);
            fold(&row.drawn.name, &mut folded);
            index.names.push(k, &folded);
            if folded.bytes().any(|b| b.is_ascii_alphanumeric()) {
                index.latin_names.push(k, &folded);
            }
        }
        index
    }

    /// The bundle name of the draw.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// The number of rows indexed.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The rows matching, ascending, each once.
    fn matching(&self, needle: &Needle, finder: &Finder<'_>) -> Vec<usize> {
        let text = &needle.text;
        if needle.latin {
            let by_name = self.latin_names.rows_matching(text, finder);
            if text.len() <= 18 {
                merge(self.codes.rows_matching(text, finder), by_name)
            } else {
                by_name
            }
        } else {
            self.names.rows_matching(text, finder)
        }
    }

    fn hit(&self, row: usize) -> Hit {
        let row: &CurrentRow = &self.list.rows[row];
        let draw = &self.info;
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
            result: row.result.clone(),
        }
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
        let draws = draws
            .iter()
            .zip(lists)
            .map(|(draw, list)| Arc::new(DrawIndex::new(draw, Arc::new(list))))
            .collect();
        SearchIndex { draws }
    }

    /// The index of these draws' indexes, searched in the order given.
    pub fn of_draws(draws: Vec<Arc<DrawIndex>>) -> Self {
        SearchIndex { draws }
    }

    /// The draws indexed, in order.
    pub fn draws(&self) -> &[Arc<DrawIndex>] {
        &self.draws
    }

    /// The number of rows indexed.
    pub fn len(&self) -> usize {
        self.draws.iter().map(|d| d.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.draws.iter().all(|d| d.is_empty())
    }

    /// Rows whose credit code contains the query (any case) or whose name
    /// contains it, at most `limit`, in the order of the draws given (newest
    /// first from [`Publications::list`](super::Publications::list)), then 序号.
    /// An empty or all-space query finds nothing.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        self.find(query, 0, limit).hits
    }

    /// Like [`search`](Self::search), but the `limit` hits after the first
    /// `skip`, and the number of hits in all.
    pub fn find(&self, query: &str, skip: usize, limit: usize) -> Found {
        let mut found = Found {
            first: skip,
            ..Found::default()
        };
        let Some(needle) = Needle::new(query) else {
            return found;
        };
        let finder = Finder::new(needle.text.as_bytes());
        let end = skip.saturating_add(limit);
        for draw in &self.draws {
            let rows = draw.matching(&needle, &finder);
            // This draw's share of the hits from `skip` to `end`.
            let from = skip.saturating_sub(found.total).min(rows.len());
            let to = end.saturating_sub(found.total).min(rows.len());
            found
                .hits
                .extend(rows[from..to.max(from)].iter().map(|&row| draw.hit(row)));
            found.total += rows.len();
        }
        found
    }
}

/// The union of two ascending lists of rows, ascending.
fn merge(a: Vec<usize>, b: Vec<usize>) -> Vec<usize> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
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
        assert_eq!(merge(vec![1, 4, 6], vec![2, 4, 7, 9]), [1, 2, 4, 6, 7, 9]);
        assert_eq!(merge(vec![], vec![3]), [3]);
        assert_eq!(merge(vec![3], vec![]), [3]);
    }

    #[test]
    fn the_field_of_a_byte_is_found_from_any_earlier_field() {
        let starts = [0, 3, 4, 10, 11, 30];
        for at in 0..40 {
            let expected = starts.iter().rposition(|&s| s <= at).unwrap();
            for from in 0..=expected {
                assert_eq!(field_at(&starts, from, at), expected, "at {at} from {from}");
            }
        }
    }

    /// Many draws of many rows, each name holding the query once or twice.
    fn many(draws: usize, rows: u32) -> SearchIndex {
        let header = "序号,统一社会信用代码,名称,抽查事项,抽查事项名称,组长,检查人员\n";
        let mut made = Vec::new();
        let mut lists = Vec::new();
        for d in 0..draws {
            made.push(draw_named(&format!("D{d}_000000000001"), "2026-03-01T10:00:00+08:00"));
            let mut csv = String::from(header);
            for n in 1..=rows {
                let twice = if n % 3 == 0 { "红果红果" } else { "红果" };
                csv.push_str(&format!(
                    "{n},91520200{d:02}{n:08},盘州市{twice}商店{n},I-1,检查,C1,C1;C2\n"
                ));
            }
            lists.push(CurrentList::new(parse_rows(csv.as_bytes()).unwrap(), None).unwrap());
        }
        SearchIndex::from_lists(&made, lists)
    }

    #[test]
    fn every_hit_is_counted_and_pages_cross_draws() {
        let index = many(3, 250);
        let all = index.find("红果", 0, usize::MAX);
        assert_eq!(
            all.total, 750,
            "each row once, even where its name holds the query twice"
        );
        assert_eq!(all.hits.len(), 750);
        let first = index.find("红果", 0, SEARCH_LIMIT);
        assert_eq!((first.total, first.first, first.hits.len()), (750, 0, 200));
        assert_eq!(first.hits, all.hits[..200]);
        // The second page runs from the first draw into the second.
        let second = index.find("红果", 200, SEARCH_LIMIT);
        assert_eq!(second.hits, all.hits[200..400]);
        assert_eq!(second.hits[49].draw_name, "D0_000000000001");
        assert_eq!(second.hits[50].draw_name, "D1_000000000001");
        assert_eq!(second.hits[50].name, "盘州市红果商店1");
        let last = index.find("红果", 600, SEARCH_LIMIT);
        assert_eq!(last.hits, all.hits[600..]);
        let beyond = index.find("红果", 750, SEARCH_LIMIT);
        assert_eq!((beyond.total, beyond.hits.len()), (750, 0));
        // By code: the draw's two digits, then the row's eight.
        let one = index.find("0100000007", 0, SEARCH_LIMIT);
        assert_eq!(one.total, 1);
        assert_eq!(one.hits[0].draw_name, "D1_000000000001");
        assert_eq!(index.find("不存在", 0, SEARCH_LIMIT), Found::default());
    }

    proptest::proptest! {
        /// The pair index finds exactly the rows a scan of the whole text
        /// finds, and the scan those whose folded field holds the query.
        #[test]
        fn the_pair_index_finds_what_a_scan_finds(
            fields in proptest::collection::vec("[红果店aAbＢ1 ]{0,8}", 0..60),
            needle in "[红果店aAbＢ1 ]{1,4}",
        ) {
            let mut table = Table::indexed(0, 0);
            let mut folded = String::new();
            for (k, field) in fields.iter().enumerate() {
                fold(field, &mut folded);
                table.push(3 * k, &folded);
            }
            let mut query = String::new();
            fold(&needle, &mut query);
            let finder = Finder::new(query.as_bytes());
            let scanned = table.scan(&finder);
            proptest::prop_assert_eq!(table.rows_matching(&query, &finder), scanned.clone());
            let holding: Vec<usize> = fields
                .iter()
                .enumerate()
                .filter(|(_, field)| {
                    fold(field, &mut folded);
                    folded.contains(query.as_str())
                })
                .map(|(k, _)| 3 * k)
                .collect();
            proptest::prop_assert_eq!(scanned, holding);
        }
    }

    #[test]
    fn a_draw_index_is_shared_not_rebuilt() {
        let index = many(2, 10);
        let kept = Arc::clone(&index.draws()[1]);
        let newer = many(1, 5).draws()[0].clone();
        let grown = SearchIndex::of_draws(vec![newer, Arc::clone(&kept)]);
        assert!(Arc::ptr_eq(&grown.draws()[1], &kept));
        assert_eq!(grown.len(), 15);
        assert_eq!(grown.find("红果", 0, 100).total, 15);
    }
}
