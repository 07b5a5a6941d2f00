//! The General checks: resource requests and limits, capabilities, read-only root
//! filesystem, user and group ids, Tiller, image tags, the Docker socket.
//!
//! Also trivy's later General checks: deprecated APIs, external Services, the default
//! namespace, privileged ports, default security contexts, NET_RAW, SYS_MODULE,
//! disallowed host paths, Gatekeeper repository prefixes, and ConfigMaps holding secrets
//! or sensitive data (modules `more` and `configmaps`).
//!
//! Rules follow trivy-checks (see each check's `policies/general/<ID>/check.json`).

mod apis_table;
mod configmaps;
mod more;

use tollgate_kit::value::{has_key, is_true, rego_greater_than, strings};
use tollgate_kit::{
    catalogue, CheckInfo, Container, Finding, Map, Object, PluginMeta, Policy, Value,
};

#[derive(Default)]
pub struct General {
    /// The target cluster's Kubernetes version (KSV107); None = a plain manifest scan,
    /// where every deprecated API counts.
    k8s_version: Option<String>,
}

const SETTINGS_HELP: &str = "{\"k8s_version\": \"1.29.0\"}: the Kubernetes version of the target \
cluster, which decides which deprecated APIs KSV107 reports: only those deprecated in that version \
or earlier (a semantic version, a leading 'v' allowed; one that is not a valid version reports none). \
Without it (the default, as a plain trivy config scan) every deprecated API is reported.";

tollgate_kit::export_policy!(General);

impl Policy for General {
    fn meta() -> PluginMeta {
        PluginMeta::new(
            "general",
            env!("CARGO_PKG_VERSION"),
            "trivy's General checks: limits, requests, capabilities, user ids, image tags, deprecated APIs, namespaces, ports, volumes, ConfigMap secrets",
        )
        .settings_help(SETTINGS_HELP)
    }

    fn configure(&mut self, settings: &Map<String, Value>) -> Result<(), String> {
        self.k8s_version = tollgate_kit::value::only_k8s_version(settings, SETTINGS_HELP)?;
        Ok(())
    }

    fn checks() -> Vec<CheckInfo> {
        catalogue!("../../../policies/general";
            KSV011, KSV015, KSV005, KSV003, KSV014, KSV018, KSV016, KSV006, KSV021, KSV020, KSV102, KSV013,
            KSV107, KSV0108, KSV0109, KSV110, KSV117, KSV118, KSV119, KSV120, KSV121, KSV0124, KSV01010)
    }

    fn evaluate(&self, id: &str, o: &Object) -> Vec<Finding> {
        match id {
            "KSV011" => resource_key(o, "limits", "cpu"),
            "KSV015" => resource_key(o, "requests", "cpu"),
            "KSV018" => resource_key(o, "limits", "memory"),
            "KSV016" => resource_key(o, "requests", "memory"),
            "KSV005" => sys_admin(o),
            "KSV003" => drop_all(o),
            "KSV014" => read_only_root(o),
            "KSV006" => docker_sock(o),
            "KSV021" => high_id(o, "runAsGroup", "group"),
            "KSV020" => high_id(o, "runAsUser", "user"),
            "KSV102" => tiller(o),
            "KSV013" => latest_tag(o),
            "KSV107" => more::deprecated_api(o, self.k8s_version.as_deref()),
            "KSV0108" => more::external_ip(o),
            "KSV0109" => configmaps::secrets(o),
            "KSV110" => more::default_namespace(o),
            "KSV117" => more::privileged_port(o),
            "KSV118" => more::default_security_context(o),
            "KSV119" => more::net_raw(o),
            "KSV120" => more::sys_module(o),
            "KSV121" => more::disallowed_volumes(o),
            "KSV0124" => more::ambiguous_repo_prefix(o),
            "KSV01010" => configmaps::sensitive(o),
            _ => vec![],
        }
    }
}

fn per_container(o: &Object, bad: impl Fn(&Container) -> Option<String>) -> Vec<Finding> {
    o.containers()
        .iter()
        .filter_map(|c| bad(c).map(|why| Finding::at(c.describe(o) + " " + &why, &c.path)))
        .collect()
}

fn resource_key(o: &Object, section: &str, key: &str) -> Vec<Finding> {
    per_container(o, |c| {
        let s = c.get("resources").and_then(|r| r.get(section));
        (!has_key(s, key)).then(|| format!("should set resources.{section}.{key}"))
    })
}

fn sys_admin(o: &Object) -> Vec<Finding> {
    per_container(o, |c| {
        let add = c.own_sc("capabilities").and_then(|caps| caps.get("add"));
        strings(add)
            .any(|x| x == "SYS_ADMIN")
            .then(|| "adds the SYS_ADMIN capability in securityContext.capabilities.add".into())
    })
}

fn drops_all(c: &Container) -> bool {
    let drop = c.own_sc("capabilities").and_then(|caps| caps.get("drop"));
    strings(drop).any(|x| x.eq_ignore_ascii_case("all"))
}

fn drop_all(o: &Object) -> Vec<Finding> {
    o.failing_by_name(drops_all)
        .into_iter()
        .map(|c| {
            Finding::at(
                format!(
                    "{} should add 'ALL' to securityContext.capabilities.drop",
                    c.describe(o)
                ),
                &c.path,
            )
        })
        .collect()
}

fn read_only_root(o: &Object) -> Vec<Finding> {
    per_container(o, |c| {
        (!is_true(c.own_sc("readOnlyRootFilesystem")))
            .then(|| "should set securityContext.readOnlyRootFilesystem to true".into())
    })
}

fn docker_sock(o: &Object) -> Vec<Finding> {
    for pod in o.pod_specs() {
        for (i, v) in tollgate_kit::value::items(pod.spec.get("volumes")).enumerate() {
            let path = v
                .get("hostPath")
                .and_then(|h| h.get("path"))
                .and_then(|p| p.as_str());
            if path == Some("/var/run/docker.sock") {
                let name = v.get("name").and_then(|n| n.as_str()).unwrap_or("?");
                return vec![Finding::at(
                    format!(
                        "{} mounts the Docker socket /var/run/docker.sock from the host (volume '{name}')",
                        o.describe()
                    ),
                    &format!("{}[{i}]", pod.spec_path("volumes")),
                )];
            }
        }
    }
    vec![]
}

fn high_id(o: &Object, field: &str, what: &str) -> Vec<Finding> {
    per_container(o, |c| match c.sc(field) {
        None => Some(format!(
            "should set securityContext.{field} to a {what} id above 10000"
        )),
        Some(v) if !rego_greater_than(v, 10000.0) => Some(format!(
            "runs with {what} id {v} (securityContext.{field}); use an id above 10000"
        )),
        Some(_) => None,
    })
}

fn looks_like_tiller(meta: Option<tollgate_kit::Node>) -> bool {
    let Some(m) = meta else { return false };
    let name = m.get("name").and_then(|n| n.as_str()).unwrap_or("");
    let labels = m.get("labels");
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(|v| v.as_str());
    name.contains("tiller") || label("app") == Some("helm") || label("name") == Some("tiller")
}

fn tiller(o: &Object) -> Vec<Finding> {
    let object_is_tiller = looks_like_tiller(o.metadata());
    let mut out = per_container(o, |c| {
        if object_is_tiller {
            Some("belongs to a Tiller deployment (Helm v2)".into())
        } else if c.image().is_some_and(|i| i.contains("tiller")) {
            Some(format!(
                "runs the Tiller image '{}' (Helm v2)",
                c.image().unwrap_or("")
            ))
        } else {
            None
        }
    });
    for pod in o.pod_specs() {
        if looks_like_tiller(pod.metadata) {
            if let Some(name) = pod
                .metadata
                .and_then(|m| m.get("name"))
                .and_then(|n| n.as_str())
            {
                out.push(Finding::at(
                    format!(
                        "Pod '{name}' of {} looks like Tiller (Helm v2)",
                        o.describe()
                    ),
                    pod.path,
                ));
            }
        }
    }
    out
}

fn latest_tag(o: &Object) -> Vec<Finding> {
    per_container(o, |c| {
        let image = c.image().unwrap_or("");
        if image.contains('@') {
            return None;
        }
        let last = image.rsplit('/').next().unwrap_or("");
        let parts: Vec<&str> = last.split(':').collect();
        if parts.len() >= 2 && parts[parts.len() - 1] != "latest" {
            return None;
        }
        Some(if image.is_empty() {
            "has no image; set an image with a specific tag".into()
        } else if parts.len() >= 2 {
            format!("uses the ':latest' tag in image '{image}'; pin a specific tag or digest")
        } else {
            format!("uses image '{image}' without a tag (implies ':latest'); pin a specific tag or digest")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_kit::{json, Runtime};

    fn run(id: &str, v: tollgate_kit::Value) -> Vec<Finding> {
        let rt = Runtime::<General>::new();
        let i = rt.checks.iter().position(|c| c.id == id).unwrap() as u32;
        rt.evaluate_value(&v, &[i]).remove(0).findings
    }

    #[test]
    fn catalogue_is_complete() {
        let rt = Runtime::<General>::new();
        assert_eq!(rt.checks.len(), 23);
        for c in &rt.checks {
            let v = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}});
            // Every declared check is dispatched (an unknown id would silently pass).
            let _ = run(&c.id, v);
            assert!(!c.remediation.is_empty(), "{} has no remediation", c.id);
        }
    }

    #[test]
    fn latest_tag_rules() {
        let pod = |img: &str| json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": img}]}});
        assert_eq!(run("KSV013", pod("nginx")).len(), 1);
        assert_eq!(run("KSV013", pod("127.0.0.1:5000/busybox")).len(), 1);
        assert_eq!(run("KSV013", pod("nginx:latest")).len(), 1);
        assert!(run("KSV013", pod("nginx:1.25")).is_empty());
        assert!(run("KSV013", pod("nginx:latest@sha256:abc")).is_empty());
        assert!(run("KSV013", pod("nginx:LATEST")).is_empty());
    }

    #[test]
    fn tiller_pod_named_tiller_gives_two_findings() {
        let v = json!({"kind": "Pod", "metadata": {"name": "my-tiller"}, "spec": {"containers": [{"name": "a", "image": "x"}]}});
        assert_eq!(run("KSV102", v).len(), 2);
    }

    #[test]
    fn uid_from_pod_level_and_override() {
        let v = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"securityContext": {"runAsUser": 20000},
            "containers": [{"name": "a"}, {"name": "b", "securityContext": {"runAsUser": 0}}]}});
        let f = run("KSV020", v);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("'b'"), "{}", f[0].message);
    }
}

#[cfg(test)]
mod deviation_tests {
    use super::*;
    use tollgate_kit::{json, Runtime};

    fn run(id: &str, v: tollgate_kit::Value) -> Vec<Finding> {
        let rt = Runtime::<General>::new();
        let i = rt.checks.iter().position(|c| c.id == id).unwrap() as u32;
        rt.evaluate_value(&v, &[i]).remove(0).findings
    }

    #[test]
    fn unnamed_container_still_fails() {
        let v = json!({"kind": "Pod", "spec": {"containers": [{"image": "nginx:1"}]}});
        let f = run("KSV011", v);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("Unnamed container") && f[0].message.contains("(unnamed)"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn null_security_context_is_empty() {
        let v = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "securityContext": null}]}});
        assert_eq!(run("KSV014", v).len(), 1);
    }

    #[test]
    fn new_checks_report_unnamed_objects() {
        let cm = json!({"kind": "ConfigMap", "data": {"password": "x"}});
        let f = run("KSV0109", cm);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("(unnamed)"), "{}", f[0].message);
        let svc = json!({"kind": "Service", "spec": {"externalName": "x.example.com"}});
        assert_eq!(run("KSV0108", svc).len(), 1);
        let pod = json!({"kind": "Pod", "spec": {"containers": [{"securityContext": {"capabilities": {"add": ["NET_RAW"]}}}]}});
        assert_eq!(run("KSV119", pod).len(), 1);
    }

    #[test]
    fn conflicting_secret_line_fails() {
        // trivy: an OPA conflict error (two keys from one line), no verdict.
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"url": "db: x?password=y"}});
        let f = run("KSV0109", cm);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("'db'") && f[0].message.contains("'db: x?password'"),
            "{}",
            f[0].message
        );
    }
}

#[cfg(test)]
mod quirk_tests {
    use super::*;
    use tollgate_kit::{json, Runtime, Value};

    fn run_with(settings: &str, id: &str, v: Value) -> Vec<Finding> {
        let mut rt = Runtime::<General>::new();
        rt.configure_json(settings).unwrap();
        rt.findings(id, &v)
    }

    fn run(id: &str, v: Value) -> Vec<Finding> {
        run_with("{}", id, v)
    }

    fn obj(api: &str, kind: &str) -> Value {
        json!({"apiVersion": api, "kind": kind, "metadata": {"name": "x"}})
    }

    #[test]
    fn deprecated_apis_as_trivy_keys_them() {
        assert_eq!(run("KSV107", obj("batch/v1beta1", "CronJob")).len(), 1);
        assert_eq!(run("KSV107", obj("apps/v1beta1", "Ingress")).len(), 1);
        assert_eq!(
            run("KSV107", obj("autoscaling/v1beta1", "Deployment")).len(),
            1
        );
        // No such keys in trivy's table, and entries without a replacement never fire.
        assert!(run("KSV107", obj("extensions/v1beta1", "Deployment")).is_empty());
        assert!(run("KSV107", obj("apps/v1beta2", "Deployment")).is_empty());
        assert!(run("KSV107", obj("policy/v1beta1", "Eviction")).is_empty());
        assert!(run("KSV107", obj("batch/v1", "CronJob")).is_empty());
        // Unnamed objects fail too (no name in trivy's message).
        assert_eq!(
            run(
                "KSV107",
                json!({"apiVersion": "batch/v1beta1", "kind": "CronJob"})
            )
            .len(),
            1
        );
    }

    #[test]
    fn deprecated_apis_against_a_cluster_version() {
        let cron = obj("batch/v1beta1", "CronJob"); // deprecated in v1.21
        for (version, fails) in [
            ("1.21.0", true),
            ("v1.21.0", true),
            ("1.29.3", true),
            ("1.21.0+k3s1", true),
            ("1.21.0-gke.1", false),
            ("1.20.9", false),
            ("1.29", false),
            ("vv1.29.0", false),
            ("", false),
            ("01.021.0", true),
            ("1.21.0-", true),
            ("1.21.0-a_b", false),
        ] {
            let settings = json!({"k8s_version": version}).to_string();
            assert_eq!(
                !run_with(&settings, "KSV107", cron.clone()).is_empty(),
                fails,
                "{version}"
            );
        }
        let mut rt = Runtime::<General>::new();
        assert!(rt
            .configure_json(r#"{"k8s_version": 1.29}"#)
            .unwrap_err()
            .contains("k8s_version"));
        assert!(rt
            .configure_json(r#"{"k8s": "1.29.0"}"#)
            .unwrap_err()
            .contains("unknown setting 'k8s'"));
    }

    #[test]
    fn external_name_key_alone_fails() {
        let svc = |spec: Value| json!({"kind": "Service", "metadata": {"name": "s"}, "spec": spec});
        assert_eq!(run("KSV0108", svc(json!({"externalName": null}))).len(), 1);
        assert_eq!(
            run("KSV0108", svc(json!({"externalIPs": {"a": "1.2.3.4"}}))).len(),
            1
        );
        assert!(run("KSV0108", svc(json!({"externalIPs": []}))).is_empty());
        assert!(run("KSV0108", svc(json!({"externalIPs": "1.2.3.4"}))).is_empty());
        assert!(run(
            "KSV0108",
            json!({"kind": "service", "metadata": {"name": "s"}, "spec": {"externalName": "x"}})
        )
        .is_empty());
    }

    #[test]
    fn default_namespace_rules() {
        let w = |kind: &str, meta: Value| json!({"kind": kind, "metadata": meta});
        assert_eq!(
            run("KSV110", w("Deployment", json!({"name": "d"}))).len(),
            1
        );
        assert_eq!(
            run(
                "KSV110",
                w("pod", json!({"name": "d", "namespace": "default"}))
            )
            .len(),
            1
        );
        // Rego's lower() is Go's: U+0130 lowers to a plain i.
        assert_eq!(
            run("KSV110", w("REPL\u{130}CASET", json!({"name": "d"}))).len(),
            1
        );
        assert_eq!(run("KSV110", w("Job", json!({"name": "d"}))).len(), 1);
        assert!(run("KSV110", w("DeploymentConfig", json!({"name": "d"}))).is_empty());
        assert!(run("KSV110", w("Pod", json!({"name": "d", "namespace": null}))).is_empty());
        assert!(run(
            "KSV110",
            w("Pod", json!({"name": "d", "namespace": "Default"}))
        )
        .is_empty());
    }

    #[test]
    fn privileged_ports_in_rego_order() {
        let pod = |port: Value| json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"initContainers": [{"name": "a", "ports": [{"containerPort": port}]}]}});
        for (port, fails) in [
            (json!(80), true),
            (json!(0), true),
            (json!(null), true),
            (json!(true), true),
            (json!(1024), false),
            (json!("80"), false),
        ] {
            assert_eq!(
                !run("KSV117", pod(port.clone())).is_empty(),
                fails,
                "{port}"
            );
        }
    }

    #[test]
    fn default_security_context_rules() {
        let pod = |sc: Option<Value>, c: Value| {
            let mut spec = json!({"containers": [c]});
            if let Some(sc) = sc {
                spec["securityContext"] = sc;
            }
            json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
        };
        // A pod context with an inherited key satisfies both parts.
        assert!(run(
            "KSV118",
            pod(Some(json!({"runAsNonRoot": true})), json!({"name": "a"}))
        )
        .is_empty());
        // fsGroup is not inherited: the container's context stays empty.
        assert_eq!(
            run(
                "KSV118",
                pod(Some(json!({"fsGroup": 1})), json!({"name": "a"}))
            )
            .len(),
            1
        );
        // Both empty: the pod and the container.
        assert_eq!(run("KSV118", pod(None, json!({"name": "a"}))).len(), 2);
        // A null pod context is not empty (trivy); the container still is.
        assert_eq!(
            run("KSV118", pod(Some(Value::Null), json!({"name": "a"}))).len(),
            1
        );
        let only_meta = json!({"__defsec_metadata": {}});
        assert_eq!(
            run(
                "KSV118",
                pod(
                    Some(only_meta),
                    json!({"name": "a", "securityContext": {"privileged": false}})
                )
            )
            .len(),
            1
        );
    }

    #[test]
    fn capabilities_by_exact_name() {
        let pod = |add: Value| {
            json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "a", "securityContext": {"capabilities": {"add": add.clone()}}},
            {"name": "a", "image": "other", "securityContext": {"capabilities": {"add": add}}}]}})
        };
        // NET_RAW findings are keyed by container name; SYS_MODULE by container.
        assert_eq!(run("KSV119", pod(json!(["NET_RAW"]))).len(), 1);
        assert_eq!(run("KSV120", pod(json!(["SYS_MODULE"]))).len(), 2);
        assert!(run("KSV119", pod(json!(["net_raw", "CAP_NET_RAW", "ALL"]))).is_empty());
        assert!(run("KSV120", pod(json!("SYS_MODULE"))).is_empty());
    }

    #[test]
    fn disallowed_host_paths_are_exact() {
        let pod = |path: &str| json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"volumes": [{"name": "v", "hostPath": {"path": path}}]}});
        assert_eq!(run("KSV121", pod("/etc")).len(), 1);
        assert_eq!(run("KSV121", pod("/")).len(), 1);
        for ok in ["/etc/", "/etc/ssl", "//", "/var/run/docker.sock"] {
            assert!(run("KSV121", pod(ok)).is_empty(), "{ok}");
        }
    }

    #[test]
    fn open_ended_repository_prefixes() {
        let c = |repos: Value| {
            json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sAllowedRepos",
            "spec": {"parameters": {"repos": repos}}})
        };
        for bad in [
            json!(["ubuntu"]),
            json!([""]),
            json!([1]),
            json!(["docker.io"]),
            json!(["docker.io/library"]),
            json!({"a": "docker.io/x"}),
        ] {
            assert_eq!(run("KSV0124", c(bad.clone())).len(), 1, "{bad}");
        }
        for good in [
            json!(["gcr.io/"]),
            json!(["myimage:"]),
            json!(["docker.io/library/"]),
            json!(["DOCKER.IO/x"]),
            json!("ubuntu"),
        ] {
            assert!(run("KSV0124", c(good.clone())).is_empty(), "{good}");
        }
        let mut v1 = c(json!(["ubuntu"]));
        v1["apiVersion"] = json!("constraints.gatekeeper.sh/v1");
        assert!(run("KSV0124", v1).is_empty());
    }

    #[test]
    fn configmap_secrets_quirks() {
        let cm =
            |data: Value| json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": data});
        for (data, fails) in [
            (json!({"bypass": "x"}), true),
            (json!({"TOKEN_TTL": "60"}), true),
            (json!({"token": 5}), true),
            (json!({"config": "password: ${X}"}), true),
            (json!({"config": "password:${X}"}), false),
            (json!({"config": "password: "}), true),
            (json!({"config": "password:"}), false),
            (json!({"config": "user: bob"}), false),
        ] {
            assert_eq!(
                !run("KSV0109", cm(data.clone())).is_empty(),
                fails,
                "{data}"
            );
        }
        assert!(run(
            "KSV0109",
            json!({"kind": "configmap", "metadata": {"name": "c"}, "data": {"password": "x"}})
        )
        .is_empty());
        assert!(run("KSV0109", json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "binaryData": {"password": "eA=="}})).is_empty());
    }

    #[test]
    fn configmap_sensitive_quirks() {
        let cm =
            |data: Value| json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": data});
        for (data, fails) in [
            (json!({"LOG_LEVEL": "INFO"}), true),
            (json!({"PORT": "8080"}), true),
            (json!({"LOG_LEVEL": "info"}), false),
            (json!({"PORT": "80"}), false),
            (json!({"monkey": "x"}), true),
            (json!({"monkey": 1}), false),
            (json!({"a": "x\nINFO"}), false),
            (json!({"a": "INFO\nx"}), true),
            (json!({"a": "x\nfoo:INFO"}), true),
            (json!({"a": "sha1sum"}), false),
            (json!({"a": "algo: SHA1"}), true),
            (json!({"a": "contact: ops@example.com"}), true),
        ] {
            assert_eq!(
                !run("KSV01010", cm(data.clone())).is_empty(),
                fails,
                "{data}"
            );
        }
    }
}
