//! Making an [`Auditor`]: where plugins come from, their settings, the configuration,
//! limits, filters and scan options. Flags given to the builder win over the
//! configuration, as on the command line.

mod fetch;
mod resolve;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tollgate_runtime::{Limits, PluginError, Sandbox, SandboxError, Severity};

use super::{Auditor, Inner};
use crate::config::{Config, ConfigError};
use crate::input::InputLimits;
use crate::pipeline::{Filters, Options};
use crate::plugins::{self, PluginSource};
#[cfg(feature = "oci")]
use crate::registry::{self, RegistryOptions};
use crate::report::{self, SeverityFilter};
use resolve::{extend, policy, switch_checks};

/// Why an auditor could not be made. Plugins that fail to load are not among these:
/// they are kept in [`Auditor::load_errors`] and the others run.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error(
        "cannot read the built-in plugin bundle {}: {error}; run `cargo xtask build`, \
         pass --plugin-dir, or use --no-builtin with --plugin FILE",
        dir.display()
    )]
    Bundle { dir: PathBuf, error: std::io::Error },
    #[error("cannot locate the built-in plugin bundle; pass --plugin-dir")]
    NoBundle,
    #[error("no plugins to run: the bundle is empty and no --plugin was given")]
    NoPlugins,
    #[error("--plugin-settings for '{name}': not valid JSON: {error}")]
    SettingsJson {
        name: String,
        error: serde_json::Error,
    },
    #[error("--plugin-settings names plugin '{name}', which is not loaded (loaded: {loaded})")]
    UnknownPlugin { name: String, loaded: String },
    #[cfg(feature = "oci")]
    #[error(transparent)]
    Key(#[from] registry::cosign::KeyError),
    #[cfg(feature = "oci")]
    #[error(transparent)]
    Lock(#[from] registry::lock::LockError),
    #[cfg(feature = "oci")]
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
}

/// Which built-in bundle to load.
#[derive(Debug, Clone, Default)]
enum Bundle {
    /// `$TOLLGATE_PLUGIN_DIR`, else `plugins/` beside the executable.
    #[default]
    Default,
    Dir(PathBuf),
    None,
}

/// Builds an [`Auditor`]; every setting is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditorBuilder {
    bundle: Bundle,
    embedded: Vec<PluginSource>,
    sources: Vec<PluginSource>,
    settings: Vec<(String, String)>,
    default_settings: Option<String>,
    config: Option<(Config, Option<PathBuf>)>,
    time_limit: Option<Duration>,
    memory_limit: Option<usize>,
    no_cache: bool,
    fail_on: Option<Severity>,
    filters: Filters,
    input: InputLimits,
    jobs: Option<usize>,
    window: Option<usize>,
    batch: Option<usize>,
    severities: Option<SeverityFilter>,
    #[cfg(feature = "oci")]
    registry: RegistryOptions,
    #[cfg(feature = "oci")]
    trusted_keys: Vec<PathBuf>,
    breaker: crate::breaker::BreakerSettings,
    annotations: Annotations,
    /// The Kubernetes version of the target (wins over the configuration's).
    k8s_version: Option<String>,
    /// Renders charts and kustomizations found among the scanned paths.
    renderer: crate::pipeline::Renderer,
    /// Exemptions from elsewhere than the configuration (trivy's ignore files).
    extra_exemptions: Vec<(String, crate::config::Exemption)>,
}

/// How exemption annotations on the objects are taken.
#[derive(Debug, Clone, Copy, Default)]
enum Annotations {
    /// As the configuration says (`ignore_annotation_exemptions`).
    #[default]
    Config,
    Ignore,
    /// At admission: only where `admission.annotation_exemptions` allows, and `*`
    /// only below this severity.
    Admission(Severity),
}

impl AuditorBuilder {
    /// When a plugin that keeps running over its time limit is switched off, and
    /// whether it is tried again (see [`crate::breaker`]).
    pub fn switch_off(mut self, settings: crate::breaker::BreakerSettings) -> Self {
        self.breaker = settings;
        self
    }

    /// Ignores `tollgate.dev/exempt` annotations: only the configuration's exemptions
    /// apply (wins over the configuration).
    pub fn ignore_annotation_exemptions(mut self) -> Self {
        self.annotations = Annotations::Ignore;
        self
    }

    /// Takes exemption annotations as the webhook does: only where the configuration's
    /// `admission.annotation_exemptions` grants them, and a grant's `*` only for checks
    /// below `deny_on`.
    pub fn admission_annotations(mut self, deny_on: Severity) -> Self {
        self.annotations = Annotations::Admission(deny_on);
        self
    }

    /// The plugins this binary carries inside it: the built-in bundle when neither
    /// `$TOLLGATE_PLUGIN_DIR` nor `plugins/` beside the executable exists.
    pub fn embedded_bundle(mut self, plugins: Vec<PluginSource>) -> Self {
        self.embedded = plugins;
        self
    }

    /// Loads the built-in bundle from `dir` instead of the default place.
    pub fn bundle(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bundle = Bundle::Dir(dir.into());
        self
    }

    /// Loads no built-in bundle: only the plugins added with [`AuditorBuilder::plugin`]
    /// and the configuration's.
    pub fn no_bundle(mut self) -> Self {
        self.bundle = Bundle::None;
        self
    }

    /// Adds a plugin, after the bundle and the configuration's plugins.
    pub fn plugin(mut self, source: PluginSource) -> Self {
        self.sources.push(source);
        self
    }

    /// Settings (JSON text) for the plugin named `name`; they replace the
    /// configuration's settings for it.
    pub fn settings(mut self, name: impl Into<String>, json: impl Into<String>) -> Self {
        let name = name.into();
        self.settings.retain(|(n, _)| *n != name);
        self.settings.push((name, json.into()));
        self
    }

    /// Settings for every plugin that is given none (`tollgate plugin test --settings`).
    pub fn default_settings(mut self, json: impl Into<String>) -> Self {
        self.default_settings = Some(json.into());
        self
    }

    /// The configuration in force, and the file it was read from (plugin paths are
    /// relative to it, and errors name it).
    pub fn config(mut self, config: Config, file: Option<PathBuf>) -> Self {
        self.config = Some((config, file));
        self
    }

    /// Wall-clock limit per call into a plugin (wins over the configuration).
    pub fn time_limit(mut self, limit: Duration) -> Self {
        self.time_limit = Some(limit);
        self
    }

    /// Memory per plugin instance, in bytes (wins over the configuration).
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Neither reads nor writes the compiled-plugin cache.
    pub fn no_cache(mut self) -> Self {
        self.no_cache = true;
        self
    }

    /// More exemptions, each with where it came from, after the configuration's
    /// (see [`crate::trivyignore`]).
    pub fn exemptions(mut self, more: Vec<(String, crate::config::Exemption)>) -> Self {
        self.extra_exemptions.extend(more);
        self
    }

    /// Failed checks of this severity or worse count toward the exit status (wins over
    /// the configuration's `fail_on`).
    pub fn fail_on(mut self, severity: Severity) -> Self {
        self.fail_on = Some(severity);
        self
    }

    /// Namespace and kind globs, added to the configuration's.
    pub fn filters(mut self, filters: Filters) -> Self {
        self.filters = filters;
        self
    }

    pub fn input_limits(mut self, limits: InputLimits) -> Self {
        self.input = limits;
        self
    }

    /// Worker threads of a scan [default: one per CPU].
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = Some(jobs.max(1));
        self
    }

    /// Documents a scan holds in memory at once.
    pub fn window(mut self, documents: usize) -> Self {
        self.window = Some(documents.max(1));
        self
    }

    /// The Kubernetes version the objects are meant for, given to every plugin that
    /// takes `k8s_version` (wins over the configuration's `k8s_version`).
    pub fn k8s_version(mut self, version: impl Into<String>) -> Self {
        self.k8s_version = Some(version.into());
        self
    }

    /// Renders the Helm charts and kustomizations a scan finds (see [`crate::render`]);
    /// without one, each is an input error that says how to render it by hand.
    pub fn renderer(mut self, renderer: std::sync::Arc<dyn crate::pipeline::Render>) -> Self {
        self.renderer = crate::pipeline::Renderer(Some(renderer));
        self
    }

    /// Resources per call into a plugin.
    pub fn batch(mut self, resources: usize) -> Self {
        self.batch = Some(resources.max(1));
        self
    }

    /// Only failures of these severities are reported and counted.
    pub fn severities(mut self, severities: SeverityFilter) -> Self {
        self.severities = Some(severities);
        self
    }

    /// Loads and configures the plugins. Configuration mistakes are errors; a plugin
    /// that fails to load is not (see [`Auditor::load_errors`]).
    pub fn build(self) -> Result<Auditor, BuildError> {
        let (config, config_file) = self.config.clone().unwrap_or_default();
        let file_name = config_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let cfg_err = |key: String, message: String| ConfigError {
            file: file_name.clone(),
            key: format!("{key}: "),
            message,
        };
        let limits = Limits {
            time: self
                .time_limit
                .or(config.limits.time_ms.map(Duration::from_millis))
                .unwrap_or(Limits::default().time),
            memory: self
                .memory_limit
                .or(config.limits.memory_mib.map(|m| m << 20))
                .unwrap_or(Limits::default().memory),
            ..Limits::default()
        };
        let mut sandbox = Sandbox::new(limits)?;
        let cache_dir = (!self.no_cache)
            .then(tollgate_runtime::cache::default_dir)
            .flatten();
        if let Some(dir) = &cache_dir {
            // An unusable cache only costs time: plugins are then compiled in memory.
            sandbox.with_cache(dir);
        }
        let sources = self.sources(&config, config_file.as_deref(), &cfg_err)?;
        let pulled = self.fetch(
            &sources,
            &config,
            config_file.as_deref(),
            cache_dir.as_deref(),
        )?;
        let settings = self.merged_settings(&config)?;
        let facts: Vec<(&str, serde_json::Value)> = self
            .k8s_version
            .clone()
            .or_else(|| config.k8s_version.clone())
            .map(|v| ("k8s_version", serde_json::Value::String(v)))
            .into_iter()
            .collect();
        // A plugin's settings, with the facts about the target it says it takes.
        let lookup = |plugin: &tollgate_runtime::Plugin| {
            let own = settings
                .iter()
                .find(|(n, _, _)| n == plugin.name())
                .map(|(_, j, _)| j.clone())
                .or_else(|| self.default_settings.clone())
                .unwrap_or_else(|| "{}".to_string());
            plugins::with_facts(own, &plugin.info.settings_help, &facts)
        };
        let mut errors = Vec::new();
        let mut names: Vec<(PathBuf, String)> = Vec::new();
        let mut active = plugins::activate(
            &sandbox,
            &sources,
            pulled,
            &lookup,
            self.breaker,
            &mut errors,
            &mut names,
        );
        for (name, _, from_config) in &settings {
            if !names.iter().any(|(_, n)| n == name) {
                let loaded = names
                    .iter()
                    .map(|(_, n)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                if *from_config {
                    return Err(cfg_err(
                        format!("settings.{name}"),
                        format!("no loaded plugin is named '{name}' (loaded: {loaded})"),
                    )
                    .into());
                }
                return Err(BuildError::UnknownPlugin {
                    name: name.clone(),
                    loaded,
                });
            }
        }
        // Settings from the configuration that a plugin refuses are configuration errors.
        for e in &errors {
            if let Some(PluginError::Settings { file, message }) = e.as_plugin_error() {
                let name = names
                    .iter()
                    .find(|(f, _)| f == file)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_default();
                if settings.iter().any(|(n, _, c)| *n == name && *c) {
                    return Err(cfg_err(
                        format!("settings.{name}"),
                        format!("plugin '{name}' refuses them: {message}"),
                    )
                    .into());
                }
            }
        }
        if let Some(file) = &config_file {
            let known = |id: &str| {
                active
                    .iter()
                    .any(|p| p.checks().iter().any(|c| c.is_named(id)))
            };
            config.validate_ids(file, &known)?;
        }
        switch_checks(&mut active, &config);
        let policy = policy(
            &active,
            &config,
            &file_name,
            self.fail_on,
            self.annotations,
            self.extra_exemptions,
        );
        let mut filters = Filters {
            namespaces: config.namespaces.clone(),
            kinds: config.kinds.clone(),
        };
        extend(&mut filters.namespaces, &self.filters.namespaces);
        extend(&mut filters.kinds, &self.filters.kinds);
        let defaults = Options::default();
        let options = Options {
            jobs: self.jobs.unwrap_or(defaults.jobs),
            window: self.window.unwrap_or(defaults.window),
            batch: self.batch.unwrap_or(defaults.batch),
            input: self.input.clone(),
            filters,
            renderer: self.renderer.clone(),
        };
        Ok(Auditor {
            inner: Arc::new(Inner {
                metas: report::check_metas(&active),
                sandbox,
                plugins: active,
                load_errors: errors,
                policy,
                options,
                severities: self.severities.clone().unwrap_or_default(),
                config,
                config_file,
                idle: Mutex::new(Vec::new()),
            }),
        })
    }
}
