//! Reading the published draws from a folder of bundles.
//!
//! The service keeps every bundle `shuangsui draw` wrote in one folder. Each
//! bundle holds a confidential copy (with risk classes and per-class counts)
//! and a `public/` copy (`docs/ALGORITHM.md` §8). This module only ever opens
//! the `public/` copy, so nothing confidential can reach a public page through
//! it, and it refuses a `public/` copy that looks confidential.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::bundle::{Manifest, Visibility};
use crate::snapshot::bytes_hash;

/// The public copy inside a bundle folder.
pub const PUBLIC_DIR: &str = "public";

use crate::bundle::format::{read_assignments, read_manifest, FormatError};
/// The header of the public `assignments.csv`, in order. A file with any other
/// header (in particular the confidential one, which adds 信用风险分类) is
/// refused rather than shown.
pub use crate::bundle::PUBLIC_HEADER;

/// A folder of bundles, as written by `shuangsui draw --out DIR`, or the
/// service's `publications/` seen through its ledger ([`Publications::only`]).
#[derive(Debug, Clone)]
pub struct Publications {
    dir: PathBuf,
    /// The bundles the ledger records, when reading the service's folder: a
    /// folder not named here is never opened, so a bundle copied into the
    /// folder by hand is not published as if it had been drawn.
    only: Option<Arc<BTreeSet<String>>>,
}

/// A recorded bundle whose public copy cannot be shown: its manifest is
/// missing or not a public manifest, or its files fail their check. Named,
/// so that one bad bundle is reported on its own page and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub name: String,
    pub problem: String,
}

/// One published draw: a bundle folder and its public manifest.
#[derive(Debug, Clone)]
pub struct PublishedDraw {
    /// The bundle folder's name, `PLANID_SEEDPREFIX`; also its URL segment.
    pub name: String,
    /// The bundle folder (not its `public/` copy).
    pub dir: PathBuf,
    /// The PUBLIC manifest (`public/manifest.json`).
    pub manifest: Manifest,
    /// The draw was not announced in advance (an ad hoc draw). Reading leaves
    /// it false; the service may set it from its own records. A `random` seed
    /// source, or `ledger.unannounced` in the manifest, marks a draw as ad hoc
    /// on its own (see [`PublishedDraw::is_ad_hoc`]).
    pub unannounced: bool,
    /// Where the draw's public ceremony was held, as its announcement
    /// records it: the bundle does not hold it. Reading leaves it `None`;
    /// the service sets it from its ledger.
    pub ceremony_place: Option<String>,
}

/// One row of the public `assignments.csv`, as the bundle format reads it.
pub use crate::bundle::AssignmentRow as PublicRow;

impl Publications {
    /// Does not touch the disk: the folder is read on every [`list`](Self::list)
    /// and [`get`](Self::get), so new bundles show up without a restart.
    pub fn open(dir: &Path) -> Self {
        Publications {
            dir: dir.to_owned(),
            only: None,
        }
    }

    /// The same folder, reading only the bundles named: the ones the ledger
    /// records a draw of. [`list`](Self::list), [`get`](Self::get) and
    /// [`fingerprint`](Self::fingerprint) then see nothing else, and a named
    /// bundle whose public manifest cannot be read is [`Broken`], not
    /// silently absent.
    pub fn only(&self, recorded: impl IntoIterator<Item = String>) -> Self {
        Publications {
            dir: self.dir.clone(),
            only: Some(Arc::new(recorded.into_iter().collect())),
        }
    }

    /// The folder names to read: the recorded ones, or every folder.
    pub(crate) fn names(&self) -> io::Result<Vec<String>> {
        if let Some(only) = &self.only {
            return Ok(only.iter().filter(|n| valid_name(n)).cloned().collect());
        }
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if valid_name(&name) && entry.file_type()?.is_dir() {
                names.push(name);
            }
        }
        Ok(names)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every bundle folder under the folder whose `public/manifest.json` is a
    /// valid public manifest, newest `created_at` first (then by name).
    /// Bundles being written (names starting with '.') and folders that are
    /// not bundles are skipped; an unreadable folder is an error.
    pub fn list(&self) -> io::Result<Vec<PublishedDraw>> {
        Ok(self.list_checked()?.0)
    }

    /// [`list`](Self::list), and besides it the recorded bundles that cannot
    /// be shown (see [`only`](Self::only)): one bad bundle leaves the others
    /// listed. Without a record every folder is only a candidate, and one
    /// that is not a public bundle is skipped as before.
    pub fn list_checked(&self) -> io::Result<(Vec<PublishedDraw>, Vec<Broken>)> {
        self.list_checked_with(|name| self.read_named(name.to_owned()))
    }

    /// [`list_checked`](Self::list_checked) with each folder read by `read`,
    /// which reads as [`get`](Self::get) does (or hands back what it read
    /// before).
    pub(crate) fn list_checked_with(
        &self,
        mut read: impl FnMut(&str) -> io::Result<Option<PublishedDraw>>,
    ) -> io::Result<(Vec<PublishedDraw>, Vec<Broken>)> {
        let mut draws = Vec::new();
        let mut broken = Vec::new();
        for name in self.names()? {
            match read(&name) {
                Ok(Some(draw)) => draws.push(draw),
                Ok(None) => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData => broken.push(Broken {
                    name,
                    problem: e.to_string(),
                }),
                Err(e) => return Err(e),
            }
        }
        draws.sort_by_cached_key(newest_first);
        Ok((draws, broken))
    }

    /// Reads one folder: for a recorded bundle a missing or invalid public
    /// manifest is an [`io::ErrorKind::InvalidData`] error, for a mere
    /// folder it is not a bundle (`None`).
    fn read_named(&self, name: String) -> io::Result<Option<PublishedDraw>> {
        let recorded = self.only.is_some();
        match fs::metadata(self.dir.join(&name)) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) if recorded => return Err(invalid(&self.dir.join(&name), "is not a bundle folder")),
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound && recorded => {
                return Err(invalid(&self.dir.join(&name), "the recorded bundle is missing"))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
        match read_draw(&self.dir, name) {
            Ok(draw) => Ok(Some(draw)),
            Err(e) if e.kind() == io::ErrorKind::InvalidData && !recorded => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether `name` is a folder this view reads: a plain name, and
    /// recorded when seen through the ledger.
    pub(crate) fn holds(&self, name: &str) -> bool {
        valid_name(name) && self.only.as_ref().is_none_or(|only| only.contains(name))
    }

    /// Whether the ledger records a bundle of this name (seen through
    /// [`only`](Self::only)); `false` for a folder read without a record.
    pub fn get_recorded(&self, name: &str) -> bool {
        valid_name(name) && self.only.as_ref().is_some_and(|only| only.contains(name))
    }

    /// The bundle named `name`, or `None` when there is none or the name is
    /// not a plain folder name (path separators, `..`, a leading '.').
    /// Seen through the ledger ([`only`](Self::only)), a folder it does not
    /// record is `None` too, and a recorded bundle that cannot be shown is an
    /// [`io::ErrorKind::InvalidData`] error naming what is wrong.
    pub fn get(&self, name: &str) -> io::Result<Option<PublishedDraw>> {
        if !valid_name(name) || self.only.as_ref().is_some_and(|only| !only.contains(name)) {
            return Ok(None);
        }
        self.read_named(name.to_owned())
    }
}

/// What the published lists depend on, as the disk shows it: per bundle
/// folder, the size and modification time of its public manifest and of its
/// public `substitutions.json`. Equal fingerprints mean nothing was added,
/// published or substituted in between, so an index built from the lists
/// still holds; a substitution list only grows, so it always changes size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(Vec<(String, Option<Stamp>, Option<Stamp>)>);

type Stamp = (u64, Option<std::time::SystemTime>);

impl Publications {
    /// The [`Fingerprint`] of the folder now: a directory listing and two
    /// `stat`s per bundle, far cheaper than reading the lists.
    pub fn fingerprint(&self) -> io::Result<Fingerprint> {
        let stamp = |path: PathBuf| -> io::Result<Option<Stamp>> {
            match fs::metadata(path) {
                Ok(meta) => Ok(Some((meta.len(), meta.modified().ok()))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        };
        let mut stamps = Vec::new();
        for name in self.names()? {
            let public = self.dir.join(&name).join(PUBLIC_DIR);
            let manifest = stamp(public.join("manifest.json"))?;
            let substitutions = stamp(public.join(crate::substitution::FILE))?;
            stamps.push((name, manifest, substitutions));
        }
        stamps.sort();
        Ok(Fingerprint(stamps))
    }
}

/// The order draws are listed in, newest `created_at` first, then by name.
/// RFC 3339 texts from different offsets do not sort as text: instants are
/// compared, and the text for an unparsable one.
pub(crate) fn newest_first(
    draw: &PublishedDraw,
) -> (
    std::cmp::Reverse<Option<chrono::DateTime<chrono::FixedOffset>>>,
    std::cmp::Reverse<String>,
    String,
) {
    let at = chrono::DateTime::parse_from_rfc3339(&draw.manifest.created_at).ok();
    (
        std::cmp::Reverse(at),
        std::cmp::Reverse(draw.manifest.created_at.clone()),
        draw.name.clone(),
    )
}

/// A bundle name is one plain path segment: no separator (`/`, `\`), and no
/// leading '.', which refuses `.` and `..` and also the bundles still being
/// written (`.NAME.tmp-…`, the service's `.staging`).
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.chars().any(|c| c == '/' || c == '\\' || c.is_control())
}

/// Reads `dir/name/public/manifest.json`; an [`io::ErrorKind::InvalidData`]
/// error when it is missing or is not a public manifest of the bundle
/// format we know.
fn read_draw(dir: &Path, name: String) -> io::Result<PublishedDraw> {
    let bundle_dir = dir.join(&name);
    let path = bundle_dir.join(PUBLIC_DIR).join("manifest.json");
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::InvalidData) => {
            return Err(invalid(&path, e))
        }
        Err(e) => return Err(e),
    };
    let manifest = read_manifest(&text).map_err(|e| invalid(&path, e))?;
    // A public copy says so and carries no per-class counts; anything else in
    // public/ is a mistake we must not publish.
    if manifest.visibility != Visibility::Public || manifest.strata.is_some() {
        return Err(invalid(&path, "is not a public manifest"));
    }
    Ok(PublishedDraw {
        name,
        dir: bundle_dir,
        manifest,
        unannounced: false,
        ceremony_place: None,
    })
}

fn invalid(path: &Path, message: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{}: {message}", path.display()))
}

impl PublishedDraw {
    /// The `public/` copy of the bundle: the only folder a public page reads.
    pub fn public_dir(&self) -> PathBuf {
        self.dir.join(PUBLIC_DIR)
    }

    /// The draw was not announced in advance: the service says so (here or in
    /// the manifest's ledger reference), or the seed came from the operating
    /// system and so could not have been.
    pub fn is_ad_hoc(&self) -> bool {
        self.unannounced
            || self.manifest.ledger.as_ref().is_some_and(|l| l.unannounced)
            || matches!(self.manifest.seed.source, crate::seed::SeedSource::Random)
    }

    /// Parses `public/assignments.csv`. The file must match the SHA-256 its
    /// manifest records (so a page never shows rows other than those the
    /// published hash commits to) and have exactly the public header.
    pub fn rows(&self) -> io::Result<Vec<PublicRow>> {
        let bytes = self.drawn_bytes()?;
        let path = self.public_dir().join("assignments.csv");
        parse_rows(&bytes).map_err(|message| invalid(&path, message))
    }

    /// The bytes of `public/assignments.csv`, the list as drawn, once they
    /// match the SHA-256 the manifest records; a missing or different file
    /// is an [`io::ErrorKind::InvalidData`] error.
    pub fn drawn_bytes(&self) -> io::Result<Vec<u8>> {
        let path = self.public_dir().join("assignments.csv");
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(invalid(&path, e)),
            Err(e) => return Err(e),
        };
        let recorded = self.manifest.files.iter().find(|f| f.name == "assignments.csv");
        match recorded {
            Some(file) if file.sha256 == bytes_hash(&bytes) => Ok(bytes),
            Some(_) => Err(invalid(&path, "does not match the SHA-256 in public/manifest.json")),
            None => Err(invalid(&path, "public/manifest.json records no hash for it")),
        }
    }
}

/// Parses the public `assignments.csv` bytes (UTF-8, optional BOM): exactly
/// the public header, with the columns of joint and merging plans where the
/// plan has them; the confidential header is refused.
pub fn parse_rows(bytes: &[u8]) -> Result<Vec<PublicRow>, FormatError> {
    read_assignments(bytes, Visibility::Public)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "\u{feff}序号,统一社会信用代码,名称,抽查事项,抽查事项名称,组长,检查人员\r\n\
        1,9152020001383091EP,盘州市富峰医药有限公司,SCJG-130;SCJG-160,企业年度报告公示信息的检查；价格检查,520281,520281;520282\r\n\
        2,91520200MA1DN7F3D0,\"盘州市\"\"天海\"\",商贸\",SCJG-161,商品零售经营者价格欺诈行为的检查,520283,520283;520284\r\n";

    #[test]
    fn parses_public_rows() {
        let rows = parse_rows(CSV.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].number, 1);
        assert_eq!(rows[0].credit_code, "9152020001383091EP");
        assert_eq!(rows[0].items, ["SCJG-130", "SCJG-160"]);
        assert_eq!(rows[0].item_names, ["企业年度报告公示信息的检查", "价格检查"]);
        assert_eq!(rows[0].leader, "520281");
        assert_eq!(rows[0].team, ["520281", "520282"]);
        assert_eq!(rows[1].name, "盘州市\"天海\",商贸");
    }

    #[test]
    fn parses_the_columns_of_joint_and_merging_plans() {
        let csv = "序号,统一社会信用代码,名称,抽查事项,抽查事项名称,组长,检查人员,检查部门,合并至\r\n\
            1,9152020001383091EP,某公司,SCJG-130;WSJK-001,检查；检查,C1,C1;C2;H1;H2,市场监管局;卫生健康局,PZ-1\r\n\
            2,91520200MA1DN7F3D0,某店,SCJG-130,检查,C3,C3;C4,市场监管局,\r\n";
        let rows = parse_rows(csv.as_bytes()).unwrap();
        assert_eq!(rows[0].departments, ["市场监管局", "卫生健康局"]);
        assert_eq!(rows[0].merged_with.as_deref(), Some("PZ-1"));
        assert_eq!(rows[1].merged_with, None);
        let wrong_order = csv.replacen("检查部门,合并至", "合并至,检查部门", 1);
        assert!(parse_rows(wrong_order.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("header"));
    }

    #[test]
    fn refuses_the_confidential_header() {
        let confidential = "序号,统一社会信用代码,名称,抽查事项,抽查事项名称,组长,检查人员,信用风险分类\r\n\
            1,9152020001383091EP,某公司,SCJG-130,检查,520281,520281;520282,A\r\n";
        assert!(parse_rows(confidential.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("header"));
    }

    #[test]
    fn names_are_plain_segments() {
        for bad in [
            "", ".", "..", ".tmp", ".staging", "../x", "a/b", "a\\b", "a/../b", "a\0b",
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        for good in ["PZ-SCJG-2026Q1_a65d43832671", "计划_1", "T.2026..1_a65d43832671"] {
            assert!(valid_name(good), "{good:?}");
        }
    }

    #[test]
    fn the_fingerprint_changes_when_a_list_is_substituted_or_a_draw_added() {
        let root = tempfile::tempdir().unwrap();
        let publications = Publications::open(root.path());
        let before = publications.fingerprint().unwrap();
        let public = root.path().join("D_1/public");
        fs::create_dir_all(&public).unwrap();
        fs::write(public.join("manifest.json"), "{}").unwrap();
        let drawn = publications.fingerprint().unwrap();
        assert_ne!(before, drawn);
        assert_eq!(drawn, publications.fingerprint().unwrap(), "nothing changed");
        fs::write(public.join("substitutions.json"), "[1]").unwrap();
        let one = publications.fingerprint().unwrap();
        assert_ne!(drawn, one);
        fs::write(public.join("substitutions.json"), "[1, 2]").unwrap();
        assert_ne!(one, publications.fingerprint().unwrap());
    }

    #[test]
    fn seen_through_the_ledger_only_recorded_bundles_are_read() {
        let root = tempfile::tempdir().unwrap();
        // Neither folder holds a bundle: unrecorded, one is simply not
        // there; recorded, it is a bundle that fails its check.
        for name in ["recorded_1", "copied_1"] {
            fs::create_dir_all(root.path().join(name).join(PUBLIC_DIR)).unwrap();
            fs::write(root.path().join(name).join(PUBLIC_DIR).join("manifest.json"), "{}").unwrap();
        }
        let all = Publications::open(root.path());
        assert!(
            all.list_checked().unwrap().1.is_empty(),
            "without a record nothing is broken"
        );
        let seen = all.only(["recorded_1".to_owned(), "gone_1".to_owned()]);
        assert!(
            seen.get("copied_1").unwrap().is_none(),
            "an unrecorded folder is never opened"
        );
        let error = seen.get("recorded_1").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        let (draws, broken) = seen.list_checked().unwrap();
        assert!(draws.is_empty());
        let names: Vec<&str> = broken.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["gone_1", "recorded_1"]);
        assert!(broken[0].problem.contains("missing"), "{:?}", broken[0]);
        let stamped: Vec<String> = seen.fingerprint().unwrap().0.into_iter().map(|s| s.0).collect();
        assert_eq!(stamped, ["gone_1", "recorded_1"], "the copy does not key the index");
    }

    #[test]
    fn get_refuses_traversal_and_list_skips_non_bundles() {
        let root = tempfile::tempdir().unwrap();
        // A confidential manifest one level up must never be reachable.
        fs::create_dir_all(root.path().join("outside/public")).unwrap();
        fs::write(root.path().join("outside/public/manifest.json"), "{}").unwrap();
        let bundles = root.path().join("bundles");
        fs::create_dir_all(bundles.join(".being-written/public")).unwrap();
        fs::create_dir_all(bundles.join("not-a-bundle")).unwrap();
        let publications = Publications::open(&bundles);
        for name in ["../outside", "..", "a/b", ".being-written", "/etc", "missing"] {
            assert!(publications.get(name).unwrap().is_none(), "{name:?}");
        }
        assert!(publications.list().unwrap().is_empty());
    }
}
