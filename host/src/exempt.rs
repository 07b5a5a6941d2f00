//! Exemptions: findings a team has accepted, never silently. From the configuration
//! (check ids + resource selector + reason + optional expiry) or from the manifest
//! itself (the `tollgate.dev/exempt` annotation). An exempted finding stays in the
//! report, marked with its reason and source, and does not count toward the exit status;
//! an expired exemption stops applying and is reported; one that matched nothing is
//! reported as stale.

use serde::Serialize;
use tollgate_runtime::CheckInfo;

use crate::config::{glob, parse_date, today, Exemption};
use crate::input::Resource;
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
    matched: usize,
}

pub struct Exemptions {
    rules: Vec<Rule>,
}

impl Exemptions {
    pub fn new(file: &str, list: &[Exemption], catalogue: &[&CheckInfo]) -> Self {
        let now = today();
        let rules = list
            .iter()
            .enumerate()
            .map(|(i, x)| Rule {
                spec: x.clone(),
                source: format!("{file} exemptions[{i}]"),
                ids: x
                    .checks
                    .iter()
                    .filter_map(|c| primary_id(catalogue.iter().copied(), c))
                    .collect(),
                expired: x
                    .expires
                    .as_deref()
                    .and_then(parse_date)
                    .is_some_and(|d| d <= now),
                matched: 0,
            })
            .collect();
        Exemptions { rules }
    }

    pub fn none() -> Self {
        Exemptions { rules: Vec::new() }
    }

    /// The exemption that covers a failed check on a resource, if any.
    pub fn find(
        &mut self,
        r: &Resource,
        check: &str,
        catalogue: &[&CheckInfo],
    ) -> Result<Option<Applied>, String> {
        let namespace = r.namespace.as_deref().unwrap_or("default");
        let name = r.name.as_deref().unwrap_or("");
        for rule in self.rules.iter_mut().filter(|x| !x.expired) {
            let sel = |p: &Option<String>, v: &str| p.as_deref().is_none_or(|p| glob(p, v));
            if rule.ids.iter().any(|i| i == check)
                && sel(&rule.spec.kind, &r.kind)
                && sel(&rule.spec.namespace, namespace)
                && sel(&rule.spec.name, name)
            {
                rule.matched += 1;
                return Ok(Some(Applied {
                    reason: rule.spec.reason.clone(),
                    source: rule.source.clone(),
                    expires: rule.spec.expires.clone(),
                }));
            }
        }
        if let Some(text) = &r.exempt_annotation {
            let (ids, reason) = parse_annotation(text)?;
            for id in ids {
                match primary_id(catalogue.iter().copied(), id) {
                    Some(p) if p == check => {
                        return Ok(Some(Applied {
                            reason: reason.to_string(),
                            source: format!("annotation {ANNOTATION}"),
                            expires: None,
                        }))
                    }
                    Some(_) => {}
                    None => {
                        return Err(format!(
                            "annotation {ANNOTATION} names unknown check '{id}'"
                        ))
                    }
                }
            }
        }
        Ok(None)
    }

    pub fn statuses(&self) -> Vec<Status> {
        self.rules
            .iter()
            .map(|r| Status {
                source: r.source.clone(),
                checks: r.spec.checks.clone(),
                kind: r.spec.kind.clone(),
                namespace: r.spec.namespace.clone(),
                name: r.spec.name.clone(),
                reason: r.spec.reason.clone(),
                expires: r.spec.expires.clone(),
                status: if r.expired {
                    "expired"
                } else if r.matched == 0 {
                    "stale"
                } else {
                    "active"
                }
                .into(),
                matched: r.matched,
            })
            .collect()
    }
}

/// `"KSV013, KSV-0011: the reason"` → (ids, reason).
pub fn parse_annotation(text: &str) -> Result<(Vec<&str>, &str), String> {
    let (ids, reason) = text.split_once(':').ok_or_else(|| {
        format!("annotation {ANNOTATION} must read \"CHECK[, CHECK...]: reason\", got '{text}'")
    })?;
    let ids: Vec<&str> = ids
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let reason = reason.trim();
    if ids.is_empty() || reason.is_empty() {
        return Err(format!(
            "annotation {ANNOTATION} needs check ids and a reason: \"KSV013: why\", got '{text}'"
        ));
    }
    Ok((ids, reason))
}
