//! Report formats people plug into: trivy-operator report objects validated against
//! trivy-operator's CRDs, SARIF validated against the SARIF 2.1.0 schema (both on the
//! whole public corpus when ../shared is present, on the bundled examples always),
//! JUnit, several formats from one scan, and the compliance views checked against
//! counts computed independently from the per-check JSON report.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tollgate_e2e::{assert_valid, crd_validator, root, run, shared};

fn schemas() -> PathBuf {
    root().join("tests/fixtures/schemas")
}

fn targets() -> Vec<PathBuf> {
    let mut t = vec![root().join("examples")];
    match shared() {
        Some(s) => t.push(s.join("corpus/public")),
        None => eprintln!("../shared not present: validating the bundled examples only"),
    }
    t
}

#[test]
fn k8s_report_objects_validate_against_trivy_operators_crds() {
    let validators: HashMap<&str, jsonschema::Validator> = [
        ("ConfigAuditReport", "crd-configauditreports.yaml"),
        (
            "ClusterConfigAuditReport",
            "crd-clusterconfigauditreports.yaml",
        ),
        ("RbacAssessmentReport", "crd-rbacassessmentreports.yaml"),
        (
            "ClusterRbacAssessmentReport",
            "crd-clusterrbacassessmentreports.yaml",
        ),
        ("InfraAssessmentReport", "crd-infraassessmentreports.yaml"),
    ]
    .into_iter()
    .map(|(k, f)| (k, crd_validator(f)))
    .collect();
    for target in targets() {
        let dir = tempfile::tempdir().unwrap();
        let json_out = dir.path().join("reports.json");
        let out = run([
            "scan".as_ref(),
            "-f".as_ref(),
            format!("k8s-reports-json={}", json_out.display()).as_ref(),
            "-f".as_ref(),
            "json".as_ref(),
            target.as_os_str(),
        ]);
        let scan = out.json();
        let list: Value =
            serde_json::from_str(&std::fs::read_to_string(&json_out).unwrap()).unwrap();
        let items = list["items"].as_array().unwrap();
        // One report per resource, two for a control-plane Pod: its KCV results in an
        // InfraAssessmentReport, the others in its ConfigAuditReport.
        let control_plane = |r: &Value| {
            r["kind"] == "Pod"
                && r["namespace"].as_str().is_none_or(|n| n == "kube-system")
                && [
                    "kube-apiserver",
                    "kube-controller-manager",
                    "kube-scheduler",
                    "etcd",
                ]
                .iter()
                .any(|c| {
                    let n = r["name"].as_str().unwrap_or("");
                    n == *c || n.starts_with(&format!("{c}-"))
                })
        };
        let is_kcv = |c: &Value| c["id"].as_str().unwrap().starts_with("KCV");
        let mut pairs = Vec::new();
        let mut objects = items.iter();
        for res in scan["resources"].as_array().unwrap() {
            let checks = res["checks"].as_array().unwrap();
            if control_plane(res) && checks.iter().any(is_kcv) {
                let audit: Vec<&Value> = checks.iter().filter(|c| !is_kcv(c)).collect();
                let infra: Vec<&Value> = checks.iter().filter(|c| is_kcv(c)).collect();
                pairs.push((objects.next().unwrap(), res, audit));
                pairs.push((objects.next().unwrap(), res, infra));
            } else {
                pairs.push((objects.next().unwrap(), res, checks.iter().collect()));
            }
        }
        assert!(objects.next().is_none(), "no report without a resource");
        let mut kinds: HashMap<String, usize> = HashMap::new();
        for (obj, res, checks) in pairs {
            let kind = obj["kind"].as_str().unwrap();
            *kinds.entry(kind.to_string()).or_default() += 1;
            assert_eq!(obj["apiVersion"], "aquasecurity.github.io/v1alpha1");
            assert_valid(
                &validators[kind],
                obj,
                &format!("{kind} for {}", res["file"]),
            );
            let labels = &obj["metadata"]["labels"];
            assert_eq!(labels["trivy-operator.resource.kind"], res["kind"]);
            let expected_kind = match res["kind"].as_str().unwrap() {
                "Role" => "RbacAssessmentReport",
                "ClusterRole" => "ClusterRbacAssessmentReport",
                "Namespace"
                | "ClusterRoleBinding"
                | "PersistentVolume"
                | "StorageClass"
                | "CustomResourceDefinition"
                | "PriorityClass"
                    if res["namespace"].is_null() =>
                {
                    "ClusterConfigAuditReport"
                }
                "Pod" if control_plane(res) && checks.iter().all(|c| is_kcv(c)) => {
                    "InfraAssessmentReport"
                }
                _ => kind,
            };
            assert_eq!(kind, expected_kind, "{}", res["kind"]);
            if kind.starts_with("Cluster") {
                assert!(obj["metadata"].get("namespace").is_none());
            } else {
                assert_eq!(
                    obj["metadata"]["namespace"],
                    res["namespace"].as_str().unwrap_or("default")
                );
            }
            // The summary counts the failed checks by severity.
            let failed = |sev: &str| {
                checks
                    .iter()
                    .filter(|c| c["severity"] == sev && c["success"] == false)
                    .count()
            };
            let summary = &obj["report"]["summary"];
            assert_eq!(
                summary["highCount"].as_u64().unwrap() as usize,
                failed("HIGH")
            );
            assert_eq!(
                summary["lowCount"].as_u64().unwrap() as usize,
                failed("LOW")
            );
            assert_eq!(
                obj["report"]["checks"].as_array().unwrap().len(),
                checks.len()
            );
        }
        assert!(
            kinds.contains_key("ConfigAuditReport")
                && kinds.contains_key("ClusterRbacAssessmentReport"),
            "{kinds:?}"
        );
    }
    // YAML (the default) holds the same objects as the JSON list.
    let ex = root().join("examples");
    let yaml = run([
        "scan".as_ref(),
        "-f".as_ref(),
        "k8s-reports".as_ref(),
        ex.as_os_str(),
    ]);
    let docs: Vec<Value> = serde_saphyr::from_multiple(&yaml.stdout).unwrap();
    let json = run([
        "scan".as_ref(),
        "-f".as_ref(),
        "k8s-reports-json".as_ref(),
        ex.as_os_str(),
    ]);
    let mut items = json.json()["items"].as_array().unwrap().clone();
    let strip = |v: &mut Value| v["report"]["updateTimestamp"] = Value::Null;
    let mut docs = docs;
    docs.iter_mut().for_each(strip);
    items.iter_mut().for_each(strip);
    assert_eq!(docs, items);
}

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(schemas().join("sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for target in targets() {
        let out = run([
            "scan".as_ref(),
            "-f".as_ref(),
            "sarif".as_ref(),
            "-f".as_ref(),
            "json=/dev/null".as_ref(),
            target.as_os_str(),
        ]);
        let sarif: Value =
            serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("SARIF is not JSON: {e}"));
        assert_valid(
            &validator,
            &sarif,
            &format!("SARIF for {}", target.display()),
        );
        let run0 = &sarif["runs"][0];
        let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
        // The 53 KSV checks and the 90 KCV checks.
        assert_eq!(rules.len(), 169);
        let r13 = rules.iter().find(|r| r["id"] == "KSV013").unwrap();
        assert_eq!(r13["defaultConfiguration"]["level"], "warning");
        assert_eq!(r13["properties"]["security-severity"], "5.5");
        assert!(r13["help"]["text"]
            .as_str()
            .unwrap()
            .contains("Remediation"));
        for r in run0["results"].as_array().unwrap() {
            let i = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[i]["id"], r["ruleId"]);
            assert!(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].is_string());
        }
    }
    let out = run([
        "scan".as_ref(),
        "-f".as_ref(),
        "sarif".as_ref(),
        root().join("examples/web.yaml").as_os_str(),
    ]);
    let sarif: Value = serde_json::from_str(&out.stdout).unwrap();
    let first = &sarif["runs"][0]["results"][0];
    assert!(
        first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("examples/web.yaml")
    );
    assert_eq!(
        first["locations"][0]["physicalLocation"]["region"]["startLine"], 2,
        "the line where the Deployment starts"
    );
}

#[test]
fn several_formats_from_one_scan_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    let ex = root().join("examples");
    let (json, junit) = (dir.path().join("r.json"), dir.path().join("r.xml"));
    let out = run([
        "scan".as_ref(),
        "-f".as_ref(),
        "table".as_ref(),
        "-f".as_ref(),
        format!("json={}", json.display()).as_ref(),
        "--format".as_ref(),
        format!("junit={}", junit.display()).as_ref(),
        ex.as_os_str(),
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("Deployment shop/web"),
        "table on stdout"
    );
    assert!(
        !out.stdout.contains('\u{1b}'),
        "no colour when stdout is not a terminal"
    );
    let separate = run([
        "scan".as_ref(),
        "-f".as_ref(),
        "json".as_ref(),
        ex.as_os_str(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&json).unwrap(),
        separate.stdout,
        "the file equals a separate json run"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml"));
    assert_eq!(
        xml.matches("<testsuite ").count(),
        4,
        "one testsuite per resource"
    );
    let report = separate.json();
    let checks: usize = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["checks"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        xml.matches("<testcase ").count(),
        checks,
        "one testcase per check"
    );
    assert_eq!(
        xml.matches("<failure ").count(),
        report["summary"]["checks_failed"].as_u64().unwrap() as usize
    );
    assert!(xml.contains("&apos;nginx&apos;"), "messages are escaped");
    // --output with a single format writes it to the file.
    let sarif = dir.path().join("r.sarif");
    let single = run([
        "scan".as_ref(),
        "-f".as_ref(),
        "sarif".as_ref(),
        "-o".as_ref(),
        sarif.as_os_str(),
        ex.as_os_str(),
    ]);
    assert_eq!((single.code, single.stdout.as_str()), (1, ""));
    assert!(std::fs::read_to_string(&sarif)
        .unwrap()
        .contains("\"version\":\"2.1.0\""));
    // --quiet: failures only.
    let quiet = run(["scan".as_ref(), "--quiet".as_ref(), ex.as_os_str()]);
    assert!(quiet.stdout.contains("KSV024") && !quiet.stdout.contains("resources in"));
    // Usage errors.
    let bad = run([
        "scan".as_ref(),
        "-f".as_ref(),
        "pdf".as_ref(),
        ex.as_os_str(),
    ]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("unknown format 'pdf'"),
        "{}",
        bad.stderr
    );
    let two = run([
        "scan".as_ref(),
        "-f".as_ref(),
        "json".as_ref(),
        "-f".as_ref(),
        "sarif".as_ref(),
        ex.as_os_str(),
    ]);
    assert_eq!(two.code, 2);
    assert!(two.stderr.contains("only one format can go to stdout"));
}

/// Control counts computed from the per-check JSON report, independently of the
/// compliance code: a resource passes a control when every backing check that ran on it
/// passed, fails when one failed.
fn independent_counts(report: &Value, checks: &[String]) -> (usize, usize) {
    let (mut pass, mut fail) = (0, 0);
    for r in report["resources"].as_array().unwrap() {
        let applied: Vec<&Value> = r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| checks.iter().any(|id| c["id"] == id.as_str()))
            .collect();
        if applied.is_empty() {
            continue;
        }
        if applied.iter().all(|c| c["success"] == true) {
            pass += 1;
        } else {
            fail += 1;
        }
    }
    (pass, fail)
}

fn check_compliance(spec: &str, target: &Path) {
    let out = run([
        "compliance".as_ref(),
        spec.as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        target.as_os_str(),
    ]);
    assert!(matches!(out.code, 1 | 2), "{}", out.stderr);
    let c = out.json();
    let scan = run([
        "scan".as_ref(),
        "-f".as_ref(),
        "json".as_ref(),
        target.as_os_str(),
    ])
    .json();
    let controls = c["controls"].as_array().unwrap();
    assert!(!controls.is_empty());
    for ctl in controls {
        let checks: Vec<String> = ctl["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let (pass, fail) = independent_counts(&scan, &checks);
        assert_eq!(
            (
                ctl["pass"].as_u64().unwrap() as usize,
                ctl["fail"].as_u64().unwrap() as usize
            ),
            (pass, fail),
            "{spec} {}",
            ctl["id"]
        );
        let status = ctl["status"].as_str().unwrap();
        if fail > 0 {
            assert_eq!(status, "FAIL");
        }
    }
}

#[test]
fn compliance_figures_match_the_per_check_report() {
    for target in targets() {
        for spec in [
            "k8s-nsa-1.0",
            "k8s-pss-baseline-0.1",
            "k8s-pss-restricted-0.1",
            "k8s-cis-1.23",
        ] {
            check_compliance(spec, &target);
        }
    }
    let ex = root().join("examples");
    let out = run([
        "compliance".as_ref(),
        "k8s-nsa-1.0".as_ref(),
        "-f".as_ref(),
        "json".as_ref(),
        ex.as_os_str(),
    ]);
    let c = out.json();
    let ctl = |id: &str| {
        c["controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        ctl("1.6")["checks"][0],
        "KSV116",
        "NSA 1.6 (KSV-0029) is backed by KSV116"
    );
    assert_eq!(ctl("3.0")["status"], "MANUAL");
    // KCV-0001 (anonymous auth) is judged on kube-apiserver Pods; examples/ has none.
    assert_eq!(ctl("7.0")["checks"][0], "KCV0001");
    assert_eq!(ctl("7.0")["status"], "PASS");
    assert_eq!(ctl("1.2")["status"], "PASS");
    // The ClusterComplianceReport validates against its CRD, in both views.
    let v = crd_validator("crd-clustercompliancereports.yaml");
    for view in ["summary", "all"] {
        let out = run([
            "compliance".as_ref(),
            "k8s-pss-restricted-0.1".as_ref(),
            "-f".as_ref(),
            "k8s-report".as_ref(),
            "--report".as_ref(),
            view.as_ref(),
            ex.as_os_str(),
        ]);
        let obj: Value = serde_saphyr::from_str(&out.stdout).unwrap();
        assert_eq!(obj["kind"], "ClusterComplianceReport");
        assert_valid(&v, &obj, &format!("ClusterComplianceReport ({view})"));
    }
    let table = run([
        "compliance".as_ref(),
        "k8s-pss-baseline-0.1".as_ref(),
        "--report".as_ref(),
        "all".as_ref(),
        ex.as_os_str(),
    ]);
    assert!(
        table.stdout.contains("Deployment shop/web")
            && table.stdout.contains("fails 10 (KSV104); 6 (KSV024)"),
        "{}",
        table.stdout
    );
    let unknown = run(["compliance", "k8s-foo", "."]);
    assert_eq!(unknown.code, 2);
    assert!(unknown
        .stderr
        .contains("unknown compliance specification 'k8s-foo'"));
}

/// Runs a shell command on a terminal (util-linux `script`) and returns the screen, or
/// None where `script` is absent.
fn on_terminal(cmd: &str, no_color: bool) -> Option<String> {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: `script` (util-linux) is not installed");
        return None;
    }
    let mut c = std::process::Command::new("script");
    c.args(["-qc", cmd, "/dev/null"]).env_remove("NO_COLOR");
    if no_color {
        c.env("NO_COLOR", "1");
    }
    Some(String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned())
}

#[test]
fn table_colours_a_terminal_and_respects_no_color() {
    let cmd = format!(
        "{} scan {}",
        tollgate_e2e::binary().display(),
        root().join("examples/web.yaml").display()
    );
    let Some(coloured) = on_terminal(&cmd, false) else {
        return;
    };
    assert!(
        coloured.contains("\u{1b}[1;31mHIGH"),
        "HIGH in red on a terminal: {coloured:?}"
    );
    let plain = on_terminal(&cmd, true).unwrap();
    assert!(
        plain.contains("HIGH") && !plain.contains('\u{1b}'),
        "NO_COLOR: {plain:?}"
    );
}

#[test]
fn progress_bar_on_a_terminal_for_long_scans_only() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("many.yaml");
    let docs: Vec<String> = (0..60_000)
        .map(|i| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n"))
        .collect();
    std::fs::write(&big, docs.join("---\n")).unwrap();
    let bin = tollgate_e2e::binary();
    // The bar waits 0.8 s before it shows; how long this scan takes depends on the machine,
    // so the test removes the wait rather than betting on a duration.
    let Some(screen) = on_terminal(
        &format!(
            "TOLLGATE_PROGRESS_DELAY_MS=0 {} scan --jobs 1 -q {}",
            bin.display(),
            big.display()
        ),
        false,
    ) else {
        return;
    };
    assert!(
        screen.contains(" documents scanned ("),
        "progress bar on stderr: {screen:?}"
    );
    // Not on a pipe, and not for a short scan on a terminal.
    let piped = tollgate_e2e::output(
        tollgate_e2e::tollgate()
            .env("TOLLGATE_PROGRESS_DELAY_MS", "0")
            .args(["scan", "--jobs", "1", "-q"])
            .arg(&big)
            .output()
            .unwrap(),
    );
    assert!(!piped.stderr.contains("documents scanned"));
    let short = on_terminal(
        &format!(
            "{} scan {}",
            bin.display(),
            root().join("examples/web.yaml").display()
        ),
        false,
    )
    .unwrap();
    assert!(!short.contains("documents scanned"));
}

/// The CRD's schema of one served version.
fn crd_version_validator(file: &str, version: &str) -> (jsonschema::Validator, Value) {
    let text = std::fs::read_to_string(schemas().join(file)).unwrap();
    let crd: Value = serde_saphyr::from_str(&text).unwrap();
    let schema = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == version)
        .unwrap_or_else(|| panic!("{file} serves {version}"))["schema"]["openAPIV3Schema"]
        .clone();
    (jsonschema::validator_for(&schema).unwrap(), schema)
}

/// Kubernetes prunes fields a structural schema does not declare: every field written
/// must be declared, or it would silently vanish in a cluster.
fn assert_declared(schema: &Value, instance: &Value, path: &str) {
    match instance {
        Value::Object(map) => {
            if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
                return;
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, v) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => assert_declared(s, v, &format!("{path}.{k}")),
                    None => match schema.get("additionalProperties") {
                        Some(s @ Value::Object(_)) => assert_declared(s, v, &format!("{path}.{k}")),
                        Some(Value::Bool(true)) => {}
                        _ if path.ends_with(".metadata") || path.contains(".metadata.") => {}
                        _ => panic!("{path}.{k} is not declared by the CRD"),
                    },
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    assert_declared(s, v, &format!("{path}[{i}]"));
                }
            }
        }
        _ => {}
    }
}

fn yaml_documents(text: &str) -> Vec<Value> {
    text.split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_saphyr::from_str(d).unwrap())
        .collect()
}

#[test]
fn policy_reports_and_openreports_validate_against_their_crds() {
    let dir = tempfile::tempdir().unwrap();
    let (polr, open, json) = (
        dir.path().join("polr.yaml"),
        dir.path().join("open.yaml"),
        dir.path().join("r.json"),
    );
    let mut args: Vec<std::ffi::OsString> = vec!["scan".into(), "--no-config".into()];
    for (f, p) in [
        ("policy-report", &polr),
        ("openreports", &open),
        ("json", &json),
    ] {
        args.push("-f".into());
        args.push(format!("{f}={}", p.display()).into());
    }
    args.extend(targets().into_iter().map(|p| p.into_os_string()));
    let out = run(args);
    assert!(out.code == 1 || out.code == 2, "{}", out.stderr);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let summary = &report["summary"];
    let cases = [
        (
            &polr,
            "wgpolicyk8s.io/v1alpha2",
            [
                ("PolicyReport", "crd-policyreports.yaml"),
                ("ClusterPolicyReport", "crd-clusterpolicyreports.yaml"),
            ],
            "v1alpha2",
        ),
        (
            &open,
            "openreports.io/v1alpha1",
            [
                ("Report", "crd-openreports-reports.yaml"),
                ("ClusterReport", "crd-openreports-clusterreports.yaml"),
            ],
            "v1alpha1",
        ),
    ];
    for (file, api, kinds, version) in cases {
        let text = std::fs::read_to_string(file).unwrap();
        let objects = yaml_documents(&text);
        assert!(
            objects.len() >= 2,
            "{api}: one report per namespace and one for the cluster"
        );
        let validators: HashMap<&str, (jsonschema::Validator, Value)> = kinds
            .iter()
            .map(|(k, f)| (*k, crd_version_validator(f, version)))
            .collect();
        let (mut pass, mut fail, mut skip) = (0, 0, 0);
        for o in &objects {
            assert_eq!(o["apiVersion"], api);
            let kind = o["kind"].as_str().unwrap();
            let (validator, schema) = &validators[kind];
            let what = format!("{kind} {}", o["metadata"]["name"]);
            assert_valid(validator, o, &what);
            assert_declared(schema, o, "");
            assert_eq!(
                o["metadata"].get("namespace").is_some(),
                !kind.starts_with("Cluster"),
                "{what}"
            );
            let results = o["results"].as_array().unwrap();
            assert!(results.len() <= 1000, "{what}: {} results", results.len());
            let s = &o["summary"];
            let total = s["pass"].as_u64().unwrap()
                + s["fail"].as_u64().unwrap()
                + s["skip"].as_u64().unwrap();
            let omitted: u64 = o["metadata"]["annotations"]["tollgate.dev/results-omitted"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(total, results.len() as u64 + omitted, "{what}");
            assert!(
                serde_json::to_vec(o).unwrap().len() < 1 << 20,
                "{what} stays under 1 MiB"
            );
            // Failures are kept before passes.
            let first_pass = results
                .iter()
                .position(|r| r["result"] == "pass")
                .unwrap_or(results.len());
            assert!(
                results[first_pass..].iter().all(|r| r["result"] == "pass"),
                "{what}"
            );
            for r in results {
                assert_eq!(r["source"], "tollgate");
                assert!(r["rule"].as_str().unwrap().len() > 2 && r["policy"].is_string());
            }
            pass += s["pass"].as_u64().unwrap();
            fail += s["fail"].as_u64().unwrap();
            skip += s["skip"].as_u64().unwrap();
        }
        assert_eq!(pass, summary["checks_passed"].as_u64().unwrap(), "{api}");
        assert_eq!(fail, summary["checks_failed"].as_u64().unwrap(), "{api}");
        assert_eq!(skip, summary["checks_exempted"].as_u64().unwrap(), "{api}");
    }
}

#[test]
fn an_exempted_finding_is_a_skip_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: shop\n  annotations:\n    tollgate.dev/exempt: 'KSV013: pinned at deploy time'\n\
         spec:\n  containers:\n  - name: c\n    image: nginx:latest\n",
    )
    .unwrap();
    let out = run([
        "scan",
        "--no-config",
        "-f",
        "openreports",
        manifest.to_str().unwrap(),
    ]);
    let objects = yaml_documents(&out.stdout);
    assert_eq!(objects.len(), 1);
    assert_eq!(
        (
            objects[0]["kind"].as_str(),
            objects[0]["metadata"]["namespace"].as_str()
        ),
        (Some("Report"), Some("shop"))
    );
    let r = objects[0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "KSV013")
        .unwrap();
    assert_eq!(r["result"], "skip");
    assert_eq!(r["properties"]["exemption"], "pinned at deploy time");
    assert_eq!(
        r["properties"]["exemption.source"],
        "annotation tollgate.dev/exempt"
    );
    assert_eq!(objects[0]["summary"]["skip"], 1);
}

/// Every control trivy automates in the six built-in specifications has a check loaded:
/// none is NOT-COVERED and none is judged without one of its checks (before the 26
/// newer KSV checks, 17 were not covered and 4 partial). Coverage is about the loaded
/// checks, not the inputs (the CIS node controls are covered by the cis-node plugin
/// whether or not a NodeInfo is given); the inputs are the examples and the public
/// corpus when `../shared` is here. Each ClusterComplianceReport validates against
/// trivy-operator's CRD.
#[test]
fn no_control_of_the_six_specifications_is_left_uncovered() {
    let ex = root().join("examples");
    let mut paths = vec![ex];
    if let Some(s) = shared() {
        paths.push(s.join("corpus/public"));
    }
    let v = crd_validator("crd-clustercompliancereports.yaml");
    for spec in [
        "k8s-cis-1.23",
        "k8s-nsa-1.0",
        "k8s-pss-baseline-0.1",
        "k8s-pss-restricted-0.1",
        "eks-cis-1.4",
        "rke2-cis-1.24",
    ] {
        let mut args: Vec<std::ffi::OsString> = vec![
            "compliance".into(),
            spec.into(),
            "--format".into(),
            "json".into(),
        ];
        args.extend(paths.iter().map(|p| p.clone().into_os_string()));
        let out = run(&args);
        // The corpus holds files nobody can parse (exit 2 for those input errors).
        assert!(out.code <= 2, "{spec}: {}", out.stderr);
        let report = out.json();
        for e in report["errors"].as_array().into_iter().flatten() {
            assert_eq!(e["class"], "input", "{spec}: {e}");
        }
        let controls = report["controls"].as_array().unwrap();
        assert!(!controls.is_empty(), "{spec}");
        let uncovered: Vec<String> = controls
            .iter()
            .filter(|c| {
                c["status"] == "NOT-COVERED"
                    || !c["missing"].as_array().is_none_or(|m| m.is_empty())
            })
            .map(|c| {
                format!(
                    "{} {} {} missing {}",
                    c["id"], c["name"], c["status"], c["missing"]
                )
            })
            .collect();
        assert!(uncovered.is_empty(), "{spec}: {uncovered:#?}");
        let automated = controls.iter().filter(|c| c["status"] != "MANUAL").count();
        assert!(automated > 0, "{spec}");
        args[3] = "k8s-report".into();
        let out = run(&args);
        let obj: Value = serde_saphyr::from_str(&out.stdout).unwrap();
        assert_valid(&v, &obj, &format!("ClusterComplianceReport ({spec})"));
    }
}
