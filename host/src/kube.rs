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
        let mut kinds: Vec<String> = WORKLOAD_KINDS.iter().rev().map(|k| k.to_string()).collect();
        assert!(is_workload_set(&kinds));
        kinds.pop();
        assert!(!is_workload_set(&kinds));
    }
}
