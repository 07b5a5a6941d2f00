//! The scan report: one data model, rendered by one module per format.

pub mod json;
pub mod junit;
pub mod k8s;
pub mod sarif;
pub mod table;

use std::sync::Arc;

use serde::Serialize;
use tollgate_runtime::{PluginError, Severity};

use crate::evaluate::Verdict;
use crate::input::{InputError, Resource, Skipped};
use crate::plugins::ActivePlugin;

pub const SCHEMA: &str = "tollgate.report/v1";

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct PluginEntry {
    pub name: String,
    pub version: String,
    pub file: String,
    pub sha256: String,
    pub checks: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceEntry {
    /// Shared with the resource and every other entry of the same file.
    pub file: Arc<str>,
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

/// One check's result on one resource. What every entry of the check repeats (id,
/// aliases, title, category, plugin) is in `meta`, shared by all of them: a 100k-object
/// scan makes millions of entries, and one shared pointer is one reference count to
/// move instead of six.
#[derive(Debug, Clone)]
pub struct CheckEntry {
    pub meta: Arc<CheckMeta>,
    pub severity: Severity,
    pub success: bool,
    pub messages: Vec<String>,
    /// Set when the check failed but an exemption accepts the finding.
    pub exempted: Option<crate::exempt::Applied>,
}

/// Serialized flat, as `{"id":..,"aliases":..,"title":..,"severity":..,"category":..,
/// "plugin":..,"success":..,"messages":..[,"exempted":..]}`.
impl Serialize for CheckEntry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let exempted = self.exempted.is_some();
        let mut st = s.serialize_struct("CheckEntry", 8 + usize::from(exempted))?;
        st.serialize_field("id", &self.meta.id)?;
        st.serialize_field("aliases", &self.meta.aliases)?;
        st.serialize_field("title", &self.meta.title)?;
        st.serialize_field("severity", &self.severity)?;
        st.serialize_field("category", &self.meta.category)?;
        st.serialize_field("plugin", &self.meta.plugin)?;
        st.serialize_field("success", &self.success)?;
        st.serialize_field("messages", &self.messages)?;
        if let Some(x) = &self.exempted {
            st.serialize_field("exempted", x)?;
        }
        st.end()
    }
}

/// The fields a check's entries share.
#[derive(Debug)]
pub struct CheckMeta {
    pub id: String,
    pub aliases: Vec<String>,
    pub title: String,
    pub category: String,
    pub plugin: String,
    /// The same fields already written as JSON, for the JSON report.
    pub(crate) json: JsonParts,
}

impl CheckMeta {
    pub fn new(
        id: &str,
        aliases: &[String],
        title: &str,
        category: &str,
        plugin: &str,
    ) -> CheckMeta {
        let mut m = CheckMeta {
            id: id.to_string(),
            aliases: aliases.to_vec(),
            title: title.to_string(),
            category: category.to_string(),
            plugin: plugin.to_string(),
            json: JsonParts::default(),
        };
        m.json = JsonParts::new(&m);
        m
    }
}

/// The JSON of the fields a check's entries repeat, rendered once per scan: `head` is
/// `{"id":..,"aliases":..,"title":..,"severity":` and `mid` is
/// `,"category":..,"plugin":..,"success":`, the order [`CheckEntry`] is serialized in.
#[derive(Debug, Default)]
pub(crate) struct JsonParts {
    pub head: Box<[u8]>,
    pub mid: Box<[u8]>,
}

impl JsonParts {
    fn new(m: &CheckMeta) -> Self {
        JsonParts {
            head: format!(
                "{{\"id\":{},\"aliases\":{},\"title\":{},\"severity\":",
                text(&m.id),
                text(&m.aliases),
                text(&m.title)
            )
            .into_bytes()
            .into(),
            mid: format!(
                ",\"category\":{},\"plugin\":{},\"success\":",
                text(&m.category),
                text(&m.plugin)
            )
            .into_bytes()
            .into(),
        }
    }
}

/// A string or list of strings as JSON text (cannot fail).
fn text<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorEntry {
    pub file: String,
    pub document: Option<usize>,
    pub item: Option<usize>,
    pub plugin: Option<String>,
    pub class: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkippedEntry {
    pub file: String,
    pub document: usize,
    pub item: Option<usize>,
    pub reason: String,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    pub files: usize,
    pub resources: usize,
    pub skipped: usize,
    pub errors: usize,
    pub checks_passed: usize,
    /// Failed checks not covered by an exemption.
    pub checks_failed: usize,
    /// Failed checks an exemption accepts (not counted as failed).
    pub checks_exempted: usize,
    /// Resources left out by the namespace and kind filters.
    pub filtered: usize,
    /// Failed checks per severity.
    pub failed: SeverityCounts,
    /// Failed checks at or above the failure threshold (what makes the exit status 1).
    pub failed_at_threshold: usize,
}

#[derive(Debug, Default, Clone, Serialize)]
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

/// What the configuration changes in how results count: severity overrides, the
/// failure threshold, exemptions.
pub struct Policy {
    pub severity: std::collections::HashMap<String, Severity>,
    pub fail_on: Severity,
    pub exemptions: crate::exempt::Exemptions,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            severity: Default::default(),
            fail_on: Severity::Low,
            exemptions: crate::exempt::Exemptions::none(),
        }
    }
}

/// Turns loaded resources and their verdicts into report entries, counting as it goes.
/// Resources stream through it (see [`Sink`]); errors and skipped documents, which are
/// few, are kept until the end.
pub struct Builder<'a> {
    plugins: &'a [ActivePlugin],
    filter: SeverityFilter,
    policy: Policy,
    /// Every loaded check, to resolve the aliases an annotation names.
    catalogue: Vec<&'a tollgate_runtime::CheckInfo>,
    /// Per plugin, per check: the entry fields every resource repeats, shared rather
    /// than copied (a 100k-object scan writes millions of entries).
    shared: Vec<Vec<Arc<CheckMeta>>>,
    /// Position of each scanned file, to list errors in input order.
    file_order: std::collections::HashMap<String, usize>,
    pub summary: Summary,
    pub errors: Vec<ErrorEntry>,
    pub skipped: Vec<SkippedEntry>,
}

impl<'a> Builder<'a> {
    pub fn new(
        plugins: &'a [ActivePlugin],
        filter: SeverityFilter,
        plugin_errors: &[PluginError],
    ) -> Self {
        let mut b = Builder {
            plugins,
            filter,
            policy: Policy::default(),
            catalogue: plugins.iter().flat_map(|p| p.checks()).collect(),
            shared: plugins
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
                .collect(),
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

    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
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
            // Most scans override no severity: no lookup per check and resource then.
            let severity = if self.policy.severity.is_empty() {
                info.severity
            } else {
                self.policy
                    .severity
                    .get(&info.id)
                    .copied()
                    .unwrap_or(info.severity)
            };
            if !self.filter.includes(severity) {
                continue;
            }
            let success = v.findings.is_empty();
            let mut exempted = None;
            if success {
                self.summary.checks_passed += 1;
            } else {
                match self.policy.exemptions.find(&r, &info.id, &self.catalogue) {
                    Ok(Some(applied)) => exempted = Some(applied),
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
            exemptions: self.policy.exemptions.statuses(),
        }
    }
}

/// What comes after the resources: errors, skipped documents and the summary.
#[derive(Debug, Default)]
pub struct Tail {
    pub errors: Vec<ErrorEntry>,
    pub skipped: Vec<SkippedEntry>,
    pub summary: Summary,
    /// Configured exemptions with their status (active, expired, stale).
    pub exemptions: Vec<crate::exempt::Status>,
}

impl Tail {
    /// 2 on any error, 1 on a failure at or above the threshold (exempted ones do not
    /// count), else 0.
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            2
        } else if self.summary.failed_at_threshold > 0 {
            1
        } else {
            0
        }
    }
}

/// Where report entries go as the scan produces them.
pub trait Sink {
    fn begin(&mut self, ctx: &Context) -> std::io::Result<()>;
    fn resource(&mut self, entry: &ResourceEntry) -> std::io::Result<()>;
    fn finish(&mut self, tail: &Tail) -> std::io::Result<()>;
}

/// What every format may need besides the entries: the plugins and the full metadata
/// of every check (descriptions and remediations are not repeated in each entry).
#[derive(Debug, Default, Clone)]
pub struct Context {
    pub plugins: Vec<PluginEntry>,
    pub checks: std::collections::BTreeMap<String, tollgate_runtime::CheckInfo>,
}

/// Sends everything to several sinks: several formats from one scan.
pub struct Tee(pub Vec<Box<dyn Sink>>);

impl Sink for Tee {
    fn begin(&mut self, ctx: &Context) -> std::io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.begin(ctx))
    }
    fn resource(&mut self, entry: &ResourceEntry) -> std::io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.resource(entry))
    }
    fn finish(&mut self, tail: &Tail) -> std::io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.finish(tail))
    }
}

/// Collects every entry in memory (compliance views and `plugin test` need them all).
#[derive(Default)]
pub struct Collect {
    pub plugins: Vec<PluginEntry>,
    pub resources: Vec<ResourceEntry>,
}

impl Sink for Collect {
    fn begin(&mut self, ctx: &Context) -> std::io::Result<()> {
        self.plugins = ctx.plugins.clone();
        Ok(())
    }
    fn resource(&mut self, entry: &ResourceEntry) -> std::io::Result<()> {
        self.resources.push(entry.clone());
        Ok(())
    }
    fn finish(&mut self, _tail: &Tail) -> std::io::Result<()> {
        Ok(())
    }
}
