//! What crosses the plugin boundary from the host, given to every built-in check through
//! the same entry points the component exports: arbitrary bytes as an object in the tree
//! encoding (`Runtime::evaluate_bytes`, what `evaluate-tree` calls) and, when they are
//! UTF-8, as JSON text (`Runtime::evaluate_json`, what `evaluate` calls). Each must
//! answer (results or an error message), never panic (in a component a panic is a trap
//! that costs the resource its results).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_kit::{Policy, Runtime};

fn all<P: Policy>(data: &[u8]) {
    let rt = Runtime::<P>::new();
    let ids: Vec<u32> = (0..rt.checks.len() as u32).collect();
    let _ = rt.evaluate_bytes(data, &ids);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = rt.evaluate_json(text, &ids);
    }
}

fuzz_target!(|data: &[u8]| {
    all::<tollgate_general::General>(data);
    all::<tollgate_advanced::Advanced>(data);
    all::<tollgate_pss_baseline::PssBaseline>(data);
    all::<tollgate_pss_restricted::PssRestricted>(data);
    all::<tollgate_rbac::Rbac>(data);
});
