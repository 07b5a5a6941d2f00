//! tollgate: audit Kubernetes manifests with policies that run as sandboxed
//! WebAssembly components.
//!
//! The library's front door is [`Auditor`]: made by [`Auditor::builder`], it owns the
//! loaded plugins and the policy, scans files ([`Auditor::scan`]) and evaluates single
//! objects ([`Auditor::evaluate`]) from any number of threads. It knows no command
//! line, terminal or process: the `tollgate` binary (`tollgate-cli`) maps arguments
//! onto the builder and results onto output; the webhook is `tollgate-serve`, the node
//! collector `tollgate-node`.
//!
//! One resource's path, module by module: [`input`] (files → documents → objects) →
//! [`pipeline`] (windows of documents over worker threads, results in input order) →
//! [`evaluate`] (a worker's plugin instances, dispatch by kind, batches, traps) →
//! `tollgate-runtime` (the sandbox) → [`report`] (the [`policy`] applied: severity
//! overrides, [`exempt`]ions, threshold; one module per format). Around it:
//! [`plugins`] (sources, the bundle, loading and configuring), [`config`]
//! (`tollgate.yaml`), [`catalogue`] (the checks as typed values), [`compliance`]
//! (views over a scan), [`kube`] (the Kubernetes facts the host needs), `registry`
//! (`tollgate-registry`, with the default `oci` feature: plugins through OCI
//! registries, signatures, trust policy, lock, store), [`defaults`].
//!
//! ```no_run
//! use tollgate::{Auditor, Object};
//!
//! let auditor = Auditor::builder().bundle("target/release/plugins").build()?;
//! let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n\
//!            spec: {containers: [{name: web, image: 'nginx:latest'}]}\n";
//! for check in auditor.evaluate(Object::Yaml(pod))?.failed() {
//!     println!("{} {}: {}", check.severity, check.meta.id, check.messages.join("; "));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod auditor;
pub mod breaker;
pub mod catalogue;
pub mod clock;
pub mod compliance;
pub mod config;
pub mod defaults;
pub mod evaluate;
pub mod exempt;
pub use tollgate_input as input;
pub mod kube;
pub mod load_error;
pub mod pattern;
pub mod pipeline;
pub mod plugins;
pub mod policy;
#[cfg(feature = "oci")]
pub use tollgate_registry as registry;
pub mod render;
pub mod report;
pub mod trivyignore;

pub use auditor::{Auditor, AuditorBuilder, BuildError, Object, ObjectError, Verdicts};
pub use load_error::LoadError;
pub use plugins::PluginSource;
pub use tollgate_runtime::Severity;
