//! A pool folder on disk: the five CSV files found by name and handed, as
//! bytes, to the core's parser ([`shuangsui_core::pools::load`]).

use std::fs::File;
use std::path::Path;

use super::{check_csv, load_csv_without_conflicts, Checked, CsvSource, LoadOptions, Pools, Problems};

/// Loads and validates the pool folder `dir`. On any problem, returns all of
/// them (up to [`Problems::CAP`]) and no pools.
pub fn load(dir: &Path, options: LoadOptions) -> Result<Pools, Problems> {
    check(dir, options).map(Checked::hash)
}

/// [`load`] up to the hash of the target directory, which is left to
/// [`Checked::hash_while`].
pub fn check(dir: &Path, options: LoadOptions) -> Result<Checked, Problems> {
    check_csv(&Folder(dir), options)
}

/// Loads a pool folder that holds no `conflicts.csv` (the confidential
/// recusal list), as one given to the public for partial verification.
pub fn load_without_conflicts(dir: &Path, options: LoadOptions) -> Result<Pools, Problems> {
    load_csv_without_conflicts(&Folder(dir), options)
}

/// Loads either kind of pool: a path ending in `.xlsx` is one workbook,
/// anything else a folder of the five CSV files (`docs/DATA.md`).
pub fn load_path(path: &Path, options: LoadOptions) -> Result<Pools, Problems> {
    check_path(path, options).map(Checked::hash)
}

/// [`load_path`] up to the hash of the target directory, which is left to
/// [`Checked::hash_while`].
pub fn check_path(path: &Path, options: LoadOptions) -> Result<Checked, Problems> {
    if is_workbook(path) {
        super::xlsx::check(path)
    } else {
        check(path, options)
    }
}

/// Whether `path` names an `.xlsx` workbook rather than a pool folder.
pub fn is_workbook(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
}

/// The files of a pool folder, read where they lie. The target directory is
/// read once, as it is parsed: the snapshot is of the very bytes parsed, so
/// nothing is mapped that another process could change under the parser.
struct Folder<'a>(&'a Path);

impl CsvSource for Folder<'_> {
    type Stream = File;

    fn open(&self, name: &str) -> std::io::Result<(File, usize)> {
        let file = File::open(self.0.join(name))?;
        let size = file.metadata()?.len() as usize;
        crate::heavy::small_pages_for(size);
        Ok((file, size))
    }

    fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.0.join(name))
    }

    fn locate(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_cannot_be_read_is_a_problem_naming_its_path() {
        let root = tempfile::tempdir().unwrap();
        let problems = load(root.path(), LoadOptions::default()).unwrap_err();
        for (_, file) in shuangsui_core::pools::FILES {
            let path = root.path().join(file);
            let found: Vec<&str> = problems
                .kept
                .iter()
                .filter(|p| p.file == file && p.line == 0 && p.field.is_none())
                .map(|p| p.message.as_str())
                .filter(|m| m.starts_with("cannot read"))
                .collect();
            assert_eq!(found.len(), 1, "{file}: {problems}");
            assert!(
                found[0].starts_with(&format!("cannot read {}: ", path.display())),
                "{}",
                found[0]
            );
        }
    }
}
