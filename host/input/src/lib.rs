//! From paths to Kubernetes objects: discovers files, splits YAML streams into
//! documents, parses each with limits, expands `kind: List`, and keeps where every
//! object came from (file, document, item, line).
//!
//! The path of one file, module by module:
//!
//! * [`discover`]: paths → manifest files (directories walked, sorted);
//! * [`read`]: a file (or stdin) → its bytes, within the size limit;
//! * [`split`]: bytes → documents ([`RawDoc`]), numbered as trivy numbers them;
//! * [`parse`]: one document → objects: the fast path (`transcode`, fed by the `block`
//!   line scanner or granit-parser) straight to the tree encoding, else the
//!   [`reference`] path (serde-saphyr with its budgets);
//! * [`accept`]: what a parsed document is (an object, a List and its items, nothing)
//!   and which objects become [`Resource`]s, skipped documents or errors.
//!
//! With the `oracle` feature, [`oracle`] compares the fast path with the reference
//! path and the line scanner with granit-parser, for the differential tests and the
//! fuzzer.
#![forbid(unsafe_code)]

mod accept;
mod block;
pub mod discover;
#[cfg(feature = "oracle")]
pub mod oracle;
pub mod parse;
pub mod read;
mod reference;
mod resource;
pub mod split;
mod transcode;

pub use discover::{discover, discover_all, Discovered, RenderKind, Renderable};
pub use parse::{parse_doc, parse_value};
pub use read::{load, load_bytes, read_file};
pub use resource::{InputError, InputLimits, Loaded, Resource, Skipped, EXEMPT_ANNOTATION};
pub use split::{split_bytes, split_documents, DocText, RawDoc};

#[cfg(test)]
mod tests;
