//! The report's data model: what every format renders.

use std::sync::Arc;

use serde::Serialize;
use tollgate_runtime::Severity;

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
