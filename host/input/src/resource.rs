//! What the loader produces: resources with their provenance, skipped documents, input
//! errors, and the limits it reads untrusted manifests under.

use std::sync::Arc;

use tollgate_tree::Tree;

/// The annotation that exempts an object from checks: read here, while the object is
/// parsed, into [`Resource::exempt_annotation`]; interpreted by the host.
pub const EXEMPT_ANNOTATION: &str = "tollgate.dev/exempt";

/// Parsing limits for untrusted manifests.
#[derive(Debug, Clone)]
pub struct InputLimits {
    /// Largest file read, in bytes.
    pub max_file_bytes: u64,
    /// Deepest nesting of a document (plugins' JSON parsers stop at 128).
    pub max_depth: usize,
}

impl InputLimits {
    /// The default of [`InputLimits::max_file_bytes`], in MiB.
    pub const DEFAULT_MAX_FILE_MIB: u64 = 256;
    /// The default of [`InputLimits::max_depth`].
    pub const DEFAULT_MAX_DEPTH: usize = 100;
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits {
            max_file_bytes: Self::DEFAULT_MAX_FILE_MIB << 20,
            max_depth: Self::DEFAULT_MAX_DEPTH,
        }
    }
}

/// One Kubernetes object found in the input.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The path as given, or as found under a given directory; "-" for stdin.
    pub file: Arc<str>,
    /// 0-based index of the YAML document in the file.
    pub document: usize,
    /// 0-based index inside a `kind: List`, else None.
    pub item: Option<usize>,
    /// 1-based line where the document starts, when known.
    pub line: Option<usize>,
    pub api_version: Option<String>,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// The object in the tree encoding: what plugins receive (see [`Resource::json`]
    /// for those that read JSON text).
    pub tree: Tree,
    /// The value of the `tollgate.dev/exempt` annotation, if any.
    pub exempt_annotation: Option<String>,
}

impl Resource {
    /// The object as JSON text (keys sorted), for plugins that read text instead of the
    /// tree encoding; made on request, as most scans need none.
    pub fn json(&self) -> String {
        self.tree.root().to_json()
    }
}

/// A file or document that could not be read or parsed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}{}: {message}", document.map(|d| format!(" (document {d})")).unwrap_or_default())]
pub struct InputError {
    pub file: String,
    pub document: Option<usize>,
    pub message: String,
}

/// A document that is valid but not a Kubernetes object.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub file: String,
    pub document: usize,
    pub item: Option<usize>,
    pub reason: String,
}

/// What a set of files or documents produced.
#[derive(Debug, Default)]
pub struct Loaded {
    pub files: usize,
    /// Resources dropped by a caller's filters (namespaces, kinds).
    pub filtered: usize,
    pub resources: Vec<Resource>,
    pub errors: Vec<InputError>,
    pub skipped: Vec<Skipped>,
}
