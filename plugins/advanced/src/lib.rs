//! The Advanced checks: capabilities dropped, hostAliases, kube-system usage, service
//! account tokens, NetworkPolicy selectors, LimitRange and ResourceQuota completeness,
//! and the trusted-registry checks KSV032/KSV033 (off unless switched on in settings).

use tollgate_kit::value::{get, has_key, items, truthy};
use tollgate_kit::{
    catalogue, CheckInfo, Container, Finding, Map, Object, PluginMeta, Policy, Value,
};

const AZURE_DEFAULT: [&str; 1] = ["azurecr.io"];
const GCR_DEFAULT: [&str; 4] = ["gcr.io", "us.gcr.io", "eu.gcr.io", "asia.gcr.io"];

/// Settings of one trusted-registry check.
#[derive(Debug, Clone)]
struct Registries {
    enabled: bool,
    suffixes: Vec<String>,
}

impl Registries {
    fn new(defaults: &[&str]) -> Self {
        Registries {
            enabled: false,
            suffixes: defaults.iter().map(|s| s.to_string()).collect(),
        }
    }
}

pub struct Advanced {
    azure: Registries,
    gcr: Registries,
}

impl Default for Advanced {
    fn default() -> Self {
        Advanced {
            azure: Registries::new(&AZURE_DEFAULT),
            gcr: Registries::new(&GCR_DEFAULT),
        }
    }
}

tollgate_kit::export_policy!(Advanced);

const SETTINGS_HELP: &str = "{\"KSV032\": {\"enabled\": true, \"registries\": [\"azurecr.io\"]}, \
\"KSV033\": {\"enabled\": true, \"registries\": [\"gcr.io\", \"us.gcr.io\", \"eu.gcr.io\", \"asia.gcr.io\"]}}: \
switch on the trusted-registry checks (off by default) and list the registry host suffixes \
they trust; an image passes when its registry host ends with one of them.";

fn parse_registries(key: &str, v: &Value, target: &mut Registries) -> Result<(), String> {
    let Value::Object(m) = v else {
        return Err(format!("'{key}' must be an object like {{\"enabled\": true, \"registries\": [\"...\"]}}, got {v}"));
    };
    for (k, v) in m {
        match (k.as_str(), v) {
            ("enabled", Value::Bool(b)) => target.enabled = *b,
            ("enabled", other) => {
                return Err(format!(
                    "'{key}.enabled' must be true or false, got {other}"
                ))
            }
            ("registries", Value::Array(list)) => {
                let mut out = Vec::new();
                for item in list {
                    match item.as_str().map(str::trim) {
                        Some(s) if !s.is_empty() && !s.contains('/') => out.push(s.to_string()),
                        _ => {
                            return Err(format!(
                                "'{key}.registries' must list registry host suffixes such as \"azurecr.io\", got {item}"
                            ))
                        }
                    }
                }
                if out.is_empty() {
                    return Err(format!("'{key}.registries' is empty: every image would fail; list at least one registry"));
                }
                target.suffixes = out;
            }
            ("registries", other) => {
                return Err(format!(
                    "'{key}.registries' must be a list of strings, got {other}"
                ))
            }
            (other, _) => {
                return Err(format!(
                    "unknown setting '{key}.{other}'; expected 'enabled' or 'registries'"
                ))
            }
        }
    }
    Ok(())
}

impl Policy for Advanced {
    fn meta() -> PluginMeta {
        PluginMeta::new(
            "advanced",
            env!("CARGO_PKG_VERSION"),
            "trivy-operator's Advanced checks: capabilities, namespaces, tokens, network policies, quotas, registries",
        )
        .settings_help(SETTINGS_HELP)
    }

    fn checks() -> Vec<CheckInfo> {
        catalogue!("../../../policies/advanced";
            KSV004, KSV007, KSV037, KSV036, KSV038, KSV039, KSV040, KSV032, KSV033)
    }

    fn configure(&mut self, settings: &Map<String, Value>) -> Result<(), String> {
        for (k, v) in settings {
            match k.as_str() {
                "KSV032" => parse_registries(k, v, &mut self.azure)?,
                "KSV033" => parse_registries(k, v, &mut self.gcr)?,
                other => {
                    return Err(format!(
                        "unknown setting '{other}'; this plugin accepts: {SETTINGS_HELP}"
                    ))
                }
            }
        }
        Ok(())
    }

    fn enabled(&self, info: &CheckInfo) -> bool {
        match info.id.as_str() {
            "KSV032" => self.azure.enabled,
            "KSV033" => self.gcr.enabled,
            _ => info.default_enabled,
        }
    }

    fn evaluate(&self, id: &str, o: &Object) -> Vec<Finding> {
        match id {
            "KSV004" => drop_any(o),
            "KSV007" => host_aliases(o),
            "KSV037" => kube_system(o),
            "KSV036" => sa_token(o),
            "KSV038" => netpol_selector(o),
            "KSV039" => limit_range(o),
            "KSV040" => resource_quota(o),
            "KSV032" => registry(o, &self.azure, "a trusted Azure registry"),
            "KSV033" => registry(o, &self.gcr, "a trusted Google registry"),
            _ => vec![],
        }
    }
}

/// Per-container findings where trivy matches by container name: a container passes
/// when any container of the same name passes.
fn by_name(
    o: &Object,
    ok: impl Fn(&Container) -> bool,
    why: impl Fn(&Container) -> String,
) -> Vec<Finding> {
    o.failing_by_name(ok)
        .into_iter()
        .map(|c| Finding::at(c.describe(o) + " " + &why(c), &c.path))
        .collect()
}

fn drop_any(o: &Object) -> Vec<Finding> {
    by_name(
        o,
        |c| has_key(c.own_sc("capabilities"), "drop"),
        |_| "does not drop any capability (securityContext.capabilities.drop)".into(),
    )
}

fn host_aliases(o: &Object) -> Vec<Finding> {
    o.pod_specs()
        .iter()
        .filter(|p| has_key(Some(p.spec), "hostAliases"))
        .map(|p| {
            Finding::at(
                format!("{} manages /etc/hosts through hostAliases", o.describe()),
                &p.spec_path("hostAliases"),
            )
        })
        .collect()
}

fn kube_system(o: &Object) -> Vec<Finding> {
    if o.namespace_or_default() != "kube-system" || o.spec().is_none() {
        return vec![];
    }
    let core = o.label("tier") == Some("control-plane")
        && o.spec()
            .and_then(|s| s.get("priorityClassName"))
            .and_then(|v| v.as_str())
            == Some("system-node-critical")
        && matches!(
            o.label("component"),
            Some("kube-apiserver" | "etcd" | "kube-controller-manager" | "kube-scheduler")
        );
    if core {
        return vec![];
    }
    vec![Finding::at(
        format!(
            "{} is a user resource in the kube-system namespace",
            o.describe()
        ),
        "metadata.namespace",
    )]
}

const SA_MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

fn sa_token(o: &Object) -> Vec<Finding> {
    let Some(spec) = o.spec() else { return vec![] };
    match spec.get("automountServiceAccountToken") {
        Some(v) if v.as_bool() == Some(true) => vec![Finding::at(
            format!(
                "{} mounts the service account token (spec.automountServiceAccountToken: true)",
                o.describe()
            ),
            "spec.automountServiceAccountToken",
        )],
        Some(_) => vec![],
        None => {
            let mounted = o.containers().iter().find(|c| {
                items(c.get("volumeMounts"))
                    .any(|m| m.get("mountPath").and_then(|v| v.as_str()) == Some(SA_MOUNT))
            });
            match mounted {
                Some(c) => vec![Finding::at(
                    format!(
                        "{} mounts the service account token at {SA_MOUNT} and spec.automountServiceAccountToken is not set",
                        c.describe(o)
                    ),
                    &c.path,
                )],
                None => vec![],
            }
        }
    }
}

fn netpol_selector(o: &Object) -> Vec<Finding> {
    if !o.kind().eq_ignore_ascii_case("networkpolicy") {
        return vec![];
    }
    // Like trivy, a NetworkPolicy without any spec is not judged (the API would reject it).
    let Some(spec) = o.spec() else { return vec![] };
    let field = |k: &str| spec.get(k);
    let peers = |dir: &str, side: &str, sel: &str| {
        items(field(dir)).any(|rule| items(rule.get(side)).any(|peer| truthy(peer.get(sel))))
    };
    let ok = truthy(field("podSelector"))
        || truthy(field("namespaceSelector"))
        || peers("ingress", "from", "namespaceSelector")
        || peers("ingress", "from", "podSelector")
        || peers("egress", "to", "podSelector")
        || peers("egress", "to", "namespaceSelector");
    if ok {
        return vec![];
    }
    vec![Finding::at(
        format!("{} selects no pods: set spec.podSelector (an empty {{}} selects all) or a namespaceSelector", o.describe()),
        "spec",
    )]
}

fn limit_range(o: &Object) -> Vec<Finding> {
    let Some(spec) = o.spec() else { return vec![] };
    let complete = items(spec.get("limits")).any(|l| {
        ["type", "max", "min", "default", "defaultRequest"]
            .iter()
            .all(|k| truthy(l.get(k)))
    });
    if complete {
        return vec![];
    }
    vec![Finding::at(
        format!(
            "{} has no limit that sets all of type, max, min, default and defaultRequest",
            o.describe()
        ),
        "spec.limits",
    )]
}

fn resource_quota(o: &Object) -> Vec<Finding> {
    let Some(spec) = o.spec() else { return vec![] };
    let hard = spec.get("hard");
    let missing: Vec<&str> = [
        "requests.cpu",
        "requests.memory",
        "limits.cpu",
        "limits.memory",
    ]
    .into_iter()
    .filter(|k| !truthy(hard.and_then(|h| h.get(k))))
    .collect();
    if missing.is_empty() {
        return vec![];
    }
    vec![Finding::at(
        format!(
            "{} does not set {} in spec.hard",
            o.describe(),
            missing.join(", ")
        ),
        if get(spec, &["hard"]).is_some() {
            "spec.hard"
        } else {
            "spec"
        },
    )]
}

fn trusted(image: Option<&str>, suffixes: &[String]) -> bool {
    let Some(image) = image else { return false };
    let parts: Vec<&str> = image.split('/').collect();
    parts.len() > 1 && suffixes.iter().any(|s| parts[0].ends_with(s.as_str()))
}

fn registry(o: &Object, r: &Registries, what: &str) -> Vec<Finding> {
    by_name(
        o,
        |c| trusted(c.image(), &r.suffixes),
        |c| match c.image() {
            Some(i) => format!(
                "uses image '{i}', which is not from {what} ({})",
                r.suffixes.join(", ")
            ),
            None => format!("has no image from {what}"),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_kit::{json, Runtime};

    #[test]
    fn registry_checks_are_off_by_default_and_configurable() {
        let mut rt = Runtime::<Advanced>::new();
        let on = rt.configure_json("{}").unwrap();
        assert!(!on.contains(&"KSV032".to_string()));
        let on = rt
            .configure_json(r#"{"KSV032": {"enabled": true, "registries": ["corp.example"]}}"#)
            .unwrap();
        assert!(on.contains(&"KSV032".to_string()));
        let i = rt.checks.iter().position(|c| c.id == "KSV032").unwrap() as u32;
        let pod = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "a", "image": "registry.corp.example/app:1"}, {"name": "b", "image": "nginx:1"}]}});
        let f = &rt.evaluate_value(&pod, &[i])[0].findings;
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("'b'"));
        let err = rt
            .configure_json(r#"{"KSV032": {"enabled": "yes"}}"#)
            .unwrap_err();
        assert!(err.contains("KSV032.enabled"), "{err}");
        assert!(rt
            .configure_json(r#"{"KSV099": {}}"#)
            .unwrap_err()
            .contains("unknown setting 'KSV099'"));
    }

    #[test]
    fn trusted_suffix_is_a_plain_suffix_test() {
        let s = vec!["azurecr.io".to_string()];
        assert!(trusted(Some("x.azurecr.io/a"), &s));
        assert!(!trusted(Some("x.azurecr.io.evil.com/a"), &s));
        assert!(!trusted(Some("nginx"), &s));
        assert!(!trusted(None, &s));
    }
}
