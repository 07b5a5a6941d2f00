//! Embeds the built-in plugin bundle in the binary, so that a copied `tollgate` (or one
//! from `cargo install --path host/cli` after `cargo xtask build`) works with no `plugins/`
//! beside it. The bundle is what `cargo xtask build` wrote: `$TOLLGATE_EMBED_DIR`, else
//! `$CARGO_TARGET_DIR/release/plugins`, else `target/release/plugins` of this workspace.
//! Without one the binary embeds nothing and looks for `plugins/` beside itself, as
//! before. The components' sha256 (the compiled-plugin cache's key) is computed here,
//! once, instead of at every start.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

// The same reading of the plugins' sources as xtask's, which recorded the digest.
mod sources {
    include!("../../xtask/src/sources.rs");
}

fn bundle() -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed=TOLLGATE_EMBED_DIR");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let candidates = [
        std::env::var_os("TOLLGATE_EMBED_DIR").map(PathBuf::from),
        std::env::var_os("CARGO_TARGET_DIR").map(|t| {
            let t = PathBuf::from(t);
            let t = if t.is_absolute() {
                t
            } else {
                manifest.join("../..").join(t)
            };
            t.join("release").join("plugins")
        }),
        Some(manifest.join("../../target/release/plugins")),
    ];
    let found = candidates.iter().flatten().find(|d| d.is_dir()).cloned();
    if found.is_none() {
        // Watched while missing (cargo then reruns this script at every build), so a host
        // built before its first `cargo xtask build` picks the bundle up once it appears.
        for c in candidates.iter().flatten() {
            println!("cargo:rerun-if-changed={}", c.display());
        }
    }
    found
}

fn main() {
    let mut files: Vec<PathBuf> = match bundle() {
        Some(dir) => {
            println!("cargo:rerun-if-changed={}", dir.display());
            std::fs::read_dir(&dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
                        .collect()
                })
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    files.sort();
    warn_if_stale(&files);
    let mut code = String::from("/// The built-in plugins: (file name, component, sha256).\npub static EMBEDDED: &[(&str, &[u8], &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let bytes = std::fs::read(f).unwrap_or_default();
        let sha: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("plugin.wasm");
        let _ = writeln!(
            code,
            "    ({name:?}, include_bytes!({:?}), {sha:?}),",
            abs(f)
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("embedded.rs"), code).expect("write embedded.rs");
}

fn abs(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// Warns when the bundle was built from other sources than the checkout's: a plugin
/// edited since the last `cargo xtask build` would otherwise ship stale without a word.
fn warn_if_stale(files: &[PathBuf]) {
    let Some(dir) = files.first().and_then(|f| f.parent()) else {
        return;
    };
    let Ok(recorded) = std::fs::read_to_string(dir.join("SOURCES")) else {
        return;
    };
    println!("cargo:rerun-if-changed={}", dir.join("SOURCES").display());
    let root =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default()).join("../..");
    let mut dirs: Vec<String> = Vec::new();
    for f in files {
        let name = f.file_stem().and_then(|n| n.to_str()).unwrap_or_default();
        for d in sources::plugin_source_dirs(name) {
            if !dirs.contains(&d) {
                println!("cargo:rerun-if-changed={}", root.join(&d).display());
                dirs.push(d);
            }
        }
    }
    // xtask lists the plugins in its own order; the digest is over sorted files, so the
    // order of the directories does not matter.
    if sources::sources_digest(&root, &dirs) != recorded.trim() {
        println!(
            "cargo:warning=the embedded plugins in {} were built from other sources than \
             plugins/: run `cargo xtask build` to rebuild them",
            dir.canonicalize()
                .unwrap_or_else(|_| dir.to_path_buf())
                .display()
        );
    }
}
