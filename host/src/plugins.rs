//! Which plugins run: the built-in bundle found beside the binary, plus `--plugin` files,
//! each loaded, configured and checked for clashing check ids.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tollgate_runtime::{CheckInfo, Instance, Plugin, PluginError, Sandbox};

/// Resolves any id or alias (KSV011, KSV-0011, AVD-KSV-0011, ...) to the primary id of
/// a loaded check.
pub fn primary_id<'a>(
    mut checks: impl Iterator<Item = &'a CheckInfo>,
    name: &str,
) -> Option<String> {
    checks.find(|c| c.is_named(name)).map(|c| c.id.clone())
}

/// A plugin file to load, optionally pinned by sha256.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    pub path: PathBuf,
    pub sha256: Option<String>,
}

impl PluginSpec {
    /// Parses `FILE` or `FILE@sha256:HEX`.
    pub fn parse(s: &str) -> PluginSpec {
        match s.rsplit_once("@sha256:") {
            Some((path, hex)) => PluginSpec {
                path: PathBuf::from(path),
                sha256: Some(hex.to_string()),
            },
            None => PluginSpec {
                path: PathBuf::from(s),
                sha256: None,
            },
        }
    }
}

/// A plugin ready to evaluate: loaded, configured, with the checks that run. Shared
/// by every worker; each worker keeps its own instances in a [`Pool`].
pub struct ActivePlugin {
    pub plugin: Plugin,
    /// Settings JSON passed to every new instance.
    pub settings: String,
    /// Per check index: whether it runs.
    pub enabled: Vec<bool>,
}

impl ActivePlugin {
    pub fn checks(&self) -> &[CheckInfo] {
        &self.plugin.info.checks
    }

    /// A plugin configured with `settings`: refused settings are an error now, not
    /// during the scan.
    pub fn configured(plugin: Plugin, settings: String) -> Result<ActivePlugin, PluginError> {
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
        })
    }

    /// A new, configured instance.
    pub fn instance(&self) -> Result<Instance, PluginError> {
        let mut i = self.plugin.instantiate()?;
        i.configure(&self.settings)?;
        Ok(i)
    }
}

/// One worker's plugin instances and dispatch tables.
pub struct Pool {
    pub instances: Instances,
    pub dispatch: Dispatch,
}

impl Pool {
    pub fn new(plugins: usize) -> Self {
        Pool {
            instances: Instances {
                slots: (0..plugins).map(|_| None).collect(),
            },
            dispatch: Dispatch::default(),
        }
    }
}

/// One instance per plugin, reused from call to call. A slot is emptied when its
/// instance traps, so the next call gets a fresh one.
pub struct Instances {
    slots: Vec<Option<Instance>>,
}

impl Instances {
    /// Takes the plugin's instance out (creating it if needed); give it back with
    /// [`Instances::put`] unless it trapped.
    pub fn take(&mut self, index: usize, plugin: &ActivePlugin) -> Result<Instance, PluginError> {
        match self.slots[index].take() {
            Some(i) => Ok(i),
            None => plugin.instance(),
        }
    }

    pub fn put(&mut self, index: usize, instance: Instance) {
        self.slots[index] = Some(instance);
    }
}

/// Which checks of which plugin apply to a kind, decided once per kind and worker and
/// kept for the whole scan (enabled checks and their kinds do not change during it).
#[derive(Default)]
pub struct Dispatch {
    /// Per kind seen so far, an index into `tables`.
    kinds: HashMap<String, usize>,
    /// Per kind, per plugin: the checks that apply.
    tables: Vec<Vec<Vec<u32>>>,
}

impl Dispatch {
    /// The table of `kind` (see [`Dispatch::checks_for`]): one lookup per resource for
    /// all plugins.
    pub fn kind_table(&mut self, plugins: &[ActivePlugin], kind: &str) -> usize {
        if let Some(&t) = self.kinds.get(kind) {
            return t;
        }
        self.tables.push(
            plugins
                .iter()
                .map(|p| crate::evaluate::applicable(p, kind))
                .collect(),
        );
        self.kinds.insert(kind.to_string(), self.tables.len() - 1);
        self.tables.len() - 1
    }

    /// The indices of plugin `index`'s enabled checks that apply to the kind of
    /// `table` (from [`Dispatch::kind_table`]).
    pub fn checks_for(&self, table: usize, index: usize) -> &[u32] {
        &self.tables[table][index]
    }
}

/// The directory of the built-in bundle: `$TOLLGATE_PLUGIN_DIR`, else `plugins/` beside
/// the executable.
pub fn bundle_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("TOLLGATE_PLUGIN_DIR") {
        return Some(PathBuf::from(d));
    }
    let exe = std::env::current_exe().ok()?;
    let exe = exe.canonicalize().unwrap_or(exe);
    Some(exe.parent()?.join("plugins"))
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
/// the later plugin.
pub fn activate(
    sandbox: &Sandbox,
    specs: &[PluginSpec],
    settings: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<PluginError>,
    loaded_names: &mut Vec<(PathBuf, String)>,
) -> Vec<ActivePlugin> {
    let mut active: Vec<ActivePlugin> = Vec::new();
    for spec in specs {
        let plugin = match Plugin::load(sandbox, &spec.path, spec.sha256.as_deref()) {
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
            errors.push(PluginError::Contract {
                file: plugin.file.clone(),
                reason,
            });
            continue;
        }
        loaded_names.push((plugin.file.clone(), plugin.name().to_string()));
        let settings_json = settings(plugin.name()).unwrap_or_else(|| "{}".to_string());
        // Configure once up front: bad settings are reported before any scanning.
        match ActivePlugin::configured(plugin, settings_json) {
            Ok(p) => active.push(p),
            Err(e) => errors.push(e),
        }
    }
    active
}
