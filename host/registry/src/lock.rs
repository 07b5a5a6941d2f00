//! `tollgate.lock`: the manifest digest each registry reference resolved to when
//! `tollgate plugin lock` ran. With a lock, a scan runs exactly those digests (from the
//! cache, without the network, when they are there), and a tag that has since moved is
//! refused naming both digests until the lock is updated.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const FILE: &str = "tollgate.lock";

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub version: u32,
    /// Reference as written (`oci://...:tag`) → manifest digest.
    pub plugins: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}: cannot read the lock file: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: not a tollgate lock file: {reason}; delete it and run `tollgate plugin lock`", path.display())]
    Format { path: PathBuf, reason: String },
    #[error("{}: cannot write the lock file: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Where the lock lives: beside the configuration file, else in the working directory.
pub fn path_for(config_file: Option<&Path>) -> PathBuf {
    match config_file.and_then(Path::parent) {
        Some(dir) => dir.join(FILE),
        None => PathBuf::from(FILE),
    }
}

impl Lock {
    /// The lock at `path`, or None when there is no such file.
    pub fn read(path: &Path) -> Result<Option<Lock>, LockError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(LockError::Read {
                    path: path.to_path_buf(),
                    error,
                })
            }
        };
        let lock: Lock = serde_saphyr::from_str(&text).map_err(|e| LockError::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if let Some((r, d)) = lock
            .plugins
            .iter()
            .find(|(_, d)| !super::reference::is_sha256_digest(d))
        {
            return Err(LockError::Format {
                path: path.to_path_buf(),
                reason: format!("{r}: {d} is not a sha256 digest"),
            });
        }
        Ok(Some(lock))
    }

    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        let mut text = String::from(
            "# Written by `tollgate plugin lock`: the manifest digest of every registry plugin.\n\
             # Commit it; run `tollgate plugin lock` again to move to new versions.\n",
        );
        text.push_str(&format!("version: {}\nplugins:\n", self.version.max(1)));
        for (r, d) in &self.plugins {
            text.push_str(&format!(
                "  {}: {d}\n",
                serde_json::to_string(r).unwrap_or_default()
            ));
        }
        std::fs::write(path, text).map_err(|error| LockError::Write {
            path: path.to_path_buf(),
            error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        assert!(Lock::read(&path).unwrap().is_none());
        let d = format!("sha256:{}", "b".repeat(64));
        let lock = Lock {
            version: 1,
            plugins: BTreeMap::from([("oci://r.example:5000/p:1.0".to_string(), d.clone())]),
        };
        lock.write(&path).unwrap();
        let back = Lock::read(&path).unwrap().unwrap();
        assert_eq!(back.plugins["oci://r.example:5000/p:1.0"], d);
        std::fs::write(&path, "version: 1\nplugins:\n  x: sha256:12\n").unwrap();
        let e = Lock::read(&path).unwrap_err().to_string();
        assert!(e.contains("not a sha256 digest"), "{e}");
    }
}
