//! Where node-collector looks for each file: trivy-checks' `commands/config/node.yaml`
//! (candidates in order, the first that exists wins, else the default). Kept as data so
//! the table in `../shared/spec/node-collector.md` section 4 can be compared line by line.

/// A file whose location differs between distributions.
pub struct Candidates {
    /// The placeholder node-collector's command catalogue uses, e.g. `$apiserver.confs`.
    pub placeholder: &'static str,
    pub paths: &'static [&'static str],
    pub default: &'static str,
}

pub const APISERVER_CONFS: Candidates = Candidates {
    placeholder: "$apiserver.confs",
    paths: &[
        "/etc/kubernetes/manifests/kube-apiserver.yaml",
        "/etc/kubernetes/manifests/kube-apiserver.yml",
        "/etc/kubernetes/manifests/kube-apiserver.manifest",
        "/var/snap/kube-apiserver/current/args",
        "/var/snap/microk8s/current/args/kube-apiserver",
        "/etc/origin/master/master-config.yaml",
        "/etc/kubernetes/manifests/talos-kube-apiserver.yaml",
        "/var/lib/rancher/rke2/agent/pod-manifests/kube-apiserver.yaml",
    ],
    default: "/etc/kubernetes/manifests/kube-apiserver.yaml",
};

pub const CONTROLLERMANAGER_CONFS: Candidates = Candidates {
    placeholder: "$controllermanager.confs",
    paths: &[
        "/etc/kubernetes/manifests/kube-controller-manager.yaml",
        "/etc/kubernetes/manifests/kube-controller-manager.yml",
        "/etc/kubernetes/manifests/kube-controller-manager.manifest",
        "/var/snap/kube-controller-manager/current/args",
        "/var/snap/microk8s/current/args/kube-controller-manager",
        "/etc/kubernetes/manifests/talos-kube-controller-manager.yaml",
        "/var/lib/rancher/rke2/agent/pod-manifests/kube-controller-manager.yaml",
    ],
    default: "/etc/kubernetes/manifests/kube-controller-manager.yaml",
};

pub const SCHEDULER_CONFS: Candidates = Candidates {
    placeholder: "$scheduler.confs",
    paths: &[
        "/etc/kubernetes/manifests/kube-scheduler.yaml",
        "/etc/kubernetes/manifests/kube-scheduler.yml",
        "/etc/kubernetes/manifests/kube-scheduler.manifest",
        "/var/snap/kube-scheduler/current/args",
        "/var/snap/microk8s/current/args/kube-scheduler",
        "/etc/origin/master/scheduler.json",
        "/etc/kubernetes/manifests/talos-kube-scheduler.yaml",
        "/var/lib/rancher/rke2/agent/pod-manifests/kube-scheduler.yaml",
    ],
    default: "/etc/kubernetes/manifests/kube-scheduler.yaml",
};

pub const ETCD_CONFS: Candidates = Candidates {
    placeholder: "$etcd.confs",
    paths: &[
        "/etc/kubernetes/manifests/etcd.yaml",
        "/etc/kubernetes/manifests/etcd.yml",
        "/etc/kubernetes/manifests/etcd.manifest",
        "/etc/etcd/etcd.conf",
        "/var/snap/etcd/common/etcd.conf.yml",
        "/var/snap/etcd/common/etcd.conf.yaml",
        "/var/snap/microk8s/current/args/etcd",
        "/usr/lib/systemd/system/etcd.service",
        "/var/lib/rancher/rke2/agent/pod-manifests/etcd.yaml",
        "/var/lib/rancher/k3s/server/db/etcd/config",
    ],
    default: "/etc/kubernetes/manifests/etcd.yaml",
};

/// Used through its parent directory (the etcd data directory).
pub const ETCD_DATADIRS: Candidates = Candidates {
    placeholder: "$etcd.datadirs",
    paths: &["/var/lib/etcd/default.etcd", "/var/lib/etcd/data.etcd"],
    default: "/var/lib/etcd/default.etcd",
};

pub const SCHEDULER_KUBECONFIG: Candidates = Candidates {
    placeholder: "$scheduler.kubeconfig",
    paths: &[
        "/etc/kubernetes/scheduler.conf",
        "/var/lib/kube-scheduler/kubeconfig",
        "/var/lib/kube-scheduler/config.yaml",
        "/system/secrets/kubernetes/kube-scheduler/kubeconfig",
    ],
    default: "/etc/kubernetes/scheduler.conf",
};

pub const CONTROLLERMANAGER_KUBECONFIG: Candidates = Candidates {
    placeholder: "$controllermanager.kubeconfig",
    paths: &[
        "/etc/kubernetes/controller-manager.conf",
        "/var/lib/kube-controller-manager/kubeconfig",
        "/system/secrets/kubernetes/kube-controller-manager/kubeconfig",
    ],
    default: "/etc/kubernetes/controller-manager.conf",
};

/// Used through its parent directory (the PKI directory).
pub const KUBELET_CAFILE: Candidates = Candidates {
    placeholder: "$kubelet.cafile",
    paths: &[
        "/etc/kubernetes/pki/ca.crt",
        "/etc/kubernetes/certs/ca.crt",
        "/etc/kubernetes/cert/ca.pem",
        "/var/snap/microk8s/current/certs/ca.crt",
        "/var/lib/rancher/rke2/agent/server.crt",
        "/var/lib/rancher/rke2/agent/client-ca.crt",
        "/var/lib/rancher/k3s/agent/client-ca.crt",
        "/system/secrets/kubernetes/kube-apiserver/ca.crt",
        "/system/secrets/kubernetes/kubelet/ca.crt",
    ],
    default: "/etc/kubernetes/pki/ca.crt",
};

pub const KUBELET_SVC: Candidates = Candidates {
    placeholder: "$kubelet.svc",
    paths: &[
        "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
        "/etc/systemd/system/kubelet.service",
        "/lib/systemd/system/kubelet.service",
        "/etc/systemd/system/snap.kubelet.daemon.service",
        "/etc/systemd/system/snap.microk8s.daemon-kubelet.service",
        "/etc/systemd/system/atomic-openshift-node.service",
        "/etc/systemd/system/origin-node.service",
        "/system/services/kubelet.yaml",
        "/etc/cri/conf.d/20-customization.part",
    ],
    default: "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
};

pub const KUBELET_KUBECONFIG: Candidates = Candidates {
    placeholder: "$kubelet.kubeconfig",
    paths: &[
        "/etc/kubernetes/kubelet.conf",
        "/etc/kubernetes/kubelet-kubeconfig.conf",
        "/var/lib/kubelet/kubeconfig",
        "/etc/kubernetes/kubelet-kubeconfig",
        "/etc/kubernetes/kubelet/kubeconfig",
        "/etc/kubernetes/ssl/kubecfg-kube-node.yaml",
        "/var/snap/microk8s/current/credentials/kubelet.config",
        "/etc/kubernetes/kubeconfig-kubelet",
        "/var/lib/rancher/rke2/agent/kubelet.kubeconfig",
        "/var/lib/rancher/k3s/server/cred/admin.kubeconfig",
        "/var/lib/rancher/k3s/agent/kubelet.kubeconfig",
        "/system/secrets/kubernetes/kubelet/kubeconfig",
    ],
    default: "/etc/kubernetes/kubelet.conf",
};

pub const KUBELET_CONFS: Candidates = Candidates {
    placeholder: "$kubelet.confs",
    paths: &[
        "/etc/kubernetes/kubelet-config.yaml",
        "/var/lib/kubelet/config.yaml",
        "/var/lib/kubelet/config.yml",
        "/etc/kubernetes/kubelet/kubelet-config.json",
        "/etc/kubernetes/kubelet/config",
        "/home/kubernetes/kubelet-config.yaml",
        "/home/kubernetes/kubelet-config.yml",
        "/etc/default/kubeletconfig.json",
        "/etc/default/kubelet",
        "/var/lib/kubelet/kubeconfig",
        "/var/snap/kubelet/current/args",
        "/var/snap/microk8s/current/args/kubelet",
        "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
        "/etc/systemd/system/kubelet.service",
        "/lib/systemd/system/kubelet.service",
        "/etc/systemd/system/snap.kubelet.daemon.service",
        "/etc/systemd/system/snap.microk8s.daemon-kubelet.service",
        "/etc/kubernetes/kubelet.yaml",
        "/var/lib/rancher/rke2/agent/kubelet.kubeconfig",
        "/system/secrets/kubernetes/kubelet/config.yaml",
        "/etc/cri/conf.d/20-customization.part",
    ],
    default: "/var/lib/kubelet/config.yaml",
};

/// node-collector's fixed path of the cluster-admin kubeconfig.
pub const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";

/// A node is a control-plane (`master`) node iff all three exist (kubeadm's layout).
pub const MASTER_MARKERS: [&str; 3] = [
    "/etc/kubernetes/controller-manager.conf",
    "/etc/kubernetes/manifests/kube-apiserver.yaml",
    "/etc/kubernetes/scheduler.conf",
];

/// Process names node-collector recognises as kube-proxy (`$proxy.bins`) and as the
/// kubelet (`$kubelet.bins`): a binary name, or a multi-call binary and its first argument.
pub const PROXY_BINS: &[&[&str]] = &[
    &["kube-proxy"],
    &["hyperkube", "proxy"],
    &["hyperkube", "kube-proxy"],
    &["proxy"],
    &["openshift", "start", "network"],
];
pub const KUBELET_BINS: &[&[&str]] = &[&["hyperkube", "kubelet"], &["kubelet"]];
