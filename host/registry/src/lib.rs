//! Plugins distributed through OCI registries: references (`oci://...`), the Wasm
//! artifact layout, cosign's signature format, the trust policy, the lock file, the
//! content-addressed store of pulled plugins, and the client that talks to registries.
//!
//! A scan reaches a registry plugin through [`fetch::Fetcher`]: the trust policy
//! decides what the repository needs, the lock or the reference fixes the manifest
//! digest, a signature by a trusted key is verified on that digest, and the component
//! is checked against the manifest before the sandbox compiles it.

pub mod artifact;
pub mod client;
pub mod cosign;
pub mod defaults;
pub mod download;
pub mod fetch;
mod http;
mod keyfile;
pub mod lock;
pub mod publish;
mod pull;
mod push;
pub mod reference;
pub mod store;
pub mod trust;

pub use client::{Client, RegistryError, RegistryOptions};
pub use download::DownloadLimits;
pub use fetch::{FetchError, Fetcher, Pulled};
pub use lock::Lock;
pub use reference::OciRef;
pub use store::Store;
pub use trust::{Trust, TrustConfig};
