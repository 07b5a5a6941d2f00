//! Compliance views: how the scanned resources stand against a specification (NSA, PSS
//! baseline and restricted, CIS for Kubernetes, EKS and RKE2: their KSV controls judged
//! on manifests, their KCV controls on NodeInfo objects and control-plane Pods). Specifications are data files in
//! `policies/compliance/`, embedded at build time; `SPEC` may also be a path to a file
//! of the same shape (trivy's compliance YAML).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::report::{Context, ResourceEntry};

/// Bytes of failing checks a detailed ClusterComplianceReport holds: the object stays
/// well under etcd's 1.5 MiB limit (the public corpus's detail was 3.5 MB).
pub const DETAIL_BUDGET_BYTES: usize = 768 << 10;

const BUILTIN: &[(&str, &str)] = &[
    (
        "k8s-nsa-1.0",
        include_str!("../../../policies/compliance/k8s-nsa-1.0.yaml"),
    ),
    (
        "k8s-pss-baseline-0.1",
        include_str!("../../../policies/compliance/k8s-pss-baseline-0.1.yaml"),
    ),
    (
        "k8s-pss-restricted-0.1",
        include_str!("../../../policies/compliance/k8s-pss-restricted-0.1.yaml"),
    ),
    (
        "k8s-cis-1.23",
        include_str!("../../../policies/compliance/k8s-cis-1.23.yaml"),
    ),
    (
        "eks-cis-1.4",
        include_str!("../../../policies/compliance/eks-cis-1.4.yaml"),
    ),
    (
        "rke2-cis-1.24",
        include_str!("../../../policies/compliance/rke2-cis-1.24.yaml"),
    ),
];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub platform: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub related_resources: Vec<String>,
    pub controls: Vec<Control>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Control {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub severity: String,
    #[serde(default)]
    pub checks: Vec<CheckRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_status: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CheckRef {
    pub id: String,
}

#[derive(Deserialize)]
struct SpecFile {
    spec: Spec,
}

pub fn builtin_ids() -> Vec<&'static str> {
    BUILTIN.iter().map(|(id, _)| *id).collect()
}

/// Why a compliance specification could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ComplianceError {
    #[error("unknown compliance specification '{spec}' (built in: {}; or give a YAML file)", builtin_ids().join(", "))]
    Unknown { spec: String },
    #[error("{spec}: {source}")]
    Read {
        spec: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{spec}: {message}")]
    Invalid { spec: String, message: String },
}

/// A built-in specification by id, or a specification file.
pub fn load(spec: &str) -> Result<Spec, ComplianceError> {
    let text = match BUILTIN.iter().find(|(id, _)| *id == spec) {
        Some((_, text)) => text.to_string(),
        None if std::path::Path::new(spec).exists() => {
            std::fs::read_to_string(spec).map_err(|source| ComplianceError::Read {
                spec: spec.to_string(),
                source,
            })?
        }
        None => {
            return Err(ComplianceError::Unknown {
                spec: spec.to_string(),
            })
        }
    };
    serde_saphyr::from_str::<SpecFile>(&text)
        .map(|f| f.spec)
        .map_err(|e| ComplianceError::Invalid {
            spec: spec.to_string(),
            message: e.to_string(),
        })
}

/// The status of one control over the scanned resources.
#[derive(Debug, Clone, Serialize)]
pub struct ControlResult {
    pub id: String,
    pub name: String,
    pub severity: String,
    /// PASS, FAIL, MANUAL (no check backs it), or NOT-COVERED (its checks are not loaded,
    /// e.g. node checks that a manifest scan cannot run).
    pub status: String,
    /// The loaded checks that back the control.
    pub checks: Vec<String>,
    /// Referenced ids no loaded check answers to.
    pub missing: Vec<String>,
    /// Resources on which a backing check ran and all passed / at least one failed.
    pub pass: usize,
    pub fail: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceControls {
    pub file: String,
    pub document: usize,
    pub item: Option<usize>,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// Control id → the failed checks (empty = the control passed for this resource).
    pub controls: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub spec: Spec,
    pub controls: Vec<ControlResult>,
    pub resources: Vec<ResourceControls>,
}

/// Evaluates a specification over scan results.
pub fn evaluate(spec: &Spec, ctx: &Context, resources: &[ResourceEntry]) -> Outcome {
    // Spec ids (KSV-0012) resolve to loaded checks through ids and aliases.
    let resolve = |want: &str| crate::plugins::primary_id(ctx.checks.values(), want);
    let mut controls = Vec::new();
    let mut per_resource: Vec<ResourceControls> = resources
        .iter()
        .map(|r| ResourceControls {
            file: r.file.to_string(),
            document: r.document,
            item: r.item,
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            controls: BTreeMap::new(),
        })
        .collect();
    for c in &spec.controls {
        let mut checks = Vec::new();
        let mut missing = Vec::new();
        for r in &c.checks {
            match resolve(&r.id) {
                Some(id) => checks.push(id),
                None => missing.push(r.id.clone()),
            }
        }
        let (mut pass, mut fail) = (0, 0);
        for (i, r) in resources.iter().enumerate() {
            let applied: Vec<_> = r
                .checks
                .iter()
                .filter(|k| checks.iter().any(|c: &String| **c == k.meta.id))
                .collect();
            if applied.is_empty() {
                continue;
            }
            let failed: Vec<String> = applied
                .iter()
                .filter(|k| !k.success)
                .map(|k| k.meta.id.clone())
                .collect();
            if failed.is_empty() {
                pass += 1;
            } else {
                fail += 1;
            }
            per_resource[i].controls.insert(c.id.clone(), failed);
        }
        // trivy shows a control named "(Manual)" as manual whatever its checks say.
        let status = if c.checks.is_empty() || c.name.contains("Manual") {
            "MANUAL".to_string()
        } else if checks.is_empty() {
            "NOT-COVERED".to_string()
        } else if fail > 0 {
            "FAIL".to_string()
        } else if pass > 0 {
            "PASS".to_string()
        } else {
            // Nothing in the scan was subject to the control (no LimitRange at all, say).
            c.default_status
                .clone()
                .unwrap_or_else(|| "PASS".to_string())
        };
        controls.push(ControlResult {
            id: c.id.clone(),
            name: c.name.clone(),
            severity: c.severity.clone(),
            status,
            checks,
            missing,
            pass,
            fail,
        });
    }
    per_resource.retain(|r| !r.controls.is_empty());
    Outcome {
        spec: spec.clone(),
        controls,
        resources: per_resource,
    }
}

impl Outcome {
    pub fn to_json(&self, detail: bool) -> Value {
        let mut v = json!({
            "schema": "tollgate.compliance/v1",
            "spec": {"id": self.spec.id, "title": self.spec.title, "version": self.spec.version},
            "summary": {
                "controls": self.controls.len(),
                "pass": self.controls.iter().filter(|c| c.status == "PASS").count(),
                "fail": self.controls.iter().filter(|c| c.status == "FAIL").count(),
                "manual": self.controls.iter().filter(|c| c.status == "MANUAL").count(),
                "not_covered": self.controls.iter().filter(|c| c.status == "NOT-COVERED").count(),
            },
            "controls": self.controls,
        });
        if detail {
            v["resources"] = serde_json::to_value(&self.resources).unwrap_or_default();
        }
        v
    }

    pub fn write_table(&self, detail: bool, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{} ({}): {}\n",
            self.spec.id, self.spec.version, self.spec.title
        )?;
        writeln!(
            out,
            "{:<7} {:<9} {:<12} {:>6} {:>6}  {:<28} CONTROL",
            "ID", "SEVERITY", "STATUS", "PASS", "FAIL", "CHECKS"
        )?;
        for c in &self.controls {
            let checks = if c.checks.is_empty() && !c.missing.is_empty() {
                format!("({} not loaded)", c.missing.join(", "))
            } else {
                c.checks.join(", ")
            };
            writeln!(
                out,
                "{:<7} {:<9} {:<12} {:>6} {:>6}  {:<28} {}",
                c.id, c.severity, c.status, c.pass, c.fail, checks, c.name
            )?;
        }
        if detail {
            writeln!(out)?;
            for r in &self.resources {
                let failed: Vec<String> = r
                    .controls
                    .iter()
                    .filter(|(_, f)| !f.is_empty())
                    .map(|(id, f)| format!("{id} ({})", f.join(", ")))
                    .collect();
                if failed.is_empty() {
                    continue;
                }
                let ns = r
                    .namespace
                    .as_deref()
                    .map(|n| format!("{n}/"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{} {ns}{} ({}#{}): fails {}",
                    r.kind,
                    r.name.as_deref().unwrap_or("(unnamed)"),
                    r.file,
                    r.document,
                    failed.join("; ")
                )?;
            }
        }
        let count = |s: &str| self.controls.iter().filter(|c| c.status == s).count();
        writeln!(
            out,
            "\n{} controls: {} pass, {} fail, {} manual, {} not covered by the loaded checks",
            self.controls.len(),
            count("PASS"),
            count("FAIL"),
            count("MANUAL"),
            count("NOT-COVERED")
        )
    }

    /// A trivy-operator ClusterComplianceReport; with `detail`, the failing checks of
    /// each control within a byte budget (see [`DETAIL_BUDGET_BYTES`]).
    pub fn to_k8s(&self, detail: bool, ctx: &Context, now: &str) -> Value {
        let mut status = json!({
            "updateTimestamp": now,
            "summary": {
                "passCount": self.controls.iter().filter(|c| c.status == "PASS").count(),
                "failCount": self.controls.iter().filter(|c| c.status == "FAIL").count(),
            },
        });
        let mut omitted = 0usize;
        if detail {
            // Each control with failures gets an equal share of the byte budget for its
            // failing checks, so that the object stays under etcd's limit however many
            // resources fail; what is left out is counted in an annotation.
            let failing = self
                .controls
                .iter()
                .filter(|c| {
                    self.resources
                        .iter()
                        .any(|r| r.controls.contains_key(&c.id))
                })
                .count()
                .max(1);
            let share = DETAIL_BUDGET_BYTES / failing;
            let results: Vec<Value> = self
                .controls
                .iter()
                .map(|c| {
                    let mut checks = Vec::new();
                    let mut used = 0;
                    for r in &self.resources {
                        if let Some(failed) = r.controls.get(&c.id) {
                            for id in failed {
                                let info = ctx.checks.get(id);
                                let check = json!({
                                    "checkID": id,
                                    "title": info.map(|i| i.title.as_str()).unwrap_or(""),
                                    "severity": info.map(|i| i.severity.as_str()).unwrap_or("UNKNOWN"),
                                    "category": info.map(|i| i.category.as_str()).unwrap_or(""),
                                    "remediation": info.map(|i| i.remediation.as_str()).unwrap_or(""),
                                    "target": format!("{}/{}", r.kind, r.name.as_deref().unwrap_or("(unnamed)")),
                                    "success": false,
                                });
                                let size = serde_json::to_vec(&check).map_or(0, |b| b.len());
                                if used + size > share {
                                    omitted += 1;
                                    continue;
                                }
                                used += size;
                                checks.push(check);
                            }
                        }
                    }
                    json!({"id": c.id, "name": c.name, "severity": c.severity, "status": c.status, "checks": checks})
                })
                .collect();
            status["detailReport"] = json!({"id": self.spec.id, "title": self.spec.title, "version": self.spec.version, "results": results});
        } else {
            let checks: Vec<Value> = self
                .controls
                .iter()
                .map(|c| json!({"id": c.id, "name": c.name, "severity": c.severity, "totalFail": c.fail}))
                .collect();
            status["summaryReport"] =
                json!({"id": self.spec.id, "title": self.spec.title, "controlCheck": checks});
        }
        let mut metadata =
            json!({"name": crate::report::meta::object_name("compliance", &self.spec.id)});
        if omitted > 0 {
            metadata["annotations"] = json!({"tollgate.dev/checks-omitted": omitted.to_string()});
        }
        json!({
            "apiVersion": crate::report::k8s::API_VERSION,
            "kind": "ClusterComplianceReport",
            "metadata": metadata,
            "spec": {
                "cron": "0 */6 * * *",
                "reportType": if detail { "all" } else { "summary" },
                "compliance": serde_json::to_value(&self.spec).unwrap_or_default(),
            },
            "status": status,
        })
    }
}
