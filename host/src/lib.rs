//! tollgate: audit Kubernetes manifests with policies that run as sandboxed
//! WebAssembly components.
//!
//! The data path: [`input`] (files → documents → objects) → [`evaluate`] (dispatch by
//! kind to the plugins loaded by [`plugins`], run in the `tollgate-runtime` sandbox) →
//! [`report`] (one data model, one module per format). [`app`] wires them to the CLI.

pub mod app;
pub mod authoring;
pub mod cli;
pub mod compliance;
pub mod config;
pub mod evaluate;
pub mod exempt;
pub use tollgate_input as input;
pub mod pipeline;
pub mod plugins;
pub mod progress;
pub mod report;
