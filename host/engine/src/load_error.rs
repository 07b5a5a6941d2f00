//! Why a plugin is not in an auditor: the sandbox refused it (see
//! [`tollgate_runtime::PluginError`]), or, for an `oci://` plugin, the trust policy or
//! the registry did. The sandbox knows nothing of registries; this is where the two
//! meet.

use std::path::{Path, PathBuf};

use tollgate_runtime::PluginError;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Plugin(#[from] PluginError),

    /// A registry plugin the trust policy does not admit.
    #[error("{file}: refused by the trust policy: {reason}")]
    Trust { file: PathBuf, reason: String },

    /// A registry plugin that could not be fetched.
    #[error("{file}: {reason}")]
    Registry { file: PathBuf, reason: String },
}

impl LoadError {
    /// The plugin's file or reference.
    pub fn file(&self) -> &Path {
        match self {
            LoadError::Plugin(e) => e.file(),
            LoadError::Trust { file, .. } | LoadError::Registry { file, .. } => file,
        }
    }

    /// A short machine-readable class, one of [`LoadError::CLASSES`].
    pub fn class(&self) -> &'static str {
        match self {
            LoadError::Plugin(e) => e.class(),
            LoadError::Trust { .. } => "trust",
            LoadError::Registry { .. } => "registry",
        }
    }

    /// Every class a plugin error of any kind (loading or evaluating) can have: metrics
    /// and reports label by these, never by text a plugin chose.
    pub fn classes() -> impl Iterator<Item = &'static str> {
        PluginError::CLASSES
            .iter()
            .copied()
            .chain(["trust", "registry"])
    }

    /// The sandbox's error, when it is one.
    pub fn as_plugin_error(&self) -> Option<&PluginError> {
        match self {
            LoadError::Plugin(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(feature = "oci")]
impl From<tollgate_registry::FetchError> for LoadError {
    fn from(e: tollgate_registry::FetchError) -> LoadError {
        use tollgate_registry::FetchError;
        match e {
            FetchError::Trust { reference, reason } => LoadError::Trust {
                file: reference.into(),
                reason,
            },
            FetchError::Registry { reference, reason } => LoadError::Registry {
                file: reference.into(),
                reason,
            },
            FetchError::NotPlugin { reference, reason } => {
                LoadError::Plugin(PluginError::NotComponent {
                    file: reference.into(),
                    reason,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_the_sandbox_ones_and_the_registry_ones() {
        let all: Vec<_> = LoadError::classes().collect();
        assert!(all.contains(&"trust") && all.contains(&"registry") && all.contains(&"trap"));
        let e = LoadError::Trust {
            file: "oci://r/p:1".into(),
            reason: "unsigned".into(),
        };
        assert_eq!(e.class(), "trust");
        assert_eq!(
            e.to_string(),
            "oci://r/p:1: refused by the trust policy: unsigned"
        );
        assert_eq!(e.file(), Path::new("oci://r/p:1"));
    }
}
