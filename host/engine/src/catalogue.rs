//! The catalogue of an auditor's plugins as typed values: every plugin with its checks
//! and whether each runs, and the plugins that could not be loaded. `tollgate checks`
//! renders it; a library user reads it.

use serde::Serialize;
use tollgate_runtime::CheckInfo;

use crate::plugins::ActivePlugin;
use crate::LoadError;

#[derive(Debug, Clone, Serialize)]
pub struct Catalogue {
    pub plugins: Vec<CataloguePlugin>,
    /// Plugins that could not be loaded or configured.
    pub errors: Vec<CatalogueError>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CataloguePlugin {
    pub name: String,
    pub version: String,
    pub description: String,
    /// What the plugin's settings accept, in its own words.
    pub settings_help: String,
    pub file: String,
    pub sha256: String,
    pub checks: Vec<CatalogueCheck>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatalogueCheck {
    #[serde(flatten)]
    pub info: CheckInfo,
    /// Whether it runs, after the plugin's settings and the configuration.
    pub enabled: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatalogueError {
    pub file: String,
    /// The error class (`read`, `digest`, `not-component`, `contract`, `settings`, ...).
    pub class: &'static str,
    pub message: String,
}

impl Catalogue {
    pub fn new(plugins: &[ActivePlugin], errors: &[LoadError]) -> Catalogue {
        Catalogue {
            plugins: plugins
                .iter()
                .map(|p| CataloguePlugin {
                    name: p.plugin.name().to_string(),
                    version: p.plugin.info.version.clone(),
                    description: p.plugin.info.description.clone(),
                    settings_help: p.plugin.info.settings_help.clone(),
                    file: p.plugin.file.display().to_string(),
                    sha256: p.plugin.sha256.clone(),
                    checks: p
                        .checks()
                        .iter()
                        .zip(&p.enabled)
                        .map(|(c, on)| CatalogueCheck {
                            info: c.clone(),
                            enabled: *on,
                        })
                        .collect(),
                })
                .collect(),
            errors: errors
                .iter()
                .map(|e| CatalogueError {
                    file: e.file().display().to_string(),
                    class: e.class(),
                    message: e.to_string(),
                })
                .collect(),
        }
    }

    /// Every check of every plugin, in plugin order.
    pub fn checks(&self) -> impl Iterator<Item = &CatalogueCheck> {
        self.plugins.iter().flat_map(|p| &p.checks)
    }
}
