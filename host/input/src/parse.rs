//! One document into objects: the fast path when it can, the reference path otherwise.

use crate::accept;
use crate::{reference, transcode, InputLimits, Loaded, RawDoc};

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
