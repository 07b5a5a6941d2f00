//! # tollgate-kit: write tollgate policy plugins in Rust
//!
//! A tollgate plugin is a WebAssembly component that exports the `tollgate:policy`
//! interface (see `wit/policy.wit`). This crate does the plumbing so that a plugin is
//! a list of checks and one function per check:
//!
//! * [`Object`]: one Kubernetes resource with the helpers trivy's checks rely on:
//!   the pod specs of every workload kind ([`Object::pod_specs`]), every container and
//!   init container with its *effective* securityContext ([`Object::containers`]);
//! * [`Node`]: the object itself, read in place from the tree the host sends (the
//!   reading methods of `serde_json::Value`, nothing parsed or allocated per field);
//! * [`rbac`]: rules of Roles and ClusterRoles;
//! * [`flags`]: control-plane components and their command-line flags
//!   ([`Container::is_component`], [`flags::has`], [`flags::flag_value`]);
//! * [`node_info`]: NodeInfo objects, a node's CIS facts ([`node_info::NodeInfo`]), and
//!   in [`value`] Rego's comparisons across types ([`value::rego_cmp`]);
//! * [`CheckInfo`]: check metadata, usually read from a `check.json` catalogue entry;
//! * [`Policy`] + [`export_policy!`]: the trait a plugin implements and the macro that
//!   turns it into a component.
//!
//! ```
//! use tollgate_kit::{CheckInfo, Finding, Object, Policy, PluginMeta, Severity};
//!
//! #[derive(Default)]
//! struct NoLatest;
//!
//! impl Policy for NoLatest {
//!     fn meta() -> PluginMeta {
//!         PluginMeta::new("no-latest", "0.1.0", "Images must be pinned")
//!     }
//!     fn checks() -> Vec<CheckInfo> {
//!         vec![CheckInfo::new("ORG001", "Image is not pinned", Severity::Medium)
//!             .kinds(&["Pod", "Deployment"])]
//!     }
//!     fn evaluate(&self, _check: &str, object: &Object) -> Vec<Finding> {
//!         object
//!             .containers()
//!             .iter()
//!             .filter(|c| c.image().map_or(true, |i| i.ends_with(":latest")))
//!             .map(|c| Finding::at(format!("{} uses an unpinned image", c.describe(object)), &c.path))
//!             .collect()
//!     }
//! }
//!
//! // In the plugin crate: tollgate_kit::export_policy!(NoLatest);
//! let rt = tollgate_kit::Runtime::<NoLatest>::new();
//! let pod = r#"{"kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x:latest"}]}}"#;
//! let out = rt.evaluate_json(pod, &[0]).unwrap();
//! assert_eq!(out[0].findings.len(), 1);
//! ```

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod alloc;
pub mod flags;
mod info;
pub mod node_info;
mod object;
pub mod rbac;
mod runtime;
pub mod value;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod component;

// Plugins allocate findings, messages, trees and their language runtimes' data.
// Talc allocates in a fraction of the instructions of Rust's default wasm allocator
// (dlmalloc), and size-class free lists in front of it in a fraction of talc's; every
// plugin built on the kit gets both.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: alloc::SizeClasses<talc::wasm::WasmDynamicTalc> =
    alloc::SizeClasses::new(talc::wasm::new_wasm_dynamic_allocator());

pub use info::{CheckInfo, Finding, PluginMeta, Severity};
pub use object::{Container, Object, PodSpec};
pub use runtime::{CheckResult, Policy, Runtime};
pub use serde_json::{self, json, Map, Value};
pub use tollgate_tree::{Fields, Items, Node, Tree, Writer};

/// Reads catalogue entries (`policies/<dir>/<ID>/check.json`) at compile time.
///
/// `catalogue!("../../../policies/general"; KSV011, KSV015)` expands to a
/// `Vec<CheckInfo>`; a malformed entry panics in `describe`, which the plugin's own
/// unit tests catch long before release.
#[macro_export]
macro_rules! catalogue {
    ($dir:literal; $($id:ident),+ $(,)?) => {
        vec![$(
            $crate::CheckInfo::from_catalogue(include_str!(concat!($dir, "/", stringify!($id), "/check.json")))
        ),+]
    };
}

/// Exports a [`Policy`] implementation as the component's `tollgate:policy` interface.
///
/// Call it once, at the root of the plugin crate. On non-WebAssembly targets it expands
/// to nothing, so the same crate can be unit-tested natively.
#[macro_export]
macro_rules! export_policy {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type __TollgateExport = $crate::component::Component<$ty>;
            $crate::component::bindings::export_component!(__TollgateExport with_types_in $crate::component::bindings);
        };
    };
}
