#!/usr/bin/env python3
"""Writes the catalogue of the 90 KCV checks: policies/cis-control-plane/KCVnnnn/ (the 44
control-plane Pod checks and KCV0093) and policies/cis-node/KCVnnnn/ (the 45 NodeInfo
checks), each a check.json in the schema of policies/general/*/check.json plus
examples/pass.yaml and examples/fail.yaml.

Ids, aliases, titles, severities, rules and compliance references come from the shared
spec (../shared/spec/kcv/checks.json); descriptions, remediations and deviations are
written here, by hand. The examples are the first passing and the first failing upstream
case of each check (tests/fixtures/kcv-cases, copied from ../shared/spec/kcv/cases).
Run from the repository root; the output is committed, so builds do not need ../shared.
"""

import json
import re
import sys
from pathlib import Path

WORKLOAD = [
    "Pod",
    "ReplicaSet",
    "ReplicationController",
    "Deployment",
    "DeploymentConfig",
    "StatefulSet",
    "DaemonSet",
    "CronJob",
    "Job",
]

MANIFEST = {
    "kube-apiserver": "/etc/kubernetes/manifests/kube-apiserver.yaml",
    "kube-controller-manager": "/etc/kubernetes/manifests/kube-controller-manager.yaml",
    "kube-scheduler": "/etc/kubernetes/manifests/kube-scheduler.yaml",
    "etcd": "/etc/kubernetes/manifests/etcd.yaml",
}

# Control-plane Pod checks: (risk, what to change in the component's command).
POD = {
    "KCV0001": ("Anonymous requests reach the API server as system:anonymous; any permission granted to that user or to system:unauthenticated is open to the whole network.",
                "set `--anonymous-auth=false`"),
    "KCV0002": ("Static token files hold long-lived bearer tokens in clear text that cannot be rotated or revoked without restarting the API server.",
                "remove `--token-auth-file` and authenticate clients with certificates, OIDC or service account tokens instead"),
    "KCV0003": ("trivy fails this check when the DenyServiceExternalIPs admission plugin is enabled in any container's `--enable-admission-plugins` (the check's title says it should not be set); note that CIS recommends the plugin, which blocks Service externalIPs (CVE-2020-8554).",
                "remove `DenyServiceExternalIPs` from `--enable-admission-plugins`, as the check expects"),
    "KCV0004": ("With `--kubelet-https=false` the API server talks to kubelets over plain HTTP, exposing exec, logs and port-forward traffic.",
                "remove `--kubelet-https=false` (the flag is gone since Kubernetes 1.22; connections to kubelets then always use HTTPS)"),
    "KCV0005": ("Without a client certificate and key for kubelets the API server cannot authenticate itself to them, so kubelets must accept unauthenticated requests.",
                "set both `--kubelet-client-certificate` and `--kubelet-client-key` in the same list (command or args) to the API server's kubelet client certificate and key"),
    "KCV0006": ("Without a certificate authority for kubelets the API server does not verify the kubelets' serving certificates, so its connections to nodes can be intercepted.",
                "set `--kubelet-certificate-authority` to the CA file that signs the kubelets' serving certificates"),
    "KCV0007": ("The AlwaysAllow authorization mode lets every authenticated request do anything, which disables authorization entirely.",
                "set `--authorization-mode` in the command to a list without AlwaysAllow, e.g. `--authorization-mode=Node,RBAC`"),
    "KCV0008": ("Without the Node authorizer kubelets are not restricted to the objects of their own node and can read every Secret and ConfigMap.",
                "set `--authorization-mode` to a list that includes Node, e.g. `--authorization-mode=Node,RBAC`"),
    "KCV0009": ("Without RBAC the cluster has no role-based authorization, so least-privilege access for users and service accounts cannot be enforced.",
                "set `--authorization-mode` to a list that includes RBAC, e.g. `--authorization-mode=Node,RBAC`"),
    "KCV0010": ("Without the EventRateLimit admission plugin a client can flood the API server and etcd with Events and degrade the control plane.",
                "add `EventRateLimit` to `--enable-admission-plugins` and configure its limits in the file named by `--admission-control-config-file`"),
    "KCV0011": ("The AlwaysAdmit admission plugin admits every request whatever the other admission controllers decide.",
                "remove `AlwaysAdmit` from `--enable-admission-plugins`"),
    "KCV0012": ("Without AlwaysPullImages a Pod can run any image already cached on its node, including private images pulled for other tenants, without presenting pull credentials.",
                "add `AlwaysPullImages` to `--enable-admission-plugins` in the container's command (the check does not read args)"),
    "KCV0013": ("Without SecurityContextDeny (or PodSecurityPolicy) nothing stops Pods from requesting privileged security context settings.",
                "add `SecurityContextDeny` to `--enable-admission-plugins` unless `PodSecurityPolicy` is listed there (on Kubernetes 1.25 and later, enforce Pod Security Admission instead)"),
    "KCV0014": ("Disabling the ServiceAccount admission plugin lets Pods run without a service account and skips the token and mount defaults it enforces.",
                "remove `ServiceAccount` from `--disable-admission-plugins`"),
    "KCV0015": ("Disabling NamespaceLifecycle allows objects to be created in namespaces that are being deleted or do not exist, and lets the system namespaces be deleted.",
                "remove `NamespaceLifecycle` from `--disable-admission-plugins`"),
    "KCV0016": ("Without NodeRestriction a kubelet's credentials can modify other nodes' Node objects and Pods, so one compromised node spreads to others.",
                "add `NodeRestriction` to `--enable-admission-plugins` (together with the Node authorization mode)"),
    "KCV0017": ("`--secure-port=0` turns off the API server's authenticated HTTPS port.",
                "remove `--secure-port=0` or set a non-zero port, e.g. `--secure-port=6443`"),
    "KCV0018": ("Profiling endpoints expose detailed runtime data of the API server and cost performance; they are rarely needed in production.",
                "set `--profiling=false`"),
    "KCV0019": ("Without an audit log there is no record of who did what in the cluster, which hides attacks and hampers incident response.",
                "set `--audit-log-path` to the audit log file, e.g. `--audit-log-path=/var/log/kubernetes/audit.log`, together with an audit policy"),
    "KCV0020": ("Without a retention period for audit logs, records are either lost too early or never cleaned up.",
                "set `--audit-log-maxage=30` (or the retention your policy requires)"),
    "KCV0021": ("Without a limit on rotated audit log files, audit history is lost or fills the disk.",
                "set `--audit-log-maxbackup=10` (or as appropriate)"),
    "KCV0022": ("Without a maximum audit log size, a single log file grows until the disk is full.",
                "set `--audit-log-maxsize=100` (megabytes, or as appropriate)"),
    "KCV0024": ("With `--service-account-lookup=false` the API server accepts tokens of deleted service accounts until they expire.",
                "remove `--service-account-lookup=false` or set `--service-account-lookup=true`"),
    "KCV0025": ("Without an explicit service account key file, service account tokens cannot be verified with a key you control and rotate.",
                "set `--service-account-key-file` to the public key (or keys) that verify service account tokens"),
    "KCV0026": ("Without a client certificate and key for etcd the API server cannot use mutual TLS with etcd, where every cluster object and Secret is stored.",
                "set `--etcd-certfile` and `--etcd-keyfile` to the client certificate and key the API server presents to etcd"),
    "KCV0027": ("Without a serving certificate and key the API server cannot serve its clients over properly configured TLS.",
                "set `--tls-cert-file` and `--tls-private-key-file` to the API server's serving certificate and key"),
    "KCV0028": ("Without a client CA file the API server cannot authenticate clients by certificate.",
                "set `--client-ca-file` to the CA certificate that signs client certificates"),
    "KCV0029": ("Without etcd's CA file the API server does not verify etcd's serving certificate, so its connection to the data store can be intercepted.",
                "set `--etcd-cafile` to the CA certificate of etcd's serving certificate"),
    "KCV0030": ("Without an encryption provider configuration Secrets are stored in etcd in plain text.",
                "set `--encryption-provider-config` to an EncryptionConfiguration file that encrypts Secrets at rest"),
    "KCV0033": ("Without a threshold for terminated Pods, their objects accumulate until they degrade the controller manager and etcd.",
                "set `--terminated-pod-gc-threshold` to a suitable number, e.g. `--terminated-pod-gc-threshold=10`"),
    "KCV0034": ("Profiling endpoints expose detailed runtime data of the controller manager and cost performance.",
                "set `--profiling=false`"),
    "KCV0035": ("Without per-controller service account credentials every controller runs with the controller manager's own broad permissions.",
                "set `--use-service-account-credentials=true`"),
    "KCV0036": ("Without a private key for service account tokens, tokens cannot be signed with a key you control and rotate.",
                "set `--service-account-private-key-file` to the private key that signs service account tokens"),
    "KCV0037": ("Without a root CA file, Pods do not receive the CA bundle they need to verify the API server's certificate.",
                "set `--root-ca-file` to the cluster CA certificate"),
    "KCV0038": ("Without RotateKubeletServerCertificate kubelet serving certificates are not rotated and eventually expire or stay valid too long.",
                "set `--feature-gates=RotateKubeletServerCertificate=true`"),
    "KCV0039": ("A controller manager listening on every interface exposes its health and metrics endpoints to the network.",
                "set `--bind-address=127.0.0.1`"),
    "KCV0040": ("Profiling endpoints expose detailed runtime data of the scheduler and cost performance.",
                "set `--profiling=false`"),
    "KCV0041": ("A scheduler listening on every interface exposes its health and metrics endpoints to the network.",
                "set `--bind-address=127.0.0.1`"),
    "KCV0042": ("Without a serving certificate and key etcd serves its clients, including the API server, without TLS.",
                "set `--cert-file` and `--key-file` to etcd's client-facing serving certificate and key"),
    "KCV0043": ("Without client certificate authentication any client that reaches etcd can read and write all cluster data.",
                "set `--client-cert-auth=true`"),
    "KCV0044": ("`--auto-tls=true` makes etcd use self-signed certificates that clients cannot verify.",
                "remove `--auto-tls=true` (or set `--auto-tls=false`) and serve with `--cert-file`/`--key-file`"),
    "KCV0045": ("Without peer certificates, traffic between etcd members is not encrypted or authenticated.",
                "set `--peer-cert-file` and `--peer-key-file` to the certificate and key etcd members use with each other"),
    "KCV0046": ("Without peer client certificate authentication any host that reaches the peer port can join or talk to the etcd cluster.",
                "set `--peer-client-cert-auth=true` in the container's command (the check does not read args)"),
    "KCV0047": ("`--peer-auto-tls=true` makes etcd members use self-signed peer certificates that cannot be verified.",
                "remove `--peer-auto-tls=true` (or set `--peer-auto-tls=false`) and use `--peer-cert-file`/`--peer-key-file`"),
}

# NodeInfo checks: (risk, remediation).
KUBELET_RESTART = " Restart the kubelet afterwards."
NODE = {
    "KCV0048": ("A writable kube-apiserver manifest lets local users change the API server's flags and image.",
                "On every control-plane node run `chmod 600 /etc/kubernetes/manifests/kube-apiserver.yaml` (or more restrictive)."),
    "KCV0049": ("A kube-apiserver manifest owned by another user can be changed by that user, which controls the API server.",
                "On every control-plane node run `chown root:root /etc/kubernetes/manifests/kube-apiserver.yaml`."),
    "KCV0050": ("A writable kube-controller-manager manifest lets local users change the controller manager's flags and image.",
                "On every control-plane node run `chmod 600 /etc/kubernetes/manifests/kube-controller-manager.yaml` (or more restrictive)."),
    "KCV0051": ("A kube-controller-manager manifest owned by another user can be changed by that user.",
                "On every control-plane node run `chown root:root /etc/kubernetes/manifests/kube-controller-manager.yaml`."),
    "KCV0052": ("A writable kube-scheduler manifest lets local users change the scheduler's flags and image.",
                "On every control-plane node run `chmod 600 /etc/kubernetes/manifests/kube-scheduler.yaml` (or more restrictive)."),
    "KCV0053": ("A kube-scheduler manifest owned by another user can be changed by that user.",
                "On every control-plane node run `chown root:root /etc/kubernetes/manifests/kube-scheduler.yaml`."),
    "KCV0054": ("A writable etcd manifest lets local users change how etcd, the store of every Secret, runs.",
                "On every control-plane node run `chmod 600 /etc/kubernetes/manifests/etcd.yaml` (or more restrictive)."),
    "KCV0055": ("An etcd manifest owned by another user can be changed by that user.",
                "On every control-plane node run `chown root:root /etc/kubernetes/manifests/etcd.yaml`."),
    "KCV0056": ("Writable CNI configuration or plugins let local users reroute or intercept Pod network traffic.",
                "On every control-plane node run `chmod 600` (or more restrictive) on the CNI entries the finding lists, i.e. the entries of `/etc/cni/net.d` and `/opt/cni/bin`."),
    "KCV0057": ("CNI configuration or plugins owned by another user can be changed by that user to reroute Pod traffic.",
                "On every control-plane node run `chown root:root` on the entries of `/etc/cni/net.d` and `/opt/cni/bin`."),
    "KCV0058": ("An etcd data directory readable by other users exposes every cluster object, Secrets included.",
                "On every etcd node run `chmod 700 /var/lib/etcd` (the directory `--data-dir` names)."),
    "KCV0059": ("An etcd data directory not owned by etcd can be read or altered by whoever owns it.",
                "On every etcd node run `chown etcd:etcd /var/lib/etcd` (the directory `--data-dir` names; create the etcd user if needed)."),
    "KCV0060": ("admin.conf holds cluster-admin credentials; readable by others, it hands them the whole cluster.",
                "On every control-plane node run `chmod 600 /etc/kubernetes/admin.conf`."),
    "KCV0061": ("An admin.conf owned by another user gives that user cluster-admin credentials.",
                "On every control-plane node run `chown root:root /etc/kubernetes/admin.conf`."),
    "KCV0062": ("The scheduler's kubeconfig holds its credentials; readable by others, they can act as the scheduler.",
                "On every control-plane node run `chmod 600 /etc/kubernetes/scheduler.conf` (or more restrictive)."),
    "KCV0063": ("A scheduler kubeconfig owned by another user gives that user the scheduler's credentials.",
                "On every control-plane node run `chown root:root /etc/kubernetes/scheduler.conf`."),
    "KCV0064": ("The controller manager's kubeconfig holds its credentials; readable by others, they can act as the controller manager.",
                "On every control-plane node run `chmod 600 /etc/kubernetes/controller-manager.conf` (or more restrictive)."),
    "KCV0065": ("A controller-manager kubeconfig owned by another user gives that user the controller manager's credentials.",
                "On every control-plane node run `chown root:root /etc/kubernetes/controller-manager.conf`."),
    "KCV0066": ("PKI files owned by another user let that user replace or read the cluster's CA and component keys.",
                "On every control-plane node run `chown -R root:root /etc/kubernetes/pki/`."),
    "KCV0067": ("Private keys readable by other users let them impersonate cluster components or sign certificates.",
                "On every control-plane node run `find /etc/kubernetes/pki -name '*.key' -exec chmod 600 {} +`."),
    "KCV0068": ("Writable certificates under the PKI directory can be replaced to make components trust an attacker's CA.",
                "On every control-plane node run `find /etc/kubernetes/pki -name '*.crt' -exec chmod 600 {} +`."),
    "KCV0069": ("A writable kubelet service file lets local users change the kubelet's flags and run code as root.",
                "On every node run `chmod 600` on the kubelet's systemd unit or drop-in, e.g. `/etc/systemd/system/kubelet.service.d/10-kubeadm.conf`."),
    "KCV0070": ("A kubelet service file owned by another user lets that user change how the kubelet runs.",
                "On every node run `chown root:root` on the kubelet's systemd unit or drop-in, e.g. `/etc/systemd/system/kubelet.service.d/10-kubeadm.conf`."),
    "KCV0071": ("kube-proxy's kubeconfig holds its credentials; readable or writable by others, they can act as or redirect kube-proxy.",
                "On every node run `chmod 600` on the file kube-proxy's `--kubeconfig` names (e.g. `/var/lib/kube-proxy/kubeconfig.conf`)."),
    "KCV0072": ("A kube-proxy kubeconfig owned by another user gives that user kube-proxy's credentials.",
                "On every node run `chown root:root` on the file kube-proxy's `--kubeconfig` names."),
    "KCV0073": ("kubelet.conf holds the kubelet's credentials; readable by others, they can act as the node.",
                "On every node run `chmod 600 /etc/kubernetes/kubelet.conf`."),
    "KCV0074": ("A kubelet.conf owned by another user gives that user the node's credentials.",
                "On every node run `chown root:root /etc/kubernetes/kubelet.conf`."),
    "KCV0075": ("A writable client CA file lets local users make the kubelet trust client certificates they sign.",
                "On every node run `chmod 600` on the file the kubelet's `--client-ca-file` (or `authentication.x509.clientCAFile`) names, e.g. `/etc/kubernetes/pki/ca.crt`."),
    "KCV0076": ("A client CA file owned by another user lets that user replace the CA the kubelet trusts.",
                "On every node run `chown root:root` on the file the kubelet's `--client-ca-file` (or `authentication.x509.clientCAFile`) names."),
    "KCV0077": ("A writable kubelet configuration file lets local users weaken the kubelet's authentication and authorization.",
                "On every node run `chmod 600 /var/lib/kubelet/config.yaml` (the file the kubelet's `--config` names)."),
    "KCV0078": ("A kubelet configuration file owned by another user lets that user reconfigure the kubelet.",
                "On every node run `chown root:root /var/lib/kubelet/config.yaml` (the file the kubelet's `--config` names)."),
    "KCV0079": ("With anonymous authentication the kubelet API serves unauthenticated requests, which can reach Pod logs, exec and node data.",
                "Set `authentication.anonymous.enabled: false` in the kubelet configuration file (or `--anonymous-auth=false`)." + KUBELET_RESTART),
    "KCV0080": ("With the AlwaysAllow authorization mode every request that reaches the kubelet API is allowed, including exec into any Pod of the node.",
                "Set `authorization.mode: Webhook` in the kubelet configuration file (or `--authorization-mode=Webhook`)." + KUBELET_RESTART),
    "KCV0081": ("Without a client CA file the kubelet cannot authenticate the API server and other clients by certificate.",
                "Set `authentication.x509.clientCAFile` in the kubelet configuration file (or `--client-ca-file`) to the cluster CA, e.g. `/etc/kubernetes/pki/ca.crt`." + KUBELET_RESTART),
    "KCV0082": ("The kubelet's read-only port serves node and Pod information without any authentication.",
                "Set `readOnlyPort: 0` in the kubelet configuration file (or `--read-only-port=0`)." + KUBELET_RESTART),
    "KCV0083": ("Without protect-kernel-defaults the kubelet silently changes kernel parameters it needs instead of failing when they differ.",
                "Set `protectKernelDefaults: true` in the kubelet configuration file (or `--protect-kernel-defaults=true`) and set the kernel parameters the kubelet expects." + KUBELET_RESTART),
    "KCV0084": ("If the kubelet does not manage its iptables chains, the node's rules can drift from what networking and security need.",
                "Set `makeIPTablesUtilChains: true` in the kubelet configuration file (or remove `--make-iptables-util-chains=false`)." + KUBELET_RESTART),
    "KCV0085": ("Without an idle timeout, streaming connections (exec, attach, port-forward) stay open forever and exhaust the node.",
                "Set `streamingConnectionIdleTimeout` in the kubelet configuration file (or `--streaming-connection-idle-timeout`) to a non-zero duration such as `5m`." + KUBELET_RESTART),
    "KCV0086": ("Overriding the host name can break the TLS identity between kubelet and API server and confuses node authorization.",
                "Remove `--hostname-override` from the kubelet's flags." + KUBELET_RESTART),
    "KCV0087": ("An invalid event rate can stop the kubelet from recording events, which hides what happens on the node.",
                "Set `eventRecordQPS` in the kubelet configuration file (or `--event-qps`) to 0 or a positive rate that captures the events you need." + KUBELET_RESTART),
    "KCV0088": ("Without its own serving certificate the kubelet uses a self-signed one, so its clients cannot verify they talk to the right node.",
                "Set `tlsCertFile` in the kubelet configuration file (or `--tls-cert-file`) to the kubelet's serving certificate (a `.crt` file)." + KUBELET_RESTART),
    "KCV0089": ("Without its own serving key the kubelet uses a self-signed certificate, so its clients cannot verify they talk to the right node.",
                "Set `tlsPrivateKeyFile` in the kubelet configuration file (or `--tls-private-key-file`) to the key of its serving certificate (a `.key` file)." + KUBELET_RESTART),
    "KCV0090": ("Without certificate rotation the kubelet's client certificate expires, or is kept valid for too long.",
                "Set `rotateCertificates: true` in the kubelet configuration file (or remove `--rotate-certificates=false`)." + KUBELET_RESTART),
    "KCV0091": ("Without server certificate rotation the kubelet's serving certificate is never renewed by the cluster.",
                "Set `featureGates: {RotateKubeletServerCertificate: true}` and `serverTLSBootstrap: true` in the kubelet configuration file (or `--feature-gates=RotateKubeletServerCertificate=true`)." + KUBELET_RESTART),
    "KCV0092": ("Weak TLS cipher suites let an attacker on the network decrypt or tamper with traffic to the kubelet.",
                "Set `tlsCipherSuites` in the kubelet configuration file (or `--tls-cipher-suites`) to strong suites only: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_RSA_WITH_AES_256_GCM_SHA384, TLS_RSA_WITH_AES_128_GCM_SHA256." + KUBELET_RESTART),
}

INGRESS = {
    "KCV0093": ("ingress-nginx copies the auth-url, auth-tls-match-cn, mirror-target and mirror-host annotations into its nginx configuration; characters that end a directive let anyone who can create an Ingress inject configuration and run code in the controller (CVE-2025-24514, CVE-2025-1097, CVE-2025-1098).",
                "Remove the suspicious characters (quotes, braces, `|`, `;`, `#`, line breaks, ...) from the nginx.ingress.kubernetes.io/auth-url, auth-tls-match-cn, mirror-target and mirror-host annotations, and run ingress-nginx 1.11.5, 1.12.1 or later."),
}

POD_DEVIATIONS = [
    {
        "id": "workload-kinds-only",
        "summary": "Runs on the workload kinds only; containers under `spec` of other kinds are not checked.",
        "reason": "trivy's container helper also takes `spec.containers`/`spec.initContainers` of ANY object, so a kube-apiserver container inside a ConfigMap or a custom resource is judged like a static Pod; tollgate declares the kinds that run Pods (Pod, ReplicaSet, ReplicationController, Deployment, DeploymentConfig, StatefulSet, DaemonSet, CronJob, Job), because nothing else starts a control-plane component. Test: plugins/cis-control-plane (pod_checks_declare_workload_kinds_only).",
    },
    {
        "id": "null-securityContext",
        "summary": "A container with securityContext: null is checked like any other.",
        "reason": "A container whose securityContext is null disappears from every trivy container check (an OPA type error in the securityContext merge), so a misconfigured kube-apiserver with `securityContext: null` passes there; tollgate treats it as an empty securityContext, as Kubernetes does, and judges its flags. Test: plugins/cis-control-plane (null_security_context_is_still_checked).",
    },
    {
        "id": "malformed-containers",
        "summary": "A containers field that is not a list is ignored.",
        "reason": "When `containers` is written as a mapping instead of a list, trivy iterates the mapping's values as if they were containers; tollgate ignores a non-list containers field (Kubernetes would reject the object). Test: plugins/kit (containers_must_be_a_list).",
    },
    {
        "id": "yaml-merge-keys",
        "summary": "YAML merge keys are resolved before checking.",
        "reason": "tollgate resolves YAML merge keys (`<<: *anchor`) as kubectl does; trivy keeps `<<` as a literal key, so merged fields (such as a shared command list) look absent to it. Test: tests/scan.rs (yaml_merge_keys_are_resolved).",
    },
]

EXTRA_DEVIATIONS = {
    "KCV0012": [
        {
            "id": "typo-alias",
            "summary": "trivy's alias KSV0012 is left out.",
            "reason": "The check's METADATA lists KSV0012 among its aliases, a typo that reads as the unrelated KSV012 (runs as root); kept, an exemption or severity override meant for KSV012 would silently apply to KCV0012. Test: plugins/cis-control-plane (no_alias_names_another_family).",
        }
    ],
    "KCV0013": [
        {
            "id": "default-enabled",
            "summary": "Runs in every scan, not only in the CIS compliance reports.",
            "reason": "Its METADATA lists only the k8s-cis-1.23 and rke2-cis-1.24 frameworks, so a plain `trivy config` does not run it; tollgate has no framework selection for checks and enables it like the other CIS checks (disable it in the configuration to match a plain trivy scan). Test: plugins/cis-control-plane (kcv0013_runs_by_default).",
        }
    ],
}

CONFLICT = {
    "id": "conflicting-values",
    "summary": "Two or more distinct offending values FAIL, with every value in the message.",
    "reason": "The rule returns one result per distinct offending value through a function, so with two or more distinct offending values OPA stops with a conflict error ('functions must not produce multiple outputs'): trivy logs it and reports neither pass nor fail (and drops the rule's results for every input of the same scan). Several offending values are a real violation, so tollgate reports one FAIL naming all of them. Test: plugins/cis-node (conflicting_values_still_fail).",
}


def category(cid: str) -> str:
    n = int(cid[3:])
    if n <= 47:
        return "CIS Control Plane"
    if n <= 92:
        return "CIS Node"
    return "Ingress"


def aliases(c: dict) -> list:
    n = c["id"][3:]
    first = [f"KCV-{n}", f"AVD-KCV-{n}"]
    # KCV0012's METADATA carries the typo alias KSV0012, which reads as the KSV012 check:
    # an exemption written for KSV012 that way would silently exempt KCV0012 instead.
    rest = [a for a in c["aliases"] if a != c["id"] and a not in first and not a.startswith("KSV")]
    return first + rest


def entry(c: dict) -> dict:
    cid = c["id"]
    cat = category(cid)
    if cat == "CIS Control Plane":
        risk, action = POD[cid]
        comp = c["reads"]["component"] or "kube-apiserver"
        remediation = (
            f"Edit the {comp} static Pod manifest ({MANIFEST[comp]}) on every control-plane node "
            f"and {action}; the kubelet restarts the component with the new flags."
        )
        if cid in ("KCV0003", "KCV0012"):
            remediation = (
                f"Edit the kube-apiserver static Pod manifest ({MANIFEST['kube-apiserver']}) on every "
                f"control-plane node and {action}. The check reads every container, so fix any "
                "other container whose command carries `--enable-admission-plugins` too."
            )
        kinds = WORKLOAD
        deviations = POD_DEVIATIONS + EXTRA_DEVIATIONS.get(cid, [])
    elif cat == "CIS Node":
        risk, remediation = NODE[cid]
        kinds = ["NodeInfo"]
        deviations = [CONFLICT] if c["reads"].get("conflict_error_possible") else []
    else:
        risk, remediation = INGRESS[cid]
        kinds = ["Ingress"]
        deviations = []
    return {
        "id": cid,
        "aliases": aliases(c),
        "title": re.sub(r"\s+", " ", c["title"]).strip(),
        "trivy_title": c["title"],
        "description": risk,
        "severity": c["severity"],
        "category": cat,
        "kinds": kinds,
        "remediation": remediation,
        "compliance": c["compliance_refs"],
        "default_enabled": True,
        "deprecated_upstream": False,
        "rule": c["rule"],
        "deviations": deviations,
    }


# --- a small block-style YAML writer (the examples are plain data) -----------------

PLAIN = re.compile(r"^(?:[A-Za-z_/]|-[-A-Za-z])[A-Za-z0-9_./=,:@-]*$")
RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def scalar(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if PLAIN.match(v) and v.lower() not in RESERVED and not v.endswith(":"):
        return v
    return json.dumps(v)  # a JSON string is a valid YAML double-quoted scalar


def key(k: str) -> str:
    return scalar(k)


def emit(v, indent: int, out: list) -> None:
    pad = " " * indent
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                out.append(f"{pad}{key(k)}:")
                emit(x, indent + 2 if isinstance(x, dict) else indent, out)
            else:
                out.append(f"{pad}{key(k)}: {flow(x)}")
    elif isinstance(v, list):
        for x in v:
            if isinstance(x, dict) and x:
                lines: list = []
                emit(x, indent + 2, lines)
                lines[0] = f"{pad}- " + lines[0][indent + 2:]
                out.extend(lines)
            elif isinstance(x, list) and x:
                out.append(f"{pad}- {flow(x)}")
            else:
                out.append(f"{pad}- {flow(x)}")


def flow(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{key(k)}: {flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(flow(x) for x in v) + "]"
    return scalar(v)


def to_yaml(obj: dict) -> str:
    out: list = []
    emit(obj, 0, out)
    return "\n".join(out) + "\n"


def example(case: dict) -> dict:
    obj = case["input"]
    if obj.get("kind") == "NodeInfo" and "metadata" not in obj:
        # The collector names the node; trivy's test inputs do not.
        name = "control-plane-1" if obj.get("type") == "master" else "worker-1"
        obj = {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
               "metadata": {"name": name}, **{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}}
    return obj


def main() -> None:
    spec = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/spec/kcv/checks.json")
    cases_dir = Path("tests/fixtures/kcv-cases")
    checks = json.loads(spec.read_text())
    assert len(checks) == 90
    for c in checks:
        cid = c["id"]
        plugin = "cis-node" if category(cid) == "CIS Node" else "cis-control-plane"
        d = Path("policies") / plugin / cid
        (d / "examples").mkdir(parents=True, exist_ok=True)
        (d / "check.json").write_text(json.dumps(entry(c), indent=2, ensure_ascii=False) + "\n")
        cases = [json.loads(f.read_text()) for f in sorted((cases_dir / cid).glob("*.json"))]
        for name, want in (("pass", False), ("fail", True)):
            case = next(x for x in cases if x["expect_fail"] is want)
            header = f"# {cid} {name}: upstream case '{case['source']}'\n"
            text = to_yaml(example(case))
            try:
                import yaml  # only to check the writer; not needed to run the script
                assert yaml.safe_load(text) == example(case), f"{cid} {name}: YAML does not round-trip"
            except ImportError:
                pass
            (d / "examples" / f"{name}.yaml").write_text(header + text)
    print(f"wrote {len(checks)} catalogue entries under policies/cis-control-plane and policies/cis-node")


if __name__ == "__main__":
    main()
