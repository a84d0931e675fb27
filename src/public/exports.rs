//! Downloads of a published draw: the current list (the teams as they stand
//! after any substitutions, beside the teams as drawn) as CSV and as an Excel
//! workbook, and the public copy of the audit bundle as a zip.
//!
//! All are made from the `public/` copy only. The zip takes the five files of
//! the public bundle by name, so nothing else that lands in a bundle folder
//! (the confidential copy, a stray file) can be packed; and it is
//! byte-for-byte deterministic, so the same bundle always downloads the same
//! bytes and its hash can be quoted.

use std::fs;
use std::io::{Cursor, Write};

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatAlign, Workbook, XlsxError};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use super::current::{CurrentList, CurrentRow};
use super::publications::{PublishedDraw, PUBLIC_HEADER};
use crate::bundle::{DEPARTMENTS_HEADER, MERGED_HEADER};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a regular file; refusing to pack it")]
    NotAFile { path: String },
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("xlsx: {0}")]
    Xlsx(#[from] XlsxError),
}

/// The files of a public bundle (`docs/ALGORITHM.md` §8), in the order they
/// are packed: the manifest first, as the entry point.
pub const PUBLIC_FILES: [&str; 5] = [
    "manifest.json",
    "plan.json",
    "history.csv",
    "assignments.csv",
    "README.txt",
];

/// Files added to the public copy after the draw, zipped when present.
pub const LATER_PUBLIC_FILES: [&str; 2] = ["substitutions.json", "results.csv"];

/// The column of the current list that keeps the team as drawn.
pub const DRAWN_TEAM_HEADER: &str = "抽取时检查组";
/// The column of the current list naming the substitutions made on a visit.
pub const SUBSTITUTIONS_HEADER: &str = "人员调整";

/// How a column of the list is written to Excel.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cell {
    Number,
    /// Codes and certificate numbers: Excel must keep every digit.
    Code,
    Plain,
}

/// The columns of the current list for a draw: the public header of its
/// `assignments.csv` (with the columns a joint plan, spec §13, or a merging
/// one, §14, adds), then the drawn team and the substitutions. 组长 and
/// 检查人员 are the current team's.
fn list_columns(draw: &PublishedDraw) -> Vec<(&'static str, Cell, f64)> {
    let plan = &draw.manifest.plan.content;
    // Widths in Excel character units: Chinese text is about two a character.
    let mut columns = vec![
        (PUBLIC_HEADER[0], Cell::Number, 7.0),
        (PUBLIC_HEADER[1], Cell::Code, 22.0),
        (PUBLIC_HEADER[2], Cell::Plain, 40.0),
        (PUBLIC_HEADER[3], Cell::Code, 16.0),
        (PUBLIC_HEADER[4], Cell::Plain, 48.0),
        (PUBLIC_HEADER[5], Cell::Code, 17.0),
        (PUBLIC_HEADER[6], Cell::Code, 34.0),
    ];
    if plan.joint().is_some() {
        columns.push((DEPARTMENTS_HEADER, Cell::Plain, 24.0));
    }
    if plan.merge_with().is_some() {
        columns.push((MERGED_HEADER, Cell::Code, 24.0));
    }
    columns.push((DRAWN_TEAM_HEADER, Cell::Code, 34.0));
    columns.push((SUBSTITUTIONS_HEADER, Cell::Plain, 34.0));
    columns
}

/// The cells of one row of the current list, in the order of [`list_columns`].
fn list_cells(draw: &PublishedDraw, row: &CurrentRow) -> Vec<String> {
    let plan = &draw.manifest.plan.content;
    let drawn = &row.drawn;
    let mut cells = vec![
        drawn.number.to_string(),
        drawn.credit_code.clone(),
        drawn.name.clone(),
        drawn.items.join(";"),
        drawn.item_names.join("；"),
        row.leader().to_owned(),
        row.team.join(";"),
    ];
    if plan.joint().is_some() {
        cells.push(drawn.departments.join(";"));
    }
    if plan.merge_with().is_some() {
        cells.push(drawn.merged_with.clone().unwrap_or_default());
    }
    cells.push(drawn.team.join(";"));
    let changes: Vec<String> = row
        .changes
        .iter()
        .map(|c| format!("#{} {}→{}", c.seq, c.out, c.incoming))
        .collect();
    cells.push(changes.join("；"));
    cells
}

/// The current list of a draw as CSV, UTF-8 with BOM and CRLF like the
/// bundle's `assignments.csv`: its columns, with 组长 and 检查人员 as they
/// stand after any substitutions, then the team as drawn
/// ([`DRAWN_TEAM_HEADER`]) and the substitutions made ([`SUBSTITUTIONS_HEADER`]).
/// This is a view of the draw, not the draw: the hashed record is the
/// bundle's own `assignments.csv`.
pub fn current_csv(draw: &PublishedDraw, list: &CurrentList) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(240 * (list.len() + 1));
    bytes.extend_from_slice("\u{feff}".as_bytes());
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(bytes);
    let header: Vec<&str> = list_columns(draw).into_iter().map(|(name, _, _)| name).collect();
    writer.write_record(&header).expect("in-memory write");
    for row in &list.rows {
        writer.write_record(list_cells(draw, row)).expect("in-memory write");
    }
    writer.into_inner().expect("in-memory write")
}

/// The current list of a draw as an `.xlsx` workbook: a title row naming the
/// plan, then the columns of [`current_csv`] (header frozen) and one row per
/// business, the team cells of a visit with a substitution shaded. Codes and
/// certificate numbers are written as text, never numbers, so Excel keeps
/// every digit and any leading zero.
pub fn assignments_xlsx(draw: &PublishedDraw, list: &CurrentList) -> Result<Vec<u8>, ExportError> {
    let m = &draw.manifest;
    let mut workbook = Workbook::new();
    // The creation time is the draw's, so the same list gives the same file.
    let mut properties = DocProperties::new()
        .set_title(format!("{} {}", m.plan.id, m.plan.name))
        .set_author(m.plan.content.department());
    if let Some(at) = chrono::DateTime::parse_from_rfc3339(&m.created_at)
        .ok()
        .and_then(|at| ExcelDateTime::from_timestamp(at.timestamp()).ok())
    {
        properties = properties.set_creation_datetime(&at);
    }
    workbook.set_properties(&properties);

    let title = Format::new().set_bold().set_font_size(13);
    let header = Format::new()
        .set_bold()
        .set_background_color("#EEEEEE")
        .set_align(FormatAlign::Center)
        .set_border(rust_xlsxwriter::FormatBorder::Thin);
    // "@" is Excel's Text number format: a code typed over later stays text.
    let text = Format::new().set_num_format("@");
    let changed = Format::new().set_num_format("@").set_background_color("#FFF4E0");

    let sheet = workbook.add_worksheet();
    sheet.set_name("抽查名单")?;
    let substituted = list.rows.iter().filter(|r| r.is_substituted()).count();
    sheet.write_string_with_format(
        0,
        0,
        format!(
            "{} {}（检查日期 {}，结果哈希 {}；当前名单，{} 户有人员调整）",
            m.plan.id,
            m.plan.name,
            m.plan.content.inspection_date(),
            m.result_sha256,
            substituted
        ),
        &title,
    )?;
    let columns = list_columns(draw);
    for (col, (name, _, width)) in columns.iter().enumerate() {
        let col = col as u16;
        sheet.write_string_with_format(1, col, *name, &header)?;
        sheet.set_column_width(col, *width)?;
    }
    sheet.set_freeze_panes(2, 0)?;

    for (k, row) in list.rows.iter().enumerate() {
        let r = k as u32 + 2;
        for (col, (cell, (name, kind, _))) in list_cells(draw, row).into_iter().zip(&columns).enumerate() {
            let col = col as u16;
            let team_cell = *name == PUBLIC_HEADER[5] || *name == PUBLIC_HEADER[6];
            match kind {
                Cell::Number => {
                    sheet.write_number(r, col, row.drawn.number)?;
                }
                Cell::Code if team_cell && row.is_substituted() => {
                    sheet.write_string_with_format(r, col, cell, &changed)?;
                }
                Cell::Code => {
                    sheet.write_string_with_format(r, col, cell, &text)?;
                }
                Cell::Plain => {
                    sheet.write_string(r, col, cell)?;
                }
            }
        }
    }
    Ok(workbook.save_to_buffer()?)
}

/// The published results (检查结果公告) as an `.xlsx` workbook, codes as text.
pub fn results_xlsx(results: &[super::pages::ResultView]) -> Result<Vec<u8>, ExportError> {
    let mut workbook = Workbook::new();
    let header = Format::new()
        .set_bold()
        .set_background_color("#EEEEEE")
        .set_border(rust_xlsxwriter::FormatBorder::Thin);
    let text = Format::new().set_num_format("@");
    let sheet = workbook.add_worksheet();
    sheet.set_name("检查结果公告")?;
    let columns = [
        ("名称", 40.0),
        ("统一社会信用代码", 22.0),
        ("检查机关", 26.0),
        ("完成日期", 12.0),
        ("检查结果", 40.0),
        ("抽查任务", 26.0),
    ];
    for (col, (name, width)) in columns.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *name, &header)?;
        sheet.set_column_width(col as u16, *width)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    for (k, r) in results.iter().enumerate() {
        let row = k as u32 + 1;
        let outcome: Vec<String> = r
            .results
            .iter()
            .map(|(code, label)| format!("{code} {label}"))
            .collect();
        sheet.write_string(row, 0, &r.name)?;
        sheet.write_string_with_format(row, 1, &r.credit_code, &text)?;
        sheet.write_string(row, 2, &r.authority)?;
        sheet.write_string_with_format(row, 3, &r.completed, &text)?;
        sheet.write_string(row, 4, outcome.join("；"))?;
        sheet.write_string_with_format(row, 5, &r.task_id, &text)?;
    }
    Ok(workbook.save_to_buffer()?)
}

/// The public copy of the bundle as a zip: the files of `public/`, under a
/// top folder named after the bundle (so unzipping gives a folder that
/// `shuangsui verify` takes as is), in a fixed order, with a fixed time and
/// mode. Only regular files are packed; a symbolic link is refused.
pub fn bundle_zip(draw: &PublishedDraw) -> Result<Vec<u8>, ExportError> {
    let public = draw.public_dir();
    // The draw's own time, not the file times, so the zip is the same bytes on
    // every server; the 1980 epoch of zip if it cannot be read.
    let time = chrono::DateTime::parse_from_rfc3339(&draw.manifest.created_at)
        .ok()
        .and_then(|at| {
            use chrono::{Datelike, Timelike};
            DateTime::from_date_and_time(
                u16::try_from(at.year()).ok()?,
                at.month() as u8,
                at.day() as u8,
                at.hour() as u8,
                at.minute() as u8,
                at.second() as u8,
            )
            .ok()
        })
        .unwrap_or_default();
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(6))
        .last_modified_time(time)
        .unix_permissions(0o644);

    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let later = LATER_PUBLIC_FILES.into_iter().filter(|name| public.join(name).exists());
    for name in PUBLIC_FILES.into_iter().chain(later) {
        let path = public.join(name);
        let shown = || path.display().to_string();
        let meta = fs::symlink_metadata(&path).map_err(|source| ExportError::Io { path: shown(), source })?;
        if !meta.is_file() {
            return Err(ExportError::NotAFile { path: shown() });
        }
        let bytes = fs::read(&path).map_err(|source| ExportError::Io { path: shown(), source })?;
        zip.start_file(format!("{}/{name}", draw.name), options)?;
        zip.write_all(&bytes)
            .map_err(|source| ExportError::Io { path: shown(), source })?;
    }
    Ok(zip.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public::publications::PublicRow;
    use crate::public::test_support::draw_named;
    use std::io::Read;

    fn write_public(dir: &std::path::Path, extra: &[(&str, &str)]) {
        let public = dir.join("public");
        fs::create_dir_all(&public).unwrap();
        for name in PUBLIC_FILES {
            fs::write(public.join(name), format!("{name} contents\n")).unwrap();
        }
        for (name, text) in extra {
            fs::write(dir.join(name), text).unwrap();
        }
    }

    #[test]
    fn zip_is_deterministic_and_public_only() {
        let root = tempfile::tempdir().unwrap();
        let mut draw = draw_named("D_000000000001", "2026-03-01T10:00:00+08:00");
        draw.dir = root.path().join("D_000000000001");
        write_public(
            &draw.dir,
            &[("assignments.csv", "confidential"), ("manifest.json", "{}")],
        );
        fs::write(draw.dir.join("public/stray.txt"), "not a bundle file").unwrap();
        let first = bundle_zip(&draw).unwrap();
        // Rewrite the files: their times must not reach the zip.
        write_public(&draw.dir, &[]);
        assert_eq!(first, bundle_zip(&draw).unwrap());

        let mut archive = zip::ZipArchive::new(Cursor::new(first)).unwrap();
        let names: Vec<String> = archive.file_names().map(str::to_owned).collect();
        let expected: Vec<String> = PUBLIC_FILES.iter().map(|n| format!("D_000000000001/{n}")).collect();
        assert_eq!(names, expected);
        let mut text = String::new();
        archive
            .by_name("D_000000000001/assignments.csv")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "assignments.csv contents\n");
    }

    #[cfg(unix)]
    #[test]
    fn zip_refuses_a_symlink() {
        let root = tempfile::tempdir().unwrap();
        let mut draw = draw_named("D_000000000001", "2026-03-01T10:00:00+08:00");
        draw.dir = root.path().join("D_000000000001");
        write_public(&draw.dir, &[("assignments.csv", "confidential")]);
        fs::remove_file(draw.dir.join("public/assignments.csv")).unwrap();
        std::os::unix::fs::symlink(
            draw.dir.join("assignments.csv"),
            draw.dir.join("public/assignments.csv"),
        )
        .unwrap();
        assert!(matches!(bundle_zip(&draw), Err(ExportError::NotAFile { .. })));
    }

    #[test]
    fn xlsx_is_a_zip_with_text_codes() {
        let draw = draw_named("D_000000000001", "2026-03-01T10:00:00+08:00");
        let rows = vec![PublicRow {
            number: 1,
            credit_code: "000000000000000001".into(),
            name: "企业".into(),
            items: vec!["I-1".into()],
            item_names: vec!["事项".into()],
            leader: "0123".into(),
            team: vec!["0123".into(), "0456".into()],
            departments: Vec::new(),
            merged_with: None,
        }];
        let list = CurrentList::new(rows, None).unwrap();
        let bytes = assignments_xlsx(&draw, &list).unwrap();
        assert_eq!(&bytes[..2], b"PK");
        assert_eq!(bytes, assignments_xlsx(&draw, &list).unwrap(), "deterministic");
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut shared = String::new();
        archive
            .by_name("xl/sharedStrings.xml")
            .unwrap()
            .read_to_string(&mut shared)
            .unwrap();
        for text in ["000000000000000001", "0123", "0123;0456", "统一社会信用代码"] {
            assert!(shared.contains(&format!(">{text}<")), "{text} is a shared string");
        }
        assert!(!shared.contains("检查部门"), "a plain plan has no department column");
    }

    #[test]
    fn a_joint_merging_list_keeps_its_extra_columns() {
        let mut draw = draw_named("D_000000000002", "2026-03-01T10:00:00+08:00");
        let mut plan = draw.manifest.plan.content.clone().into_parts();
        plan.joint = Some(crate::plan::Joint {
            participants: vec!["卫生局".into()],
        });
        plan.merge_with = Some(vec!["EARLIER-1".into()]);
        draw.manifest.plan.content = crate::plan::Plan::new(plan).unwrap();
        let rows = vec![PublicRow {
            number: 1,
            credit_code: "000000000000000001".into(),
            name: "企业".into(),
            items: vec!["I-1".into()],
            item_names: vec!["事项".into()],
            leader: "0123".into(),
            team: vec!["0123".into(), "0456".into(), "0789".into(), "0790".into()],
            departments: vec!["测试局".into(), "卫生局".into()],
            merged_with: Some("EARLIER-1".into()),
        }];
        let list = CurrentList::new(rows, None).unwrap();
        let bytes = assignments_xlsx(&draw, &list).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut shared = String::new();
        archive
            .by_name("xl/sharedStrings.xml")
            .unwrap()
            .read_to_string(&mut shared)
            .unwrap();
        for text in ["检查部门", "合并至", "测试局;卫生局", "EARLIER-1"] {
            assert!(shared.contains(&format!(">{text}<")), "{text} is in the workbook");
        }
        let csv = String::from_utf8(current_csv(&draw, &list)).unwrap();
        assert!(csv.starts_with(
            "\u{feff}序号,统一社会信用代码,名称,抽查事项,抽查事项名称,组长,检查人员,检查部门,合并至,抽取时检查组,人员调整\r\n"
        ));
        assert!(
            csv.ends_with(",测试局;卫生局,EARLIER-1,0123;0456;0789;0790,\r\n"),
            "{csv}"
        );
    }
}
