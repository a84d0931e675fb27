//! The 一单两库 as one Excel workbook: the same snapshot and the same draw as
//! the CSV folder it was made from, every kind of bad input named by
//! workbook, sheet, row and field, and the shipped templates in step.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use shuangsui::pools::{load_path, write_templates, write_workbook, Encoding, LoadOptions, Pools, Problems};

use common::*;

/// One cell of a test sheet.
#[derive(Debug, Clone)]
enum Cell {
    Text(String),
    Number(f64),
    /// A number shown with the percent format "0%".
    Percent(f64),
    Date(u16, u8, u8),
}

use Cell::*;

/// A sheet: its name and rows, the header first.
struct Sheet {
    name: String,
    rows: Vec<Vec<Cell>>,
}

const CHINESE: [(&str, &str); 5] = [
    ("departments", "部门"),
    ("items", "随机抽查事项清单"),
    ("inspectors", "执法检查人员名录库"),
    ("targets", "检查对象名录库"),
    ("conflicts", "回避名单"),
];

/// The five CSV files of `dir` as sheets of text cells, under Chinese names.
fn sheets_of(dir: &Path) -> Vec<Sheet> {
    CHINESE
        .iter()
        .map(|(kind, chinese)| {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_path(dir.join(format!("{kind}.csv")))
                .unwrap();
            let rows = reader
                .records()
                .map(|r| r.unwrap().iter().map(|f| Text(f.to_owned())).collect())
                .collect();
            Sheet {
                name: chinese.to_string(),
                rows,
            }
        })
        .collect()
}

/// Writes `sheets` as a workbook with rust_xlsxwriter, strings as strings.
fn write(sheets: &[Sheet], path: &Path) {
    let mut workbook = Workbook::new();
    let percent = Format::new().set_num_format("0%");
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for sheet in sheets {
        let worksheet = workbook.add_worksheet();
        worksheet.set_name(&sheet.name).unwrap();
        for (r, row) in sheet.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match cell {
                    Text(text) if text.is_empty() => {}
                    Text(text) => {
                        worksheet.write_string(r, c, text).unwrap();
                    }
                    Number(n) => {
                        worksheet.write_number(r, c, *n).unwrap();
                    }
                    Percent(n) => {
                        worksheet.write_number_with_format(r, c, *n, &percent).unwrap();
                    }
                    Date(y, m, d) => {
                        let day = ExcelDateTime::from_ymd(*y, *m, *d).unwrap();
                        worksheet.write_datetime_with_format(r, c, &day, &date).unwrap();
                    }
                }
            }
        }
    }
    workbook.save(path).unwrap();
}

fn load_xlsx(path: &Path) -> Result<Pools, Problems> {
    load_path(path, LoadOptions::default())
}

fn sheet<'s>(sheets: &'s mut [Sheet], name: &str) -> &'s mut Sheet {
    sheets.iter_mut().find(|s| s.name == name).unwrap()
}

fn column(sheet: &Sheet, header: &str) -> usize {
    sheet.rows[0]
        .iter()
        .position(|c| matches!(c, Text(t) if t == header))
        .unwrap()
}

fn text(cell: &Cell) -> &str {
    match cell {
        Text(t) => t,
        _ => panic!("not text: {cell:?}"),
    }
}

#[test]
fn a_workbook_loads_to_the_snapshot_and_draw_of_its_folder() {
    let root = tempfile::tempdir().unwrap();
    let folder = small_pool(root.path(), 31);
    let csv = load_pools(&folder);
    let plan = plan(&csv, 3, "");
    let from_csv = draw_ok(&csv, &plan, &seed(7));

    // As office software would keep it: the library's own conversion writes
    // ratios as numbers and dates as date cells.
    let typed = root.path().join("typed.xlsx");
    write_workbook(&folder, &typed, Encoding::Detect).unwrap();
    // As someone might assemble it: English sheet names in any case, English
    // headers, columns in another order, an extra column, every cell text.
    let mut sheets = sheets_of(&folder);
    for (sheet, (kind, _)) in sheets.iter_mut().zip(CHINESE) {
        sheet.name = kind.to_uppercase();
        for (i, row) in sheet.rows.iter_mut().enumerate() {
            row.reverse();
            row.push(Text(if i == 0 { "备注".into() } else { format!("note {i}") }));
        }
    }
    for (chinese, english) in [("统一社会信用代码", "credit_code"), ("执法证号", "CERT_NO")] {
        for sheet in &mut sheets {
            for cell in &mut sheet.rows[0] {
                if text(cell) == chinese {
                    *cell = Text(english.into());
                }
            }
        }
    }
    let plain = root.path().join("plain.xlsx");
    write(&sheets, &plain);

    for path in [typed, plain] {
        let xlsx = load_xlsx(&path).unwrap_or_else(|p| panic!("{} does not load:\n{p}", path.display()));
        assert_eq!(xlsx.snapshot, csv.snapshot, "{}", path.display());
        assert_eq!(xlsx.snapshot.combined(), csv.snapshot.combined());
        assert_eq!(draw_ok(&xlsx, &plan, &seed(7)), from_csv, "{}", path.display());
    }
}

#[test]
fn ratios_and_dates_may_be_typed_cells() {
    let root = tempfile::tempdir().unwrap();
    let folder = small_pool(root.path(), 32);
    let csv = load_pools(&folder);
    let mut sheets = sheets_of(&folder);
    let items = sheet(&mut sheets, "随机抽查事项清单");
    let (a, b) = (column(items, "A类比例"), column(items, "B类比例"));
    for row in items.rows.iter_mut().skip(1) {
        let percent: f64 = text(&row[a]).parse().unwrap();
        // 0.5% kept in a percent-formatted cell is the number 0.005.
        row[a] = Percent(percent / 100.0);
        let percent: f64 = text(&row[b]).parse().unwrap();
        row[b] = Number(percent);
    }
    let inspectors = sheet(&mut sheets, "执法检查人员名录库");
    let until = column(inspectors, "证件有效期至");
    for row in inspectors.rows.iter_mut().skip(1) {
        let date = chrono::NaiveDate::parse_from_str(text(&row[until]), "%Y-%m-%d").unwrap();
        use chrono::Datelike;
        row[until] = Date(date.year() as u16, date.month() as u8, date.day() as u8);
    }
    let path = root.path().join("typed.xlsx");
    write(&sheets, &path);
    let xlsx = load_xlsx(&path).unwrap_or_else(|p| panic!("does not load:\n{p}"));
    assert_eq!(xlsx.snapshot, csv.snapshot);
}

/// Writes a damaged copy of a small pool's workbook and returns what loading
/// it reports, asserting that nothing loaded.
fn refused(damage: impl FnOnce(&mut Vec<Sheet>)) -> String {
    let root = tempfile::tempdir().unwrap();
    let folder = small_pool(root.path(), 33);
    let mut sheets = sheets_of(&folder);
    damage(&mut sheets);
    let path = root.path().join("pool.xlsx");
    write(&sheets, &path);
    match load_xlsx(&path) {
        Ok(_) => panic!("a damaged workbook loaded"),
        Err(problems) => problems.to_string(),
    }
}

fn assert_names(report: &str, expected: &str) {
    assert!(report.contains(expected), "expected {expected:?} in:\n{report}");
}

#[test]
fn a_missing_sheet_is_named() {
    let report = refused(|sheets| sheets.retain(|s| s.name != "回避名单"));
    assert_names(
        &report,
        "pool.xlsx[conflicts]: missing sheet: the workbook needs a sheet named conflicts or 回避名单",
    );
}

#[test]
fn a_missing_column_is_named() {
    let report = refused(|sheets| {
        let targets = sheet(sheets, "检查对象名录库");
        let risk = column(targets, "信用风险分类");
        targets.rows[0][risk] = Text("风险".into());
    });
    assert_names(
        &report,
        "pool.xlsx[检查对象名录库]:1: risk_class: missing column (header 信用风险分类 or risk_class)",
    );
}

#[test]
fn numeric_ids_are_refused_even_when_they_look_whole() {
    let report = refused(|sheets| {
        let inspectors = sheet(sheets, "执法检查人员名录库");
        let cert = column(inspectors, "执法证号");
        // Row 2 holds a whole number that Excel keeps exactly; row 3 what is
        // left after a trip through 5.20281E+13. Neither can be told from a
        // real id by its value, so both are refused.
        let whole: f64 = text(&inspectors.rows[1][cert]).parse().unwrap();
        assert_eq!(whole.fract(), 0.0);
        inspectors.rows[1][cert] = Number(whole);
        inspectors.rows[2][cert] = Number(5.20281e13);
        let targets = sheet(sheets, "检查对象名录库");
        targets.rows[4][0] = Number(915202810847769500.0);
    });
    assert_names(
        &report,
        "pool.xlsx[执法检查人员名录库]:2: cert_no: is a number in Excel (52028",
    );
    assert_names(
        &report,
        "pool.xlsx[执法检查人员名录库]:3: cert_no: is a number in Excel (52028100000000); format the column as text",
    );
    assert_names(
        &report,
        "pool.xlsx[检查对象名录库]:5: credit_code: is a number in Excel (915202810847769000)",
    );
}

#[test]
fn a_bad_check_character_is_named() {
    let report = refused(|sheets| {
        let targets = sheet(sheets, "检查对象名录库");
        let code = text(&targets.rows[6][0]).to_owned();
        let wrong = if code.ends_with('0') { '1' } else { '0' };
        targets.rows[6][0] = Text(format!("{}{wrong}", &code[..17]));
    });
    assert_names(
        &report,
        "pool.xlsx[检查对象名录库]:7: credit_code: 统一社会信用代码 check character is",
    );
}

#[test]
fn a_duplicate_id_is_named() {
    let mut copy_row = 0;
    let report = refused(|sheets| {
        let items = sheet(sheets, "随机抽查事项清单");
        let copy = items.rows[2].clone();
        items.rows.push(copy);
        copy_row = items.rows.len(); // Excel numbers rows from 1, the header's too
    });
    assert_names(
        &report,
        &format!("pool.xlsx[随机抽查事项清单]:{copy_row}: 事项编号: duplicate id"),
    );
    assert_names(&report, "first on line 3");
}

#[test]
fn check_and_draw_take_a_workbook() {
    let root = tempfile::tempdir().unwrap();
    let folder = small_pool(root.path(), 34);
    let book = root.path().join("pools.xlsx");
    write_workbook(&folder, &book, Encoding::Detect).unwrap();
    let plan_path = root.path().join("plan.toml");
    std::fs::write(&plan_path, plan_toml(&load_pools(&folder), 2, "")).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_shuangsui"))
            .args(args)
            .output()
            .unwrap()
    };
    let s = |p: &PathBuf| p.to_str().unwrap().to_owned();

    let check = run(&["check", "--data", &s(&book), "--as-of", "2026-01-01"]);
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        out.contains("pools.xlsx[检查对象名录库]") && out.contains("is clean"),
        "{out}"
    );

    let seed = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let mut results = Vec::new();
    for data in [&folder, &book] {
        let out_dir = root.path().join(format!("bundles-{}", results.len()));
        let draw = run(&[
            "draw",
            "--plan",
            &s(&plan_path),
            "--seed",
            seed,
            "--data",
            &s(data),
            "--out",
            &s(&out_dir),
        ]);
        assert!(draw.status.success(), "{}", String::from_utf8_lossy(&draw.stderr));
        let bundle = PathBuf::from(String::from_utf8(draw.stdout).unwrap().trim());
        results.push(std::fs::read(bundle.join("assignments.csv")).unwrap());
        let verify = run(&["verify", &s(&bundle), "--data", &s(&book)]);
        assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    }
    assert_eq!(
        results[0], results[1],
        "the same assignments from the folder and the workbook"
    );
}

/// The templates in `data/templates/` are what `shuangsui templates` writes:
/// the workbook's example rows load cleanly, and each CSV template has the
/// header of its sheet.
#[test]
fn the_shipped_templates_are_current() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/templates");
    let root = tempfile::tempdir().unwrap();
    write_templates(root.path()).unwrap();
    for (kind, _) in CHINESE {
        let name = format!("{kind}.csv");
        let fresh = std::fs::read(root.path().join(&name)).unwrap();
        assert_eq!(
            std::fs::read(shipped.join(&name)).unwrap(),
            fresh,
            "{name}: run shuangsui templates"
        );
    }
    let fresh = load_xlsx(&root.path().join("pools-template.xlsx")).unwrap_or_else(|p| panic!("{p}"));
    let template = load_xlsx(&shipped.join("pools-template.xlsx")).unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(
        template.snapshot, fresh.snapshot,
        "pools-template.xlsx: run shuangsui templates"
    );
    assert_eq!(
        (template.items.len(), template.inspectors.len(), template.targets.len()),
        (1, 1, 1)
    );

    // The workbook's headers are the CSV templates' headers.
    use calamine::{open_workbook, Reader, Xlsx};
    let mut book: Xlsx<_> = open_workbook(shipped.join("pools-template.xlsx")).unwrap();
    for (kind, chinese) in CHINESE {
        let range = book.worksheet_range(chinese).unwrap();
        let header: Vec<String> = range.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
        let csv = std::fs::read_to_string(shipped.join(format!("{kind}.csv"))).unwrap();
        assert_eq!(
            csv.trim_start_matches('\u{FEFF}').trim_end(),
            header.join(","),
            "{kind}"
        );
    }
}
