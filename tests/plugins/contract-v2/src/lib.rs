//! Exports `tollgate:policy/policy@0.2.0`: the host must refuse it and name both versions.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({ path: "wit", world: "plugin" });

struct V2;

impl exports::tollgate::policy::policy::Guest for V2 {
    fn describe() -> String {
        "v2".into()
    }
}

export!(V2);
