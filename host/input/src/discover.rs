//! Which files a scan reads: every path given, directories walked recursively for
//! `*.yaml`, `*.yml` and `*.json`, in a stable (sorted) order. A directory that is a
//! Helm chart (it holds `Chart.yaml`) or a kustomization (`kustomization.yaml`,
//! `kustomization.yml` or `Kustomization`) is not walked: its files are templates and
//! values, not manifests, and it is returned as a [`Renderable`] for the caller to
//! render (or to say how).

use std::path::{Path, PathBuf};

use crate::InputError;

/// What a directory renders with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderKind {
    /// `Chart.yaml`: `helm template`.
    Chart,
    /// `kustomization.yaml`: `kustomize build` or `kubectl kustomize`.
    Kustomization,
}

/// A directory whose manifests come out of a renderer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renderable {
    pub dir: PathBuf,
    pub kind: RenderKind,
}

impl Renderable {
    /// How to render it by hand and scan the result: the advice an error gives.
    pub fn by_hand(&self) -> String {
        let dir = self.dir.display();
        match self.kind {
            RenderKind::Chart => format!(
                "a Helm chart: render it and scan the result: helm template {dir} | tollgate scan -"
            ),
            RenderKind::Kustomization => format!(
                "a kustomization: render it and scan the result: kubectl kustomize {dir} | tollgate scan -"
            ),
        }
    }
}

/// The files of a kustomization, by the names kustomize looks for.
const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Whether `dir` is a chart or a kustomization.
pub fn render_kind(dir: &Path) -> Option<RenderKind> {
    if dir.join("Chart.yaml").is_file() {
        return Some(RenderKind::Chart);
    }
    KUSTOMIZATION_FILES
        .iter()
        .any(|f| dir.join(f).is_file())
        .then_some(RenderKind::Kustomization)
}

/// The manifest files and the renderable directories under `paths`.
#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<PathBuf>,
    pub renderables: Vec<Renderable>,
}

/// The files to read for `paths` ("-" is stdin and kept as is); paths that cannot be
/// read are reported in `errors` and left out, and so is every chart or kustomization,
/// with an error that says how to render it.
pub fn discover(paths: &[PathBuf], errors: &mut Vec<InputError>) -> Vec<PathBuf> {
    let found = discover_all(paths, errors);
    for r in &found.renderables {
        errors.push(InputError {
            file: r.dir.display().to_string(),
            document: None,
            message: r.by_hand(),
        });
    }
    found.files
}

/// The files to read for `paths`, and the charts and kustomizations among them.
pub fn discover_all(paths: &[PathBuf], errors: &mut Vec<InputError>) -> Discovered {
    let mut out = Discovered::default();
    for p in paths {
        if p.as_os_str() == "-" {
            out.files.push(p.clone());
            continue;
        }
        match std::fs::metadata(p) {
            Err(e) => errors.push(InputError {
                file: p.display().to_string(),
                document: None,
                message: format!("cannot read: {e}"),
            }),
            Ok(m) if m.is_dir() => {
                let mut renderables = Vec::new();
                let mut found: Vec<PathBuf> = walkdir::WalkDir::new(p)
                    .sort_by_file_name()
                    .into_iter()
                    .filter_entry(|e| {
                        if !e.file_type().is_dir() {
                            return true;
                        }
                        match render_kind(e.path()) {
                            Some(kind) => {
                                renderables.push(Renderable {
                                    dir: e.path().to_path_buf(),
                                    kind,
                                });
                                false
                            }
                            None => true,
                        }
                    })
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
                out.files.extend(found);
                out.renderables.extend(renderables);
            }
            Ok(_) => out.files.push(p.clone()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_and_kustomizations_are_not_walked_but_returned() {
        let root = tempfile::tempdir().unwrap();
        let w = |rel: &str| {
            let p = root.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "kind: X\n").unwrap();
        };
        w("plain/pod.yaml");
        w("chart/Chart.yaml");
        w("chart/values.yaml");
        w("chart/templates/deployment.yaml");
        w("overlay/kustomization.yaml");
        w("overlay/patch.yaml");
        let mut errors = Vec::new();
        let got = discover_all(&[root.path().to_path_buf()], &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(got.files, [root.path().join("plain/pod.yaml")]);
        assert_eq!(
            got.renderables,
            [
                Renderable {
                    dir: root.path().join("chart"),
                    kind: RenderKind::Chart
                },
                Renderable {
                    dir: root.path().join("overlay"),
                    kind: RenderKind::Kustomization
                },
            ]
        );
        // The chart given itself is a chart too; without a renderer, an error says how.
        let mut errors = Vec::new();
        let files = discover(&[root.path().join("chart")], &mut errors);
        assert!(files.is_empty());
        assert!(
            errors[0].message.contains("helm template")
                && errors[0].message.contains("tollgate scan -"),
            "{errors:?}"
        );
    }
}
