//! Loading a pool folder: parse each file, check every field, cross-check the
//! files against each other, then sort and hash. Nothing is returned unless
//! everything is clean, so a bad file can never leave a half-loaded pool.

use std::path::Path;

use chrono::NaiveDate;

use super::table::{decode, Column, Encoding, Header, Problem, Problems, Row, Table};
use super::targets::{self, TargetDirectory};
use super::{Category, Conflict, Inspector, Item, Pools, Ratio, SnapshotHashes, Sources, Target};
use crate::ids::{CertNo, CreditCode, ItemCode};
use crate::snapshot::{canonical_list, list_hash, record_hash, Hash32};

#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    pub encoding: Encoding,
    /// The size in bytes at which the target directory is cut into pieces
    /// for parsing; `None` picks it from the file size and the cores. Only
    /// tests set it: the snapshot must not depend on where the cuts fall.
    #[doc(hidden)]
    pub piece_bytes: Option<usize>,
}

const fn col(english: &'static str, chinese: &'static str) -> Column {
    Column { english, chinese }
}

const DEPARTMENT_COLUMNS: [Column; 1] = [col("name", "部门名称")];
const ITEM_COLUMNS: [Column; 13] = [
    col("code", "事项编号"),
    col("name", "事项名称"),
    col("department", "抽查主体"),
    col("field", "执法领域"),
    col("legal_basis", "抽查依据"),
    col("category", "事项类别"),
    col("method", "抽查方式"),
    col("entity_types", "抽查对象类型"),
    col("industries", "行业范围"),
    col("ratio_a", "A类比例"),
    col("ratio_b", "B类比例"),
    col("ratio_c", "C类比例"),
    col("ratio_d", "D类比例"),
];
const INSPECTOR_COLUMNS: [Column; 6] = [
    col("cert_no", "执法证号"),
    col("name", "姓名"),
    col("department", "所属部门"),
    col("areas", "执法领域"),
    col("township", "居住乡镇"),
    col("valid_until", "证件有效期至"),
];
const CONFLICT_COLUMNS: [Column; 3] = [
    col("cert_no", "执法证号"),
    col("credit_code", "统一社会信用代码"),
    col("relation", "回避关系"),
];

/// The columns of input `kind` (a kind of [`super::FILES`]).
pub(super) fn columns_of(kind: &str) -> &'static [Column] {
    match kind {
        "departments" => &DEPARTMENT_COLUMNS,
        "items" => &ITEM_COLUMNS,
        "inspectors" => &INSPECTOR_COLUMNS,
        "targets" => &targets::COLUMNS,
        "conflicts" => &CONFLICT_COLUMNS,
        _ => panic!("{kind} is not a kind of pool input"),
    }
}

/// Loads and validates the pool folder `dir`. On any problem, returns all of
/// them (up to [`Problems::CAP`]) and no pools.
pub fn load(dir: &Path, options: LoadOptions) -> Result<Pools, Problems> {
    load_folder(dir, options, true)
}

/// Loads a pool folder that holds no `conflicts.csv`, the confidential
/// recusal list, as one given to the public for partial verification
/// (`docs/VERIFY.md`): the pools have no conflicts, and their conflicts
/// snapshot is that of an empty list, not of the list the draw used.
pub fn load_without_conflicts(dir: &Path, options: LoadOptions) -> Result<Pools, Problems> {
    load_folder(dir, options, false)
}

fn load_folder(dir: &Path, options: LoadOptions, conflicts: bool) -> Result<Pools, Problems> {
    // The target directory is nearly all of the work; it spreads itself over
    // the cores while the four small files are read beside it.
    let mut problems = Problems::default();
    let sources = Sources::csv();
    let (directory, small) = rayon::join(
        || targets::load(dir, options, &mut problems),
        || {
            let mut folder = CsvFolder {
                dir,
                encoding: options.encoding,
                conflicts,
            };
            load_small(&mut folder, &sources)
        },
    );
    finish(small, directory, sources, problems)
}

/// Loads either kind of pool: a path ending in `.xlsx` is one workbook,
/// anything else a folder of the five CSV files (`docs/DATA.md`).
pub fn load_path(path: &Path, options: LoadOptions) -> Result<Pools, Problems> {
    if is_workbook(path) {
        super::xlsx::load(path)
    } else {
        load(path, options)
    }
}

/// Whether `path` names an `.xlsx` workbook rather than a pool folder.
pub fn is_workbook(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
}

/// Cross-checks the loaded inputs and, when nothing at all is wrong, builds
/// the pools. `problems` holds what was found while reading.
pub(super) fn finish(
    small: SmallFiles,
    directory: TargetDirectory,
    sources: Sources,
    mut problems: Problems,
) -> Result<Pools, Problems> {
    let SmallFiles {
        departments,
        items,
        inspectors,
        conflicts,
        problems: small_problems,
    } = small;
    problems.extend(small_problems);
    let targets = directory.targets;
    cross_check(
        &departments,
        &items,
        &inspectors,
        &conflicts,
        &targets,
        &sources,
        &mut problems,
    );
    for (name, empty) in [
        (&sources.departments, departments.records.is_empty()),
        (&sources.items, items.records.is_empty()),
        (&sources.inspectors, inspectors.records.is_empty()),
        (&sources.targets, targets.is_empty()),
    ] {
        if empty {
            problems.push(Problem {
                file: name.clone(),
                line: 0,
                field: None,
                message: "holds no records: the pool is empty".into(),
            });
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Pools {
        snapshot: SnapshotHashes {
            departments: departments.hash,
            items: items.hash,
            inspectors: inspectors.hash,
            targets: directory.hash,
            conflicts: conflicts.hash,
        },
        departments: departments.records.into_iter().map(|(_, d)| d).collect(),
        items: items.records.into_iter().map(|(_, i)| i).collect(),
        inspectors: inspectors.records.into_iter().map(|(_, i)| i).collect(),
        targets,
        target_names: directory.names,
        conflicts: conflicts.records.into_iter().map(|(_, c)| c).collect(),
        entity_types: directory.entity_types,
        industries: directory.industries,
        townships: directory.townships,
        sources,
    })
}

/// Records of one small file, sorted by id, with their lines; and its hash.
struct Sorted<T> {
    records: Vec<(u64, T)>,
    hash: Hash32,
}

/// The four small inputs, each sorted and hashed, and the problems found in them.
pub(super) struct SmallFiles {
    departments: Sorted<String>,
    items: Sorted<Item>,
    inspectors: Sorted<Inspector>,
    conflicts: Sorted<Conflict>,
    problems: Problems,
}

/// Where the rows of the four small inputs come from: CSV files in a folder
/// or worksheets of a workbook. Either way each row reaches the same parsing.
pub(super) trait Rows {
    /// Calls `each` for every data row of the input `kind` (a kind of
    /// [`super::FILES`]), read through a header mapped onto `columns`, and
    /// reports whatever keeps the input or a row from being read.
    fn each_row(
        &mut self,
        kind: &str,
        columns: &[Column],
        problems: &mut Problems,
        each: &mut dyn FnMut(&Row<'_>, &Header, &mut Problems),
    );
}

/// A pool folder's CSV files.
struct CsvFolder<'a> {
    dir: &'a Path,
    encoding: Encoding,
    /// Whether `conflicts.csv` is read (or, when `false`, taken as empty).
    conflicts: bool,
}

impl Rows for CsvFolder<'_> {
    fn each_row(
        &mut self,
        kind: &str,
        columns: &[Column],
        problems: &mut Problems,
        each: &mut dyn FnMut(&Row<'_>, &Header, &mut Problems),
    ) {
        if kind == "conflicts" && !self.conflicts {
            return;
        }
        let name = format!("{kind}.csv");
        let Some(text) = read_text(self.dir, &name, self.encoding, problems) else {
            return;
        };
        let Some((header, header_len)) = Header::read(&name, &text, columns, problems) else {
            return;
        };
        let table = Table::new(&header, &text.as_bytes()[header_len..], 2);
        table.rows(problems, |row, problems| each(&row, &header, problems));
    }
}

pub(super) fn load_small(source: &mut impl Rows, sources: &Sources) -> SmallFiles {
    let mut problems = Problems::default();
    let departments = load_file(
        source,
        "departments",
        &DEPARTMENT_COLUMNS,
        &mut problems,
        |row, _, _| {
            let name = row.get(0);
            Some((name.to_owned(), record_hash(&[name])))
        },
    );
    let departments = sorted(
        departments,
        "departments",
        &sources.departments,
        "部门名称",
        &mut problems,
        |d| d.clone(),
    );
    let items = load_file(source, "items", &ITEM_COLUMNS, &mut problems, parse_item);
    let items = sorted(items, "items", &sources.items, "事项编号", &mut problems, |i| {
        i.code.to_string()
    });
    let inspectors = load_file(source, "inspectors", &INSPECTOR_COLUMNS, &mut problems, parse_inspector);
    let inspectors = sorted(
        inspectors,
        "inspectors",
        &sources.inspectors,
        "执法证号",
        &mut problems,
        |i| i.cert.to_string(),
    );
    let conflicts = load_file(source, "conflicts", &CONFLICT_COLUMNS, &mut problems, parse_conflict);
    let conflicts = sorted(
        conflicts,
        "conflicts",
        &sources.conflicts,
        "执法证号 + 统一社会信用代码",
        &mut problems,
        |c| format!("{}\u{0}{}", c.cert, c.code),
    );
    SmallFiles {
        departments,
        items,
        inspectors,
        conflicts,
        problems,
    }
}

/// Reads one input row by row; `parse` returns the record and its record
/// hash, or `None` after reporting why the row is bad.
fn load_file<T>(
    source: &mut impl Rows,
    kind: &str,
    columns: &[Column],
    problems: &mut Problems,
    mut parse: impl FnMut(&Row<'_>, &Header, &mut Problems) -> Option<(T, Hash32)>,
) -> Vec<(u64, T, Hash32)> {
    let mut out = Vec::new();
    source.each_row(kind, columns, problems, &mut |row, header, problems| {
        if let Some((record, hash)) = parse(row, header, problems) {
            out.push((row.line, record, hash));
        }
    });
    out
}

/// Sorts records by their id bytes, reports duplicates, and hashes the list.
fn sorted<T>(
    mut records: Vec<(u64, T, Hash32)>,
    kind: &str,
    file: &str,
    id_name: &'static str,
    problems: &mut Problems,
    id: impl Fn(&T) -> String,
) -> Sorted<T> {
    let mut keyed: Vec<(String, u64, T, Hash32)> = records.drain(..).map(|(line, r, h)| (id(&r), line, r, h)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    for pair in keyed.windows(2) {
        if pair[0].0 == pair[1].0 {
            problems.push(Problem {
                file: file.into(),
                line: pair[1].1,
                field: Some(id_name),
                message: format!(
                    "duplicate id {}, first on line {}",
                    pair[1].0.replace('\u{0}', " + "),
                    pair[0].1
                ),
            });
        }
    }
    let hash = list_hash(&format!("shuangsui/v1/snapshot/{kind}"), keyed.iter().map(|k| &k.3));
    Sorted {
        records: keyed.into_iter().map(|(_, line, r, _)| (line, r)).collect(),
        hash,
    }
}

/// Reports an empty required value; returns whether the value is present.
fn required(row: &Row<'_>, header: &Header, problems: &mut Problems, column: &[Column], index: usize) -> bool {
    let present = !row.get(index).is_empty();
    if !present {
        header.problem(
            problems,
            row.line,
            Some(column[index].english),
            format!("{} is empty", column[index].chinese),
        );
    }
    present
}

fn split_list(text: &str) -> Vec<String> {
    let mut elements: Vec<String> = text
        .split([';', '；'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect();
    elements.sort_unstable();
    elements.dedup();
    elements
}

/// A date as spec §1 reads it: 4-digit year, 1–2-digit month and day, both
/// separators `-` or both `/`. (chrono's own parser would also take a sign
/// or a longer year, which no office export means.)
pub(super) fn parse_date(text: &str) -> Option<NaiveDate> {
    let separator = if text.contains('/') { '/' } else { '-' };
    let mut parts = text.split(separator);
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if parts.next().is_some() || !digits(year, 4..=4) || !digits(month, 1..=2) || !digits(day, 1..=2) {
        return None;
    }
    NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)
}

fn parse_item(row: &Row<'_>, header: &Header, problems: &mut Problems) -> Option<(Item, Hash32)> {
    let c = &ITEM_COLUMNS;
    let before = problems.total;
    let code = ItemCode::parse(row.get(0))
        .map_err(|e| header.problem(problems, row.line, Some(c[0].english), e.to_string()))
        .ok();
    for i in [1, 2, 3, 4, 6] {
        required(row, header, problems, c, i);
    }
    let category = Category::parse(row.get(5));
    if category.is_none() {
        header.problem(
            problems,
            row.line,
            Some(c[5].english),
            format!("{:?} is not 一般 or 重点", row.get(5)),
        );
    }
    let mut ratios = [Ratio(0); 4];
    for (k, ratio) in ratios.iter_mut().enumerate() {
        match Ratio::parse_percent(row.get(9 + k)) {
            Some(r) => *ratio = r,
            None => header.problem(
                problems,
                row.line,
                Some(c[9 + k].english),
                format!(
                    "{:?} is not a percentage from 0 to 100 with at most two decimals",
                    row.get(9 + k)
                ),
            ),
        }
    }
    if problems.total != before {
        return None;
    }
    let item = Item {
        code: code?,
        name: row.get(1).into(),
        department: row.get(2).into(),
        field: row.get(3).into(),
        legal_basis: row.get(4).into(),
        category: category?,
        method: row.get(6).into(),
        entity_types: split_list(row.get(7)),
        industries: split_list(row.get(8)),
        ratios,
    };
    let ratio_text = ratios.map(Ratio::canonical);
    let hash = record_hash(&[
        item.code.as_str(),
        &item.name,
        &item.department,
        &item.field,
        &item.legal_basis,
        item.category.as_str(),
        &item.method,
        &canonical_list(&item.entity_types),
        &canonical_list(&item.industries),
        &ratio_text[0],
        &ratio_text[1],
        &ratio_text[2],
        &ratio_text[3],
    ]);
    Some((item, hash))
}

fn parse_inspector(row: &Row<'_>, header: &Header, problems: &mut Problems) -> Option<(Inspector, Hash32)> {
    let c = &INSPECTOR_COLUMNS;
    let before = problems.total;
    let cert = CertNo::parse(row.get(0))
        .map_err(|e| header.problem(problems, row.line, Some(c[0].english), e.to_string()))
        .ok();
    for i in [1, 2, 4] {
        required(row, header, problems, c, i);
    }
    let areas = split_list(row.get(3));
    if areas.is_empty() {
        header.problem(
            problems,
            row.line,
            Some(c[3].english),
            "执法领域 is empty: an officer needs at least one area".into(),
        );
    }
    let valid_until = parse_date(row.get(5));
    if valid_until.is_none() {
        header.problem(
            problems,
            row.line,
            Some(c[5].english),
            format!("{:?} is not a date YYYY-MM-DD", row.get(5)),
        );
    }
    if problems.total != before {
        return None;
    }
    let inspector = Inspector {
        cert: cert?,
        name: row.get(1).into(),
        department: row.get(2).into(),
        areas,
        township: row.get(4).into(),
        valid_until: valid_until?,
        line: row.line,
    };
    let hash = record_hash(&[
        inspector.cert.as_str(),
        &inspector.name,
        &inspector.department,
        &canonical_list(&inspector.areas),
        &inspector.township,
        &inspector.valid_until.format("%Y-%m-%d").to_string(),
    ]);
    Some((inspector, hash))
}

fn parse_conflict(row: &Row<'_>, header: &Header, problems: &mut Problems) -> Option<(Conflict, Hash32)> {
    let c = &CONFLICT_COLUMNS;
    let cert =
        CertNo::parse(row.get(0)).map_err(|e| header.problem(problems, row.line, Some(c[0].english), e.to_string()));
    let code = CreditCode::parse(row.get(1))
        .map_err(|e| header.problem(problems, row.line, Some(c[1].english), e.to_string()));
    let relation = required(row, header, problems, c, 2);
    let (Ok(cert), Ok(code), true) = (cert, code, relation) else {
        return None;
    };
    let hash = record_hash(&[cert.as_str(), code.as_str(), row.get(2)]);
    Some((
        Conflict {
            cert,
            code,
            relation: row.get(2).into(),
        },
        hash,
    ))
}

/// Checks references between files: departments exist, conflicts name real
/// officers and targets.
fn cross_check(
    departments: &Sorted<String>,
    items: &Sorted<Item>,
    inspectors: &Sorted<Inspector>,
    conflicts: &Sorted<Conflict>,
    targets: &[Target],
    sources: &Sources,
    problems: &mut Problems,
) {
    let known = |name: &str| {
        departments
            .records
            .binary_search_by(|(_, d)| d.as_str().cmp(name))
            .is_ok()
    };
    for (line, item) in &items.records {
        if !known(&item.department) {
            problems.push(Problem {
                file: sources.items.clone(),
                line: *line,
                field: Some("department"),
                message: format!(
                    "unknown department {:?} (not in {})",
                    item.department, sources.departments
                ),
            });
        }
    }
    for (line, officer) in &inspectors.records {
        if !known(&officer.department) {
            problems.push(Problem {
                file: sources.inspectors.clone(),
                line: *line,
                field: Some("department"),
                message: format!(
                    "unknown department {:?} (not in {})",
                    officer.department, sources.departments
                ),
            });
        }
    }
    for (line, conflict) in &conflicts.records {
        if inspectors
            .records
            .binary_search_by(|(_, o)| o.cert.cmp(&conflict.cert))
            .is_err()
        {
            problems.push(Problem {
                file: sources.conflicts.clone(),
                line: *line,
                field: Some("cert_no"),
                message: format!("officer {} is not in {}", conflict.cert, sources.inspectors),
            });
        }
    }
    // Walk the conflicts in credit-code order beside the sorted targets: one
    // sequential pass, where a binary search per conflict would miss the
    // cache at every step in a national directory.
    let mut by_code: Vec<(&CreditCode, u64)> = conflicts.records.iter().map(|(line, c)| (&c.code, *line)).collect();
    by_code.sort_unstable();
    let mut position = 0;
    for (code, line) in by_code {
        while position < targets.len() && targets[position].code < *code {
            position += 1;
        }
        if targets.get(position).is_none_or(|t| t.code != *code) {
            problems.push(Problem {
                file: sources.conflicts.clone(),
                line,
                field: Some("credit_code"),
                message: format!("target {code} is not in {}", sources.targets),
            });
        }
    }
}

/// Reads and decodes a file, reporting a failure as a problem of that file.
pub fn read_text(dir: &Path, name: &str, encoding: Encoding, problems: &mut Problems) -> Option<String> {
    let path = dir.join(name);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            problems.push(Problem {
                file: name.into(),
                line: 0,
                field: None,
                message: format!("cannot read {}: {e}", path.display()),
            });
            return None;
        }
    };
    match decode(&bytes, encoding) {
        Ok(text) => Some(text.into_owned()),
        Err(error) => {
            problems.push(Problem {
                file: name.into(),
                line: 0,
                field: None,
                message: error.to_string(),
            });
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_strictly() {
        let date = NaiveDate::from_ymd_opt(2030, 1, 5);
        for text in ["2030-01-05", "2030/1/5", "2030-1-05"] {
            assert_eq!(parse_date(text), date, "{text}");
        }
        for text in [
            "+2030-01-05",
            "2030-01/05",
            "30-01-05",
            "2030-02-30",
            "2030-01-05-1",
            "2030-001-05",
        ] {
            assert_eq!(parse_date(text), None, "{text}");
        }
    }
}
