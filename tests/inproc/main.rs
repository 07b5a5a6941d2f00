//! In-process tests: the library, the webhook's handlers, the loader and the CLI's
//! definitions, driven without a `tollgate` process (the plugins are the real ones that
//! `cargo xtask build` made). One test binary; each area is a module.

mod conformance;
mod docs;
mod library;
mod report_metadata;
mod webhook;
mod yaml_transcoder;
