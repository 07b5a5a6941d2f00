//! trivy's later RBAC checks: RoleBindings and ClusterRoleBindings to admin roles
//! (KSV111) or to dangerous subjects (KSV122, KSV0123, KSV01011), and Roles that manage
//! every resource (KSV112), secrets (KSV113), webhook configurations (KSV114) or the
//! EKS aws-auth ConfigMap (KSV115).
//!
//! These rules iterate the way Rego's `x[_]` does: array elements, or an object's
//! values.

use tollgate_kit::value::{elements, go_lower};
use tollgate_kit::{Finding, Node, Object};

/// Whether a collection (array, or object values) holds the exact string `s`.
fn holds(v: Option<Node>, s: &str) -> bool {
    elements(v).any(|x| x.as_str() == Some(s))
}

fn holds_any(v: Option<Node>, list: &[&str]) -> bool {
    list.iter().any(|s| holds(v, s))
}

const ADMIN_ROLES: [&str; 3] = ["cluster-admin", "admin", "edit"];

pub fn admin_role(o: &Object) -> Vec<Finding> {
    let kind = go_lower(o.kind());
    if kind != "clusterrolebinding" && kind != "rolebinding" {
        return vec![];
    }
    let role = o
        .value
        .get("roleRef")
        .and_then(|r| r.get("name"))
        .and_then(|n| n.as_str());
    match role.filter(|r| ADMIN_ROLES.contains(r)) {
        Some(r) => vec![Finding::at(
            format!(
                "{} binds the '{r}' role; keep cluster-admin, admin and edit for the principals that need them",
                o.describe()
            ),
            "roleRef.name",
        )],
        None => vec![],
    }
}

/// trivy's role-binding kinds, RoleBinding and (sic) ClusterRolebinding, plus the real
/// ClusterRoleBinding (the `clusterrolebinding-kind` deviation).
fn is_binding(o: &Object) -> bool {
    matches!(
        o.kind(),
        "RoleBinding" | "ClusterRolebinding" | "ClusterRoleBinding"
    )
}

pub fn subjects(o: &Object, names: &[&str]) -> Vec<Finding> {
    if !is_binding(o) {
        return vec![];
    }
    let found: Vec<&str> = elements(o.value.get("subjects"))
        .filter_map(|s| s.get("name")?.as_str())
        .filter(|n| names.contains(n))
        .collect();
    let Some(first) = found.first() else {
        return vec![];
    };
    vec![Finding::at(
        format!("{} grants its role to '{first}'", o.describe()),
        "subjects",
    )]
}

/// KSV112-KSV115: one finding per distinct rule of a Role (and for KSV114/KSV115 a
/// ClusterRole; exact kinds) that matches.
pub fn role_rules(id: &str, o: &Object) -> Vec<Finding> {
    let kinds: &[&str] = match id {
        "KSV112" | "KSV113" => &["Role"],
        _ => &["Role", "ClusterRole"],
    };
    if !kinds.contains(&o.kind()) {
        return vec![];
    }
    let (matches, what): (fn(Node) -> bool, &str) = match id {
        "KSV112" => (
            |r| {
                holds(r.get("resources"), "*")
                    && holds_any(
                        r.get("verbs"),
                        &[
                            "create",
                            "update",
                            "delete",
                            "deletecollection",
                            "impersonate",
                            "*",
                            "list",
                            "get",
                        ],
                    )
            },
            "can manage every resource of its namespace (resources '*')",
        ),
        "KSV113" => (
            |r| {
                holds(r.get("resources"), "secrets")
                    && holds_any(
                        r.get("verbs"),
                        &[
                            "get",
                            "list",
                            "watch",
                            "create",
                            "update",
                            "patch",
                            "delete",
                            "deletecollection",
                            "impersonate",
                            "*",
                        ],
                    )
            },
            "can read or manage the secrets of its namespace",
        ),
        "KSV114" => (
            |r| {
                holds_any(
                    r.get("resources"),
                    &[
                        "mutatingwebhookconfigurations",
                        "validatingwebhookconfigurations",
                    ],
                ) && holds_any(r.get("verbs"), &WRITE)
            },
            "can create, change or delete admission webhook configurations",
        ),
        _ => (
            |r| {
                holds(r.get("resources"), "configmaps")
                    && holds_any(r.get("verbs"), &WRITE)
                    && holds(r.get("resourceNames"), "aws-auth")
            },
            "can change the EKS aws-auth ConfigMap, which maps AWS identities to Kubernetes users",
        ),
    };
    let mut seen: Vec<Node> = Vec::new();
    let mut out = Vec::new();
    for (i, rule) in elements(o.value.get("rules")).enumerate() {
        if matches(rule) && !seen.contains(&rule) {
            seen.push(rule);
            out.push(Finding::at(
                format!("{} {what} (rule {i})", o.describe()),
                &format!("rules[{i}]"),
            ));
        }
    }
    out
}

const WRITE: [&str; 7] = [
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "impersonate",
    "*",
];
