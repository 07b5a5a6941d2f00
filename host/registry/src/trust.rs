//! The trust policy (`trust:` in tollgate.yaml): which repositories remote plugins may
//! come from, which keys must have signed them, and whether unsigned ones run (by
//! default they do not). Local files are not affected: a file is trusted by whoever
//! put it there, and pinned with `@sha256:` when that matters.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cosign::{KeyError, PublicKey};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrustConfig {
    /// Public keys (cosign.pub files) whose signature admits a plugin from any allowed
    /// repository; paths are relative to the configuration file.
    pub keys: Vec<PathBuf>,
    /// Run remote plugins that carry no valid signature (default: refused).
    pub allow_unsigned: bool,
    /// The repositories remote plugins may come from; empty: any. The first rule whose
    /// pattern matches `registry/repository` decides, with its own keys when it names
    /// some.
    pub repositories: Vec<RepositoryRule>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryRule {
    /// Glob on `registry/repository`, e.g. `registry.example.com/policies/*`.
    pub name: String,
    /// Keys for this repository, instead of `trust.keys`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<PathBuf>>,
    /// Overrides `trust.allow_unsigned` for this repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_unsigned: Option<bool>,
}

/// What a remote plugin from one repository needs before it runs.
pub enum Requirement<'a> {
    /// A valid signature by one of these keys.
    Signed { keys: &'a [PublicKey], rule: String },
    /// Nothing: the policy admits it unsigned.
    Unsigned { rule: String },
}

/// The trust policy with its keys loaded.
pub struct Trust {
    default_keys: Vec<PublicKey>,
    allow_unsigned: bool,
    rules: Vec<(RepositoryRule, Option<Vec<PublicKey>>)>,
}

impl Trust {
    /// Loads the keys the policy names (relative to `base`) and `extra` keys (from the
    /// command line), which join `trust.keys`.
    pub fn load(config: &TrustConfig, base: &Path, extra: &[PathBuf]) -> Result<Trust, KeyError> {
        let load = |paths: &[PathBuf]| -> Result<Vec<PublicKey>, KeyError> {
            paths
                .iter()
                .map(|p| PublicKey::load(&base.join(p)))
                .collect()
        };
        let mut default_keys = load(&config.keys)?;
        for p in extra {
            default_keys.push(PublicKey::load(p)?);
        }
        let rules = config
            .repositories
            .iter()
            .map(|r| Ok((r.clone(), r.keys.as_deref().map(load).transpose()?)))
            .collect::<Result<_, KeyError>>()?;
        Ok(Trust {
            default_keys,
            allow_unsigned: config.allow_unsigned,
            rules,
        })
    }

    /// A policy that only asks for a signature by `keys` (`plugin pull --key`,
    /// `plugin verify`), or nothing when there are none.
    pub fn keys_only(keys: Vec<PublicKey>) -> Trust {
        Trust {
            allow_unsigned: keys.is_empty(),
            default_keys: keys,
            rules: Vec::new(),
        }
    }

    /// What a plugin from `repo_path` (`registry/repository`) needs, or why it may not
    /// be used at all.
    pub fn requirement(&self, repo_path: &str) -> Result<Requirement<'_>, String> {
        let (keys, allow_unsigned, rule) = if self.rules.is_empty() {
            (
                &self.default_keys,
                self.allow_unsigned,
                "trust.keys".to_string(),
            )
        } else {
            let Some((i, (rule, keys))) = self
                .rules
                .iter()
                .enumerate()
                .find(|(_, (r, _))| wildmatch::WildMatch::new(&r.name).matches(repo_path))
            else {
                let names: Vec<&str> = self.rules.iter().map(|(r, _)| r.name.as_str()).collect();
                return Err(format!(
                    "repository {repo_path} is not allowed by trust.repositories ({})",
                    names.join(", ")
                ));
            };
            (
                keys.as_ref().unwrap_or(&self.default_keys),
                rule.allow_unsigned.unwrap_or(self.allow_unsigned),
                format!("trust.repositories[{i}] ({})", rule.name),
            )
        };
        if allow_unsigned {
            return Ok(Requirement::Unsigned { rule });
        }
        if keys.is_empty() {
            return Err(format!(
                "unsigned remote plugins are refused (trust.allow_unsigned is false) and {rule} \
                 names no key to verify a signature with: add the signer's cosign.pub to trust.keys (or pass \
                 --trusted-key), or set allow_unsigned: true"
            ));
        }
        Ok(Requirement::Signed { keys, rule })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_decides() {
        let config = TrustConfig {
            repositories: vec![
                RepositoryRule {
                    name: "r.example/scratch/*".into(),
                    allow_unsigned: Some(true),
                    ..Default::default()
                },
                RepositoryRule {
                    name: "r.example/*".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let t = Trust::load(&config, Path::new("."), &[]).unwrap();
        assert!(matches!(
            t.requirement("r.example/scratch/x"),
            Ok(Requirement::Unsigned { .. })
        ));
        let e = t.requirement("r.example/policies/x").err().unwrap();
        assert!(
            e.contains("trust.repositories[1]") && e.contains("no key"),
            "{e}"
        );
        let e = t.requirement("elsewhere.example/x").err().unwrap();
        assert!(e.contains("not allowed by trust.repositories"), "{e}");
        // No policy at all: unsigned plugins are refused.
        let t = Trust::load(&TrustConfig::default(), Path::new("."), &[]).unwrap();
        assert!(t.requirement("r.example/x").is_err());
    }
}
