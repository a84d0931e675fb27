//! The published draws as read, kept in memory while their files stay as
//! they were, so a public page, a search or a download reads, hashes and
//! parses a draw's list once, not on every request.
//!
//! What the public views of a draw show comes from four files of its public
//! copy: `manifest.json`, `assignments.csv`, `substitutions.json` (written
//! by a substitution) and `results.csv` (by a results notice). Each is
//! [`Stamp`]ed by its size, modification and change times and inode, and a
//! draw read is served only while all four stamps are as they were when it
//! was read. A substitution, a results notice, a folder rebuilt from the
//! database or a hand edit therefore makes the next request read that draw
//! afresh, and only that draw: the search index is made of one
//! [`DrawIndex`] per draw, so the others are shared as they were.
//!
//! File times are coarse (a clock tick), so a file changed again within a
//! tick of being read could keep its stamp: a draw read within
//! [`SETTLE`] of a change to one of its files is served but not kept.
//!
//! The search index is made again after a change by the one search that
//! finds it changed; the searches arriving while it does use the index made
//! before (a second behind at national scale), rather than all waiting.
//!
//! All of it blocking file work: the service calls it off its async workers.

use std::collections::{BTreeSet, HashMap};
use std::io;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use super::current::CurrentList;
use super::pages::ItemCounts;
use super::publications::{newest_first, Broken, Publications, PublishedDraw, PUBLIC_DIR};
use super::search::{DrawIndex, SearchIndex};
use crate::stamp::FileStamp;

/// How long after a change to its files a draw read is not kept: far more
/// than the tick of file times, and short enough that only the requests
/// right after a draw or a substitution read it again.
pub const SETTLE: Duration = Duration::from_millis(100);

/// The public files a draw's views are made from.
const STAMPED: [&str; 4] = ["manifest.json", "assignments.csv", "substitutions.json", "results.csv"];

/// The four files of a draw's public copy as the disk shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    files: [Option<FileStamp>; 4],
    /// When the stamps were taken.
    taken: SystemTime,
}

impl Stamp {
    /// Four `stat`s of the public copy of the bundle folder `bundle_dir`.
    pub fn of(bundle_dir: &Path) -> io::Result<Stamp> {
        let taken = SystemTime::now();
        let public = bundle_dir.join(PUBLIC_DIR);
        let mut files = [None; 4];
        for (stamp, name) in files.iter_mut().zip(STAMPED) {
            *stamp = FileStamp::read(&public.join(name))?;
        }
        Ok(Stamp { files, taken })
    }

    /// The same files, unchanged (whenever each was stamped).
    fn same(&self, other: &Stamp) -> bool {
        self.files == other.files
    }

    /// Whether no file changed within [`SETTLE`] before it was stamped, so
    /// a later change cannot leave the stamp as it is.
    fn settled(&self) -> bool {
        self.files.iter().flatten().all(|f| f.settled(self.taken, SETTLE))
    }
}

/// One draw read whole from its public copy, with what its views derive
/// from the list, made once.
#[derive(Debug)]
pub struct Shown {
    pub draw: PublishedDraw,
    /// The list with its teams as they stand now ([`PublishedDraw::current`]).
    pub list: Arc<CurrentList>,
    /// The number of businesses per item, over the whole list.
    pub items: ItemCounts,
    /// The draw's part of the search index.
    pub index: Arc<DrawIndex>,
    stamp: Stamp,
    csv: OnceLock<Download>,
    xlsx: OnceLock<Download>,
    zip: OnceLock<Download>,
}

/// A download made once and kept with the list it was made from.
#[derive(Debug, Clone)]
pub struct Download {
    pub bytes: Arc<Vec<u8>>,
    /// The SHA-256 of the bytes in hex: the download's HTTP entity tag, so
    /// that a client holding these bytes is told so instead of sent them.
    pub sha256: String,
}

impl Download {
    pub fn of(bytes: Vec<u8>) -> Download {
        Download {
            sha256: crate::snapshot::bytes_hash(&bytes).to_hex(),
            bytes: Arc::new(bytes),
        }
    }
}

impl Shown {
    /// Reads the list of `draw` (checked against its manifest, substitutions
    /// applied) and what the views need of it; `stamp` is the files' stamp
    /// taken before.
    fn read(draw: PublishedDraw, stamp: Stamp) -> io::Result<Shown> {
        let list = Arc::new(draw.current()?);
        Ok(Shown {
            items: ItemCounts::of(&list),
            index: Arc::new(DrawIndex::new(&draw, Arc::clone(&list))),
            draw,
            list,
            stamp,
            csv: OnceLock::new(),
            xlsx: OnceLock::new(),
            zip: OnceLock::new(),
        })
    }

    /// The download `kept`, if it has been made.
    pub fn kept(&self, kept: Kept) -> Option<Download> {
        self.slot(kept).get().cloned()
    }

    /// The download `kept`, made now if it has not been, and kept with the
    /// list it was made from. The zip's files beside the four stamped ones
    /// are a recorded draw's own, which never change.
    pub fn build(&self, kept: Kept) -> Result<Download, super::ExportError> {
        if let Some(made) = self.kept(kept) {
            return Ok(made);
        }
        let bytes = match kept {
            Kept::CurrentCsv => super::exports::current_csv(&self.draw, &self.list),
            Kept::CurrentXlsx => super::exports::assignments_xlsx(&self.draw, &self.list)?,
            Kept::Zip => super::exports::bundle_zip(&self.draw)?,
        };
        // Two first downloads at once make the same bytes; either is kept.
        Ok(self.slot(kept).get_or_init(|| Download::of(bytes)).clone())
    }

    fn slot(&self, kept: Kept) -> &OnceLock<Download> {
        match kept {
            Kept::CurrentCsv => &self.csv,
            Kept::CurrentXlsx => &self.xlsx,
            Kept::Zip => &self.zip,
        }
    }
}

/// The downloads made from a draw as it stands and kept with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// `assignments.csv`: the current list ([`super::current_csv`]).
    CurrentCsv,
    /// `assignments.xlsx`: the same as Excel ([`super::assignments_xlsx`]).
    CurrentXlsx,
    /// `bundle.zip`: the public copy ([`super::bundle_zip`]).
    Zip,
}

impl Kept {
    /// The download a file name asks for, if it is one of these.
    pub fn named(file: &str) -> Option<Kept> {
        match file {
            "assignments.csv" => Some(Kept::CurrentCsv),
            "assignments.xlsx" => Some(Kept::CurrentXlsx),
            "bundle.zip" => Some(Kept::Zip),
            _ => None,
        }
    }
}

/// What a search reads: every recorded draw's stamp, in name order.
type SearchKey = Vec<(String, Stamp)>;

/// The draws read so far, by bundle name; see the module documentation.
#[derive(Debug, Default)]
pub struct Catalogue {
    shown: Mutex<HashMap<String, Arc<Shown>>>,
    /// The manifests alone, for the home page, by the manifest's stamp.
    manifests: Mutex<HashMap<String, (FileStamp, PublishedDraw)>>,
    search: Mutex<Option<(SearchKey, Arc<SearchIndex>)>>,
    /// Held while reading a draw, so that the requests arriving together
    /// after a change read it once, not once each.
    reading: Mutex<()>,
    /// Set while one search makes the index anew after a change. The
    /// searches arriving meanwhile use the index made before, without the
    /// change (for a second at national scale, where reading a new draw's
    /// list takes that long), instead of all waiting for it.
    rebuilding: AtomicBool,
}

/// Clears [`Catalogue::rebuilding`] when the search that set it is done,
/// however it ends.
pub struct Rebuilding<'a>(&'a AtomicBool);

impl Drop for Rebuilding<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // What the maps hold is whole at every step; a panic elsewhere leaves
    // them usable.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Catalogue {
    pub fn new() -> Self {
        Self::default()
    }

    /// The draw `name` of `publications` if it was read before and its files
    /// are unchanged since: four `stat`s. `None` otherwise, and for a name
    /// `publications` does not hold.
    pub fn cached(&self, publications: &Publications, name: &str) -> io::Result<Option<Arc<Shown>>> {
        if !publications.holds(name) {
            return Ok(None);
        }
        let stamp = Stamp::of(&publications.dir().join(name))?;
        Ok(self.kept(name, &stamp))
    }

    fn kept(&self, name: &str, stamp: &Stamp) -> Option<Arc<Shown>> {
        lock(&self.shown)
            .get(name)
            .filter(|shown| shown.stamp.same(stamp))
            .cloned()
    }

    /// The draw `name` as its files show it now: kept ([`cached`](Self::cached))
    /// or read afresh. `None` when `publications` holds no such draw; an
    /// [`io::ErrorKind::InvalidData`] error when its files fail their check,
    /// as [`Publications::get`] and [`PublishedDraw::current`] give it.
    pub fn get(&self, publications: &Publications, name: &str) -> io::Result<Option<Arc<Shown>>> {
        Ok(self.get_settled(publications, name)?.map(|(shown, _)| shown))
    }

    /// [`get`](Self::get), and whether what was read was kept.
    fn get_settled(&self, publications: &Publications, name: &str) -> io::Result<Option<(Arc<Shown>, bool)>> {
        if !publications.holds(name) {
            return Ok(None);
        }
        if let Some(shown) = self.cached(publications, name)? {
            return Ok(Some((shown, true)));
        }
        let _one_reader = lock(&self.reading);
        // Taken before the files are read, so what is read can only be
        // newer than its stamp, and is then read again at the next request.
        let stamp = Stamp::of(&publications.dir().join(name))?;
        if let Some(shown) = self.kept(name, &stamp) {
            return Ok(Some((shown, true)));
        }
        let Some(draw) = publications.get(name)? else {
            return Ok(None);
        };
        let keep = stamp.settled();
        let shown = Arc::new(Shown::read(draw, stamp)?);
        if keep {
            lock(&self.shown).insert(name.to_owned(), Arc::clone(&shown));
        }
        Ok(Some((shown, keep)))
    }

    /// The search index over every draw of `publications`, newest first,
    /// and the draws left out because their files fail their check. Made
    /// again only when a draw was added or one draw's files changed, and
    /// then from the draws' own indexes, of which only the changed draws'
    /// are made anew.
    pub fn search_index(&self, publications: &Publications) -> io::Result<(Arc<SearchIndex>, Vec<Broken>)> {
        let mut key: SearchKey = Vec::new();
        for name in publications.names()? {
            let stamp = Stamp::of(&publications.dir().join(&name))?;
            key.push((name, stamp));
        }
        key.sort_by(|a, b| a.0.cmp(&b.0));
        let before = match lock(&self.search).as_ref() {
            Some((built_for, index)) => {
                let unchanged = built_for.len() == key.len()
                    && built_for.iter().zip(&key).all(|(a, b)| a.0 == b.0 && a.1.same(&b.1));
                if unchanged {
                    return Ok((Arc::clone(index), Vec::new()));
                }
                Some(Arc::clone(index))
            }
            None => None,
        };
        // The first index of all is waited for; a newer one only by the
        // search that makes it.
        let _rebuilding = match before {
            Some(before) if self.rebuilding.swap(true, Ordering::AcqRel) => return Ok((before, Vec::new())),
            Some(_) => Some(Rebuilding(&self.rebuilding)),
            None => None,
        };
        let mut shown = Vec::new();
        let mut broken = Vec::new();
        let mut keep = key.iter().all(|(_, stamp)| stamp.settled());
        for (name, _) in &key {
            match self.get_settled(publications, name) {
                Ok(Some((draw, kept))) => {
                    keep &= kept;
                    shown.push(draw);
                }
                Ok(None) => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData => broken.push(Broken {
                    name: name.clone(),
                    problem: e.to_string(),
                }),
                Err(e) => return Err(e),
            }
        }
        shown.sort_by_cached_key(|s| newest_first(&s.draw));
        let index = Arc::new(SearchIndex::of_draws(
            shown.iter().map(|s| Arc::clone(&s.index)).collect(),
        ));
        self.forget_all_but(&key.iter().map(|(name, _)| name.as_str()).collect());
        if keep {
            // Keyed by the stamps taken before reading: a draw read newer
            // than its stamp is read again at the next search.
            *lock(&self.search) = Some((key, Arc::clone(&index)));
        }
        Ok((index, broken))
    }

    /// Marks the search index as being made anew, as a search does while it
    /// makes it, until the guard is dropped; `None` if one is already. For
    /// tests of what the searches arriving meanwhile are given.
    #[doc(hidden)]
    pub fn hold_rebuild(&self) -> Option<Rebuilding<'_>> {
        (!self.rebuilding.swap(true, Ordering::AcqRel)).then(|| Rebuilding(&self.rebuilding))
    }

    /// Every draw of `publications`, newest first, and beside them the ones
    /// whose manifests fail their check, as [`Publications::list_checked`]
    /// gives them; a manifest unchanged since it was last read is not read
    /// again.
    pub fn list(&self, publications: &Publications) -> io::Result<(Vec<PublishedDraw>, Vec<Broken>)> {
        publications.list_checked_with(|name| {
            let path = publications.dir().join(name).join(PUBLIC_DIR).join("manifest.json");
            let taken = SystemTime::now();
            let stamp = FileStamp::read(&path)?;
            if let Some(stamp) = stamp {
                if let Some((_, draw)) = lock(&self.manifests).get(name).filter(|(kept, _)| *kept == stamp) {
                    return Ok(Some(draw.clone()));
                }
            }
            let draw = publications.get(name)?;
            if let (Some(stamp), Some(draw)) = (stamp, &draw) {
                if stamp.settled(taken, SETTLE) {
                    lock(&self.manifests).insert(name.to_owned(), (stamp, draw.clone()));
                }
            }
            Ok(draw)
        })
    }

    /// Drops what is kept of draws not named, so the memory held follows
    /// the draws recorded.
    fn forget_all_but(&self, names: &BTreeSet<&str>) {
        lock(&self.shown).retain(|name, _| names.contains(name.as_str()));
        lock(&self.manifests).retain(|name, _| names.contains(name.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn a_stamp_changes_with_any_write_and_settles() {
        let root = tempfile::tempdir().unwrap();
        let public = root.path().join(PUBLIC_DIR);
        fs::create_dir_all(&public).unwrap();
        fs::write(public.join("manifest.json"), "{}").unwrap();
        let first = Stamp::of(root.path()).unwrap();
        assert!(!first.settled(), "just written");
        let later = Stamp::of(root.path()).unwrap();
        assert!(first.same(&later), "nothing changed");
        fs::write(public.join("substitutions.json"), "{}").unwrap();
        assert!(!later.same(&Stamp::of(root.path()).unwrap()), "a file added");
        std::thread::sleep(SETTLE + Duration::from_millis(20));
        assert!(Stamp::of(root.path()).unwrap().settled());
    }
}
