//! {{NAME}}: a tollgate policy plugin.
//!
//! Build:   cargo build --release --target wasm32-wasip2
//! Test:    tollgate plugin test target/wasm32-wasip2/release/{{CRATE}}.wasm examples
//! Use:     tollgate scan --plugin target/wasm32-wasip2/release/{{CRATE}}.wasm ./manifests

use tollgate_kit::{CheckInfo, Finding, Map, Object, PluginMeta, Policy, Severity, Value};

/// The plugin's state: its settings.
pub struct Plugin {
    /// Label every workload must carry (setting "label").
    label: String,
}

impl Default for Plugin {
    fn default() -> Self {
        Plugin { label: "team".into() }
    }
}

tollgate_kit::export_policy!(Plugin);

impl Policy for Plugin {
    fn meta() -> PluginMeta {
        PluginMeta::new("{{NAME}}", env!("CARGO_PKG_VERSION"), "Example policy: workloads carry an owner label")
            .settings_help("{\"label\": \"team\"}: the label every workload must carry")
    }

    fn checks() -> Vec<CheckInfo> {
        vec![CheckInfo::new("{{ID}}", "Workload has no owner label", Severity::Medium)
            .category("Custom")
            .kinds(&["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"])
            .description("Every workload names the team that owns it, so alerts reach someone.")
            .remediation("Add the owner label under metadata.labels.")]
    }

    fn configure(&mut self, settings: &Map<String, Value>) -> Result<(), String> {
        for (k, v) in settings {
            match (k.as_str(), v.as_str()) {
                ("label", Some(l)) if !l.is_empty() => self.label = l.to_string(),
                ("label", _) => return Err(format!("'label' must be a non-empty string, got {v}")),
                (other, _) => return Err(format!("unknown setting '{other}'; expected 'label'")),
            }
        }
        Ok(())
    }

    fn evaluate(&self, _check: &str, object: &Object) -> Vec<Finding> {
        if object.label(&self.label).is_some() {
            return vec![];
        }
        vec![Finding::at(format!("{} has no '{}' label", object.describe(), self.label), "metadata.labels")]
    }
}
