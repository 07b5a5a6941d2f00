//! Exemptions: findings a team has accepted, never silently. From the configuration
//! (check ids + resource selector + reason + optional expiry) or from the manifest
//! itself (the `tollgate.dev/exempt` annotation). An exempted finding stays in the
//! report, marked with its reason and source, and does not count toward the exit status;
//! an expired exemption stops applying and is reported; one that matched nothing is
//! reported as stale. The rules never change once made, so one set serves every
//! thread; what each scan matched is counted by its report (see [`Exemptions::find`]).

use serde::Serialize;
use tollgate_runtime::CheckInfo;

use crate::clock::today;
use crate::config::{glob, Exemption};
use crate::input::Resource;
use crate::kube::DEFAULT_NAMESPACE;
use crate::plugins::primary_id;

/// The annotation that exempts checks on one resource: `"KSV013, KSV011: why"`.
pub use crate::input::EXEMPT_ANNOTATION as ANNOTATION;

/// Why a finding is not counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub reason: String,
    /// "tollgate.yaml exemptions[0]" or "annotation tollgate.dev/exempt".
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// A configured exemption and what became of it in this scan.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub source: String,
    pub checks: Vec<String>,
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    pub reason: String,
    pub expires: Option<String>,
    /// active, expired or stale (active but matched nothing).
    pub status: String,
    pub matched: usize,
}

struct Rule {
    spec: Exemption,
    source: String,
    ids: Vec<String>,
    expired: bool,
}

/// An exemption annotation that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationError {
    #[error("annotation {} must read \"CHECK[, CHECK...]: reason\", got '{}'", ANNOTATION, .0)]
    Syntax(String),
    #[error("annotation {} needs check ids and a reason: \"KSV013: why\", got '{}'", ANNOTATION, .0)]
    Incomplete(String),
    #[error("annotation {} names unknown check '{}'", ANNOTATION, .0)]
    UnknownCheck(String),
}

/// A finding an exemption covers: why, and which configured rule said so (`None` for
/// the annotation), for the caller to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub applied: Applied,
    pub rule: Option<usize>,
}

pub struct Exemptions {
    rules: Vec<Rule>,
    annotations: AnnotationTrust,
}

/// Whose word an exemption annotation on the object under review is taken on.
///
/// Threat: at admission, the object under review is written by the tenant the check
/// protects against; an annotation on it that waived checks would let any tenant who
/// can create a Pod exempt it from any check. So `serve` honours annotations only
/// where an administrator's grant (`admission.annotation_exemptions`) covers the check
/// and namespace, and a grant's `*` never covers a check at or above `deny_on`.
/// A scan honours them: the repository's owner wrote them.
#[derive(Debug, Clone, Default)]
pub enum AnnotationTrust {
    /// Honoured (a scan of one's own manifests).
    #[default]
    Honour,
    /// Ignored (`scan --ignore-annotation-exemptions`).
    Ignore,
    /// Honoured only where a grant covers the check and namespace (the webhook; no
    /// grants: ignored).
    Granted(Vec<Grant>),
}

/// Where an annotation may waive which checks (`admission.annotation_exemptions[i]`).
#[derive(Debug, Clone)]
pub struct Grant {
    /// Primary ids of the checks named; they may be waived at any severity.
    pub checks: Vec<String>,
    /// `*` given: any check below `below` may be waived.
    pub any_below: Option<tollgate_runtime::Severity>,
    /// Namespace globs; empty: every namespace.
    pub namespaces: Vec<String>,
}

impl Grant {
    /// A grant that names namespaces never covers a cluster-scoped object (`None`).
    fn covers(
        &self,
        check: &str,
        severity: tollgate_runtime::Severity,
        namespace: Option<&str>,
    ) -> bool {
        let check_ok = self.checks.iter().any(|c| c == check)
            || self.any_below.is_some_and(|below| severity < below);
        let place_ok = self.namespaces.is_empty()
            || namespace.is_some_and(|ns| self.namespaces.iter().any(|n| glob(n, ns)));
        check_ok && place_ok
    }
}

impl Exemptions {
    pub fn new(file: &str, list: &[Exemption], catalogue: &[&CheckInfo]) -> Self {
        let sourced: Vec<(String, Exemption)> = list
            .iter()
            .enumerate()
            .map(|(i, x)| (format!("{file} exemptions[{i}]"), x.clone()))
            .collect();
        Self::sourced(sourced, catalogue)
    }

    /// Exemptions that each say where they came from (`FILE exemptions[0]`,
    /// `.trivyignore line 3`).
    pub fn sourced(list: Vec<(String, Exemption)>, catalogue: &[&CheckInfo]) -> Self {
        let now = today();
        let rules = list
            .into_iter()
            .map(|(source, x)| Rule {
                source,
                ids: x
                    .checks
                    .iter()
                    .filter_map(|c| primary_id(catalogue.iter().copied(), c))
                    .collect(),
                expired: x.expires.is_some_and(|d| d <= now),
                spec: x,
            })
            .collect();
        Exemptions {
            rules,
            annotations: AnnotationTrust::Honour,
        }
    }

    /// The same rules, with exemption annotations taken as `trust` says.
    pub fn with_annotations(mut self, trust: AnnotationTrust) -> Self {
        self.annotations = trust;
        self
    }

    pub fn none() -> Self {
        Exemptions {
            rules: Vec::new(),
            annotations: AnnotationTrust::Honour,
        }
    }

    /// How many exemptions are configured (the length of a match count list).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The exemption that covers a failed check of `severity` on a resource, if any.
    pub fn find(
        &self,
        r: &Resource,
        check: &str,
        severity: tollgate_runtime::Severity,
        catalogue: &[&CheckInfo],
    ) -> Result<Option<Match>, AnnotationError> {
        let namespace = r.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
        let name = r.name.as_deref().unwrap_or("");
        let file = r.file.trim_start_matches("./");
        for (index, rule) in self.rules.iter().enumerate().filter(|(_, x)| !x.expired) {
            let sel = |p: &Option<String>, v: &str| p.as_deref().is_none_or(|p| glob(p, v));
            if rule.ids.iter().any(|i| i == check)
                && sel(&rule.spec.kind, &r.kind)
                && sel(&rule.spec.namespace, namespace)
                && sel(&rule.spec.name, name)
                && (rule.spec.paths.is_empty() || rule.spec.paths.iter().any(|p| glob(p, file)))
            {
                return Ok(Some(Match {
                    applied: Applied {
                        reason: rule.spec.reason.clone(),
                        source: rule.source.clone(),
                        expires: rule.spec.expires.map(|d| d.to_string()),
                    },
                    rule: Some(index),
                }));
            }
        }
        let honoured = match &self.annotations {
            AnnotationTrust::Honour => true,
            AnnotationTrust::Ignore => false,
            AnnotationTrust::Granted(grants) => grants
                .iter()
                .any(|g| g.covers(check, severity, r.namespace.as_deref())),
        };
        if let Some(text) = r.exempt_annotation.as_ref().filter(|_| honoured) {
            let (ids, reason) = parse_annotation(text)?;
            for id in ids {
                match primary_id(catalogue.iter().copied(), id) {
                    Some(p) if p == check => {
                        return Ok(Some(Match {
                            applied: Applied {
                                reason: reason.to_string(),
                                source: format!("annotation {ANNOTATION}"),
                                expires: None,
                            },
                            rule: None,
                        }))
                    }
                    Some(_) => {}
                    None => return Err(AnnotationError::UnknownCheck(id.to_string())),
                }
            }
        }
        Ok(None)
    }

    /// Every configured exemption's status, given how many findings each matched
    /// (`matched[i]` for rule `i`, as counted from [`Match::rule`]).
    pub fn statuses(&self, matched: &[usize]) -> Vec<Status> {
        self.rules
            .iter()
            .zip(matched.iter().copied().chain(std::iter::repeat(0)))
            .map(|(r, matched)| Status {
                source: r.source.clone(),
                checks: r.spec.checks.clone(),
                kind: r.spec.kind.clone(),
                namespace: r.spec.namespace.clone(),
                name: r.spec.name.clone(),
                paths: r.spec.paths.clone(),
                reason: r.spec.reason.clone(),
                expires: r.spec.expires.map(|d| d.to_string()),
                status: if r.expired {
                    "expired"
                } else if matched == 0 {
                    "stale"
                } else {
                    "active"
                }
                .into(),
                matched,
            })
            .collect()
    }
}

/// `"KSV013, KSV-0011: the reason"` → (ids, reason).
pub fn parse_annotation(text: &str) -> Result<(Vec<&str>, &str), AnnotationError> {
    let (ids, reason) = text
        .split_once(':')
        .ok_or_else(|| AnnotationError::Syntax(text.to_string()))?;
    let ids: Vec<&str> = ids
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let reason = reason.trim();
    if ids.is_empty() || reason.is_empty() {
        return Err(AnnotationError::Incomplete(text.to_string()));
    }
    Ok((ids, reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_runtime::Severity;

    #[test]
    fn grants_cover_named_checks_anywhere_and_star_only_below_deny_on() {
        let named = Grant {
            checks: vec!["KSV017".into()],
            any_below: None,
            namespaces: vec!["debug-*".into()],
        };
        assert!(named.covers("KSV017", Severity::High, Some("debug-1")));
        assert!(!named.covers("KSV017", Severity::High, Some("shop")));
        assert!(!named.covers("KSV014", Severity::Low, Some("debug-1")));
        // A grant that names namespaces never covers a cluster-scoped object.
        assert!(!named.covers("KSV017", Severity::High, None));
        let star = Grant {
            checks: vec![],
            any_below: Some(Severity::High),
            namespaces: vec![],
        };
        assert!(star.covers("KSV014", Severity::Medium, None));
        assert!(!star.covers("KSV017", Severity::High, Some("x")));
        assert!(!star.covers("KSV017", Severity::Critical, Some("x")));
    }

    #[test]
    fn annotations_read_ids_and_reason() {
        assert_eq!(
            parse_annotation("KSV013, KSV-0011: why").unwrap(),
            (vec!["KSV013", "KSV-0011"], "why")
        );
        assert!(matches!(
            parse_annotation("KSV013"),
            Err(AnnotationError::Syntax(_))
        ));
        assert!(matches!(
            parse_annotation(": why"),
            Err(AnnotationError::Incomplete(_))
        ));
    }
}
