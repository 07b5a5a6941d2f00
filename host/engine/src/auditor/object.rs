//! One object in memory through the same parse, dispatch, sandbox, policy and report
//! entry as a scan: what an admission webhook or a node collector needs.

use serde_json::Value;

use super::Auditor;
use crate::evaluate;
use crate::input::{self, InputError};
use crate::report::{CheckEntry, ErrorEntry, ResourceEntry, Summary};

/// An object to evaluate: JSON or YAML text (one document), or a parsed value.
#[derive(Debug, Clone, Copy)]
pub enum Object<'a> {
    Json(&'a str),
    Yaml(&'a str),
    Value(&'a Value),
}

/// What the checks found on one object, with the policy applied.
#[derive(Debug, Clone)]
pub struct Verdicts {
    /// The object's report entry: its identity and every check applied to it, failed
    /// ones with their messages, exempted ones with the exemption.
    pub resource: ResourceEntry,
    /// Plugins that failed on the object (their checks are missing from `resource`),
    /// and an exemption annotation that could not be read.
    pub errors: Vec<ErrorEntry>,
    pub summary: Summary,
    /// The namespace or kind filters leave the object out: no check ran.
    pub filtered: bool,
}

impl Verdicts {
    /// The checks that failed and are not exempted.
    pub fn failed(&self) -> impl Iterator<Item = &CheckEntry> {
        self.resource
            .checks
            .iter()
            .filter(|c| !c.success && c.exempted.is_none())
    }

    /// As a scan's: 2 when a plugin failed, 1 when a check failed at or above the
    /// threshold, else 0.
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            2
        } else if self.summary.failed_at_threshold > 0 {
            1
        } else {
            0
        }
    }
}

/// Why an object could not be evaluated at all.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// Not valid JSON or YAML, too large or too deep.
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{origin}: {reason}")]
    NotAnObject { origin: String, reason: String },
    #[error(
        "{origin}: expected one object, found {found} (evaluate the items of a List one by one)"
    )]
    NotOne { origin: String, found: usize },
}

impl Auditor {
    /// Evaluates one object with every plugin, reusing a pooled set of plugin
    /// instances: the same verdicts as [`Auditor::scan`] gives the same object. Safe
    /// to call from many threads at once.
    pub fn evaluate(&self, object: Object<'_>) -> Result<Verdicts, ObjectError> {
        self.evaluate_named("-", object)
    }

    /// [`Auditor::evaluate`], naming the object's origin in errors and in the entry's
    /// `file` (e.g. `admission request 5f1c…`).
    pub fn evaluate_named(
        &self,
        origin: &str,
        object: Object<'_>,
    ) -> Result<Verdicts, ObjectError> {
        let inner = &*self.inner;
        let loaded = match object {
            Object::Value(v) => input::parse_value(origin, v, &inner.options.input),
            Object::Json(t) | Object::Yaml(t) => {
                let limit = inner.options.input.max_file_bytes;
                if t.len() as u64 > limit {
                    return Err(InputError {
                        file: origin.to_string(),
                        document: None,
                        message: format!("object is larger than the {} MiB limit", limit >> 20),
                    }
                    .into());
                }
                let json = matches!(object, Object::Json(_));
                input::load_bytes(origin, t.as_bytes().to_vec(), json, &inner.options.input)
            }
        };
        if let Some(e) = loaded.errors.into_iter().next() {
            return Err(e.into());
        }
        let found = loaded.resources.len() + loaded.skipped.len();
        let mut resources = loaded.resources;
        let resource = match (resources.pop(), loaded.skipped.first()) {
            (Some(r), None) if resources.is_empty() && r.item.is_none() => r,
            (None, Some(s)) if found == 1 => {
                return Err(ObjectError::NotAnObject {
                    origin: origin.to_string(),
                    reason: s.reason.clone(),
                })
            }
            _ => {
                return Err(ObjectError::NotOne {
                    origin: origin.to_string(),
                    found,
                })
            }
        };
        let mut report = self.report(inner.severities.clone(), &[]);
        if !inner.options.filters.admits(&resource) {
            let entry = report.resource(resource, Vec::new());
            let mut summary = report.finish().summary;
            summary.resources = 0;
            summary.filtered = 1;
            return Ok(Verdicts {
                resource: entry,
                errors: Vec::new(),
                summary,
                filtered: true,
            });
        }
        let mut pool = self.take_pool();
        let eval = evaluate::evaluate(
            &inner.plugins,
            &mut pool,
            std::slice::from_ref(&resource),
            inner.options.batch,
        );
        self.put_pool(pool);
        for e in &eval.errors {
            report.eval_error(&resource, e.plugin, &e.error);
        }
        let verdicts = eval.verdicts.into_iter().next().unwrap_or_default();
        let entry = report.resource(resource, verdicts);
        let tail = report.finish();
        Ok(Verdicts {
            resource: entry,
            errors: tail.errors,
            summary: tail.summary,
            filtered: false,
        })
    }
}
