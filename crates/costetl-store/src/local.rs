//! A directory store's writing side. A directory cannot compare versions
//! the way S3's conditional PUT does, so the compare-and-write of
//! [`EtlStore::put`](crate::EtlStore::put) runs under an exclusive lock: an
//! advisory lock file for other processes, an async mutex for other tasks
//! of this one. Files are written durably (the file and its directory
//! fsynced) and atomically (written beside, then renamed), and the staging
//! files of a writer killed mid-write are removed by the next one: under
//! the lock, any staging file is an orphan.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use futures::lock::{Mutex, MutexGuard};

/// The lock file, at the store's root (outside `allocations/`, so listings
/// never see it).
const LOCK_FILE: &str = ".costetl.lock";

/// Suffix of this crate's staging files; object_store's own are
/// `<file>#<n>`.
const STAGING_SUFFIX: &str = ".costetl-staging";

/// The root directory of a local store and its writers' lock.
#[derive(Debug)]
pub(crate) struct LocalDir {
    root: PathBuf,
    /// Writers of this process, one at a time (the file lock is per
    /// process, and taking it twice from one thread would wait forever).
    gate: Mutex<()>,
}

/// Held while a writer compares and writes; dropping it unlocks.
pub(crate) struct WriteLock<'a> {
    _gate: MutexGuard<'a, ()>,
    _file: File,
}

impl LocalDir {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self {
            root,
            gate: Mutex::new(()),
        }
    }

    /// The exclusive lock of the store's writers. Waits for another
    /// process's writer to finish (a put is milliseconds).
    pub(crate) async fn lock(&self) -> io::Result<WriteLock<'_>> {
        let gate = self.gate.lock().await;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join(LOCK_FILE))?;
        file.lock()?;
        Ok(WriteLock {
            _gate: gate,
            _file: file,
        })
    }

    /// Writes `bytes` to `relative` (a store path), durably and atomically:
    /// a staging file beside it, fsynced, renamed over it, the directory
    /// fsynced. Call it under [`LocalDir::lock`].
    pub(crate) fn write(&self, relative: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.root.join(relative);
        let dir = path
            .parent()
            .ok_or_else(|| io::Error::other(format!("{} has no directory", path.display())))?;
        fs::create_dir_all(dir)?;
        // `.<name>.costetl-staging`: the leading dot hides it from engines
        // reading the partition directory while it is written.
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let staging = dir.join(format!(".{name}{STAGING_SUFFIX}"));
        {
            let mut f = File::create(&staging)?;
            f.write_all(bytes)?;
            crate::failpoint("store-staged");
            f.sync_all()?;
        }
        crate::failpoint("store-before-rename");
        fs::rename(&staging, &path)?;
        File::open(dir)?.sync_all()
    }

    /// Removes the staging files a killed writer left in the directory of
    /// `relative` (this crate's and object_store's). Call it under
    /// [`LocalDir::lock`]; returns how many were removed.
    pub(crate) fn remove_orphans(&self, relative: &str) -> io::Result<usize> {
        let path = self.root.join(relative);
        let Some(dir) = path.parent() else {
            return Ok(0);
        };
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry?;
            if is_staging(&entry.path()) {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

fn is_staging(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    // object_store stages `<file>#<n>`; ETL names never hold a `#`.
    name.ends_with(STAGING_SUFFIX) || name.contains('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_atomically_and_orphans_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalDir::new(dir.path().to_owned());
        let rel = "allocations/resolution=1d/cluster=c/day=1970-01-01/0-86400.parquet";
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let _lock = local.lock().await.unwrap();
            local.write(rel, b"one").unwrap();
            local.write(rel, b"two").unwrap();
        });
        let file = dir.path().join(rel);
        assert_eq!(fs::read(&file).unwrap(), b"two");
        let parent = file.parent().unwrap();
        fs::write(parent.join("0-86400.parquet#17"), b"x").unwrap();
        fs::write(parent.join("1-2.parquet.costetl-staging"), b"x").unwrap();
        assert_eq!(local.remove_orphans(rel).unwrap(), 2);
        let left: Vec<_> = fs::read_dir(parent)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["0-86400.parquet"]);
        assert!(dir.path().join(LOCK_FILE).exists());
    }
}
