//! Helm charts, kustomizations and trivy's ignore files as `tollgate scan` inputs.
//!
//! Neither helm nor kustomize can be installed on the machines these tests run on, so
//! the rendering path is tried with **stand-in executables** the test puts alone on
//! `PATH`: shell scripts that check the arguments they receive (and fail like the real
//! tool when they are wrong) and print what the real tool prints for the fixture, in its
//! format (helm heads each document with `# Source: CHART/templates/FILE`; kustomize
//! writes plain documents). The rendered text is what helm 3 renders from
//! `tests/fixtures/render/web` with the values given.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;
use tollgate_e2e::{output, root, tollgate};

/// An executable `name` in `dir` running `script` with /bin/sh.
fn stand_in(dir: &Path, name: &str, script: &str) {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{script}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `tollgate scan ARGS -f json` with only `bin` on PATH.
fn scan_with_path(bin: &Path, args: &[&str]) -> tollgate_e2e::Run {
    output(
        tollgate()
            .env("PATH", bin)
            .args(["scan", "-f", "json"])
            .args(args)
            .output()
            .unwrap(),
    )
}

fn failed(report: &Value, file: &str) -> Vec<String> {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["file"] == file)
        .flat_map(|r| r["checks"].as_array().unwrap())
        .filter(|c| c["success"] == false && c.get("exempted").is_none_or(Value::is_null))
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

const HELM_OUTPUT: &str = r#"---
# Source: web/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: rel-web
spec:
  ports: [{port: 80}]
---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: rel-web
  namespace: shop
spec:
  template:
    spec:
      containers:
      - name: web
        image: nginx:1.27
        securityContext: {privileged: true}
"#;

#[test]
fn a_chart_is_rendered_with_helm_and_findings_name_its_template_files() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir_all(repo.join("charts")).unwrap();
    let chart = repo.join("charts/web");
    copy_dir(&root().join("tests/fixtures/render/web"), &chart);
    let values = work.path().join("prod.yaml");
    std::fs::write(&values, "image: nginx:1.27\n").unwrap();
    let bin = work.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let expected = format!(
        "template rel {} --namespace shop --values {} --set privileged=true",
        chart.display(),
        values.display()
    );
    stand_in(
        &bin,
        "helm",
        &format!(
            "if [ \"$*\" != '{expected}' ]; then echo \"Error: unexpected arguments: $*\" >&2; exit 1; fi\n/bin/cat <<'OUT'\n{HELM_OUTPUT}OUT\n"
        ),
    );
    let run = scan_with_path(
        &bin,
        &[
            repo.to_str().unwrap(),
            "--helm-values",
            values.to_str().unwrap(),
            "--helm-set",
            "privileged=true",
            "--helm-release",
            "rel",
            "--helm-namespace",
            "shop",
        ],
    );
    assert_eq!(run.code, 1, "findings: {}", run.stderr);
    let report = run.json();
    let deployment = format!("{}/templates/deployment.yaml", chart.display());
    let ksv = failed(&report, &deployment);
    assert!(
        ksv.contains(&"KSV017".to_string()),
        "privileged, from the template file: {ksv:?}"
    );
    let service = format!("{}/templates/service.yaml", chart.display());
    assert!(report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["file"] == service.as_str()));
    // Chart.yaml, values.yaml and the raw templates are never read as manifests.
    assert_eq!(report["summary"]["skipped"], 0, "{}", report["skipped"]);
    assert_eq!(
        report["errors"].as_array().unwrap().len(),
        0,
        "{}",
        report["errors"]
    );
    assert_eq!(report["summary"]["resources"], 2);

    // helm's own failure is an input error with its message; the rest is still scanned.
    std::fs::write(repo.join("pod.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  containers: [{name: c, image: nginx}]\n").unwrap();
    let run = scan_with_path(&bin, &[repo.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let report = run.json();
    let error = &report["errors"][0];
    assert_eq!(error["file"], chart.display().to_string());
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("helm template failed") && message.contains("unexpected arguments"),
        "{message}"
    );
    assert_eq!(
        report["summary"]["resources"], 1,
        "the plain manifest beside the chart"
    );
}

#[test]
fn without_a_renderer_on_path_a_chart_is_an_error_that_says_how_to_render_it() {
    let work = tempfile::tempdir().unwrap();
    let chart = work.path().join("web");
    copy_dir(&root().join("tests/fixtures/render/web"), &chart);
    let empty = work.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let run = scan_with_path(&empty, &[chart.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    let report = run.json();
    let message = report["errors"][0]["message"].as_str().unwrap();
    assert_eq!(
        message,
        format!(
            "helm is not on PATH; install it, or a Helm chart: render it and scan the result: helm template {} | tollgate scan -",
            chart.display()
        )
    );
    assert_eq!(report["summary"]["skipped"], 0);
    // The table says it on stderr too, naming the chart.
    let table = output(
        tollgate()
            .env("PATH", &empty)
            .args(["scan"])
            .arg(&chart)
            .output()
            .unwrap(),
    );
    assert_eq!(table.code, 2);
    assert!(
        table.stdout.contains("helm template") || table.stderr.contains("helm template"),
        "{table:?}",
        table = (table.stdout.clone(), table.stderr.clone())
    );
}

#[test]
fn a_kustomization_is_built_and_findings_name_its_kustomization_file() {
    let work = tempfile::tempdir().unwrap();
    let overlay = work.path().join("overlay");
    copy_dir(&root().join("tests/fixtures/render/overlay"), &overlay);
    let bin = work.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    // What `kubectl kustomize` prints for the fixture: the pod with the namespace set.
    stand_in(
        &bin,
        "kubectl",
        &format!(
            "if [ \"$*\" != 'kustomize {}' ]; then echo \"error: unexpected arguments: $*\" >&2; exit 1; fi\n/bin/cat <<'OUT'\napiVersion: v1\nkind: Pod\nmetadata:\n  name: tool\n  namespace: shop\nspec:\n  containers:\n  - image: busybox:1.36\n    name: tool\n  hostPID: true\nOUT\n",
            overlay.display()
        ),
    );
    let run = scan_with_path(&bin, &[work.path().to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    let file = format!("{}/kustomization.yaml", overlay.display());
    assert!(
        failed(&report, &file).contains(&"KSV010".to_string()),
        "hostPID: {report}"
    );
    assert_eq!(
        report["summary"]["resources"], 1,
        "pod.yaml is not scanned apart from the build"
    );
    assert_eq!(
        report["summary"]["skipped"], 0,
        "kustomization.yaml is not a skipped document"
    );
}

#[test]
fn trivy_ignore_files_are_exemptions_with_their_statements() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::create_dir(dir.join("k8s")).unwrap();
    std::fs::write(
        dir.join("k8s/pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  containers: [{name: c, image: nginx}]\n",
    )
    .unwrap();
    // The formats of trivy's documentation (docs/configuration/filtering.md).
    std::fs::write(
        dir.join(".trivyignore"),
        "# Accept the risk\nKSV-0013\n\n# Accept the risk until 2023-01-01\nKSV001 exp:2023-01-01\n",
    )
    .unwrap();
    std::fs::write(
        dir.join(".trivyignore.yaml"),
        "vulnerabilities:\n  - id: CVE-2022-40897\nmisconfigurations:\n  - id: AVD-KSV-0014\n    paths:\n      - \"k8s/*.yaml\"\n    statement: The root filesystem is written by the app\n  - id: KSV011\n    paths:\n      - \"other/*.yaml\"\n",
    )
    .unwrap();
    let run = scan_with_path(Path::new("/usr/bin"), &[dir.to_str().unwrap()]);
    let report = run.json();
    let checks = report["resources"][0]["checks"].as_array().unwrap();
    let exempted = |id: &str| {
        checks
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["exempted"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(exempted("KSV013")["reason"], "Accept the risk");
    assert_eq!(
        exempted("KSV013")["source"],
        format!("{}/.trivyignore line 2", dir.display())
    );
    assert_eq!(
        exempted("KSV014")["reason"],
        "The root filesystem is written by the app"
    );
    assert!(exempted("KSV011").is_null(), "its path does not match");
    assert!(exempted("KSV001").is_null(), "expired");
    let statuses: Vec<(String, String)> = report["exemptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["source"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let status = |suffix: &str| {
        statuses
            .iter()
            .find(|(s, _)| s.ends_with(suffix))
            .map(|(_, st)| st.as_str())
    };
    assert_eq!(status(".trivyignore line 5"), Some("expired"));
    assert_eq!(
        status(".trivyignore.yaml misconfigurations[0]"),
        Some("active")
    );
    assert_eq!(
        status(".trivyignore.yaml misconfigurations[1]"),
        Some("stale")
    );

    // --ignorefile names one elsewhere; a bad one is a usage error naming the line.
    let other = work.path().join("ignore.txt");
    std::fs::write(&other, "KSV017 because\n").unwrap();
    let run = scan_with_path(
        Path::new("/usr/bin"),
        &[
            dir.join("k8s").to_str().unwrap(),
            "--ignorefile",
            other.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!("{}: line 1", other.display()))
            && run.stderr.contains("found 'because'"),
        "{}",
        run.stderr
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}
