//! The General checks: resource requests and limits, capabilities, read-only root
//! filesystem, user and group ids, Tiller, image tags, the Docker socket.
//!
//! Rules follow trivy-checks (see each check's `policies/general/<ID>/check.json`).

use tollgate_kit::value::{has_key, is_true, rego_greater_than, strings};
use tollgate_kit::{catalogue, CheckInfo, Container, Finding, Object, PluginMeta, Policy};

#[derive(Default)]
pub struct General;

tollgate_kit::export_policy!(General);

impl Policy for General {
    fn meta() -> PluginMeta {
        PluginMeta::new(
            "general",
            env!("CARGO_PKG_VERSION"),
            "trivy-operator's General checks: limits, requests, capabilities, user ids, image tags",
        )
    }

    fn checks() -> Vec<CheckInfo> {
        catalogue!("../../../policies/general";
            KSV011, KSV015, KSV005, KSV003, KSV014, KSV018, KSV016, KSV006, KSV021, KSV020, KSV102, KSV013)
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
        assert_eq!(rt.checks.len(), 12);
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
}
