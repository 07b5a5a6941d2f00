//! The benchmark's boundary probe for plugins that read JSON text, built on the raw
//! contract (no kit, no tree export). Check BND001 applies to every kind and never finds
//! anything. With settings `{"parse": false}` it does not look at the object: a scan
//! then costs the host's own work plus crossing the boundary (the object's JSON text
//! written from its tree by the host, copied in, one result copied out). With
//! `{"parse": true}` it also parses the text into a `serde_json::Value`, as a plugin
//! reading text must: the difference is what the text representation costs the guest.
#![cfg(target_arch = "wasm32")]

use std::sync::atomic::{AtomicBool, Ordering};

wit_bindgen::generate!({ path: "../../../wit", world: "plugin" });

use exports::tollgate::policy::policy::{
    CheckInfo, CheckResult, Guest, PluginInfo, Request, Severity,
};

static PARSE: AtomicBool = AtomicBool::new(false);

struct Boundary;

impl Guest for Boundary {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "boundary".into(),
            version: "0.1.0".into(),
            description: "Benchmark probe: crosses the boundary, finds nothing".into(),
            settings_help: "parse: bool (parse the object's JSON first; default false)".into(),
            checks: vec![CheckInfo {
                id: "BND001".into(),
                aliases: vec![],
                title: "Boundary probe".into(),
                description: "Never fails.".into(),
                severity: Severity::Low,
                category: "Benchmark".into(),
                kinds: vec!["*".into()],
                remediation: String::new(),
                compliance: vec![],
                default_enabled: true,
            }],
        }
    }

    fn configure(settings: String) -> Result<Vec<String>, String> {
        let v: serde_json::Value =
            serde_json::from_str(&settings).map_err(|e| format!("settings: {e}"))?;
        PARSE.store(v["parse"].as_bool().unwrap_or(false), Ordering::Relaxed);
        Ok(vec!["BND001".into()])
    }

    fn evaluate(batch: Vec<Request>) -> Vec<Result<Vec<CheckResult>, String>> {
        let parse = PARSE.load(Ordering::Relaxed);
        batch
            .into_iter()
            .map(|r| {
                if parse {
                    let v: serde_json::Value =
                        serde_json::from_str(&r.object).map_err(|e| e.to_string())?;
                    std::hint::black_box(v);
                }
                Ok(r.checks
                    .iter()
                    .map(|&check| CheckResult {
                        check,
                        findings: vec![],
                    })
                    .collect())
            })
            .collect()
    }
}

export!(Boundary);
