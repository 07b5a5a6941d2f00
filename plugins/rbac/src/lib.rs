//! The RBAC checks on Roles and ClusterRoles: wildcards, secrets, pod exec/attach,
//! privilege escalation through bindings, impersonation, node proxy, webhooks and the
//! EKS aws-auth ConfigMap; and on RoleBindings and ClusterRoleBindings: admin roles and
//! the anonymous, system:masters and (on GKE) system:authenticated subjects.
//!
//! Matching is trivy's: exact strings, "*" only where literally listed, one finding per
//! distinct offending rule.

mod bindings;

use tollgate_kit::rbac::{distinct_matching, is_role, rules, Rule};
use tollgate_kit::{catalogue, CheckInfo, Finding, Map, Object, PluginMeta, Policy, Value};

#[derive(Default)]
pub struct Rbac {
    /// The target cluster's Kubernetes version (KSV01011 runs only on GKE versions).
    k8s_version: Option<String>,
}

const SETTINGS_HELP: &str = "{\"k8s_version\": \"1.29.1-gke.1589000\"}: the Kubernetes version of the \
target cluster. KSV01011 (bindings to system:authenticated) applies only to GKE, recognised as trivy \
does by '-gke' in the version; without it (the default, as a plain trivy config scan) KSV01011 never fails.";

tollgate_kit::export_policy!(Rbac);

const WRITE: [&str; 7] = [
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "impersonate",
    "*",
];
const WORKLOADS: [&str; 8] = [
    "pods",
    "deployments",
    "jobs",
    "cronjobs",
    "statefulsets",
    "daemonsets",
    "replicasets",
    "replicationcontrollers",
];
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

impl Policy for Rbac {
    fn meta() -> PluginMeta {
        PluginMeta::new(
            "rbac",
            env!("CARGO_PKG_VERSION"),
            "trivy's RBAC checks on Roles, ClusterRoles and their bindings",
        )
        .settings_help(SETTINGS_HELP)
    }

    fn configure(&mut self, settings: &Map<String, Value>) -> Result<(), String> {
        self.k8s_version = tollgate_kit::value::only_k8s_version(settings, SETTINGS_HELP)?;
        Ok(())
    }

    fn checks() -> Vec<CheckInfo> {
        catalogue!("../../../policies/rbac";
            KSV052, KSV048, KSV051, KSV054, KSV042, KSV053, KSV043, KSV049, KSV056, KSV050,
            KSV041, KSV047, KSV046, KSV044, KSV045, KSV055,
            KSV111, KSV112, KSV113, KSV114, KSV115, KSV122, KSV0123, KSV01011)
    }

    fn evaluate(&self, id: &str, o: &Object) -> Vec<Finding> {
        match id {
            "KSV111" => return bindings::admin_role(o),
            "KSV122" => {
                return bindings::subjects(o, &["system:anonymous", "system:unauthenticated"])
            }
            "KSV0123" => return bindings::subjects(o, &["system:masters"]),
            "KSV01011" => {
                // trivy: only when data.k8s.version names a GKE cluster.
                if !self
                    .k8s_version
                    .as_deref()
                    .is_some_and(|v| v.contains("-gke"))
                {
                    return vec![];
                }
                return bindings::subjects(o, &["system:authenticated"]);
            }
            "KSV112" | "KSV113" | "KSV114" | "KSV115" => return bindings::role_rules(id, o),
            _ => {}
        }
        if !is_role(o) {
            return vec![];
        }
        match id {
            "KSV052" => ordered_pair(
                o,
                |r| r.has_api_group(RBAC_GROUP) && r.has_resource("clusterrolebindings") && r.has_verb("create"),
                |r| r.has_resource("clusterroles") && r.has_verb("bind") && r.has_resource_name("*"),
                "can create ClusterRoleBindings (rule {i}) and bind any ClusterRole (a later rule): it can grant itself cluster-admin",
            ),
            "KSV048" => each(o, |r| r.has_any_resource(&WORKLOADS) && r.has_any_verb(&WRITE),
                "can create, change or delete pods and workload controllers"),
            "KSV051" => ordered_pair(
                o,
                |r| r.has_api_group(RBAC_GROUP) && r.has_resource("rolebindings") && r.has_verb("create"),
                |r| r.has_api_group(RBAC_GROUP)
                    && r.has_any_resource(&["clusterroles", "roles"])
                    && r.has_verb("bind")
                    && r.has_resource_name("*"),
                "can create RoleBindings (rule {i}) and bind any Role or ClusterRole (a later rule): it can grant itself any permission",
            ),
            "KSV054" => ordered_pair(
                o,
                |r| r.has_api_group("*") && r.has_resource("pods/attach") && r.has_verb("create"),
                |r| r.has_api_group("*") && r.has_resource("pods") && r.has_verb("get"),
                "can attach to running pods (rule {i}) and get pods (a later rule): a shell into any container",
            ),
            "KSV042" => each(o, |r| r.has_resource("pods/log") && r.has_any_verb(&["delete", "deletecollection", "*"]),
                "can delete pod logs"),
            "KSV053" => each(o, |r| r.has_resource("pods/exec") && r.has_any_verb(&WRITE),
                "can exec into pods (pods/exec)"),
            "KSV043" => each(o, |r| r.has_api_group("*") && r.has_resource("groups") && r.has_verb("impersonate"),
                "can impersonate groups, including privileged ones"),
            "KSV049" => each(o, |r| r.has_resource("configmaps") && r.has_any_verb(&WRITE), "can modify configmaps"),
            "KSV056" => each(
                o,
                |r| r.has_any_resource(&["services", "endpoints", "endpointslices", "networkpolicies", "ingresses"])
                    && r.has_any_verb(&WRITE),
                "can modify networking resources (services, endpoints, network policies, ingresses)",
            ),
            "KSV050" => each(
                o,
                |r| r.has_any_resource(&["roles", "rolebindings"]) && r.has_any_verb(&["escalate", "bind", "impersonate", "*"]),
                "can escalate privileges through roles or rolebindings (escalate, bind or impersonate)",
            ),
            "KSV041" => {
                if o.kind() != "ClusterRole" {
                    return vec![];
                }
                each(
                    o,
                    |r| r.has_resource("secrets")
                        && r.has_any_verb(&["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "impersonate", "*"]),
                    "can read or manage secrets across the cluster",
                )
            }
            "KSV047" => each(o, |r| r.has_resource("nodes/proxy") && r.has_any_verb(&["get", "create"]),
                "can use nodes/proxy, which reaches the kubelet API directly"),
            "KSV046" => {
                if o.kind() != "ClusterRole" {
                    return vec![];
                }
                each(
                    o,
                    |r| r.has_resource("*")
                        && r.has_any_verb(&["create", "update", "delete", "deletecollection", "impersonate", "*", "list", "get"]),
                    "grants access to every resource ('*')",
                )
            }
            "KSV044" => each(o, |r| r.has_api_group("*") && r.has_resource("*") && r.has_verb("*"),
                "grants every verb on every resource of every API group"),
            "KSV045" => each(
                o,
                |r| r.has_verb("*")
                    && r.has_any_resource(&[
                        "secrets", "pods", "deployments", "daemonsets", "statefulsets", "replicationcontrollers",
                        "replicasets", "cronjobs", "jobs", "roles", "clusterroles", "rolebindings",
                        "clusterrolebindings", "users", "groups",
                    ]),
                "grants every verb ('*') on sensitive resources",
            ),
            "KSV055" => each(
                o,
                |r| r.has_api_group("*") && r.has_resource("rolebindings") && r.has_verb("get") && r.has_verb("patch"),
                "can get and patch rolebindings, adding other users to them",
            ),
            _ => vec![],
        }
    }
}

fn each(o: &Object, pred: impl Fn(&Rule) -> bool, what: &str) -> Vec<Finding> {
    distinct_matching(o, pred)
        .into_iter()
        .map(|r| {
            Finding::at(
                format!("{} {what} (rule {})", o.describe(), r.index),
                &r.path(),
            )
        })
        .collect()
}

/// trivy's paired rules: some rule i matches `first` and a later rule j > i matches
/// `second`. One finding per distinct such rule i.
fn ordered_pair(
    o: &Object,
    first: impl Fn(&Rule) -> bool,
    second: impl Fn(&Rule) -> bool,
    what: &str,
) -> Vec<Finding> {
    let all = rules(o);
    let mut out: Vec<Finding> = Vec::new();
    let mut seen: Vec<tollgate_kit::Node> = Vec::new();
    for (i, r) in all.iter().enumerate() {
        if first(r) && all[i + 1..].iter().any(&second) && !seen.contains(&r.value) {
            seen.push(r.value);
            out.push(Finding::at(
                format!("{} {}", o.describe(), what.replace("{i}", &i.to_string())),
                &r.path(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_kit::{json, Runtime, Value};

    fn run_with(settings: &str, id: &str, v: Value) -> Vec<Finding> {
        let mut rt = Runtime::<Rbac>::new();
        rt.configure_json(settings).unwrap();
        rt.findings(id, &v)
    }

    fn run(id: &str, v: Value) -> Vec<Finding> {
        run_with("{}", id, v)
    }

    fn binding(kind: &str, subject: &str) -> Value {
        json!({"kind": kind, "metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "Group", "name": subject}]})
    }

    #[test]
    fn cluster_role_bindings_are_bindings() {
        for kind in ["RoleBinding", "ClusterRolebinding", "ClusterRoleBinding"] {
            assert_eq!(
                run("KSV122", binding(kind, "system:anonymous")).len(),
                1,
                "{kind}"
            );
            assert_eq!(
                run("KSV0123", binding(kind, "system:masters")).len(),
                1,
                "{kind}"
            );
        }
        // Lower-case kinds pass, as in trivy.
        assert!(run("KSV122", binding("rolebinding", "system:anonymous")).is_empty());
        assert!(run("KSV122", binding("RoleBinding", "System:Anonymous")).is_empty());
    }

    #[test]
    fn authenticated_group_only_on_gke() {
        let b = binding("RoleBinding", "system:authenticated");
        assert!(run("KSV01011", b.clone()).is_empty());
        assert!(run_with(r#"{"k8s_version": "1.27.1"}"#, "KSV01011", b.clone()).is_empty());
        assert_eq!(
            run_with(r#"{"k8s_version": "1.27.1-gke.1000"}"#, "KSV01011", b).len(),
            1
        );
        let mut rt = Runtime::<Rbac>::new();
        assert!(rt
            .configure_json(r#"{"k8s_version": 1.27}"#)
            .unwrap_err()
            .contains("k8s_version"));
    }

    #[test]
    fn admin_role_binding_any_case() {
        let b = |kind: &str, role: &str| json!({"kind": kind, "metadata": {"name": "b"}, "roleRef": {"name": role}});
        assert_eq!(
            run("KSV111", b("CLUSTERROLEBINDING", "cluster-admin")).len(),
            1
        );
        assert_eq!(run("KSV111", b("RoleBinding", "edit")).len(), 1);
        assert!(run("KSV111", b("RoleBinding", "Admin")).is_empty());
    }

    #[test]
    fn role_rule_checks() {
        let role = |kind: &str, rules: Value| json!({"kind": kind, "metadata": {"name": "r"}, "rules": rules});
        let all = json!([{"resources": ["*"], "verbs": ["get"]}, {"resources": ["*"], "verbs": ["list"]}]);
        assert_eq!(run("KSV112", role("Role", all.clone())).len(), 2);
        assert!(run("KSV112", role("ClusterRole", all)).is_empty());
        assert!(run(
            "KSV112",
            role(
                "Role",
                json!([{"resources": ["*"], "verbs": ["patch", "watch"]}])
            )
        )
        .is_empty());
        assert!(run(
            "KSV113",
            role("Role", json!([{"resources": ["*"], "verbs": ["*"]}]))
        )
        .is_empty());
        assert_eq!(
            run(
                "KSV114",
                role(
                    "ClusterRole",
                    json!([{"resources": ["validatingwebhookconfigurations"], "verbs": ["patch"]}])
                )
            )
            .len(),
            1
        );
        assert!(run(
            "KSV114",
            role(
                "clusterrole",
                json!([{"resources": ["validatingwebhookconfigurations"], "verbs": ["patch"]}])
            )
        )
        .is_empty());
        let aws = |names: Value| {
            role(
                "Role",
                json!([{"resources": ["configmaps"], "verbs": ["update"], "resourceNames": names}]),
            )
        };
        assert_eq!(run("KSV115", aws(json!(["aws-auth"]))).len(), 1);
        assert!(run("KSV115", aws(json!(["other"]))).is_empty());
    }

    #[test]
    fn unnamed_rbac_objects_are_reported() {
        let v = json!({"kind": "RoleBinding", "subjects": [{"name": "system:masters"}]});
        let f = run("KSV0123", v);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("(unnamed)"), "{}", f[0].message);
    }
}
