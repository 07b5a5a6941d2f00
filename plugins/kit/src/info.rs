use serde::{Deserialize, Serialize};

/// Severity levels, as trivy uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// Metadata of one check; mirrors `check-info` in the WIT contract.
///
/// Built-in plugins read it from their `policies/<category>/<ID>/check.json` entry so
/// that the catalogue is the single source of truth.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckInfo {
    pub id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub severity: Severity,
    #[serde(default)]
    pub category: String,
    #[serde(default = "all_kinds")]
    pub kinds: Vec<String>,
    #[serde(default)]
    pub remediation: String,
    #[serde(default)]
    pub compliance: Vec<String>,
    #[serde(default = "yes")]
    pub default_enabled: bool,
}

fn all_kinds() -> Vec<String> {
    vec!["*".to_string()]
}

fn yes() -> bool {
    true
}

impl CheckInfo {
    /// A check that applies to every kind and is enabled by default.
    pub fn new(id: &str, title: &str, severity: Severity) -> Self {
        CheckInfo {
            id: id.into(),
            aliases: vec![],
            title: title.into(),
            description: String::new(),
            severity,
            category: "Custom".into(),
            kinds: all_kinds(),
            remediation: String::new(),
            compliance: vec![],
            default_enabled: true,
        }
    }

    pub fn kinds(mut self, kinds: &[&str]) -> Self {
        self.kinds = kinds.iter().map(|k| k.to_string()).collect();
        self
    }

    pub fn description(mut self, text: &str) -> Self {
        self.description = text.into();
        self
    }

    pub fn remediation(mut self, text: &str) -> Self {
        self.remediation = text.into();
        self
    }

    pub fn category(mut self, text: &str) -> Self {
        self.category = text.into();
        self
    }

    /// Parses a catalogue entry. Unknown fields (examples, deviations) are ignored.
    pub fn from_catalogue(json: &str) -> Self {
        match serde_json::from_str(json) {
            Ok(info) => info,
            Err(e) => panic!("malformed catalogue entry: {e}"),
        }
    }
}

/// Name, version and description of a plugin.
#[derive(Debug, Clone)]
pub struct PluginMeta {
    pub name: String,
    pub version: String,
    pub description: String,
    pub settings_help: String,
}

impl PluginMeta {
    pub fn new(name: &str, version: &str, description: &str) -> Self {
        PluginMeta {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            settings_help: "This plugin takes no settings.".into(),
        }
    }

    pub fn settings_help(mut self, text: &str) -> Self {
        self.settings_help = text.into();
        self
    }
}

/// One problem found by a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub message: String,
    pub path: Option<String>,
}

impl Finding {
    pub fn new(message: impl Into<String>) -> Self {
        Finding {
            message: message.into(),
            path: None,
        }
    }

    /// A finding located at a path inside the resource, e.g. `spec.containers[0]`.
    pub fn at(message: impl Into<String>, path: &str) -> Self {
        Finding {
            message: message.into(),
            path: if path.is_empty() {
                None
            } else {
                Some(path.to_string())
            },
        }
    }
}
