//! Writing to registries: a plugin component as a Wasm artifact (`plugin push`), and a
//! signature in cosign's classic format (`plugin sign`).

use std::collections::BTreeMap;

use super::artifact::{self, PluginMeta};
use super::client::{Client, RegistryError};
use super::cosign::{self, signature_tag, SigningKey};
use super::reference::OciRef;

/// Pushes a component under the reference's tag (or digest); returns the manifest
/// digest.
pub async fn push(
    client: &Client,
    r: &OciRef,
    component: &[u8],
    meta: &PluginMeta<'_>,
    created: &str,
    annotations: &[(String, String)],
) -> Result<String, RegistryError> {
    let a = artifact::build(component, meta, created, annotations);
    let target = r.oci();
    client.push_blob(target, component).await?;
    client.push_blob(target, &a.config).await?;
    let digest = client.push_manifest(target, &a.manifest).await?;
    if let Some(d) = r.digest() {
        if d != digest {
            return Err(RegistryError::new(format!(
                "{r}: the artifact's digest is {digest}, not the {d} the reference names"
            )));
        }
    }
    Ok(digest)
}

/// Signs the manifest a reference names now, adding the signature to those already
/// at its `.sig` tag. Returns the signed digest.
pub async fn sign(
    client: &Client,
    r: &OciRef,
    key: &SigningKey,
    annotations: &BTreeMap<String, String>,
) -> Result<String, RegistryError> {
    let digest = match r.digest() {
        Some(d) => d.to_string(),
        None => client.resolve(r.oci()).await?,
    };
    let (manifest, _) = client
        .manifest(&r.at_digest(&digest))
        .await?
        .ok_or_else(|| RegistryError::new(format!("{r}: manifest {digest} not found")))?;
    artifact::plugin_layer(&manifest)
        .map_err(|e| RegistryError::new(format!("{r}: refusing to sign it: {e}")))?;
    let payload = cosign::payload(&r.repo_path(), &digest, annotations);
    let signature = key
        .sign(&payload)
        .map_err(|e| RegistryError::new(e.to_string()))?;
    let tag = r.at_tag(&signature_tag(&digest));
    let existing = client.manifest(&tag).await?.map(|(m, _)| m);
    let (sig_manifest, config) = cosign::add_signature(existing.as_deref(), &payload, &signature);
    client.push_blob(&tag, &payload).await?;
    client.push_blob(&tag, &config).await?;
    client.push_manifest(&tag, &sig_manifest).await?;
    Ok(digest)
}
