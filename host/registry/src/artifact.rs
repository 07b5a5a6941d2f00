//! The Wasm OCI artifact layout (CNCF TAG-Runtime, as `wkg` writes it): an OCI image
//! manifest whose config is `application/vnd.wasm.config.v0+json` and whose single
//! layer is the component (`application/wasm`). The manifest's annotations describe the
//! plugin (name, version, contract, check ids), so `tollgate plugin inspect oci://...`
//! answers without downloading the component.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::reference::sha256_digest;

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
/// Kubewarden's (krustlet's) layout: core modules speaking waPC.
const KUBEWARDEN_CONFIG: &str = "application/vnd.wasm.config.v1+json";
const KUBEWARDEN_LAYER: &str = "application/vnd.wasm.content.layer.v1+wasm";

/// Manifest annotations tollgate writes and reads.
pub mod keys {
    pub const TITLE: &str = "org.opencontainers.image.title";
    pub const VERSION: &str = "org.opencontainers.image.version";
    pub const DESCRIPTION: &str = "org.opencontainers.image.description";
    pub const CREATED: &str = "org.opencontainers.image.created";
    pub const NAME: &str = "dev.tollgate.plugin.name";
    pub const PLUGIN_VERSION: &str = "dev.tollgate.plugin.version";
    pub const CONTRACT: &str = "dev.tollgate.plugin.contract";
    pub const CHECKS: &str = "dev.tollgate.plugin.checks";
    pub const INPUT: &str = "dev.tollgate.plugin.input";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Descriptor {
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: sha256_digest(bytes),
            size: bytes.len() as u64,
            annotations: None,
        }
    }
}

/// An OCI image manifest, as much of it as tollgate reads or writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// What a plugin says about itself, for the annotations and the config.
pub struct PluginMeta<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub description: &'a str,
    pub contract: Option<&'a str>,
    pub input: &'a str,
    pub checks: Vec<&'a str>,
    pub exports: &'a [String],
    pub imports: &'a [String],
}

/// The three blobs of a plugin artifact.
pub struct Artifact {
    pub manifest: Vec<u8>,
    pub config: Vec<u8>,
    pub layer: Descriptor,
}

/// Lays out a component as a Wasm OCI artifact. `extra` annotations are added to the
/// manifest (they may override the defaults, e.g. `org.opencontainers.image.source`).
pub fn build(
    component: &[u8],
    meta: &PluginMeta,
    created: &str,
    extra: &[(String, String)],
) -> Artifact {
    let mut layer = Descriptor::of(LAYER_MEDIA_TYPE, component);
    layer.annotations = Some(BTreeMap::from([(
        keys::TITLE.to_string(),
        format!("{}.wasm", meta.name),
    )]));
    let config = serde_json::json!({
        "created": created,
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer.digest],
        "component": {
            "exports": meta.exports,
            "imports": meta.imports,
            "target": meta.contract,
        },
    });
    let config = serde_json::to_vec(&config).unwrap_or_default();
    // Registries and tools refuse multi-line annotation values (kwctl drops them).
    let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut annotations = BTreeMap::from([
        (keys::TITLE.to_string(), meta.name.to_string()),
        (keys::VERSION.to_string(), meta.version.to_string()),
        (keys::CREATED.to_string(), created.to_string()),
        (keys::NAME.to_string(), meta.name.to_string()),
        (keys::PLUGIN_VERSION.to_string(), meta.version.to_string()),
        (keys::INPUT.to_string(), meta.input.to_string()),
        (keys::CHECKS.to_string(), meta.checks.join(",")),
    ]);
    if !meta.description.is_empty() {
        annotations.insert(keys::DESCRIPTION.to_string(), one_line(meta.description));
    }
    if let Some(c) = meta.contract {
        annotations.insert(keys::CONTRACT.to_string(), c.to_string());
    }
    for (k, v) in extra {
        annotations.insert(k.clone(), one_line(v));
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MANIFEST_MEDIA_TYPE.to_string()),
        config: Descriptor::of(CONFIG_MEDIA_TYPE, &config),
        layers: vec![layer.clone()],
        annotations,
    };
    Artifact {
        manifest: manifest.to_bytes(),
        config,
        layer,
    }
}

/// An artifact that is not a tollgate plugin, with what it is instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotAPlugin(pub String);

/// A manifest that is a tollgate plugin: its component layer. Anything else is refused
/// with what it is.
pub fn plugin_layer(manifest_bytes: &[u8]) -> Result<(Manifest, Descriptor), NotAPlugin> {
    layer_of(manifest_bytes).map_err(NotAPlugin)
}

fn layer_of(manifest_bytes: &[u8]) -> Result<(Manifest, Descriptor), String> {
    let value: serde_json::Value = serde_json::from_slice(manifest_bytes)
        .map_err(|e| format!("the manifest is not JSON: {e}"))?;
    if value.get("manifests").is_some()
        || value.get("mediaType").and_then(|m| m.as_str()) == Some(INDEX_MEDIA_TYPE)
    {
        return Err("it is an image index (a multi-platform image), not a tollgate plugin".into());
    }
    let manifest: Manifest =
        serde_json::from_value(value).map_err(|e| format!("not an OCI image manifest: {e}"))?;
    if let Some(m) = manifest
        .media_type
        .as_deref()
        .filter(|m| *m != MANIFEST_MEDIA_TYPE)
    {
        return Err(format!(
            "manifest media type {m}, not an OCI image manifest"
        ));
    }
    let config = manifest.config.media_type.as_str();
    if config == KUBEWARDEN_CONFIG
        || manifest
            .layers
            .iter()
            .any(|l| l.media_type == KUBEWARDEN_LAYER)
    {
        return Err(
            "it is a Kubewarden policy (a core module speaking waPC), not a tollgate component"
                .into(),
        );
    }
    if config != CONFIG_MEDIA_TYPE {
        return Err(format!(
            "it is not a Wasm artifact (config media type {config}{}); push plugins with `tollgate plugin push`",
            if config.contains("image.config") || config.contains("container.image") {
                ": a container image"
            } else {
                ""
            }
        ));
    }
    match manifest.layers.as_slice() {
        [layer] if layer.media_type == LAYER_MEDIA_TYPE => {
            let layer = layer.clone();
            Ok((manifest, layer))
        }
        [layer] => Err(format!(
            "its layer is {}, not a component ({LAYER_MEDIA_TYPE})",
            layer.media_type
        )),
        layers => Err(format!(
            "it has {} layers; a plugin artifact has exactly one component",
            layers.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> PluginMeta<'static> {
        PluginMeta {
            name: "labels",
            version: "1.2.0",
            description: "Recommended\nlabels",
            contract: Some("tollgate:policy/policy@0.1.1"),
            input: "tree",
            checks: vec!["LBL001", "LBL002"],
            exports: &[],
            imports: &[],
        }
    }

    #[test]
    fn a_built_artifact_reads_back_as_a_plugin() {
        let a = build(b"\0asm", &meta(), "2026-12-02T00:00:00Z", &[]);
        let (m, layer) = plugin_layer(&a.manifest).unwrap();
        assert_eq!(layer, a.layer);
        assert_eq!(layer.digest, sha256_digest(b"\0asm"));
        assert_eq!(m.config.digest, sha256_digest(&a.config));
        assert_eq!(m.annotations[keys::CHECKS], "LBL001,LBL002");
        assert_eq!(m.annotations[keys::DESCRIPTION], "Recommended labels");
        let config: serde_json::Value = serde_json::from_slice(&a.config).unwrap();
        assert_eq!(config["layerDigests"][0], layer.digest.as_str());
        assert_eq!(config["os"], "wasip2");
    }

    #[test]
    fn other_layouts_are_named() {
        let kw = serde_json::json!({"schemaVersion": 2,
            "config": {"mediaType": KUBEWARDEN_CONFIG, "digest": "sha256:0", "size": 2},
            "layers": [{"mediaType": KUBEWARDEN_LAYER, "digest": "sha256:1", "size": 9}]});
        let e = plugin_layer(&serde_json::to_vec(&kw).unwrap()).unwrap_err();
        assert!(e.0.contains("Kubewarden"), "{e}");
        let image = serde_json::json!({"schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:0", "size": 2},
            "layers": []});
        let e = plugin_layer(&serde_json::to_vec(&image).unwrap()).unwrap_err();
        assert!(e.0.contains("container image"), "{e}");
        let index =
            serde_json::json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": []});
        let e = plugin_layer(&serde_json::to_vec(&index).unwrap()).unwrap_err();
        assert!(e.0.contains("image index"), "{e}");
    }
}
