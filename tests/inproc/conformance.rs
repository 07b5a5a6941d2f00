//! Conformance with trivy on real manifests: scans `../shared/corpus/public` (1,929
//! files from 12 public repositories) and compares every (resource, check) verdict with
//! the verdicts trivy's own Rego gave (`public-verdicts.jsonl`). Prints agreement per
//! check; fails on any disagreement that a documented deviation does not explain.
//!
//! Deviations (docs/checks.md "Deviations from trivy", and the `deviations` of each
//! `policies/*/*/check.json`) are recognised from the input object itself:
//! * `unnamed`: trivy builds messages from `metadata.name`, container names and images,
//!   and silently drops a finding when one is missing; tollgate reports it.
//! * `null-securityContext`: a container with `securityContext: null` disappears from
//!   trivy's checks; tollgate treats it as an empty securityContext, as Kubernetes does.
//! * `malformed-containers`: `containers` written as a mapping instead of a list; trivy
//!   iterates the mapping's values as if they were containers, tollgate ignores it.
//! * `cephfs`: KSV028 also flags the real `cephfs` volume type, not only trivy's `cephFS`.
//! * `yaml-merge-keys`: tollgate resolves YAML merge keys (`<<: *anchor`) as kubectl
//!   does; trivy keeps `<<` as a plain key, so merged fields look absent to it.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use tollgate::input::{self, InputLimits};
use tollgate_e2e::{run, shared};

fn containers(o: &Value) -> Vec<&Value> {
    let specs = [
        o.pointer("/spec"),
        o.pointer("/spec/template/spec"),
        o.pointer("/spec/jobTemplate/spec/template/spec"),
    ];
    let mut out = Vec::new();
    for s in specs.into_iter().flatten() {
        for f in ["containers", "initContainers"] {
            if let Some(Value::Array(a)) = s.get(f) {
                out.extend(a.iter());
            }
        }
    }
    out
}

fn malformed_containers(o: &Value) -> bool {
    let specs = [
        o.pointer("/spec"),
        o.pointer("/spec/template/spec"),
        o.pointer("/spec/jobTemplate/spec/template/spec"),
    ];
    specs.into_iter().flatten().any(|s| {
        ["containers", "initContainers"]
            .iter()
            .any(|f| s.get(f).is_some_and(|v| !v.is_array() && !v.is_null()))
    })
}

/// Why tollgate may disagree with trivy on this object and check, if a deviation says so.
fn deviation(id: &str, o: &Value, source: &str, trivy_failed: bool) -> Option<&'static str> {
    if trivy_failed {
        if source.contains("<<:") {
            return Some("yaml-merge-keys");
        }
        return malformed_containers(o).then_some("malformed-containers");
    }
    let cs = containers(o);
    if o.pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_none()
        || cs
            .iter()
            .any(|c| c.get("name").and_then(Value::as_str).is_none())
        || (matches!(id, "KSV013" | "KSV032" | "KSV033")
            && cs
                .iter()
                .any(|c| c.get("image").and_then(Value::as_str).is_none()))
    {
        return Some("unnamed");
    }
    if cs
        .iter()
        .any(|c| c.get("securityContext").is_some_and(Value::is_null))
    {
        return Some("null-securityContext");
    }
    if id == "KSV028" {
        let vols = [
            o.pointer("/spec/volumes"),
            o.pointer("/spec/template/spec/volumes"),
        ];
        if vols
            .into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .flatten()
            .any(|v| v.get("cephfs").is_some())
        {
            return Some("cephfs");
        }
    }
    None
}

#[derive(Default)]
struct Row {
    pairs: usize,
    agree: usize,
    deviations: BTreeMap<&'static str, usize>,
    unexplained: Vec<String>,
}

#[test]
fn verdicts_agree_with_trivy_on_the_public_corpus() {
    let Some(shared) = shared() else {
        eprintln!("skipping conformance: ../shared (the public corpus) is not present");
        return;
    };
    let corpus = shared.join("corpus/public");
    let out = run([
        "scan".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "--plugin-settings".as_ref(),
        r#"advanced={"KSV032":{"enabled":true},"KSV033":{"enabled":true}}"#.as_ref(),
        corpus.as_os_str(),
    ]);
    assert!(
        matches!(out.code, 1 | 2),
        "unexpected exit {}: {}",
        out.code,
        out.stderr
    );
    let report = out.json();
    let prefix = format!("{}/", corpus.display());
    let key = |file: &str, doc: u64, item: Option<u64>| {
        (file.trim_start_matches(&prefix).to_string(), doc, item)
    };

    let mut ours: HashMap<(String, u64, Option<u64>, String), bool> = HashMap::new();
    for r in report["resources"].as_array().unwrap() {
        let k = key(
            r["file"].as_str().unwrap(),
            r["document"].as_u64().unwrap(),
            r["item"].as_u64(),
        );
        for c in r["checks"].as_array().unwrap() {
            ours.insert(
                (k.0.clone(), k.1, k.2, c["id"].as_str().unwrap().to_string()),
                !c["success"].as_bool().unwrap(),
            );
        }
    }
    let loaded = input::load(std::slice::from_ref(&corpus), &InputLimits::default());
    let objects: HashMap<(String, u64, Option<u64>), Value> = loaded
        .resources
        .iter()
        .map(|r| {
            (
                key(&r.file, r.document as u64, r.item.map(|i| i as u64)),
                r.tree.root().to_value(),
            )
        })
        .collect();

    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    let verdicts = std::fs::read_to_string(shared.join("corpus/public-verdicts.jsonl")).unwrap();
    for line in verdicts.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v.get("error").is_some() {
            let f = v["file"].as_str().unwrap();
            let ours_too = report["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["file"].as_str().unwrap().ends_with(f));
            assert!(
                ours_too,
                "trivy could not parse {f}, tollgate reported no error for it"
            );
            continue;
        }
        let k = key(
            v["file"].as_str().unwrap(),
            v["doc"].as_u64().unwrap(),
            v["item"].as_u64(),
        );
        let id = v["id"].as_str().unwrap().to_string();
        let trivy_failed = v["failed"].as_bool().unwrap();
        // A check tollgate did not apply (its kinds exclude the object) cannot fail.
        let we_failed = ours
            .get(&(k.0.clone(), k.1, k.2, id.clone()))
            .copied()
            .unwrap_or(false);
        let row = rows.entry(id.clone()).or_default();
        row.pairs += 1;
        if we_failed == trivy_failed {
            row.agree += 1;
            continue;
        }
        let object = objects
            .get(&k)
            .unwrap_or_else(|| panic!("tollgate did not load {k:?}"));
        let source = std::fs::read_to_string(corpus.join(&k.0)).unwrap_or_default();
        match deviation(&id, object, &source, trivy_failed) {
            Some(d) => *row.deviations.entry(d).or_default() += 1,
            None => row.unexplained.push(format!(
                "{id} {}#{}{}: trivy {}, tollgate {}",
                k.0,
                k.1,
                k.2.map(|i| format!("[{i}]")).unwrap_or_default(),
                if trivy_failed { "FAIL" } else { "pass" },
                if we_failed { "FAIL" } else { "pass" }
            )),
        }
    }

    println!(
        "\n{:<7} {:>6} {:>6} {:>8}  {:>11}  deviations",
        "check", "pairs", "agree", "agree%", "unexplained"
    );
    let (mut pairs, mut agree, mut dev, mut bad) = (0, 0, 0, Vec::new());
    for (id, r) in &rows {
        let devs: Vec<String> = r
            .deviations
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect();
        println!(
            "{id:<7} {:>6} {:>6} {:>7.2}%  {:>11}  {}",
            r.pairs,
            r.agree,
            100.0 * r.agree as f64 / r.pairs as f64,
            r.unexplained.len(),
            devs.join(" ")
        );
        pairs += r.pairs;
        agree += r.agree;
        dev += r.deviations.values().sum::<usize>();
        bad.extend(r.unexplained.iter().cloned());
    }
    println!(
        "total   {pairs:>6} {agree:>6} {:>7.2}%  {:>11}  {dev} explained by documented deviations; agreement outside deviations: {:.2}%",
        100.0 * agree as f64 / pairs as f64,
        bad.len(),
        100.0 * (agree + dev) as f64 / pairs as f64
    );
    assert_eq!(rows.len(), 53, "trivy's verdicts cover all 53 checks");
    assert!(
        bad.is_empty(),
        "{} disagreements no deviation explains:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
