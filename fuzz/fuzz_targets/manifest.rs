//! The manifest loader on arbitrary bytes, as YAML and as JSON: it must never panic,
//! and everything it accepts must be an object with a kind whose JSON text says what its
//! tree says, the ways plugins get it. For YAML it is also a differential test: the fast
//! path (parser events straight to the tree encoding) must give exactly what the
//! reference path (serde-saphyr) gives, trees byte for byte, and the block scanner,
//! wherever it accepts a document, exactly granit-parser's events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_input::oracle::{block_scan, parse_doc_reference, BlockScan};
use tollgate_input::{load_bytes, parse_doc, split_bytes, InputLimits, Loaded};

fn outcome(l: &Loaded) -> String {
    let trees: Vec<&[u8]> = l.resources.iter().map(|r| r.tree.as_bytes()).collect();
    format!("{:?}\n{:?}\n{:?}\n{:?}", l.resources, l.skipped, l.errors, trees)
}

fuzz_target!(|data: &[u8]| {
    let limits = InputLimits { max_file_bytes: 1 << 20, max_depth: 100 };
    for json in [false, true] {
        let loaded = load_bytes("fuzz.yaml", data.to_vec(), json, &limits);
        for r in &loaded.resources {
            let v = r.tree.root().to_value();
            assert!(v.is_object());
            let text: serde_json::Value = serde_json::from_str(&r.json()).expect("resource JSON re-parses");
            assert_eq!(text, v, "the JSON text says what the tree says");
            assert!(!r.kind.is_empty());
        }
    }
    if let Ok(docs) = split_bytes("fuzz.yaml", data.to_vec(), false) {
        for d in &docs {
            if let BlockScan::Different(diff) = block_scan(d, &limits) {
                panic!("block scanner and granit-parser disagree:\n{diff}");
            }
            let (mut fast, mut reference) = (Loaded::default(), Loaded::default());
            parse_doc(d, &limits, &mut fast);
            parse_doc_reference(d, &limits, &mut reference);
            assert_eq!(outcome(&fast), outcome(&reference), "the two YAML paths disagree");
        }
    }
});
