//! trivy's ignore files as exemptions, so that a team moving from trivy keeps the
//! findings it has accepted: `.trivyignore` (one id per line, `#` comments, an optional
//! `exp:YYYY-MM-DD`) and `.trivyignore.yaml` (its `misconfigurations:` entries with
//! `id`, `paths`, `statement`, `expired_at`; the other sections are about other
//! scanners and are not read).
//!
//! Each entry becomes an [`Exemption`] with its own source (`FILE line N`,
//! `FILE misconfigurations[i]`), reported like every exemption: active, expired or
//! stale. The reason is the entry's statement, for `.trivyignore` the comment lines
//! right above it (trivy's documentation writes the reason there); an entry with
//! neither says where it came from. `paths` are globs on the scanned file, relative
//! to the directory of the ignore file.
//!
//! Threat model: an ignore file lies in the repository being scanned, so it is the
//! repository owner's word, as the `tollgate.dev/exempt` annotation is; it can only
//! mark findings as accepted, never hide them (they stay in the report with the
//! reason). It is read within a size limit; a line or entry that cannot be read is an
//! error naming the file and the line, never skipped silently.

use std::path::Path;

use serde::Deserialize;

use crate::clock::Date;
use crate::config::{ConfigError, Exemption};

/// The names looked for in a scanned directory.
pub const FILE_NAMES: [&str; 2] = [".trivyignore", ".trivyignore.yaml"];

/// Largest ignore file read.
const MAX_BYTES: u64 = 1 << 20;

/// An ignore file's exemptions, each with where it came from.
pub fn read(path: &Path) -> Result<Vec<(String, Exemption)>, ConfigError> {
    let label = path.display().to_string();
    let err = |key: String, message: String| ConfigError {
        file: label.clone(),
        key,
        message,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| err(String::new(), format!("cannot read: {e}")))?
        .len();
    if size > MAX_BYTES {
        return Err(err(
            String::new(),
            format!(
                "is larger than the {} KiB limit of an ignore file",
                MAX_BYTES >> 10
            ),
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| err(String::new(), format!("cannot read: {e}")))?;
    let base = path.parent().unwrap_or(Path::new(""));
    let yaml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if yaml {
        parse_yaml(&label, base, &text)
    } else {
        parse_lines(&label, &text)
    }
}

/// `.trivyignore`: `ID [exp:YYYY-MM-DD]` per line; `#` comments.
pub fn parse_lines(label: &str, text: &str) -> Result<Vec<(String, Exemption)>, ConfigError> {
    let mut out = Vec::new();
    let mut comment: Vec<&str> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(c) = line.strip_prefix('#') {
            comment.push(c.trim());
            continue;
        }
        if line.is_empty() {
            comment.clear();
            continue;
        }
        // An id, then optional fields; a `#` after them starts a comment.
        let content = line.split_once('#').map_or(line, |(c, _)| c).trim();
        let mut words = content.split_whitespace();
        let id = words.next().unwrap_or_default();
        let source = format!("{label} line {}", i + 1);
        let mut expires = None;
        for w in words {
            match w.strip_prefix("exp:") {
                Some(d) => {
                    expires = Some(d.parse::<Date>().map_err(|e| ConfigError {
                        file: label.to_string(),
                        key: format!("line {}", i + 1),
                        message: format!(": exp:{d}: {e}"),
                    })?)
                }
                None => {
                    return Err(ConfigError {
                        file: label.to_string(),
                        key: format!("line {}", i + 1),
                        message: format!(
                            ": expected `ID [exp:YYYY-MM-DD]`, found '{w}' after the id"
                        ),
                    })
                }
            }
        }
        let statement = comment.join(" ");
        comment.clear();
        out.push((
            source.clone(),
            Exemption {
                checks: vec![id.to_string()],
                kind: None,
                namespace: None,
                name: None,
                paths: Vec::new(),
                reason: if statement.is_empty() {
                    format!("listed in {source}")
                } else {
                    statement
                },
                expires,
            },
        ));
    }
    Ok(out)
}

#[derive(Deserialize)]
struct IgnoreYaml {
    #[serde(default)]
    misconfigurations: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    statement: Option<String>,
    #[serde(default)]
    expired_at: Option<Date>,
    /// trivy accepts package URLs for vulnerabilities; meaningless for a manifest.
    #[serde(default)]
    #[allow(dead_code)]
    purls: Vec<String>,
}

/// `.trivyignore.yaml`: the `misconfigurations:` section.
pub fn parse_yaml(
    label: &str,
    base: &Path,
    text: &str,
) -> Result<Vec<(String, Exemption)>, ConfigError> {
    let doc: IgnoreYaml = serde_saphyr::from_str(text).map_err(|e| ConfigError {
        file: label.to_string(),
        key: String::new(),
        message: format!(": {e}"),
    })?;
    let prefix = base.to_string_lossy();
    let prefix = prefix.trim_start_matches("./").trim_end_matches('/');
    Ok(doc
        .misconfigurations
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let source = format!("{label} misconfigurations[{i}]");
            let paths = e
                .paths
                .iter()
                .map(|p| {
                    let p = p.trim_start_matches("./");
                    if prefix.is_empty() || prefix == "." {
                        p.to_string()
                    } else {
                        format!("{prefix}/{p}")
                    }
                })
                .collect();
            let reason = e
                .statement
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| format!("listed in {source}"));
            (
                source,
                Exemption {
                    checks: vec![e.id],
                    kind: None,
                    namespace: None,
                    name: None,
                    paths,
                    reason,
                    expires: e.expired_at,
                },
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trivyignore_lines_take_ids_expiry_and_the_comment_above_as_reason() {
        // The example of trivy's documentation, with misconfiguration ids.
        let text = "# Accept the risk\nKSV001\n\n# Accept the risk until 2023-01-01\nKSV-0011 exp:2023-01-01\n\nAVD-KSV-0014\n";
        let got = parse_lines(".trivyignore", text).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].0, ".trivyignore line 2");
        assert_eq!(got[0].1.checks, ["KSV001"]);
        assert_eq!(got[0].1.reason, "Accept the risk");
        assert_eq!(got[1].1.expires.unwrap().to_string(), "2023-01-01");
        assert_eq!(got[1].1.reason, "Accept the risk until 2023-01-01");
        assert_eq!(got[2].1.reason, "listed in .trivyignore line 7");
        let bad = parse_lines(".trivyignore", "KSV001 exp:2023-02-31\n").unwrap_err();
        assert!(bad.to_string().contains(".trivyignore: line 1"), "{bad}");
        let bad = parse_lines(".trivyignore", "KSV001 because\n").unwrap_err();
        assert!(bad.to_string().contains("found 'because'"), "{bad}");
    }

    #[test]
    fn trivyignore_yaml_reads_misconfigurations_with_paths_under_its_directory() {
        let text = "vulnerabilities:\n  - id: CVE-2022-40897\nmisconfigurations:\n  - id: KSV001\n  - id: AVD-KSV-0014\n    paths:\n      - \"k8s/*.yaml\"\n    statement: The image needs a writable root\n    expired_at: 2030-01-01\n";
        let got = parse_yaml("repo/.trivyignore.yaml", Path::new("repo"), text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].1.reason,
            "listed in repo/.trivyignore.yaml misconfigurations[0]"
        );
        assert_eq!(got[1].1.paths, ["repo/k8s/*.yaml"]);
        assert_eq!(got[1].1.reason, "The image needs a writable root");
        assert!(got[1].1.expires.is_some());
        let bad = parse_yaml(
            "x.yaml",
            Path::new(""),
            "misconfigurations:\n  - idd: KSV001\n",
        );
        assert!(bad.is_err());
    }
}
