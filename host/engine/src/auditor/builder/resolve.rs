//! What flags and configuration make of the loaded plugins: the sources in load order,
//! settings (the builder's over the configuration's), checks switched on and off, and
//! the policy (severity overrides, threshold, exemptions and how annotations count).

use std::path::Path;

use tollgate_runtime::Severity;

use super::{Annotations, AuditorBuilder, BuildError, Bundle};
use crate::config::{Config, ConfigError, Exemption, Filter};
use crate::exempt::{AnnotationTrust, Exemptions, Grant};
use crate::plugins::{self, ActivePlugin, DefaultBundle, PluginSource};
use crate::policy::Policy;

impl AuditorBuilder {
    /// The bundle's files, then the configuration's plugins, then the builder's.
    pub(super) fn sources(
        &self,
        config: &Config,
        config_file: Option<&Path>,
        cfg_err: &dyn Fn(String, String) -> ConfigError,
    ) -> Result<Vec<PluginSource>, BuildError> {
        let mut sources = Vec::new();
        let dir = match &self.bundle {
            Bundle::None => None,
            Bundle::Dir(d) => Some(d.clone()),
            Bundle::Default => match plugins::default_bundle(!self.embedded.is_empty())
                .ok_or(BuildError::NoBundle)?
            {
                DefaultBundle::Dir(d) => Some(d),
                DefaultBundle::Embedded => {
                    sources.extend(self.embedded.iter().cloned());
                    None
                }
            },
        };
        if let Some(dir) = dir {
            let files =
                plugins::bundle_files(&dir).map_err(|error| BuildError::Bundle { dir, error })?;
            sources.extend(files.into_iter().map(PluginSource::file));
        }
        let base = config_file
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        for (i, p) in config.plugins.iter().enumerate() {
            let text = p.path.to_string_lossy();
            if text.starts_with(plugins::OCI_SCHEME) {
                let r = PluginSource::parse(&text)
                    .map_err(|e| cfg_err(format!("plugins[{i}].path"), e.to_string()))?;
                sources.push(r);
                continue;
            }
            sources.push(
                PluginSource::File {
                    path: p.path.clone(),
                    pin: p.sha256.clone(),
                }
                .relative_to(&base),
            );
        }
        sources.extend(self.sources.iter().cloned());
        if sources.is_empty() {
            return Err(BuildError::NoPlugins);
        }
        Ok(sources)
    }

    /// (plugin name, settings JSON, whether from the configuration); the builder's win.
    pub(super) fn merged_settings(
        &self,
        config: &Config,
    ) -> Result<Vec<(String, String, bool)>, BuildError> {
        let mut settings: Vec<(String, String, bool)> = config
            .settings
            .iter()
            .map(|(n, v)| (n.clone(), v.to_string(), true))
            .collect();
        for (name, json) in &self.settings {
            serde_json::from_str::<serde_json::Value>(json).map_err(|error| {
                BuildError::SettingsJson {
                    name: name.clone(),
                    error,
                }
            })?;
            settings.retain(|(m, _, _)| m != name);
            settings.push((name.clone(), json.clone(), false));
        }
        Ok(settings)
    }
}

/// The configuration's `checks.enable` and `checks.disable`, over the plugins' defaults.
pub(super) fn switch_checks(active: &mut [ActivePlugin], config: &Config) {
    for p in active {
        let (checks, enabled) = (&p.plugin.info.checks, &mut p.enabled);
        for (i, c) in checks.iter().enumerate() {
            if config.checks.enable.iter().any(|id| c.is_named(id)) {
                enabled[i] = true;
            }
            if config.checks.disable.iter().any(|id| c.is_named(id)) {
                enabled[i] = false;
            }
        }
    }
}

/// Severity overrides, threshold and exemptions; the configuration is validated.
pub(super) fn policy(
    active: &[ActivePlugin],
    config: &Config,
    file: &str,
    fail_on: Option<Severity>,
    annotations: Annotations,
    extra_exemptions: Vec<(String, Exemption)>,
) -> Policy {
    let catalogue: Vec<_> = active.iter().flat_map(|p| p.checks()).collect();
    let trust = match annotations {
        Annotations::Ignore => AnnotationTrust::Ignore,
        Annotations::Config if config.ignore_annotation_exemptions => AnnotationTrust::Ignore,
        Annotations::Config => AnnotationTrust::Honour,
        Annotations::Admission(deny_on) => AnnotationTrust::Granted(
            config
                .admission
                .annotation_exemptions
                .iter()
                .map(|g| Grant {
                    checks: g
                        .checks
                        .iter()
                        .filter_map(|c| plugins::primary_id(catalogue.iter().copied(), c))
                        .collect(),
                    any_below: g.checks.iter().any(|c| c == "*").then_some(deny_on),
                    namespaces: g.namespaces.clone(),
                })
                .collect(),
        ),
    };
    let severity = config
        .severity
        .iter()
        .filter_map(|(id, sev)| Some((plugins::primary_id(catalogue.iter().copied(), id)?, *sev)))
        .collect();
    Policy {
        severity,
        fail_on: fail_on.or(config.fail_on).unwrap_or(Severity::Low),
        exemptions: Exemptions::sourced(
            config
                .exemptions
                .iter()
                .enumerate()
                .map(|(i, x)| (format!("{file} exemptions[{i}]"), x.clone()))
                .chain(extra_exemptions)
                .collect(),
            &catalogue,
        )
        .with_annotations(trust),
    }
}

pub(super) fn extend(filter: &mut Filter, more: &Filter) {
    filter.include.extend(more.include.iter().cloned());
    filter.exclude.extend(more.exclude.iter().cloned());
}
