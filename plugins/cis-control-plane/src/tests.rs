use std::path::{Path, PathBuf};

use super::*;
use tollgate_kit::{json, serde_json, Runtime, Value};

const WORKLOAD: [&str; 9] = [
    "Pod",
    "ReplicaSet",
    "ReplicationController",
    "Deployment",
    "DeploymentConfig",
    "StatefulSet",
    "DaemonSet",
    "CronJob",
    "Job",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn run(id: &str, v: &Value) -> Vec<Finding> {
    let rt = Runtime::<CisControlPlane>::new();
    let i = rt.checks.iter().position(|c| c.id == id).unwrap() as u32;
    rt.evaluate_value(v, &[i]).remove(0).findings
}

pub(crate) fn fails(id: &str, v: &Value) -> bool {
    !run(id, v).is_empty()
}

/// Findings as trivy's unit tests count them: identical results collapse.
fn distinct(f: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for x in f {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// A Pod with one container of the given command and args (null: absent).
pub(crate) fn pod(command: Value, args: Value) -> Value {
    let mut c = json!({"name": "c", "image": "registry.k8s.io/kube-apiserver:v1.30.0"});
    if !command.is_null() {
        c["command"] = command;
    }
    if !args.is_null() {
        c["args"] = args;
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "kube-system"},
           "spec": {"containers": [c]}})
}

fn catalogue_json(id: &str) -> Value {
    let p = root().join(format!("policies/cis-control-plane/{id}/check.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn deviation_tested_by(id: &str, deviation: &str, test: &str) -> bool {
    catalogue_json(id)["deviations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["id"] == deviation && d["reason"].as_str().unwrap().contains(test))
}

fn ids() -> Vec<&'static str> {
    CHECKS.iter().map(|c| c.id).chain(["KCV0093"]).collect()
}

/// Every upstream case of the 45 checks (tests/fixtures/kcv-cases, a copy of the shared
/// spec's cases) gets trivy's verdict and number of findings.
#[test]
fn every_upstream_case_gets_trivys_verdict() {
    let dir = root().join("tests/fixtures/kcv-cases");
    let mut seen = 0;
    let mut wrong = Vec::new();
    for id in ids() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(id))
            .unwrap_or_else(|e| panic!("{id}: {e}"))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{id} has no cases");
        for f in files {
            let case: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            assert_eq!(case["id"], id, "{}", f.display());
            let found = distinct(run(id, &case["input"]));
            let want_fail = case["expect_fail"].as_bool().unwrap();
            let name = format!("{id}/{}", f.file_name().unwrap().to_string_lossy());
            if found.is_empty() == want_fail {
                wrong.push(format!("{name}: expected fail={want_fail}, got {found:?}"));
            } else if let Some(n) = case["expect_count"].as_u64() {
                if found.len() as u64 != n {
                    wrong.push(format!("{name}: expected {n} findings, got {found:?}"));
                }
            }
            seen += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cases disagree:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(
        seen, 203,
        "the shared spec has 179 Pod and 24 Ingress cases"
    );
}

#[test]
fn catalogue_is_complete() {
    let rt = Runtime::<CisControlPlane>::new();
    assert_eq!(rt.checks.len(), 45);
    for (info, id) in rt.checks.iter().zip(ids()) {
        assert_eq!(info.id, id);
        assert!(!info.remediation.is_empty() && !info.description.is_empty());
        assert_eq!(info.aliases[0], format!("KCV-{}", &id[3..]));
        assert_eq!(info.aliases[1], format!("AVD-KCV-{}", &id[3..]));
        assert!(info.default_enabled);
        if id == "KCV0093" {
            assert_eq!(info.kinds, ["Ingress"]);
            assert_eq!(info.category, "Ingress");
        } else {
            assert_eq!(info.category, "CIS Control Plane");
        }
    }
}

/// policies/cis-control-plane/<ID>/examples/{pass,fail}.yaml meet their expectations.
#[test]
fn catalogue_examples_meet_their_expectations() {
    for id in ids() {
        for (file, want_fail) in [("pass.yaml", false), ("fail.yaml", true)] {
            let p = root().join(format!("policies/cis-control-plane/{id}/examples/{file}"));
            let text = std::fs::read_to_string(&p).unwrap();
            for doc in text.split("\n---\n") {
                let v: Value = serde_saphyr::from_str(doc).unwrap();
                assert_eq!(
                    fails(id, &v),
                    want_fail,
                    "{}: {:?}",
                    p.display(),
                    run(id, &v)
                );
            }
        }
    }
}

/// Deviation `workload-kinds-only`: trivy also reads `spec.containers` of any kind; the
/// Pod checks declare the workload kinds, so the host never runs them on a ConfigMap
/// or custom resource (the kit would find those containers if asked).
#[test]
fn pod_checks_declare_workload_kinds_only() {
    let rt = Runtime::<CisControlPlane>::new();
    let applies = |kinds: &[String], kind: &str| {
        kinds
            .iter()
            .any(|k| k == "*" || k.eq_ignore_ascii_case(kind))
    };
    for info in rt.checks.iter().filter(|c| c.id != "KCV0093") {
        assert_eq!(info.kinds, WORKLOAD, "{}", info.id);
        assert!(!applies(&info.kinds, "ConfigMap") && !applies(&info.kinds, "Service"));
        assert!(
            deviation_tested_by(
                &info.id,
                "workload-kinds-only",
                "pod_checks_declare_workload_kinds_only"
            ),
            "{}",
            info.id
        );
        for d in [
            "null-securityContext",
            "malformed-containers",
            "yaml-merge-keys",
        ] {
            assert!(
                deviation_tested_by(&info.id, d, "Test: "),
                "{} {d}",
                info.id
            );
        }
    }
    // What trivy would flag and tollgate does not run on: an apiserver in a ConfigMap.
    let cm = json!({"kind": "ConfigMap", "metadata": {"name": "x"},
                    "spec": {"containers": [{"name": "a", "command": ["kube-apiserver"]}]}});
    assert!(
        fails("KCV0001", &cm),
        "the rule itself reads the object's own spec"
    );
    assert!(
        !applies(&rt.checks[0].kinds, "ConfigMap"),
        "but the check is not applied to it"
    );
}

/// Deviation `null-securityContext`: trivy drops a container whose securityContext is
/// null from every container check; here it is judged like any other.
#[test]
fn null_security_context_is_still_checked() {
    let mut v = pod(
        json!(["kube-apiserver", "--anonymous-auth=true"]),
        Value::Null,
    );
    v["spec"]["containers"][0]["securityContext"] = Value::Null;
    assert_eq!(run("KCV0001", &v).len(), 1);
    assert!(deviation_tested_by(
        "KCV0001",
        "null-securityContext",
        "null_security_context_is_still_checked"
    ));
}

/// Deviation `default-enabled`: trivy runs KCV0013 only for the CIS compliance specs.
#[test]
fn kcv0013_runs_by_default() {
    let rt = Runtime::<CisControlPlane>::new();
    assert!(rt.enabled_ids().iter().any(|id| id == "KCV0013"));
    assert_eq!(rt.enabled_ids().len(), 45);
    let v = pod(
        json!([
            "kube-apiserver",
            "--enable-admission-plugins=NodeRestriction"
        ]),
        Value::Null,
    );
    assert!(fails("KCV0013", &v));
    assert!(deviation_tested_by(
        "KCV0013",
        "default-enabled",
        "kcv0013_runs_by_default"
    ));
}

/// No alias of a KCV check reads as a check of another family: trivy's typo alias
/// KSV0012 on KCV0012 would capture exemptions and overrides meant for KSV012.
#[test]
fn no_alias_names_another_family() {
    for c in CisControlPlane::checks() {
        for a in &c.aliases {
            assert!(!a.starts_with("KSV"), "{}: alias {a}", c.id);
        }
    }
    assert!(deviation_tested_by(
        "KCV0012",
        "typo-alias",
        "no_alias_names_another_family"
    ));
}
