//! The rows of the four small files of the 一单两库 (departments, items,
//! inspectors, the recusal list): their columns, and each row checked field
//! by field into a record and its record hash (`docs/ALGORITHM.md` §1), or
//! the problems that keep it out. CSV lines and worksheet rows both reach
//! these functions as [`Row`]s.

use chrono::NaiveDate;

use super::table::{Column, Header, Problems, Row};
use super::{Category, Conflict, Inspector, Item, Ratio};
use crate::ids::{CertNo, CreditCode, ItemCode};
use crate::snapshot::{canonical_list, record_hash, Hash32};

const fn col(english: &'static str, chinese: &'static str) -> Column {
    Column { english, chinese }
}

pub(super) const DEPARTMENT_COLUMNS: [Column; 1] = [col("name", "部门名称")];
pub(super) const ITEM_COLUMNS: [Column; 13] = [
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
pub(super) const INSPECTOR_COLUMNS: [Column; 6] = [
    col("cert_no", "执法证号"),
    col("name", "姓名"),
    col("department", "所属部门"),
    col("areas", "执法领域"),
    col("township", "居住乡镇"),
    col("valid_until", "证件有效期至"),
];
pub(super) const CONFLICT_COLUMNS: [Column; 3] = [
    col("cert_no", "执法证号"),
    col("credit_code", "统一社会信用代码"),
    col("relation", "回避关系"),
];

/// The columns of input `kind` (a kind of [`super::FILES`]).
pub fn columns_of(kind: &str) -> &'static [Column] {
    match kind {
        "departments" => &DEPARTMENT_COLUMNS,
        "items" => &ITEM_COLUMNS,
        "inspectors" => &INSPECTOR_COLUMNS,
        "targets" => &super::targets::COLUMNS,
        "conflicts" => &CONFLICT_COLUMNS,
        _ => panic!("{kind} is not a kind of pool input"),
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

/// A list field (`;` or `；` between elements) as its elements, trimmed,
/// without empty ones, sorted and deduplicated: the canonical order.
pub(super) fn split_list(text: &str) -> Vec<String> {
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
pub fn parse_date(text: &str) -> Option<NaiveDate> {
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

pub(super) fn parse_item(row: &Row<'_>, header: &Header, problems: &mut Problems) -> Option<(Item, Hash32)> {
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

pub(super) fn parse_inspector(row: &Row<'_>, header: &Header, problems: &mut Problems) -> Option<(Inspector, Hash32)> {
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

pub(super) fn parse_conflict(row: &Row<'_>, header: &Header, problems: &mut Problems) -> Option<(Conflict, Hash32)> {
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
