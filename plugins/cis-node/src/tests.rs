use std::path::{Path, PathBuf};

use super::*;
use tollgate_kit::{json, serde_json, Runtime, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(id: &str, v: &Value) -> Vec<Finding> {
    let rt = Runtime::<CisNode>::new();
    let i = rt.checks.iter().position(|c| c.id == id).unwrap() as u32;
    rt.evaluate_value(v, &[i]).remove(0).findings
}

/// Findings as trivy's unit tests count them: identical results collapse.
fn distinct(mut f: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for x in f.drain(..) {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

fn node(t: &str, key: &str, values: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "NodeInfo", "metadata": {"name": "n1"}, "type": t,
           "info": {key: {"values": values}}})
}

/// Every upstream case of the 45 checks (tests/fixtures/kcv-cases, a copy of the shared
/// spec's cases) gets trivy's verdict and number of findings.
#[test]
fn every_upstream_case_gets_trivys_verdict() {
    let ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
    let dir = root().join("tests/fixtures/kcv-cases");
    let mut seen = 0;
    let mut wrong = Vec::new();
    for id in &ids {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(id))
            .unwrap_or_else(|e| panic!("{id}: {e}"))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{id} has no cases");
        for f in files {
            let case: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            assert_eq!(case["id"], *id, "{}", f.display());
            let found = distinct(run(id, &case["input"]));
            let want_fail = case["expect_fail"].as_bool().unwrap();
            let name = format!("{id}/{}", f.file_name().unwrap().to_string_lossy());
            if found.is_empty() == want_fail {
                wrong.push(format!("{name}: expected fail={want_fail}, got {found:?}"));
            } else if let Some(n) = case["expect_count"].as_u64() {
                if found.len() as u64 != n {
                    wrong.push(format!("{name}: expected {n} findings, got {found:?}"));
                }
            }
            seen += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cases disagree:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(seen, 122, "the shared spec has 122 NodeInfo cases");
}

/// The catalogue and the rule table agree, and every entry is complete.
#[test]
fn catalogue_is_complete() {
    let rt = Runtime::<CisNode>::new();
    assert_eq!(rt.checks.len(), 45);
    for (info, check) in rt.checks.iter().zip(&CHECKS) {
        assert_eq!(info.id, check.id);
        assert_eq!(info.kinds, ["NodeInfo"], "{}", info.id);
        assert_eq!(info.category, "CIS Node");
        assert!(!info.remediation.is_empty() && !info.description.is_empty());
        assert_eq!(info.aliases[0], format!("KCV-{}", &info.id[3..]));
        assert_eq!(info.aliases[1], format!("AVD-KCV-{}", &info.id[3..]));
        assert!(info.default_enabled);
    }
}

fn catalogue_json(id: &str) -> Value {
    let p = root().join(format!("policies/cis-node/{id}/check.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// policies/cis-node/<ID>/examples/{pass,fail}.yaml meet their expectations.
#[test]
fn catalogue_examples_meet_their_expectations() {
    for c in &CHECKS {
        for (file, want_fail) in [("pass.yaml", false), ("fail.yaml", true)] {
            let p = root().join(format!("policies/cis-node/{}/examples/{file}", c.id));
            let text = std::fs::read_to_string(&p).unwrap();
            for doc in text.split("\n---\n") {
                let v: Value = serde_saphyr::from_str(doc).unwrap();
                let f = run(c.id, &v);
                assert_eq!(!f.is_empty(), want_fail, "{}: {f:?}", p.display());
            }
        }
    }
}

/// Deviation `conflicting-values` (KCV0058, KCV0059, KCV0063, KCV0092): two or more
/// distinct offending values make trivy's rule raise an OPA conflict error, so trivy
/// reports nothing; tollgate reports one FAIL naming every value.
#[test]
fn conflicting_values_still_fail() {
    let cases = [
        (
            "KCV0058",
            "master",
            "etcdDataDirectoryPermissions",
            json!([755, 777, 755]),
        ),
        (
            "KCV0059",
            "master",
            "etcdDataDirectoryOwnership",
            json!(["root:root", "user:user"]),
        ),
        (
            "KCV0063",
            "master",
            "schedulerConfFileOwnership",
            json!(["user:user", 0]),
        ),
        (
            "KCV0092",
            "worker",
            "kubeletOnlyUseStrongCryptographic",
            json!(["TLS_RSA_WITH_RC4_128_SHA", "aaa"]),
        ),
    ];
    for (id, t, key, values) in cases {
        let f = run(id, &node(t, key, values.clone()));
        assert_eq!(f.len(), 1, "{id}: {f:?}");
        for v in values.as_array().unwrap() {
            let bad = CHECKS.iter().find(|c| c.id == id).unwrap().test;
            let tree = tollgate_kit::Tree::from_value(v);
            if bad.offends(tree.root()) {
                assert!(
                    f[0].message.contains(&v.to_string()),
                    "{id}: {}",
                    f[0].message
                );
            }
        }
        assert_eq!(f[0].path.as_deref(), Some(&*format!("info.{key}.values")));
        let dev = catalogue_json(id);
        let dev = dev["deviations"].as_array().unwrap();
        assert!(
            dev.iter().any(|d| d["id"] == "conflicting-values"
                && d["reason"]
                    .as_str()
                    .unwrap()
                    .contains("conflicting_values_still_fail")),
            "{id}"
        );
    }
    // Only those four can conflict upstream; no other entry records the deviation.
    for c in &CHECKS {
        let n = catalogue_json(c.id)["deviations"].as_array().unwrap().len();
        let expected = usize::from(matches!(
            c.id,
            "KCV0058" | "KCV0059" | "KCV0063" | "KCV0092"
        ));
        assert_eq!(n, expected, "{}", c.id);
    }
}

#[test]
fn values_compare_in_regos_order() {
    let key = "kubeAPIServerSpecFilePermission";
    let fails = |v: Value| !run("KCV0048", &node("master", key, v)).is_empty();
    assert!(fails(json!([644])));
    assert!(fails(json!([600.5])));
    assert!(fails(json!(["600"])), "a string is above every number");
    assert!(fails(json!([[1]])) && fails(json!([{}])));
    assert!(!fails(json!([600, 400, 577, null, true, false])));
    // KCV0087: v < 0, so null and booleans fail and every string passes.
    let qps =
        |v: Value| !run("KCV0087", &node("worker", "kubeletEventQpsArgumentSet", v)).is_empty();
    assert!(qps(json!([-1])) && qps(json!([null])) && qps(json!([false])));
    assert!(!qps(json!(["-1", 0, 5])));
    // JSON equality: "0" is not 0, 0.0 is.
    let ro = |v: Value| {
        !run(
            "KCV0082",
            &node("worker", "kubeletReadOnlyPortArgumentSet", v),
        )
        .is_empty()
    };
    assert!(ro(json!(["0"])) && !ro(json!([0, 0.0])));
    let idle = "kubeletStreamingConnectionIdleTimeoutArgumentSet";
    assert!(run("KCV0085", &node("worker", idle, json!(["0", "0s"]))).is_empty());
    assert!(!run("KCV0085", &node("worker", idle, json!([0.0]))).is_empty());
    let anon = |v: Value| {
        !run(
            "KCV0079",
            &node("worker", "kubeletAnonymousAuthArgumentSet", v),
        )
        .is_empty()
    };
    assert!(anon(json!(["true"])) && !anon(json!([true, "True", "1"])));
    let owner = |v: Value| {
        !run(
            "KCV0049",
            &node("master", "kubeAPIServerSpecFileOwnership", v),
        )
        .is_empty()
    };
    assert!(owner(json!([0])) && owner(json!([null])) && owner(json!(["Root:root"])));
    assert!(!owner(json!(["root:root", "root:root"])));
    let cert = |v: Value| {
        !run(
            "KCV0088",
            &node("worker", "kubeletTlsCertFileTlsArgumentSet", v),
        )
        .is_empty()
    };
    assert!(cert(json!([5])) && cert(json!(["a.CRT"])) && !cert(json!(["/p/a.crt"])));
}

#[test]
fn gates_on_exact_kind_and_type() {
    let key = "kubeletConfFilePermissions";
    let mut v = node("worker", key, json!([777]));
    assert_eq!(run("KCV0073", &v).len(), 1);
    v["kind"] = json!("nodeinfo");
    assert!(run("KCV0073", &v).is_empty(), "kind is compared exactly");
    for t in [json!("Master"), json!("node"), json!(null)] {
        let mut v = node("master", key, json!([777]));
        v["type"] = t;
        assert!(run("KCV0073", &v).is_empty());
    }
    v = node("worker", "adminConfFilePermissions", json!([777]));
    assert!(
        run("KCV0060", &v).is_empty(),
        "master-only checks pass on a worker"
    );
    // Not a NodeInfo at all.
    let pod = json!({"kind": "Pod", "type": "master", "info": {key: {"values": [777]}}});
    assert!(run("KCV0073", &pod).is_empty());
}

#[test]
fn empty_values_fail_only_where_the_check_says() {
    let key = "kubeletAuthorizationModeArgumentSet";
    for empty in [json!([]), json!({}), json!("")] {
        let f = run("KCV0080", &node("worker", key, empty.clone()));
        assert_eq!(f.len(), 1, "{empty}");
        assert!(
            f[0].message.contains(key) && f[0].message.contains("no values"),
            "{}",
            f[0].message
        );
    }
    // Missing key, missing `values`, or values that are not a list: pass.
    let missing = json!({"kind": "NodeInfo", "type": "worker", "info": {}});
    assert!(run("KCV0080", &missing).is_empty());
    let no_values = json!({"kind": "NodeInfo", "type": "worker", "info": {key: {}}});
    assert!(run("KCV0080", &no_values).is_empty());
    assert!(run("KCV0080", &node("worker", key, json!(5))).is_empty());
    assert!(run("KCV0080", &node("worker", key, json!("Webhook"))).is_empty());
    // A comma list is one string, so "Webhook,AlwaysAllow" passes.
    assert!(run(
        "KCV0080",
        &node("worker", key, json!(["Webhook,AlwaysAllow"]))
    )
    .is_empty());
    // Checks that do not fail on empty values pass on them.
    assert!(run(
        "KCV0079",
        &node("worker", "kubeletAnonymousAuthArgumentSet", json!([]))
    )
    .is_empty());
}

#[test]
fn hostname_override_fails_on_any_length() {
    let key = "kubeletHostnameOverrideArgumentSet";
    let fails = |v: Value| !run("KCV0086", &node("worker", key, v)).is_empty();
    assert!(fails(json!([""])) && fails(json!("name")) && fails(json!({"a": 1})));
    assert!(!fails(json!([])) && !fails(json!("")) && !fails(json!(7)) && !fails(json!(null)));
}

#[test]
fn one_finding_names_key_and_distinct_values() {
    let v = node(
        "master",
        "containerNetworkInterfaceFilePermissions",
        json!([700, 755, 700, 600]),
    );
    let f = run("KCV0056", &v);
    assert_eq!(f.len(), 1);
    assert_eq!(
        f[0].message,
        "NodeInfo 'n1' (master node): containerNetworkInterfaceFilePermissions is 700, 755, more permissive than 600"
    );
    let many = node(
        "worker",
        "kubeletOnlyUseStrongCryptographic",
        json!(["a", "b", "c", "d", "e", "f", "g"]),
    );
    let f = run("KCV0092", &many);
    assert!(
        f[0].message
            .ends_with("\"e\" and 2 more, not among the strong cipher suites"),
        "{}",
        f[0].message
    );
}
