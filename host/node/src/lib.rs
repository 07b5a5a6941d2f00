//! Infrastructure assessment's first half: a node collector that reads, on a node or on
//! a node's filesystem mounted elsewhere, what trivy-operator's node-collector reads, and
//! writes it as a `NodeInfo` object in the same shape, so trivy's tooling reads
//! tollgate's output and tollgate reads theirs. The KCV checks (built-in plugins
//! `cis-node` and `cis-control-plane`) then judge it like any other object.
//!
//! [`paths`]: where each file is looked for; [`chroot`]: paths as the node sees them,
//! links followed inside the root; [`files`]: modes and owners as `stat`
//! prints them; [`procs`]: the process table; [`kubelet`]: the kubelet's flags and
//! configuration; [`collect`](collect::collect): one NodeInfo.

pub mod chroot;
pub mod collect;
pub mod files;
pub mod kubelet;
pub mod manifests;
pub mod paths;
pub mod procs;

pub use collect::{collect, Collected, Options, Problem, PROBLEMS_ANNOTATION};
