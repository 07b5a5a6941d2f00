//! Which files a scan reads: every path given, directories walked recursively for
//! `*.yaml`, `*.yml` and `*.json`, in a stable (sorted) order.

use std::path::{Path, PathBuf};

use crate::InputError;

/// The files to read for `paths` ("-" is stdin and kept as is); paths that cannot be
/// read are reported in `errors` and left out.
pub fn discover(paths: &[PathBuf], errors: &mut Vec<InputError>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(p.clone());
            continue;
        }
        match std::fs::metadata(p) {
            Err(e) => errors.push(InputError {
                file: p.display().to_string(),
                document: None,
                message: format!("cannot read: {e}"),
            }),
            Ok(m) if m.is_dir() => {
                let mut found: Vec<PathBuf> = walkdir::WalkDir::new(p)
                    .sort_by_file_name()
                    .into_iter()
                    .filter_map(|entry| match entry {
                        Ok(e) => Some(e),
                        Err(e) => {
                            errors.push(InputError {
                                file: e.path().unwrap_or(p).display().to_string(),
                                document: None,
                                message: format!("cannot read: {e}"),
                            });
                            None
                        }
                    })
                    .filter(|e| e.file_type().is_file() && is_manifest(e.path()))
                    .map(|e| e.into_path())
                    .collect();
                found.sort();
                out.extend(found);
            }
            Ok(_) => out.push(p.clone()),
        }
    }
    out
}

fn is_manifest(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("yaml" | "yml" | "json")
    )
}
