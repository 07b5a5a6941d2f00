//! Helm charts and kustomizations as scan inputs. The library finds them (a directory
//! with `Chart.yaml` or `kustomization.yaml`, see [`crate::input::discover_all`]) and
//! never parses their templates as manifests; rendering is the caller's: a [`Render`]
//! given to the builder turns one into documents (the `tollgate` binary runs `helm
//! template` or `kustomize build`). Without one, each is an input error that says how to
//! render it by hand.

use std::path::Path;

use crate::input::{RenderKind, Renderable};
pub use crate::pipeline::{Document, Render};

/// `helm template`'s output as documents, one per template file: helm heads every
/// document with `# Source: CHART/templates/FILE`, which is named here under the chart's
/// directory (`charts/web/templates/deployment.yaml`), so a finding names the template
/// file and the chart. Documents without a `# Source:` line (kustomize writes none) are
/// named `fallback`.
pub fn split_rendered(dir: &Path, output: &str, fallback: &str) -> Vec<Document> {
    let mut docs: Vec<Document> = Vec::new();
    for text in output.split("\n---").map(|d| d.trim_start_matches("---")) {
        if text.trim().is_empty() {
            continue;
        }
        let name = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("# Source: "))
            .map(|source| {
                // CHART/templates/x.yaml: the chart's name, then its path in the chart.
                let inside = source.split_once('/').map_or(source, |(_, rest)| rest);
                dir.join(inside).display().to_string()
            })
            .unwrap_or_else(|| fallback.to_string());
        let body = format!("---\n{}\n", text.trim_start_matches('\n'));
        match docs.last_mut() {
            Some(last) if last.name == name => last.bytes.extend_from_slice(body.as_bytes()),
            _ => docs.push(Document {
                name,
                bytes: body.into_bytes(),
                json: false,
            }),
        }
    }
    docs
}

/// The file a kustomization's findings are reported under.
pub fn kustomization_file(r: &Renderable) -> String {
    debug_assert_eq!(r.kind, RenderKind::Kustomization);
    ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .map(|f| r.dir.join(f))
        .find(|p| p.is_file())
        .unwrap_or_else(|| r.dir.join("kustomization.yaml"))
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_output_is_split_by_source_under_the_chart_directory() {
        let out = "---\n# Source: web/templates/service.yaml\napiVersion: v1\nkind: Service\n---\n# Source: web/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\n---\n# Source: web/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\n";
        let docs = split_rendered(Path::new("charts/web"), out, "x");
        let names: Vec<&str> = docs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "charts/web/templates/service.yaml",
                "charts/web/templates/deployment.yaml"
            ]
        );
        let second = String::from_utf8(docs[1].bytes.clone()).unwrap();
        assert_eq!(second.matches("kind: Deployment").count(), 2, "{second}");
        let plain = split_rendered(
            Path::new("k"),
            "kind: A\n---\nkind: B\n",
            "k/kustomization.yaml",
        );
        assert_eq!(plain.len(), 1);
        assert_eq!(plain[0].name, "k/kustomization.yaml");
    }
}
