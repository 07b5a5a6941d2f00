//! Every test case of trivy's own check tests (copied from the shared spec into
//! tests/fixtures/cases) goes through the real binary and the real plugins, and must
//! get trivy's verdict.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tollgate_e2e::{root, run};

struct Case {
    id: String,
    name: String,
    expect_fail: bool,
    /// The plugin settings standing for the case's `data`: trivy's `data.k8s.version` is
    /// the `k8s_version` setting of every plugin that reads it, and
    /// `data.ksv0125.trusted_registries` the advanced plugin's `trusted_registries`.
    settings: Vec<String>,
    input: Value,
}

/// `--plugin-settings` values for a case's `data` (none for a plain scan).
fn settings_for(data: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(v) = data["k8s"]["version"].as_str() {
        let s = serde_json::json!({ "k8s_version": v }).to_string();
        for plugin in ["general", "pss-baseline", "rbac"] {
            out.push(format!("{plugin}={s}"));
        }
    }
    let trusted = &data["ksv0125"]["trusted_registries"];
    if !trusted.is_null() {
        out.push(format!(
            "advanced={}",
            serde_json::json!({ "trusted_registries": trusted })
        ));
    }
    out
}

/// Every case file below `dir` (one directory per check id), in order, with its JSON.
fn case_files(dir: &Path) -> Vec<(PathBuf, Value)> {
    let sorted = |d: &Path| {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    let mut out = Vec::new();
    for id_dir in sorted(dir) {
        for f in sorted(&id_dir) {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            out.push((f, v));
        }
    }
    out
}

fn cases() -> Vec<Case> {
    case_files(&root().join("tests/fixtures/cases"))
        .into_iter()
        .map(|(f, v)| Case {
            id: v["id"].as_str().unwrap().to_string(),
            name: format!(
                "{}/{}",
                v["id"].as_str().unwrap(),
                f.file_name().unwrap().to_string_lossy()
            ),
            // trivy stops with an evaluation error (KSV0109's conflicting keys) and
            // reports nothing; tollgate fails the check instead (the documented
            // `conflicting-values` deviation of KSV0109).
            expect_fail: v["expect_fail"].as_bool().unwrap()
                || v["expect_error"].as_bool().unwrap_or(false),
            settings: settings_for(&v["data"]),
            input: v["input"].clone(),
        })
        .collect()
}

#[test]
fn every_spec_case_gets_trivys_verdict() {
    let all = cases();
    assert_eq!(
        all.len(),
        450,
        "the shared spec has 323 cases for the first 53 checks and 127 for the next 26"
    );
    // One scan per distinct set of settings; each case is its own file.
    let mut groups: BTreeMap<Vec<String>, Vec<&Case>> = BTreeMap::new();
    for c in &all {
        groups.entry(c.settings.clone()).or_default().push(c);
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for (settings, cases) in groups {
        let dir = tempfile::tempdir().unwrap();
        for (i, c) in cases.iter().enumerate() {
            std::fs::write(
                dir.path().join(format!("{i:04}.json")),
                serde_json::to_string(&c.input).unwrap(),
            )
            .unwrap();
        }
        let mut args: Vec<String> = vec!["scan".into(), "--format".into(), "json".into()];
        for s in settings {
            args.push("--plugin-settings".into());
            args.push(s);
        }
        args.push(dir.path().display().to_string());
        let out = run(&args);
        assert!(
            out.code == 0 || out.code == 1,
            "scan failed ({}): {}{}",
            out.code,
            out.stdout,
            out.stderr
        );
        let report = out.json();
        for (i, c) in cases.iter().enumerate() {
            let file = format!("{i:04}.json");
            let resource = report["resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["file"].as_str().unwrap().ends_with(&file));
            // A check that does not apply to the kind cannot fail.
            let verdict = resource
                .and_then(|r| {
                    r["checks"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|k| k["id"] == c.id.as_str())
                })
                .map(|k| !k["success"].as_bool().unwrap())
                .unwrap_or(false);
            checked += 1;
            if verdict != c.expect_fail {
                failures.push(format!(
                    "{}: expected {}, got {}",
                    c.name,
                    fail_word(c.expect_fail),
                    fail_word(verdict)
                ));
            }
        }
    }
    assert_eq!(checked, all.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

fn fail_word(f: bool) -> &'static str {
    if f {
        "FAIL"
    } else {
        "pass"
    }
}

/// Every upstream case of the KCV checks (copied from the shared spec into
/// tests/fixtures/kcv-cases): control-plane Pods, NodeInfo objects and Ingresses through
/// the real binary and the built-in `cis-control-plane` and `cis-node` plugins. The
/// verdict must be trivy's, and so must the number of findings where the case gives it.
#[test]
fn every_kcv_case_gets_trivys_verdict() {
    let dir = root().join("tests/fixtures/kcv-cases");
    let cases = case_files(&dir);
    assert_eq!(cases.len(), 325, "the shared spec has 325 KCV cases");
    let ids: std::collections::BTreeSet<&str> = cases
        .iter()
        .map(|(_, v)| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 90, "cases for all 90 KCV checks");
    let tmp = tempfile::tempdir().unwrap();
    for (i, (_, c)) in cases.iter().enumerate() {
        std::fs::write(
            tmp.path().join(format!("{i:04}.json")),
            serde_json::to_string(&c["input"]).unwrap(),
        )
        .unwrap();
    }
    let out = run([
        "scan",
        "--no-config",
        "--format",
        "json",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(
        out.code == 0 || out.code == 1,
        "scan failed ({}): {}",
        out.code,
        out.stderr
    );
    let report = out.json();
    let loaded: Vec<&str> = report["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        loaded.contains(&"cis-node") && loaded.contains(&"cis-control-plane"),
        "{loaded:?}"
    );
    let mut failures = Vec::new();
    for (i, (file, c)) in cases.iter().enumerate() {
        let name = format!("{}", file.strip_prefix(&dir).unwrap().display());
        let id = c["id"].as_str().unwrap();
        let want_fail = c["expect_fail"].as_bool().unwrap();
        let resource = report["resources"].as_array().unwrap().iter().find(|r| {
            r["file"]
                .as_str()
                .unwrap()
                .ends_with(&format!("{i:04}.json"))
        });
        let check = resource.and_then(|r| {
            r["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["id"] == id)
        });
        let failed = check.is_some_and(|k| k["success"] == false);
        if failed != want_fail {
            failures.push(format!(
                "{name}: expected {}, got {}",
                fail_word(want_fail),
                fail_word(failed)
            ));
            continue;
        }
        if let (Some(want), Some(k)) = (c["expect_count"].as_u64(), check) {
            let got = k["messages"].as_array().map_or(0, Vec::len) as u64;
            if failed && got != want {
                failures.push(format!(
                    "{name}: expected {want} findings, got {got}: {}",
                    k["messages"]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} KCV cases disagree:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
