//! The snapshot of a pool must not depend on how the target directory is cut
//! into pieces for parsing, nor on how many threads parse them: one bundle
//! has to verify on every machine. And a U+FEFF anywhere but at the start of
//! a file is refused, wherever it sits (spec §1).

use std::path::{Path, PathBuf};
use std::process::Command;

use proptest::prelude::*;
use shuangsui::ids::CreditCode;
use shuangsui::pools::{load, load_path, write_workbook, Encoding, LoadOptions, SnapshotHashes};

const TINY: &str = "tests/vectors/tiny/pool";
const COLUMNS: [&str; 6] = [
    "统一社会信用代码",
    "名称",
    "主体类型",
    "行业",
    "所属区域",
    "信用风险分类",
];
const BOM: &str = "\u{FEFF}";

/// A pool folder with the tiny vector's small files, no conflicts (they would
/// name targets of the tiny pool) and `targets` as its target directory.
fn pool_with_targets(root: &Path, targets: &[u8]) -> PathBuf {
    let dir = root.join("pool");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["departments.csv", "items.csv", "inspectors.csv"] {
        std::fs::copy(Path::new(TINY).join(name), dir.join(name)).unwrap();
    }
    std::fs::write(dir.join("conflicts.csv"), "执法证号,统一社会信用代码,回避关系\n").unwrap();
    std::fs::write(dir.join("targets.csv"), targets).unwrap();
    dir
}

/// The snapshot, or every problem as `file:line: …`, sorted.
fn outcome(dir: &Path, threads: usize, piece_bytes: Option<usize>) -> Result<SnapshotHashes, Vec<String>> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let options = LoadOptions {
        piece_bytes,
        ..LoadOptions::default()
    };
    pool.install(|| load(dir, options))
        .map(|p| p.snapshot)
        .map_err(|problems| {
            let mut all: Vec<String> = problems.kept.iter().map(|p| p.to_string()).collect();
            all.sort();
            all
        })
}

fn code(n: usize) -> String {
    let first17: [u8; 17] = format!("915202811{n:08}").into_bytes().try_into().unwrap();
    CreditCode::complete(&first17).unwrap().as_str().to_owned()
}

fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// One generated target: the texts of its six columns (in `COLUMNS` order)
/// and where a U+FEFF goes, if anywhere.
#[derive(Debug, Clone)]
struct Row {
    name: String,
    entity_type: &'static str,
    industry: &'static str,
    township: &'static str,
    risk: &'static str,
    /// Which column gets a U+FEFF in front of its text.
    bom_before: Option<usize>,
    quoted: bool,
}

fn row() -> impl Strategy<Value = Row> {
    (
        "[盘州市红果小吃店a-z ,\"\n]{1,12}",
        prop::sample::select(vec!["企业", "个体工商户"]),
        prop::sample::select(vec!["制造业", "住宿和餐饮业", "批发和零售业"]),
        prop::sample::select(vec!["红果街道", "翰林街道"]),
        prop::sample::select(vec!["A", "B", "c", "D"]),
        prop::option::weighted(0.3, 0..6usize),
        any::<bool>(),
    )
        .prop_map(
            |(name, entity_type, industry, township, risk, bom_before, quoted)| Row {
                name: name.trim().to_owned() + "店",
                entity_type,
                industry,
                township,
                risk,
                bom_before,
                quoted,
            },
        )
}

/// The bytes of a targets.csv with the columns in `order`, in GB18030 when
/// `gbk` (where U+FEFF is the four bytes 84 31 95 33).
fn targets_csv(rows: &[Row], order: &[usize], crlf: bool, file_bom: bool, gbk: bool) -> Vec<u8> {
    let end = if crlf { "\r\n" } else { "\n" };
    let mut text = String::new();
    if file_bom {
        text.push_str(BOM);
    }
    let header: Vec<&str> = order.iter().map(|&c| COLUMNS[c]).collect();
    text.push_str(&header.join(","));
    text.push_str(end);
    for (n, row) in rows.iter().enumerate() {
        let code = code(n);
        let values = [
            code.as_str(),
            &row.name,
            row.entity_type,
            row.industry,
            row.township,
            row.risk,
        ];
        let fields: Vec<String> = order
            .iter()
            .map(|&c| {
                let mut value = values[c].to_owned();
                if row.bom_before == Some(c) {
                    value.insert_str(0, BOM);
                }
                if row.quoted {
                    format!("\"{}\"", value.replace('"', "\"\""))
                } else {
                    field(&value)
                }
            })
            .collect();
        text.push_str(&fields.join(","));
        text.push_str(end);
    }
    if gbk {
        encoding_rs::GB18030.encode(&text).0.into_owned()
    } else {
        text.into_bytes()
    }
}

/// The targets snapshot tools/verify.py finds, or `None` when it refuses the
/// folder; `Some(None)` would mean Python is not installed.
fn python_snapshot(dir: &Path) -> Option<Option<String>> {
    let script = "import sys; sys.path.insert(0, sys.argv[1]); import verify as v\n\
                  try:\n    print(v.load_pool(sys.argv[2]).snapshot['targets'])\n\
                  except v.InputError as e:\n    print('refused', e)";
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools");
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(tools)
        .arg(dir)
        .output()
        .ok()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    Some((!text.starts_with("refused")).then(|| text.trim().to_owned()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the file holds, one thread with the usual pieces, several
    /// threads with a piece per record, and pieces of any size in between
    /// find the same snapshot, or the same problems.
    #[test]
    fn the_snapshot_is_the_same_however_the_file_is_cut(
        rows in prop::collection::vec(row(), 1..24),
        order in Just((0..6usize).collect::<Vec<_>>()).prop_shuffle(),
        crlf in any::<bool>(),
        file_bom in any::<bool>(),
        gbk in any::<bool>(),
        piece in 1..400usize,
    ) {
        let root = tempfile::tempdir().unwrap();
        let dir = pool_with_targets(root.path(), &targets_csv(&rows, &order, crlf, file_bom, gbk));
        let usual = outcome(&dir, 1, None);
        prop_assert_eq!(&usual, &outcome(&dir, 4, Some(1)), "a piece per record, 4 threads");
        prop_assert_eq!(&usual, &outcome(&dir, 2, Some(piece)), "pieces of {} bytes, 2 threads", piece);
        // Any U+FEFF after the first character is refused.
        let stray = rows.iter().any(|r| r.bom_before.is_some());
        prop_assert_eq!(usual.is_err(), stray, "{:?}", usual);
    }
}

proptest! {
    // A Python process per case: fewer cases.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The independent verifier accepts and refuses the same files, and
    /// finds the same snapshot.
    #[test]
    fn tools_verify_py_reads_the_same_files_the_same_way(
        rows in prop::collection::vec(row(), 1..12),
        order in Just((0..6usize).collect::<Vec<_>>()).prop_shuffle(),
        crlf in any::<bool>(),
        file_bom in any::<bool>(),
        gbk in any::<bool>(),
    ) {
        let root = tempfile::tempdir().unwrap();
        let dir = pool_with_targets(root.path(), &targets_csv(&rows, &order, crlf, file_bom, gbk));
        let Some(python) = python_snapshot(&dir) else { return Ok(()) };
        let rust = outcome(&dir, 2, Some(1)).ok().map(|s| s.targets.to_hex());
        prop_assert_eq!(rust, python);
    }
}

#[test]
fn a_record_starting_with_u_feff_is_refused_with_its_line() {
    let root = tempfile::tempdir().unwrap();
    // What concatenating two exports with a BOM each gives: the second
    // file's BOM lands at the start of a record.
    let first = format!(
        "{BOM}{}\n{},盘州市红果小吃店,个体工商户,住宿和餐饮业,红果街道,A\n",
        COLUMNS.join(","),
        code(1)
    );
    let second = format!("{BOM}{},盘州市翰林副食店,个体工商户,批发和零售业,翰林街道,B\n", code(2));
    let dir = pool_with_targets(root.path(), format!("{first}{second}").as_bytes());
    for (threads, piece) in [(1, None), (2, Some(1))] {
        let problems = outcome(&dir, threads, piece).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("targets.csv:3:") && problems[0].contains("U+FEFF"),
            "{problems:?}"
        );
    }
    // The file's own BOM is fine.
    let dir = pool_with_targets(&root.path().join("ok"), first.as_bytes());
    assert!(outcome(&dir, 1, Some(1)).is_ok());
}

#[test]
fn a_u_feff_in_a_small_file_is_refused_too() {
    let root = tempfile::tempdir().unwrap();
    let targets = std::fs::read(Path::new(TINY).join("targets.csv")).unwrap();
    let dir = pool_with_targets(root.path(), &targets);
    let departments = std::fs::read_to_string(dir.join("departments.csv")).unwrap();
    // Line 2 begins the body the CSV reader is given: exactly where a
    // reader that drops a leading BOM would drop this one.
    let mut lines: Vec<String> = departments.lines().map(str::to_owned).collect();
    lines[1].insert_str(0, BOM);
    std::fs::write(dir.join("departments.csv"), lines.join("\n") + "\n").unwrap();
    let problems = outcome(&dir, 1, None).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("departments.csv:2:") && p.contains("U+FEFF")),
        "{problems:?}"
    );
}

#[test]
fn a_gb18030_file_may_begin_with_u_feff_but_not_hold_one_later() {
    let root = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(Path::new(TINY).join("targets.csv")).unwrap();
    let gbk = |text: &str| encoding_rs::GB18030.encode(text).0.into_owned();
    let dir = pool_with_targets(root.path(), &gbk(&text));
    let plain = outcome(&dir, 1, None).unwrap();
    std::fs::write(dir.join("targets.csv"), gbk(&format!("{BOM}{text}"))).unwrap();
    // The other files are UTF-8: the encoding is detected file by file.
    let options = LoadOptions::default();
    assert_eq!(load(&dir, options).unwrap().snapshot, plain);
    let mut lines: Vec<&str> = text.lines().collect();
    let fourth = format!("{BOM}{}", lines[3]);
    lines[3] = &fourth;
    std::fs::write(dir.join("targets.csv"), gbk(&(lines.join("\n") + "\n"))).unwrap();
    let problems = load(&dir, options).unwrap_err().to_string();
    assert!(
        problems.contains("targets.csv:4:") && problems.contains("U+FEFF"),
        "{problems}"
    );
}

/// The tiny pool as a workbook of text cells, one sheet per file named by
/// its kind, with `edit` applied to each cell text.
fn text_workbook(path: &Path, edit: impl Fn(&str) -> String) {
    let mut book = rust_xlsxwriter::Workbook::new();
    for (kind, file) in shuangsui::pools::FILES {
        let sheet = book.add_worksheet().set_name(kind).unwrap();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(Path::new(TINY).join(file))
            .unwrap();
        for (r, record) in reader.records().enumerate() {
            for (c, cell) in record.unwrap().iter().enumerate() {
                sheet.write_string(r as u32, c as u16, edit(cell)).unwrap();
            }
        }
    }
    book.save(path).unwrap();
}

#[test]
fn a_workbook_cell_holding_u_feff_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let clean = root.path().join("clean.xlsx");
    text_workbook(&clean, str::to_owned);
    assert!(load_path(&clean, LoadOptions::default()).is_ok());
    let book = root.path().join("pools.xlsx");
    text_workbook(&book, |cell| match cell {
        "盘州市翰林副食店" => format!("{BOM}{cell}"),
        _ => cell.to_owned(),
    });
    let problems = load_path(&book, LoadOptions::default()).unwrap_err().to_string();
    assert!(problems.contains("U+FEFF") && problems.contains(":3"), "{problems}");

    // A folder whose header begins with a second BOM is not turned into a
    // workbook that loads, nor is one with a U+FEFF further on.
    let text = std::fs::read_to_string(Path::new(TINY).join("targets.csv")).unwrap();
    let dir = pool_with_targets(&root.path().join("twice"), format!("{BOM}{BOM}{text}").as_bytes());
    let err = write_workbook(&dir, &root.path().join("twice.xlsx"), Encoding::Detect).unwrap_err();
    assert!(
        err.to_string().contains("line 1") && err.to_string().contains("U+FEFF"),
        "{err}"
    );
    let edited = text.replacen("盘州市翰林副食店", "\u{FEFF}盘州市翰林副食店", 1);
    let dir = pool_with_targets(&root.path().join("inside"), edited.as_bytes());
    let err = write_workbook(&dir, &root.path().join("inside.xlsx"), Encoding::Detect).unwrap_err();
    assert!(err.to_string().contains("line 3"), "{err}");
}

#[test]
fn check_names_the_file_and_line() {
    let root = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(Path::new(TINY).join("targets.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[4].insert_str(0, BOM);
    let dir = pool_with_targets(root.path(), (lines.join("\n") + "\n").as_bytes());
    let out = Command::new(env!("CARGO_BIN_EXE_shuangsui"))
        .args(["check", "--data"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("targets.csv:5:") && stdout.contains("U+FEFF"),
        "{stdout}"
    );
}
