//! On-disk cache of compiled plugins.
//!
//! Compiling a plugin costs tens of milliseconds for a Rust plugin and seconds for a
//! Python or JavaScript one; loading a compiled artifact costs microseconds. Artifacts
//! are keyed by the plugin's sha256 and the engine's compatibility hash (wasmtime
//! version and every setting that shapes the code), so a changed plugin, engine or
//! configuration never loads a stale artifact.
//!
//! A compiled artifact is native code that wasmtime runs without verification, so the
//! cache is only used when nobody else can write to it: the directory must belong to
//! the current user and not be writable by group or others. Otherwise plugins are
//! compiled in memory on every run.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use tollgate_private_dir::{create_private, is_private_file};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Where compiled plugins are kept: `$TOLLGATE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/tollgate`, else `~/.cache/tollgate`.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("TOLLGATE_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("tollgate"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("tollgate"))
}

pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// Opens (creating if needed) the cache for this engine, or None if the directory
    /// cannot be made private to this user.
    pub fn open(root: &Path, engine: &Engine) -> Option<Cache> {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let dir = root.join(format!("{:016x}", h.finish()));
        create_private(root)?;
        create_private(&dir)?;
        Some(Cache { dir })
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.cwasm"))
    }

    /// A compiled component for these bytes, from the cache or freshly compiled (and
    /// then stored).
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        sha256: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<Component> {
        let path = self.path(sha256);
        if is_private_file(&path) {
            // SAFETY: the artifact was written by this program into a directory only
            // this user can write, under a key that includes the engine's
            // compatibility hash; wasmtime additionally checks its header.
            if let Ok(c) = unsafe { Component::deserialize_file(engine, &path) } {
                return Ok(c);
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Ok(artifact) = component.serialize() {
            // Write then rename, so a concurrent run never reads a half-written file.
            let tmp = self
                .dir
                .join(format!(".{sha256}.{}.tmp", std::process::id()));
            let written = std::fs::File::create(&tmp).and_then(|mut f| f.write_all(&artifact));
            if written.is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            } else {
                let _ = std::fs::remove_file(&tmp);
            }
        }
        Ok(component)
    }
}
