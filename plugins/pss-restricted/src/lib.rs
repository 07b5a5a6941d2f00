//! The Pod Security Standards Restricted checks: volume types, privilege escalation,
//! running as root, root groups, seccomp, and trivy's later runAsUser 0 (KSV105) and
//! drop ALL / add only NET_BIND_SERVICE (KSV106) checks.

use tollgate_kit::value::{elements, has_key, is_false, is_true, items, num_eq};
use tollgate_kit::{catalogue, CheckInfo, Container, Finding, Object, PluginMeta, Policy};

#[derive(Default)]
pub struct PssRestricted;

tollgate_kit::export_policy!(PssRestricted);

impl Policy for PssRestricted {
    fn meta() -> PluginMeta {
        PluginMeta::new(
            "pss-restricted",
            env!("CARGO_PKG_VERSION"),
            "trivy-operator's Pod Security Standards Restricted checks",
        )
    }

    fn checks() -> Vec<CheckInfo> {
        catalogue!("../../../policies/pss-restricted"; KSV028, KSV001, KSV012, KSV116, KSV030, KSV105, KSV106)
    }

    fn evaluate(&self, id: &str, o: &Object) -> Vec<Finding> {
        match id {
            "KSV028" => volume_types(o),
            "KSV001" => privilege_escalation(o),
            "KSV012" => run_as_root(o),
            "KSV116" => root_groups(o),
            "KSV030" => seccomp(o),
            "KSV105" => root_uid(o),
            "KSV106" => capabilities(o),
            _ => vec![],
        }
    }
}

/// Volume types the check refuses. `cephFS` is trivy's spelling (the real field is
/// `cephfs`); see the deviation note in policies/pss-restricted/KSV028.
const DENIED_VOLUMES: [&str; 20] = [
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephFS",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
];

fn volume_types(o: &Object) -> Vec<Finding> {
    for p in o.pod_specs() {
        for (i, v) in items(p.spec.get("volumes")).enumerate() {
            if !has_key(Some(v), "name") {
                continue;
            }
            if let Some(t) = DENIED_VOLUMES.iter().find(|t| has_key(Some(v), t)) {
                let name = v.get("name").and_then(|v| v.as_str()).unwrap_or("?");
                return vec![Finding::at(
                    format!(
                        "{} uses volume '{name}' of non-ephemeral type {t}",
                        o.describe()
                    ),
                    &format!("{}[{i}]", p.spec_path("volumes")),
                )];
            }
        }
    }
    vec![]
}

/// Per-container findings matched by name: a container passes when any container of
/// the same name passes (trivy's semantics).
fn by_name(o: &Object, ok: impl Fn(&Container) -> bool, why: &str) -> Vec<Finding> {
    o.failing_by_name(ok)
        .into_iter()
        .map(|c| Finding::at(c.describe(o) + " " + why, &c.path))
        .collect()
}

fn privilege_escalation(o: &Object) -> Vec<Finding> {
    by_name(
        o,
        |c| is_false(c.own_sc("allowPrivilegeEscalation")),
        "should set securityContext.allowPrivilegeEscalation to false",
    )
}

fn run_as_root(o: &Object) -> Vec<Finding> {
    // trivy only looks further when some pod leaves runAsNonRoot unset or false.
    let gate = o.pod_specs().iter().any(|p| {
        let v = p
            .spec
            .get("securityContext")
            .and_then(|sc| sc.get("runAsNonRoot"));
        v.is_none() || is_false(v)
    });
    if !gate {
        return vec![];
    }
    by_name(
        o,
        |c| is_true(c.sc("runAsNonRoot")),
        "should set securityContext.runAsNonRoot to true",
    )
}

fn root_groups(o: &Object) -> Vec<Finding> {
    for p in o.pod_specs() {
        let Some(sc) = p.spec.get("securityContext") else {
            continue;
        };
        let mut why = Vec::new();
        if num_eq(sc.get("runAsGroup"), 0.0) {
            why.push("runAsGroup 0");
        }
        if num_eq(sc.get("fsGroup"), 0.0) {
            why.push("fsGroup 0");
        }
        if items(sc.get("supplementalGroups")).any(|g| num_eq(Some(g), 0.0)) {
            why.push("supplementalGroups containing 0");
        }
        if !why.is_empty() {
            return vec![Finding::at(
                format!(
                    "{} runs with the root group: {}",
                    o.describe(),
                    why.join(", ")
                ),
                &p.spec_path("securityContext"),
            )];
        }
    }
    vec![]
}

const SECCOMP_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";

fn seccomp(o: &Object) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, p) in o.pod_specs().iter().enumerate() {
        // An annotation of `false` counts as absent (Rego's falsy lookup).
        let annotation = p
            .annotations()
            .and_then(|a| a.get(SECCOMP_ANNOTATION))
            .filter(|a| a.as_bool() != Some(false));
        match annotation {
            None => {
                for c in o.containers().iter().filter(|c| c.pod == Some(i)) {
                    let t = c.sc("seccompProfile").and_then(|s| s.get("type")).and_then(|v| v.as_str());
                    if !matches!(t, Some("RuntimeDefault" | "Localhost")) {
                        out.push(Finding::at(
                            format!(
                                "{} should set securityContext.seccompProfile.type to RuntimeDefault or Localhost{}",
                                c.describe(o),
                                t.map(|t| format!(" (it is {t})")).unwrap_or_default()
                            ),
                            &c.path,
                        ));
                    }
                }
            }
            Some(v) if v.as_str() == Some("runtime/default") => {}
            Some(v) => out.push(Finding::at(
                format!("{} sets the seccomp annotation {SECCOMP_ANNOTATION} to {v}; use runtime/default", o.describe()),
                &p.metadata_path("annotations"),
            )),
        }
    }
    out
}

fn root_uid(o: &Object) -> Vec<Finding> {
    let mut out: Vec<Finding> = o
        .containers()
        .iter()
        .filter(|c| num_eq(c.sc("runAsUser"), 0.0))
        .map(|c| {
            Finding::at(
                format!(
                    "{} runs as user 0 (securityContext.runAsUser, its own or the pod's); use a non-zero user id",
                    c.describe(o)
                ),
                &c.path,
            )
        })
        .collect();
    // The pod level counts on its own, even when every container overrides it.
    for p in o.pod_specs() {
        let sc = p.spec.get("securityContext");
        if num_eq(sc.and_then(|sc| sc.get("runAsUser")), 0.0) {
            out.push(Finding::at(
                format!(
                    "{} sets the pod's securityContext.runAsUser to 0; use a non-zero user id",
                    o.describe()
                ),
                &p.spec_path("securityContext.runAsUser"),
            ));
        }
    }
    out
}

/// Go's `strings.ToUpper` for the comparison with "ALL": Unicode upper case, one
/// character for one (as Go's simple mapping; Rust's `ß` -> `SS` cannot make "ALL").
fn drops_all(c: &Container) -> bool {
    let drop = c.sc("capabilities").and_then(|caps| caps.get("drop"));
    elements(drop)
        .filter_map(|v| v.as_str())
        .any(|d| d.to_uppercase() == "ALL")
}

fn capabilities(o: &Object) -> Vec<Finding> {
    o.containers()
        .iter()
        .filter_map(|c| {
            if !drops_all(c) {
                return Some(Finding::at(
                    format!(
                        "{} does not drop ALL capabilities (securityContext.capabilities.drop)",
                        c.describe(o)
                    ),
                    &c.path,
                ));
            }
            let add = c.sc("capabilities").and_then(|caps| caps.get("add"));
            let others: Vec<String> = elements(add)
                .filter(|v| v.as_str() != Some("NET_BIND_SERVICE"))
                .map(|v| v.as_str().map_or_else(|| v.to_json(), str::to_string))
                .collect();
            (!others.is_empty()).then(|| {
                Finding::at(
                    format!(
                        "{} adds capabilities other than NET_BIND_SERVICE: {}",
                        c.describe(o),
                        others.join(", ")
                    ),
                    &format!("{}.securityContext.capabilities.add", c.path),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_kit::{json, Runtime, Value};

    fn run(id: &str, v: Value) -> Vec<Finding> {
        let rt = Runtime::<PssRestricted>::new();
        let i = rt.checks.iter().position(|c| c.id == id).unwrap() as u32;
        rt.evaluate_value(&v, &[i]).remove(0).findings
    }

    #[test]
    fn cephfs_is_flagged() {
        for key in ["cephfs", "cephFS"] {
            let v = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"volumes": [{"name": "d", key: {}}]}});
            assert_eq!(run("KSV028", v).len(), 1, "{key}");
        }
        let v = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"volumes": [{"name": "d", "csi": {}}]}});
        assert!(run("KSV028", v).is_empty());
    }

    #[test]
    fn run_as_root_gate_follows_trivy() {
        let pod = |pod_level: Value, c: Value| {
            json!({"kind": "Pod", "metadata": {"name": "p"},
            "spec": {"securityContext": {"runAsNonRoot": pod_level}, "containers": [{"name": "a", "securityContext": c}]}})
        };
        assert!(run("KSV012", pod(json!(true), json!({"runAsNonRoot": false}))).is_empty());
        assert!(run("KSV012", pod(json!(false), json!({"runAsNonRoot": true}))).is_empty());
        assert_eq!(run("KSV012", pod(json!(false), json!({}))).len(), 1);
    }

    #[test]
    fn root_uid_at_either_level() {
        let pod = |pod_uid: Value, c_uid: Value| {
            json!({"kind": "Pod", "spec": {"securityContext": {"runAsUser": pod_uid},
                "containers": [{"name": "a", "securityContext": {"runAsUser": c_uid}}]}})
        };
        assert!(!run("KSV105", pod(json!(0), json!(1000))).is_empty());
        assert!(!run("KSV105", pod(json!(1000), json!(0.0))).is_empty());
        assert!(run("KSV105", pod(json!(1000), json!("0"))).is_empty());
        // Any kind's own spec.containers count.
        let cm = json!({"kind": "ConfigMap", "spec": {"containers": [{"securityContext": {"runAsUser": 0}}]}});
        assert_eq!(run("KSV105", cm).len(), 1);
    }

    #[test]
    fn drop_all_and_only_net_bind_service() {
        let pod = |caps: Value| json!({"kind": "Pod", "spec": {"containers": [{"name": "a", "securityContext": {"capabilities": caps}}]}});
        assert!(run(
            "KSV106",
            pod(json!({"drop": ["all"], "add": ["NET_BIND_SERVICE"]}))
        )
        .is_empty());
        assert_eq!(run("KSV106", pod(json!({"drop": "ALL"}))).len(), 1);
        assert_eq!(
            run(
                "KSV106",
                pod(json!({"drop": ["ALL"], "add": ["net_bind_service", null]}))
            )
            .len(),
            1
        );
        assert!(run("KSV106", json!({"kind": "Service", "spec": {}})).is_empty());
    }

    #[test]
    fn unnamed_objects_fail_too() {
        let v =
            json!({"kind": "Pod", "spec": {"containers": [{"securityContext": {"runAsUser": 0}}]}});
        assert_eq!(run("KSV105", v).len(), 1);
    }
}
