//! Kubernetes' rules for the metadata of the objects tollgate writes for a cluster
//! (trivy-operator reports, PolicyReports, OpenReports, compliance reports), written from
//! the API conventions and `k8s.io/apimachinery/pkg/util/validation` (what the API server
//! answers 422 Invalid for): object names are DNS-1123 subdomains (at most 253
//! characters of `a-z 0-9 - .`, alphanumeric at both ends), namespaces DNS-1123 labels
//! (at most 63, no dots), label and annotation keys qualified names (an optional
//! DNS-subdomain prefix and `/`, then at most 63 characters of `A-Z a-z 0-9 - _ .`,
//! alphanumeric at both ends), label values empty or such a name part, annotations at
//! most 256 KiB together; and etcd keeps objects of at most 1.5 MiB.
//!
//! Every emitter builds its metadata through [`put_label`] and [`object_name`], and the
//! tests check every object with [`validate`].

use serde_json::{Map, Value};

pub const MAX_NAME: usize = 253;
pub const MAX_LABEL: usize = 63;
/// Keys and values of all annotations together.
pub const MAX_ANNOTATIONS_BYTES: usize = 256 << 10;
/// What etcd stores at most per object (its request limit).
pub const MAX_OBJECT_BYTES: usize = 1_572_864;
/// What tollgate lets one object grow to, leaving room for what the API server adds
/// (managedFields, a last-applied annotation).
pub const OBJECT_BUDGET_BYTES: usize = 1 << 20;

/// Why a name, key or value is not one the API server accepts, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// A DNS-1123 label: a namespace, one part of a subdomain.
pub fn dns_label(s: &str) -> Result<(), Invalid> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > MAX_LABEL {
        return Err(Invalid(format!(
            "'{s}' must be 1 to {MAX_LABEL} characters"
        )));
    }
    if !b.iter().all(|&c| alnum_lower(c) || c == b'-') {
        return Err(Invalid(format!("'{s}' may hold only a-z, 0-9 and '-'")));
    }
    if !alnum_lower(b[0]) || !alnum_lower(b[b.len() - 1]) {
        return Err(Invalid(format!("'{s}' must begin and end with a-z or 0-9")));
    }
    Ok(())
}

/// A DNS-1123 subdomain: an object's name. As apimachinery's `IsDNS1123Subdomain`: at
/// most 253 characters, dot-separated parts of `a-z 0-9 -` with an alphanumeric at both
/// ends (no 63-character bound per part, unlike a DNS label).
pub fn dns_subdomain(s: &str) -> Result<(), Invalid> {
    if s.is_empty() || s.len() > MAX_NAME {
        return Err(Invalid(format!("'{s}' must be 1 to {MAX_NAME} characters")));
    }
    for part in s.split('.') {
        let b = part.as_bytes();
        let ok = !b.is_empty()
            && b.iter().all(|&c| alnum_lower(c) || c == b'-')
            && alnum_lower(b[0])
            && alnum_lower(b[b.len() - 1]);
        if !ok {
            return Err(Invalid(format!(
                "'{s}': each dot-separated part must be a-z, 0-9 and '-', beginning and ending with a-z or 0-9"
            )));
        }
    }
    Ok(())
}

/// The name part of a qualified name, and a non-empty label value.
fn name_part(s: &str) -> Result<(), Invalid> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > MAX_LABEL {
        return Err(Invalid(format!(
            "'{s}' must be 1 to {MAX_LABEL} characters"
        )));
    }
    let ok = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.';
    if !b.iter().all(|&c| ok(c)) {
        return Err(Invalid(format!(
            "'{s}' may hold only A-Z, a-z, 0-9, '-', '_' and '.'"
        )));
    }
    if !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return Err(Invalid(format!(
            "'{s}' must begin and end with a letter or a digit"
        )));
    }
    Ok(())
}

/// A label or annotation key: `[prefix/]name`.
pub fn qualified_name(key: &str) -> Result<(), Invalid> {
    match key.split_once('/') {
        Some((prefix, name)) => {
            dns_subdomain(prefix).map_err(|e| Invalid(format!("the prefix of '{key}': {e}")))?;
            name_part(name)
        }
        None => name_part(key),
    }
}

/// A label value: empty, or at most 63 characters of `A-Z a-z 0-9 - _ .` with an
/// alphanumeric at both ends.
pub fn label_value(v: &str) -> Result<(), Invalid> {
    if v.is_empty() {
        Ok(())
    } else {
        name_part(v)
    }
}

/// A stable short hash of a text (FNV-1a, 64 bits, hex): the same everywhere for the
/// same name, so a report keeps its name and label from run to run.
pub fn hash(s: &str) -> String {
    let h = s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    format!("{h:016x}")
}

/// trivy-operator's `ComputeHash` of a string, so that a name it hashes is hashed
/// alike here (report names, `*-hash` labels): FNV-1a (32 bits) of what Go's spew
/// prints for a string, `(string)` then the text, in decimal, each digit mapped through
/// `SafeEncodeString`'s alphabet (`pkg/kube/resources.go`).
pub fn trivy_hash(s: &str) -> String {
    const ALPHABET: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";
    let h = b"(string)"
        .iter()
        .chain(s.as_bytes())
        .fold(0x811c9dc5u32, |h, b| {
            (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
        });
    h.to_string()
        .bytes()
        .map(|d| ALPHABET[usize::from(d) % 27] as char)
        .collect()
}

/// An object name from `plain` when it is a valid DNS subdomain, else `prefix-<hash>`.
pub fn object_name(prefix: &str, plain: &str) -> String {
    if dns_subdomain(plain).is_ok() {
        plain.to_string()
    } else {
        let prefix: String = prefix
            .to_ascii_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(40)
            .collect();
        format!(
            "{}-{}",
            if prefix.is_empty() { "x" } else { &prefix },
            hash(plain)
        )
    }
}

/// The longest annotation value kept: a value longer than any valid Kubernetes name
/// comes from a manifest no cluster would accept; it is cut, saying so.
const MAX_ANNOTATION_VALUE: usize = 1024;

/// Sets label `key` to `value`. A value that cannot be a label value (a ClusterRole
/// named `system:controller:...`, a name over 63 characters) goes in annotation `key`
/// instead, with label `key-hash` = [`trivy_hash`] of it, as trivy-operator does with
/// `trivy-operator.resource.name-hash`: selecting on the label still works for every
/// name that fits in one.
pub fn put_label(
    labels: &mut Map<String, Value>,
    annotations: &mut Map<String, Value>,
    key: &str,
    value: &str,
) {
    if label_value(value).is_ok() {
        labels.insert(key.to_string(), Value::String(value.to_string()));
        return;
    }
    labels.insert(format!("{key}-hash"), Value::String(trivy_hash(value)));
    let kept: String = if value.len() > MAX_ANNOTATION_VALUE {
        let mut cut: String = value.chars().take(MAX_ANNOTATION_VALUE).collect();
        cut.push('…');
        cut
    } else {
        value.to_string()
    };
    annotations.insert(key.to_string(), Value::String(kept));
}

/// Text for a one-line YAML comment: control characters (a newline in a hostile name)
/// become spaces.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Everything wrong with an object's metadata and size, by Kubernetes' rules; empty
/// when the API server would take it.
pub fn validate(obj: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let meta = &obj["metadata"];
    match meta["name"].as_str() {
        Some(n) => {
            if let Err(e) = dns_subdomain(n) {
                errors.push(format!("metadata.name: {e}"));
            }
        }
        None => errors.push("metadata.name: missing".into()),
    }
    if let Some(ns) = meta.get("namespace") {
        match ns.as_str() {
            Some(ns) => {
                if let Err(e) = dns_label(ns) {
                    errors.push(format!("metadata.namespace: {e}"));
                }
            }
            None => errors.push("metadata.namespace: not a string".into()),
        }
    }
    if let Some(labels) = meta.get("labels") {
        for (k, v) in labels.as_object().into_iter().flatten() {
            if let Err(e) = qualified_name(k) {
                errors.push(format!("metadata.labels: key {e}"));
            }
            match v.as_str() {
                Some(v) => {
                    if let Err(e) = label_value(v) {
                        errors.push(format!("metadata.labels.{k}: {e}"));
                    }
                }
                None => errors.push(format!("metadata.labels.{k}: not a string")),
            }
        }
    }
    if let Some(annotations) = meta.get("annotations") {
        let mut total = 0;
        for (k, v) in annotations.as_object().into_iter().flatten() {
            // apimachinery checks annotation keys lowercased.
            if let Err(e) = qualified_name(&k.to_ascii_lowercase()) {
                errors.push(format!("metadata.annotations: key {e}"));
            }
            match v.as_str() {
                Some(v) => total += k.len() + v.len(),
                None => errors.push(format!("metadata.annotations.{k}: not a string")),
            }
        }
        if total > MAX_ANNOTATIONS_BYTES {
            errors.push(format!(
                "metadata.annotations: {total} bytes, over the {MAX_ANNOTATIONS_BYTES} allowed"
            ));
        }
    }
    let size = serde_json::to_vec(obj).map_or(0, |v| v.len());
    if size > MAX_OBJECT_BYTES {
        errors.push(format!(
            "the object is {size} bytes, over etcd's {MAX_OBJECT_BYTES}"
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dns_1123() {
        for ok in [
            "a",
            "web",
            "web-1",
            "a.b.c",
            "0abc",
            &"a".repeat(63),
            &format!("{}.{}", "a".repeat(63), "b".repeat(63)),
        ] {
            assert!(dns_subdomain(ok).is_ok(), "{ok}");
        }
        let long = vec!["a".repeat(63); 4].join(".");
        assert_eq!(long.len(), 255);
        for bad in [
            "",
            "Web",
            "web_1",
            "-web",
            "web-",
            "a..b",
            ".a",
            "a.",
            "system:kube-dns",
            &"a".repeat(254),
            &long,
        ] {
            assert!(dns_subdomain(bad).is_err(), "{bad}");
        }
        // No 63-character bound per part, as apimachinery's IsDNS1123Subdomain.
        assert!(dns_subdomain(&"a".repeat(64)).is_ok());
        let max: String = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61),
        ]
        .join(".");
        assert_eq!(max.len(), 253);
        assert!(dns_subdomain(&max).is_ok());
        assert!(dns_label("kube-system").is_ok());
        assert!(dns_label("a.b").is_err(), "a namespace has no dots");
    }

    #[test]
    fn label_values_and_keys() {
        for ok in ["", "a", "A", "Web_1.2-x", &"z".repeat(63)] {
            assert!(label_value(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "-a",
            "a-",
            "_a",
            "a.",
            "system:kube-dns",
            "a b",
            "é",
            &"z".repeat(64),
        ] {
            assert!(label_value(bad).is_err(), "{bad:?}");
        }
        for ok in [
            "app",
            "app.kubernetes.io/name",
            "trivy-operator.resource.name",
            "a/B_c",
        ] {
            assert!(qualified_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/a",
            "a/",
            "A.io/x",
            "a/b/c",
            &format!("x/{}", "a".repeat(64)),
            "tollgate.dev/",
        ] {
            assert!(qualified_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_that_cannot_be_labels_go_to_annotations_with_a_hash_label() {
        let (mut labels, mut annotations) = (Map::new(), Map::new());
        put_label(
            &mut labels,
            &mut annotations,
            "trivy-operator.resource.name",
            "web",
        );
        put_label(
            &mut labels,
            &mut annotations,
            "trivy-operator.resource.kind",
            "Deployment",
        );
        let long = "system:controller:attachdetach-controller";
        put_label(&mut labels, &mut annotations, "x.io/name", long);
        assert_eq!(labels["trivy-operator.resource.name"], "web");
        assert_eq!(labels["x.io/name-hash"], trivy_hash(long));
        assert_eq!(annotations["x.io/name"], long);
        assert!(!labels.contains_key("x.io/name"));
        let obj = serde_json::json!({"metadata": {"name": object_name("clusterrole", long), "labels": labels, "annotations": annotations}});
        assert!(validate(&obj).is_empty(), "{:?}", validate(&obj));
        assert_eq!(hash(long), hash(long), "stable");
        assert_ne!(hash(long), hash("system:controller:other"));
    }

    #[test]
    fn validate_names_each_problem() {
        let obj = serde_json::json!({"metadata": {"name": "Bad_Name", "namespace": "a.b",
            "labels": {"k": "system:x"}, "annotations": {"big": "x".repeat(300 << 10)}}});
        let errors = validate(&obj);
        assert_eq!(errors.len(), 4, "{errors:?}");
        let huge = serde_json::json!({"metadata": {"name": "a"}, "data": "x".repeat(2 << 20)});
        assert!(validate(&huge)[0].contains("over etcd's"));
    }
}
