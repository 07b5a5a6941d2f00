//! Which plugins run: where they come from ([`PluginSource`]: a file, optionally pinned
//! by sha256), the built-in bundle found beside the binary, and loading, verifying and
//! configuring each one, with clashing check ids refused. Compiled components are
//! cached by the sandbox (`tollgate_runtime::cache`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::LoadError;
use serde::Serialize;
use tollgate_runtime::{CheckInfo, Instance, Plugin, PluginError, Sandbox};

#[cfg(feature = "oci")]
use crate::registry::OciRef;

/// How a registry reference begins.
pub const OCI_SCHEME: &str = "oci://";

/// A component fetched from a registry, ready to load.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub component: Vec<u8>,
    /// The component's sha256, hex (the compiled-plugin cache's key).
    pub sha256: String,
}

/// Registry plugins fetched before loading, by reference (as [`PluginSource`] displays
/// it), or why each could not be.
pub type FetchedPlugins = HashMap<String, Result<Fetched, LoadError>>;

/// A plugin source that cannot be taken.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    #[cfg(feature = "oci")]
    #[error(transparent)]
    Reference(#[from] crate::registry::reference::RefError),
    #[error(
        "'{0}': this tollgate was built without registry support (the `oci` feature); \
         give the component as a file"
    )]
    NoRegistry(String),
}

/// Resolves any id or alias (KSV011, KSV-0011, AVD-KSV-0011, ...) to the primary id of
/// a loaded check.
pub fn primary_id<'a>(
    mut checks: impl Iterator<Item = &'a CheckInfo>,
    name: &str,
) -> Option<String> {
    checks.find(|c| c.is_named(name)).map(|c| c.id.clone())
}

/// Where a plugin component comes from. Every caller takes plugins through this type,
/// so a new kind of source (a registry reference) changes no caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// A component file, refused before it is compiled when `pin` (a sha256 in hex) is
    /// given and differs.
    File { path: PathBuf, pin: Option<String> },
    /// A built-in plugin embedded in the binary, named `builtin:NAME.wasm` in reports.
    Embedded {
        name: &'static str,
        bytes: &'static [u8],
        sha256: &'static str,
    },
    /// A component in an OCI registry (`oci://registry/repository:tag` or
    /// `...@sha256:<manifest digest>`), fetched under the trust policy before loading.
    #[cfg(feature = "oci")]
    Oci(OciRef),
}

/// Plugins a binary embeds, given as (file name, component, sha256 in hex).
pub fn embedded(bundle: &[(&'static str, &'static [u8], &'static str)]) -> Vec<PluginSource> {
    bundle
        .iter()
        .map(|(name, bytes, sha256)| PluginSource::Embedded {
            name,
            bytes,
            sha256,
        })
        .collect()
}

impl PluginSource {
    pub fn file(path: impl Into<PathBuf>) -> Self {
        PluginSource::File {
            path: path.into(),
            pin: None,
        }
    }

    /// Parses `oci://REFERENCE`, `FILE` or `FILE@sha256:HEX`.
    pub fn parse(s: &str) -> Result<PluginSource, SourceError> {
        if s.starts_with(OCI_SCHEME) {
            #[cfg(feature = "oci")]
            return Ok(OciRef::parse(s).map(PluginSource::Oci)?);
            #[cfg(not(feature = "oci"))]
            return Err(SourceError::NoRegistry(s.to_string()));
        }
        Ok(match s.rsplit_once("@sha256:") {
            Some((path, hex)) => PluginSource::File {
                path: PathBuf::from(path),
                pin: Some(hex.to_string()),
            },
            None => PluginSource::file(s),
        })
    }

    /// Loads and verifies the component; a registry plugin must have been fetched
    /// (`pulled`).
    #[cfg_attr(not(feature = "oci"), allow(unused_variables))]
    pub fn load(&self, sandbox: &Sandbox, pulled: Option<Fetched>) -> Result<Plugin, LoadError> {
        match self {
            PluginSource::File { path, pin } => Ok(Plugin::load(sandbox, path, pin.as_deref())?),
            PluginSource::Embedded { bytes, sha256, .. } => Ok(Plugin::from_bytes(
                sandbox,
                &self.label(),
                bytes,
                sha256.to_string(),
            )?),
            #[cfg(feature = "oci")]
            PluginSource::Oci(_) => match pulled {
                Some(p) => Ok(Plugin::from_bytes(
                    sandbox,
                    &self.label(),
                    &p.component,
                    p.sha256,
                )?),
                None => Err(LoadError::Registry {
                    file: self.label(),
                    reason: "listed more than once".into(),
                }),
            },
        }
    }

    /// How reports and errors name the plugin's origin.
    pub fn label(&self) -> PathBuf {
        match self {
            PluginSource::File { path, .. } => path.clone(),
            PluginSource::Embedded { name, .. } => PathBuf::from(format!("builtin:{name}")),
            #[cfg(feature = "oci")]
            PluginSource::Oci(r) => PathBuf::from(r.to_string()),
        }
    }

    /// The same source seen from another directory (a configuration file's plugin paths
    /// are relative to that file).
    pub fn relative_to(self, base: &Path) -> Self {
        match self {
            PluginSource::File { path, pin } => PluginSource::File {
                path: base.join(path),
                pin,
            },
            embedded => embedded,
        }
    }
}

impl std::str::FromStr for PluginSource {
    type Err = SourceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PluginSource::parse(s)
    }
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::File { path, pin: None } => write!(f, "{}", path.display()),
            PluginSource::File {
                path,
                pin: Some(pin),
            } => write!(f, "{}@sha256:{pin}", path.display()),
            PluginSource::Embedded { name, .. } => write!(f, "builtin:{name}"),
            #[cfg(feature = "oci")]
            PluginSource::Oci(r) => write!(f, "{r}"),
        }
    }
}

/// A plugin ready to evaluate: loaded, configured, with the checks that run. Shared
/// by every worker; each worker keeps its own instances (`evaluate::Pool`).
pub struct ActivePlugin {
    pub plugin: Plugin,
    /// Settings JSON passed to every new instance.
    pub settings: String,
    /// Per check index: whether it runs.
    pub enabled: Vec<bool>,
    /// Switches the plugin off when it keeps running over its time limit.
    pub breaker: crate::breaker::Breaker,
}

impl ActivePlugin {
    pub fn checks(&self) -> &[CheckInfo] {
        &self.plugin.info.checks
    }

    /// A plugin configured with `settings`: refused settings are an error now, not
    /// during the scan.
    pub fn configured(
        plugin: Plugin,
        settings: String,
        breaker: crate::breaker::BreakerSettings,
    ) -> Result<ActivePlugin, PluginError> {
        let enabled_ids = plugin.instantiate()?.configure(&settings)?;
        let enabled = plugin
            .info
            .checks
            .iter()
            .map(|c| enabled_ids.iter().any(|id| c.is_named(id)))
            .collect();
        Ok(ActivePlugin {
            plugin,
            settings,
            enabled,
            breaker: crate::breaker::Breaker::new(breaker),
        })
    }

    /// A new, configured instance.
    pub fn instance(&self) -> Result<Instance, PluginError> {
        let mut i = self.plugin.instantiate()?;
        i.configure(&self.settings)?;
        Ok(i)
    }

    /// The check indices that run on a resource of `kind`.
    pub fn applicable(&self, kind: &str) -> Vec<u32> {
        self.checks()
            .iter()
            .enumerate()
            .filter(|(i, c)| self.enabled[*i] && c.applies_to(kind))
            .map(|(i, _)| i as u32)
            .collect()
    }
}

/// Where the built-in bundle is read from when no directory is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultBundle {
    /// `$TOLLGATE_PLUGIN_DIR`, or `plugins/` beside the executable when it exists.
    Dir(PathBuf),
    /// The plugins the binary embeds (see [`crate::AuditorBuilder::embedded_bundle`]).
    Embedded,
}

/// The built-in bundle: `$TOLLGATE_PLUGIN_DIR`, else `plugins/` beside the executable
/// when there is one, else the plugins the binary embeds (`embedded` is true when it
/// embeds any), else `plugins/` beside the executable, whose absence is then the error.
pub fn default_bundle(embedded: bool) -> Option<DefaultBundle> {
    if let Some(d) = std::env::var_os("TOLLGATE_PLUGIN_DIR") {
        return Some(DefaultBundle::Dir(PathBuf::from(d)));
    }
    let beside = std::env::current_exe().ok().and_then(|exe| {
        let exe = exe.canonicalize().unwrap_or(exe);
        Some(exe.parent()?.join("plugins"))
    });
    match beside {
        Some(dir) if dir.is_dir() => Some(DefaultBundle::Dir(dir)),
        _ if embedded => Some(DefaultBundle::Embedded),
        beside => beside.map(DefaultBundle::Dir),
    }
}

/// The `.wasm` files of a bundle directory, sorted.
pub fn bundle_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}

/// Loads and configures plugins. A plugin that fails is reported and left out; the
/// others still run. A check id already declared by an earlier plugin is an error for
/// the later plugin. `loaded` receives (file, name) of every plugin that loaded, also
/// of those whose settings were then refused. Registry plugins come fetched, or with
/// the reason they could not be, in `pulled`.
pub fn activate(
    sandbox: &Sandbox,
    sources: &[PluginSource],
    mut pulled: FetchedPlugins,
    settings: &dyn Fn(&Plugin) -> String,
    breaker: crate::breaker::BreakerSettings,
    errors: &mut Vec<LoadError>,
    loaded: &mut Vec<(PathBuf, String)>,
) -> Vec<ActivePlugin> {
    let mut active: Vec<ActivePlugin> = Vec::new();
    for source in sources {
        // Only registry sources are in `pulled`; the first of a repeated one takes it.
        let fetched = match pulled.remove(&source.to_string()) {
            Some(Ok(p)) => Some(p),
            Some(Err(e)) => {
                errors.push(e);
                continue;
            }
            None => None,
        };
        let plugin = match source.load(sandbox, fetched) {
            Ok(p) => p,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let clash = plugin.info.checks.iter().find_map(|c| {
            active.iter().find_map(|a| {
                a.checks()
                    .iter()
                    .find(|o| o.id.eq_ignore_ascii_case(&c.id))
                    .map(|_| {
                        format!(
                            "check {} is already provided by plugin '{}' ({})",
                            c.id,
                            a.plugin.name(),
                            a.plugin.file.display()
                        )
                    })
            })
        });
        if let Some(reason) = clash {
            errors.push(
                PluginError::Contract {
                    file: plugin.file.clone(),
                    reason,
                }
                .into(),
            );
            continue;
        }
        loaded.push((plugin.file.clone(), plugin.name().to_string()));
        let settings_json = settings(&plugin);
        // Configure once up front: bad settings are reported before any scanning.
        match ActivePlugin::configured(plugin, settings_json, breaker) {
            Ok(p) => active.push(p),
            Err(e) => errors.push(e.into()),
        }
    }
    active
}

/// What a plugin component is and asks for (`tollgate plugin inspect`).
#[derive(Debug, Clone, Serialize)]
pub struct PluginDescription {
    pub file: String,
    pub size: u64,
    pub sha256: String,
    pub name: String,
    pub version: String,
    pub description: String,
    /// The contract interface it exports (`tollgate:policy/policy@0.1.1`), if any.
    pub contract: Option<String>,
    /// The contract this host implements.
    pub host_contract: &'static str,
    /// `tree` (objects pre-parsed by the host) or `json` (JSON text).
    pub input: &'static str,
    /// WASI interfaces it imports (all denied by the sandbox).
    pub imports: Vec<String>,
    pub settings_help: String,
    pub checks: Vec<CheckInfo>,
}

/// `settings` with the facts about the target (`k8s_version`) that the plugin says it
/// takes: its settings help names the key in quotes (`"k8s_version"`), and its own
/// settings do not set it already. Other plugins get their settings unchanged, so a
/// plugin that refuses unknown keys is not disturbed.
pub fn with_facts(settings: String, help: &str, facts: &[(&str, serde_json::Value)]) -> String {
    let wanted: Vec<_> = facts
        .iter()
        .filter(|(k, _)| help.contains(&format!("\"{k}\"")))
        .collect();
    if wanted.is_empty() {
        return settings;
    }
    match serde_json::from_str::<serde_json::Value>(&settings) {
        Ok(serde_json::Value::Object(mut map)) => {
            for (k, v) in wanted {
                map.entry(k.to_string()).or_insert_with(|| v.clone());
            }
            serde_json::Value::Object(map).to_string()
        }
        // Not an object: the plugin will say what is wrong with it.
        _ => settings,
    }
}

/// Loads a plugin (without configuring it) and describes it.
pub fn inspect(sandbox: &Sandbox, source: &PluginSource) -> Result<PluginDescription, LoadError> {
    let size = match source {
        PluginSource::File { path, .. } => std::fs::metadata(path)
            .map_err(|source| PluginError::Read {
                file: path.clone(),
                source,
            })?
            .len(),
        PluginSource::Embedded { bytes, .. } => bytes.len() as u64,
        #[cfg(feature = "oci")]
        PluginSource::Oci(_) => 0,
    };
    let plugin = source.load(sandbox, None)?;
    let contract = plugin
        .exports
        .iter()
        .find(|e| e.starts_with("tollgate:policy/policy@"))
        .cloned();
    Ok(PluginDescription {
        file: source.label().display().to_string(),
        size,
        input: if plugin.reads_trees() { "tree" } else { "json" },
        sha256: plugin.sha256,
        contract,
        host_contract: tollgate_runtime::CONTRACT,
        imports: plugin.imports,
        name: plugin.info.name,
        version: plugin.info.version,
        description: plugin.info.description,
        settings_help: plugin.info.settings_help,
        checks: plugin.info.checks,
    })
}

#[cfg(test)]
mod tests {
    use super::with_facts;
    use serde_json::json;

    #[test]
    fn facts_reach_only_plugins_that_take_them_and_never_override_their_settings() {
        let facts = [("k8s_version", json!("1.29.0"))];
        let takes = r#"{"k8s_version": "1.29.0"}: the target's version"#;
        assert_eq!(
            with_facts("{}".into(), takes, &facts),
            r#"{"k8s_version":"1.29.0"}"#
        );
        assert_eq!(
            with_facts(r#"{"k8s_version":"1.20.0"}"#.into(), takes, &facts),
            r#"{"k8s_version":"1.20.0"}"#
        );
        assert_eq!(with_facts("{}".into(), "no settings", &facts), "{}");
        assert_eq!(with_facts("[1]".into(), takes, &facts), "[1]");
    }
}
