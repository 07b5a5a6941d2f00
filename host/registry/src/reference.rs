//! `oci://REGISTRY/REPOSITORY[:TAG][@sha256:HEX]`: a plugin stored in an OCI registry.

use oci_client::Reference;

/// The prefix that makes a plugin argument a registry reference instead of a file.
pub const SCHEME: &str = "oci://";

/// A parsed registry reference. Equality and hashing go by the text as written, which
/// is also how a lock file and error messages name it.
#[derive(Debug, Clone)]
pub struct OciRef {
    text: String,
    inner: Reference,
}

/// Why a reference could not be parsed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{text}: not a plugin reference: {reason} (expected oci://registry.example.com/repository:tag or ...@sha256:<digest>)")]
pub struct RefError {
    pub text: String,
    pub reason: String,
}

impl OciRef {
    /// Parses `oci://...`. The registry must be named: `oci://policies/labels` would
    /// silently mean Docker Hub, which is never what a policy author meant.
    pub fn parse(text: &str) -> Result<OciRef, RefError> {
        let err = |reason: &str| RefError {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| err("it does not start with oci://"))?;
        let (host, path) = rest
            .split_once('/')
            .ok_or_else(|| err("it names no repository"))?;
        if !(host.contains('.') || host.contains(':') || host == "localhost") || path.is_empty() {
            return Err(err(
                "the first part must be a registry host (with a dot or a port)",
            ));
        }
        // Parsed here rather than by oci-spec's reference regex, which takes ~100 ms to
        // compile: more than a whole scan of a small file.
        let (name, digest) = match path.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (path, None),
        };
        let (repository, tag) = match name.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, Some(t)),
            _ => (name, None),
        };
        if !repository.split('/').all(is_path_component) {
            return Err(err(
                "the repository must be lower-case letters and digits, separated by /, ., _ or -",
            ));
        }
        if let Some(t) = tag {
            let ok = t.len() <= 128
                && t.bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return Err(err(
                    "the tag must be up to 128 letters, digits, '.', '_' or '-'",
                ));
            }
        }
        if let Some(d) = digest {
            if !is_sha256_digest(d) {
                return Err(err("the digest must be sha256:<64 hex digits>"));
            }
        }
        let (host, repository) = (host.to_string(), repository.to_string());
        let inner = match (tag, digest) {
            (Some(t), Some(d)) => {
                Reference::with_tag_and_digest(host, repository, t.to_string(), d.to_string())
            }
            (None, Some(d)) => Reference::with_digest(host, repository, d.to_string()),
            (t, None) => Reference::with_tag(host, repository, t.unwrap_or("latest").to_string()),
        };
        Ok(OciRef {
            text: text.to_string(),
            inner,
        })
    }

    /// The registry host, with its port.
    pub fn registry(&self) -> &str {
        self.inner.registry()
    }

    pub fn repository(&self) -> &str {
        self.inner.repository()
    }

    /// `registry/repository`: what trust rules match and signatures name.
    pub fn repo_path(&self) -> String {
        format!("{}/{}", self.registry(), self.repository())
    }

    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }

    /// The digest written in the reference, if any.
    pub fn digest(&self) -> Option<&str> {
        self.inner.digest()
    }

    /// The same repository at a digest.
    pub fn at_digest(&self, digest: &str) -> Reference {
        Reference::with_digest(
            self.registry().to_string(),
            self.repository().to_string(),
            digest.to_string(),
        )
    }

    /// The same repository at a tag.
    pub fn at_tag(&self, tag: &str) -> Reference {
        Reference::with_tag(
            self.registry().to_string(),
            self.repository().to_string(),
            tag.to_string(),
        )
    }

    /// The reference as oci-client takes it (a tag reference defaults to `latest`).
    pub fn oci(&self) -> &Reference {
        &self.inner
    }

    /// `oci://registry/repository@digest`.
    pub fn pinned_text(&self, digest: &str) -> String {
        format!("{SCHEME}{}@{digest}", self.repo_path())
    }
}

impl std::str::FromStr for OciRef {
    type Err = RefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OciRef::parse(s)
    }
}

impl PartialEq for OciRef {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}
impl Eq for OciRef {}

impl std::hash::Hash for OciRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state)
    }
}

impl std::fmt::Display for OciRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// `[a-z0-9]+` runs joined by single `.`, `_`, `__` or `-` runs, as the distribution
/// spec's repository names.
fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    !b.is_empty()
        && alnum(b[0])
        && alnum(b[b.len() - 1])
        && b.iter().all(|&x| alnum(x) || b"._-".contains(&x))
}

/// `sha256:` followed by 64 lower-case hex digits.
pub fn is_sha256_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(bytes);
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in hash {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_and_digests() {
        let r = OciRef::parse("oci://127.0.0.1:5000/policies/labels:1.2").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "policies/labels");
        assert_eq!(r.tag(), Some("1.2"));
        assert_eq!(r.repo_path(), "127.0.0.1:5000/policies/labels");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = OciRef::parse(&format!("oci://registry.example.com/p@{d}")).unwrap();
        assert_eq!(r.digest(), Some(d.as_str()));
    }

    #[test]
    fn refuses_what_is_not_a_reference() {
        for bad in [
            "labels.wasm",
            "oci://labels",
            "oci://policies/labels:1",
            "oci://registry.example.com/",
            "oci://registry.example.com/p@sha256:abc",
            "oci://registry.example.com/Upper/case:1",
            "oci://registry.example.com/p:bad tag",
        ] {
            let e = OciRef::parse(bad).unwrap_err();
            assert!(e.to_string().contains("oci://registry.example.com"), "{e}");
        }
    }
}
