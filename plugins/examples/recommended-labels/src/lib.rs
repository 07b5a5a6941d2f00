//! Example custom policy: every resource carries Kubernetes' recommended labels
//! (<https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/>).
//!
//! Settings: `{"required": ["app.kubernetes.io/name", ...]}` replaces the list of
//! labels that must be present.

use tollgate_kit::{CheckInfo, Finding, Map, Object, PluginMeta, Policy, Severity, Value};

const DEFAULT_REQUIRED: [&str; 2] = ["app.kubernetes.io/name", "app.kubernetes.io/version"];

pub struct RecommendedLabels {
    required: Vec<String>,
}

impl Default for RecommendedLabels {
    fn default() -> Self {
        RecommendedLabels {
            required: DEFAULT_REQUIRED.iter().map(|s| s.to_string()).collect(),
        }
    }
}

tollgate_kit::export_policy!(RecommendedLabels);

impl Policy for RecommendedLabels {
    fn meta() -> PluginMeta {
        PluginMeta::new(
            "recommended-labels",
            env!("CARGO_PKG_VERSION"),
            "Every resource carries the recommended app.kubernetes.io/* labels",
        )
        .settings_help(
            "{\"required\": [\"app.kubernetes.io/name\", ...]}: the labels every resource must \
             carry (default: app.kubernetes.io/name and app.kubernetes.io/version)",
        )
    }

    fn checks() -> Vec<CheckInfo> {
        vec![CheckInfo::new("LBL001", "Recommended labels missing", Severity::Low)
            .category("Custom")
            .description("Resources should carry the recommended app.kubernetes.io labels so tools can group and trace them.")
            .remediation("Add the missing labels under metadata.labels.")]
    }

    fn configure(&mut self, settings: &Map<String, Value>) -> Result<(), String> {
        for (k, v) in settings {
            match (k.as_str(), v) {
                ("required", Value::Array(items)) => {
                    let mut list = Vec::new();
                    for i in items {
                        match i.as_str() {
                            Some(s) if !s.is_empty() => list.push(s.to_string()),
                            _ => {
                                return Err(format!(
                                    "'required' must be a list of label names, got {i}"
                                ))
                            }
                        }
                    }
                    self.required = list;
                }
                ("required", other) => {
                    return Err(format!(
                        "'required' must be a list of label names, got {other}"
                    ))
                }
                (other, _) => {
                    return Err(format!("unknown setting '{other}'; expected 'required'"))
                }
            }
        }
        Ok(())
    }

    fn evaluate(&self, _id: &str, o: &Object) -> Vec<Finding> {
        let missing: Vec<&str> = self
            .required
            .iter()
            .filter(|l| o.label(l).is_none())
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            return vec![];
        }
        vec![Finding::at(
            format!(
                "{} is missing the label(s) {}",
                o.describe(),
                missing.join(", ")
            ),
            "metadata.labels",
        )]
    }
}
