//! The scan report: one data model ([`model`]), one [`Builder`] that applies the policy
//! and counts, and one module per format, each a [`Sink`] fed as the scan goes.

mod builder;
pub mod html;
pub mod json;
pub mod junit;
pub mod k8s;
pub mod meta;
mod model;
pub mod policy_report;
pub mod sarif;
pub mod table;

pub use builder::{check_metas, Builder};
pub use model::*;

/// The report formats a scan writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Failed checks grouped by resource, worst first, and a summary line.
    Table,
    /// The `tollgate.report/v1` document.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// JUnit XML: one test suite per resource, one test case per check.
    Junit,
    /// trivy-operator's report objects, as YAML documents.
    K8sReports,
    /// trivy-operator's report objects, as a JSON `List`.
    K8sReportsJson,
    /// wgpolicyk8s.io/v1alpha2 PolicyReport per namespace, ClusterPolicyReport (YAML).
    PolicyReport,
    /// openreports.io/v1alpha1 Report per namespace, ClusterReport (YAML).
    OpenReports,
    /// One self-contained HTML page with summary, charts and a filterable table.
    Html,
}

impl Format {
    pub const ALL: [Format; 9] = [
        Format::Table,
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::K8sReports,
        Format::K8sReportsJson,
        Format::PolicyReport,
        Format::OpenReports,
        Format::Html,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
            Format::K8sReports => "k8s-reports",
            Format::K8sReportsJson => "k8s-reports-json",
            Format::PolicyReport => "policy-report",
            Format::OpenReports => "openreports",
            Format::Html => "html",
        }
    }

    /// The format's sink, writing to `out`; `table` styles the table format.
    pub fn sink(self, out: Box<dyn std::io::Write>, table: table::Style) -> Box<dyn Sink> {
        match self {
            Format::Table => Box::new(table::TableSink::new(out, table)),
            Format::Json => Box::new(json::JsonSink::new(out)),
            Format::Sarif => Box::new(sarif::SarifSink::new(out)),
            Format::Junit => Box::new(junit::JunitSink::new(out)),
            Format::K8sReports => Box::new(k8s::K8sSink::new(out, false)),
            Format::K8sReportsJson => Box::new(k8s::K8sSink::new(out, true)),
            Format::PolicyReport => Box::new(policy_report::PolicyReportSink::new(
                out,
                policy_report::Flavour::PolicyReport,
            )),
            Format::OpenReports => Box::new(policy_report::PolicyReportSink::new(
                out,
                policy_report::Flavour::OpenReports,
            )),
            Format::Html => Box::new(html::HtmlSink::new(out)),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is none of [`Format::ALL`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown format '{0}' (use one of: {names})", names = Format::ALL.map(Format::name).join(", "))]
pub struct UnknownFormat(pub String);

impl std::str::FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFormat(s.to_string()))
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
    /// The entries carry failed checks only ([`FailedOnly`]).
    pub failed_only: bool,
}

/// Passes on each resource with its failed checks only (exempted ones included):
/// `--failed-only`, for reports of large scans, where passed checks are most of the
/// bytes (about 5 KB per object in JSON). Counts and the exit status do not change.
pub struct FailedOnly(pub Box<dyn Sink>);

impl Sink for FailedOnly {
    fn begin(&mut self, ctx: &Context) -> std::io::Result<()> {
        let ctx = Context {
            failed_only: true,
            ..ctx.clone()
        };
        self.0.begin(&ctx)
    }
    fn resource(&mut self, e: &ResourceEntry) -> std::io::Result<()> {
        let kept = ResourceEntry {
            file: e.file.clone(),
            document: e.document,
            item: e.item,
            line: e.line,
            api_version: e.api_version.clone(),
            kind: e.kind.clone(),
            namespace: e.namespace.clone(),
            name: e.name.clone(),
            checks: e.checks.iter().filter(|c| !c.success).cloned().collect(),
        };
        self.0.resource(&kept)
    }
    fn finish(&mut self, tail: &Tail) -> std::io::Result<()> {
        self.0.finish(tail)
    }
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
