//! Loading a pool from its files' bytes: parse each file, check every field,
//! cross-check the files against each other, then sort and hash. Nothing is
//! returned unless everything is clean, so a bad file can never leave a
//! half-loaded pool.
//!
//! Where the bytes come from is the caller's: a [`CsvSource`] hands over the
//! five files of a folder (the root crate opens them on disk, a test holds
//! them in memory), and a [`Rows`] the rows of the small files (CSV text or
//! worksheet rows).

use std::io::Read;

use super::rows::{
    parse_conflict, parse_inspector, parse_item, CONFLICT_COLUMNS, DEPARTMENT_COLUMNS, INSPECTOR_COLUMNS, ITEM_COLUMNS,
};
use super::table::{decode, Column, Encoding, Header, Problem, Problems, Row, Table};
use super::targets::{self, Loading, TargetDirectory};
use super::{Conflict, Inspector, Item, PoolRecords, Pools, SnapshotHashes, Sources, Target};
use crate::ids::CreditCode;
use crate::snapshot::{list_hash, record_hash, Hash32};

/// How a pool folder's files are read.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    pub encoding: Encoding,
    /// The size in bytes at which the target directory is cut into pieces
    /// for parsing; `None` picks it from the file size and the cores. Only
    /// tests set it: the snapshot must not depend on where the cuts fall.
    #[doc(hidden)]
    pub piece_bytes: Option<usize>,
}

/// The five files of a pool folder, as bytes.
pub trait CsvSource: Sync {
    /// The target directory's reader (streamed: it may be gigabytes).
    type Stream: Read + Send;

    /// Opens `name` (one of [`super::FILES`]) for streaming, with its length
    /// in bytes.
    fn open(&self, name: &str) -> std::io::Result<(Self::Stream, usize)>;

    /// The whole of the small file `name`.
    fn read(&self, name: &str) -> std::io::Result<Vec<u8>>;

    /// Where `name` is, as problems name it: "cannot read WHERE: error".
    fn locate(&self, name: &str) -> String;
}

/// Loads and validates the pool folder whose files `source` gives. On any
/// problem, returns all of them (up to [`Problems::CAP`]) and no pools.
pub fn load_csv(source: &impl CsvSource, options: LoadOptions) -> Result<Pools, Problems> {
    check_csv(source, options).map(Checked::hash)
}

/// [`load_csv`] up to the hash of the target directory, which is left to
/// [`Checked::hash_while`].
pub fn check_csv(source: &impl CsvSource, options: LoadOptions) -> Result<Checked, Problems> {
    load_csv_files(source, options, true)
}

/// Loads a pool folder that holds no `conflicts.csv`, the confidential
/// recusal list, as one given to the public for partial verification
/// (`docs/VERIFY.md`): the pools have no conflicts, and their conflicts
/// snapshot is that of an empty list, not of the list the draw used.
pub fn load_csv_without_conflicts(source: &impl CsvSource, options: LoadOptions) -> Result<Pools, Problems> {
    load_csv_files(source, options, false).map(Checked::hash)
}

fn load_csv_files(source: &impl CsvSource, options: LoadOptions, conflicts: bool) -> Result<Checked, Problems> {
    // The target directory is nearly all of the work; it spreads itself over
    // the cores while the four small files are read beside it.
    let mut problems = Problems::default();
    let sources = Sources::csv();
    let (directory, small) = rayon::join(
        || {
            let mut loading = Loading::default();
            let cannot = |error: std::io::Error| Problem {
                file: targets::FILE.into(),
                line: 0,
                field: None,
                message: format!("cannot read {}: {error}", source.locate(targets::FILE)),
            };
            let read = source
                .open(targets::FILE)
                .and_then(|(reader, size)| loading.read_csv(reader, size, options, &mut problems));
            if let Err(error) = read {
                problems.push(cannot(error));
            }
            targets::finish(loading, targets::FILE, &mut problems)
        },
        || {
            let mut folder = CsvFolder {
                source,
                encoding: options.encoding,
                conflicts,
            };
            load_small(&mut folder, &sources)
        },
    );
    finish(small, directory, sources, problems)
}

/// A pool loaded and checked whose target directory is not yet hashed.
/// Nationally that hash is a second of both cores, and a draw reads only the
/// records: [`Checked::hash_while`] makes the draw beside it.
pub struct Checked {
    records: PoolRecords,
    /// The snapshot hashes of the four small files.
    small: [Hash32; 4],
}

impl Checked {
    /// The pools, hashed.
    pub fn hash(self) -> Pools {
        self.hash_while(|_| ()).0
    }

    /// The pools, hashed while `work` runs on their records; and what
    /// `work` returned.
    pub fn hash_while<R: Send>(self, work: impl FnOnce(&PoolRecords) -> R + Send) -> (Pools, R) {
        let (targets, result) = rayon::join(|| targets::directory_hash(&self.records), || work(&self.records));
        let [departments, items, inspectors, conflicts] = self.small;
        let snapshot = SnapshotHashes {
            departments,
            items,
            inspectors,
            targets,
            conflicts,
        };
        let pools = Pools {
            records: self.records,
            snapshot,
        };
        (pools, result)
    }
}

/// Cross-checks the loaded inputs and, when nothing at all is wrong, makes
/// the checked pool. `problems` holds what was found while reading.
pub fn finish(
    small: SmallFiles,
    directory: TargetDirectory,
    sources: Sources,
    mut problems: Problems,
) -> Result<Checked, Problems> {
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
    let small = [departments.hash, items.hash, inspectors.hash, conflicts.hash];
    let records = PoolRecords {
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
    };
    Ok(Checked { records, small })
}

/// Records of one small file, sorted by id, with their lines; and its hash.
struct Sorted<T> {
    records: Vec<(u64, T)>,
    hash: Hash32,
}

/// The four small inputs, each sorted and hashed, and the problems found in them.
pub struct SmallFiles {
    departments: Sorted<String>,
    items: Sorted<Item>,
    inspectors: Sorted<Inspector>,
    conflicts: Sorted<Conflict>,
    problems: Problems,
}

/// Where the rows of the four small inputs come from: CSV files in a folder
/// or worksheets of a workbook. Either way each row reaches the same parsing.
pub trait Rows {
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
struct CsvFolder<'a, S> {
    source: &'a S,
    encoding: Encoding,
    /// Whether `conflicts.csv` is read (or, when `false`, taken as empty).
    conflicts: bool,
}

impl<S: CsvSource> Rows for CsvFolder<'_, S> {
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
        let Some(text) = self.read_text(&name, problems) else {
            return;
        };
        let Some((header, header_len)) = Header::read(&name, &text, columns, problems) else {
            return;
        };
        let table = Table::new(&header, &text.as_bytes()[header_len..], 2);
        table.rows(problems, |row, problems| each(&row, &header, problems));
    }
}

impl<S: CsvSource> CsvFolder<'_, S> {
    /// Reads and decodes a file, reporting a failure as a problem of that file.
    fn read_text(&self, name: &str, problems: &mut Problems) -> Option<String> {
        let problem = |message| Problem {
            file: name.into(),
            line: 0,
            field: None,
            message,
        };
        let bytes = match self.source.read(name) {
            Ok(bytes) => bytes,
            Err(e) => {
                problems.push(problem(format!("cannot read {}: {e}", self.source.locate(name))));
                return None;
            }
        };
        match decode(&bytes, self.encoding) {
            Ok(text) => Some(text.into_owned()),
            Err(error) => {
                problems.push(problem(error.to_string()));
                None
            }
        }
    }
}

/// Reads the four small inputs from `source`, each sorted and hashed.
pub fn load_small(source: &mut impl Rows, sources: &Sources) -> SmallFiles {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool folder held in memory: what the split from the file system
    /// makes possible.
    struct Memory<'a> {
        files: Vec<(&'a str, &'a [u8])>,
        /// Where the target directory's reader fails, if it does.
        fail_after: Option<usize>,
    }

    /// A reader that gives its bytes and then ends, or fails.
    struct Failing<'a>(&'a [u8], bool);

    impl Read for Failing<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() && self.1 {
                return Err(std::io::Error::other("the disk went away"));
            }
            self.0.read(out)
        }
    }

    impl<'a> CsvSource for Memory<'a> {
        type Stream = Failing<'a>;

        fn open(&self, name: &str) -> std::io::Result<(Failing<'a>, usize)> {
            let (_, bytes) = self
                .files
                .iter()
                .find(|(n, _)| *n == name)
                .expect("every file is there");
            Ok(match self.fail_after {
                Some(at) => (Failing(&bytes[..at], true), bytes.len()),
                None => (Failing(bytes, false), bytes.len()),
            })
        }

        fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
            self.files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, bytes)| bytes.to_vec())
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        }

        fn locate(&self, name: &str) -> String {
            format!("memory/{name}")
        }
    }

    fn bundled() -> Vec<(&'static str, &'static [u8])> {
        vec![
            ("departments.csv", include_bytes!("../../../../data/departments.csv")),
            ("items.csv", include_bytes!("../../../../data/items.csv")),
            ("inspectors.csv", include_bytes!("../../../../data/inspectors.csv")),
            ("targets.csv", include_bytes!("../../../../data/targets.csv")),
            ("conflicts.csv", include_bytes!("../../../../data/conflicts.csv")),
        ]
    }

    #[test]
    fn the_bundled_pool_parsed_from_memory_has_its_published_snapshot() {
        let memory = Memory {
            files: bundled(),
            fail_after: None,
        };
        let pools = load_csv(&memory, LoadOptions::default()).unwrap();
        assert_eq!(
            pools.snapshot.combined().to_string(),
            // As `docs/VERIFY.md` shows it, and `shuangsui check --data data` prints it.
            "26af4e2b200b8d511948b483c0f07dca823324b4d7612f3a5e22064ca9c78adf"
        );
        assert_eq!(pools.targets.len(), 90_538);
        // Small pieces cut the text elsewhere and must give the same pool.
        let options = LoadOptions {
            piece_bytes: Some(4099),
            ..LoadOptions::default()
        };
        let cut = load_csv(&memory, options).unwrap();
        assert_eq!(cut.snapshot, pools.snapshot);
        // Hashed beside work on the records, as a draw is made: the same hashes.
        let checked = check_csv(&memory, LoadOptions::default()).unwrap();
        let (beside, read) = checked.hash_while(|records| records.targets.iter().map(|t| t.line as u64).sum::<u64>());
        assert_eq!(beside.snapshot, pools.snapshot);
        assert_eq!(read, pools.targets.iter().map(|t| t.line as u64).sum::<u64>());
    }

    #[test]
    fn problems_of_bytes_in_memory_name_file_line_and_field() {
        let mut files = bundled();
        let targets = "credit_code,name,entity_type,industry,township,risk_class\r\n\
                       9252028108477695FJ,甲,个体工商户,餐饮业,红果街道,A\r\n\
                       92520281MAGCJBRMDT,乙,个体工商户,餐饮业,红果街道,E\r\n\
                       92520281MAGCJBRMDT,丙,个体工商户,餐饮业,,B\r\n\
                       \"9252028108477695FJ\",\"丁\r\n\",个体工商户,餐饮业,红果街道,C\r\n";
        files[3].1 = targets.as_bytes();
        files.retain(|(name, _)| *name != "departments.csv");
        let memory = Memory {
            files,
            fail_after: None,
        };
        let problems = load_csv(&memory, LoadOptions::default()).unwrap_err();
        let shown: Vec<String> = problems.kept.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            shown[..3],
            [
                "targets.csv:3: risk_class: \"E\" is not A, B, C or D",
                "targets.csv:4: township: 所属区域 is empty",
                "targets.csv:5: credit_code: duplicate id 9252028108477695FJ, first on line 2",
            ]
        );
        assert!(
            shown.contains(&"departments.csv: cannot read memory/departments.csv: entity not found".to_owned()),
            "{shown:?}"
        );
        // Without departments every item's department is unknown.
        assert!(shown
            .iter()
            .any(|p| p.starts_with("items.csv:") && p.contains(": department: unknown department")));
    }

    #[test]
    fn a_reader_that_fails_is_a_problem_of_the_target_directory() {
        let memory = Memory {
            files: bundled(),
            fail_after: Some(1 << 16),
        };
        let problems = load_csv(&memory, LoadOptions::default()).unwrap_err();
        let shown = problems.kept[0].to_string();
        assert_eq!(shown, "targets.csv: cannot read memory/targets.csv: the disk went away");
    }
}
