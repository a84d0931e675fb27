//! The audit bundle on disk: everything needed to redo a draw, and its
//! result, in one folder (`docs/ALGORITHM.md` §8). Its contents are made by
//! the core (`shuangsui_core::bundle::assemble`); here a bundle is written
//! under a temporary name and renamed into place, so a crash leaves a whole
//! bundle or none, and an existing bundle is never overwritten, and read back.

use std::borrow::Cow;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::history::{DrawnVisit, EarlierDraw, History, Swap};
use crate::merge::Merged;
use crate::plan::Plan;
use crate::snapshot::bytes_hash;

pub use shuangsui_core::bundle::assemble::{bundle_name, contents, merged_contents, Contents, MergeInputs, GENERATOR};
pub use shuangsui_core::bundle::format;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle {0} already exists: a draw is never redone in place; a redraw is a new bundle")]
    Exists(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_owned(),
        source,
    }
}

pub use format::{
    assignments_csv, assignments_header, write_assignments, AssignmentRow, FormatError, DEPARTMENTS_HEADER,
    MERGED_HEADER, PUBLIC_HEADER, RISK_CLASS_HEADER,
};
pub use format::{
    manifest_json, Counts, FileHash, HistorySource, LedgerRef, Manifest, PlanRef, SeedRecord, Visibility, FORMAT,
};

/// Writes the bundle into `out_dir/NAME` atomically and returns its path.
pub fn write(out_dir: &Path, name: &str, confidential: &Contents, public: &Contents) -> Result<PathBuf, BundleError> {
    fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let final_path = out_dir.join(name);
    if final_path.exists() {
        return Err(BundleError::Exists(final_path));
    }
    let temp = out_dir.join(format!(".{name}.tmp-{}", std::process::id()));
    if temp.exists() {
        fs::remove_dir_all(&temp).map_err(io(&temp))?;
    }
    let result = write_tree(&temp, confidential, public).and_then(|()| {
        // rename(2) will not replace a non-empty directory, so a bundle that
        // appeared meanwhile is not clobbered either.
        fs::rename(&temp, &final_path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::DirectoryNotEmpty => {
                BundleError::Exists(final_path.clone())
            }
            _ => BundleError::Io {
                path: final_path.clone(),
                source: e,
            },
        })
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&temp);
    }
    result?;
    if let Ok(dir) = fs::File::open(out_dir) {
        let _ = dir.sync_all();
    }
    Ok(final_path)
}

fn write_tree(temp: &Path, confidential: &Contents, public: &Contents) -> Result<(), BundleError> {
    let public_dir = temp.join("public");
    fs::create_dir_all(&public_dir).map_err(io(&public_dir))?;
    // Every file is written and synced on its own; syncs wait on the disk, so
    // they overlap.
    // Written from the contents in place: a national bundle's lists are
    // tens of megabytes, not worth a copy.
    borrowed_files(confidential, public)
        .par_iter()
        .try_for_each(|(path, bytes)| write_file(&temp.join(path), bytes))
}

/// The bundle's files as bytes, each with its path relative to the bundle
/// folder (`manifest.json`, `public/assignments.csv`): exactly what
/// [`write`] puts on disk, and what the service records in its database.
pub fn files(confidential: &Contents, public: &Contents) -> Vec<(String, Vec<u8>)> {
    borrowed_files(confidential, public)
        .into_iter()
        .map(|(path, bytes)| (path, bytes.into_owned()))
        .collect()
}

/// [`files`], borrowing every file but the manifests from the contents.
fn borrowed_files<'a>(confidential: &'a Contents, public: &'a Contents) -> Vec<(String, Cow<'a, [u8]>)> {
    let mut files = Vec::new();
    for (prefix, contents) in [("", confidential), ("public/", public)] {
        files.push((
            format!("{prefix}manifest.json"),
            Cow::Owned(manifest_json(&contents.manifest).into_bytes()),
        ));
        files.extend(
            contents
                .files
                .iter()
                .map(|(name, text)| (format!("{prefix}{name}"), Cow::Borrowed(text.as_bytes()))),
        );
    }
    files
}

/// Writes a file only the service's own user may read, atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    use std::os::unix::fs::OpenOptionsExt;
    let temp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .map_err(io(&temp))?;
    file.write_all(bytes).map_err(io(&temp))?;
    file.sync_all().map_err(io(&temp))?;
    fs::rename(&temp, path).map_err(io(path))
}

/// Replaces a file that is added to a bundle after the draw: written under
/// a temporary name and renamed, so a reader sees the old file or the new.
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    let temp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let written = write_file(&temp, bytes).and_then(|()| fs::rename(&temp, path).map_err(io(path)));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    let mut file = fs::File::create(path).map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// A bundle as read back from disk.
pub struct Stored {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub plan: Plan,
    pub plan_json: String,
    pub history: History,
    pub assignments: String,
    /// `merge.csv`, present in bundles of plans that merge (spec §14).
    pub merge_csv: Option<String>,
}

pub fn read(dir: &Path) -> Result<Stored, BundleError> {
    let read_text = |name: &str| {
        let path = dir.join(name);
        fs::read_to_string(&path).map_err(|source| BundleError::Io { path, source })
    };
    let invalid = |name: &str, message: String| BundleError::Invalid {
        path: dir.join(name),
        message,
    };
    let manifest =
        format::read_manifest(&read_text("manifest.json")?).map_err(|e| invalid("manifest.json", e.to_string()))?;
    let plan_json = read_text("plan.json")?;
    let plan: Plan = serde_json::from_str(&plan_json).map_err(|e| invalid("plan.json", e.to_string()))?;
    let history =
        format::read_history(&read_text("history.csv")?).map_err(|e| invalid("history.csv", e.to_string()))?;
    let assignments = read_text("assignments.csv")?;
    let merge_path = dir.join("merge.csv");
    let merge_csv = if merge_path.exists() {
        Some(read_text("merge.csv")?)
    } else {
        None
    };
    Ok(Stored {
        dir: dir.to_owned(),
        manifest,
        plan,
        plan_json,
        history,
        assignments,
        merge_csv,
    })
}

impl Stored {
    /// The visits of its `assignments.csv`, typed, read by column name.
    pub fn visits(&self) -> Result<Vec<DrawnVisit>, BundleError> {
        format::read_visits(self.assignments.as_bytes(), self.manifest.visibility).map_err(|e| BundleError::Invalid {
            path: self.dir.join("assignments.csv"),
            message: e.to_string(),
        })
    }

    /// The draw as an earlier draw of a later one (history, spec §7, or
    /// merge, §14), with the substitutions made on it so far.
    pub fn earlier_draw(&self, substitutions: Vec<Swap>) -> Result<EarlierDraw, BundleError> {
        Ok(EarlierDraw {
            origin: self.dir.display().to_string(),
            plan_id: self.manifest.plan.id.clone(),
            date: self.plan.inspection_date(),
            visits: self.visits()?,
            substitutions,
        })
    }

    /// The earlier visits the bundle's draw merged with (spec §14), as it
    /// records them: `merge.csv` under `merge_sha256`, from the plans of
    /// `merge_sources`, which must be those the plan names. A plan that does
    /// not merge must carry none of these; for it the result is empty.
    pub fn merged(&self) -> Result<Merged, MergeRecordError> {
        let m = &self.manifest;
        let Some(named) = self.plan.merge_with() else {
            if self.merge_csv.is_some() || m.merge_sources.is_some() || m.merge_sha256.is_some() {
                return Err(MergeRecordError::Unexpected);
            }
            return Ok(Merged::default());
        };
        let (Some(text), Some(sources), Some(hash)) = (&self.merge_csv, &m.merge_sources, m.merge_sha256) else {
            return Err(MergeRecordError::Missing);
        };
        let ids: Vec<String> = sources.iter().map(|s| s.plan_id.clone()).collect();
        if ids != *named {
            return Err(MergeRecordError::OtherPlans {
                sources: ids.join(", "),
                named: named.join(", "),
            });
        }
        let merged = format::read_merge(ids, text)?;
        if merged.hash() != hash {
            return Err(MergeRecordError::Hash);
        }
        let recorded = m.files.iter().find(|f| f.name == "merge.csv").map(|f| f.sha256);
        if recorded != Some(bytes_hash(format::merge_csv(&merged).as_bytes())) {
            return Err(MergeRecordError::FileHash);
        }
        Ok(merged)
    }
}

/// Why a bundle's merge inputs (spec §14) do not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeRecordError {
    #[error("the bundle carries merge inputs, but its plan merges with no plan")]
    Unexpected,
    #[error("the plan merges with earlier plans, but merge.csv, merge_sources or merge_sha256 is missing")]
    Missing,
    #[error("manifest.json: merge_sources are of [{sources}], the plan names [{named}]")]
    OtherPlans { sources: String, named: String },
    #[error("merge.csv: {0}")]
    Csv(#[from] FormatError),
    #[error("merge.csv does not match merge_sha256 in manifest.json")]
    Hash,
    #[error("manifest.json: the SHA-256 of merge.csv differs from the bundle's merge.csv")]
    FileHash,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_manifest_names_this_program_and_version() {
        assert_eq!(super::GENERATOR, format!("shuangsui {}", env!("CARGO_PKG_VERSION")));
    }
}
