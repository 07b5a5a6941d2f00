//! `--format k8s-reports`: the objects trivy-operator writes, so dashboards that read
//! them read tollgate's results unchanged: `ConfigAuditReport` (namespaced resources),
//! `ClusterConfigAuditReport` (cluster-scoped), `RbacAssessmentReport` (Role),
//! `ClusterRbacAssessmentReport` (ClusterRole), `ClusterInfraAssessmentReport` (a
//! NodeInfo: `node-<name>`) and `InfraAssessmentReport` (the KCV results of a
//! control-plane Pod, whose other results stay in its ConfigAuditReport), in
//! `aquasecurity.github.io/v1alpha1`.
//! YAML documents by default, a JSON `List` on request; written as the scan goes.

use std::io::Write;

use serde_json::{json, Map, Value};
use tollgate_runtime::Severity;

use super::meta::{self, put_label};
use super::{CheckEntry, Context, ResourceEntry, Sink, Tail};
use crate::kube;

pub const API_VERSION: &str = "aquasecurity.github.io/v1alpha1";

/// Bytes of check messages one report object holds; the rest are counted in a last
/// message.
const MESSAGE_BUDGET_BYTES: usize = 512 << 10;

/// `messages` as far as `budget` goes (a first message over what is left is cut to what
/// is left, at most 1 KiB), and the count of those left out: once the budget is spent a
/// check keeps only that count.
fn within(messages: Vec<String>, budget: &mut usize) -> Vec<String> {
    let total = messages.len();
    let mut out = Vec::with_capacity(total);
    for m in messages {
        if m.len() > *budget {
            if out.is_empty() && *budget > 0 {
                let room = (*budget).min(1024);
                let cut: String = m
                    .chars()
                    .scan(0, |n, c| {
                        *n += c.len_utf8();
                        (*n <= room).then_some(c)
                    })
                    .collect();
                *budget -= cut.len();
                out.push(cut);
                continue;
            }
            break;
        }
        *budget -= m.len();
        out.push(m);
    }
    if out.len() < total {
        out.push(format!(
            "... and {} more messages, left out to keep the report under Kubernetes' object size limit",
            total - out.len()
        ));
    }
    out
}

/// trivy-operator's naming: `<lower kind>-<name>`, or `<lower kind>-<hash>` when that is
/// not a valid DNS label.
pub fn report_name(kind: &str, name: Option<&str>) -> String {
    use super::meta::{dns_label, trivy_hash};
    let kind = kind.to_ascii_lowercase();
    let name = name.unwrap_or("unnamed");
    // As trivy-operator names them: `kind-name` when that is a DNS label (the name is
    // not lower-cased: `Role pod-Reader` is hashed), else `kind-<ComputeHash(name)>`.
    let plain = format!("{kind}-{name}");
    if dns_label(&plain).is_ok() {
        return plain;
    }
    let hashed = format!("{kind}-{}", trivy_hash(name));
    if dns_label(&hashed).is_ok() {
        return hashed;
    }
    // A kind no API server serves (not a DNS label once lower-cased): still a name the
    // API server accepts.
    let prefix: String = kind
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(40)
        .collect();
    format!("{prefix}-{}", trivy_hash(name))
}

pub use crate::clock::{rfc3339, timestamp};

/// trivy-operator's infra-assessment reports carry its KCV family (the CIS checks of
/// nodes and control-plane components); the id prefix is how its reports tell them apart.
fn is_infra_check(id: &str) -> bool {
    id.starts_with("KCV")
}

/// The report objects for one resource: one, or for a control-plane Pod two (its KCV
/// results in an InfraAssessmentReport, the others in its ConfigAuditReport).
pub fn report_objects(r: &ResourceEntry, ctx: &Context, now: &str) -> Vec<Value> {
    if r.kind == kube::NODE_INFO {
        return vec![report_object(
            r,
            ctx,
            now,
            "ClusterInfraAssessmentReport",
            &r.checks,
        )];
    }
    if !kube::is_control_plane_pod(&r.kind, r.namespace.as_deref(), r.name.as_deref()) {
        return vec![report_object(r, ctx, now, audit_kind(r), &r.checks)];
    }
    let (infra, audit): (Vec<CheckEntry>, Vec<CheckEntry>) = r
        .checks
        .iter()
        .cloned()
        .partition(|c| is_infra_check(&c.meta.id));
    let mut out = Vec::new();
    if !audit.is_empty() {
        out.push(report_object(r, ctx, now, audit_kind(r), &audit));
    }
    if !infra.is_empty() {
        out.push(report_object(r, ctx, now, "InfraAssessmentReport", &infra));
    }
    out
}

fn audit_kind(r: &ResourceEntry) -> &'static str {
    let cluster = r.namespace.is_none() && kube::is_cluster_scoped(&r.kind);
    match (r.kind.as_str(), cluster) {
        ("ClusterRole", _) => "ClusterRbacAssessmentReport",
        ("Role", _) => "RbacAssessmentReport",
        (_, true) => "ClusterConfigAuditReport",
        (_, false) => "ConfigAuditReport",
    }
}

/// One report object of `kind` for a resource, holding `checks`.
fn report_object(
    r: &ResourceEntry,
    ctx: &Context,
    now: &str,
    kind: &str,
    checks: &[CheckEntry],
) -> Value {
    let namespaced = matches!(
        kind,
        "RbacAssessmentReport" | "ConfigAuditReport" | "InfraAssessmentReport"
    );
    let namespace = r
        .namespace
        .clone()
        .unwrap_or_else(|| kube::DEFAULT_NAMESPACE.into());
    // A NodeInfo describes a Node: its report is named and labelled after the Node.
    let (kind_label, name) = if r.kind == kube::NODE_INFO {
        // node-collector's own objects carry no name: the file's (nodes/<node>.json, as
        // the README's pipeline writes them) keeps two nodes' reports apart.
        let from_file = || {
            std::path::Path::new(&*r.file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty() && s != "-")
        };
        (
            "Node",
            r.name
                .clone()
                .or_else(from_file)
                .unwrap_or_else(|| "unnamed".into()),
        )
    } else {
        (r.kind.as_str(), r.name.clone().unwrap_or_default())
    };
    // Labels by Kubernetes' rules: a name that cannot be a label value (`system:...`,
    // over 63 characters) goes in an annotation, with a hash label (see meta::put_label).
    let (mut labels, mut annotations) = (Map::new(), Map::new());
    put_label(
        &mut labels,
        &mut annotations,
        "trivy-operator.resource.kind",
        kind_label,
    );
    put_label(
        &mut labels,
        &mut annotations,
        "trivy-operator.resource.name",
        &name,
    );
    let report_name = report_name(
        kind_label,
        Some(&name).filter(|n| !n.is_empty()).map(|n| n.as_str()),
    );
    let mut metadata = json!({"name": report_name});
    if namespaced {
        put_label(
            &mut labels,
            &mut annotations,
            "trivy-operator.resource.namespace",
            &namespace,
        );
        metadata["namespace"] = json!(namespace);
    } else {
        // trivy-operator labels a cluster-scoped object's report with an empty namespace.
        labels.insert("trivy-operator.resource.namespace".into(), json!(""));
    }
    metadata["labels"] = Value::Object(labels);
    if !annotations.is_empty() {
        metadata["annotations"] = Value::Object(annotations);
    }
    let mut counts = [0usize; 4];
    // Messages share a byte budget, so that the object stays far under etcd's limit
    // whatever a plugin says (up to 1 MiB of messages per resource).
    let mut budget = MESSAGE_BUDGET_BYTES;
    let checks: Vec<Value> = checks
        .iter()
        .map(|c| {
            // trivy-operator has no exemptions: an accepted finding reads as a pass whose
            // messages say why.
            let success = c.success || c.exempted.is_some();
            let mut messages = c.messages.clone();
            if let Some(x) = &c.exempted {
                messages.insert(0, format!("exempted ({}): {}", x.source, x.reason));
            }
            let messages = within(messages, &mut budget);
            if !success {
                counts[match c.severity {
                    Severity::Critical => 0,
                    Severity::High => 1,
                    Severity::Medium => 2,
                    Severity::Low => 3,
                }] += 1;
            }
            let info = ctx.checks.get(&c.meta.id);
            json!({
                "checkID": c.meta.id,
                "title": c.meta.title,
                "description": info.map(|i| i.description.as_str()).unwrap_or(""),
                "severity": c.severity.as_str(),
                "category": c.meta.category,
                "messages": messages,
                "remediation": info.map(|i| i.remediation.as_str()).unwrap_or(""),
                "success": success,
            })
        })
        .collect();
    json!({
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": metadata,
        "report": {
            "updateTimestamp": now,
            "scanner": {"name": "tollgate", "vendor": "tollgate", "version": env!("CARGO_PKG_VERSION")},
            "summary": {"criticalCount": counts[0], "highCount": counts[1], "mediumCount": counts[2], "lowCount": counts[3]},
            "checks": checks,
        },
    })
}

pub struct K8sSink<W: Write> {
    out: W,
    json: bool,
    first: bool,
    ctx: Context,
    now: String,
}

impl<W: Write> K8sSink<W> {
    pub fn new(out: W, json: bool) -> Self {
        K8sSink {
            out,
            json,
            first: true,
            ctx: Context::default(),
            now: timestamp(),
        }
    }
}

impl<W: Write> Sink for K8sSink<W> {
    fn begin(&mut self, ctx: &Context) -> std::io::Result<()> {
        self.ctx = ctx.clone();
        if self.json {
            write!(
                self.out,
                "{{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
            )?;
        }
        Ok(())
    }

    fn resource(&mut self, r: &ResourceEntry) -> std::io::Result<()> {
        // A resource in a namespace no cluster could have (`My_NS`) gets no report
        // object, which the API server would refuse; YAML says so in a comment.
        if let Some(Err(why)) = r.namespace.as_deref().map(meta::dns_label) {
            if !self.json {
                writeln!(
                    self.out,
                    "# tollgate: no report for {} {}: its namespace {}",
                    meta::one_line(&r.kind),
                    meta::one_line(r.name.as_deref().unwrap_or("(unnamed)")),
                    meta::one_line(&why.0)
                )?;
            }
            return Ok(());
        }
        for obj in report_objects(r, &self.ctx, &self.now) {
            if self.json {
                self.out
                    .write_all(if self.first { b"\n" } else { b",\n" })?;
                serde_json::to_writer(&mut self.out, &obj)?;
            } else {
                let text = serde_saphyr::to_string(&obj).map_err(std::io::Error::other)?;
                writeln!(self.out, "---\n{}", text.trim_end())?;
            }
            self.first = false;
        }
        Ok(())
    }

    fn finish(&mut self, _tail: &Tail) -> std::io::Result<()> {
        if self.json {
            writeln!(self.out, "\n]}}")?;
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_share_a_budget_and_say_what_was_left_out() {
        let mut budget = 250;
        let kept = within(vec!["x".repeat(100); 5], &mut budget);
        assert_eq!(kept.len(), 3);
        assert!(kept[2].starts_with("... and 3 more messages"), "{kept:?}");
        // A first message over what is left is cut to it; with nothing left, a check
        // keeps only the count.
        let mut budget = 10;
        let kept = within(vec!["y".repeat(5000)], &mut budget);
        assert_eq!(kept[0].len(), 10);
        assert_eq!(budget, 0);
        let kept = within(vec!["z".repeat(5)], &mut budget);
        assert_eq!(kept, ["... and 1 more messages, left out to keep the report under Kubernetes' object size limit"]);
    }

    #[test]
    fn names() {
        assert_eq!(report_name("Deployment", Some("web")), "deployment-web");
        // trivy-operator's own test vectors (configauditreport and rbacassessment
        // builder tests).
        assert_eq!(report_name("Role", Some("pod-Reader")), "role-65c67c5c64");
        assert_eq!(
            report_name("ClusterRole", Some("system:controller:node-controller")),
            "clusterrole-6f69bb5b79"
        );
        assert_eq!(
            report_name("Weird_Kind", Some("a:b")),
            format!("weirdkind-{}", meta::trivy_hash("a:b"))
        );
        assert!(report_name("ClusterRole", Some("system:kube-dns")).starts_with("clusterrole-"));
        assert_ne!(
            report_name("ClusterRole", Some("system:kube-dns")),
            "clusterrole-system:kube-dns"
        );
    }
}
