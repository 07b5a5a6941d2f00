//! `--format policy-report` (wgpolicyk8s.io/v1alpha2) and `--format openreports`
//! (openreports.io/v1alpha1): the objects Kyverno, Kubewarden and trivy-operator's
//! adapter write and dashboards such as Policy Reporter read. One report per namespace
//! (`PolicyReport`/`Report`) and one for the cluster-scoped resources
//! (`ClusterPolicyReport`/`ClusterReport`); each result is one check on one resource:
//! policy = plugin, rule = check id, result pass/fail, or skip for an exempted finding
//! (the exemption in `properties`). A report keeps at most [`MAX_RESULTS`] results,
//! failures first, so it stays far below etcd's 1.5 MiB object limit; how many were left
//! out is in the annotation `tollgate.dev/results-omitted`, and `summary` counts them all.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{json, Map, Value};

use super::meta;
use super::{CheckEntry, Context, ResourceEntry, Sink, Tail};
use crate::kube;

/// Results per report object: about 400 bytes each as JSON, so some 400 KB at most.
pub const MAX_RESULTS: usize = 1000;
/// Bytes of results per report object (messages can be long): the object stays well
/// under etcd's 1.5 MiB whatever the plugins say.
const RESULTS_BUDGET_BYTES: usize = 768 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// wgpolicyk8s.io/v1alpha2 PolicyReport / ClusterPolicyReport.
    PolicyReport,
    /// openreports.io/v1alpha1 Report / ClusterReport.
    OpenReports,
}

#[derive(Default)]
struct Report {
    /// Results kept: failures and exempted ones first (up to the bound), then passes.
    failing: Vec<Value>,
    passing: Vec<Value>,
    /// Bytes of the results kept, as JSON.
    bytes: usize,
    pass: usize,
    fail: usize,
    skip: usize,
}

pub struct PolicyReportSink<W: Write> {
    out: W,
    flavour: Flavour,
    /// Per namespace; `None` for the cluster-scoped resources.
    reports: BTreeMap<Option<String>, Report>,
    seconds: i64,
}

impl<W: Write> PolicyReportSink<W> {
    pub fn new(out: W, flavour: Flavour) -> Self {
        PolicyReportSink {
            out,
            flavour,
            reports: BTreeMap::new(),
            seconds: crate::clock::report_time(),
        }
    }
}

fn result(r: &ResourceEntry, c: &CheckEntry, namespace: Option<&str>, seconds: i64) -> Value {
    let outcome = match (c.success, &c.exempted) {
        (true, _) => "pass",
        (false, Some(_)) => "skip",
        (false, None) => "fail",
    };
    let mut properties = Map::new();
    properties.insert("title".into(), json!(c.meta.title));
    properties.insert("file".into(), json!(r.file.to_string()));
    properties.insert("document".into(), json!(r.document.to_string()));
    if let Some(item) = r.item {
        properties.insert("item".into(), json!(item.to_string()));
    }
    for (i, m) in c.messages.iter().enumerate().skip(1) {
        properties.insert(format!("message.{}", i + 1), json!(m));
    }
    if let Some(x) = &c.exempted {
        properties.insert("exemption".into(), json!(x.reason));
        properties.insert("exemption.source".into(), json!(x.source));
        if let Some(e) = &x.expires {
            properties.insert("exemption.expires".into(), json!(e));
        }
    }
    let mut resource = json!({"kind": r.kind, "name": r.name.clone().unwrap_or_default()});
    if let Some(v) = &r.api_version {
        resource["apiVersion"] = json!(v);
    }
    if let Some(ns) = namespace {
        resource["namespace"] = json!(ns);
    }
    let mut v = json!({
        "policy": c.meta.plugin,
        "rule": c.meta.id,
        "result": outcome,
        "severity": c.severity.as_str().to_ascii_lowercase(),
        "category": c.meta.category,
        "source": "tollgate",
        "scored": true,
        "properties": properties,
        "resources": [resource],
        "timestamp": {"seconds": seconds, "nanos": 0},
    });
    let message = match c.messages.first() {
        Some(m) => m.clone(),
        None => c.meta.title.clone(),
    };
    v["message"] = json!(message);
    v
}

impl<W: Write> Sink for PolicyReportSink<W> {
    fn begin(&mut self, _ctx: &Context) -> std::io::Result<()> {
        Ok(())
    }

    fn resource(&mut self, r: &ResourceEntry) -> std::io::Result<()> {
        // A namespace no cluster could have (`My_NS`) gets no report, which the API
        // server would refuse; the YAML says so in a comment.
        if let Some(Err(why)) = r.namespace.as_deref().map(meta::dns_label) {
            return writeln!(
                self.out,
                "# tollgate: no report for {} {}: its namespace {}",
                meta::one_line(&r.kind),
                meta::one_line(r.name.as_deref().unwrap_or("(unnamed)")),
                meta::one_line(&why.0)
            );
        }
        let namespace = match &r.namespace {
            Some(ns) => Some(ns.clone()),
            None if kube::is_cluster_scoped(&r.kind) => None,
            None => Some(kube::DEFAULT_NAMESPACE.to_string()),
        };
        let seconds = self.seconds;
        let report = self.reports.entry(namespace.clone()).or_default();
        for c in &r.checks {
            match (c.success, c.exempted.is_some()) {
                (true, _) => report.pass += 1,
                (false, true) => report.skip += 1,
                (false, false) => report.fail += 1,
            }
            let keep = if c.success {
                report.passing.len() < MAX_RESULTS
            } else {
                report.failing.len() < MAX_RESULTS
            };
            if keep {
                let v = result(r, c, namespace.as_deref(), seconds);
                let size = serde_json::to_vec(&v).map_or(0, |b| b.len());
                if report.bytes + size > RESULTS_BUDGET_BYTES {
                    continue;
                }
                report.bytes += size;
                if c.success {
                    report.passing.push(v);
                } else {
                    report.failing.push(v);
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self, _tail: &Tail) -> std::io::Result<()> {
        let (api, namespaced, cluster) = match self.flavour {
            Flavour::PolicyReport => (
                "wgpolicyk8s.io/v1alpha2",
                "PolicyReport",
                "ClusterPolicyReport",
            ),
            Flavour::OpenReports => ("openreports.io/v1alpha1", "Report", "ClusterReport"),
        };
        for (namespace, report) in std::mem::take(&mut self.reports) {
            let total = report.pass + report.fail + report.skip;
            let mut results = report.failing;
            let room = MAX_RESULTS.saturating_sub(results.len());
            results.extend(report.passing.into_iter().take(room));
            let omitted = total - results.len();
            let mut metadata = json!({
                "name": meta::object_name("tollgate", &format!("tollgate-{}", namespace.as_deref().unwrap_or("cluster"))),
                "labels": {"app.kubernetes.io/managed-by": "tollgate"},
                "annotations": {"tollgate.dev/results-omitted": omitted.to_string()},
            });
            if let Some(ns) = &namespace {
                metadata["namespace"] = json!(ns);
            }
            let mut obj = json!({
                "apiVersion": api,
                "kind": if namespace.is_some() { namespaced } else { cluster },
                "metadata": metadata,
                "summary": {"pass": report.pass, "fail": report.fail, "warn": 0, "error": 0, "skip": report.skip},
                "results": results,
            });
            if self.flavour == Flavour::OpenReports {
                obj["source"] = json!("tollgate");
            }
            let text = serde_saphyr::to_string(&obj).map_err(std::io::Error::other)?;
            writeln!(self.out, "---\n{}", text.trim_end())?;
        }
        self.out.flush()
    }
}
