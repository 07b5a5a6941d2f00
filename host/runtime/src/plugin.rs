use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, ComponentExportIndex, Linker};
use wasmtime::{Config, Engine};

use crate::bindings::exports::tollgate::policy::policy as wit;
use crate::bindings::PluginPre;
use crate::limits::TICK;
use crate::wasi::{self, State};
use crate::{Instance, Limits, PluginError, SandboxError};

/// The contract this host implements: the WIT package and the interface plugins export.
// One version literal for all the names derived from it; it must match wit/policy.wit.
macro_rules! contract_version {
    () => {
        "0.1.1"
    };
}
pub const CONTRACT: &str = concat!("tollgate:policy@", contract_version!());
const CONTRACT_VERSION: &str = contract_version!();
const EXPORT_PREFIX: &str = "tollgate:policy/policy@";
const EXPORT: &str = concat!("tollgate:policy/policy@", contract_version!());
const TREE_EXPORT_PREFIX: &str = "tollgate:policy/tree@";

/// A wasmtime engine with the limits all plugins run under, and the deny-all linker.
#[derive(Clone)]
pub struct Sandbox {
    pub(crate) engine: Engine,
    pub(crate) cache: Option<Arc<crate::cache::Cache>>,
    pub(crate) linker: Arc<Linker<State>>,
    pub(crate) limits: Limits,
}

impl Sandbox {
    pub fn new(limits: Limits) -> Result<Self, SandboxError> {
        let mut config = Config::new();
        // Epoch interruption bounds wall-clock time per call at ~20% of call cost;
        // fuel would be deterministic but costs more and maps poorly to time.
        config.epoch_interruption(true);
        config.max_wasm_stack(limits.stack);
        let engine = Engine::new(&config).map_err(|e| SandboxError::Engine(e.to_string()))?;
        let linker = wasi::linker(&engine).map_err(|e| SandboxError::Wasi(e.to_string()))?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("tollgate-epoch".into())
            .spawn(move || loop {
                std::thread::sleep(TICK);
                match ticker.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            })
            .map_err(SandboxError::Ticker)?;
        Ok(Sandbox {
            engine,
            cache: None,
            linker: Arc::new(linker),
            limits,
        })
    }

    /// Keeps compiled plugins in `dir` (see [`crate::cache`]). Returns whether the cache
    /// is usable; when it is not (e.g. the directory is writable by others) plugins are
    /// compiled on every run.
    pub fn with_cache(&mut self, dir: &Path) -> bool {
        self.cache = crate::cache::Cache::open(dir, &self.engine).map(Arc::new);
        self.cache.is_some()
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }

    /// Every severity, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// A severity by name, in any case (surrounding spaces ignored).
    pub fn parse(s: &str) -> Option<Severity> {
        let s = s.trim();
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// Read from configuration in any case, with an error that names the choices.
impl<'de> serde::Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Severity, D::Error> {
        let text = String::deserialize(d)?;
        Severity::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "'{text}' is not one of LOW, MEDIUM, HIGH, CRITICAL"
            ))
        })
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity name that is not one of LOW, MEDIUM, HIGH, CRITICAL.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown severity '{0}' (use LOW, MEDIUM, HIGH, CRITICAL)")]
pub struct UnknownSeverity(pub String);

impl std::str::FromStr for Severity {
    type Err = UnknownSeverity;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::parse(s).ok_or_else(|| UnknownSeverity(s.to_string()))
    }
}

/// A check as its plugin declared it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckInfo {
    pub id: String,
    pub aliases: Vec<String>,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub category: String,
    pub kinds: Vec<String>,
    pub remediation: String,
    pub compliance: Vec<String>,
    pub default_enabled: bool,
}

impl CheckInfo {
    /// Whether the check applies to a resource of this kind (case-insensitive, "*" = all).
    pub fn applies_to(&self, kind: &str) -> bool {
        self.kinds
            .iter()
            .any(|k| k == "*" || k.eq_ignore_ascii_case(kind))
    }

    /// Whether `name` is this check's id or one of its aliases (case-insensitive).
    pub fn is_named(&self, name: &str) -> bool {
        self.id.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// What a plugin says about itself.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    pub settings_help: String,
    pub checks: Vec<CheckInfo>,
}

/// A plugin component loaded from a file and verified against the contract.
pub struct Plugin {
    pub file: PathBuf,
    pub sha256: String,
    pub info: PluginInfo,
    /// Names of the component's imports (WASI interfaces it may call; all denied).
    pub imports: Vec<String>,
    /// Names of the component's exports (the contract interface among them).
    pub exports: Vec<String>,
    pub(crate) pre: PluginPre<State>,
    /// `evaluate-tree`, when the plugin exports `tollgate:policy/tree`.
    pub(crate) evaluate_tree: Option<ComponentExportIndex>,
    pub(crate) sandbox: Sandbox,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("file", &self.file)
            .field("name", &self.info.name)
            .finish()
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Plugin {
    /// Loads, verifies and describes a plugin. With `pin`, the file's sha256 must match
    /// before anything is compiled.
    pub fn load(sandbox: &Sandbox, file: &Path, pin: Option<&str>) -> Result<Plugin, PluginError> {
        let bytes = std::fs::read(file).map_err(|source| PluginError::Read {
            file: file.to_path_buf(),
            source,
        })?;
        let sha256 = sha256_hex(&bytes);
        if let Some(expected) = pin {
            let expected = expected.trim_start_matches("sha256:").to_ascii_lowercase();
            if expected != sha256 {
                return Err(PluginError::Digest {
                    file: file.to_path_buf(),
                    expected,
                    actual: sha256,
                });
            }
        }
        Self::from_bytes(sandbox, file, &bytes, sha256)
    }

    /// Loads a component held in memory (a plugin embedded in the binary), named
    /// `file` in reports and errors, whose sha256 is already known.
    pub fn from_bytes(
        sandbox: &Sandbox,
        file: &Path,
        bytes: &[u8],
        sha256: String,
    ) -> Result<Plugin, PluginError> {
        let not_component = |reason: String| PluginError::NotComponent {
            file: file.to_path_buf(),
            reason,
        };
        let contract = |reason: String| PluginError::Contract {
            file: file.to_path_buf(),
            reason,
        };
        if bytes.len() < 8 || &bytes[0..4] != b"\0asm" {
            return Err(not_component(
                "the file does not start with the WebAssembly magic bytes; is it a .wasm file?"
                    .into(),
            ));
        }
        if bytes[4..8] == [1, 0, 0, 0] {
            return Err(not_component(
                "this is a core WebAssembly module, not a component; build the plugin for \
                 wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
                    .into(),
            ));
        }
        let component = match &sandbox.cache {
            Some(cache) => cache.load_or_compile(&sandbox.engine, &sha256, bytes),
            None => Component::new(&sandbox.engine, bytes),
        }
        .map_err(|e| not_component(format!("{}", e.root_cause())))?;

        let ty = component.component_type();
        let exports: Vec<String> = ty
            .exports(&sandbox.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        let imports: Vec<String> = ty
            .imports(&sandbox.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        check_exports(&exports).map_err(&contract)?;
        let foreign: Vec<&String> = imports.iter().filter(|i| !i.starts_with("wasi:")).collect();
        if !foreign.is_empty() {
            return Err(contract(format!(
                "it imports {}, which this host does not provide; a plugin may import only \
                 WASI 0.2 interfaces (and gets a sandbox that denies them)",
                foreign
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let pre = sandbox
            .linker
            .instantiate_pre(&component)
            .map_err(|e| contract(format!("{}", e.root_cause())))?;
        let pre = PluginPre::new(pre).map_err(|e| {
            contract(format!(
                "{}; this host expects {EXPORT} with describe, configure and evaluate",
                e.root_cause()
            ))
        })?;
        let evaluate_tree = tree_export(&component, &exports).map_err(&contract)?;
        let mut plugin = Plugin {
            file: file.to_path_buf(),
            sha256,
            info: PluginInfo {
                name: String::new(),
                version: String::new(),
                description: String::new(),
                settings_help: String::new(),
                checks: vec![],
            },
            imports,
            exports,
            pre,
            evaluate_tree,
            sandbox: sandbox.clone(),
        };
        let mut instance = Instance::new(&plugin)?;
        let info = instance.describe()?;
        validate_info(&info).map_err(contract)?;
        plugin.info = info;
        Ok(plugin)
    }

    /// A fresh instance, ready to be configured.
    pub fn instantiate(&self) -> Result<Instance, PluginError> {
        Instance::new(self)
    }

    /// Whether the plugin reads objects in the tree encoding (exports
    /// `tollgate:policy/tree`); it then gets them through `evaluate-tree`.
    pub fn reads_trees(&self) -> bool {
        self.evaluate_tree.is_some()
    }

    /// The name shown in reports: the plugin's own name.
    pub fn name(&self) -> &str {
        &self.info.name
    }
}

/// Whether an exported contract version can be called by this host: same major and
/// minor version (0.1.x plugins load in any 0.1.y host).
fn compatible(version: &str) -> bool {
    version
        .split('.')
        .take(2)
        .eq(CONTRACT_VERSION.split('.').take(2))
}

/// Finds `evaluate-tree` in a compatible `tollgate:policy/tree` export (0.1.1 and later
/// 0.1.x); its signature is checked when an instance is made.
fn tree_export(
    component: &Component,
    exports: &[String],
) -> Result<Option<ComponentExportIndex>, String> {
    let Some(name) = exports.iter().find(|e| e.starts_with(TREE_EXPORT_PREFIX)) else {
        return Ok(None);
    };
    if !compatible(&name[TREE_EXPORT_PREFIX.len()..]) {
        return Err(format!(
            "it exports {name}, but this host implements {CONTRACT}; rebuild the plugin \
             against this host's wit/policy.wit"
        ));
    }
    let interface = component
        .get_export_index(None, name)
        .ok_or_else(|| format!("cannot find the export {name}"))?;
    let func = component
        .get_export_index(Some(&interface), "evaluate-tree")
        .ok_or_else(|| format!("{name} does not export evaluate-tree"))?;
    Ok(Some(func))
}

fn check_exports(exports: &[String]) -> Result<(), String> {
    if exports.iter().any(|e| e == EXPORT) {
        return Ok(());
    }
    if let Some(other) = exports.iter().find(|e| e.starts_with(EXPORT_PREFIX)) {
        let version = &other[EXPORT_PREFIX.len()..];
        if compatible(version) {
            return Ok(());
        }
        return Err(format!(
            "it was built against contract tollgate:policy@{version}, but this host implements \
             {CONTRACT} (compatible: 0.1.x); rebuild the plugin against this host's wit/policy.wit"
        ));
    }
    let listed = if exports.is_empty() {
        "nothing".to_string()
    } else {
        exports
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(format!(
        "it exports {listed}, but this host expects `{EXPORT}` (world tollgate:policy/plugin)"
    ))
}

fn validate_info(info: &PluginInfo) -> Result<(), String> {
    if info.name.trim().is_empty() {
        return Err("describe() returned an empty plugin name".into());
    }
    let mut seen = std::collections::HashSet::new();
    for c in &info.checks {
        if c.id.trim().is_empty() {
            return Err("describe() returned a check with an empty id".into());
        }
        if !seen.insert(c.id.to_ascii_lowercase()) {
            return Err(format!("describe() declares check {} twice", c.id));
        }
        if c.kinds.is_empty() {
            return Err(format!(
                "check {} declares no kinds (use \"*\" for every kind)",
                c.id
            ));
        }
    }
    Ok(())
}

pub(crate) fn convert_info(w: wit::PluginInfo) -> PluginInfo {
    PluginInfo {
        name: w.name,
        version: w.version,
        description: w.description,
        settings_help: w.settings_help,
        checks: w
            .checks
            .into_iter()
            .map(|c| CheckInfo {
                id: c.id,
                aliases: c.aliases,
                title: c.title,
                description: c.description,
                severity: match c.severity {
                    wit::Severity::Low => Severity::Low,
                    wit::Severity::Medium => Severity::Medium,
                    wit::Severity::High => Severity::High,
                    wit::Severity::Critical => Severity::Critical,
                },
                category: c.category,
                kinds: c.kinds,
                remediation: c.remediation,
                compliance: c.compliance,
                default_enabled: c.default_enabled,
            })
            .collect(),
    }
}
