//! Blobs as files under `<data_dir>/blobs/`. A write goes to a temp file that is fsynced and
//! then renamed over its key, so after a crash a key holds either the old bytes or the new
//! ones, never a torn file.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tessera_backend::{BackendError, Result};

/// Directory, inside the blob root, of writes in progress. Its name starts with a '.', which
/// key segments never map to, so no key can reach it.
const TMP_DIR: &str = ".tmp";

/// Makes temp file names unique within the process (the pid separates processes).
static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

fn io_err(context: &str, path: &Path) -> impl FnOnce(std::io::Error) -> BackendError {
    let context = format!("{context} {}", path.display());
    move |e| BackendError::Storage(format!("{context}: {e}"))
}

/// The blob files of one data directory.
#[derive(Debug)]
pub(crate) struct BlobStore {
    root: PathBuf,
}

/// Bytes written and fsynced to a temp file, not yet visible under any key. Dropping it
/// without [`BlobStore::commit`] deletes the temp file.
#[derive(Debug)]
pub(crate) struct Staged {
    tmp: Option<PathBuf>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = fs::remove_file(tmp);
        }
    }
}

impl BlobStore {
    /// Opens (creating) the blob root, dropping temp files left by a crashed process.
    pub(crate) fn open(root: PathBuf) -> Result<Self> {
        let tmp = root.join(TMP_DIR);
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io_err("clearing temp blobs in", &tmp))?;
        }
        fs::create_dir_all(&tmp).map_err(io_err("creating blob dir", &tmp))?;
        Ok(BlobStore { root })
    }

    /// The file that holds `key`. Keys are '/'-separated; each segment is percent-encoded
    /// into a safe file name. Empty, `.` and `..` segments and absolute keys are refused.
    pub(crate) fn path_of(&self, key: &str) -> Result<PathBuf> {
        if key.is_empty() || key.starts_with('/') || key.starts_with('\\') {
            return Err(BackendError::Conflict(format!("invalid blob key {key:?}")));
        }
        let mut path = self.root.clone();
        for segment in key.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(BackendError::Conflict(format!("invalid blob key {key:?}")));
            }
            path.push(encode_segment(segment));
        }
        Ok(path)
    }

    /// Writes `data` to a fresh temp file and fsyncs it.
    pub(crate) fn stage(&self, data: &[u8]) -> Result<Staged> {
        let seq = TMP_SEQ.fetch_add(1, Ordering::Relaxed);
        let tmp = self.root.join(TMP_DIR).join(format!("{}-{seq}", std::process::id()));
        let staged = Staged { tmp: Some(tmp.clone()) };
        let mut file = File::create(&tmp).map_err(io_err("creating temp blob", &tmp))?;
        file.write_all(data).map_err(io_err("writing temp blob", &tmp))?;
        file.sync_all().map_err(io_err("syncing temp blob", &tmp))?;
        Ok(staged)
    }

    /// Makes staged bytes visible under `key`, replacing what was there, durably.
    pub(crate) fn commit(&self, mut staged: Staged, key: &str) -> Result<()> {
        let target = self.path_of(key)?;
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir).map_err(io_err("creating blob dir", &dir))?;
        let tmp = staged.tmp.take().expect("a staged blob is committed once");
        if let Err(e) = fs::rename(&tmp, &target) {
            let _ = fs::remove_file(&tmp);
            return Err(io_err("renaming blob to", &target)(e));
        }
        // The rename is durable only once the directory entry is.
        File::open(&dir).and_then(|d| d.sync_all()).map_err(io_err("syncing blob dir", &dir))?;
        Ok(())
    }

    /// Stores `data` under `key`.
    pub(crate) fn put(&self, key: &str, data: &[u8]) -> Result<()> {
        self.path_of(key)?;
        let staged = self.stage(data)?;
        self.commit(staged, key)
    }

    /// Reads `key`, or `None` if no blob has that key.
    pub(crate) fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path_of(key)?;
        match fs::read(&path) {
            Ok(data) => Ok(Some(data)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("reading blob", &path)(e)),
        }
    }
}

/// Keeps `[A-Za-z0-9_.-]` (a leading '.' excepted, so no segment names a hidden file or
/// the temp dir) and writes every other byte as `%XX`, so distinct keys map to distinct files.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for (i, b) in segment.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_safe_paths() {
        let dir = std::env::temp_dir().join(format!("tessera-blobs-{}", std::process::id()));
        let store = BlobStore::open(dir.clone()).unwrap();
        assert_eq!(store.path_of("job/ab/in/shot 1.blend").unwrap(), dir.join("job/ab/in/shot%201.blend"));
        assert_eq!(store.path_of("job/.hidden").unwrap(), dir.join("job/%2Ehidden"));
        assert_eq!(store.path_of("a/b%c").unwrap(), dir.join("a/b%25c"));
        for bad in ["", "/etc/passwd", "job/../x", "job//x", "./x", "job/..", "\\x"] {
            assert!(store.path_of(bad).is_err(), "{bad:?} must be refused");
        }
        store.put("a/b", b"x").unwrap();
        assert_eq!(store.get("a/b").unwrap().as_deref(), Some(&b"x"[..]));
        // Uncommitted staged bytes vanish.
        drop(store.stage(b"y").unwrap());
        assert_eq!(fs::read_dir(dir.join(TMP_DIR)).unwrap().count(), 0);
        fs::remove_dir_all(dir).unwrap();
    }
}
