//! A perfectly good component for another world: the host must refuse it and say what
//! it exports instead of the tollgate contract.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({ path: "wit", world: "greeter" });

struct Greeter;

impl Guest for Greeter {
    fn greet(name: String) -> String {
        format!("hello {name}")
    }
}

export!(Greeter);
