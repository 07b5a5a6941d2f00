//! Rules of Roles and ClusterRoles, matched the way trivy's RBAC checks match them:
//! exact string membership, where "*" matches only where it is literally listed.

use crate::value::{contains_str, items};
use crate::Object;
use tollgate_tree::Node;

/// One entry of `rules`.
#[derive(Debug, Clone, Copy)]
pub struct Rule<'a> {
    pub value: Node<'a>,
    pub index: usize,
}

impl<'a> Rule<'a> {
    fn field(&self, f: &str) -> Option<Node<'a>> {
        self.value.get(f)
    }

    pub fn has_api_group(&self, g: &str) -> bool {
        contains_str(self.field("apiGroups"), g)
    }

    pub fn has_resource(&self, r: &str) -> bool {
        contains_str(self.field("resources"), r)
    }

    pub fn has_any_resource(&self, rs: &[&str]) -> bool {
        rs.iter().any(|r| self.has_resource(r))
    }

    pub fn has_verb(&self, v: &str) -> bool {
        contains_str(self.field("verbs"), v)
    }

    pub fn has_any_verb(&self, vs: &[&str]) -> bool {
        vs.iter().any(|v| self.has_verb(v))
    }

    pub fn has_resource_name(&self, n: &str) -> bool {
        contains_str(self.field("resourceNames"), n)
    }

    pub fn path(&self) -> String {
        format!("rules[{}]", self.index)
    }
}

/// Whether the object is a Role or ClusterRole (exact, case-sensitive kind).
pub fn is_role(object: &Object) -> bool {
    matches!(object.kind(), "Role" | "ClusterRole")
}

/// The rules of a Role/ClusterRole.
pub fn rules<'a>(object: &Object<'a>) -> Vec<Rule<'a>> {
    items(object.value.get("rules"))
        .enumerate()
        .map(|(index, value)| Rule { value, index })
        .collect()
}

/// Rules that satisfy `pred`, identical rules counted once.
pub fn distinct_matching<'a>(object: &Object<'a>, pred: impl Fn(&Rule) -> bool) -> Vec<Rule<'a>> {
    let mut out: Vec<Rule<'a>> = Vec::new();
    for r in rules(object) {
        if pred(&r) && !out.iter().any(|o| o.value == r.value) {
            out.push(r);
        }
    }
    out
}
