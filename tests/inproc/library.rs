//! The library API in-process, without a `tollgate` process: `tollgate::Auditor` made
//! by its builder, its `scan` (the same bytes whatever jobs, window and batch, Lists
//! straddling windows included), its `evaluate` of one object (the same verdicts as
//! `tollgate scan`, from several threads at once), trap isolation and exemptions.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tollgate::config::{self, Config};
use tollgate::input::{self, InputLimits};
use tollgate::report::{table, Format};
use tollgate::{Auditor, AuditorBuilder, Object, ObjectError, PluginSource};
use tollgate_e2e::{extra_plugin, root, run, shared, target_profile_dir};

fn builder() -> AuditorBuilder {
    tollgate_e2e::binary();
    Auditor::builder().bundle(target_profile_dir().join("plugins"))
}

/// A writer whose bytes the test keeps.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a scan writes in `format`.
fn scan_output(auditor: &Auditor, paths: &[PathBuf], format: Format) -> Vec<u8> {
    let buffer = Buffer::default();
    let style = table::Style {
        color: false,
        quiet: false,
    };
    let mut sink = format.sink(Box::new(buffer.clone()), style);
    auditor.scan(paths, &mut *sink).expect("scan");
    drop(sink);
    let bytes = buffer.0.lock().unwrap().clone();
    bytes
}

fn pod(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: ns}}\n\
         spec:\n  containers:\n  - name: c\n    image: nginx:latest\n"
    )
}

fn list(names: &[String]) -> String {
    let items: Vec<Value> = names
        .iter()
        .map(|n| {
            serde_json::json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": n, "namespace": "ns"},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.25",
                    "securityContext": {"runAsNonRoot": true}}]}})
        })
        .collect();
    serde_json::to_string(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}))
        .unwrap()
}

/// A stream where Lists of every size sit between plain documents, so that at small
/// windows they straddle window and chunk boundaries in every way.
fn straddling_stream(dir: &Path) -> Vec<PathBuf> {
    let mut docs = Vec::new();
    let mut n = 0;
    let mut names = |k: usize| -> Vec<String> {
        (0..k)
            .map(|_| {
                n += 1;
                format!("p{n}")
            })
            .collect()
    };
    for size in [1usize, 300, 2, 0, 65, 7, 129] {
        for name in names(3) {
            docs.push(pod(&name));
        }
        docs.push(list(&names(size)));
    }
    docs.push(pod("last"));
    let yaml = dir.join("stream.yaml");
    std::fs::write(&yaml, docs.join("\n---\n")).unwrap();
    let json = dir.join("dump.json");
    std::fs::write(&json, list(&names(200))).unwrap();
    vec![yaml, root().join("examples"), json]
}

#[test]
fn scans_are_byte_identical_whatever_jobs_window_and_batch() {
    let dir = tempfile::tempdir().unwrap();
    let paths = straddling_stream(dir.path());
    let reference = scan_output(&builder().build().unwrap(), &paths, Format::Json);
    let report: Value = serde_json::from_slice(&reference).unwrap();
    let resources = report["resources"].as_array().unwrap();
    // Input order: the stream's documents and List items, then the examples, then the dump.
    let names: Vec<&str> = resources
        .iter()
        .filter(|r| r["file"].as_str().unwrap().ends_with("stream.yaml"))
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (1..=names.len() - 1)
        .map(|i| format!("p{i}"))
        .chain(["last".to_string()])
        .collect();
    assert_eq!(names, expected, "stream resources in input order");
    assert_eq!(report["summary"]["errors"], 0, "{}", report["errors"]);
    for jobs in [1, 2, 3] {
        for window in [1, 2, 7, 64, 4096] {
            for batch in [1, 3, 32] {
                let auditor = builder()
                    .jobs(jobs)
                    .window(window)
                    .batch(batch)
                    .build()
                    .unwrap();
                let out = scan_output(&auditor, &paths, Format::Json);
                assert!(
                    out == reference,
                    "jobs {jobs}, window {window}, batch {batch}: the report differs"
                );
            }
        }
    }
}

/// Where a resource is: (file, document, item).
type Key = (String, u64, Option<u64>);

/// The checks of every resource in a JSON report, by where it is.
fn checks_by_resource(report: &Value) -> Vec<(Key, Value)> {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let key = (
                r["file"].as_str().unwrap().to_string(),
                r["document"].as_u64().unwrap(),
                r["item"].as_u64(),
            );
            (key, r["checks"].clone())
        })
        .collect()
}

/// Every object of the examples (and of the public corpus, when `../shared` is here),
/// each evaluated on its own from four threads sharing one auditor, gets exactly the
/// checks `tollgate scan` reports for it, under a configuration with severity
/// overrides, filters and exemptions.
#[test]
fn evaluate_from_several_threads_agrees_with_tollgate_scan() {
    let config_file = root().join("tests/golden/tollgate.yaml");
    // The catalogue's example manifests (332 objects, kube-system ones among them) are
    // always here; the public corpus when ../shared is.
    let mut paths = vec![root().join("examples"), root().join("policies")];
    match shared() {
        Some(s) => paths.push(s.join("corpus/public")),
        None => eprintln!("skipping the public corpus: ../shared is not here"),
    }
    let mut args: Vec<&std::ffi::OsStr> = vec!["scan".as_ref(), "-f".as_ref(), "json".as_ref()];
    args.extend(["--config".as_ref(), config_file.as_os_str()]);
    args.extend(paths.iter().map(|p| p.as_os_str()));
    let out = run(args);
    assert!(out.code == 1 || out.code == 2, "{}", out.stderr);
    let expected: std::collections::HashMap<_, _> =
        checks_by_resource(&out.json()).into_iter().collect();

    let config = config::load(&config_file).unwrap();
    let auditor = builder()
        .config(config, Some(config_file.clone()))
        .build()
        .unwrap();
    let loaded = input::load(&paths, &InputLimits::default());
    assert!(loaded.resources.len() > 20);
    let resources = Arc::new(loaded.resources);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (auditor, resources, next) = (auditor.clone(), resources.clone(), next.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(r) = resources.get(i) else { break };
                    let v = auditor
                        .evaluate(Object::Json(&r.json()))
                        .unwrap_or_else(|e| panic!("{}#{}: {e}", r.file, r.document));
                    seen.push((i, v));
                }
                seen
            })
        })
        .collect();
    let mut compared = 0;
    let mut filtered = 0;
    for t in threads {
        for (i, v) in t.join().unwrap() {
            let r = &resources[i];
            let key = (
                r.file.to_string(),
                r.document as u64,
                r.item.map(|x| x as u64),
            );
            match expected.get(&key) {
                Some(checks) => {
                    assert!(!v.filtered, "{key:?}");
                    assert_eq!(
                        &serde_json::to_value(&v.resource.checks).unwrap(),
                        checks,
                        "{key:?}: evaluate and scan disagree"
                    );
                    assert_eq!(v.resource.kind, r.kind);
                    compared += 1;
                }
                None => {
                    assert!(v.filtered, "{key:?}: scanned by evaluate, not by scan");
                    assert!(v.resource.checks.is_empty());
                    filtered += 1;
                }
            }
        }
    }
    assert_eq!(
        compared,
        expected.len(),
        "every scanned resource was evaluated"
    );
    assert!(
        filtered > 0,
        "the configuration's filters left some objects out"
    );
}

#[test]
fn one_object_as_yaml_json_or_value_gets_the_same_verdicts() {
    let auditor = builder().build().unwrap();
    let yaml = std::fs::read_to_string(root().join("examples/web.yaml")).unwrap();
    let first = yaml.split("\n---\n").next().unwrap();
    let a = auditor.evaluate(Object::Yaml(first)).unwrap();
    let value: Value = serde_saphyr::from_str(first).unwrap();
    let b = auditor.evaluate(Object::Value(&value)).unwrap();
    let c = auditor.evaluate(Object::Json(&value.to_string())).unwrap();
    let json = |v: &tollgate::Verdicts| serde_json::to_value(&v.resource.checks).unwrap();
    assert_eq!(json(&a), json(&b));
    assert_eq!(json(&a), json(&c));
    assert!(
        a.failed().count() > 0,
        "the example Deployment fails checks"
    );
    assert_eq!(a.exit_code(), 1);
    assert_eq!(a.summary.checks_failed, a.failed().count());
}

#[test]
fn what_is_not_one_object_is_refused_with_the_reason() {
    let auditor = builder().build().unwrap();
    let named = |text: &str| auditor.evaluate_named("request 7", Object::Yaml(text));
    match named("a: [unclosed\n") {
        Err(ObjectError::Input(e)) => {
            assert!(
                e.to_string()
                    .starts_with("request 7 (document 0): invalid YAML"),
                "{e}"
            )
        }
        other => panic!("{other:?}"),
    }
    let err = named("metadata: {name: x}\n").unwrap_err();
    assert!(matches!(err, ObjectError::NotAnObject { .. }));
    assert!(err.to_string().contains("no `kind`"), "{err}");
    let err = named(&format!("{}---\n{}", pod("a"), pod("b"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "request 7: expected one object, found 2 (evaluate the items of a List one by one)"
    );
    let err = named(&list(&["a".into()])).unwrap_err();
    assert!(matches!(err, ObjectError::NotOne { found: 1, .. }), "{err}");
    let err = auditor.evaluate(Object::Json("{\"kind\": ")).unwrap_err();
    assert!(err.to_string().contains("invalid JSON"), "{err}");
}

fn config_from(dir: &Path, yaml: &str) -> (Config, PathBuf) {
    let file = dir.join("tollgate.yaml");
    std::fs::write(&file, yaml).unwrap();
    (config::load(&file).unwrap(), file)
}

#[test]
fn exemptions_filters_and_overrides_apply_to_one_object() {
    let dir = tempfile::tempdir().unwrap();
    let (config, file) = config_from(
        dir.path(),
        "severity: {KSV013: CRITICAL}\nfail_on: CRITICAL\nkinds: {exclude: [Secret]}\n\
         exemptions:\n- checks: [KSV-0014]\n  kind: Pod\n  reason: read-only root is tested elsewhere\n",
    );
    let auditor = builder()
        .config(config, Some(file.clone()))
        .build()
        .unwrap();
    let annotated = pod("a").replace(
        "metadata: {name: a, namespace: ns}",
        "metadata:\n  name: a\n  namespace: ns\n  annotations: {tollgate.dev/exempt: 'KSV011: limits come from the LimitRange'}",
    );
    let v = auditor.evaluate(Object::Yaml(&annotated)).unwrap();
    let check = |id: &str| {
        v.resource
            .checks
            .iter()
            .find(|c| c.meta.id == id)
            .unwrap_or_else(|| panic!("{id} ran"))
    };
    let from_config = check("KSV014").exempted.clone().expect("KSV014 exempted");
    assert_eq!(
        from_config.source,
        format!("{} exemptions[0]", file.display())
    );
    let from_annotation = check("KSV011").exempted.clone().expect("KSV011 exempted");
    assert_eq!(from_annotation.source, "annotation tollgate.dev/exempt");
    assert_eq!(from_annotation.reason, "limits come from the LimitRange");
    assert!(v
        .failed()
        .all(|c| c.meta.id != "KSV014" && c.meta.id != "KSV011"));
    assert_eq!(v.summary.checks_exempted, 2);
    assert_eq!(check("KSV013").severity.as_str(), "CRITICAL");
    assert_eq!(
        v.summary.failed_at_threshold, 1,
        "only KSV013 is CRITICAL now"
    );

    let bad = annotated.replace("KSV011:", "KSV999:");
    let v = auditor.evaluate(Object::Yaml(&bad)).unwrap();
    assert_eq!(v.errors.len(), 1);
    assert_eq!(v.errors[0].class, "exemption");
    assert!(
        v.errors[0].message.contains("unknown check 'KSV999'"),
        "{:?}",
        v.errors
    );
    assert_eq!(v.exit_code(), 2);

    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n";
    let v = auditor.evaluate(Object::Yaml(secret)).unwrap();
    assert!(v.filtered && v.resource.checks.is_empty() && v.summary.filtered == 1);
}

fn config_map(name: &str, mode: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{mode: '{mode}'}}\n"
    )
}

/// A plugin that traps or runs out of time loses its verdict on that object only: the
/// other plugins' checks are there, the error names the plugin, and the next object
/// (on any thread) gets a fresh instance that works.
#[test]
fn a_trap_or_a_time_out_costs_one_verdict_and_the_next_call_recovers() {
    let auditor = builder()
        .plugin(PluginSource::file(extra_plugin("hostile")))
        .time_limit(Duration::from_millis(300))
        // Small enough that "alloc" hits it within its first chunks: filling the default
        // 256 MiB can take longer than the time limit on a busy 2-core machine.
        .memory_limit(96 << 20)
        .build()
        .unwrap();
    assert!(auditor.load_errors().is_empty());
    let calm = auditor
        .evaluate(Object::Yaml(&config_map("calm", "none")))
        .unwrap();
    let ids = |v: &tollgate::Verdicts| -> Vec<String> {
        v.resource
            .checks
            .iter()
            .map(|c| c.meta.id.clone())
            .collect()
    };
    assert!(ids(&calm).contains(&"HST001".to_string()));
    let threads: Vec<_> = [
        ("panic", "trap"),
        ("loop", "time-limit"),
        ("alloc", "memory-limit"),
    ]
    .into_iter()
    .map(|(mode, class)| {
        let auditor = auditor.clone();
        std::thread::spawn(move || {
            let bad = auditor
                .evaluate(Object::Yaml(&config_map("bad", mode)))
                .unwrap();
            assert_eq!(bad.errors.len(), 1, "{mode}: {:?}", bad.errors);
            assert_eq!(bad.errors[0].class, class, "{mode}");
            assert_eq!(bad.errors[0].plugin.as_deref(), Some("hostile"));
            assert_eq!(bad.exit_code(), 2);
            let after = auditor
                .evaluate(Object::Yaml(&config_map("after", "none")))
                .unwrap();
            (bad, after)
        })
    })
    .collect();
    for t in threads {
        let (bad, after) = t.join().unwrap();
        let mut expected = ids(&calm);
        expected.retain(|id| id != "HST001");
        assert_eq!(
            ids(&bad),
            expected,
            "only the hostile plugin's verdict is missing"
        );
        assert_eq!(
            ids(&after),
            ids(&calm),
            "a fresh instance evaluates the next object"
        );
        assert!(after.errors.is_empty());
    }
}

#[test]
fn the_catalogue_and_inspect_are_typed_values() {
    let auditor = builder()
        .settings("advanced", r#"{"KSV032": {"enabled": true}}"#)
        .build()
        .unwrap();
    let catalogue = auditor.catalogue();
    assert_eq!(catalogue.plugins.len(), 7);
    assert_eq!(catalogue.checks().count(), 169);
    let ksv032 = catalogue.checks().find(|c| c.info.id == "KSV032").unwrap();
    assert!(ksv032.enabled && !ksv032.info.default_enabled);
    let d = auditor
        .inspect(&PluginSource::file(
            target_profile_dir().join("plugins/rbac.wasm"),
        ))
        .unwrap();
    assert_eq!((d.name.as_str(), d.input), ("rbac", "tree"));
    assert_eq!(d.checks.len(), 24);
    assert!(
        d.imports.iter().all(|i| i.starts_with("wasi:")),
        "{:?}",
        d.imports
    );
}

#[test]
fn builder_errors_say_what_to_do() {
    let err = Auditor::builder().no_bundle().build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "no plugins to run: the bundle is empty and no --plugin was given"
    );
    let err = builder().settings("nosuch", "{}").build().unwrap_err();
    assert!(
        err.to_string()
            .contains("names plugin 'nosuch', which is not loaded"),
        "{err}"
    );
    let err = builder().settings("advanced", "{oops").build().unwrap_err();
    assert!(err.to_string().contains("not valid JSON"), "{err}");
    let err = Auditor::builder()
        .bundle("/nonexistent")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("cargo xtask build"), "{err}");
    // A plugin that cannot load is not an error of the builder: the others run.
    let auditor = builder()
        .plugin(PluginSource::file("/nonexistent/x.wasm"))
        .build()
        .unwrap();
    assert_eq!(auditor.plugins().len(), 7);
    assert_eq!(auditor.load_errors()[0].class(), "read");
    let out = scan_output(&auditor, &[root().join("examples")], Format::Json);
    let report: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["errors"][0]["class"], "read");
}

/// The embedder's example (host/engine/examples/embed.rs), built by `cargo test` against
/// the library alone: it judges the object on stdin and says so in its exit status.
#[test]
fn the_embedders_example_judges_an_object() {
    let example = target_profile_dir().join("examples").join("embed");
    if !tollgate_e2e::prerequisite(
        example.exists(),
        "the embed example is not built (cargo test --workspace builds it)",
    ) {
        return;
    }
    let run = |object: &str| {
        let mut child = std::process::Command::new(&example)
            .arg(target_profile_dir().join("plugins"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(object.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(&pod("web"));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.lines().any(|l| l.starts_with("LOW KSV011: ")), "{out}");
    let (code, out) =
        run("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\n");
    assert_eq!((code, out.as_str()), (Some(0), ""));
}
