//! The scan report: one data model, rendered by one module per format.

pub mod json;
pub mod table;

use serde::Serialize;
use tollgate_runtime::{PluginError, Severity};

use crate::evaluate::Evaluation;
use crate::input::Loaded;
use crate::plugins::ActivePlugin;

pub const SCHEMA: &str = "tollgate.report/v1";

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub tool: Tool,
    pub plugins: Vec<PluginEntry>,
    pub resources: Vec<ResourceEntry>,
    pub errors: Vec<ErrorEntry>,
    pub skipped: Vec<SkippedEntry>,
    pub summary: Summary,
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Serialize)]
pub struct PluginEntry {
    pub name: String,
    pub version: String,
    pub file: String,
    pub sha256: String,
    pub checks: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ResourceEntry {
    pub file: String,
    pub document: usize,
    pub item: Option<usize>,
    pub line: Option<usize>,
    #[serde(rename = "apiVersion")]
    pub api_version: Option<String>,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub checks: Vec<CheckEntry>,
}

#[derive(Debug, Serialize)]
pub struct CheckEntry {
    pub id: String,
    pub aliases: Vec<String>,
    pub title: String,
    pub severity: Severity,
    pub category: String,
    pub plugin: String,
    pub success: bool,
    pub messages: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ErrorEntry {
    pub file: String,
    pub document: Option<usize>,
    pub item: Option<usize>,
    pub plugin: Option<String>,
    pub class: String,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct SkippedEntry {
    pub file: String,
    pub document: usize,
    pub item: Option<usize>,
    pub reason: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub files: usize,
    pub resources: usize,
    pub skipped: usize,
    pub errors: usize,
    pub checks_passed: usize,
    pub checks_failed: usize,
    /// Failed checks per severity.
    pub failed: SeverityCounts,
}

#[derive(Debug, Default, Serialize)]
pub struct SeverityCounts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
}

impl SeverityCounts {
    pub fn add(&mut self, s: Severity) {
        match s {
            Severity::Critical => self.critical += 1,
            Severity::High => self.high += 1,
            Severity::Medium => self.medium += 1,
            Severity::Low => self.low += 1,
        }
    }
}

/// Which severities count: failures of other severities are left out of the report.
#[derive(Debug, Clone)]
pub struct SeverityFilter(pub Vec<Severity>);

impl Default for SeverityFilter {
    fn default() -> Self {
        SeverityFilter(vec![
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ])
    }
}

impl SeverityFilter {
    pub fn includes(&self, s: Severity) -> bool {
        self.0.contains(&s)
    }
}

/// Builds the report from what was loaded and evaluated.
pub fn build(
    loaded: &Loaded,
    plugins: &[ActivePlugin],
    plugin_errors: &[PluginError],
    eval: &Evaluation,
    filter: &SeverityFilter,
) -> Report {
    let mut summary = Summary {
        files: loaded.files,
        ..Default::default()
    };
    let mut errors: Vec<ErrorEntry> = Vec::new();
    for e in &loaded.errors {
        errors.push(ErrorEntry {
            file: e.file.clone(),
            document: e.document,
            item: None,
            plugin: None,
            class: "input".into(),
            message: e.message.clone(),
        });
    }
    for e in plugin_errors {
        errors.push(ErrorEntry {
            file: e.file().display().to_string(),
            document: None,
            item: None,
            plugin: Some(e.file().display().to_string()),
            class: e.class().into(),
            message: e.to_string(),
        });
    }
    for e in &eval.errors {
        let r = &loaded.resources[e.resource];
        errors.push(ErrorEntry {
            file: r.file.to_string(),
            document: Some(r.document),
            item: r.item,
            plugin: Some(plugins[e.plugin].plugin.name().to_string()),
            class: e.error.class().into(),
            message: format!(
                "{} {}: {}",
                r.kind,
                r.name.as_deref().unwrap_or("(unnamed)"),
                e.error
            ),
        });
    }
    let mut resources = Vec::with_capacity(loaded.resources.len());
    for (ri, r) in loaded.resources.iter().enumerate() {
        let mut checks = Vec::new();
        for v in &eval.verdicts[ri] {
            let p = &plugins[v.plugin];
            let Some(info) = p.checks().get(v.check) else {
                continue;
            };
            if !filter.includes(info.severity) {
                continue;
            }
            let success = v.findings.is_empty();
            if success {
                summary.checks_passed += 1;
            } else {
                summary.checks_failed += 1;
                summary.failed.add(info.severity);
            }
            checks.push(CheckEntry {
                id: info.id.clone(),
                aliases: info.aliases.clone(),
                title: info.title.clone(),
                severity: info.severity,
                category: info.category.clone(),
                plugin: p.plugin.name().to_string(),
                success,
                messages: v.findings.iter().map(|f| f.message.clone()).collect(),
            });
        }
        resources.push(ResourceEntry {
            file: r.file.to_string(),
            document: r.document,
            item: r.item,
            line: r.line,
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            checks,
        });
    }
    summary.resources = resources.len();
    summary.skipped = loaded.skipped.len();
    summary.errors = errors.len();
    Report {
        schema: SCHEMA,
        tool: Tool {
            name: "tollgate",
            version: env!("CARGO_PKG_VERSION"),
        },
        plugins: plugins
            .iter()
            .map(|p| PluginEntry {
                name: p.plugin.name().to_string(),
                version: p.plugin.info.version.clone(),
                file: p.plugin.file.display().to_string(),
                sha256: p.plugin.sha256.clone(),
                checks: p
                    .checks()
                    .iter()
                    .zip(&p.enabled)
                    .filter(|(_, on)| **on)
                    .map(|(c, _)| c.id.clone())
                    .collect(),
            })
            .collect(),
        resources,
        errors,
        skipped: loaded
            .skipped
            .iter()
            .map(|s| SkippedEntry {
                file: s.file.clone(),
                document: s.document,
                item: s.item,
                reason: s.reason.clone(),
            })
            .collect(),
        summary,
    }
}

impl Report {
    /// 2 on any error, 1 on any counted failure, else 0.
    pub fn exit_code(&self) -> i32 {
        if !self.errors.is_empty() {
            2
        } else if self.summary.checks_failed > 0 {
            1
        } else {
            0
        }
    }
}
