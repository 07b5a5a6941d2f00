//! The tollgate sandbox: loads policy components with wasmtime and calls them under
//! limits.
//!
//! * [`Sandbox`]: one wasmtime engine with the limits every plugin runs under;
//! * [`Plugin`]: a component loaded from a file and checked against the contract;
//! * [`Instance`]: an instantiated plugin that can be configured and evaluate batches.
//!
//! Nothing here knows a check: plugins describe themselves through the WIT contract.
//! The WASI linking is kept in this crate because it is slow to compile and rarely
//! changes.

pub mod cache;
mod error;
mod instance;
mod limiter;
mod limits;
mod plugin;
mod wasi;

pub use error::{LimitKind, PluginError, SandboxError};
pub use instance::Instance;
pub use limiter::{Exceeded, MAX_INSTANCES, MAX_MEMORIES, MAX_TABLES};
pub use limits::Limits;
pub use plugin::{CheckInfo, Plugin, PluginInfo, Severity, UnknownSeverity, CONTRACT};
pub use wasmtime::Engine;

/// One evaluation request: a resource in the tree encoding (`tollgate:policy/tree`) and
/// as JSON text, borrowed (the host keeps one copy of each per resource, whatever the
/// number of plugins), and the indices of the checks to run. A plugin that exports the
/// tree interface gets the tree; any other gets the text.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub tree: &'a [u8],
    /// The JSON text; the host may leave it empty when no loaded plugin reads text.
    pub json: &'a str,
    pub checks: &'a [u32],
}

/// One finding reported by a check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub message: String,
    pub path: Option<String>,
}

/// The outcome of one check on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    pub check: u32,
    pub findings: Vec<Finding>,
}

/// What a plugin said about one resource: its outcomes, or why it could not evaluate it.
pub type ResourceOutcome = Result<Vec<CheckOutcome>, String>;

pub use plugin::Sandbox;

mod bindings {
    wasmtime::component::bindgen!({ path: "../../wit", world: "plugin" });
}
