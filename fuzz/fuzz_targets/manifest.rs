//! The manifest loader on arbitrary bytes, as YAML and as JSON: it must never panic,
//! and everything it accepts must be a JSON object with a kind, the way plugins get it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_input::{load_bytes, InputLimits};

fuzz_target!(|data: &[u8]| {
    let limits = InputLimits { max_file_bytes: 1 << 20, max_depth: 100 };
    for json in [false, true] {
        let loaded = load_bytes("fuzz.yaml", data.to_vec(), json, &limits);
        for r in &loaded.resources {
            let v: serde_json::Value = serde_json::from_str(&r.json).expect("resource JSON re-parses");
            assert!(v.is_object());
            assert!(!r.kind.is_empty());
        }
    }
});
