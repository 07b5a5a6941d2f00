//! Built against `wit/policy.wit` as it was at tollgate:policy@0.1.0 (kept in `wit/`):
//! exports only `policy`, so the host must still load it and hand it JSON text. Check
//! OLD001 fails a ConfigMap whose `data` has a key `legacy`; for one with a key `foreign`
//! it also returns a result for a check that was not requested (a contract violation).
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({ path: "wit", world: "plugin" });

use exports::tollgate::policy::policy::{
    CheckInfo, CheckResult, Finding, Guest, PluginInfo, Request, Severity,
};

struct Old;

impl Guest for Old {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "contract-v010".into(),
            version: "0.1.0".into(),
            description: "A plugin of the first contract".into(),
            settings_help: "none".into(),
            checks: vec![CheckInfo {
                id: "OLD001".into(),
                aliases: vec![],
                title: "Legacy data key".into(),
                description: "ConfigMaps must not keep a 'legacy' key".into(),
                severity: Severity::Medium,
                category: "Compatibility".into(),
                kinds: vec!["ConfigMap".into()],
                remediation: "Remove data.legacy".into(),
                compliance: vec![],
                default_enabled: true,
            }],
        }
    }

    fn configure(_settings: String) -> Result<Vec<String>, String> {
        Ok(vec!["OLD001".into()])
    }

    fn evaluate(batch: Vec<Request>) -> Vec<Result<Vec<CheckResult>, String>> {
        batch
            .into_iter()
            .map(|req| {
                let v: serde_json::Value =
                    serde_json::from_str(&req.object).map_err(|e| format!("not JSON text: {e}"))?;
                let name = v["metadata"]["name"].as_str().unwrap_or("?");
                let findings = if v["data"].get("legacy").is_some() {
                    vec![Finding {
                        message: format!("ConfigMap '{name}' keeps a legacy key"),
                        path: Some("data.legacy".into()),
                    }]
                } else {
                    vec![]
                };
                let mut results: Vec<CheckResult> = req
                    .checks
                    .iter()
                    .map(|&check| CheckResult {
                        check,
                        findings: findings.clone(),
                    })
                    .collect();
                // After the requested results, one for a check nobody asked for: the
                // host must refuse this resource's results, and only this resource's.
                if v["data"].get("foreign").is_some() {
                    results.push(CheckResult {
                        check: 7,
                        findings: vec![],
                    });
                }
                Ok(results)
            })
            .collect()
    }
}

export!(Old);
