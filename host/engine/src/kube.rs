//! The Kubernetes facts the host itself needs (no check lives here): which kinds are
//! cluster-scoped, which are trivy-operator's "Workload" kinds, and the namespace an
//! object without one lands in. The pipeline's namespace filter, the exemptions and the
//! report formats all read them from here.

/// Kinds Kubernetes keeps outside namespaces (a resource without a namespace of any
/// other kind lives in [`DEFAULT_NAMESPACE`]).
const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CSIDriver",
    "CSINode",
    "CertificateSigningRequest",
    "ClusterIssuer",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    // Not an API kind: node-collector's description of one Node.
    "NodeInfo",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "SecurityContextConstraints",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
];

/// Where a namespaced object without `metadata.namespace` is created.
pub const DEFAULT_NAMESPACE: &str = "default";

/// trivy-operator's "Workload" kinds: what its container checks apply to.
pub const WORKLOAD_KINDS: [&str; 9] = [
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

/// What node-collector (and `tollgate node collect`) writes: the facts of one node.
pub const NODE_INFO: &str = "NodeInfo";

/// The control plane's components as kubeadm runs them: static Pods in `kube-system`
/// named after the component (`kube-apiserver`, or `kube-apiserver-<node>` once the
/// kubelet has mirrored them).
const CONTROL_PLANE: [&str; 4] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "etcd",
];

/// Whether a resource is a control-plane component's Pod (trivy-operator writes
/// infra-assessment reports for those).
pub fn is_control_plane_pod(kind: &str, namespace: Option<&str>, name: Option<&str>) -> bool {
    kind == "Pod"
        && namespace.is_none_or(|n| n == "kube-system")
        && name.is_some_and(|n| {
            CONTROL_PLANE
                .iter()
                .any(|c| n == *c || n.strip_prefix(c).is_some_and(|rest| rest.starts_with('-')))
        })
}

pub fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
}

/// Whether `kinds` are exactly the workload kinds (in any order), shown as one word.
pub fn is_workload_set(kinds: &[String]) -> bool {
    kinds.len() == WORKLOAD_KINDS.len()
        && WORKLOAD_KINDS.iter().all(|w| kinds.iter().any(|k| k == w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_and_workloads() {
        assert!(is_cluster_scoped("ClusterRole"));
        assert!(!is_cluster_scoped("Role"));
        assert!(is_cluster_scoped(NODE_INFO));
        assert!(is_control_plane_pod(
            "Pod",
            Some("kube-system"),
            Some("kube-apiserver-cp-1")
        ));
        assert!(is_control_plane_pod("Pod", None, Some("etcd")));
        assert!(!is_control_plane_pod("Pod", Some("default"), Some("etcd")));
        assert!(!is_control_plane_pod(
            "Deployment",
            None,
            Some("kube-scheduler")
        ));
        assert!(!is_control_plane_pod("Pod", None, Some("kube-schedulerx")));
        let mut kinds: Vec<String> = WORKLOAD_KINDS.iter().rev().map(|k| k.to_string()).collect();
        assert!(is_workload_set(&kinds));
        kinds.pop();
        assert!(!is_workload_set(&kinds));
    }
}
