//! Configuration and exemptions: each exemption path (config, annotation, expired,
//! stale) shown in the exit status and in every output format; each kind of bad
//! configuration refused with one line naming the file and key; the README's example
//! configuration loads.

use std::fs;
use std::path::Path;

use serde_json::Value;
use tollgate_e2e::{root, run, Run};

const WEB: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    spec:\n      securityContext: {runAsNonRoot: true}\n      containers: [{name: app, image: 'nginx:1.25', securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: 20000, runAsGroup: 20000, capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}, resources: {limits: {cpu: 1, memory: 1Gi}, requests: {cpu: 1, memory: 1Gi}}}]\n";

/// A workspace with one manifest whose only failure is KSV013 (image tag latest) when
/// `image` is changed, plus a config file.
fn workspace(manifest: &str, config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("app.yaml"), manifest).unwrap();
    fs::write(dir.path().join("tollgate.yaml"), config).unwrap();
    dir
}

fn scan(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "scan".to_string(),
        "--config".into(),
        dir.join("tollgate.yaml").display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(dir.join("app.yaml").display().to_string());
    run(&args)
}

fn latest() -> String {
    WEB.replace("nginx:1.25", "nginx:latest")
}

fn ksv013(report: &Value) -> Value {
    report["resources"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "KSV013")
        .unwrap()
        .clone()
}

/// Every output format of one scan.
struct Formats {
    code: i32,
    json: Value,
    sarif: Value,
    junit: String,
    k8s: Value,
    table: String,
}

fn all_formats(dir: &Path) -> Formats {
    let f = |n: &str| dir.join(n).display().to_string();
    let out = scan(
        dir,
        &[
            "-f",
            "table",
            "-f",
            &format!("json={}", f("r.json")),
            "-f",
            &format!("sarif={}", f("r.sarif")),
            "-f",
            &format!("junit={}", f("r.xml")),
            "-f",
            &format!("k8s-reports-json={}", f("r.k8s.json")),
        ],
    );
    let read = |n: &str| fs::read_to_string(dir.join(n)).unwrap();
    Formats {
        code: out.code,
        json: serde_json::from_str(&read("r.json")).unwrap(),
        sarif: serde_json::from_str(&read("r.sarif")).unwrap(),
        junit: read("r.xml"),
        k8s: serde_json::from_str(&read("r.k8s.json")).unwrap(),
        table: out.stdout,
    }
}

/// KSV013 on the one resource is accepted (`reason` given) or counted, in every format.
fn assert_ksv013(f: &Formats, accepted: Option<&str>) {
    let c = ksv013(&f.json);
    let sarif = f.sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "KSV013")
        .unwrap()
        .clone();
    let k8s = f.k8s["items"][0]["report"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["checkID"] == "KSV013")
        .unwrap()
        .clone();
    let junit_case = &f.junit[f.junit.find("name=\"KSV013 ").unwrap()..];
    let junit_case = &junit_case[..junit_case.find("</testcase>").unwrap()];
    assert_eq!(c["success"], false, "the finding stays in the JSON report");
    match accepted {
        Some(reason) => {
            assert_eq!(f.code, 0, "an exempted finding does not count: {}", f.table);
            assert_eq!(c["exempted"]["reason"], reason);
            assert!(sarif["suppressions"][0]["justification"]
                .as_str()
                .unwrap()
                .contains(reason));
            assert!(
                junit_case.contains("<skipped message=\"exempted: "),
                "{junit_case}"
            );
            assert_eq!(k8s["success"], true);
            assert!(k8s["messages"][0]
                .as_str()
                .unwrap()
                .starts_with("exempted ("));
            assert!(
                f.table.contains("0 failed checks") && f.table.contains("1 exempted"),
                "{}",
                f.table
            );
        }
        None => {
            assert_eq!(f.code, 1, "{}", f.table);
            assert!(c["exempted"].is_null());
            assert!(sarif.get("suppressions").is_none());
            assert!(junit_case.contains("<failure "), "{junit_case}");
            assert_eq!(k8s["success"], false);
            assert!(
                f.table.contains("1 failed checks") && f.table.contains("0 exempted"),
                "{}",
                f.table
            );
        }
    }
}

#[test]
fn every_exemption_path_in_every_format() {
    // Config exemption: accepted everywhere.
    let cfg = "exemptions:\n  - checks: [KSV-0013]\n    name: web\n    reason: pinned at deploy\n";
    let dir = workspace(&latest(), cfg);
    assert_ksv013(&all_formats(dir.path()), Some("pinned at deploy"));
    // Annotation exemption: accepted everywhere.
    let annotated = latest().replace(
        "metadata: {name: web, namespace: shop}",
        "metadata: {name: web, namespace: shop, annotations: {tollgate.dev/exempt: 'KSV013: pinned by the pipeline'}}",
    );
    let dir = workspace(&annotated, "{}\n");
    assert_ksv013(&all_formats(dir.path()), Some("pinned by the pipeline"));
    // Expired: counted everywhere, and the report says so.
    let dir = workspace(&latest(), "exemptions:\n  - checks: [KSV013]\n    reason: until the migration\n    expires: 2001-01-01\n");
    let f = all_formats(dir.path());
    assert_ksv013(&f, None);
    assert_eq!(f.json["exemptions"][0]["status"], "expired");
    assert!(f
        .table
        .contains("expired on 2001-01-01 and no longer applies"));
    // Stale: counted everywhere, and the report says the exemption matched nothing.
    let dir = workspace(
        &latest(),
        "exemptions:\n  - checks: [KSV013]\n    name: api\n    reason: other app\n",
    );
    let f = all_formats(dir.path());
    assert_ksv013(&f, None);
    assert_eq!(f.json["exemptions"][0]["status"], "stale");
    assert!(f.table.contains("matched nothing in this scan (stale)"));
}

#[test]
fn config_exemption_accepts_a_finding_in_every_format() {
    // Without an exemption: KSV013 fails, exit 1.
    let dir = workspace(&latest(), "{}\n");
    let base = scan(dir.path(), &["-f", "json"]);
    assert_eq!(base.code, 1, "{}", base.stdout);
    assert_eq!(ksv013(&base.json())["success"], false);
    assert_eq!(base.json()["summary"]["checks_failed"], 1);

    let cfg = "exemptions:\n  - checks: [AVD-KSV-0013]\n    kind: Deployment\n    namespace: 'sh*'\n    name: web\n    reason: images are pinned by digest at deploy time\n    expires: 2999-01-01\n";
    let dir = workspace(&latest(), cfg);
    let out = scan(
        dir.path(),
        &[
            "-f",
            "json",
            "-f",
            &format!("sarif={}", dir.path().join("r.sarif").display()),
            "-f",
            &format!("junit={}", dir.path().join("r.xml").display()),
            "-f",
            &format!(
                "k8s-reports-json={}",
                dir.path().join("r.k8s.json").display()
            ),
        ],
    );
    assert_eq!(
        out.code, 0,
        "an exempted finding does not count: {}",
        out.stdout
    );
    let r = out.json();
    let c = ksv013(&r);
    assert_eq!(c["success"], false, "the finding stays in the report");
    assert_eq!(
        c["exempted"]["reason"],
        "images are pinned by digest at deploy time"
    );
    assert!(c["exempted"]["source"]
        .as_str()
        .unwrap()
        .ends_with("tollgate.yaml exemptions[0]"));
    assert_eq!(c["exempted"]["expires"], "2999-01-01");
    assert_eq!(
        (
            r["summary"]["checks_failed"].as_u64(),
            r["summary"]["checks_exempted"].as_u64()
        ),
        (Some(0), Some(1))
    );
    assert_eq!(r["exemptions"][0]["status"], "active");
    assert_eq!(r["exemptions"][0]["matched"], 1);
    let sarif: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("r.sarif")).unwrap()).unwrap();
    let res = &sarif["runs"][0]["results"][0];
    assert_eq!(res["ruleId"], "KSV013");
    assert!(res["suppressions"][0]["justification"]
        .as_str()
        .unwrap()
        .contains("pinned by digest"));
    let xml = fs::read_to_string(dir.path().join("r.xml")).unwrap();
    assert!(
        xml.contains("<skipped message=\"exempted: images are pinned by digest at deploy time"),
        "{xml}"
    );
    assert!(xml.contains("failures=\"0\""));
    let k8s: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("r.k8s.json")).unwrap()).unwrap();
    let kc = k8s["items"][0]["report"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["checkID"] == "KSV013")
        .unwrap()
        .clone();
    assert_eq!(kc["success"], true);
    assert!(kc["messages"][0]
        .as_str()
        .unwrap()
        .starts_with("exempted ("));
    assert_eq!(k8s["items"][0]["report"]["summary"]["mediumCount"], 0);
    // The table counts it as exempted.
    let table = scan(dir.path(), &[]);
    assert_eq!(table.code, 0);
    assert!(
        table.stdout.contains("0 failed checks") && table.stdout.contains("1 exempted"),
        "{}",
        table.stdout
    );
    // A selector that does not match leaves the finding counted, and the exemption stale.
    let dir = workspace(&latest(), &cfg.replace("name: web", "name: api"));
    let out = scan(dir.path(), &["-f", "json"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.json()["exemptions"][0]["status"], "stale");
    let table = scan(dir.path(), &[]);
    assert!(
        table.stdout.contains("warning: ")
            && table
                .stdout
                .contains("matched nothing in this scan (stale)"),
        "{}",
        table.stdout
    );
}

#[test]
fn expired_exemption_stops_applying_and_says_so() {
    let cfg = "exemptions:\n  - checks: [KSV013]\n    reason: temporary\n    expires: 2001-01-01\n";
    let dir = workspace(&latest(), cfg);
    let out = scan(dir.path(), &["-f", "json"]);
    assert_eq!(out.code, 1);
    let r = out.json();
    assert!(ksv013(&r)["exempted"].is_null());
    assert_eq!(r["exemptions"][0]["status"], "expired");
    let table = scan(dir.path(), &[]);
    assert!(
        table
            .stdout
            .contains("expired on 2001-01-01 and no longer applies"),
        "{}",
        table.stdout
    );
}

#[test]
fn annotation_exemption() {
    let manifest = latest().replace("metadata: {name: web, namespace: shop}", "metadata: {name: web, namespace: shop, annotations: {tollgate.dev/exempt: 'KSV-0013: digest pinned by the release pipeline'}}");
    let dir = workspace(&manifest, "{}\n");
    let out = scan(dir.path(), &["-f", "json"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let c = ksv013(&out.json());
    assert_eq!(c["exempted"]["source"], "annotation tollgate.dev/exempt");
    assert_eq!(
        c["exempted"]["reason"],
        "digest pinned by the release pipeline"
    );
    let table = scan(dir.path(), &[]);
    assert!(table.stdout.contains("1 exempted"));
    // A malformed annotation is an error, not a silent pass.
    let bad = latest().replace(
        "metadata: {name: web, namespace: shop}",
        "metadata: {name: web, namespace: shop, annotations: {tollgate.dev/exempt: 'KSV013'}}",
    );
    let dir = workspace(&bad, "{}\n");
    let out = scan(dir.path(), &["-f", "json"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.json()["errors"][0]["class"], "exemption");
}

#[test]
fn severity_overrides_threshold_and_filters() {
    let dir = workspace(&latest(), "severity: {KSV013: LOW}\nfail_on: MEDIUM\n");
    let out = scan(dir.path(), &["-f", "json"]);
    assert_eq!(ksv013(&out.json())["severity"], "LOW");
    assert_eq!(out.code, 0, "a LOW failure is below the MEDIUM threshold");
    assert_eq!(
        scan(dir.path(), &["--fail-on", "LOW"]).code,
        1,
        "the flag wins"
    );
    // Namespaces and kinds, from the configuration and from flags.
    let dir = workspace(&latest(), "namespaces: {exclude: ['sh*']}\n");
    let r = scan(dir.path(), &["-f", "json"]).json();
    assert_eq!(r["summary"]["resources"], 0);
    assert_eq!(r["summary"]["filtered"], 1);
    let dir = workspace(&latest(), "{}\n");
    let r = scan(dir.path(), &["-f", "json", "--exclude-kind", "Deploy*"]).json();
    assert_eq!(r["summary"]["resources"], 0);
    let r = scan(dir.path(), &["-f", "json", "--include-namespace", "shop"]).json();
    assert_eq!(r["summary"]["resources"], 1);
    // Checks switched off by alias, and a default-off check switched on.
    let dir = workspace(
        &latest(),
        "checks: {disable: [kubernetes-use-specific-tags], enable: [KSV033]}\n",
    );
    let r = scan(dir.path(), &["-f", "json"]).json();
    let ids: Vec<&str> = r["resources"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        !ids.contains(&"KSV013") && ids.contains(&"KSV033"),
        "{ids:?}"
    );
}

fn config_error(config: &str, key: &str, text: &str) {
    let dir = workspace(WEB, config);
    let file = dir.path().join("tollgate.yaml");
    for args in [
        vec![
            "config".to_string(),
            "check".into(),
            "--config".into(),
            file.display().to_string(),
        ],
        vec![
            "scan".into(),
            "--config".into(),
            file.display().to_string(),
            dir.path().join("app.yaml").display().to_string(),
        ],
    ] {
        let out = run(&args);
        assert_eq!(out.code, 2, "{config}: {}{}", out.stdout, out.stderr);
        let line = out.stderr.trim();
        assert_eq!(line.lines().count(), 1, "one line: {line}");
        assert!(
            line.contains(&file.display().to_string()),
            "names the file: {line}"
        );
        assert!(line.contains(key), "names the key {key}: {line}");
        assert!(line.contains(text), "says {text}: {line}");
    }
}

#[test]
fn bad_configuration_files_are_refused_with_file_and_key() {
    config_error("fail-on: HIGH\n", "fail-on", "unknown field");
    config_error("limits: {time_ms: soon}\n", "time_ms", "");
    config_error(
        "exemptions:\n  - checks: [KSV013]\n    kind: Deployment\n",
        "reason",
        "missing field",
    );
    config_error(
        "exemptions:\n  - checks: [KSV013]\n    reason: '  '\n",
        "exemptions[0].reason",
        "mandatory",
    );
    config_error(
        "checks: {disable: [KSV999]}\n",
        "checks.disable[0]",
        "unknown check id 'KSV999'",
    );
    config_error(
        "exemptions:\n  - checks: [KSV013, NOPE1]\n    reason: x\n",
        "exemptions[0].checks[1]",
        "unknown check id 'NOPE1'",
    );
    config_error(
        "settings: {advanced: {KSV099: {enabled: true}}}\n",
        "settings.advanced",
        "unknown setting 'KSV099'",
    );
    config_error(
        "settings: {nosuchplugin: {a: 1}}\n",
        "settings.nosuchplugin",
        "no loaded plugin is named",
    );
    config_error(
        "severity: {KSV011: URGENT}\n",
        "severity.KSV011",
        "not one of LOW, MEDIUM, HIGH, CRITICAL",
    );
    config_error(
        "exemptions:\n  - checks: [KSV013]\n    reason: x\n    expires: next week\n",
        "exemptions[0].expires",
        "not a date",
    );
}

#[test]
fn readme_example_configuration_loads_and_shows() {
    let doc = fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let start = doc
        .find("```yaml\n# tollgate.yaml")
        .expect("docs/configuration.md has the example configuration");
    let body = &doc[start + 8..];
    let example = &body[..body.find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tollgate.yaml");
    // The example's plugin path is relative to the repository root.
    fs::write(
        &file,
        example.replace(
            "target/release/extra-plugins/recommended-labels.wasm",
            &tollgate_e2e::extra_plugin("recommended-labels")
                .display()
                .to_string(),
        ),
    )
    .unwrap();
    // The trust policy's key, made as a user would.
    fs::create_dir_all(dir.path().join("keys")).unwrap();
    let keygen = tollgate_e2e::output(
        tollgate_e2e::tollgate()
            .current_dir(dir.path())
            .env("COSIGN_PASSWORD", "")
            .args(["plugin", "keygen", "--output-key-prefix", "keys/platform"])
            .output()
            .unwrap(),
    );
    assert_eq!(keygen.code, 0, "{}", keygen.stderr);
    let out = run([
        "config".as_ref(),
        "check".as_ref(),
        "--config".as_ref(),
        file.as_os_str(),
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("valid (8 plugins"), "{}", out.stdout);
    let show = run([
        "config".as_ref(),
        "show".as_ref(),
        "--config".as_ref(),
        file.as_os_str(),
    ]);
    assert_eq!(show.code, 0);
    assert!(
        show.stdout.contains("fail_on: MEDIUM") && show.stdout.contains("images by digest"),
        "{}",
        show.stdout
    );
    // And it works for a scan, from the working directory.
    let out = tollgate_e2e::output(
        tollgate_e2e::tollgate()
            .current_dir(dir.path())
            .args([
                "scan",
                "-f",
                "json",
                &root().join("examples").display().to_string(),
            ])
            .output()
            .unwrap(),
    );
    let r = out.json();
    assert!(r["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "recommended-labels"));
    let web = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "web")
        .unwrap();
    let c = web["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "KSV013")
        .unwrap();
    assert!(
        c["exempted"].is_object(),
        "the example exemption applies to web"
    );
}
