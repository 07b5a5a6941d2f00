//! For the differential tests and the fuzzer (feature `oracle`): the reference path on
//! its own, whether a document takes the fast path, and the line scanner checked
//! against granit-parser. Not part of the loader's API.

use crate::{block, reference, transcode, InputLimits, Loaded, RawDoc};

/// [`crate::parse_doc`] with the reference path only (serde-saphyr for YAML).
pub fn parse_doc_reference(doc: &RawDoc, limits: &InputLimits, out: &mut Loaded) {
    reference::parse_doc(doc, limits, out)
}

/// Whether a YAML document takes the fast path (most real manifests must).
pub fn transcodes(doc: &RawDoc, limits: &InputLimits) -> bool {
    !doc.json && transcode::document(doc.text(), limits).is_ok()
}

/// What the block scanner makes of one YAML document, next to granit-parser.
#[derive(Debug, PartialEq)]
pub enum BlockScan {
    /// Outside the scanner's subset: granit-parser reads it.
    Unsupported,
    /// Accepted, with exactly granit-parser's events.
    Same,
    /// Accepted, with other events than granit-parser's: a bug (the two streams).
    Different(String),
}

/// Checks the block scanner against granit-parser on `doc`.
pub fn block_scan(doc: &RawDoc, limits: &InputLimits) -> BlockScan {
    let Ok(ours) = block::events(doc.text(), limits.max_depth) else {
        return BlockScan::Unsupported;
    };
    let mut theirs = Vec::new();
    for event in transcode::granit(doc.text()) {
        match event {
            Ok((e, _)) => theirs.push(e),
            Err(e) => return BlockScan::Different(shorten(format!("granit: {e}\nours: {ours:?}"))),
        }
    }
    if ours == theirs {
        BlockScan::Same
    } else {
        BlockScan::Different(shorten(format!("ours:   {ours:?}\ngranit: {theirs:?}")))
    }
}

fn shorten(mut text: String) -> String {
    if text.len() > 4000 {
        let cut = (0..=4000)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push_str(" ...");
    }
    text
}
