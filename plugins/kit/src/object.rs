use std::cell::OnceCell;

use crate::value::{deep_merge_some, items};
use tollgate_tree::{Node, Tree};

/// Pod-level securityContext keys that Kubernetes (and trivy) let containers inherit.
const INHERITED: [&str; 6] = [
    "runAsGroup",
    "runAsNonRoot",
    "runAsUser",
    "seLinuxOptions",
    "seccompProfile",
    "windowsOptions",
];

/// One Kubernetes object under evaluation, with its pod specs and containers computed
/// once and shared by every check of the plugin.
pub struct Object<'a> {
    pub value: Node<'a>,
    // Read once: every finding message names the object's kind and name.
    kind: &'a str,
    metadata: Option<Node<'a>>,
    name: Option<&'a str>,
    pods: OnceCell<Vec<PodSpec<'a>>>,
    containers: OnceCell<Vec<Container<'a>>>,
}

/// A pod (or pod template): its metadata and its spec, wherever the kind keeps them.
#[derive(Debug, Clone)]
pub struct PodSpec<'a> {
    /// The pod's or template's `metadata`, if any.
    pub metadata: Option<Node<'a>>,
    /// The pod's or template's `spec` (null when absent).
    pub spec: Node<'a>,
    /// Path of the template inside the object: "" for a Pod, "spec.template" for a
    /// Deployment, "spec.jobTemplate.spec.template" for a CronJob.
    pub path: &'static str,
}

impl<'a> PodSpec<'a> {
    /// The pod-level `spec.securityContext`, if it is an object.
    pub fn security_context(&self) -> Option<Node<'a>> {
        self.spec.get("securityContext").filter(Node::is_object)
    }

    /// `metadata.annotations` of the pod or template.
    pub fn annotations(&self) -> Option<Node<'a>> {
        self.metadata?.get("annotations").filter(Node::is_object)
    }

    /// Path of a field of this pod's metadata, e.g. `spec.template.metadata.annotations`.
    pub fn metadata_path(&self, field: &str) -> String {
        join_path(self.path, &format!("metadata.{field}"))
    }

    /// Path of a field of this pod's spec, e.g. `spec.template.spec.volumes`.
    pub fn spec_path(&self, field: &str) -> String {
        join_path(self.path, &format!("spec.{field}"))
    }
}

/// A container or init container with its effective securityContext.
#[derive(Debug, Clone)]
pub struct Container<'a> {
    pub value: Node<'a>,
    pub name: Option<&'a str>,
    /// The container's own securityContext (an empty object when unset).
    own: Node<'a>,
    /// The pod-level securityContext, of which only [`INHERITED`] keys apply (an empty
    /// object when unset).
    pod_level: Node<'a>,
    /// The two merged, built on first use of [`Container::security_context`] when the
    /// pod level has anything to inherit: most checks read single fields, which
    /// [`Container::sc`] finds without a merge, and every plugin would otherwise build
    /// the merged tree of every container of every object.
    merged: OnceCell<Tree>,
    /// Path inside the object, e.g. `spec.template.spec.initContainers[0]`.
    pub path: String,
    pub init: bool,
    /// Index into [`Object::pod_specs`] of the pod this container belongs to, or `None`
    /// for containers found directly under the object's own `spec` of a kind that has
    /// no pod spec.
    pub pod: Option<usize>,
}

impl<'a> Container<'a> {
    pub fn get(&self, key: &str) -> Option<Node<'a>> {
        self.value.get(key)
    }

    pub fn image(&self) -> Option<&'a str> {
        self.value.get("image")?.as_str()
    }

    /// The container's securityContext with the inheritable pod-level keys merged
    /// under it (container values win, nested objects merge): what the kubelet applies.
    /// Always an object.
    pub fn security_context(&self) -> Node<'_> {
        if !self.pod_level.keys().any(inherited) {
            return self.own;
        }
        self.merged
            .get_or_init(|| deep_merge_some(self.pod_level, inherited, self.own))
            .root()
    }

    /// A field of the effective securityContext: `security_context().get(key)`.
    pub fn sc(&self, key: &str) -> Option<Node<'_>> {
        if !inherited(key) {
            return self.own.get(key);
        }
        match (self.own.get(key), self.pod_level.get(key)) {
            // Both levels set it to objects: those merge.
            (Some(own), Some(pod)) if own.is_object() && pod.is_object() => {
                self.security_context().get(key)
            }
            (Some(own), _) => Some(own),
            (None, pod) => pod,
        }
    }

    /// A field of the container's own securityContext, ignoring pod-level values.
    pub fn own_sc(&self, key: &str) -> Option<Node<'a>> {
        self.value.get("securityContext")?.get(key)
    }

    /// "container 'web'" or "init container 'setup'" (or "container #2" without a name).
    pub fn label(&self) -> String {
        let what = if self.init {
            "init container"
        } else {
            "container"
        };
        match self.name {
            Some(n) => format!("{what} '{n}'"),
            None => format!("unnamed {what} at {}", self.path),
        }
    }

    /// "Container 'web' of Deployment 'shop'".
    pub fn describe(&self, object: &Object) -> String {
        // Written piece by piece: every finding message starts with this, and nested
        // format! calls were a quarter of a plugin's evaluation time.
        let mut s = String::with_capacity(96);
        let what = match (self.init, self.name.is_some()) {
            (false, true) => "Container '",
            (true, true) => "Init container '",
            (false, false) => "Unnamed container at ",
            (true, false) => "Unnamed init container at ",
        };
        s.push_str(what);
        match self.name {
            Some(n) => {
                s.push_str(n);
                s.push('\'');
            }
            None => s.push_str(&self.path),
        }
        s.push_str(" of ");
        object.describe_into(&mut s);
        s
    }
}

impl<'a> Object<'a> {
    pub fn new(value: Node<'a>) -> Self {
        let metadata = value.get("metadata");
        Object {
            value,
            kind: value.get("kind").and_then(|k| k.as_str()).unwrap_or(""),
            metadata,
            name: metadata
                .and_then(|m| m.get("name"))
                .and_then(|n| n.as_str()),
            pods: OnceCell::new(),
            containers: OnceCell::new(),
        }
    }

    pub fn kind(&self) -> &'a str {
        self.kind
    }

    pub fn api_version(&self) -> &'a str {
        self.value
            .get("apiVersion")
            .and_then(|v| v.as_str())
            .unwrap_or("")
    }

    pub fn metadata(&self) -> Option<Node<'a>> {
        self.metadata
    }

    pub fn name(&self) -> Option<&'a str> {
        self.name
    }

    /// `metadata.namespace` as written (None when absent).
    pub fn namespace(&self) -> Option<&'a str> {
        self.metadata()?.get("namespace")?.as_str()
    }

    /// The namespace Kubernetes would use: `metadata.namespace` or "default".
    pub fn namespace_or_default(&self) -> &'a str {
        self.namespace().unwrap_or("default")
    }

    pub fn labels(&self) -> Option<Node<'a>> {
        self.metadata()?.get("labels").filter(Node::is_object)
    }

    pub fn label(&self, key: &str) -> Option<&'a str> {
        self.labels()?.get(key)?.as_str()
    }

    pub fn annotations(&self) -> Option<Node<'a>> {
        self.metadata()?.get("annotations").filter(Node::is_object)
    }

    /// The top-level `spec`, if present (any value).
    pub fn spec(&self) -> Option<Node<'a>> {
        self.value.get("spec")
    }

    /// "Deployment 'shop'" (or "Deployment (unnamed)").
    pub fn describe(&self) -> String {
        let mut s = String::with_capacity(64);
        self.describe_into(&mut s);
        s
    }

    fn describe_into(&self, s: &mut String) {
        s.push_str(self.kind());
        match self.name() {
            Some(n) => {
                s.push_str(" '");
                s.push_str(n);
                s.push('\'');
            }
            None => s.push_str(" (unnamed)"),
        }
    }

    /// The pod specs of a workload: the Pod itself, a controller's `spec.template`, a
    /// CronJob's `spec.jobTemplate.spec.template`. Kind matching is exact, as in trivy;
    /// a DeploymentConfig counts only under `apps.openshift.io/v1`.
    pub fn pod_specs(&self) -> &[PodSpec<'a>] {
        self.pods.get_or_init(|| {
            let v = self.value;
            let template = |path: &'static str, t: Option<Node<'a>>| {
                t.filter(|t| t.is_object()).map(|t| PodSpec {
                    metadata: t.get("metadata"),
                    spec: t.get("spec").unwrap_or(Node::NULL),
                    path,
                })
            };
            let pod = match self.kind() {
                "Pod" => Some(PodSpec {
                    metadata: v.get("metadata"),
                    spec: v.get("spec").unwrap_or(Node::NULL),
                    path: "",
                }),
                "Deployment"
                | "StatefulSet"
                | "DaemonSet"
                | "ReplicaSet"
                | "ReplicationController"
                | "Job" => template(
                    "spec.template",
                    v.get("spec").and_then(|s| s.get("template")),
                ),
                "DeploymentConfig" if self.api_version() == "apps.openshift.io/v1" => template(
                    "spec.template",
                    v.get("spec").and_then(|s| s.get("template")),
                ),
                "CronJob" => template(
                    "spec.jobTemplate.spec.template",
                    crate::value::get(v, &["spec", "jobTemplate", "spec", "template"]),
                ),
                _ => None,
            };
            pod.into_iter().collect()
        })
    }

    /// Every container and init container of every pod spec (never ephemeral
    /// containers), plus those directly under the object's own `spec` whatever its
    /// kind, each with its effective securityContext. Identical containers count once.
    pub fn containers(&self) -> &[Container<'a>] {
        self.containers.get_or_init(|| {
            let mut out: Vec<Container<'a>> = Vec::new();
            for (i, pod) in self.pod_specs().iter().enumerate() {
                collect_containers(pod.spec, pod.path, Some(i), &mut out);
            }
            // A Pod's own spec is its pod spec, whose containers are already in.
            let own_spec = self.spec().filter(|_| self.kind() != "Pod");
            if let Some(spec) = own_spec {
                let mut own = Vec::new();
                collect_containers(spec, "", None, &mut own);
                for c in own {
                    let dup = out.iter().any(|o| {
                        o.value == c.value && o.security_context() == c.security_context()
                    });
                    if !dup {
                        out.push(c);
                    }
                }
            }
            out
        })
    }

    /// Containers that fail a per-container test the way trivy matches them: by name. A
    /// container passes when any container (or init container) with the same name
    /// passes, so same-named containers share one verdict.
    pub fn failing_by_name(&self, ok: impl Fn(&Container) -> bool) -> Vec<&Container<'a>> {
        let good: Vec<Option<&str>> = self
            .containers()
            .iter()
            .filter(|c| ok(c))
            .map(|c| c.name)
            .collect();
        self.containers()
            .iter()
            .filter(|c| !good.contains(&c.name))
            .collect()
    }

    /// The pod spec a container belongs to (for object-level containers: the object).
    pub fn pod_of(&self, c: &Container<'a>) -> Option<&PodSpec<'a>> {
        c.pod.and_then(|i| self.pod_specs().get(i))
    }
}

/// Whether containers inherit this pod-level securityContext key.
fn inherited(key: &str) -> bool {
    INHERITED.contains(&key)
}

/// `base.spec.FIELD[i]` (or `spec.FIELD[i]` when `base` is empty), written piece by
/// piece: every plugin makes one per container of every object.
fn container_path(base: &str, field: &str, i: usize) -> String {
    let mut digits = [0u8; 20];
    let mut n = i;
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut path = String::with_capacity(base.len() + field.len() + 28);
    if !base.is_empty() {
        path.push_str(base);
        path.push('.');
    }
    path.push_str("spec.");
    path.push_str(field);
    path.push('[');
    path.extend(digits[at..].iter().map(|&d| d as char));
    path.push(']');
    path
}

fn join_path(base: &str, rest: &str) -> String {
    if base.is_empty() {
        rest.to_string()
    } else {
        format!("{base}.{rest}")
    }
}

fn collect_containers<'a>(
    spec: Node<'a>,
    base: &str,
    pod: Option<usize>,
    out: &mut Vec<Container<'a>>,
) {
    let pod_level = spec
        .get("securityContext")
        .filter(Node::is_object)
        .unwrap_or(Node::EMPTY_OBJECT);
    for (field, init) in [("containers", false), ("initContainers", true)] {
        for (i, c) in items(spec.get(field)).enumerate() {
            // The same pod, the same container value: the same effective securityContext.
            if out.iter().any(|o| o.pod == pod && o.value == c) {
                continue;
            }
            // A container's securityContext of null means "not set", as for Kubernetes.
            let own = match c.get("securityContext") {
                Some(v) if v.is_object() => v,
                _ => Node::EMPTY_OBJECT,
            };
            out.push(Container {
                value: c,
                name: c.get("name").and_then(|n| n.as_str()),
                own,
                pod_level,
                merged: OnceCell::new(),
                path: container_path(base, field, i),
                init,
                pod,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cronjob_template_and_merge() {
        let v = json!({"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": {
            "spec": {"securityContext": {"runAsUser": 5, "fsGroup": 1},
                     "containers": [{"name": "a"}], "initContainers": [{"name": "b", "securityContext": {"runAsUser": 7}}]}}}}}});
        let t = Tree::from_value(&v);
        let o = Object::new(t.root());
        let cs = o.containers();
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].sc("runAsUser").map(|n| n.to_value()), Some(json!(5)));
        assert_eq!(cs[0].sc("fsGroup"), None);
        assert_eq!(cs[1].sc("runAsUser").map(|n| n.to_value()), Some(json!(7)));
        assert!(cs[1].init);
        assert_eq!(
            cs[1].path,
            "spec.jobTemplate.spec.template.spec.initContainers[0]"
        );
        assert_eq!(cs[0].describe(&o), "Container 'a' of CronJob 'c'");
    }

    #[test]
    fn containers_must_be_a_list() {
        let v = json!({"kind": "Pod", "spec": {"containers": {"name": "a", "image": "x"}}});
        assert!(Object::new(Tree::from_value(&v).root())
            .containers()
            .is_empty());
    }

    #[test]
    fn pod_containers_are_not_counted_twice() {
        let v = json!({"kind": "Pod", "spec": {"containers": [{"name": "a"}, {"name": "a"}]}});
        assert_eq!(
            Object::new(Tree::from_value(&v).root()).containers().len(),
            1
        );
    }

    #[test]
    fn deploymentconfig_needs_openshift_api() {
        let v = json!({"kind": "DeploymentConfig", "apiVersion": "v1", "spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}});
        assert!(Object::new(Tree::from_value(&v).root())
            .pod_specs()
            .is_empty());
        let v = json!({"kind": "DeploymentConfig", "apiVersion": "apps.openshift.io/v1", "spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}});
        assert_eq!(
            Object::new(Tree::from_value(&v).root()).containers().len(),
            1
        );
    }

    #[test]
    fn containers_describe_themselves_and_their_object() {
        let v = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "web"}, {"image": "x"}],
            "initContainers": [{"name": "setup"}, {"image": "y"}]}});
        let t = Tree::from_value(&v);
        let o = Object::new(t.root());
        let d: Vec<String> = o.containers().iter().map(|c| c.describe(&o)).collect();
        assert_eq!(
            d,
            [
                "Container 'web' of Pod 'p'",
                "Unnamed container at spec.containers[1] of Pod 'p'",
                "Init container 'setup' of Pod 'p'",
                "Unnamed init container at spec.initContainers[1] of Pod 'p'",
            ]
        );
        let anon = json!({"kind": "Job"});
        assert_eq!(
            Object::new(Tree::from_value(&anon).root()).describe(),
            "Job (unnamed)"
        );
    }

    /// `sc` and `security_context` read the same as the merged tree they stand for,
    /// whatever the two levels hold: objects that merge, scalars and nulls that win,
    /// keys that are not inherited, an unset or non-object level, repeated keys.
    #[test]
    fn effective_security_context_is_the_merge() {
        let pods = [
            r#"null"#,
            r#"{}"#,
            r#"{"fsGroup":1,"supplementalGroups":[1]}"#,
            r#"{"runAsUser":5,"fsGroup":1}"#,
            r#"{"seLinuxOptions":{"user":"u","type":"spc_t"},"runAsNonRoot":true}"#,
            r#"{"seccompProfile":null,"windowsOptions":{"runAsUserName":"a"}}"#,
            r#"{"runAsUser":5,"runAsUser":6,"seLinuxOptions":{"level":"s0"}}"#,
        ];
        let owns = [
            r#"null"#,
            r#""privileged""#,
            r#"{}"#,
            r#"{"runAsUser":0,"privileged":true}"#,
            r#"{"seLinuxOptions":{"type":"container_t"}}"#,
            r#"{"seLinuxOptions":null,"seccompProfile":{"type":"RuntimeDefault"}}"#,
            r#"{"seLinuxOptions":"x","windowsOptions":{"hostProcess":true}}"#,
            r#"{"fsGroup":2,"runAsNonRoot":false,"runAsNonRoot":true}"#,
        ];
        let keys = [
            "runAsUser",
            "runAsNonRoot",
            "runAsGroup",
            "fsGroup",
            "privileged",
            "seLinuxOptions",
            "seccompProfile",
            "windowsOptions",
            "supplementalGroups",
        ];
        for pod in pods {
            for own in owns {
                let text = format!(
                    r#"{{"kind":"Pod","spec":{{"securityContext":{pod},"containers":[{{"name":"a","securityContext":{own}}}]}}}}"#
                );
                let t = Tree::from_json(&text).unwrap();
                let o = Object::new(t.root());
                let c = &o.containers()[0];
                let pod_level = o.pod_specs()[0]
                    .security_context()
                    .unwrap_or(Node::EMPTY_OBJECT);
                let own_level = c
                    .get("securityContext")
                    .filter(Node::is_object)
                    .unwrap_or(Node::EMPTY_OBJECT);
                let expected = deep_merge_some(pod_level, inherited, own_level);
                assert_eq!(c.security_context(), expected.root(), "{text}");
                for key in keys {
                    assert_eq!(c.sc(key), expected.root().get(key), "{key} in {text}");
                }
            }
        }
    }
}
