//! What `stat` says of a file in the local caches (`snapshots/`,
//! `publications/`), so that a file already hashed or read is trusted again
//! only while it is untouched. Any write, truncation, rename over it or new
//! link moves one of these; a write that sets the modification time back
//! still moves the status-change time, which no ordinary call sets.

use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    /// Modification and status-change times, in nanoseconds since 1970.
    modified: i128,
    changed: i128,
}

impl FileStamp {
    pub fn of(meta: &Metadata) -> FileStamp {
        let nanos = |secs: i64, nsec: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.size(),
            modified: nanos(meta.mtime(), meta.mtime_nsec()),
            changed: nanos(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The stamp of the file at `path`; `None` when there is none.
    pub fn read(path: &Path) -> io::Result<Option<FileStamp>> {
        match std::fs::metadata(path) {
            Ok(meta) => Ok(Some(FileStamp::of(&meta))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the file last changed at least `window` before `at`. A file
    /// changed within the tick of its filesystem's times can keep the stamp
    /// it had, so only a settled stamp vouches for the bytes read with it.
    pub fn settled(&self, at: SystemTime, window: Duration) -> bool {
        let Ok(at) = at.duration_since(SystemTime::UNIX_EPOCH) else {
            return false;
        };
        self.modified.max(self.changed) + window.as_nanos() as i128 <= at.as_nanos() as i128
    }
}
