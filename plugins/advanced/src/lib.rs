//! The Advanced checks: capabilities dropped, hostAliases, kube-system usage, service
//! account tokens, NetworkPolicy selectors, LimitRange and ResourceQuota completeness,
//! and the trusted-registry checks KSV032/KSV033 (off unless switched on in settings);
//! trivy's later registry checks: public registries (KSV034) and ECR (KSV035), both
//! deprecated upstream and off unless switched on, and trusted registries (KSV0125,
//! on, with the `trusted_registries` setting).

use tollgate_kit::value::{get, has_key, items, truthy};
use tollgate_kit::{
    catalogue, CheckInfo, Container, Finding, Map, Object, PluginMeta, Policy, Value,
};

const AZURE_DEFAULT: [&str; 1] = ["azurecr.io"];
const GCR_DEFAULT: [&str; 4] = ["gcr.io", "us.gcr.io", "eu.gcr.io", "asia.gcr.io"];
/// Amazon ECR's registry endpoints, as trivy lists them (KSV035, KSV0125).
const ECR: [&str; 24] = [
    "ecr.us-east-2.amazonaws.com",
    "ecr.us-east-1.amazonaws.com",
    "ecr.us-west-1.amazonaws.com",
    "ecr.us-west-2.amazonaws.com",
    "ecr.af-south-1.amazonaws.com",
    "ecr.ap-east-1.amazonaws.com",
    "ecr.ap-south-1.amazonaws.com",
    "ecr.ap-northeast-2.amazonaws.com",
    "ecr.ap-southeast-1.amazonaws.com",
    "ecr.ap-southeast-2.amazonaws.com",
    "ecr.ap-northeast-1.amazonaws.com",
    "ecr.ca-central-1.amazonaws.com",
    "ecr.cn-north-1.amazonaws.com.cn",
    "ecr.cn-northwest-1.amazonaws.com.cn",
    "ecr.eu-central-1.amazonaws.com",
    "ecr.eu-west-1.amazonaws.com",
    "ecr.eu-west-2.amazonaws.com",
    "ecr.eu-south-1.amazonaws.com",
    "ecr.eu-west-3.amazonaws.com",
    "ecr.eu-north-1.amazonaws.com",
    "ecr.me-south-1.amazonaws.com",
    "ecr.sa-east-1.amazonaws.com",
    "ecr.us-gov-east-1.amazonaws.com",
    "ecr.us-gov-west-1.amazonaws.com",
];
/// Public registries KSV034 refuses (plain prefixes of the image reference).
const PUBLIC: [&str; 2] = ["docker.io", "ghcr.io"];

/// KSV0125's default trusted registries: Azure, ECR and Google's.
fn default_trusted() -> Vec<String> {
    AZURE_DEFAULT
        .iter()
        .chain(ECR.iter())
        .chain(GCR_DEFAULT.iter())
        .map(|s| s.to_string())
        .collect()
}

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
    /// KSV034 and KSV035 (deprecated upstream, so off by default).
    public: bool,
    ecr: bool,
    /// KSV0125's trusted registries: the setting when given, else the defaults.
    trusted: Vec<String>,
}

impl Default for Advanced {
    fn default() -> Self {
        Advanced {
            azure: Registries::new(&AZURE_DEFAULT),
            gcr: Registries::new(&GCR_DEFAULT),
            public: false,
            ecr: false,
            trusted: default_trusted(),
        }
    }
}

tollgate_kit::export_policy!(Advanced);

const SETTINGS_HELP: &str = "{\"KSV032\": {\"enabled\": true, \"registries\": [\"azurecr.io\"]}, \
\"KSV033\": {\"enabled\": true, \"registries\": [\"gcr.io\", \"us.gcr.io\", \"eu.gcr.io\", \"asia.gcr.io\"]}}: \
switch on the trusted-registry checks (off by default) and list the registry host suffixes \
they trust; an image passes when its registry host ends with one of them. \
{\"KSV034\": {\"enabled\": true}, \"KSV035\": {\"enabled\": true}}: switch on the deprecated \
public-registry and ECR checks (off by default, as in trivy). \
{\"trusted_registries\": [\"registry.example.com\"]}: the registry host suffixes KSV0125 trusts; the \
list REPLACES the default one (azurecr.io, Amazon ECR's endpoints, gcr.io, us.gcr.io, eu.gcr.io, \
asia.gcr.io), as trivy's data.ksv0125.trusted_registries does, so list the defaults too to keep \
them; an empty list or null means the defaults.";

/// `{"enabled": true|false}` of a check that takes no other setting.
fn parse_switch(key: &str, v: &Value) -> Result<bool, String> {
    let Value::Object(m) = v else {
        return Err(format!(
            "'{key}' must be an object like {{\"enabled\": true}}, got {v}"
        ));
    };
    let mut on = false;
    for (k, v) in m {
        match (k.as_str(), v) {
            ("enabled", Value::Bool(b)) => on = *b,
            ("enabled", other) => {
                return Err(format!(
                    "'{key}.enabled' must be true or false, got {other}"
                ))
            }
            (other, _) => {
                return Err(format!(
                    "unknown setting '{key}.{other}'; expected 'enabled'"
                ))
            }
        }
    }
    Ok(on)
}

/// KSV0125's `trusted_registries`: a list of registry host suffixes (replacing the
/// defaults), or an empty list or null (the defaults).
fn parse_trusted(v: &Value) -> Result<Vec<String>, String> {
    let list = match v {
        Value::Null => return Ok(default_trusted()),
        Value::Array(list) => list,
        other => {
            return Err(format!(
                "'trusted_registries' must be a list of registry host suffixes such as [\"registry.example.com\"], got {other}"
            ))
        }
    };
    if list.is_empty() {
        return Ok(default_trusted());
    }
    list.iter()
        .map(|item| match item.as_str() {
            Some(s) if !s.trim().is_empty() && !s.contains('/') => Ok(s.trim().to_string()),
            _ => Err(format!(
                "'trusted_registries' must list registry host suffixes such as \"registry.example.com\" (no '/', not empty), got {item}"
            )),
        })
        .collect()
}

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
            KSV004, KSV007, KSV037, KSV036, KSV038, KSV039, KSV040, KSV032, KSV033,
            KSV034, KSV035, KSV0125)
    }

    fn configure(&mut self, settings: &Map<String, Value>) -> Result<(), String> {
        for (k, v) in settings {
            match k.as_str() {
                "KSV032" => parse_registries(k, v, &mut self.azure)?,
                "KSV033" => parse_registries(k, v, &mut self.gcr)?,
                "KSV034" => self.public = parse_switch(k, v)?,
                "KSV035" => self.ecr = parse_switch(k, v)?,
                "trusted_registries" => self.trusted = parse_trusted(v)?,
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
            "KSV034" => self.public,
            "KSV035" => self.ecr,
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
            "KSV034" => public_registry(o),
            "KSV035" => ecr_registry(o),
            "KSV0125" => untrusted_registry(o, &self.trusted),
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

/// KSV034: the image reference starts with a public registry's name (a plain prefix),
/// or its first '/'-separated part (the whole reference when it has no '/') has no '.'.
fn public(image: &str) -> bool {
    PUBLIC.iter().any(|p| image.starts_with(p))
        || !image.split('/').next().unwrap_or("").contains('.')
}

fn public_registry(o: &Object) -> Vec<Finding> {
    o.containers()
        .iter()
        .filter_map(|c| {
            let image = c.image().filter(|i| public(i))?;
            Some(Finding::at(
                format!(
                    "{} uses image '{image}' from a public registry; use a private registry",
                    c.describe(o)
                ),
                &c.path,
            ))
        })
        .collect()
}

/// KSV035: the image has a registry part that ends with an ECR endpoint.
fn from_ecr(image: Option<&str>) -> bool {
    image.is_some_and(|i| {
        let parts: Vec<&str> = i.split('/').collect();
        parts.len() > 1 && ECR.iter().any(|e| parts[0].ends_with(e))
    })
}

fn ecr_registry(o: &Object) -> Vec<Finding> {
    by_name(
        o,
        |c| from_ecr(c.image()),
        |c| match c.image() {
            Some(i) => format!("uses image '{i}', which is not from an Amazon ECR registry"),
            None => "has no image from an Amazon ECR registry".into(),
        },
    )
}

/// KSV0125: an image with a registry part whose host does not end with a trusted
/// suffix. Images without '/' name no registry and are not judged (trivy's rule).
fn untrusted(image: &str, trusted: &[String]) -> bool {
    match image.split_once('/') {
        Some((registry, _)) => !trusted.iter().any(|t| registry.ends_with(t.as_str())),
        None => false,
    }
}

fn untrusted_registry(o: &Object, trusted: &[String]) -> Vec<Finding> {
    o.containers()
        .iter()
        .filter_map(|c| {
            let image = c.image().filter(|i| untrusted(i, trusted))?;
            Some(Finding::at(
                format!(
                    "{} uses image '{image}' from a registry that is not trusted (trusted_registries setting)",
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

    fn run(rt: &Runtime<Advanced>, id: &str, v: tollgate_kit::Value) -> Vec<Finding> {
        let i = rt.checks.iter().position(|c| c.id == id).unwrap() as u32;
        rt.evaluate_value(&v, &[i]).remove(0).findings
    }

    fn pod(images: &[(&str, &str)]) -> tollgate_kit::Value {
        let cs: Vec<tollgate_kit::Value> = images
            .iter()
            .map(|(n, i)| json!({"name": n, "image": i}))
            .collect();
        json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": cs}})
    }

    #[test]
    fn deprecated_registry_checks_are_off_until_switched_on() {
        let mut rt = Runtime::<Advanced>::new();
        let on = rt.configure_json("{}").unwrap();
        assert!(!on.contains(&"KSV034".to_string()) && !on.contains(&"KSV035".to_string()));
        assert!(on.contains(&"KSV0125".to_string()));
        let on = rt
            .configure_json(r#"{"KSV034": {"enabled": true}, "KSV035": {"enabled": true}}"#)
            .unwrap();
        assert!(on.contains(&"KSV034".to_string()) && on.contains(&"KSV035".to_string()));
        assert!(rt
            .configure_json(r#"{"KSV034": {"registries": []}}"#)
            .unwrap_err()
            .contains("KSV034.registries"));
    }

    #[test]
    fn public_registry_rules() {
        for (image, bad) in [
            ("nginx", true),
            ("nginx:latest", true),
            ("nginx:1.25", false),
            ("library/nginx", true),
            ("localhost:5000/app", true),
            ("", true),
            ("docker.io/nginx", true),
            ("docker.io.example.com/x", true),
            ("ghcr.io/a/b", true),
            ("quay.io/a/b", false),
            ("a.b", false),
        ] {
            assert_eq!(public(image), bad, "{image}");
        }
        let rt = Runtime::<Advanced>::new();
        assert!(run(&rt, "KSV034", json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}})).is_empty());
    }

    #[test]
    fn ecr_is_judged_by_container_name() {
        let rt = Runtime::<Advanced>::new();
        assert!(from_ecr(Some("1.dkr.ecr.us-east-1.amazonaws.com/app")));
        assert!(from_ecr(Some("evilecr.us-east-1.amazonaws.com/x")));
        assert!(!from_ecr(Some("public.ecr.aws/x")));
        assert!(!from_ecr(Some("x.ecr.us-east-1.amazonaws.com.evil/x")));
        assert!(!from_ecr(Some("ecr.us-east-1.amazonaws.com")));
        let v = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "a", "image": "nginx"}, {"name": "b"}],
            "initContainers": [{"name": "a", "image": "1.dkr.ecr.eu-west-1.amazonaws.com/x"}]}});
        let f = run(&rt, "KSV035", v);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("'b'"));
    }

    #[test]
    fn trusted_registries_replace_the_defaults() {
        let mut rt = Runtime::<Advanced>::new();
        let v = pod(&[
            ("a", "gcr.io/x"),
            ("b", "quay.io/x"),
            ("c", "nginx"),
            ("d", "evilgcr.io/y"),
        ]);
        let f = run(&rt, "KSV0125", v.clone());
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("'b'"));
        rt.configure_json(r#"{"trusted_registries": ["quay.io"]}"#)
            .unwrap();
        let f = run(&rt, "KSV0125", v.clone());
        assert_eq!(f.len(), 2, "{f:?}");
        rt.configure_json(r#"{"trusted_registries": []}"#).unwrap();
        assert_eq!(run(&rt, "KSV0125", v).len(), 1);
        for bad in [r#""quay.io""#, r#"[""]"#, r#"["quay.io/team"]"#, "[1]"] {
            let err = rt
                .configure_json(&format!(r#"{{"trusted_registries": {bad}}}"#))
                .unwrap_err();
            assert!(err.contains("trusted_registries"), "{err}");
        }
    }

    #[test]
    fn unnamed_containers_are_reported() {
        let rt = Runtime::<Advanced>::new();
        let v = json!({"kind": "Pod", "spec": {"containers": [{"image": "quay.io/x"}]}});
        let f = run(&rt, "KSV0125", v);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("Unnamed container"),
            "{}",
            f[0].message
        );
    }
}
