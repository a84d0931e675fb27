//! Writing pool workbooks: the import templates shipped in `data/templates/`,
//! and a pool folder converted into one `.xlsx` (`gen-data --xlsx`), which
//! loads to the same snapshot as the folder.
//!
//! Cells are written the way an office would keep them: ids as text in
//! text-formatted columns (so ids typed later stay text), ratios as numbers,
//! `valid_until` as date cells, everything else as text. The reader turns each
//! back into the text of the CSV field.

use std::fs;
use std::io;
use std::path::Path;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use super::rows::{columns_of, parse_date};
use super::table::{decode, Column, Encoding, STRAY_BOM};
use super::xlsx::{CellKind, SHEETS};
use super::FILES;
use crate::ids::CreditCode;

/// The file name of the workbook template in `data/templates/`.
pub const TEMPLATE_XLSX: &str = "pools-template.xlsx";

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{path}: {source}")]
    Decode {
        path: String,
        source: super::table::DecodeError,
    },
    #[error("{path}: {message}")]
    Input { path: String, message: String },
    #[error("xlsx: {0}")]
    Xlsx(#[from] XlsxError),
}

/// The formats of a pool workbook.
struct Formats {
    header: Format,
    /// Excel's Text number format, "@".
    text: Format,
    date: Format,
}

impl Formats {
    fn new() -> Self {
        Formats {
            header: Format::new().set_bold().set_background_color("#EEEEEE"),
            text: Format::new().set_num_format("@"),
            date: Format::new().set_num_format("yyyy-mm-dd"),
        }
    }
}

/// A workbook with fixed document properties, so that writing the same pools
/// twice gives the same bytes.
fn new_workbook() -> Result<Workbook, XlsxError> {
    let mut workbook = Workbook::new();
    let created = ExcelDateTime::from_ymd(2026, 1, 1)?;
    workbook.set_properties(
        &DocProperties::new()
            .set_title("一单两库")
            .set_creation_datetime(&created),
    );
    Ok(workbook)
}

/// Adds the sheet of input `index` (in [`FILES`] order) under its Chinese
/// name, with `header` in row 1 and the columns' formats set.
fn add_sheet<'w>(
    workbook: &'w mut Workbook,
    index: usize,
    header: &[&str],
    formats: &Formats,
) -> Result<(&'w mut Worksheet, Vec<CellKind>), XlsxError> {
    let columns = columns_of(FILES[index].0);
    let kinds: Vec<CellKind> = header
        .iter()
        .map(|name| {
            let name = name.trim();
            columns
                .iter()
                .find(|c| name.eq_ignore_ascii_case(c.english) || name == c.chinese)
                .map_or(CellKind::Text, CellKind::of)
        })
        .collect();
    let sheet = workbook.add_worksheet();
    sheet.set_name(SHEETS[index].1)?;
    for (col, (name, kind)) in header.iter().zip(&kinds).enumerate() {
        let col = col as u16;
        sheet.write_string_with_format(0, col, *name, &formats.header)?;
        // Chinese text is about two width units a character.
        let width = (name.chars().count() as f64 * 2.2).max(10.0);
        sheet.set_column_width(col, width)?;
        match kind {
            CellKind::Id => sheet.set_column_format(col, &formats.text)?,
            CellKind::Date => sheet.set_column_format(col, &formats.date)?,
            CellKind::Ratio | CellKind::Text => sheet,
        };
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok((sheet, kinds))
}

/// Writes one data row: each field as its column's kind of cell.
fn write_row(
    sheet: &mut Worksheet,
    row: u32,
    fields: &[&str],
    kinds: &[CellKind],
    formats: &Formats,
) -> Result<(), XlsxError> {
    for (col, (field, kind)) in fields.iter().zip(kinds).enumerate() {
        let col = col as u16;
        if field.trim().is_empty() {
            continue;
        }
        match kind {
            CellKind::Id => {
                sheet.write_string_with_format(row, col, *field, &formats.text)?;
            }
            CellKind::Ratio if is_plain_number(field) => {
                let value: f64 = field.trim().parse().expect("checked to be a plain number");
                sheet.write_number(row, col, value)?;
            }
            CellKind::Date => match parse_date(field.trim()) {
                Some(date) => {
                    use chrono::Datelike;
                    let date = ExcelDateTime::from_ymd(date.year() as u16, date.month() as u8, date.day() as u8)?;
                    sheet.write_datetime_with_format(row, col, &date, &formats.date)?;
                }
                None => {
                    sheet.write_string(row, col, *field)?;
                }
            },
            CellKind::Ratio | CellKind::Text => {
                sheet.write_string(row, col, *field)?;
            }
        }
    }
    Ok(())
}

/// Digits with at most one `.`: a ratio a number cell holds exactly as the
/// text reads (`3`, `0.5`).
fn is_plain_number(text: &str) -> bool {
    let text = text.trim();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b.is_ascii_digit())
}

/// Writes the pool folder `dir` as one workbook at `out`: a sheet per file,
/// named in Chinese, holding the file's columns (all of them, in its order).
pub fn write_workbook(dir: &Path, out: &Path, encoding: Encoding) -> Result<(), WriteError> {
    let formats = Formats::new();
    let mut workbook = new_workbook()?;
    for (index, (_, file)) in FILES.iter().enumerate() {
        let path = dir.join(file);
        let shown = path.display().to_string();
        let bytes = fs::read(&path).map_err(|source| WriteError::Io {
            path: shown.clone(),
            source,
        })?;
        let text = decode(&bytes, encoding).map_err(|source| WriteError::Decode {
            path: shown.clone(),
            source,
        })?;
        // The CSV reader would drop one at the start of the header unseen,
        // and the workbook would load where the folder does not (spec §1).
        if let Some(at) = text.find('\u{FEFF}') {
            let line = 1 + text[..at].matches('\n').count();
            return Err(WriteError::Input {
                path: shown,
                message: format!("line {line}: {STRAY_BOM}"),
            });
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut records = reader.records();
        let header = match records.next() {
            Some(Ok(header)) => header,
            Some(Err(e)) => {
                return Err(WriteError::Input {
                    path: shown,
                    message: e.to_string(),
                })
            }
            None => {
                return Err(WriteError::Input {
                    path: shown,
                    message: "is empty: no header row".into(),
                })
            }
        };
        let names: Vec<&str> = header.iter().collect();
        let (sheet, kinds) = add_sheet(&mut workbook, index, &names, &formats)?;
        let mut row = 1;
        for record in records {
            let record = record.map_err(|e| WriteError::Input {
                path: shown.clone(),
                message: e.to_string(),
            })?;
            let fields: Vec<&str> = record.iter().collect();
            if fields.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            write_row(sheet, row, &fields, &kinds, &formats)?;
            row += 1;
        }
    }
    workbook.save(out)?;
    Ok(())
}

/// Writes the import templates into `dir`: [`TEMPLATE_XLSX`], the five sheets
/// with Chinese headers and one example row each (together a pool that loads
/// cleanly), and the five CSV files with their header row only (UTF-8 with a
/// BOM, so that Excel opens them as UTF-8).
pub fn write_templates(dir: &Path) -> Result<(), WriteError> {
    let io_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| WriteError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let department = "盘州市市场监督管理局";
    let cert = "52028120010003";
    let code = CreditCode::complete(b"91520281MA6HXK3L0").expect("an example code in the alphabet");
    let examples: [&[&str]; 5] = [
        &[department],
        &[
            "SCJG-001",
            "食品生产者许可条件保持情况的检查",
            department,
            "食品安全",
            "《中华人民共和国食品安全法》第八十七条",
            "一般",
            "实地核查",
            "企业;个体工商户",
            "",
            "3",
            "5",
            "10",
            "20",
        ],
        &[cert, "张三", department, "食品安全;产品质量", "红果街道", "2030-12-31"],
        &[
            code.as_str(),
            "盘州市红果示例食品有限公司",
            "企业",
            "批发和零售业",
            "红果街道",
            "B",
        ],
        &[cert, code.as_str(), "近亲属"],
    ];
    let formats = Formats::new();
    let mut workbook = new_workbook()?;
    for (index, example) in examples.iter().enumerate() {
        let header: Vec<&str> = columns_of(FILES[index].0).iter().map(|c: &Column| c.chinese).collect();
        let (sheet, kinds) = add_sheet(&mut workbook, index, &header, &formats)?;
        write_row(sheet, 1, example, &kinds, &formats)?;
        let csv = dir.join(FILES[index].1);
        fs::write(&csv, format!("\u{FEFF}{}\n", header.join(","))).map_err(io_error(&csv))?;
    }
    workbook.save(dir.join(TEMPLATE_XLSX))?;
    Ok(())
}
