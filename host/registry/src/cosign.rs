//! cosign's classic signature format for OCI artifacts, offline with key pairs: the
//! signature manifest at tag `sha256-<hex>.sig` in the plugin's repository, one layer
//! per signature, each layer a "simple signing" payload naming the signed manifest
//! digest, with the ECDSA P-256 signature over the payload in an annotation. Keys are
//! cosign's files: `cosign.key` (scrypt + secretbox encrypted PKCS#8) and `cosign.pub`
//! (PKIX), read and written by [`super::keyfile`] as cosign and sigstore-rs write them,
//! so keys and signatures made by `cosign` work here and the other way round.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::keyfile::{self, VerifyingKey};

use super::artifact::{Descriptor, Manifest, MANIFEST_MEDIA_TYPE};
use super::reference::sha256_digest;

pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
const PAYLOAD_TYPE: &str = "cosign container image signature";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// The tag that holds the signatures of a manifest digest.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// The simple-signing payload for a manifest digest, as cosign writes it (the
/// repository without tag as the identity; `optional` holds `-a key=value` pairs).
pub fn payload(repo_path: &str, digest: &str, annotations: &BTreeMap<String, String>) -> Vec<u8> {
    let optional = if annotations.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::to_value(annotations).unwrap_or_default()
    };
    let v = serde_json::json!({
        "critical": {
            "identity": {"docker-reference": repo_path},
            "image": {"docker-manifest-digest": digest},
            "type": PAYLOAD_TYPE,
        },
        "optional": optional,
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{}: cannot read the key: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: not a usable {what}: {reason}", path.display())]
    Format {
        path: PathBuf,
        what: &'static str,
        reason: String,
    },
    /// The cryptographic library refused (no randomness, an unusable key).
    #[error("{0}")]
    Crypto(String),
}

/// A public key that signatures are checked against, and the file it came from.
pub struct PublicKey {
    pub path: PathBuf,
    key: VerifyingKey,
}

impl PublicKey {
    pub fn load(path: &Path) -> Result<PublicKey, KeyError> {
        let pem = std::fs::read(path).map_err(|error| KeyError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let key = VerifyingKey::from_pem(&pem).map_err(|reason| KeyError::Format {
            path: path.to_path_buf(),
            what: "public key (PEM PUBLIC KEY, as cosign.pub)",
            reason,
        })?;
        Ok(PublicKey {
            path: path.to_path_buf(),
            key,
        })
    }

    fn verifies(&self, signature_b64: &str, payload: &[u8]) -> bool {
        self.key.verifies(signature_b64, payload)
    }
}

/// A new ECDSA P-256 key pair as cosign writes it: (cosign.key PEM encrypted with
/// `password`, cosign.pub PEM).
pub fn generate(password: &[u8]) -> Result<(String, String), KeyError> {
    keyfile::generate(password).map_err(KeyError::Crypto)
}

/// A private key that signs: cosign's encrypted PEM (`ENCRYPTED SIGSTORE PRIVATE KEY`
/// or the older `ENCRYPTED COSIGN PRIVATE KEY`), or a plain PKCS#8 `PRIVATE KEY`.
pub struct SigningKey(keyfile::SigningKey);

impl SigningKey {
    pub fn load(path: &Path, password: &[u8]) -> Result<SigningKey, KeyError> {
        let pem = std::fs::read(path).map_err(|error| KeyError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        keyfile::SigningKey::from_pem(&pem, password)
            .map(SigningKey)
            .map_err(|reason| KeyError::Format {
                path: path.to_path_buf(),
                what: "private key (cosign.key)",
                reason,
            })
    }

    /// The signature over `payload`, base64 as the annotation holds it.
    pub fn sign(&self, payload: &[u8]) -> Result<String, KeyError> {
        self.0.sign(payload).map_err(KeyError::Crypto)
    }
}

/// The signature manifest with one more signature layer, appended to the existing
/// ones as cosign does (the same payload and signature is not added twice). Returns
/// (manifest, config blob).
pub fn add_signature(
    existing: Option<&[u8]>,
    payload: &[u8],
    signature_b64: &str,
) -> (Vec<u8>, Vec<u8>) {
    let mut layers: Vec<Descriptor> = existing
        .and_then(|m| serde_json::from_slice::<Manifest>(m).ok())
        .map(|m| m.layers)
        .unwrap_or_default();
    let mut layer = Descriptor::of(PAYLOAD_MEDIA_TYPE, payload);
    layer.annotations = Some(BTreeMap::from([(
        SIGNATURE_ANNOTATION.to_string(),
        signature_b64.to_string(),
    )]));
    if !layers.contains(&layer) {
        layers.push(layer);
    }
    // The image config go-containerregistry writes for cosign's signature images.
    let config = serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": layers.iter().map(|_| serde_json::json!({"created": "0001-01-01T00:00:00Z"})).collect::<Vec<_>>(),
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>()},
        "config": {},
    });
    let config = serde_json::to_vec(&config).unwrap_or_default();
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MANIFEST_MEDIA_TYPE.to_string()),
        config: Descriptor::of(CONFIG_MEDIA_TYPE, &config),
        layers,
        annotations: BTreeMap::new(),
    };
    (manifest.to_bytes(), config)
}

/// The payload layers of a signature manifest.
pub fn signature_layers(manifest: &[u8]) -> Result<Vec<Descriptor>, String> {
    let m: Manifest = serde_json::from_slice(manifest)
        .map_err(|e| format!("the signature manifest is not an OCI manifest: {e}"))?;
    Ok(m.layers
        .into_iter()
        .filter(|l| l.media_type == PAYLOAD_MEDIA_TYPE)
        .collect())
}

/// Which key verified which signature.
pub struct Verified {
    pub key: PathBuf,
}

/// No signature verified, and why not, signature by signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unverified(pub String);

/// Checks the signatures (payload layers with their bytes) of manifest `digest`: one
/// must be by one of `keys`, over a payload of cosign's type naming exactly `digest`.
/// `Err` says why none did, signature by signature.
pub fn verify(
    digest: &str,
    signatures: &[(Descriptor, Vec<u8>)],
    keys: &[PublicKey],
    required: &BTreeMap<String, String>,
) -> Result<Verified, Unverified> {
    check_signatures(digest, signatures, keys, required).map_err(Unverified)
}

fn check_signatures(
    digest: &str,
    signatures: &[(Descriptor, Vec<u8>)],
    keys: &[PublicKey],
    required: &BTreeMap<String, String>,
) -> Result<Verified, String> {
    if signatures.is_empty() {
        return Err(format!(
            "no signature ({} has no layers)",
            signature_tag(digest)
        ));
    }
    let mut why = Vec::new();
    for (layer, payload) in signatures {
        if sha256_digest(payload) != layer.digest {
            why.push(format!(
                "payload {} does not match its digest",
                layer.digest
            ));
            continue;
        }
        let Some(sig) = layer
            .annotations
            .as_ref()
            .and_then(|a| a.get(SIGNATURE_ANNOTATION))
        else {
            why.push(format!("payload {} carries no signature", layer.digest));
            continue;
        };
        let Some(key) = keys.iter().find(|k| k.verifies(sig, payload)) else {
            why.push("signed by none of the trusted keys".to_string());
            continue;
        };
        match check_payload(payload, digest, required) {
            Ok(()) => {
                return Ok(Verified {
                    key: key.path.clone(),
                })
            }
            Err(e) => why.push(e),
        }
    }
    why.dedup();
    Err(why.join("; "))
}

/// The payload binds the signature to `digest`: cosign's type, that manifest digest,
/// and the required annotations. Key case is ignored as Go's JSON decoding does
/// (cosign's own documents print `Docker-manifest-digest`).
fn check_payload(
    payload: &[u8],
    digest: &str,
    required: &BTreeMap<String, String>,
) -> Result<(), String> {
    let v: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| format!("payload is not JSON: {e}"))?;
    let get = |v: &serde_json::Value, key: &str| -> Option<serde_json::Value> {
        v.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
    };
    let critical = get(&v, "critical").ok_or("payload has no critical section")?;
    let kind = get(&critical, "type").and_then(|t| t.as_str().map(str::to_string));
    if !kind
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case(PAYLOAD_TYPE))
    {
        return Err(format!("payload type is {kind:?}, not {PAYLOAD_TYPE:?}"));
    }
    let signed = get(&critical, "image")
        .and_then(|i| get(&i, "docker-manifest-digest"))
        .and_then(|d| d.as_str().map(str::to_string));
    if signed.as_deref() != Some(digest) {
        return Err(format!(
            "a valid signature, but for {} rather than {digest}",
            signed.as_deref().unwrap_or("no digest")
        ));
    }
    let optional = get(&v, "optional").unwrap_or_default();
    for (k, want) in required {
        let have = get(&optional, k);
        if have.as_ref().and_then(|h| h.as_str()) != Some(want.as_str()) {
            return Err(format!("annotation {k}={want} not in the signed payload"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_round_trip_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = generate(b"pw").unwrap();
        assert!(private.contains("ENCRYPTED SIGSTORE PRIVATE KEY"));
        std::fs::write(dir.path().join("cosign.key"), &private).unwrap();
        std::fs::write(dir.path().join("cosign.pub"), &public).unwrap();
        let key = SigningKey::load(&dir.path().join("cosign.key"), b"pw").unwrap();
        assert!(SigningKey::load(&dir.path().join("cosign.key"), b"wrong").is_err());
        let public = PublicKey::load(&dir.path().join("cosign.pub")).unwrap();
        let digest = sha256_digest(b"manifest");
        let p = payload("r.example/p", &digest, &BTreeMap::new());
        let sig = key.sign(&p).unwrap();
        let (manifest, _) = add_signature(None, &p, &sig);
        let layers = signature_layers(&manifest).unwrap();
        let sigs: Vec<_> = layers.into_iter().map(|l| (l, p.clone())).collect();
        let none = BTreeMap::new();
        assert!(verify(&digest, &sigs, std::slice::from_ref(&public), &none).is_ok());
        // Another digest: the signature is valid but binds something else.
        let e = verify(
            &sha256_digest(b"other"),
            &sigs,
            std::slice::from_ref(&public),
            &none,
        )
        .err()
        .unwrap();
        assert!(e.0.contains("rather than"), "{e}");
        // Another key.
        let (_, other) = generate(b"").unwrap();
        std::fs::write(dir.path().join("other.pub"), other).unwrap();
        let other = PublicKey::load(&dir.path().join("other.pub")).unwrap();
        let e = verify(&digest, &sigs, &[other], &none).err().unwrap();
        assert!(e.0.contains("none of the trusted keys"), "{e}");
        // A required annotation that was not signed.
        let req = BTreeMap::from([("team".to_string(), "platform".to_string())]);
        assert!(verify(&digest, &sigs, &[public], &req).is_err());
        // Appending the same signature again changes nothing.
        let (again, _) = add_signature(Some(&manifest), &p, &sig);
        assert_eq!(again, manifest);
    }
}
