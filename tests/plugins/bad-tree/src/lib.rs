//! Exports `policy` correctly and `tree` with another `evaluate-tree` signature
//! (strings in, strings out): the host must refuse it at load and say why.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({ path: "wit", world: "tree-plugin" });

use exports::tollgate::policy::policy::{CheckResult, Guest, PluginInfo, Request};

struct BadTree;

impl Guest for BadTree {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "bad-tree".into(),
            version: "0.1.0".into(),
            description: "A tree export of the wrong shape".into(),
            settings_help: "none".into(),
            checks: vec![],
        }
    }

    fn configure(_settings: String) -> Result<Vec<String>, String> {
        Ok(vec![])
    }

    fn evaluate(batch: Vec<Request>) -> Vec<Result<Vec<CheckResult>, String>> {
        batch.iter().map(|_| Ok(vec![])).collect()
    }
}

impl exports::tollgate::policy::tree::Guest for BadTree {
    fn evaluate_tree(batch: Vec<String>) -> Vec<String> {
        batch
    }
}

export!(BadTree);
