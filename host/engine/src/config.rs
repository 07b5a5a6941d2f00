//! The configuration file (`tollgate.yaml` in the working directory, or `--config FILE`):
//! extra plugins, per-plugin settings, checks switched on or off, severity overrides,
//! the failure threshold, namespaces and kinds to scan, limits, and exemptions.
//! Unknown keys and bad values are refused with the file, the key and what is expected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tollgate_runtime::Severity;

use crate::clock::Date;

pub const DEFAULT_FILE: &str = "tollgate.yaml";

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Plugins loaded besides the built-in bundle.
    pub plugins: Vec<PluginEntry>,
    /// Settings per plugin name, passed to the plugin as JSON.
    pub settings: BTreeMap<String, serde_json::Value>,
    pub checks: ChecksConfig,
    /// Severity per check id (any alias): LOW, MEDIUM, HIGH or CRITICAL.
    pub severity: BTreeMap<String, Severity>,
    /// Lowest severity of a failed check that makes the exit status 1.
    pub fail_on: Option<Severity>,
    pub namespaces: Filter,
    pub kinds: Filter,
    pub limits: LimitsConfig,
    pub exemptions: Vec<Exemption>,
    /// How `tollgate serve` decides admission reviews.
    pub admission: AdmissionConfig,
    /// Which registry plugins may run: repositories, signing keys, unsigned ones.
    #[cfg(feature = "oci")]
    pub trust: crate::registry::TrustConfig,
    /// Taken and unused in a build without registry support.
    #[cfg(not(feature = "oci"))]
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub trust: serde_json::Value,
    /// A scan ignores `tollgate.dev/exempt` annotations (CI that gates other teams'
    /// manifests); only this file's exemptions apply. `serve` always ignores them
    /// unless `admission.annotation_exemptions` allows them.
    pub ignore_annotation_exemptions: bool,
    /// The Kubernetes version the manifests are meant for (`1.29.0`), given to every
    /// plugin that says it takes `k8s_version` (deprecated APIs, version-gated checks);
    /// flag: `--k8s-version`. Absent: as `trivy config` (no version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k8s_version: Option<String>,
}

/// `admission:`: what the webhook (`tollgate serve`) does with findings and failures.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdmissionConfig {
    /// Failed checks of this severity or worse deny the request [HIGH].
    pub deny_on: Option<Severity>,
    /// Failed checks below `deny_on` and at or above this become warnings [LOW].
    pub warn_on: Option<Severity>,
    /// `enforce` [default], or `audit`: never deny; what would deny becomes a warning.
    pub mode: Option<AdmissionMode>,
    /// What a plugin error or a missed deadline does: `fail` (deny) [default] or
    /// `ignore` (allow, with a warning).
    pub failure_policy: Option<FailurePolicy>,
    /// Time to answer one review, in milliseconds [2000].
    pub deadline_ms: Option<u64>,
    /// Where a `tollgate.dev/exempt` annotation on the reviewed object may waive a
    /// check. None by default: the object under review cannot exempt itself.
    pub annotation_exemptions: Vec<AnnotationGrant>,
}

/// `admission.annotation_exemptions[i]`: the checks an annotation may waive, and where.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnnotationGrant {
    /// Check ids (any alias), or `*` for every check below `deny_on` (a check at or
    /// above `deny_on` must be named).
    pub checks: Vec<String>,
    /// Namespace globs; empty or absent: every namespace.
    #[serde(default)]
    pub namespaces: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AdmissionMode {
    /// Deny what fails at or above `deny_on`.
    Enforce,
    /// Never deny: report what would be denied as warnings.
    Audit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// Deny when the object could not be evaluated.
    Fail,
    /// Allow, with a warning saying why.
    Ignore,
}

/// The words of the configuration's enumerations, also taken on the command line.
macro_rules! words {
    ($ty:ty { $($word:literal => $variant:ident),+ }) => {
        impl $ty {
            pub const WORDS: &'static [&'static str] = &[$($word),+];
        }
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($word => Ok(Self::$variant),)+
                    _ => Err(format!("'{s}' is not one of: {}", Self::WORDS.join(", "))),
                }
            }
        }
    };
}
words!(AdmissionMode { "enforce" => Enforce, "audit" => Audit });
words!(FailurePolicy { "fail" => Fail, "ignore" => Ignore });

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PluginEntry {
    /// A component file (relative to this file), or a registry reference
    /// `oci://registry/repository:tag` (`...@sha256:<digest>` pins it).
    pub path: PathBuf,
    /// Expected sha256 of the file; a different file is refused before it is compiled.
    #[serde(default)]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChecksConfig {
    /// Checks to run even if their plugin leaves them off by default.
    pub enable: Vec<String>,
    /// Checks never to run.
    pub disable: Vec<String>,
}

/// Glob patterns (`*`, `?`); empty `include` means everything.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Filter {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl Filter {
    pub fn admits(&self, value: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| glob(p, value)))
            && !self.exclude.iter().any(|p| glob(p, value))
    }

    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub time_ms: Option<u64>,
    pub memory_mib: Option<usize>,
}

/// An accepted finding: which checks, on which resources, why, until when.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Exemption {
    /// Check ids (any alias).
    pub checks: Vec<String>,
    /// Glob patterns on the resource; absent = any.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Glob patterns on the file the resource was read from (as the report names it,
    /// without a leading `./`); empty = any file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// Why the finding is accepted. Mandatory.
    pub reason: String,
    /// YYYY-MM-DD; from that day on the exemption no longer applies.
    #[serde(default)]
    pub expires: Option<Date>,
}

/// A configuration error: one line naming the file and key.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}{message}")]
pub struct ConfigError {
    pub file: String,
    pub key: String,
    pub message: String,
}

fn err(file: &Path, key: &str, message: impl Into<String>) -> ConfigError {
    let key = if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    };
    ConfigError {
        file: file.display().to_string(),
        key,
        message: message.into(),
    }
}

/// Finds the configuration: `--config FILE`, else `tollgate.yaml` in the working
/// directory, else none.
pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => Path::new(DEFAULT_FILE)
            .exists()
            .then(|| PathBuf::from(DEFAULT_FILE)),
    }
}

pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| err(path, "", format!("cannot read: {e}")))?;
    // YAML → JSON value (syntax errors carry the line), then the typed configuration
    // through serde_path_to_error, so that type errors name the key that holds them.
    let value: serde_json::Value = serde_saphyr::from_str(&text).map_err(|e| {
        let msg = e.to_string();
        let first = msg
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_string();
        err(path, "", first.trim_start_matches("error: ").to_string())
    })?;
    let value = if value.is_null() {
        serde_json::json!({})
    } else {
        value
    };
    let config: Config = serde_path_to_error::deserialize(value).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        err(path, &key, e.into_inner().to_string())
    })?;
    config.validate(path)?;
    Ok(config)
}

impl Config {
    /// Checks that need no plugin: severities, dates, reasons, settings shapes.
    fn validate(&self, file: &Path) -> Result<(), ConfigError> {
        if self.admission.deadline_ms == Some(0) {
            return Err(err(file, "admission.deadline_ms", "must be at least 1"));
        }
        for (name, v) in &self.settings {
            if !v.is_object() {
                return Err(err(
                    file,
                    &format!("settings.{name}"),
                    "expected a mapping of the plugin's settings",
                ));
            }
        }
        for (i, x) in self.exemptions.iter().enumerate() {
            let key = format!("exemptions[{i}]");
            if x.reason.trim().is_empty() {
                return Err(err(
                    file,
                    &format!("{key}.reason"),
                    "a reason is mandatory: say why the finding is accepted",
                ));
            }
            if x.checks.is_empty() {
                return Err(err(
                    file,
                    &format!("{key}.checks"),
                    "list at least one check id",
                ));
            }
        }
        for (i, p) in self.plugins.iter().enumerate() {
            let text = p.path.to_string_lossy();
            if text.starts_with(crate::plugins::OCI_SCHEME) {
                if let Err(e) = crate::plugins::PluginSource::parse(&text) {
                    return Err(err(file, &format!("plugins[{i}].path"), e.to_string()));
                }
                if p.sha256.is_some() {
                    return Err(err(
                        file,
                        &format!("plugins[{i}].sha256"),
                        "a registry plugin is pinned by its manifest digest in the reference \
                         (oci://...@sha256:<digest>) or by tollgate.lock, not by sha256",
                    ));
                }
            }
            if let Some(h) = &p.sha256 {
                let h = h.trim_start_matches("sha256:");
                if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(err(
                        file,
                        &format!("plugins[{i}].sha256"),
                        "expected 64 hexadecimal digits",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks that need the loaded catalogue: every check id must be known.
    pub fn validate_ids(
        &self,
        file: &Path,
        known: &dyn Fn(&str) -> bool,
    ) -> Result<(), ConfigError> {
        let unknown = |key: String, id: &str| {
            err(file, &key, format!("unknown check id '{id}' (no loaded plugin declares it; `tollgate checks` lists them)"))
        };
        for (i, id) in self.checks.enable.iter().enumerate() {
            if !known(id) {
                return Err(unknown(format!("checks.enable[{i}]"), id));
            }
        }
        for (i, id) in self.checks.disable.iter().enumerate() {
            if !known(id) {
                return Err(unknown(format!("checks.disable[{i}]"), id));
            }
        }
        for id in self.severity.keys() {
            if !known(id) {
                return Err(unknown(format!("severity.{id}"), id));
            }
        }
        for (i, x) in self.exemptions.iter().enumerate() {
            for (j, id) in x.checks.iter().enumerate() {
                if !known(id) {
                    return Err(unknown(format!("exemptions[{i}].checks[{j}]"), id));
                }
            }
        }
        for (i, g) in self.admission.annotation_exemptions.iter().enumerate() {
            if g.checks.is_empty() {
                return Err(err(
                    file,
                    &format!("admission.annotation_exemptions[{i}].checks"),
                    "name the checks an annotation may waive (ids, or \"*\" for every check below deny_on)",
                ));
            }
            for (j, id) in g.checks.iter().enumerate() {
                if id != "*" && !known(id) {
                    return Err(unknown(
                        format!("admission.annotation_exemptions[{i}].checks[{j}]"),
                        id,
                    ));
                }
            }
        }
        Ok(())
    }
}

pub use crate::pattern::glob;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("shop-*", "shop-prod"));
        assert!(glob("*", ""));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*-db-*", "orders-db-0"));
        assert!(!glob("prod", "prod-1"));
    }

    fn load_text(text: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tollgate.yaml");
        std::fs::write(&file, text).unwrap();
        load(&file).map_err(|e| e.to_string().replace(&file.display().to_string(), "F"))
    }

    /// Severities and dates are typed values: read in any case, refused with the key
    /// that holds them, never dropped.
    #[test]
    fn typed_values_name_their_key() {
        let c = load_text(
            "fail_on: high\nseverity: {KSV011: Critical}\nadmission: {deny_on: MEDIUM}\n\
             exemptions: [{checks: [KSV011], reason: r, expires: 2024-02-29}]\n",
        )
        .unwrap();
        assert_eq!(c.fail_on, Some(Severity::High));
        assert_eq!(c.severity["KSV011"], Severity::Critical);
        assert_eq!(c.admission.deny_on, Some(Severity::Medium));
        assert_eq!(
            c.exemptions[0].expires.map(|d| d.to_string()).as_deref(),
            Some("2024-02-29")
        );
        for (text, want) in [
            (
                "fail_on: HIGHEST\n",
                "fail_on: 'HIGHEST' is not one of LOW, MEDIUM, HIGH, CRITICAL",
            ),
            (
                "severity: {KSV011: urgent}\n",
                "severity.KSV011: 'urgent' is not one of",
            ),
            ("admission: {warn_on: 3}\n", "admission.warn_on: "),
            (
                "exemptions: [{checks: [KSV011], reason: r, expires: 2026-02-31}]\n",
                "exemptions[0].expires: '2026-02-31' is not a date (YYYY-MM-DD)",
            ),
        ] {
            let e = load_text(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
