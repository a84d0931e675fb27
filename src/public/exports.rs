//! Downloads of a published draw: the list as an Excel workbook, and the
//! public copy of the audit bundle as a zip.
//!
//! Both are made from the `public/` copy only. The zip takes the five files of
//! the public bundle by name, so nothing else that lands in a bundle folder
//! (the confidential copy, a stray file) can be packed; and it is
//! byte-for-byte deterministic, so the same bundle always downloads the same
//! bytes and its hash can be quoted.

use std::fs;
use std::io::{Cursor, Write};

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatAlign, Workbook, XlsxError};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use super::publications::{PublicRow, PublishedDraw, PUBLIC_HEADER};

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

/// Column widths (in Excel character units) for the columns of
/// [`PUBLIC_HEADER`]: Chinese text is about two units a character.
const WIDTHS: [f64; 7] = [7.0, 22.0, 40.0, 16.0, 48.0, 17.0, 34.0];

/// The list of a draw as an `.xlsx` workbook: a title row naming the plan,
/// then the public header (frozen) and one row per business. Codes and
/// certificate numbers are written as text, never numbers, so Excel keeps
/// every digit and any leading zero.
pub fn assignments_xlsx(draw: &PublishedDraw, rows: &[PublicRow]) -> Result<Vec<u8>, ExportError> {
    let m = &draw.manifest;
    let mut workbook = Workbook::new();
    // The creation time is the draw's, so the same draw gives the same file.
    let mut properties = DocProperties::new()
        .set_title(format!("{} {}", m.plan.id, m.plan.name))
        .set_author(m.plan.content.department.clone());
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

    let sheet = workbook.add_worksheet();
    sheet.set_name("抽查名单")?;
    sheet.write_string_with_format(
        0,
        0,
        format!(
            "{} {}（检查日期 {}，结果哈希 {}）",
            m.plan.id, m.plan.name, m.plan.content.inspection_date, m.result_sha256
        ),
        &title,
    )?;
    for (col, (name, width)) in PUBLIC_HEADER.iter().zip(WIDTHS).enumerate() {
        let col = col as u16;
        sheet.write_string_with_format(1, col, *name, &header)?;
        sheet.set_column_width(col, width)?;
    }
    // The columns a joint (spec §13) or merging (§14) plan adds, as in its
    // assignments.csv.
    let joint = m.plan.content.joint.is_some();
    let merging = m.plan.content.merge_with.is_some();
    let mut extra = PUBLIC_HEADER.len() as u16;
    let departments_col = joint.then(|| {
        extra += 1;
        extra - 1
    });
    let merged_col = merging.then(|| {
        extra += 1;
        extra - 1
    });
    for (col, name) in [(departments_col, "检查部门"), (merged_col, "合并至")] {
        if let Some(col) = col {
            sheet.write_string_with_format(1, col, name, &header)?;
            sheet.set_column_width(col, 24)?;
        }
    }
    sheet.set_freeze_panes(2, 0)?;

    for (k, row) in rows.iter().enumerate() {
        let r = k as u32 + 2;
        sheet.write_number(r, 0, row.number)?;
        sheet.write_string_with_format(r, 1, &row.credit_code, &text)?;
        sheet.write_string(r, 2, &row.name)?;
        sheet.write_string_with_format(r, 3, row.items.join(";"), &text)?;
        sheet.write_string(r, 4, row.item_names.join("；"))?;
        sheet.write_string_with_format(r, 5, &row.leader, &text)?;
        sheet.write_string_with_format(r, 6, row.team.join(";"), &text)?;
        if let Some(col) = departments_col {
            sheet.write_string(r, col, row.departments.join(";"))?;
        }
        if let Some(col) = merged_col {
            sheet.write_string_with_format(r, col, row.merged_with.as_deref().unwrap_or(""), &text)?;
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
        let bytes = assignments_xlsx(&draw, &rows).unwrap();
        assert_eq!(&bytes[..2], b"PK");
        assert_eq!(bytes, assignments_xlsx(&draw, &rows).unwrap(), "deterministic");
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
        let plan = &mut draw.manifest.plan.content;
        plan.joint = Some(crate::plan::Joint {
            participants: vec!["卫生局".into()],
        });
        plan.merge_with = Some(vec!["EARLIER-1".into()]);
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
        let bytes = assignments_xlsx(&draw, &rows).unwrap();
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
    }
}
