//! Getting registry plugins for a scan under the trust policy and the lock: the
//! manifest digest (from the reference, the lock, or the registry), the manifest, the
//! signatures, then the component, each from the cache when it holds them and from the
//! registry otherwise. A signature is verified before the component is downloaded, and
//! the component's bytes are checked against the verified manifest before anyone
//! compiles them. Many plugins are fetched at once.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::artifact::{plugin_layer, Descriptor, Manifest};
use super::client::{Client, RegistryError};
use super::cosign::{self, signature_tag};
use super::download::Kind;
use super::lock::Lock;
use super::reference::{sha256_digest, OciRef};
use super::store::Store;
use super::trust::{Requirement, Trust};
use crate::defaults;

/// Signatures read per signed manifest (cosign appends one per `cosign sign`).
const MAX_SIGNATURES: usize = 64;

/// A plugin component from a registry, checked.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub reference: OciRef,
    /// The manifest digest the component was reached through.
    pub digest: String,
    pub manifest: Vec<u8>,
    pub component: Vec<u8>,
    /// The component's sha256, hex (the compiled-plugin cache's key).
    pub sha256: String,
    /// The key file whose signature admitted it; None when the policy allowed it
    /// unsigned.
    pub verified_by: Option<PathBuf>,
}

/// Why a registry plugin may not run. Each variant names the reference.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The trust policy does not admit it (unsigned, signed by another key, from a
    /// repository not allowed, tampered with, or not what the lock says).
    #[error("{reference}: refused by the trust policy: {reason}")]
    Trust { reference: String, reason: String },
    /// It could not be fetched (network, authentication, not found, store).
    #[error("{reference}: {reason}")]
    Registry { reference: String, reason: String },
    /// The artifact holds no tollgate plugin layer.
    #[error("{reference}: not a WebAssembly component: {reason}")]
    NotPlugin { reference: String, reason: String },
}

impl FetchError {
    /// The reference the error is about.
    pub fn reference(&self) -> &str {
        match self {
            FetchError::Trust { reference, .. }
            | FetchError::Registry { reference, .. }
            | FetchError::NotPlugin { reference, .. } => reference,
        }
    }
}

pub struct Fetcher {
    client: Client,
    store: Option<Store>,
    trust: Trust,
    lock: Option<Lock>,
    /// Annotations a signature must carry (`plugin verify -a`).
    required: BTreeMap<String, String>,
}

impl Fetcher {
    pub fn new(client: Client, store: Option<Store>, trust: Trust, lock: Option<Lock>) -> Fetcher {
        Fetcher {
            client,
            store,
            trust,
            lock,
            required: BTreeMap::new(),
        }
    }

    pub fn require_annotations(mut self, required: BTreeMap<String, String>) -> Self {
        self.required = required;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Fetches every reference, at most [`defaults::REGISTRY_CONCURRENCY`] at a time;
    /// results in the order of `refs`.
    pub fn fetch_all(&self, refs: &[OciRef]) -> Vec<Result<Pulled, FetchError>> {
        let gate = tokio::sync::Semaphore::new(defaults::REGISTRY_CONCURRENCY);
        let all = refs.iter().map(|r| {
            let gate = &gate;
            async move {
                let _permit = gate.acquire().await;
                self.fetch(r).await
            }
        });
        self.client.block_on(futures_util::future::join_all(all))
    }

    /// One plugin, or why it may not run.
    pub async fn fetch(&self, r: &OciRef) -> Result<Pulled, FetchError> {
        let reference = r.to_string();
        let trust_err = |reason: String| FetchError::Trust {
            reference: reference.clone(),
            reason,
        };
        let net_err = |e: RegistryError| FetchError::Registry {
            reference: reference.clone(),
            reason: e.message,
        };
        let requirement = self.trust.requirement(&r.repo_path()).map_err(&trust_err)?;
        let digest = self.digest(r).await.map_err(|e| match e {
            Refusal::Trust(reason) => trust_err(reason),
            Refusal::Registry(e) => net_err(e),
        })?;
        let manifest = match self.cached(&digest) {
            Some(m) => m,
            None => {
                let (bytes, got) = self
                    .client
                    .manifest(&r.at_digest(&digest))
                    .await
                    .map_err(net_err)?
                    .ok_or_else(|| {
                        net_err(RegistryError::new(format!(
                            "manifest {digest} not found in {}",
                            r.repo_path()
                        )))
                    })?;
                if got != digest {
                    return Err(trust_err(format!(
                        "the registry answered manifest {got} for {digest}"
                    )));
                }
                self.keep(&digest, &bytes);
                bytes
            }
        };
        let (_, layer) = plugin_layer(&manifest).map_err(|e| FetchError::NotPlugin {
            reference: reference.clone(),
            reason: e.0,
        })?;
        let verified_by = match requirement {
            Requirement::Unsigned { .. } => None,
            Requirement::Signed { keys, rule } => Some(
                self.verify(r, &digest, keys)
                    .await
                    .map_err(|e| match e {
                        Refusal::Trust(reason) => {
                            trust_err(format!("{reason} (required by {rule})"))
                        }
                        Refusal::Registry(e) => net_err(e),
                    })?
                    .key,
            ),
        };
        let component = match self.cached(&layer.digest) {
            Some(c) => c,
            None => self
                .download_layer(&r.at_digest(&digest), &layer)
                .await
                .map_err(|e| {
                    if e.digest_mismatch {
                        trust_err(format!(
                            "the component layer {} does not match its digest (tampered with or corrupted in the registry): {}",
                            layer.digest, e.message
                        ))
                    } else {
                        net_err(e)
                    }
                })?,
        };
        let actual = sha256_digest(&component);
        if actual != layer.digest {
            return Err(trust_err(format!(
                "the component is {actual}, but the manifest {digest} names {}: tampered with or corrupted; refusing it before compilation",
                layer.digest
            )));
        }
        Ok(Pulled {
            reference: r.clone(),
            sha256: actual[7..].to_string(),
            digest,
            manifest,
            component,
            verified_by,
        })
    }

    /// A component layer, streamed into the store (or, without one, into memory up to
    /// the size limit) and checked against its descriptor as it arrives; nothing is
    /// left in the store when the download is refused.
    async fn download_layer(
        &self,
        at: &oci_client::Reference,
        layer: &Descriptor,
    ) -> Result<Vec<u8>, RegistryError> {
        let Some(store) = &self.store else {
            let mut bytes = Vec::new();
            self.client.blob(at, layer, Kind::Layer, &mut bytes).await?;
            return Ok(bytes);
        };
        let mut pending = store
            .pending()
            .map_err(|e| RegistryError::new(format!("cannot write to the plugin store: {e}")))?;
        self.client
            .blob(at, layer, Kind::Layer, &mut pending)
            .await?;
        pending
            .commit(store, &layer.digest)
            .map_err(|e| RegistryError::new(format!("cannot write to the plugin store: {e}")))?;
        store.get(&layer.digest).ok_or_else(|| {
            RegistryError::new(format!(
                "{} vanished from the plugin store after it was written",
                layer.digest
            ))
        })
    }

    /// The manifest digest to run: written in the reference, else the lock's (refused
    /// when the tag has moved since), else what the registry says the tag is now.
    async fn digest(&self, r: &OciRef) -> Result<String, Refusal> {
        if let Some(d) = r.digest() {
            return Ok(d.to_string());
        }
        let locked = self.lock.as_ref().map(|l| l.plugins.get(&r.to_string()));
        // A reference the lock does not list is refused without asking the registry.
        let now = match locked {
            Some(None) => Err(RegistryError::new("not asked: not in tollgate.lock")),
            _ => self.client.resolve(r.oci()).await,
        };
        let cached = |d: &str| self.cached(d).is_some();
        locked_digest(locked, now, &cached)
    }

    /// A valid signature on `digest` by one of `keys`: from the cached signature
    /// manifest when it verifies, else from the registry (then cached).
    async fn verify(
        &self,
        r: &OciRef,
        digest: &str,
        keys: &[cosign::PublicKey],
    ) -> Result<cosign::Verified, Refusal> {
        if let Some(sigs) = self.store.as_ref().and_then(|s| s.signatures(digest)) {
            if let Ok(layers) = cosign::signature_layers(&sigs) {
                let payloads: Option<Vec<_>> = layers
                    .into_iter()
                    .map(|l| self.cached(&l.digest).map(|p| (l, p)))
                    .collect();
                if let Some(v) =
                    payloads.and_then(|p| cosign::verify(digest, &p, keys, &self.required).ok())
                {
                    return Ok(v);
                }
            }
        }
        let tag = signature_tag(digest);
        let (sigs, _) = self
            .client
            .manifest(&r.at_tag(&tag))
            .await
            .map_err(Refusal::Registry)?
            .ok_or_else(|| {
                Refusal::Trust(format!(
                    "{digest} is not signed (no {tag} in {})",
                    r.repo_path()
                ))
            })?;
        let layers = cosign::signature_layers(&sigs).map_err(Refusal::Trust)?;
        // Each payload is read (up to its limit): a signature manifest listing thousands
        // would cost gigabytes.
        if layers.len() > MAX_SIGNATURES {
            return Err(Refusal::Trust(format!(
                "{tag} lists {} signatures, more than the {MAX_SIGNATURES} read",
                layers.len()
            )));
        }
        let mut payloads = Vec::new();
        for l in layers {
            let bytes = match self.cached(&l.digest) {
                Some(b) => b,
                None => {
                    let mut bytes = Vec::new();
                    self.client
                        .blob(&r.at_tag(&tag), &l, Kind::Signature, &mut bytes)
                        .await
                        .map_err(Refusal::Registry)?;
                    bytes
                }
            };
            self.keep(&l.digest, &bytes);
            payloads.push((l, bytes));
        }
        let v = cosign::verify(digest, &payloads, keys, &self.required).map_err(|why| {
            let names: Vec<String> = keys.iter().map(|k| k.path.display().to_string()).collect();
            Refusal::Trust(format!(
                "no valid signature on {digest} by {}: {why}",
                names.join(" or ")
            ))
        })?;
        if let Some(s) = &self.store {
            s.put_signatures(digest, &sigs);
        }
        Ok(v)
    }

    /// The manifest (and config) of a reference, without the component: what
    /// `plugin inspect oci://...` shows.
    pub async fn describe(
        &self,
        r: &OciRef,
    ) -> Result<(String, Manifest, Descriptor), RegistryError> {
        let digest = match r.digest() {
            Some(d) => d.to_string(),
            None => self.client.resolve(r.oci()).await?,
        };
        let bytes = match self.cached(&digest) {
            Some(b) => b,
            None => {
                self.client
                    .manifest(&r.at_digest(&digest))
                    .await?
                    .ok_or_else(|| RegistryError::new(format!("{r}: manifest {digest} not found")))?
                    .0
            }
        };
        let (m, layer) =
            plugin_layer(&bytes).map_err(|e| RegistryError::new(format!("{r}: refused: {e}")))?;
        Ok((digest, m, layer))
    }

    fn cached(&self, digest: &str) -> Option<Vec<u8>> {
        self.store.as_ref()?.get(digest)
    }

    fn keep(&self, digest: &str, bytes: &[u8]) {
        if let Some(s) = &self.store {
            s.put(digest, bytes);
        }
    }
}

#[derive(Debug)]
enum Refusal {
    Trust(String),
    Registry(RegistryError),
}

/// The lock's decision for a tag: `locked` is None without a lock, Some(None) when the
/// lock does not list the reference; `now` is what the registry says the tag is;
/// `cached` whether a digest's manifest is in the store.
fn locked_digest(
    locked: Option<Option<&String>>,
    now: Result<String, RegistryError>,
    cached: &dyn Fn(&str) -> bool,
) -> Result<String, Refusal> {
    match (locked, now) {
        (None, now) => now.map_err(Refusal::Registry),
        (Some(None), _) => Err(Refusal::Trust(
            "not in tollgate.lock; run `tollgate plugin lock` to record its digest".into(),
        )),
        (Some(Some(locked)), Ok(now)) if now != *locked => Err(Refusal::Trust(format!(
            "the tag now points to {now}, but tollgate.lock records {locked}; run `tollgate plugin lock` to accept the new digest"
        ))),
        (Some(Some(locked)), Ok(_)) => Ok(locked.clone()),
        // Offline: the lock still says exactly what to run.
        (Some(Some(locked)), Err(_)) if cached(locked) => Ok(locked.clone()),
        (Some(Some(_)), Err(e)) => Err(Refusal::Registry(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trust x lock: what runs for a tag, with and without a lock, online and offline.
    #[test]
    fn the_lock_decides_what_a_tag_runs() {
        let (a, b) = ("sha256:aaaa".to_string(), "sha256:bbbb".to_string());
        let down = || Err(RegistryError::new("connection refused"));
        let none = |_: &str| false;
        let has_a = |d: &str| d == "sha256:aaaa";
        // No lock: the registry's answer, or its error.
        assert_eq!(locked_digest(None, Ok(a.clone()), &none).unwrap(), a);
        assert!(matches!(
            locked_digest(None, down(), &none),
            Err(Refusal::Registry(_))
        ));
        // Not in the lock: refused whatever the registry says.
        match locked_digest(Some(None), Ok(a.clone()), &has_a) {
            Err(Refusal::Trust(m)) => assert!(m.contains("not in tollgate.lock"), "{m}"),
            other => panic!("{other:?}"),
        }
        // Locked, the tag unchanged: the locked digest.
        assert_eq!(
            locked_digest(Some(Some(&a)), Ok(a.clone()), &none).unwrap(),
            a
        );
        // Locked, the tag moved: refused, naming both digests and the way out.
        match locked_digest(Some(Some(&a)), Ok(b.clone()), &has_a) {
            Err(Refusal::Trust(m)) => {
                assert!(
                    m.contains(&b) && m.contains(&a) && m.contains("plugin lock"),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
        // Locked and offline: the locked digest only when its manifest is cached.
        assert_eq!(locked_digest(Some(Some(&a)), down(), &has_a).unwrap(), a);
        assert!(matches!(
            locked_digest(Some(Some(&a)), down(), &none),
            Err(Refusal::Registry(_))
        ));
    }
}
