//! tollgate: audit Kubernetes manifests with policies that run as sandboxed
//! WebAssembly components.
//!
//! The library's front door is [`Auditor`]: made by [`Auditor::builder`], it owns the
//! loaded plugins and the policy, scans files ([`Auditor::scan`]) and evaluates single
//! objects ([`Auditor::evaluate`]) from any number of threads. The CLI ([`app`]) maps
//! arguments onto the builder and results onto output.
//!
//! One resource's path, module by module: [`input`] (files → documents → objects) →
//! [`pipeline`] (windows of documents over worker threads, results in input order) →
//! [`evaluate`] (a worker's plugin instances, dispatch by kind, batches, traps) →
//! `tollgate-runtime` (the sandbox) → [`report`] (the [`policy`] applied: severity
//! overrides, [`exempt`]ions, threshold; one module per format). Around it:
//! [`plugins`] (sources, the bundle, loading and configuring), [`config`]
//! (`tollgate.yaml`), [`catalogue`] (the checks as typed values), [`compliance`]
//! (views over a scan), [`kube`] (the Kubernetes facts the host needs), [`registry`]
//! (plugins through OCI registries: signatures, trust policy, lock, store), [`defaults`].
#![forbid(unsafe_code)]

pub mod app;
pub mod auditor;
pub mod authoring;
pub mod breaker;
pub mod catalogue;
pub mod cli;
pub mod clock;
pub mod compliance;
pub mod config;
pub mod defaults;
pub mod evaluate;
pub mod exempt;
pub use tollgate_input as input;
pub mod kube;
pub mod node;
pub mod pattern;
pub mod pipeline;
pub mod plugins;
pub mod policy;
pub mod registry;
pub mod report;
pub mod serve;

pub use auditor::{Auditor, AuditorBuilder, BuildError, Object, ObjectError, Verdicts};
pub use plugins::PluginSource;
