//! Reading the 一单两库 from one `.xlsx` workbook instead of a folder of CSV
//! files: a sheet per file, found by its English or Chinese name, with the
//! same header names as the CSV files.
//!
//! Each worksheet row becomes a record holding just the needed fields as
//! text, and that record goes through the very parsing and validation that
//! reads the CSV lines. So a workbook and the equivalent folder give the same
//! records, the same snapshot hashes and the same problems, which name
//! `book.xlsx[sheet]:row` where the CSV ones name `file.csv:line`.
//!
//! The one thing added is turning typed cells into text (`docs/DATA.md`,
//! "Excel workbooks"): Excel stores numbers and dates, not what was typed, so
//! a number in an id column is refused rather than guessed at.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::path::Path;

use calamine::{open_workbook, DataRef, ExcelDateTime, Reader, Xlsx};

use super::load::{finish, load_small, Rows};
use super::table::{Column, Header, Problem, Problems, Row};
use super::targets::{self, Loading, TargetDirectory};
use super::{Checked, Pools, Sources, FILES};

/// The sheet of each input, by the kinds of [`FILES`]: its English name
/// (ASCII case ignored) and its Chinese name.
pub const SHEETS: [(&str, &str); 5] = [
    ("departments", "部门"),
    ("items", "随机抽查事项清单"),
    ("inspectors", "执法检查人员名录库"),
    ("targets", "检查对象名录库"),
    ("conflicts", "回避名单"),
];

/// Target rows parsed at a time: enough to keep the cores busy, few enough
/// that memory holds a slice of the sheet rather than all of it as records.
const BATCH: usize = 1 << 16;

/// Loads and validates the workbook at `path`, like [`super::check`] a
/// folder, up to the hash of its target directory.
pub(super) fn check(path: &Path) -> Result<Checked, Problems> {
    let label = path
        .file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let opened: Result<Xlsx<BufReader<File>>, _> = open_workbook(path);
    load_opened(label, opened.map_err(|e| (path.display().to_string(), e)))
}

/// Loads and validates a workbook already read into memory, named `label`
/// in problems: the bytes parsed are then the very bytes a caller hashed
/// and stored, with no second read of a file that may have changed.
pub fn load_workbook_bytes(label: &str, bytes: Vec<u8>) -> Result<Pools, Problems> {
    let opened = Xlsx::new(Cursor::new(bytes));
    load_opened(label.to_owned(), opened.map_err(|e| (label.to_owned(), e))).map(Checked::hash)
}

fn load_opened<RS: Read + Seek>(
    label: String,
    opened: Result<Xlsx<RS>, (String, calamine::XlsxError)>,
) -> Result<Checked, Problems> {
    let mut problems = Problems::default();
    let xlsx = match opened {
        Ok(xlsx) => xlsx,
        Err((place, e)) => {
            problems.push(Problem {
                file: label,
                line: 0,
                field: None,
                message: format!("cannot read {place} as an .xlsx workbook: {e}"),
            });
            return Err(problems);
        }
    };
    let names = xlsx.sheet_names();
    let sheets = SHEETS.map(|(english, chinese)| find_sheet(&names, english, chinese, &label, &mut problems));
    let files: [String; 5] =
        std::array::from_fn(|i| format!("{label}[{}]", sheets[i].as_deref().unwrap_or(SHEETS[i].0)));
    let [departments, items, inspectors, targets, conflicts] = files.clone();
    let sources = Sources {
        departments,
        items,
        inspectors,
        targets,
        conflicts,
    };
    let mut book = Workbook { xlsx, sheets, files };
    // Targets first, so that problems come in the order a folder gives them.
    let directory = book.targets(&mut problems);
    let small = load_small(&mut book, &sources);
    finish(small, directory, sources, problems)
}

/// The one sheet named `english` or `chinese`; a missing or doubled sheet
/// is a problem.
fn find_sheet(names: &[String], english: &str, chinese: &str, label: &str, problems: &mut Problems) -> Option<String> {
    let found: Vec<&String> = names
        .iter()
        .filter(|n| n.trim().eq_ignore_ascii_case(english) || n.trim() == chinese)
        .collect();
    let message = match found.as_slice() {
        [one] => return Some((*one).clone()),
        [] => format!("missing sheet: the workbook needs a sheet named {english} or {chinese}"),
        [..] => {
            let list: Vec<&str> = found.iter().map(|n| n.as_str()).collect();
            format!("sheets {} are all {english}: keep one", list.join(", "))
        }
    };
    problems.push(Problem {
        file: format!("{label}[{english}]"),
        line: 0,
        field: None,
        message,
    });
    None
}

/// An open workbook with the sheet found for each input, if any.
struct Workbook<RS> {
    xlsx: Xlsx<RS>,
    sheets: [Option<String>; 5],
    /// Each input's name in problems, `book.xlsx[sheet]`.
    files: [String; 5],
}

impl<RS: Read + Seek> Rows for Workbook<RS> {
    fn each_row(
        &mut self,
        kind: &str,
        columns: &[Column],
        problems: &mut Problems,
        each: &mut dyn FnMut(&Row<'_>, &Header, &mut Problems),
    ) {
        let index = FILES.iter().position(|(k, _)| *k == kind).expect("a kind of FILES");
        self.stream(index, columns, problems, |line, record, header, problems| {
            each(&header.row(line, &record), header, problems)
        });
    }
}

impl<RS: Read + Seek> Workbook<RS> {
    /// Reads the target directory: rows are gathered in batches and each batch
    /// is parsed on all cores.
    fn targets(&mut self, problems: &mut Problems) -> TargetDirectory {
        let mut loading = Loading::default();
        let mut batch = Vec::new();
        let header = self.stream(3, &targets::COLUMNS, problems, |line, record, header, problems| {
            batch.push((line, record));
            if batch.len() == BATCH {
                loading.add_records(&batch, header, problems);
                batch.clear();
            }
        });
        if let Some(header) = header {
            loading.add_records(&batch, &header, problems);
        }
        targets::finish(loading, &self.files[3], problems)
    }

    /// Reads the sheet of input `index` (in [`FILES`] order): maps its first
    /// non-empty row onto `columns`, then calls `each` with every later row
    /// that holds a value, as a record of the needed fields in column order,
    /// read through the header passed with it. A row with a cell that cannot
    /// be read is reported, not passed on. Returns that header, if any.
    fn stream(
        &mut self,
        index: usize,
        columns: &[Column],
        problems: &mut Problems,
        mut each: impl FnMut(u64, csv::StringRecord, &Header, &mut Problems),
    ) -> Option<Header> {
        let file = &self.files[index];
        let sheet = self.sheets[index].as_deref()?;
        let problem = |problems: &mut Problems, line: u64, message: String| {
            problems.push(Problem {
                file: file.clone(),
                line,
                field: None,
                message,
            })
        };
        let mut reader = match self.xlsx.worksheet_cells_reader(sheet) {
            Ok(reader) => reader,
            Err(e) => {
                problem(problems, 0, format!("unreadable sheet: {e}"));
                return None;
            }
        };
        // Whether each cell style shows numbers as percentages: such a cell
        // shows 3% but holds 0.03.
        let percent: Vec<bool> = reader
            .styles()
            .iter()
            .map(|style| style.number_format.as_ref().is_some_and(|f| is_percent(&f.format_code)))
            .collect();
        let kinds: Vec<CellKind> = columns.iter().map(CellKind::of).collect();
        let mut rows = SheetRows {
            file,
            columns,
            kinds: &kinds,
            state: State::Header,
        };
        // The cells of the row being read; cells come row by row, left to right.
        let mut cells: Vec<(u32, DataRef<'_>, bool)> = Vec::new();
        let mut row = 0;
        loop {
            let next = match reader.next_cell_with_style_id() {
                Ok(next) => next,
                Err(e) => {
                    problem(problems, row as u64 + 1, format!("unreadable sheet: {e}"));
                    return None;
                }
            };
            let next_row = next.as_ref().map(|(cell, _)| cell.get_position().0);
            if !cells.is_empty() && next_row != Some(row) {
                rows.take(row as u64 + 1, &cells, problems, &mut each);
                cells.clear();
                if matches!(rows.state, State::Failed) {
                    return None;
                }
            }
            let Some((cell, style)) = next else { break };
            let (r, c) = cell.get_position();
            row = r;
            cells.push((
                c,
                cell.get_value().clone(),
                percent.get(style).copied().unwrap_or(false),
            ));
        }
        match rows.state {
            State::Rows { header, .. } => Some(header),
            State::Header => {
                problem(problems, 0, "is empty: no header row".into());
                None
            }
            State::Failed => None,
        }
    }
}

/// How far a sheet has been read.
enum State {
    /// Looking for the header row.
    Header,
    /// Reading data rows: records of the needed fields are read through
    /// `header`; `field_of` gives the field each sheet column holds, if any.
    Rows {
        header: Header,
        field_of: Vec<Option<usize>>,
    },
    /// The header lacks a column (reported): the rows cannot be read.
    Failed,
}

struct SheetRows<'s> {
    file: &'s str,
    columns: &'s [Column],
    kinds: &'s [CellKind],
    state: State,
}

impl SheetRows<'_> {
    /// Takes the cells of sheet row `line` (1-based, as Excel numbers rows).
    fn take(
        &mut self,
        line: u64,
        cells: &[(u32, DataRef<'_>, bool)],
        problems: &mut Problems,
        each: &mut impl FnMut(u64, csv::StringRecord, &Header, &mut Problems),
    ) {
        // Like a blank line of a CSV file, a row without a value is no record.
        if cells.iter().all(|(_, value, _)| is_blank(value)) {
            return;
        }
        let (header, field_of) = match &self.state {
            State::Header => {
                let width = cells.iter().map(|(c, _, _)| *c as usize + 1).max().unwrap_or(0);
                let mut names = vec![Cow::Borrowed(""); width];
                for (c, value, _) in cells {
                    names[*c as usize] = cell_text(value, CellKind::Text, false).unwrap_or_default();
                }
                let names: Vec<&str> = names.iter().map(|n| n.as_ref()).collect();
                self.state = match Header::from_names(self.file, line, &names, self.columns, problems) {
                    Some(header) => {
                        let mut field_of = vec![None; width];
                        for (field, &position) in header.positions().iter().enumerate() {
                            field_of[position] = Some(field);
                        }
                        State::Rows {
                            header: header.fields_only(),
                            field_of,
                        }
                    }
                    None => State::Failed,
                };
                return;
            }
            State::Rows { header, field_of } => (header, field_of),
            State::Failed => return,
        };
        let mut fields = vec![Cow::Borrowed(""); self.columns.len()];
        let mut readable = true;
        for (c, value, percent) in cells {
            let Some(&Some(field)) = field_of.get(*c as usize) else {
                continue; // a column the pools do not use
            };
            match cell_text(value, self.kinds[field], *percent) {
                Ok(text) => fields[field] = text,
                Err(error) => {
                    readable = false;
                    problems.push(Problem {
                        file: self.file.into(),
                        line,
                        field: Some(self.columns[field].english),
                        message: error.to_string(),
                    });
                }
            }
        }
        if readable {
            let record: csv::StringRecord = fields.iter().map(|f| f.as_ref()).collect();
            each(line, record, header, problems);
        }
    }
}

/// How a column's cells become text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CellKind {
    /// Credit codes, certificate numbers, item codes: text only.
    Id,
    /// `valid_until`: a date cell or text.
    Date,
    /// Ratios in percent: a number or text.
    Ratio,
    /// Everything else: text; a number becomes its decimal digits.
    Text,
}

impl CellKind {
    pub(super) fn of(column: &Column) -> CellKind {
        match column.english {
            "code" | "cert_no" | "credit_code" => CellKind::Id,
            "valid_until" => CellKind::Date,
            name if name.starts_with("ratio_") => CellKind::Ratio,
            _ => CellKind::Text,
        }
    }
}

fn is_blank(value: &DataRef<'_>) -> bool {
    match value {
        DataRef::Empty => true,
        DataRef::SharedString(s) => s.trim().is_empty(),
        DataRef::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// Why a cell cannot be used in its column; shown after the cell's
/// `file:line: field:`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(super) enum CellError {
    #[error("holds U+FEFF (a byte-order mark), which is no part of any text: remove it")]
    StrayBom,
    #[error("is the Excel error {0}")]
    Excel(calamine::CellErrorType),
    #[error("is a duration in Excel, not text")]
    Duration,
    #[error("is the value {0} in Excel, not text")]
    Bool(&'static str),
    #[error("is the date {0} in Excel: format the column as text")]
    DateForText(String),
    #[error(
        "is a number in Excel ({0}); format the column as text (文本) and enter the ids again: \
         a number may have lost digits"
    )]
    NumberForId(String),
    #[error("is the number {0} in Excel, not a date: format the cell as a date or write YYYY-MM-DD")]
    NumberForDate(String),
}

/// The text a cell stands for in a column of `kind`, as the CSV field would
/// hold it; or why the cell cannot be used. `percent`: the cell is formatted
/// as a percentage.
pub(super) fn cell_text<'a>(value: &DataRef<'a>, kind: CellKind, percent: bool) -> Result<Cow<'a, str>, CellError> {
    let date = match value {
        DataRef::Empty => return Ok(Cow::Borrowed("")),
        // As in a CSV file after its first character (spec §1): a sheet has
        // no first character, so a U+FEFF is refused in every cell.
        DataRef::SharedString(s) if s.contains('\u{FEFF}') => return Err(CellError::StrayBom),
        DataRef::String(s) if s.contains('\u{FEFF}') => return Err(CellError::StrayBom),
        DataRef::SharedString(s) => return Ok(Cow::Borrowed(s)),
        DataRef::String(s) => return Ok(Cow::Owned(s.clone())),
        DataRef::Error(e) => return Err(CellError::Excel(e.clone())),
        DataRef::Float(f) => return number_cell(*f, kind, percent),
        DataRef::Int(i) => return number_cell(*i as f64, kind, percent),
        DataRef::DateTime(date) if date.is_duration() => return Err(CellError::Duration),
        DataRef::DurationIso(_) => return Err(CellError::Duration),
        DataRef::Bool(b) => {
            let shown = if *b { "TRUE" } else { "FALSE" };
            return match kind {
                CellKind::Text => Ok(Cow::Borrowed(shown)),
                _ => Err(CellError::Bool(shown)),
            };
        }
        DataRef::DateTime(date) => date_text(date),
        // A date cell of a strict-format workbook; midnight is the date itself.
        DataRef::DateTimeIso(text) => text.strip_suffix("T00:00:00").unwrap_or(text).replace('T', " "),
    };
    match kind {
        CellKind::Date | CellKind::Text => Ok(Cow::Owned(date)),
        CellKind::Id | CellKind::Ratio => Err(CellError::DateForText(date)),
    }
}

/// The text of a number cell in a column of `kind`.
fn number_cell(value: f64, kind: CellKind, percent: bool) -> Result<Cow<'static, str>, CellError> {
    match kind {
        // A number cannot say which digits were typed: Excel keeps 15
        // significant digits, drops leading zeros, and a code that went
        // through 5.20281E+13 reads back as 52028100000000. So no number is
        // taken for an id, even one that looks whole.
        CellKind::Id => Err(CellError::NumberForId(number_text(value))),
        CellKind::Date => Err(CellError::NumberForDate(number_text(value))),
        // A percentage cell shows 3% and holds 0.03; the column is in percent.
        CellKind::Ratio if percent => Ok(Cow::Owned(number_text(value * 100.0))),
        CellKind::Ratio | CellKind::Text => Ok(Cow::Owned(number_text(value))),
    }
}

/// A number as Excel shows it in the formula bar: rounded to 15 significant
/// digits, without an exponent (`3`, `0.5`, `52028120010003`). The rounding
/// undoes binary noise such as 0.03 × 100 = 3.0000000000000004.
pub(super) fn number_text(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let rounded: f64 = format!("{value:.14e}").parse().unwrap_or(value);
    // Display is the shortest text that reads back as the same f64, and
    // never uses an exponent; adding 0.0 turns -0 into 0.
    format!("{}", rounded + 0.0)
}

/// A date cell as `YYYY-MM-DD`, with the time of day after it when there is
/// one (which the date check then refuses).
fn date_text(date: &ExcelDateTime) -> String {
    let (year, month, day, hour, minute, second, milli) = date.to_ymd_hms_milli();
    if (hour, minute, second, milli) == (0, 0, 0, 0) {
        format!("{year:04}-{month:02}-{day:02}")
    } else {
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
    }
}

/// Whether an Excel number format shows percentages: a `%` outside quoted
/// text and not escaped.
fn is_percent(format: &str) -> bool {
    let mut quoted = false;
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if !quoted => {
                chars.next();
            }
            '%' if !quoted => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{CellErrorType, ExcelDateTimeType};

    fn text(value: DataRef<'_>, kind: CellKind) -> Result<String, String> {
        cell_text(&value, kind, false)
            .map(Cow::into_owned)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn cell_errors_read_as_they_always_have() {
        let cases = [
            (DataRef::Float(52028101.0), CellKind::Id, "is a number in Excel (52028101); format the column as text (文本) and enter the ids again: a number may have lost digits"),
            (DataRef::Float(3.0), CellKind::Date, "is the number 3 in Excel, not a date: format the cell as a date or write YYYY-MM-DD"),
            (DataRef::Bool(false), CellKind::Ratio, "is the value FALSE in Excel, not text"),
            (DataRef::DateTimeIso("2030-12-31".into()), CellKind::Id, "is the date 2030-12-31 in Excel: format the column as text"),
            (DataRef::DurationIso("PT1H".into()), CellKind::Text, "is a duration in Excel, not text"),
            (DataRef::SharedString("a\u{FEFF}"), CellKind::Text, "holds U+FEFF (a byte-order mark), which is no part of any text: remove it"),
        ];
        for (value, kind, message) in cases {
            assert_eq!(text(value, kind).unwrap_err(), message);
        }
    }

    #[test]
    fn numbers_read_as_excel_shows_them() {
        assert_eq!(number_text(3.0), "3");
        assert_eq!(number_text(0.5), "0.5");
        assert_eq!(number_text(0.03 * 100.0), "3");
        assert_eq!(number_text(-0.0), "0");
        assert_eq!(number_text(52028120010003.0), "52028120010003");
        assert_eq!(number_text(5.20281e13), "52028100000000");
    }

    #[test]
    fn no_number_is_taken_for_an_id() {
        for (value, shown) in [(52028120010003.0, "52028120010003"), (5.20281e13, "52028100000000")] {
            let message = text(DataRef::Float(value), CellKind::Id).unwrap_err();
            assert!(
                message.starts_with(&format!("is a number in Excel ({shown}); format the column as text")),
                "{message}"
            );
        }
        assert!(text(DataRef::Int(12), CellKind::Id).is_err());
        assert_eq!(
            text(DataRef::SharedString("SCJG-001"), CellKind::Id).unwrap(),
            "SCJG-001"
        );
        assert_eq!(text(DataRef::Empty, CellKind::Id).unwrap(), "");
        // A boolean or an ISO date would pass as a certificate number.
        assert!(text(DataRef::Bool(true), CellKind::Id).is_err());
        assert!(text(DataRef::DateTimeIso("2030-12-31".into()), CellKind::Id).is_err());
    }

    #[test]
    fn ratios_may_be_numbers_or_percent_cells() {
        assert_eq!(text(DataRef::Float(0.5), CellKind::Ratio).unwrap(), "0.5");
        assert_eq!(text(DataRef::Int(30), CellKind::Ratio).unwrap(), "30");
        let percent = cell_text(&DataRef::Float(0.005), CellKind::Ratio, true).unwrap();
        assert_eq!(percent, "0.5");
        assert_eq!(text(DataRef::SharedString("10%"), CellKind::Ratio).unwrap(), "10%");
    }

    #[test]
    fn dates_become_iso_text_and_a_time_of_day_stays_visible() {
        let date = |serial| DataRef::DateTime(ExcelDateTime::new(serial, ExcelDateTimeType::DateTime, false));
        // 47848 is 2030-12-31 in Excel's 1900 date system.
        assert_eq!(text(date(47848.0), CellKind::Date).unwrap(), "2030-12-31");
        assert_eq!(text(date(47848.5), CellKind::Date).unwrap(), "2030-12-31 12:00:00");
        assert!(text(date(47848.0), CellKind::Id).is_err());
        assert!(text(DataRef::Float(47848.0), CellKind::Date)
            .unwrap_err()
            .contains("not a date"));
        let iso = DataRef::DateTimeIso("2030-12-31T00:00:00".into());
        assert_eq!(text(iso, CellKind::Date).unwrap(), "2030-12-31");
    }

    #[test]
    fn error_cells_are_problems() {
        let message = text(DataRef::Error(CellErrorType::NA), CellKind::Text).unwrap_err();
        assert_eq!(message, "is the Excel error #N/A");
    }

    #[test]
    fn percent_formats_are_told_from_literal_percent_signs() {
        for format in ["0%", "0.00%", "0.0%;[Red]-0.0%"] {
            assert!(is_percent(format), "{format}");
        }
        for format in ["General", "0.00", "0\"%\"", "0\\%", "@"] {
            assert!(!is_percent(format), "{format}");
        }
    }
}
