//! The General checks trivy added after trivy-operator's twelve: deprecated APIs
//! (KSV107), Services with external IPs or names (KSV0108), the default namespace
//! (KSV110), privileged ports (KSV117), the default security context (KSV118), NET_RAW
//! and SYS_MODULE (KSV119, KSV120), disallowed host paths (KSV121) and open-ended
//! Gatekeeper repository prefixes (KSV0124).
//!
//! Rules follow trivy-checks (see each check's `policies/general/<ID>/check.json`).

use std::cmp::Ordering;
use std::collections::BTreeSet;

use tollgate_kit::value::{elements, go_lower, has_key, rego_cmp_number};
use tollgate_kit::{Container, Finding, Node, Object};

use crate::apis_table::{reference, TABLE};

// ---- KSV107 ----------------------------------------------------------------------

/// A version as OPA's `semver` builtins read it (the go-semver parser OPA vendors):
/// `[v]MAJOR.MINOR.PATCH[-PRE][+META]`, each number a decimal that fits an int64
/// (leading zeros allowed), PRE and META dot-separated `[0-9A-Za-z-]+` identifiers
/// (an empty one after `-` or `+` is allowed). Returns (major, minor, patch, has-pre).
pub fn opa_semver(v: &str) -> Option<(i64, i64, i64, bool)> {
    let v = v.strip_prefix('v').unwrap_or(v);
    let (rest, meta) = match v.split_once('+') {
        Some((r, m)) => (r, m),
        None => (v, ""),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, p),
        None => (rest, ""),
    };
    let ident_ok = |id: &str| {
        id.is_empty()
            || id.split('.').all(|part| {
                !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    if !ident_ok(pre) || !ident_ok(meta) {
        return None;
    }
    let mut parts = core.splitn(3, '.');
    let mut num = || -> Option<i64> {
        let s = parts.next()?;
        // Go's strconv.ParseInt: optional sign, decimal digits, int64 range. A '+' or
        // '-' never gets here (they start META and PRE), so digits only.
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (major, minor, patch) = (num()?, num()?, num()?);
    Some((major, minor, patch, !pre.is_empty()))
}

/// Whether a cluster at `version` (the plugin's `k8s_version`) has deprecated an API
/// deprecated in `since`. Without a version (a plain manifest scan: trivy's `data.k8s`
/// undefined) every deprecated API counts; with an invalid one none does.
pub fn deprecated_at(version: Option<&str>, since: (u64, u64)) -> bool {
    let Some(version) = version else { return true };
    let Some((major, minor, patch, pre)) = opa_semver(version) else {
        return false;
    };
    let dep = (since.0 as i64, since.1 as i64, 0);
    match (major, minor, patch).cmp(&dep) {
        Ordering::Greater => true,
        // SemVer: a pre-release sorts below its release.
        Ordering::Equal => !pre,
        Ordering::Less => false,
    }
}

pub fn deprecated_api(o: &Object, version: Option<&str>) -> Vec<Finding> {
    let (Some(api_version), Some(kind)) = (
        o.value.get("apiVersion").and_then(|v| v.as_str()),
        o.value.get("kind").and_then(|v| v.as_str()),
    ) else {
        return vec![];
    };
    let Some(api) = TABLE
        .iter()
        .find(|a| a.api_version == api_version && a.kind == kind)
    else {
        return vec![];
    };
    let Some(replacement) = api.replacement else {
        return vec![];
    };
    if !deprecated_at(version, api.deprecated_in) {
        return vec![];
    }
    let at = match version {
        Some(v) => format!(" (the cluster runs {v})"),
        None => String::new(),
    };
    vec![Finding::at(
        format!(
            "{} uses {api_version} {kind}, deprecated since v{}.{} and removed in {}{at}; use {replacement} instead (see {})",
            o.describe(),
            api.deprecated_in.0,
            api.deprecated_in.1,
            api.removed_in,
            reference(api)
        ),
        "apiVersion",
    )]
}

// ---- KSV0108 ---------------------------------------------------------------------

pub fn external_ip(o: &Object) -> Vec<Finding> {
    if o.kind() != "Service" {
        return vec![];
    }
    let spec = o.spec();
    let ips: Vec<String> = elements(spec.and_then(|s| s.get("externalIPs")))
        .map(|v| v.as_str().map_or_else(|| v.to_json(), str::to_string))
        .collect();
    let mut what = Vec::new();
    if !ips.is_empty() {
        what.push(format!("external IPs ({})", ips.join(", ")));
    }
    // The key alone counts, whatever its value (trivy: no external name is allowed).
    if has_key(spec, "externalName") {
        what.push("spec.externalName".to_string());
    }
    if what.is_empty() {
        return vec![];
    }
    vec![Finding::at(
        format!(
            "{} sets {}: it takes or sends traffic for addresses outside the cluster's control",
            o.describe(),
            what.join(" and ")
        ),
        if ips.is_empty() {
            "spec.externalName"
        } else {
            "spec.externalIPs"
        },
    )]
}

// ---- KSV110 ----------------------------------------------------------------------

const DEFAULT_NS_KINDS: [&str; 8] = [
    "pod",
    "replicaset",
    "replicationcontroller",
    "deployment",
    "statefulset",
    "daemonset",
    "cronjob",
    "job",
];

pub fn default_namespace(o: &Object) -> Vec<Finding> {
    if !DEFAULT_NS_KINDS.contains(&go_lower(o.kind()).as_str()) {
        return vec![];
    }
    // The namespace trivy reads: metadata.namespace when the key is there (whatever its
    // value: null or "" is not "default"), else "default".
    let ns = o.metadata().and_then(|m| m.get("namespace"));
    let default = match ns {
        None => true,
        Some(v) => v.as_str() == Some("default"),
    };
    if !default {
        return vec![];
    }
    let why = if ns.is_none() {
        "sets no metadata.namespace, so it lands in the default namespace"
    } else {
        "is in the default namespace"
    };
    vec![Finding::at(
        format!(
            "{} {why}; set metadata.namespace to a dedicated namespace",
            o.describe()
        ),
        if ns.is_some() {
            "metadata.namespace"
        } else {
            "metadata"
        },
    )]
}

// ---- KSV117 ----------------------------------------------------------------------

pub fn privileged_port(o: &Object) -> Vec<Finding> {
    for c in o.containers() {
        for (i, p) in elements(c.get("ports")).enumerate() {
            let Some(port) = p.get("containerPort") else {
                continue;
            };
            // Rego's order across types: null, booleans and numbers below 1024 count.
            if rego_cmp_number(port, 1024.0) == Ordering::Less {
                return vec![Finding::at(
                    format!(
                        "{} listens on container port {} (below 1024, which needs privileges to bind)",
                        c.describe(o),
                        port.to_json()
                    ),
                    &format!("{}.ports[{i}].containerPort", c.path),
                )];
            }
        }
    }
    vec![]
}

// ---- KSV118 ----------------------------------------------------------------------

/// An empty securityContext as trivy's Rego sees it: `{}`, or only trivy's own
/// source-location key. A non-object (null, a string) is not empty.
fn empty_context(v: Node) -> bool {
    v.is_object() && v.keys().all(|k| k == "__defsec_metadata")
}

pub fn default_security_context(o: &Object) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in o.pod_specs() {
        let sc = p.spec.get("securityContext").unwrap_or(Node::EMPTY_OBJECT);
        if empty_context(sc) {
            out.push(Finding::at(
                format!(
                    "{} sets no pod securityContext: its pods run with the default one, which allows root",
                    o.describe()
                ),
                &p.spec_path("securityContext"),
            ));
        }
    }
    // trivy's container findings name only the object, so they read as one.
    if let Some(c) = o
        .containers()
        .iter()
        .find(|c| empty_context(c.security_context()))
    {
        out.push(Finding::at(
            format!(
                "{} has no securityContext, not even one inherited from the pod: it runs with the defaults",
                c.describe(o)
            ),
            &c.path,
        ));
    }
    out
}

// ---- KSV119, KSV120 --------------------------------------------------------------

fn adds_capability(c: &Container, cap: &str) -> bool {
    let add = c.sc("capabilities").and_then(|caps| caps.get("add"));
    elements(add).any(|x| x.as_str() == Some(cap))
}

/// One finding per distinct container name (trivy keys NET_RAW findings by name).
pub fn net_raw(o: &Object) -> Vec<Finding> {
    let mut seen: Vec<&str> = Vec::new();
    o.containers()
        .iter()
        .filter(|c| adds_capability(c, "NET_RAW"))
        .filter(|c| match c.name {
            Some(n) if seen.contains(&n) => false,
            Some(n) => {
                seen.push(n);
                true
            }
            None => true,
        })
        .map(|c| {
            Finding::at(
                format!(
                    "{} adds NET_RAW in securityContext.capabilities.add",
                    c.describe(o)
                ),
                &c.path,
            )
        })
        .collect()
}

pub fn sys_module(o: &Object) -> Vec<Finding> {
    o.containers()
        .iter()
        .filter(|c| adds_capability(c, "SYS_MODULE"))
        .map(|c| {
            Finding::at(
                format!(
                    "{} adds SYS_MODULE in securityContext.capabilities.add: it can load kernel modules",
                    c.describe(o)
                ),
                &c.path,
            )
        })
        .collect()
}

// ---- KSV121 ----------------------------------------------------------------------

const DISALLOWED_HOST_PATHS: [&str; 9] = [
    "/",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/proc",
    "/sys",
    "/usr",
    "/var/lib/docker",
];

pub fn disallowed_volumes(o: &Object) -> Vec<Finding> {
    let mut paths: BTreeSet<&str> = BTreeSet::new();
    for p in o.pod_specs() {
        for v in elements(p.spec.get("volumes")) {
            let path = v
                .get("hostPath")
                .and_then(|h| h.get("path"))
                .and_then(|p| p.as_str());
            if let Some(path) = path.filter(|p| DISALLOWED_HOST_PATHS.contains(p)) {
                paths.insert(path);
            }
        }
    }
    if paths.is_empty() {
        return vec![];
    }
    let list: Vec<String> = paths.iter().map(|p| format!("'{p}'")).collect();
    vec![Finding::at(
        format!(
            "{} mounts host paths {} through hostPath volumes",
            o.describe(),
            list.join(", ")
        ),
        "spec",
    )]
}

// ---- KSV0124 ---------------------------------------------------------------------

/// Whether a K8sAllowedRepos prefix admits more than one registry or repository: no
/// '/' and no ':' (a non-string entry counts too, as in trivy), or Docker Hub itself
/// or one of its namespaces (`docker.io`, `docker.io/library`).
fn open_ended(repo: Node) -> bool {
    let Some(r) = repo.as_str() else { return true };
    if !r.contains('/') && !r.contains(':') {
        return true;
    }
    let parts: Vec<&str> = r.split('/').collect();
    parts[0] == "docker.io" && parts.len() <= 2
}

pub fn ambiguous_repo_prefix(o: &Object) -> Vec<Finding> {
    if o.api_version() != "constraints.gatekeeper.sh/v1beta1" || o.kind() != "K8sAllowedRepos" {
        return vec![];
    }
    let params = o.spec().and_then(|s| s.get("parameters"));
    let bad: Vec<String> = elements(params.and_then(|p| p.get("repos")))
        .filter(|r| open_ended(*r))
        .map(|r| r.as_str().map_or_else(|| r.to_json(), |s| format!("'{s}'")))
        .collect();
    if bad.is_empty() {
        return vec![];
    }
    vec![Finding::at(
        format!(
            "{} allows repository prefixes that match more than intended: {} (end each with '/' or ':')",
            o.describe(),
            bad.join(", ")
        ),
        "spec.parameters.repos",
    )]
}
