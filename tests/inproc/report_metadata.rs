//! Report objects the API server accepts: every object of every cluster format
//! (`k8s-reports`, `k8s-reports-json`, `policy-report`, `openreports`, the compliance
//! `k8s-report`) checked with the library's validator of Kubernetes' metadata rules
//! (`tollgate::report::meta`, itself tested on the rules' edge cases): names, namespaces,
//! label keys and values, annotation keys and size, object size. On objects whose names
//! are hard (`system:` ClusterRoles, 253-character names, dots, uppercase kinds), and on
//! the public corpus when `../shared` is present.

use std::path::Path;

use serde_json::Value;
use tollgate::report::meta;
use tollgate_e2e::{root, run, shared};

/// The objects a cluster format wrote: YAML documents or a JSON List's items.
fn objects(text: &str, json: bool) -> Vec<Value> {
    if json {
        let list: Value = serde_json::from_str(text).expect("a JSON List");
        return list["items"].as_array().cloned().unwrap_or_default();
    }
    text.split("\n---")
        .map(|d| d.trim_start_matches("---"))
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.starts_with('#'))
        })
        .map(|d| serde_saphyr::from_str::<Value>(d).unwrap_or_else(|e| panic!("{e}: {d}")))
        .collect()
}

/// Every cluster format of `tollgate scan` (and `compliance`) on `paths`: (format,
/// objects, the whole output).
fn emit(paths: &[&Path]) -> Vec<(String, Vec<Value>, String)> {
    let mut out = Vec::new();
    for (format, json) in [
        ("k8s-reports", false),
        ("k8s-reports-json", true),
        ("policy-report", false),
        ("openreports", false),
    ] {
        let mut args = vec!["scan", "--no-config", "-f", format];
        args.extend(paths.iter().map(|p| p.to_str().unwrap()));
        let r = run(&args);
        assert!(
            r.code == 0 || r.code == 1 || r.code == 2,
            "{format}: {}",
            r.stderr
        );
        out.push((format.to_string(), objects(&r.stdout, json), r.stdout));
    }
    let mut args = vec![
        "compliance",
        "k8s-cis-1.23",
        "--no-config",
        "-f",
        "k8s-report",
        "--report",
        "all",
    ];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    let r = run(&args);
    out.push(("compliance".into(), objects(&r.stdout, false), r.stdout));
    out
}

/// Every problem of every object, as "format kind/name: problem".
fn problems(emitted: &[(String, Vec<Value>, String)]) -> Vec<String> {
    let mut all = Vec::new();
    for (format, objects, _) in emitted {
        for o in objects {
            for p in meta::validate(o) {
                all.push(format!(
                    "{format} {}/{}: {p}",
                    o["kind"].as_str().unwrap_or("?"),
                    o["metadata"]["name"].as_str().unwrap_or("?")
                ));
            }
        }
    }
    all
}

#[test]
fn hard_names_make_valid_report_objects_in_every_cluster_format() {
    let dir = tempfile::tempdir().unwrap();
    let long: String = [
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61),
    ]
    .join(".");
    assert_eq!(long.len(), 253);
    let manifests = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: system:controller:attachdetach-controller\nrules:\n- apiGroups: ['*']\n  resources: ['*']\n  verbs: ['*']\n\
         ---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {long}\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: nginx\n\
         ---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web.frontend.v2\n  namespace: shop\ndata: {{a: b}}\n\
         ---\napiVersion: example.com/v1\nkind: MyCustomResource\nmetadata:\n  name: Upper-Case-Name\n  namespace: team-a\nspec: {{}}\n\
         ---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver-node-1.example.com\n  namespace: kube-system\nspec:\n  containers:\n  - name: kube-apiserver\n    image: registry.k8s.io/kube-apiserver:v1.29.0\n    command: [kube-apiserver, --anonymous-auth=true]\n\
         ---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: My_NS\nspec:\n  containers:\n  - name: c\n    image: nginx\n"
    );
    let file = dir.path().join("hard.yaml");
    std::fs::write(&file, manifests).unwrap();
    let emitted = emit(&[&file]);
    let problems = problems(&emitted);
    assert!(problems.is_empty(), "{problems:#?}");

    let (_, reports, text) = &emitted[0];
    // The system: ClusterRole: the label would be refused; it is a hash label and the
    // full name an annotation, as trivy-operator does.
    let role = reports
        .iter()
        .find(|o| o["kind"] == "ClusterRbacAssessmentReport")
        .expect("the ClusterRole's report");
    let labels = &role["metadata"]["labels"];
    assert!(
        labels.get("trivy-operator.resource.name").is_none(),
        "{role}"
    );
    assert_eq!(
        labels["trivy-operator.resource.name-hash"],
        meta::trivy_hash("system:controller:attachdetach-controller")
    );
    assert_eq!(
        role["metadata"]["annotations"]["trivy-operator.resource.name"],
        "system:controller:attachdetach-controller"
    );
    assert_eq!(labels["trivy-operator.resource.kind"], "ClusterRole");
    // An ordinary name keeps its label, so selectors on it keep working.
    let cm = reports
        .iter()
        .find(|o| o["metadata"]["labels"]["trivy-operator.resource.kind"] == "ConfigMap")
        .expect("the ConfigMap's report");
    assert_eq!(
        cm["metadata"]["labels"]["trivy-operator.resource.name"],
        "web.frontend.v2"
    );
    assert!(cm["metadata"].get("annotations").is_none());
    // The 253-character name: a hash label, a hashed report name.
    assert!(reports
        .iter()
        .any(|o| o["metadata"]["annotations"]["trivy-operator.resource.name"] == long.as_str()));
    // The Pod in a namespace no cluster could have: no report, and the YAML says why.
    assert!(
        text.contains(
            "# tollgate: no report for Pod p: its namespace 'My_NS' may hold only a-z, 0-9 and '-'"
        ),
        "{text}"
    );
    assert!(!reports
        .iter()
        .any(|o| o["metadata"]["namespace"] == "My_NS"));
    // Every format wrote something.
    for (format, objects, _) in &emitted {
        assert!(!objects.is_empty(), "{format} wrote no object");
    }
}

#[test]
fn the_examples_and_the_public_corpus_make_no_invalid_metadata() {
    let examples = root().join("examples");
    let mut paths = vec![examples];
    match shared() {
        Some(s) => paths.push(s.join("corpus/public")),
        None => eprintln!("../shared not present: checking the bundled examples only"),
    }
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let emitted = emit(&refs);
    let counts: Vec<(String, usize)> = emitted
        .iter()
        .map(|(f, o, _)| (f.clone(), o.len()))
        .collect();
    eprintln!("objects checked per format: {counts:?}");
    let problems = problems(&emitted);
    eprintln!("invalid: {}", problems.len());
    assert!(
        problems.is_empty(),
        "{} invalid: {:#?}",
        problems.len(),
        &problems[..problems.len().min(20)]
    );
}
