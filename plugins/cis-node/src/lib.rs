//! The CIS Kubernetes node checks of trivy (KCV0048-KCV0092): file modes and owners on
//! control-plane and worker nodes, and the kubelet's settings, judged on the NodeInfo
//! objects node-collector (or `tollgate node collect`) writes.
//!
//! Every check has the same shape: gate on `kind == "NodeInfo"` and the node type, read
//! `info.<key>.values`, and fail when some value offends (or, for a few kubelet
//! settings, when there are no values). Values keep the collector's JSON types and are
//! compared as Rego compares them (`tollgate_kit::value::rego_cmp`), quirks included: a
//! string mode such as `"600"` is above every number. Rules and deviations are in each
//! check's `policies/cis-node/<ID>/check.json`.

use std::cmp::Ordering;

use tollgate_kit::node_info::{NodeInfo, Values};
use tollgate_kit::value::{is_str, rego_cmp_number};
use tollgate_kit::{catalogue, CheckInfo, Finding, Node, Object, PluginMeta, Policy};

#[derive(Default)]
pub struct CisNode;

tollgate_kit::export_policy!(CisNode);

/// What makes one value offend.
#[derive(Debug, Clone, Copy)]
enum Test {
    /// Above the limit in Rego's order: a mode, read as the decimal number the collector
    /// made of its octal digits (so 644 > 600), and any string.
    Above(f64),
    /// Anything but exactly this string (an owner such as "root:root", a kubelet "true").
    Not(&'static str),
    /// Exactly this string.
    Is(&'static str),
    /// Anything but the number 0 ("0" included).
    NotZero,
    /// The number 0 (0 or 0.0; strings never).
    Zero,
    /// Below 0 in Rego's order: negative numbers, and null and booleans.
    Negative,
    /// Any value at all: the check fails when `values` has any length.
    Set,
    /// Not a string ending with this suffix.
    NoSuffix(&'static str),
    /// None of these strings.
    NotOneOf(&'static [&'static str]),
}

impl Test {
    fn offends(self, v: Node) -> bool {
        match self {
            Test::Above(limit) => rego_cmp_number(v, limit) == Ordering::Greater,
            Test::Not(s) => !is_str(v, s),
            Test::Is(s) => is_str(v, s),
            Test::NotZero => rego_cmp_number(v, 0.0) != Ordering::Equal,
            Test::Zero => rego_cmp_number(v, 0.0) == Ordering::Equal,
            Test::Negative => rego_cmp_number(v, 0.0) == Ordering::Less,
            Test::Set => false,
            Test::NoSuffix(s) => !v.as_str().is_some_and(|x| x.ends_with(s)),
            Test::NotOneOf(allowed) => !v.as_str().is_some_and(|x| allowed.contains(&x)),
        }
    }

    /// What is wrong with the offending values, after "KEY is VALUES, ".
    fn complaint(self) -> String {
        match self {
            Test::Above(limit) => format!("more permissive than {limit}"),
            Test::Not(s) => format!("expected \"{s}\""),
            Test::Is("") => "an empty path".into(),
            Test::Is(_) => "which is not allowed".into(),
            Test::NotZero => "expected 0".into(),
            Test::Zero => "which is not allowed".into(),
            Test::Negative => "below 0".into(),
            Test::Set => "expected it not to be set".into(),
            Test::NoSuffix(s) => format!("expected a {s} file"),
            Test::NotOneOf(_) => "not among the strong cipher suites".into(),
        }
    }
}

const MASTER: &[&str] = &["master"];
const ANY: &[&str] = &["master", "worker"];

const STRONG_CIPHERS: [&str; 8] = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
];

/// One NodeInfo check: which info key, on which node types, judged how.
#[derive(Debug)]
struct Check {
    id: &'static str,
    key: &'static str,
    types: &'static [&'static str],
    test: Test,
    /// Fail when `values` has length 0 (`[]`, `{}`, `""`); a missing key still passes.
    fail_on_empty: bool,
}

#[rustfmt::skip]
const CHECKS: [Check; 45] = [
    Check { id: "KCV0048", key: "kubeAPIServerSpecFilePermission", types: MASTER, test: Test::Above(600.0), fail_on_empty: false },
    Check { id: "KCV0049", key: "kubeAPIServerSpecFileOwnership", types: MASTER, test: Test::Not("root:root"), fail_on_empty: false },
    Check { id: "KCV0050", key: "kubeControllerManagerSpecFilePermission", types: MASTER, test: Test::Above(600.0), fail_on_empty: false },
    Check { id: "KCV0051", key: "kubeControllerManagerSpecFileOwnership", types: MASTER, test: Test::Not("root:root"), fail_on_empty: false },
    Check { id: "KCV0052", key: "kubeSchedulerSpecFilePermission", types: MASTER, test: Test::Above(600.0), fail_on_empty: false },
    Check { id: "KCV0053", key: "kubeSchedulerSpecFileOwnership", types: MASTER, test: Test::Not("root:root"), fail_on_empty: false },
    Check { id: "KCV0054", key: "kubeEtcdSpecFilePermission", types: MASTER, test: Test::Above(600.0), fail_on_empty: false },
    Check { id: "KCV0055", key: "kubeEtcdSpecFileOwnership", types: MASTER, test: Test::Not("root:root"), fail_on_empty: false },
    Check { id: "KCV0056", key: "containerNetworkInterfaceFilePermissions", types: MASTER, test: Test::Above(600.0), fail_on_empty: false },
    Check { id: "KCV0057", key: "containerNetworkInterfaceFileOwnership", types: MASTER, test: Test::Not("root:root"), fail_on_empty: false },
    Check { id: "KCV0058", key: "etcdDataDirectoryPermissions", types: MASTER, test: Test::Above(700.0), fail_on_empty: false },
    Check { id: "KCV0059", key: "etcdDataDirectoryOwnership", types: MASTER, test: Test::Not("etcd:etcd"), fail_on_empty: false },
    Check { id: "KCV0060", key: "adminConfFilePermissions", types: MASTER, test: Test::Above(600.0), fail_on_empty: false },
    Check { id: "KCV0061", key: "adminConfFileOwnership", types: MASTER, test: Test::Not("root:root"), fail_on_empty: false },
    Check { id: "KCV0062", key: "schedulerConfFilePermissions", types: MASTER, test: Test::Above(600.0), fail_on_empty: false },
    Check { id: "KCV0063", key: "schedulerConfFileOwnership", types: MASTER, test: Test::Not("root:root"), fail_on_empty: false },
    Check { id: "KCV0064", key: "controllerManagerConfFilePermissions", types: MASTER, test: Test::Above(600.0), fail_on_empty: false },
    Check { id: "KCV0065", key: "controllerManagerConfFileOwnership", types: MASTER, test: Test::Not("root:root"), fail_on_empty: false },
    Check { id: "KCV0066", key: "kubePKIDirectoryFileOwnership", types: MASTER, test: Test::Not("root:root"), fail_on_empty: false },
    Check { id: "KCV0067", key: "kubePKIKeyFilePermissions", types: MASTER, test: Test::Above(600.0), fail_on_empty: false },
    Check { id: "KCV0068", key: "kubernetesPKICertificateFilePermissions", types: MASTER, test: Test::Above(600.0), fail_on_empty: false },
    Check { id: "KCV0069", key: "kubeletServiceFilePermissions", types: ANY, test: Test::Above(600.0), fail_on_empty: false },
    Check { id: "KCV0070", key: "kubeletServiceFileOwnership", types: ANY, test: Test::Not("root:root"), fail_on_empty: false },
    Check { id: "KCV0071", key: "kubeconfigFileExistsPermissions", types: ANY, test: Test::Above(600.0), fail_on_empty: false },
    Check { id: "KCV0072", key: "kubeconfigFileExistsOwnership", types: ANY, test: Test::Not("root:root"), fail_on_empty: false },
    Check { id: "KCV0073", key: "kubeletConfFilePermissions", types: ANY, test: Test::Above(600.0), fail_on_empty: false },
    Check { id: "KCV0074", key: "kubeletConfFileOwnership", types: ANY, test: Test::Not("root:root"), fail_on_empty: false },
    Check { id: "KCV0075", key: "certificateAuthoritiesFilePermissions", types: ANY, test: Test::Above(600.0), fail_on_empty: false },
    Check { id: "KCV0076", key: "certificateAuthoritiesFileOwnership", types: ANY, test: Test::Not("root:root"), fail_on_empty: false },
    Check { id: "KCV0077", key: "kubeletConfigYamlConfigurationFilePermission", types: ANY, test: Test::Above(600.0), fail_on_empty: false },
    Check { id: "KCV0078", key: "kubeletConfigYamlConfigurationFileOwnership", types: ANY, test: Test::Not("root:root"), fail_on_empty: false },
    Check { id: "KCV0079", key: "kubeletAnonymousAuthArgumentSet", types: ANY, test: Test::Is("true"), fail_on_empty: false },
    Check { id: "KCV0080", key: "kubeletAuthorizationModeArgumentSet", types: ANY, test: Test::Is("AlwaysAllow"), fail_on_empty: true },
    Check { id: "KCV0081", key: "kubeletClientCaFileArgumentSet", types: ANY, test: Test::Is(""), fail_on_empty: true },
    Check { id: "KCV0082", key: "kubeletReadOnlyPortArgumentSet", types: ANY, test: Test::NotZero, fail_on_empty: false },
    Check { id: "KCV0083", key: "kubeletProtectKernelDefaultsArgumentSet", types: ANY, test: Test::Not("true"), fail_on_empty: true },
    Check { id: "KCV0084", key: "kubeletMakeIptablesUtilChainsArgumentSet", types: ANY, test: Test::Not("true"), fail_on_empty: false },
    Check { id: "KCV0085", key: "kubeletStreamingConnectionIdleTimeoutArgumentSet", types: ANY, test: Test::Zero, fail_on_empty: false },
    Check { id: "KCV0086", key: "kubeletHostnameOverrideArgumentSet", types: ANY, test: Test::Set, fail_on_empty: false },
    Check { id: "KCV0087", key: "kubeletEventQpsArgumentSet", types: ANY, test: Test::Negative, fail_on_empty: false },
    Check { id: "KCV0088", key: "kubeletTlsCertFileTlsArgumentSet", types: ANY, test: Test::NoSuffix(".crt"), fail_on_empty: true },
    Check { id: "KCV0089", key: "kubeletTlsPrivateKeyFileArgumentSet", types: ANY, test: Test::NoSuffix(".key"), fail_on_empty: true },
    Check { id: "KCV0090", key: "kubeletRotateCertificatesArgumentSet", types: ANY, test: Test::Is("false"), fail_on_empty: true },
    Check { id: "KCV0091", key: "kubeletRotateKubeletServerCertificateArgumentSet", types: ANY, test: Test::Is("false"), fail_on_empty: true },
    Check { id: "KCV0092", key: "kubeletOnlyUseStrongCryptographic", types: ANY, test: Test::NotOneOf(&STRONG_CIPHERS), fail_on_empty: true },
];

impl Policy for CisNode {
    fn meta() -> PluginMeta {
        PluginMeta::new(
            "cis-node",
            env!("CARGO_PKG_VERSION"),
            "trivy's CIS Kubernetes node checks (KCV0048-KCV0092) on NodeInfo objects: file modes and owners, kubelet settings",
        )
    }

    fn checks() -> Vec<CheckInfo> {
        catalogue!("../../../policies/cis-node";
            KCV0048, KCV0049, KCV0050, KCV0051, KCV0052, KCV0053, KCV0054, KCV0055, KCV0056,
            KCV0057, KCV0058, KCV0059, KCV0060, KCV0061, KCV0062, KCV0063, KCV0064, KCV0065,
            KCV0066, KCV0067, KCV0068, KCV0069, KCV0070, KCV0071, KCV0072, KCV0073, KCV0074,
            KCV0075, KCV0076, KCV0077, KCV0078, KCV0079, KCV0080, KCV0081, KCV0082, KCV0083,
            KCV0084, KCV0085, KCV0086, KCV0087, KCV0088, KCV0089, KCV0090, KCV0091, KCV0092)
    }

    fn evaluate(&self, id: &str, o: &Object) -> Vec<Finding> {
        match CHECKS.iter().find(|c| c.id == id) {
            Some(check) => evaluate(check, o).into_iter().collect(),
            None => vec![],
        }
    }
}

/// At most one finding per object, naming the key and the offending values.
fn evaluate(check: &Check, o: &Object) -> Option<Finding> {
    let node = NodeInfo::from(o)?;
    if !node.is_type(check.types) {
        return None;
    }
    let values = node.values(check.key)?;
    let problem = problem(check, values)?;
    let message = format!(
        "{} ({} node): {}",
        o.describe(),
        node.node_type().unwrap_or_default(),
        problem
    );
    Some(Finding::at(message, &format!("info.{}.values", check.key)))
}

/// What is wrong with one key's values, if anything.
fn problem(check: &Check, values: Values) -> Option<String> {
    let key = check.key;
    if let Test::Set = check.test {
        return values
            .count()
            .is_some_and(|n| n > 0)
            .then(|| format!("{key} is {}, {}", values.node(), check.test.complaint()));
    }
    if check.fail_on_empty && values.is_empty() {
        return Some(format!(
            "{key} has no values (the setting is not set, or could not be read)"
        ));
    }
    // A set of offending values: each distinct value once. With two or more, trivy's
    // rule for KCV0058/0059/0063/0092 ends in an OPA conflict error and reports
    // nothing; they are reported here like any other failure (deviation
    // `conflicting-values`).
    let bad = values.offending(|v| check.test.offends(v));
    if bad.is_empty() {
        return None;
    }
    Some(format!(
        "{key} is {}, {}",
        list(&bad),
        check.test.complaint()
    ))
}

/// The values as JSON, at most five of them.
fn list(values: &[Node]) -> String {
    const SHOWN: usize = 5;
    let mut s = values
        .iter()
        .take(SHOWN)
        .map(|v| v.to_json())
        .collect::<Vec<_>>()
        .join(", ");
    if values.len() > SHOWN {
        s.push_str(&format!(" and {} more", values.len() - SHOWN));
    }
    s
}

#[cfg(test)]
mod tests;
