//! The recommended-labels policy as three plugins, Rust, Python (componentize-py) and
//! JavaScript (componentize-qjs), run by the same unchanged host: identical verdicts and
//! messages on the same manifests, the same response to a setting, the same refusal of a
//! bad setting. `cargo xtask test` builds the Python and JS plugins (installing the
//! toolchains it needs).

use std::fs;

use serde_json::Value;
use tollgate_e2e::{extra_plugin, run};

const MANIFESTS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: unnamed-app, labels: {app.kubernetes.io/version: '1.0'}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: labelled, labels: {app.kubernetes.io/name: shop, app.kubernetes.io/version: '1.0'}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: bare}
";

fn verdicts(
    plugin: &std::path::Path,
    file: &std::path::Path,
    settings: Option<&str>,
) -> (i32, Vec<(String, bool, Vec<String>)>) {
    let mut args = vec![
        "scan".to_string(),
        "--no-builtin".into(),
        "-f".into(),
        "json".into(),
        "--plugin".into(),
        plugin.display().to_string(),
    ];
    if let Some(s) = settings {
        args.push("--plugin-settings".into());
        args.push(format!("recommended-labels={s}"));
    }
    args.push(file.display().to_string());
    let out = run(&args);
    let r: Value = out.json();
    let v = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let c = &x["checks"][0];
            (
                x["name"].as_str().unwrap().to_string(),
                c["success"].as_bool().unwrap(),
                c["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    (out.code, v)
}

#[test]
fn rust_python_and_javascript_plugins_agree() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.yaml");
    fs::write(&file, MANIFESTS).unwrap();
    let plugins = [
        extra_plugin("recommended-labels"),
        extra_plugin("recommended-labels-py"),
        extra_plugin("recommended-labels-js"),
    ];
    let (code, rust) = verdicts(&plugins[0], &file, None);
    assert_eq!(code, 1);
    assert_eq!(rust[0].0, "unnamed-app");
    assert!(
        !rust[0].1,
        "a Deployment missing app.kubernetes.io/name fails"
    );
    assert_eq!(
        rust[0].2,
        ["Deployment 'unnamed-app' is missing the label(s) app.kubernetes.io/name"]
    );
    assert!(rust[1].1, "one with all labels passes");
    let setting = r#"{"required":["app.kubernetes.io/version"]}"#;
    let (_, rust_set) = verdicts(&plugins[0], &file, Some(setting));
    assert!(rust_set[0].1, "changing the setting changes the verdict");
    for p in &plugins[1..] {
        assert_eq!(
            verdicts(p, &file, None),
            (code, rust.clone()),
            "{}",
            p.display()
        );
        assert_eq!(
            verdicts(p, &file, Some(setting)).1,
            rust_set,
            "{}",
            p.display()
        );
        let bad = run([
            "scan".as_ref(),
            "--no-builtin".as_ref(),
            "--plugin".as_ref(),
            p.as_os_str(),
            "--plugin-settings".as_ref(),
            r#"recommended-labels={"colour":1}"#.as_ref(),
            file.as_os_str(),
        ]);
        assert_eq!(bad.code, 2, "{}", p.display());
        assert!(
            bad.stdout.contains("unknown setting 'colour'"),
            "{}: {}",
            p.display(),
            bad.stdout
        );
    }
}
