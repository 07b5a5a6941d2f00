//! Registry plugins for the builder: with the `oci` feature, fetched all at once through
//! tollgate-registry under the trust policy and the lock; without it, nothing to fetch
//! (an `oci://` source was refused when it was parsed).

use std::path::Path;
#[cfg(feature = "oci")]
use std::path::PathBuf;

use super::{AuditorBuilder, BuildError};
use crate::config::Config;
use crate::plugins::{self, PluginSource};
#[cfg(feature = "oci")]
use crate::registry::{self, RegistryOptions};

#[cfg(feature = "oci")]
impl AuditorBuilder {
    /// How registries are reached (plain-HTTP hosts, timeouts, attempts).
    pub fn registry(mut self, options: RegistryOptions) -> Self {
        self.registry = options;
        self
    }

    /// A public key (cosign.pub) whose signatures admit registry plugins, besides the
    /// configuration's `trust.keys`.
    pub fn trusted_key(mut self, path: impl Into<PathBuf>) -> Self {
        self.trusted_keys.push(path.into());
        self
    }

    /// Fetches the registry plugins among `sources`, all at once, under the trust
    /// policy and the lock.
    pub(super) fn fetch(
        &self,
        sources: &[PluginSource],
        config: &Config,
        config_file: Option<&Path>,
        cache_dir: Option<&Path>,
    ) -> Result<plugins::FetchedPlugins, BuildError> {
        let refs: Vec<registry::OciRef> = sources
            .iter()
            .filter_map(|s| match s {
                PluginSource::Oci(r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        if refs.is_empty() {
            return Ok(Default::default());
        }
        let base = config_file.and_then(Path::parent).unwrap_or(Path::new(""));
        let trust = registry::Trust::load(&config.trust, base, &self.trusted_keys)?;
        let lock = registry::Lock::read(&registry::lock::path_for(config_file))?;
        let hosts: Vec<&str> = refs.iter().map(|r| r.registry()).collect();
        let client = registry::Client::new(self.registry.clone(), &hosts)?;
        let store = cache_dir.and_then(registry::Store::open);
        let fetcher = registry::Fetcher::new(client, store, trust, lock);
        let results = fetcher.fetch_all(&refs);
        Ok(refs
            .into_iter()
            .zip(results)
            .map(|(r, got)| {
                let got = got
                    .map(|p| plugins::Fetched {
                        component: p.component,
                        sha256: p.sha256,
                    })
                    .map_err(crate::LoadError::from);
                (r.to_string(), got)
            })
            .collect())
    }
}

#[cfg(not(feature = "oci"))]
impl AuditorBuilder {
    /// Without registry support there is nothing to fetch: an `oci://` source was
    /// already refused when it was parsed.
    pub(super) fn fetch(
        &self,
        _: &[PluginSource],
        _: &Config,
        _: Option<&Path>,
        _: Option<&Path>,
    ) -> Result<plugins::FetchedPlugins, BuildError> {
        Ok(Default::default())
    }
}
