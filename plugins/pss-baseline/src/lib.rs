//! The Pod Security Standards Baseline checks: host namespaces, privileged containers,
//! capabilities, hostPath volumes, host ports, AppArmor, SELinux, /proc masks, sysctls,
//! and trivy's later Windows HostProcess (KSV103) and unconfined seccomp (KSV104) checks.

use std::collections::BTreeSet;

use tollgate_kit::value::{go_lower, has_key, is_true, items};
use tollgate_kit::{catalogue, CheckInfo, Finding, Map, Node, Object, PluginMeta, Policy, Value};

#[derive(Default)]
pub struct PssBaseline {
    /// Cluster version that decides which sysctls are safe (KSV026); None = newest.
    k8s_version: Option<String>,
}

tollgate_kit::export_policy!(PssBaseline);

const SETTINGS_HELP: &str = "{\"k8s_version\": \"1.29.0\"}: the Kubernetes version of the target \
cluster, which decides the safe sysctls of KSV026 (default: the newest list).";

impl Policy for PssBaseline {
    fn meta() -> PluginMeta {
        PluginMeta::new(
            "pss-baseline",
            env!("CARGO_PKG_VERSION"),
            "trivy-operator's Pod Security Standards Baseline checks",
        )
        .settings_help(SETTINGS_HELP)
    }

    fn checks() -> Vec<CheckInfo> {
        catalogue!("../../../policies/pss-baseline";
            KSV008, KSV009, KSV010, KSV017, KSV022, KSV023, KSV024, KSV002, KSV025, KSV027, KSV026,
            KSV103, KSV104)
    }

    fn configure(&mut self, settings: &Map<String, Value>) -> Result<(), String> {
        self.k8s_version = tollgate_kit::value::only_k8s_version(settings, SETTINGS_HELP)?;
        Ok(())
    }

    fn evaluate(&self, id: &str, o: &Object) -> Vec<Finding> {
        match id {
            "KSV008" => host_ns(o, "hostIPC", "the host IPC namespace"),
            "KSV009" => host_ns(o, "hostNetwork", "the host network"),
            "KSV010" => host_ns(o, "hostPID", "the host PID namespace"),
            "KSV017" => privileged(o),
            "KSV022" => caps_added(o),
            "KSV023" => host_path(o),
            "KSV024" => host_ports(o),
            "KSV002" => apparmor(o),
            "KSV025" => selinux(o),
            "KSV027" => proc_mount(o),
            "KSV026" => sysctls(o, self.k8s_version.as_deref()),
            "KSV103" => host_process(o),
            "KSV104" => seccomp_unconfined(o),
            _ => vec![],
        }
    }
}

fn host_ns(o: &Object, field: &str, what: &str) -> Vec<Finding> {
    o.pod_specs()
        .iter()
        .find(|p| is_true(p.spec.get(field)))
        .map(|p| {
            Finding::at(
                format!("{} shares {what} ({field}: true)", o.describe()),
                &p.spec_path(field),
            )
        })
        .into_iter()
        .collect()
}

fn privileged(o: &Object) -> Vec<Finding> {
    o.containers()
        .iter()
        .filter(|c| is_true(c.own_sc("privileged")))
        .map(|c| {
            Finding::at(
                format!(
                    "{} runs privileged (securityContext.privileged: true)",
                    c.describe(o)
                ),
                &c.path,
            )
        })
        .collect()
}

fn caps_added(o: &Object) -> Vec<Finding> {
    o.containers()
        .iter()
        .filter_map(|c| {
            let add = c.own_sc("capabilities").and_then(|caps| caps.get("add"));
            // A scalar or an empty list adds nothing.
            add.filter(|a| a.is_array() && !a.is_empty()).map(|add| {
                let names: Vec<String> = add
                    .items()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect();
                Finding::at(
                    format!(
                        "{} adds capabilities {} (securityContext.capabilities.add)",
                        c.describe(o),
                        names.join(", ")
                    ),
                    &c.path,
                )
            })
        })
        .collect()
}

fn host_path(o: &Object) -> Vec<Finding> {
    for p in o.pod_specs() {
        for (i, v) in items(p.spec.get("volumes")).enumerate() {
            if has_key(Some(v), "hostPath") {
                let name = v.get("name").and_then(|v| v.as_str()).unwrap_or("?");
                return vec![Finding::at(
                    format!("{} mounts a hostPath volume ('{name}')", o.describe()),
                    &format!("{}[{i}]", p.spec_path("volumes")),
                )];
            }
        }
    }
    vec![]
}

fn host_ports(o: &Object) -> Vec<Finding> {
    let bad: Vec<Option<&str>> = o
        .containers()
        .iter()
        .filter(|c| items(c.get("ports")).any(|p| has_key(Some(p), "hostPort")))
        .map(|c| c.name)
        .collect();
    let mut seen: Vec<Option<&str>> = Vec::new();
    o.containers()
        .iter()
        .filter(|c| bad.contains(&c.name))
        .filter(|c| {
            // One finding per offending container name, as trivy keys them.
            let new = !seen.contains(&c.name);
            seen.push(c.name);
            new
        })
        .map(|c| {
            Finding::at(
                format!("{} binds a host port (ports[].hostPort)", c.describe(o)),
                &c.path,
            )
        })
        .collect()
}

const APPARMOR_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn apparmor(o: &Object) -> Vec<Finding> {
    o.containers()
        .iter()
        .filter_map(|c| {
            let name = c.name?;
            let key = format!("{APPARMOR_PREFIX}{name}");
            let value = o
                .pod_specs()
                .iter()
                .find_map(|p| p.annotations()?.get(&key))?;
            (value.as_str() != Some("runtime/default")).then(|| {
                Finding::at(
                    format!(
                        "{} has AppArmor profile {} (annotation {key}); use runtime/default",
                        c.describe(o),
                        value
                    ),
                    &c.path,
                )
            })
        })
        .collect()
}

const SELINUX_TYPES: [&str; 3] = ["container_t", "container_init_t", "container_kvm_t"];

fn selinux(o: &Object) -> Vec<Finding> {
    let mut contexts: Vec<Node> = o
        .containers()
        .iter()
        .map(|c| c.security_context())
        .collect();
    for p in o.pod_specs() {
        if let Some(sc) = p.spec.get("securityContext") {
            contexts.push(sc);
        }
    }
    let mut bad_types: Vec<String> = Vec::new();
    let mut keys: BTreeSet<&str> = BTreeSet::new();
    for sc in contexts {
        let Some(opts) = sc.get("seLinuxOptions").filter(|v| !v.is_null()) else {
            continue;
        };
        if let Some(t) = opts.get("type").filter(|v| !v.is_null()) {
            let ok = t.as_str().is_some_and(|s| SELINUX_TYPES.contains(&s));
            let shown = t
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| t.to_string());
            if !ok && !bad_types.contains(&shown) {
                bad_types.push(shown);
            }
        }
        for k in ["role", "user"] {
            if has_key(Some(opts), k) {
                keys.insert(k);
            }
        }
    }
    let mut out: Vec<Finding> = bad_types
        .into_iter()
        .map(|t| {
            Finding::at(
                format!(
                    "{} uses SELinux type '{t}'; only {} are allowed",
                    o.describe(),
                    SELINUX_TYPES.join(", ")
                ),
                "spec",
            )
        })
        .collect();
    if !keys.is_empty() {
        let list: Vec<String> = keys.iter().map(|k| format!("'{k}'")).collect();
        out.push(Finding::at(
            format!(
                "{} sets forbidden SELinux options {}",
                o.describe(),
                list.join(", ")
            ),
            "spec",
        ));
    }
    out
}

fn proc_mount(o: &Object) -> Vec<Finding> {
    o.containers()
        .iter()
        .filter(|c| has_key(c.value.get("securityContext"), "procMount"))
        .map(|c| {
            Finding::at(
                format!("{} sets securityContext.procMount", c.describe(o)),
                &c.path,
            )
        })
        .collect()
}

const SYSCTLS_BASE: [&str; 5] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
];
const SYSCTLS_1_27: [&str; 1] = ["net.ipv4.ip_local_reserved_ports"];
const SYSCTLS_1_29: [&str; 4] = [
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SYSCTLS_1_32: [&str; 2] = ["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];

/// A strict SemVer 2.0 version: (major, minor, patch, has-pre-release).
fn semver(v: &str) -> Option<(u64, u64, u64, bool)> {
    let core = v.split('+').next()?;
    let (core, pre) = match core.split_once('-') {
        Some((c, p)) if !p.is_empty() => (c, true),
        Some(_) => return None,
        None => (core, false),
    };
    let nums: Vec<&str> = core.split('.').collect();
    if nums.len() != 3 {
        return None;
    }
    let n = |s: &str| -> Option<u64> {
        if s.is_empty()
            || (s.len() > 1 && s.starts_with('0'))
            || !s.bytes().all(|b| b.is_ascii_digit())
        {
            None
        } else {
            s.parse().ok()
        }
    };
    Some((n(nums[0])?, n(nums[1])?, n(nums[2])?, pre))
}

/// The safe sysctls for a cluster version, as Kubernetes' PSS defines them over time.
fn allowed_sysctls(version: Option<&str>) -> Vec<&'static str> {
    let level = match version.and_then(semver) {
        None => 4,
        Some((maj, min, patch, pre)) => {
            // SemVer: a pre-release sorts below its release.
            let at_least = |m: u64, n: u64| {
                (maj, min, patch) > (m, n, 0) || ((maj, min, patch) == (m, n, 0) && !pre)
            };
            if at_least(1, 32) {
                4
            } else if at_least(1, 29) {
                3
            } else if at_least(1, 27) {
                2
            } else if at_least(1, 0) {
                1
            } else {
                4
            }
        }
    };
    let mut out: Vec<&str> = SYSCTLS_BASE.to_vec();
    if level >= 2 {
        out.extend(SYSCTLS_1_27);
    }
    if level >= 3 {
        out.extend(SYSCTLS_1_29);
    }
    if level >= 4 {
        out.extend(SYSCTLS_1_32);
    }
    out
}

fn sysctls(o: &Object, version: Option<&str>) -> Vec<Finding> {
    let allowed = allowed_sysctls(version);
    o.pod_specs()
        .iter()
        .filter_map(|p| {
            let sc = p.spec.get("securityContext")?;
            let bad: BTreeSet<&str> = items(sc.get("sysctls"))
                .filter_map(|s| s.get("name")?.as_str())
                .filter(|n| !allowed.contains(n))
                .collect();
            (!bad.is_empty()).then(|| {
                let list: Vec<String> = bad.iter().map(|s| format!("\"{s}\"")).collect();
                Finding::at(
                    format!("{} sets unsafe sysctls [{}]", o.describe(), list.join(", ")),
                    &p.spec_path("securityContext.sysctls"),
                )
            })
        })
        .collect()
}

fn host_process(o: &Object) -> Vec<Finding> {
    let mut out = Vec::new();
    // The object's own top-level spec, whatever its kind (a controller's template is
    // reached only through its containers).
    let own = o
        .spec()
        .and_then(|s| s.get("securityContext"))
        .and_then(|sc| sc.get("windowsOptions"))
        .and_then(|w| w.get("hostProcess"));
    if is_true(own) {
        out.push(Finding::at(
            format!(
                "{} sets spec.securityContext.windowsOptions.hostProcess: true",
                o.describe()
            ),
            "spec.securityContext.windowsOptions.hostProcess",
        ));
    }
    for c in o.containers() {
        let effective = c.sc("windowsOptions").and_then(|w| w.get("hostProcess"));
        if is_true(effective) {
            out.push(Finding::at(
                format!(
                    "{} runs as a Windows HostProcess container (securityContext.windowsOptions.hostProcess: true, its own or the pod's)",
                    c.describe(o)
                ),
                &c.path,
            ));
        }
    }
    out
}

const SECCOMP_ANNOTATION: &str = "container.seccomp.security.alpha.kubernetes.io/";

/// `seccompProfile.type` under a securityContext-like value, when the path exists (any
/// value, null included), as Rego's `object.get` reads it.
fn seccomp_type(sc: Option<Node>) -> Option<Node> {
    sc?.get("seccompProfile")?.get("type")
}

fn seccomp_unconfined(o: &Object) -> Vec<Finding> {
    let is_pod = o.kind() == "Pod";
    o.containers()
        .iter()
        .filter_map(|c| {
            // A Pod's containers are all of CONTAINERS; other kinds read only their
            // pod specs' containers.
            let pod = o.pod_of(c);
            if !is_pod && pod.is_none() {
                return None;
            }
            // The per-container annotation on the pod (template) metadata, else "".
            let annotation = c.name.and_then(|n| {
                let key = format!("{SECCOMP_ANNOTATION}{n}");
                o.pod_specs().iter().find_map(|p| p.annotations()?.get(&key))
            });
            let fallback = if is_pod {
                annotation
            } else {
                seccomp_type(pod.and_then(|p| p.spec.get("securityContext"))).or(annotation)
            };
            let own = seccomp_type(Some(c.security_context()));
            let (kind, from) = match (own, fallback) {
                (Some(t), _) => (t, "securityContext.seccompProfile.type"),
                (None, Some(t)) => (t, "the pod's seccomp settings"),
                (None, None) => (Node::NULL, ""),
            };
            let text = if from.is_empty() {
                Some("")
            } else {
                kind.as_str()
            };
            // Only a string can be unconfined; missing settings read as "".
            let t = text?;
            if !(t.is_empty() || go_lower(t) == "unconfined") {
                return None;
            }
            let why = if t.is_empty() {
                "sets no seccomp profile".to_string()
            } else {
                format!("runs with seccomp profile '{t}' ({from})")
            };
            Some(Finding::at(
                format!(
                    "{} {why}; set securityContext.seccompProfile.type to RuntimeDefault or Localhost",
                    c.describe(o)
                ),
                &c.path,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_kit::{json, Runtime};

    fn run(id: &str, v: tollgate_kit::Value) -> Vec<Finding> {
        let rt = Runtime::<PssBaseline>::new();
        let i = rt.checks.iter().position(|c| c.id == id).unwrap() as u32;
        rt.evaluate_value(&v, &[i]).remove(0).findings
    }

    #[test]
    fn host_process_reads_the_own_spec_and_the_effective_context() {
        // A pod-level true fails even when every container says false.
        let pod = json!({"kind": "Pod", "spec": {"securityContext": {"windowsOptions": {"hostProcess": true}},
            "containers": [{"name": "a", "securityContext": {"windowsOptions": {"hostProcess": false}}}]}});
        assert_eq!(run("KSV103", pod).len(), 1);
        // A template's pod-level true reaches the containers only.
        let dep = |cs: tollgate_kit::Value| {
            json!({"kind": "Deployment", "spec": {"template": {"spec": {
            "securityContext": {"windowsOptions": {"hostProcess": true}}, "containers": cs}}}})
        };
        assert_eq!(run("KSV103", dep(json!([{"name": "a"}]))).len(), 1);
        assert!(run("KSV103", dep(json!([]))).is_empty());
        let s = json!({"kind": "Pod", "spec": {"containers": [{"securityContext": {"windowsOptions": {"hostProcess": "true"}}}]}});
        assert!(run("KSV103", s).is_empty());
    }

    #[test]
    fn seccomp_fallbacks_differ_for_pods_and_controllers() {
        let pod = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "a", "securityContext": {"seccompProfile": null}}]}});
        assert_eq!(run("KSV104", pod).len(), 1);
        let dep = json!({"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": {
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "a", "securityContext": {"seccompProfile": null}}]}}}});
        assert!(run("KSV104", dep).is_empty());
        // Nothing set at all fails; the annotation on the template counts, the
        // controller's own does not.
        let bare = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}});
        assert_eq!(run("KSV104", bare).len(), 1);
        let annotated = |on_template: bool| {
            let ann =
                json!({"container.seccomp.security.alpha.kubernetes.io/a": "runtime/default"});
            let (own, tpl) = if on_template {
                (json!({}), ann)
            } else {
                (ann, json!({}))
            };
            json!({"kind": "Deployment", "metadata": {"name": "d", "annotations": own}, "spec": {"template": {
                "metadata": {"annotations": tpl}, "spec": {"containers": [{"name": "a"}]}}}})
        };
        assert!(run("KSV104", annotated(true)).is_empty());
        assert_eq!(run("KSV104", annotated(false)).len(), 1);
        let null_type = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "a", "securityContext": {"seccompProfile": {"type": null}}},
            {"name": "b", "securityContext": {"seccompProfile": {"type": "UNCONFINED"}}}]}});
        assert_eq!(run("KSV104", null_type).len(), 1);
    }

    #[test]
    fn unnamed_container_seccomp_is_reported() {
        let v = json!({"kind": "Pod", "spec": {"containers": [{"image": "x"}]}});
        let f = run("KSV104", v);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("Unnamed container"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn sysctl_versions() {
        assert_eq!(allowed_sysctls(None).len(), 12);
        assert_eq!(allowed_sysctls(Some("1.29")).len(), 12);
        assert_eq!(allowed_sysctls(Some("1.33.0-rc.1")).len(), 12);
        assert_eq!(allowed_sysctls(Some("1.32.2-gke.1182001")).len(), 12);
        assert_eq!(allowed_sysctls(Some("1.27.0-rc.1")).len(), 5);
        assert_eq!(allowed_sysctls(Some("1.29.0")).len(), 10);
        assert_eq!(allowed_sysctls(Some("1.28.3")).len(), 6);
    }
}
