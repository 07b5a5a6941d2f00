//! Pulled plugins, content-addressed: manifests, configs, components and signature
//! payloads under `<cache>/oci/blobs/sha256/<hex>`, and each manifest's signature
//! manifest under `<cache>/oci/signatures/sha256-<hex>.sig`. A digest in hand is then
//! served without the network (air-gapped scans, pinned digests, locked tags).
//!
//! The same ownership rule as the compiled-plugin cache applies: the directory must be
//! this user's and not writable by others, or nothing is stored. Every read is hashed
//! again, so a file changed on disk is a miss, never a different plugin.

use std::io::Write;
use std::path::{Path, PathBuf};

use tollgate_private_dir::{create_private, is_private_file};

use super::reference::{is_sha256_digest, sha256_digest};

pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store under a cache root, or None when it cannot be made private.
    pub fn open(cache_root: &Path) -> Option<Store> {
        let dir = cache_root.join("oci");
        create_private(cache_root)?;
        create_private(&dir)?;
        create_private(&dir.join("blobs"))?;
        create_private(&dir.join("blobs").join("sha256"))?;
        create_private(&dir.join("signatures"))?;
        Some(Store { dir })
    }

    fn blob_path(&self, digest: &str) -> Option<PathBuf> {
        is_sha256_digest(digest).then(|| self.dir.join("blobs").join("sha256").join(&digest[7..]))
    }

    /// The bytes stored for a digest, if they are there and still hash to it.
    pub fn get(&self, digest: &str) -> Option<Vec<u8>> {
        let path = self.blob_path(digest)?;
        if !is_private_file(&path) {
            return None;
        }
        let bytes = std::fs::read(&path).ok()?;
        if sha256_digest(&bytes) != digest {
            let _ = std::fs::remove_file(&path);
            return None;
        }
        Some(bytes)
    }

    /// Stores bytes under their digest (the caller has checked it).
    pub fn put(&self, digest: &str, bytes: &[u8]) {
        if let Some(path) = self.blob_path(digest) {
            if sha256_digest(bytes) == digest {
                write_atomic(&path, bytes);
            }
        }
    }

    /// A private file in the store to download into; [`Pending::commit`] moves it
    /// under its digest once the download is checked, and dropping it removes it, so a
    /// refused download leaves nothing behind.
    pub fn pending(&self) -> std::io::Result<Pending> {
        use std::os::unix::fs::OpenOptionsExt;
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = self
            .dir
            .join("blobs")
            .join("sha256")
            .join(format!(".pending.{}.{n}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        Ok(Pending {
            path,
            file: Some(file),
        })
    }

    fn signatures_path(&self, digest: &str) -> Option<PathBuf> {
        is_sha256_digest(digest).then(|| {
            self.dir
                .join("signatures")
                .join(format!("sha256-{}.sig", &digest[7..]))
        })
    }

    /// The signature manifest last fetched for a manifest digest.
    pub fn signatures(&self, digest: &str) -> Option<Vec<u8>> {
        let path = self.signatures_path(digest)?;
        is_private_file(&path)
            .then(|| std::fs::read(&path).ok())
            .flatten()
    }

    pub fn put_signatures(&self, digest: &str, manifest: &[u8]) {
        if let Some(path) = self.signatures_path(digest) {
            write_atomic(&path, manifest);
        }
    }
}

/// A download on its way into the store (see [`Store::pending`]).
pub struct Pending {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl super::download::Sink for Pending {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(bytes),
            None => Err(std::io::Error::other("already committed")),
        }
    }
}

impl Pending {
    /// Moves the checked download under `digest` in `store`.
    pub fn commit(mut self, store: &Store, digest: &str) -> std::io::Result<()> {
        let target = store
            .blob_path(digest)
            .ok_or_else(|| std::io::Error::other(format!("not a sha256 digest: {digest}")))?;
        if let Some(f) = self.file.take() {
            f.sync_all()?;
        }
        std::fs::rename(&self.path, target)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // Committed: the path is gone; refused: the partial download goes.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Write then rename, so a concurrent run never reads half a file.
fn write_atomic(path: &Path, bytes: &[u8]) {
    let Some(name) = path.file_name() else { return };
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = std::fs::File::create(&tmp).and_then(|mut f| f.write_all(bytes));
    if written.is_ok() {
        let _ = std::fs::rename(&tmp, path);
    } else {
        let _ = std::fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_what_still_hashes_to_its_digest() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path()).unwrap();
        let digest = sha256_digest(b"component");
        assert!(store.get(&digest).is_none());
        store.put(&digest, b"component");
        assert_eq!(store.get(&digest).as_deref(), Some(&b"component"[..]));
        // A file changed on disk is a miss, and is removed.
        let path = store.blob_path(&digest).unwrap();
        std::fs::write(&path, b"tampered").unwrap();
        assert!(store.get(&digest).is_none());
        assert!(!path.exists());
        // Bytes that do not match the digest are not stored.
        store.put(&digest, b"other");
        assert!(store.get(&digest).is_none());
    }
}
