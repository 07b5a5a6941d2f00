//! One document into objects: the fast path when it can, the reference path otherwise.

use std::sync::Arc;

use crate::accept;
use crate::{reference, transcode, InputError, InputLimits, Loaded, RawDoc};

/// Parses one document into resources, skipped documents or errors, appended to `out`.
/// YAML goes through the transcoder (events straight to the tree encoding) unless it
/// gives up on the document; JSON and whatever the transcoder leaves go through
/// serde-saphyr or serde_json. Both give the same objects, byte for byte.
pub fn parse_doc(doc: &RawDoc, limits: &InputLimits, out: &mut Loaded) {
    if !doc.json {
        if let Ok(outcome) = transcode::document(doc.text(), limits) {
            return accept::accept(&doc.file, doc.index, Some(doc.line), outcome, limits, out);
        }
    }
    reference::parse_doc(doc, limits, out)
}

/// An object already parsed, as if it were the only document of a JSON file named
/// `file`: the same resources, skipped documents or errors, without writing and
/// reading its text again.
pub fn parse_value(file: &str, value: &serde_json::Value, limits: &InputLimits) -> Loaded {
    let mut out = Loaded {
        files: 1,
        ..Loaded::default()
    };
    let file: Arc<str> = Arc::from(file);
    match reference::value_outcome(value, limits) {
        Ok(o) => accept::accept(&file, 0, Some(1), o, limits, &mut out),
        Err(message) => out.errors.push(InputError {
            file: file.to_string(),
            document: Some(0),
            message,
        }),
    }
    out
}
