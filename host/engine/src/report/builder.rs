//! Turns loaded resources and their verdicts into report entries, applying the policy
//! (severity overrides, exemptions, threshold) and counting as it goes.

use std::sync::Arc;

use tollgate_runtime::PluginError;

use super::{CheckEntry, CheckMeta, Context, ErrorEntry, PluginEntry, ResourceEntry};
use super::{SeverityFilter, SkippedEntry, Summary, Tail};
use crate::evaluate::Verdict;
use crate::input::{InputError, Resource, Skipped};
use crate::plugins::ActivePlugin;
use crate::policy::Policy;

/// Per plugin, per check: the entry fields every resource repeats, made once per set
/// of plugins and shared rather than copied (a 100k-object scan writes millions of
/// entries).
pub fn check_metas(plugins: &[ActivePlugin]) -> Vec<Vec<Arc<CheckMeta>>> {
    plugins
        .iter()
        .map(|p| {
            p.checks()
                .iter()
                .map(|c| {
                    Arc::new(CheckMeta::new(
                        &c.id,
                        &c.aliases,
                        &c.title,
                        &c.category,
                        p.plugin.name(),
                    ))
                })
                .collect()
        })
        .collect()
}

/// Turns loaded resources and their verdicts into report entries, counting as it goes.
/// Resources stream through it (see [`super::Sink`]); errors and skipped documents,
/// which are few, are kept until the end.
pub struct Builder<'a> {
    plugins: &'a [ActivePlugin],
    filter: SeverityFilter,
    policy: &'a Policy,
    /// Findings each configured exemption covered in this report.
    matched: Vec<usize>,
    /// Every loaded check, to resolve the aliases an annotation names.
    catalogue: Vec<&'a tollgate_runtime::CheckInfo>,
    /// From [`check_metas`] for `plugins`.
    shared: &'a [Vec<Arc<CheckMeta>>],
    /// Position of each scanned file, to list errors in input order.
    file_order: std::collections::HashMap<String, usize>,
    pub summary: Summary,
    pub errors: Vec<ErrorEntry>,
    pub skipped: Vec<SkippedEntry>,
}

impl<'a> Builder<'a> {
    /// A report of `plugins` (with `shared` from [`check_metas`] for them) under
    /// `policy`, counting the severities `filter` lets through. `plugin_errors` (plugins
    /// that could not be loaded) head the report's errors.
    pub fn new(
        plugins: &'a [ActivePlugin],
        shared: &'a [Vec<Arc<CheckMeta>>],
        policy: &'a Policy,
        filter: SeverityFilter,
        plugin_errors: &[crate::LoadError],
    ) -> Self {
        let mut b = Builder {
            plugins,
            filter,
            policy,
            matched: vec![0; policy.exemptions.len()],
            catalogue: plugins.iter().flat_map(|p| p.checks()).collect(),
            shared,
            file_order: Default::default(),
            summary: Summary::default(),
            errors: Vec::new(),
            skipped: Vec::new(),
        };
        for e in plugin_errors {
            b.errors.push(ErrorEntry {
                file: e.file().display().to_string(),
                document: None,
                item: None,
                plugin: Some(e.file().display().to_string()),
                class: e.class().into(),
                message: e.to_string(),
            });
        }
        b
    }

    /// The files of the scan, in the order they are read.
    pub fn set_files(&mut self, files: &[std::path::PathBuf]) {
        self.file_order = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.display().to_string(), i))
            .collect();
    }

    pub fn context(&self) -> Context {
        let mut checks = std::collections::BTreeMap::new();
        for p in self.plugins {
            for c in p.checks() {
                checks.insert(c.id.clone(), c.clone());
            }
        }
        Context {
            plugins: self.plugin_entries(),
            checks,
            failed_only: false,
        }
    }

    pub fn plugin_entries(&self) -> Vec<PluginEntry> {
        self.plugins
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
            .collect()
    }

    pub fn input_error(&mut self, e: &InputError) {
        self.errors.push(ErrorEntry {
            file: e.file.clone(),
            document: e.document,
            item: None,
            plugin: None,
            class: "input".into(),
            message: e.message.clone(),
        });
    }

    pub fn skipped(&mut self, s: &Skipped) {
        self.skipped.push(SkippedEntry {
            file: s.file.clone(),
            document: s.document,
            item: s.item,
            reason: s.reason.clone(),
        });
    }

    pub fn eval_error(&mut self, r: &Resource, plugin: usize, e: &PluginError) {
        self.errors.push(ErrorEntry {
            file: r.file.to_string(),
            document: Some(r.document),
            item: r.item,
            plugin: Some(self.plugins[plugin].plugin.name().to_string()),
            class: e.class().into(),
            message: format!(
                "{} {}: {}",
                r.kind,
                r.name.as_deref().unwrap_or("(unnamed)"),
                e
            ),
        });
    }

    /// The entry of one resource with every applied check that the filter counts.
    /// The report entry of a resource and its verdicts (whose messages it takes).
    pub fn resource(&mut self, r: Resource, verdicts: Vec<Verdict>) -> ResourceEntry {
        let mut checks = Vec::with_capacity(verdicts.len());
        let mut annotation_error = None;
        for v in verdicts {
            let p = &self.plugins[v.plugin];
            let (Some(info), Some(shared)) =
                (p.checks().get(v.check), self.shared[v.plugin].get(v.check))
            else {
                continue;
            };
            let severity = self.policy.severity_of(info);
            if !self.filter.includes(severity) {
                continue;
            }
            let success = v.findings.is_empty();
            let mut exempted = None;
            if success {
                self.summary.checks_passed += 1;
            } else {
                match self
                    .policy
                    .exemptions
                    .find(&r, &info.id, severity, &self.catalogue)
                {
                    Ok(Some(m)) => {
                        if let Some(i) = m.rule {
                            self.matched[i] += 1;
                        }
                        exempted = Some(m.applied);
                    }
                    Ok(None) => {}
                    Err(e) => annotation_error = Some(e),
                }
                if exempted.is_some() {
                    self.summary.checks_exempted += 1;
                } else {
                    self.summary.checks_failed += 1;
                    self.summary.failed.add(severity);
                    if severity >= self.policy.fail_on {
                        self.summary.failed_at_threshold += 1;
                    }
                }
            }
            checks.push(CheckEntry {
                meta: shared.clone(),
                severity,
                success,
                messages: v.findings.into_iter().map(|f| f.message).collect(),
                exempted,
            });
        }
        if let Some(message) = annotation_error {
            self.errors.push(ErrorEntry {
                file: r.file.to_string(),
                document: Some(r.document),
                item: r.item,
                plugin: None,
                class: "exemption".into(),
                message: format!(
                    "{} {}: {message}",
                    r.kind,
                    r.name.as_deref().unwrap_or("(unnamed)")
                ),
            });
        }
        self.summary.resources += 1;
        ResourceEntry {
            file: r.file,
            document: r.document,
            item: r.item,
            line: r.line,
            api_version: r.api_version,
            kind: r.kind,
            namespace: r.namespace,
            name: r.name,
            checks,
        }
    }

    /// Final counts; call after the last resource.
    pub fn finish(&mut self) -> Tail {
        // Errors in input order (plugin errors first), whatever the windows and threads.
        let order = &self.file_order;
        let key = |e: &ErrorEntry| {
            (
                order.get(&e.file).copied().map_or(0, |i| i + 1),
                e.document,
                e.item,
                e.plugin.clone(),
            )
        };
        self.errors.sort_by_key(key);
        self.skipped
            .sort_by_key(|s| (order.get(&s.file).copied().unwrap_or(0), s.document, s.item));
        self.summary.skipped = self.skipped.len();
        self.summary.errors = self.errors.len();
        Tail {
            errors: std::mem::take(&mut self.errors),
            skipped: std::mem::take(&mut self.skipped),
            summary: std::mem::take(&mut self.summary),
            exemptions: self.policy.exemptions.statuses(&self.matched),
        }
    }
}
