//! End-to-end behaviour of `tollgate scan` and `tollgate checks`: the real binary with
//! the real plugin components.

use std::fs;

use serde_json::Value;
use tollgate_e2e::{
    binary, bundle_plugin, check, extra_plugin, root, run, run_stdin, shared, tollgate,
};

/// `tollgate scan --format json` of a directory holding one file.
fn scan_one_file(name: &str, text: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(name), text).unwrap();
    run([
        "scan".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        dir.path().as_os_str(),
    ])
    .json()
}

fn sha256_file(p: &std::path::Path) -> String {
    // The binary's identity, to prove nothing was rebuilt between steps.
    let bytes = fs::read(p).unwrap();
    format!(
        "{}:{}",
        bytes.len(),
        bytes.iter().fold(0u64, |h, b| h
            .wrapping_mul(1099511628211)
            .wrapping_add(*b as u64))
    )
}

#[test]
fn readme_quick_start_audits_the_bundled_examples() {
    let out = run(["scan".as_ref(), root().join("examples").as_os_str()]);
    assert_eq!(out.code, 1, "findings exit 1: {}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Deployment shop/web"), "{}", out.stdout);
    assert!(
        out.stdout.contains("KSV024") && out.stdout.contains("hostPort"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("ClusterRole debug-everything"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("Deployment shop/api"),
        "the hardened example passes every check"
    );
    let summary = out.stdout.lines().last().unwrap();
    assert!(summary.starts_with("4 resources in 3 files:"), "{summary}");
}

#[test]
fn a_clean_scan_exits_zero_and_severity_filters_what_counts() {
    let out = run([
        "scan".as_ref(),
        root().join("examples/hardened.yaml").as_os_str(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let web = root().join("examples/web.yaml");
    assert_eq!(run(["scan".as_ref(), web.as_os_str()]).code, 1);
    // web.yaml has no CRITICAL finding: filtering to CRITICAL makes the scan clean.
    let out = run([
        "scan".as_ref(),
        "--severity".as_ref(),
        "CRITICAL".as_ref(),
        web.as_os_str(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let out = run([
        "scan".as_ref(),
        "--severity".as_ref(),
        "HIGH,CRITICAL".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        web.as_os_str(),
    ]);
    assert_eq!(out.code, 1);
    let report = out.json();
    for r in report["resources"].as_array().unwrap() {
        for c in r["checks"].as_array().unwrap() {
            assert!(
                matches!(c["severity"].as_str().unwrap(), "HIGH" | "CRITICAL"),
                "{c}"
            );
        }
    }
    let out = run(["scan", "--severity", "URGENT", "x.yaml"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("unknown severity 'URGENT'"),
        "{}",
        out.stderr
    );
}

#[test]
fn json_report_follows_the_v1_contract() {
    let out = run([
        "scan".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        root().join("examples/web.yaml").as_os_str(),
    ]);
    let r = out.json();
    assert_eq!(r["schema"], "tollgate.report/v1");
    assert_eq!(r["tool"]["name"], "tollgate");
    assert_eq!(r["plugins"].as_array().unwrap().len(), 7);
    for p in r["plugins"].as_array().unwrap() {
        assert_eq!(p["sha256"].as_str().unwrap().len(), 64);
    }
    let res = r["resources"].as_array().unwrap();
    assert_eq!(res.len(), 2);
    let d = &res[0];
    assert!(d["file"].as_str().unwrap().ends_with("examples/web.yaml"));
    assert_eq!(
        (
            d["document"].as_u64(),
            d["item"].clone(),
            d["kind"].as_str()
        ),
        (Some(0), Value::Null, Some("Deployment"))
    );
    assert_eq!(
        (
            d["namespace"].as_str(),
            d["name"].as_str(),
            d["apiVersion"].as_str()
        ),
        (Some("shop"), Some("web"), Some("apps/v1"))
    );
    // Every applied check is listed, passed ones with no messages.
    let checks = d["checks"].as_array().unwrap();
    assert_eq!(
        checks.len(),
        45 + 44,
        "20 General + 5 Advanced + 13 PSS Baseline + 7 PSS Restricted + 44 CIS Control Plane apply to a Deployment"
    );
    let passed = checks.iter().find(|c| c["id"] == "KSV008").unwrap();
    assert_eq!(
        (
            passed["success"].as_bool(),
            passed["messages"].as_array().unwrap().len()
        ),
        (Some(true), 0)
    );
    let failed = checks.iter().find(|c| c["id"] == "KSV013").unwrap();
    assert_eq!(failed["success"], false);
    assert_eq!(failed["severity"], "MEDIUM");
    assert_eq!(failed["category"], "General");
    assert_eq!(failed["plugin"], "general");
    assert!(failed["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "AVD-KSV-0013"));
    assert!(failed["messages"][0].as_str().unwrap().contains("'nginx'"));
    // The Service gets only the checks that apply to every kind.
    let svc: Vec<&str> = res[1]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        svc.contains(&"KSV037") && !svc.contains(&"KSV011"),
        "{svc:?}"
    );
    assert_eq!(r["summary"]["resources"], 2);
}

/// A report written into a pipe: tollgate widens the pipe to 1 MiB (a 100k-object JSON
/// report is 530 MB; 64 KiB steps cost both processes thousands of wakeups), and the
/// report arrives whole.
#[cfg(target_os = "linux")]
#[test]
fn a_pipe_on_stdout_is_widened_and_the_report_arrives_whole() {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let mut child = tollgate()
        .args(["scan", "--format", "json"])
        .arg(root().join("examples"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut text = String::new();
    stdout.read_to_string(&mut text).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(1));
    // SAFETY: F_GETPIPE_SZ on a pipe this test owns.
    let size = unsafe { libc::fcntl(stdout.as_raw_fd(), libc::F_GETPIPE_SZ) };
    let allowed: i32 = fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 20);
    assert_eq!(size, allowed.min(1 << 20));
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["resources"].as_array().unwrap().len(), 4);
}

#[test]
fn a_second_plugin_file_adds_its_checks_at_run_time() {
    let before = sha256_file(&binary());
    let web = root().join("examples/web.yaml");
    let base = run([
        "scan".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        web.as_os_str(),
    ])
    .json();
    assert!(check(&base, "web.yaml", 0, "LBL001").is_none());
    let labels = extra_plugin("recommended-labels");
    let out = run([
        "scan".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "--plugin".as_ref(),
        labels.as_os_str(),
        web.as_os_str(),
    ]);
    let r = out.json();
    let c = check(&r, "web.yaml", 0, "LBL001").expect("LBL001 from the extra plugin");
    assert_eq!(c["success"], false);
    assert!(c["messages"][0]
        .as_str()
        .unwrap()
        .contains("app.kubernetes.io/version"));
    assert_eq!(r["plugins"].as_array().unwrap().len(), 8);
    // Only the plugin files decide the checks: a bundle of just general.wasm runs 12.
    let dir = tempfile::tempdir().unwrap();
    fs::copy(bundle_plugin("general"), dir.path().join("general.wasm")).unwrap();
    let out = run([
        "checks".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "--plugin-dir".as_ref(),
        dir.path().as_os_str(),
    ]);
    let n: usize = out.json()["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["checks"].as_array().unwrap().len())
        .sum();
    assert_eq!(n, 23);
    assert_eq!(
        before,
        sha256_file(&binary()),
        "the host binary is unchanged"
    );
}

#[test]
fn a_malformed_yaml_file_is_reported_and_the_rest_still_scanned() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(
        root().join("examples/web.yaml"),
        dir.path().join("a-good.yaml"),
    )
    .unwrap();
    fs::write(
        dir.path().join("b-bad.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: Pod\nmetadata: [unclosed\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: after}\n",
    )
    .unwrap();
    fs::write(dir.path().join("c-notes.txt"), "not scanned").unwrap();
    let out = run([
        "scan".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert_eq!(out.code, 2);
    let r = out.json();
    let errors = r["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0]["file"].as_str().unwrap().ends_with("b-bad.yaml"));
    assert_eq!(errors[0]["document"], 1);
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid YAML"),
        "{}",
        errors[0]
    );
    let names: Vec<&str> = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "web", "ok", "after"]);
    assert_eq!(r["resources"][3]["document"], 2);
    // The table names the file and the document too.
    let out = run(["scan".as_ref(), dir.path().as_os_str()]);
    assert_eq!(out.code, 2);
    assert!(
        out.stdout.contains("b-bad.yaml (document 1): invalid YAML"),
        "{}",
        out.stdout
    );
}

#[test]
fn stdin_lists_and_documents_without_kind() {
    let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a, namespace: x}\n  spec:\n    containers: [{name: c, image: 'nginx:1'}]\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n---\n# comment only\n---\nfoo: bar\n---\n";
    let out = run_stdin(["scan", "--format", "json", "-"], list);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = out.json();
    let res = r["resources"].as_array().unwrap();
    assert_eq!(res.len(), 2);
    assert_eq!(
        (
            res[0]["file"].as_str(),
            res[0]["item"].as_u64(),
            res[1]["item"].as_u64()
        ),
        (Some("-"), Some(0), Some(1))
    );
    assert_eq!(res[0]["namespace"], "x");
    assert_eq!(res[1]["namespace"], Value::Null);
    let skipped = r["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["document"], 1);
    assert!(skipped[0]["reason"].as_str().unwrap().contains("no `kind`"));
    assert!(r["errors"].as_array().unwrap().is_empty());
}

#[test]
fn json_files_and_typed_lists() {
    let r = scan_one_file(
        "pods.json",
        r#"{"apiVersion":"v1","kind":"PodList","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"j"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}]}"#,
    );
    let j = check(&r, "pods.json", 0, "KSV013").unwrap();
    assert_eq!(j["success"], false);
    assert_eq!(r["resources"][0]["item"], 0);
}

#[test]
fn yaml_merge_keys_are_resolved() {
    // The deviation `yaml-merge-keys` in policies/: the worker inherits resources through
    // a merge key, so KSV011 passes for it (trivy would see no limits).
    let r = scan_one_file(
        "merge.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: m}\nspec:\n  containers:\n  - &app\n    name: app\n    image: 'a:1'\n    resources: {limits: {cpu: '1', memory: 1Gi}}\n  - <<: *app\n    name: worker\n",
    );
    let m = check(&r, "merge.yaml", 0, "KSV011").unwrap();
    assert_eq!(m["success"], true, "{m}");
}

#[test]
fn a_broken_plugin_is_reported_and_the_others_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    fs::write(&junk, "this is not webassembly").unwrap();
    let out = run([
        "scan".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "--plugin".as_ref(),
        junk.as_os_str(),
        root().join("examples/web.yaml").as_os_str(),
    ]);
    assert_eq!(out.code, 2);
    let r = out.json();
    let e = &r["errors"][0];
    assert_eq!(e["class"], "not-component");
    assert!(e["message"].as_str().unwrap().contains("junk.wasm"));
    assert!(
        check(&r, "web.yaml", 0, "KSV011").is_some(),
        "built-in checks still ran"
    );
    // A pinned plugin whose bytes differ is refused before compilation.
    let pinned = format!(
        "{}@sha256:{}",
        extra_plugin("recommended-labels").display(),
        "0".repeat(64)
    );
    let out = run([
        "scan",
        "--format",
        "json",
        "--plugin",
        &pinned,
        &root().join("examples/web.yaml").display().to_string(),
    ]);
    assert_eq!(out.code, 2);
    assert_eq!(out.json()["errors"][0]["class"], "digest");
}

#[test]
fn checks_lists_the_169_built_in_checks() {
    let out = run(["checks", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = out.json();
    let checks: Vec<&Value> = r["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["checks"].as_array().unwrap())
        .collect();
    // trivy-operator's 53 KSV checks, the 26 trivy added since, and the 90 CIS checks
    // (KCV).
    assert_eq!(checks.len(), 169);
    let count = |cat: &str| checks.iter().filter(|c| c["category"] == cat).count();
    assert_eq!(
        (
            count("General"),
            count("Advanced"),
            count("PSS Baseline"),
            count("PSS Restricted"),
            count("RBAC")
        ),
        (23, 12, 13, 7, 24)
    );
    assert_eq!(
        (
            count("CIS Control Plane"),
            count("CIS Node"),
            count("Ingress")
        ),
        (44, 45, 1)
    );
    for c in &checks {
        // KSV032/033 need settings; KSV034/035 are deprecated upstream (off in trivy).
        let off = ["KSV032", "KSV033", "KSV034", "KSV035"].contains(&c["id"].as_str().unwrap());
        assert_eq!(c["default_enabled"].as_bool(), Some(!off), "{}", c["id"]);
        assert!(!c["remediation"].as_str().unwrap().is_empty());
        let id = c["id"].as_str().unwrap();
        // trivy pads to four digits and keeps longer numbers as written (AVD-KSV-01010).
        let number = &id[3..];
        let long = if number.len() >= 4 {
            format!("AVD-{}-{number}", &id[..3])
        } else {
            format!("AVD-{}-{:04}", &id[..3], number.parse::<u32>().unwrap())
        };
        assert!(
            c["aliases"].as_array().unwrap().iter().any(|a| *a == long),
            "{id}"
        );
    }
    let table = run(["checks"]);
    let line = table
        .stdout
        .lines()
        .find(|l| l.starts_with("KSV032"))
        .unwrap();
    assert!(line.contains(" off "), "{line}");
    assert!(table.stdout.contains("169 checks from 7 plugins"));
}

#[test]
fn trusted_registry_check_is_off_by_default_on_with_settings_and_validated() {
    let web = root().join("examples/web.yaml");
    let r = run([
        "scan".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        web.as_os_str(),
    ])
    .json();
    assert!(
        check(&r, "web.yaml", 0, "KSV032").is_none(),
        "off by default"
    );
    let on = r#"advanced={"KSV032":{"enabled":true}}"#;
    let r = run([
        "scan".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "--plugin-settings".as_ref(),
        on.as_ref(),
        web.as_os_str(),
    ])
    .json();
    let c = check(&r, "web.yaml", 0, "KSV032").expect("KSV032 runs when enabled");
    assert_eq!(c["success"], false);
    assert!(c["messages"][0].as_str().unwrap().contains("nginx:latest"));
    let trusted =
        r#"advanced={"KSV032":{"enabled":true,"registries":["docker.io","docker.io/library"]}}"#;
    let out = run([
        "scan".as_ref(),
        "--plugin-settings".as_ref(),
        trusted.as_ref(),
        web.as_os_str(),
    ]);
    assert_eq!(out.code, 2);
    assert!(out.stdout.contains("KSV032.registries"), "{}", out.stdout);
    let bad = r#"advanced={"KSV032":{"enabled":"yes"}}"#;
    let out = run([
        "scan".as_ref(),
        "--plugin-settings".as_ref(),
        bad.as_ref(),
        web.as_os_str(),
    ]);
    assert_eq!(out.code, 2);
    assert!(
        out.stdout
            .contains("rejected its settings: 'KSV032.enabled' must be true or false"),
        "{}",
        out.stdout
    );
}

#[test]
fn output_is_byte_identical_whatever_the_jobs_window_and_batch() {
    let Some(shared) = tollgate_e2e::shared() else {
        eprintln!("skipping: ../shared (the public corpus) is not present");
        return;
    };
    let corpus = shared.join("corpus/public");
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", "--format", "json"];
        args.extend_from_slice(extra);
        let out = run(args
            .iter()
            .map(|s| s.to_string())
            .chain([corpus.display().to_string()]));
        assert_eq!(out.code, 2, "the corpus has one unparseable file");
        out.stdout
    };
    let reference = scan(&["--jobs", "1"]);
    assert_eq!(scan(&["--jobs", "2"]), reference);
    assert_eq!(
        scan(&["--jobs", "3", "--window", "7", "--batch", "5"]),
        reference
    );
    assert_eq!(
        scan(&["--jobs", "2", "--batch", "1", "--window", "100000"]),
        reference
    );
}

#[test]
fn a_big_list_is_split_into_windows_without_changing_the_output() {
    // `kubectl get -A -o json` prints one List: its items are evaluated in slices of
    // --window resources, and the report is the same whatever the slicing.
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<String> = (0..300)
        .map(|i| format!(r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p{i}","namespace":"ns{}"}},"spec":{{"containers":[{{"name":"c","image":"nginx:{}"}}]}}}}"#, i % 7, if i % 3 == 0 { "latest" } else { "1.25" }))
        .collect();
    let file = dir.path().join("dump.json");
    fs::write(
        &file,
        format!(
            r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#,
            items.join(",")
        ),
    )
    .unwrap();
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan".to_string(), "-f".into(), "json".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(file.display().to_string());
        run(&args)
    };
    let reference = scan(&[]);
    assert_eq!(reference.code, 1);
    let r = reference.json();
    assert_eq!(r["resources"].as_array().unwrap().len(), 300);
    assert_eq!(r["resources"][299]["item"], 299);
    assert_eq!(
        check(&r, "dump.json", 0, "KSV013").unwrap()["success"],
        false,
        "p0 uses :latest"
    );
    for extra in [
        &["--window", "7"][..],
        &["--window", "50", "--jobs", "2", "--batch", "3"],
        &["--jobs", "1"],
    ] {
        assert_eq!(scan(extra).stdout, reference.stdout, "{extra:?}");
    }
}

/// Lists and plain documents in one stream: every List large enough to be spread over
/// the workers, with plain documents before, between and after them in other chunks.
/// Every resource is reported once, in input order, whatever the chunking.
#[test]
fn lists_between_plain_documents_are_all_reported_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let pod = |name: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec: {{containers: [{{name: c, image: 'nginx:1.25'}}]}}\n")
    };
    let list = |tag: &str| {
        let items: Vec<String> = (0..40)
            .map(|i| {
                format!("- {{apiVersion: v1, kind: ConfigMap, metadata: {{name: {tag}-{i}}}}}")
            })
            .collect();
        format!("apiVersion: v1\nkind: List\nitems:\n{}\n", items.join("\n"))
    };
    let mut docs = vec![list("a")];
    docs.extend((0..15).map(|i| pod(&format!("p{i}"))));
    docs.push(list("b"));
    docs.extend((15..31).map(|i| pod(&format!("p{i}"))));
    docs.push(list("c"));
    docs.push(list("d"));
    docs.push(pod("last"));
    let file = dir.path().join("mixed.yaml");
    fs::write(&file, docs.join("---\n")).unwrap();
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan".to_string(), "-f".into(), "json".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(file.display().to_string());
        run(&args)
    };
    let expected: Vec<String> = ["a"]
        .iter()
        .flat_map(|t| (0..40).map(move |i| format!("{t}-{i}")))
        .chain((0..15).map(|i| format!("p{i}")))
        .chain((0..40).map(|i| format!("b-{i}")))
        .chain((15..31).map(|i| format!("p{i}")))
        .chain((0..40).map(|i| format!("c-{i}")))
        .chain((0..40).map(|i| format!("d-{i}")))
        .chain(["last".to_string()])
        .collect();
    let reference = scan(&[]);
    let names = |out: &tollgate_e2e::Run| -> Vec<String> {
        out.json()["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&reference), expected);
    // With one resource per batch, a chunk is 8 documents and any chunk of more than
    // 32 resources is spread over the workers: [a p0-p6] spread, [p7-p14] evaluated
    // where parsed, [b p15-p21] spread, [p22-p29] where parsed, [p30 c d last] spread.
    for extra in [
        &["--batch", "1"][..],
        &["--batch", "1", "--jobs", "1"],
        &["--batch", "1", "--window", "5"],
        &["--batch", "2", "--window", "30", "--jobs", "2"],
        // Chunk sizes are products of --batch, which has no upper bound.
        &["--batch", "2305843009213693952"],
    ] {
        let out = scan(extra);
        assert_eq!(names(&out), expected, "{extra:?}");
        assert_eq!(out.stdout, reference.stdout, "{extra:?}");
    }
}

/// `kubectl get -A -o yaml` of a cluster is one YAML document: a List of every object.
/// Past 250,000 nodes serde-saphyr's per-document budget refused it ("budget breached:
/// Nodes"); the budget now applies per object and the whole dump is scanned.
#[test]
fn a_cluster_sized_yaml_list_is_scanned_whole() {
    let n = 20_000;
    let mut text = String::from("apiVersion: v1\nitems:\n");
    for i in 0..n {
        let image = if i % 2 == 0 {
            "nginx:latest"
        } else {
            "nginx:1.25"
        };
        text.push_str(&format!(
            "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p{i}\n    namespace: ns{}\n  spec:\n    containers:\n    - name: c\n      image: {image}\n",
            i % 5
        ));
    }
    text.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
    let r = scan_one_file("cluster.yaml", &text);
    assert_eq!(r["errors"], serde_json::json!([]), "{}", r["errors"]);
    assert_eq!(r["summary"]["resources"], n);
    let last = &r["resources"][n - 1];
    assert_eq!(
        (&last["item"], &last["name"]),
        (&Value::from(n - 1), &Value::from(format!("p{}", n - 1)))
    );
    assert_eq!(
        check(&r, "cluster.yaml", 0, "KSV013").unwrap()["success"],
        false,
        "p0 uses :latest"
    );
}

/// The benchmark's boundary probe (tests/plugins/boundary) must load, run one check on
/// every kind and find nothing, whether or not it parses the object: otherwise
/// `cargo xtask bench` measures an error path.
#[test]
fn the_benchmark_boundary_probe_crosses_and_finds_nothing() {
    let probe = extra_plugin("boundary");
    let examples = root().join("examples");
    for parse in ["false", "true"] {
        let out = run([
            "scan".as_ref(),
            "--no-builtin".as_ref(),
            "--plugin".as_ref(),
            probe.as_os_str(),
            "--plugin-settings".as_ref(),
            format!(r#"boundary={{"parse":{parse}}}"#).as_ref(),
            "-f".as_ref(),
            "json".as_ref(),
            examples.as_os_str(),
        ]);
        assert_eq!(out.code, 0, "parse={parse}: {}{}", out.stdout, out.stderr);
        let r = out.json();
        let resources = r["summary"]["resources"].as_u64().unwrap();
        assert!(resources > 0);
        assert_eq!(
            r["summary"]["checks_passed"].as_u64(),
            Some(resources),
            "parse={parse}"
        );
        assert_eq!(r["errors"], serde_json::json!([]));
    }
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    // `tollgate scan -f json big.yaml | head -1`: no error message, no panic. The output
    // (megabytes) is far larger than a pipe's buffer, so the writer does hit the closed pipe.
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let web = fs::read_to_string(root().join("examples/web.yaml")).unwrap();
    fs::write(dir.path().join("big.yaml"), vec![web; 500].join("---\n")).unwrap();
    let mut child = tollgate_e2e::tollgate()
        .args([
            "scan",
            "-f",
            "json",
            &dir.path().join("big.yaml").display().to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first.trim(), "{");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("Broken pipe") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

/// `--failed-only`: every resource keeps its identity and exactly its failed (and
/// exempted) checks, the summary and exit status do not change, and the JSON says so.
#[test]
fn failed_only_reports_leave_out_exactly_the_passed_checks() {
    let mut paths = vec![root().join("examples")];
    if let Some(s) = shared() {
        paths.push(s.join("corpus/public"));
    }
    let dir = tempfile::tempdir().unwrap();
    let scan = |extra: &[&str], tag: &str| {
        let (json, junit) = (
            dir.path().join(format!("{tag}.json")),
            dir.path().join(format!("{tag}.xml")),
        );
        let mut args: Vec<std::ffi::OsString> = vec!["scan".into(), "--no-config".into()];
        args.push("-f".into());
        args.push(format!("json={}", json.display()).into());
        args.push("-f".into());
        args.push(format!("junit={}", junit.display()).into());
        args.extend(extra.iter().map(|a| a.into()));
        args.extend(paths.iter().map(|p| p.clone().into_os_string()));
        let out = run(args);
        let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        (
            out.code,
            report,
            std::fs::read_to_string(&junit).unwrap(),
            std::fs::metadata(&json).unwrap().len(),
        )
    };
    let (code, full, _, full_size) = scan(&[], "full");
    let (code_f, failed, junit, failed_size) = scan(&["--failed-only"], "failed");
    assert_eq!(code, code_f);
    assert_eq!(failed["failed_only"], true);
    assert!(full.get("failed_only").is_none());
    assert_eq!(full["summary"], failed["summary"]);
    let (a, b) = (
        full["resources"].as_array().unwrap(),
        failed["resources"].as_array().unwrap(),
    );
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(
            (&x["file"], &x["document"], &x["item"], &x["name"]),
            (&y["file"], &y["document"], &y["item"], &y["name"])
        );
        let kept: Vec<&Value> = x["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["success"] == false)
            .collect();
        let got: Vec<&Value> = y["checks"].as_array().unwrap().iter().collect();
        assert_eq!(kept, got);
    }
    let testcases = junit.matches("<testcase ").count();
    let summary = &failed["summary"];
    assert_eq!(
        testcases as u64,
        summary["checks_failed"].as_u64().unwrap() + summary["checks_exempted"].as_u64().unwrap()
    );
    assert!(
        failed_size * 2 < full_size,
        "{failed_size} vs {full_size} bytes"
    );
    eprintln!("JSON report: {full_size} bytes, {failed_size} with --failed-only");
}

#[test]
fn k8s_version_reaches_the_plugins_that_take_it() {
    // batch/v1beta1 CronJob: deprecated in 1.21 (KSV107). Without a version every
    // deprecated API is reported, as `trivy config` does; with one, only those
    // deprecated by then.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cron.yaml");
    fs::write(
        &file,
        "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: c, namespace: ns}\nspec:\n  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers: [{name: c, image: nginx}]\n",
    )
    .unwrap();
    let ksv107 = |extra: &[&str]| {
        let mut args = vec!["scan", "--format", "json", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        let report = run(args).json();
        check(&report, "cron.yaml", 0, "KSV107").expect("KSV107 ran")["success"].clone()
    };
    assert_eq!(ksv107(&[]), false);
    assert_eq!(ksv107(&["--k8s-version", "1.20.0"]), true);
    assert_eq!(ksv107(&["--k8s-version", "1.25.3"]), false);
    // The configuration's key, and the flag over it.
    let config = dir.path().join("tollgate.yaml");
    fs::write(&config, "k8s_version: 1.20.0\n").unwrap();
    let c = config.to_str().unwrap();
    assert_eq!(ksv107(&["-c", c]), true);
    assert_eq!(ksv107(&["-c", c, "--k8s-version", "1.30.0"]), false);
}
