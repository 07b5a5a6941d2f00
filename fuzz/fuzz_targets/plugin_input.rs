//! What crosses the plugin boundary from the host: arbitrary resource JSON text given to
//! every built-in check, through the same entry point the component exports
//! (`Runtime::evaluate_json`). It must answer (results or an error message), never panic
//! (in a component a panic is a trap that costs the resource its results).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_kit::{Policy, Runtime};

fn all<P: Policy>(text: &str) {
    let rt = Runtime::<P>::new();
    let ids: Vec<u32> = (0..rt.checks.len() as u32).collect();
    let _ = rt.evaluate_json(text, &ids);
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    all::<tollgate_general::General>(text);
    all::<tollgate_advanced::Advanced>(text);
    all::<tollgate_pss_baseline::PssBaseline>(text);
    all::<tollgate_pss_restricted::PssRestricted>(text);
    all::<tollgate_rbac::Rbac>(text);
});
