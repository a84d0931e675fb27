//! Loading a pool folder: parse each file, check every field, cross-check the
//! files against each other, then sort and hash. Nothing is returned unless
//! everything is clean, so a bad file can never leave a half-loaded pool.

use std::path::Path;

use chrono::NaiveDate;

use super::table::{read_text, Column, Encoding, Header, Problem, Problems, Row, Table};
use super::{targets, Category, Conflict, Inspector, Item, Pools, Ratio, SnapshotHashes, Target};
use crate::ids::{CertNo, CreditCode, ItemCode};
use crate::snapshot::{canonical_list, list_hash, record_hash, Hash32};

#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    pub encoding: Encoding,
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

/// Loads and validates the pool folder `dir`. On any problem, returns all of
/// them (up to [`Problems::CAP`]) and no pools.
pub fn load(dir: &Path, options: LoadOptions) -> Result<Pools, Problems> {
    // The target directory is nearly all of the work; it spreads itself over
    // the cores while the four small files are read beside it.
    let mut problems = Problems::default();
    let (directory, small) = rayon::join(
        || targets::load(dir, options.encoding, &mut problems),
        || load_small(dir, options.encoding),
    );
    let (departments, items, inspectors, conflicts, small_problems) = small;
    problems.extend(small_problems);
    let targets = directory.targets;
    cross_check(&departments, &items, &inspectors, &conflicts, &targets, &mut problems);
    for (name, empty) in [
        ("departments.csv", departments.records.is_empty()),
        ("items.csv", items.records.is_empty()),
        ("inspectors.csv", inspectors.records.is_empty()),
        ("targets.csv", targets.is_empty()),
    ] {
        if empty {
            problems.push(Problem {
                file: name.into(),
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
    })
}

/// Records of one small file, sorted by id, with their lines; and its hash.
struct Sorted<T> {
    records: Vec<(u64, T)>,
    hash: Hash32,
}

type SmallFiles = (
    Sorted<String>,
    Sorted<Item>,
    Sorted<Inspector>,
    Sorted<Conflict>,
    Problems,
);

fn load_small(dir: &Path, encoding: Encoding) -> SmallFiles {
    let mut problems = Problems::default();
    let departments = load_file(
        dir,
        "departments.csv",
        &DEPARTMENT_COLUMNS,
        encoding,
        &mut problems,
        |row, _, _| {
            let name = row.get(0);
            Some((name.to_owned(), record_hash(&[name])))
        },
    );
    let departments = sorted(departments, "departments", "部门名称", &mut problems, |d| d.clone());
    let items = load_file(dir, "items.csv", &ITEM_COLUMNS, encoding, &mut problems, parse_item);
    let items = sorted(items, "items", "事项编号", &mut problems, |i| i.code.to_string());
    let inspectors = load_file(
        dir,
        "inspectors.csv",
        &INSPECTOR_COLUMNS,
        encoding,
        &mut problems,
        parse_inspector,
    );
    let inspectors = sorted(inspectors, "inspectors", "执法证号", &mut problems, |i| {
        i.cert.to_string()
    });
    let conflicts = load_file(
        dir,
        "conflicts.csv",
        &CONFLICT_COLUMNS,
        encoding,
        &mut problems,
        parse_conflict,
    );
    let conflicts = sorted(
        conflicts,
        "conflicts",
        "执法证号 + 统一社会信用代码",
        &mut problems,
        |c| format!("{}\u{0}{}", c.cert, c.code),
    );
    (departments, items, inspectors, conflicts, problems)
}

/// Reads one file row by row; `parse` returns the record and its record hash,
/// or `None` after reporting why the row is bad.
fn load_file<T>(
    dir: &Path,
    name: &str,
    columns: &[Column],
    encoding: Encoding,
    problems: &mut Problems,
    mut parse: impl FnMut(&Row<'_>, &Table<'_>, &mut Problems) -> Option<(T, Hash32)>,
) -> Vec<(u64, T, Hash32)> {
    let mut out = Vec::new();
    let Some(text) = read_text(dir, name, encoding, problems) else {
        return out;
    };
    let Some((header, header_len)) = Header::read(name, &text, columns, problems) else {
        return out;
    };
    let table = Table::new(&header, &text.as_bytes()[header_len..], 2);
    table.rows(problems, |row, problems| {
        if let Some((record, hash)) = parse(&row, &table, problems) {
            out.push((row.line, record, hash));
        }
    });
    out
}

/// Sorts records by their id bytes, reports duplicates, and hashes the list.
fn sorted<T>(
    mut records: Vec<(u64, T, Hash32)>,
    kind: &str,
    id_name: &'static str,
    problems: &mut Problems,
    id: impl Fn(&T) -> String,
) -> Sorted<T> {
    let mut keyed: Vec<(String, u64, T, Hash32)> = records.drain(..).map(|(line, r, h)| (id(&r), line, r, h)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    for pair in keyed.windows(2) {
        if pair[0].0 == pair[1].0 {
            problems.push(Problem {
                file: format!("{kind}.csv"),
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
fn required(row: &Row<'_>, table: &Table<'_>, problems: &mut Problems, column: &[Column], index: usize) -> bool {
    let present = !row.get(index).is_empty();
    if !present {
        table.problem(
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
fn parse_date(text: &str) -> Option<NaiveDate> {
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

fn parse_item(row: &Row<'_>, table: &Table<'_>, problems: &mut Problems) -> Option<(Item, Hash32)> {
    let c = &ITEM_COLUMNS;
    let before = problems.total;
    let code = ItemCode::parse(row.get(0))
        .map_err(|e| table.problem(problems, row.line, Some(c[0].english), e.to_string()))
        .ok();
    for i in [1, 2, 3, 4, 6] {
        required(row, table, problems, c, i);
    }
    let category = Category::parse(row.get(5));
    if category.is_none() {
        table.problem(
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
            None => table.problem(
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

fn parse_inspector(row: &Row<'_>, table: &Table<'_>, problems: &mut Problems) -> Option<(Inspector, Hash32)> {
    let c = &INSPECTOR_COLUMNS;
    let before = problems.total;
    let cert = CertNo::parse(row.get(0))
        .map_err(|e| table.problem(problems, row.line, Some(c[0].english), e.to_string()))
        .ok();
    for i in [1, 2, 4] {
        required(row, table, problems, c, i);
    }
    let areas = split_list(row.get(3));
    if areas.is_empty() {
        table.problem(
            problems,
            row.line,
            Some(c[3].english),
            "执法领域 is empty: an officer needs at least one area".into(),
        );
    }
    let valid_until = parse_date(row.get(5));
    if valid_until.is_none() {
        table.problem(
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

fn parse_conflict(row: &Row<'_>, table: &Table<'_>, problems: &mut Problems) -> Option<(Conflict, Hash32)> {
    let c = &CONFLICT_COLUMNS;
    let cert =
        CertNo::parse(row.get(0)).map_err(|e| table.problem(problems, row.line, Some(c[0].english), e.to_string()));
    let code =
        CreditCode::parse(row.get(1)).map_err(|e| table.problem(problems, row.line, Some(c[1].english), e.to_string()));
    let relation = required(row, table, problems, c, 2);
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
                file: "items.csv".into(),
                line: *line,
                field: Some("department"),
                message: format!("unknown department {:?} (not in departments.csv)", item.department),
            });
        }
    }
    for (line, officer) in &inspectors.records {
        if !known(&officer.department) {
            problems.push(Problem {
                file: "inspectors.csv".into(),
                line: *line,
                field: Some("department"),
                message: format!("unknown department {:?} (not in departments.csv)", officer.department),
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
                file: "conflicts.csv".into(),
                line: *line,
                field: Some("cert_no"),
                message: format!("officer {} is not in inspectors.csv", conflict.cert),
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
                file: "conflicts.csv".into(),
                line,
                field: Some("credit_code"),
                message: format!("target {code} is not in targets.csv"),
            });
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
