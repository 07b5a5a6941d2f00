//! What the configuration changes in how results count: severity overrides, the
//! failure threshold, and exemptions. Immutable once made, shared by every scan and
//! every thread of an [`crate::Auditor`].

use std::collections::HashMap;

use tollgate_runtime::{CheckInfo, Severity};

use crate::exempt::Exemptions;

pub struct Policy {
    /// Severity per primary check id, where the configuration overrides it.
    pub severity: HashMap<String, Severity>,
    /// Failed checks of this severity or worse make the exit status 1.
    pub fail_on: Severity,
    pub exemptions: Exemptions,
}

impl Policy {
    /// The severity a check's results count with.
    pub fn severity_of(&self, check: &CheckInfo) -> Severity {
        // Most scans override no severity: no lookup per check and resource then.
        if self.severity.is_empty() {
            check.severity
        } else {
            self.severity
                .get(&check.id)
                .copied()
                .unwrap_or(check.severity)
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            severity: HashMap::new(),
            fail_on: Severity::Low,
            exemptions: Exemptions::none(),
        }
    }
}
