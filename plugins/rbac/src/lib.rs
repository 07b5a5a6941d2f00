//! The RBAC checks on Roles and ClusterRoles: wildcards, secrets, pod exec/attach,
//! privilege escalation through bindings, impersonation, node proxy.
//!
//! Matching is trivy's: exact strings, "*" only where literally listed, one finding per
//! distinct offending rule.

use tollgate_kit::rbac::{distinct_matching, is_role, rules, Rule};
use tollgate_kit::{catalogue, CheckInfo, Finding, Object, PluginMeta, Policy};

#[derive(Default)]
pub struct Rbac;

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
            "trivy-operator's RBAC checks on Roles and ClusterRoles",
        )
    }

    fn checks() -> Vec<CheckInfo> {
        catalogue!("../../../policies/rbac";
            KSV052, KSV048, KSV051, KSV054, KSV042, KSV053, KSV043, KSV049, KSV056, KSV050,
            KSV041, KSV047, KSV046, KSV044, KSV045, KSV055)
    }

    fn evaluate(&self, id: &str, o: &Object) -> Vec<Finding> {
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
