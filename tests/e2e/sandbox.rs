//! The sandbox against hostile plugins: each misbehaviour ends as a clear, classified
//! error for that plugin and resource; the host stays up, the scan goes on, and every
//! other result is byte-identical to a run without the hostile part.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tollgate_e2e::{bundle_plugin, extra_plugin, root, run};

fn scan(extra: &[&str], paths: &[&Path]) -> (i32, Value) {
    let mut args: Vec<String> = vec![
        "scan".into(),
        "--format".into(),
        "json".into(),
        "--time-limit".into(),
        "500".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let out = run(&args);
    (out.code, out.json())
}

/// The serialized results of the resources from `file`: what must not change.
fn results_of(report: &Value, file: &Path) -> String {
    let f = file.display().to_string();
    let rs: Vec<&Value> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["file"] == f.as_str())
        .collect();
    assert!(!rs.is_empty(), "no resources from {f}");
    serde_json::to_string(&rs).unwrap()
}

fn hostile_manifest(dir: &Path, mode: &str) -> PathBuf {
    let p = dir.join(format!("{mode}.yaml"));
    let cm = |name: &str, mode: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{mode: '{mode}'}}\n")
    };
    fs::write(
        &p,
        [
            cm("calm-before", "none"),
            cm("hostile", mode),
            cm("calm-after", "none"),
        ]
        .join("---\n"),
    )
    .unwrap();
    p
}

/// The result of check `id` on the resource called `name`, if it ran.
fn check_result(report: &Value, name: &str, id: &str) -> Option<Value> {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .and_then(|r| {
            r["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == id)
                .cloned()
        })
}

fn hst001(report: &Value, name: &str) -> Option<Value> {
    check_result(report, name, "HST001")
}

#[test]
fn hostile_behaviour_is_contained() {
    let dir = tempfile::tempdir().unwrap();
    let web = root().join("examples/web.yaml");
    let hostile = extra_plugin("hostile");
    let plugin = ["--plugin", hostile.to_str().unwrap()];
    let (code, baseline) = scan(&plugin, &[&web]);
    assert_eq!(code, 1);
    let expected = results_of(&baseline, &web);

    let cases = [
        ("loop", "time-limit", "stopped by the time limit"),
        ("alloc", "memory-limit", "stopped by the memory limit"),
        ("panic", "trap", "panicked: "),
        ("recurse", "stack-limit", "stopped by the stack limit"),
        ("flood", "output-limit", "stopped by the output limit"),
    ];
    for (mode, class, text) in cases {
        let manifest = hostile_manifest(dir.path(), mode);
        let (code, report) = scan(&plugin, &[&web, &manifest]);
        assert_eq!(code, 2, "{mode}");
        let errors = report["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{mode}: {errors:?}");
        let e = &errors[0];
        assert_eq!(e["class"], class, "{mode}: {e}");
        assert_eq!(
            (e["document"].as_u64(), e["plugin"].as_str()),
            (Some(1), Some("hostile")),
            "{mode}"
        );
        assert!(e["message"].as_str().unwrap().contains(text), "{mode}: {e}");
        assert!(
            e["message"].as_str().unwrap().contains("hostile.wasm"),
            "{mode}: names the plugin file"
        );
        if mode == "panic" {
            assert!(e["message"]
                .as_str()
                .unwrap()
                .contains("hostile plugin panics on purpose"));
        }
        assert_eq!(
            results_of(&report, &web),
            expected,
            "{mode}: other plugins' results changed"
        );
        // The same plugin still evaluates the resources around the hostile one.
        for calm in ["calm-before", "calm-after"] {
            assert_eq!(
                hst001(&report, calm).map(|c| c["success"].clone()),
                Some(Value::Bool(true)),
                "{mode}/{calm}"
            );
        }
        assert!(
            hst001(&report, "hostile").is_none(),
            "{mode}: no verdict for the failed evaluation"
        );
    }
}

#[test]
fn plugins_see_no_files_environment_network_or_real_clock() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = hostile_manifest(dir.path(), "probe");
    let hostile = extra_plugin("hostile");
    let out = run([
        "scan".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "--no-builtin".as_ref(),
        "--plugin".as_ref(),
        hostile.as_os_str(),
        manifest.as_os_str(),
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let seen: Vec<String> = hst001(&out.json(), "hostile").unwrap()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect();
    let expect = [
        "read /etc/passwd: Err(NotFound)",
        "list /: Err(NotFound)",
        "write /tmp/hostile: Err(NotFound)",
        "env vars: 0",
        "HOME: None",
        "connect 127.0.0.1:22: Err(PermissionDenied)",
        "bind 127.0.0.1:0: Err(PermissionDenied)",
        "wall clock: 1767225600",
    ];
    for e in expect {
        assert!(seen.iter().any(|s| s == e), "expected {e:?} in {seen:?}");
    }
    assert!(
        !Path::new("/tmp/tollgate-hostile").exists(),
        "the plugin wrote a file"
    );
    // Randomness is the host's: the same on every run.
    let again = run([
        "scan".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "--no-builtin".as_ref(),
        "--plugin".as_ref(),
        hostile.as_os_str(),
        manifest.as_os_str(),
    ]);
    assert_eq!(
        hst001(&again.json(), "hostile"),
        hst001(&out.json(), "hostile")
    );
    // Nothing the plugin printed reached our stdout or stderr.
    assert!(
        !out.stdout.contains("stdout is discarded") && !out.stderr.contains("stdout is discarded")
    );
}

#[test]
fn broken_plugin_files_are_refused_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let web = root().join("examples/web.yaml");
    let (_, baseline) = scan(&[], &[&web]);
    let expected = results_of(&baseline, &web);

    let general = fs::read(bundle_plugin("general")).unwrap();
    let truncated = dir.path().join("truncated.wasm");
    fs::write(&truncated, &general[..general.len() / 2]).unwrap();
    let core = dir.path().join("core.wasm");
    fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let text = dir.path().join("text.wasm");
    fs::write(&text, "#!/bin/sh\necho not wasm\n").unwrap();
    let v2 = extra_plugin("contract-v2");
    let other = extra_plugin("other-world");
    let bad_tree = extra_plugin("bad-tree");
    let cases: [(&Path, &str, &[&str]); 6] = [
        (
            &truncated,
            "not-component",
            &["not a WebAssembly component"],
        ),
        (
            &core,
            "not-component",
            &["core WebAssembly module, not a component"],
        ),
        (&text, "not-component", &["magic bytes"]),
        (
            &v2,
            "contract",
            &["tollgate:policy@0.2.0", "tollgate:policy@0.1.1"],
        ),
        (
            &bad_tree,
            "contract",
            &[
                "its evaluate-tree does not have the signature of this host's \
                 tollgate:policy/tree",
                "rebuild the plugin against this host's wit/policy.wit",
            ],
        ),
        (
            &other,
            "contract",
            &[
                "it exports `greet`",
                "this host expects `tollgate:policy/policy@0.1.1`",
            ],
        ),
    ];
    for (file, class, texts) in cases {
        let (code, report) = scan(&["--plugin", file.to_str().unwrap()], &[&web]);
        assert_eq!(code, 2, "{}", file.display());
        let e = &report["errors"][0];
        assert_eq!(e["class"], class, "{e}");
        let msg = e["message"].as_str().unwrap();
        assert!(msg.contains(&file.display().to_string()), "{msg}");
        for t in texts {
            assert!(msg.contains(t), "{msg} should contain {t}");
        }
        assert_eq!(
            results_of(&report, &web),
            expected,
            "{}: built-in results changed",
            file.display()
        );
    }
}

/// A file of ConfigMaps, each named `name` with one data key `key` (what the
/// contract-v010 test plugin reacts to).
fn config_maps(dir: &Path, maps: &[(&str, &str)]) -> PathBuf {
    let file = dir.join("cms.yaml");
    let docs: Vec<String> = maps
        .iter()
        .map(|(name, key)| {
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{{key}: 'yes'}}\n")
        })
        .collect();
    fs::write(&file, docs.join("---\n")).unwrap();
    file
}

#[test]
fn plugins_of_the_first_contract_still_load_and_read_json_text() {
    // The built-in plugins read objects as trees (tollgate:policy/tree, contract 0.1.1);
    // a plugin built against 0.1.0 exports only `policy` and must get JSON text, in the
    // same scan, without changing anyone else's results.
    let dir = tempfile::tempdir().unwrap();
    let cms = config_maps(dir.path(), &[("old", "legacy"), ("new", "current")]);
    let web = root().join("examples/web.yaml");
    let old = extra_plugin("contract-v010");
    let (_, baseline) = scan(&[], &[&web]);
    let (code, report) = scan(&["--plugin", old.to_str().unwrap()], &[&web, &cms]);
    assert_eq!(code, 1);
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
    let legacy = check_result(&report, "old", "OLD001").expect("OLD001 ran on 'old'");
    assert_eq!(legacy["success"], false, "{legacy}");
    assert_eq!(legacy["messages"][0], "ConfigMap 'old' keeps a legacy key");
    assert_eq!(
        check_result(&report, "new", "OLD001").unwrap()["success"],
        true
    );
    assert_eq!(results_of(&report, &web), results_of(&baseline, &web));

    let input = |file: &Path| {
        let out = run(["plugin", "inspect", "-f", "json", file.to_str().unwrap()]);
        assert_eq!(out.code, 0);
        out.json()["input"].clone()
    };
    assert_eq!(input(&old), "json");
    assert_eq!(input(&bundle_plugin("general")), "tree");
}

#[test]
fn a_result_for_a_check_not_requested_is_refused_for_that_resource_only() {
    let dir = tempfile::tempdir().unwrap();
    let cms = config_maps(dir.path(), &[("odd", "foreign"), ("old", "legacy")]);
    let old = extra_plugin("contract-v010");
    let (code, report) = scan(&["--plugin", old.to_str().unwrap()], &[&cms]);
    assert_eq!(code, 2, "{report}");
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report}");
    assert_eq!(errors[0]["class"], "contract", "{report}");
    assert_eq!(errors[0]["document"], 0, "{report}");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.contains("returned a result for check #7 which was not requested"),
        "{message}"
    );
    assert!(check_result(&report, "odd", "OLD001").is_none(), "{report}");
    let legacy = check_result(&report, "old", "OLD001").expect("OLD001 ran on 'old'");
    assert_eq!(legacy["success"], false, "{legacy}");
}

/// The hand-written component of tests/fixtures/wat/two-memories.wat, built here.
fn two_memories(dir: &Path) -> PathBuf {
    let wat = root().join("tests/fixtures/wat/two-memories.wat");
    let bytes = wat::parse_file(&wat).unwrap_or_else(|e| panic!("{}: {e}", wat.display()));
    let file = dir.join("two-memories.wasm");
    fs::write(&file, bytes).unwrap();
    file
}

#[test]
fn an_instance_memory_limit_counts_all_its_memories() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = two_memories(dir.path());
    // Two memories of 160 MiB: each under the 256 MiB limit, together over it.
    let out = run(["plugin".as_ref(), "inspect".as_ref(), plugin.as_os_str()]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("stopped by the memory limit (the plugin's memories would hold 320 MiB together, the limit is 256 MiB)"),
        "{}",
        out.stderr
    );
    // Under a limit they fit in together, the plugin runs until its growth, counted
    // with the rest, passes the limit: a memory-limit error for that resource only.
    let cms = dir.path().join("cms.yaml");
    fs::write(
        &cms,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
    )
    .unwrap();
    let p = plugin.to_str().unwrap();
    let (code, report) = scan(
        &[
            "--no-builtin",
            "--plugin",
            p,
            "--memory-limit",
            "512",
            "--batch",
            "1",
            "--jobs",
            "1",
        ],
        &[&cms],
    );
    assert_eq!(code, 2);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["class"], "memory-limit");
    assert_eq!(errors[0]["document"], 1);
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("would hold 695 MiB together, the limit is 512 MiB"),
        "{errors:?}"
    );
}

#[test]
fn a_plugin_that_hangs_on_every_object_is_switched_off_after_a_few_time_limits() {
    let dir = tempfile::tempdir().unwrap();
    let web = root().join("examples/web.yaml");
    let hostile = extra_plugin("hostile");
    let plugin = ["--plugin", hostile.to_str().unwrap()];
    let (_, baseline) = scan(&plugin, &[&web]);
    let expected = results_of(&baseline, &web);
    let many = dir.path().join("many.yaml");
    let docs: Vec<String> = (0..1000)
        .map(|i| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}}}\ndata: {{mode: loop}}\n"))
        .collect();
    fs::write(&many, docs.join("---\n")).unwrap();
    let start = std::time::Instant::now();
    // `scan` gives every call 500 ms; 1,000 objects at one limit each would take 500 s.
    let (code, report) = scan(&plugin, &[&web, &many]);
    let took = start.elapsed();
    eprintln!("1,000 objects with a plugin that hangs on each: {took:?}");
    assert_eq!(code, 2);
    assert!(took < std::time::Duration::from_secs(15), "{took:?}");
    let errors = report["errors"].as_array().unwrap();
    let mut classes = std::collections::BTreeMap::new();
    for e in errors {
        assert_eq!(e["plugin"], "hostile", "{e}");
        assert!(e["file"].as_str().unwrap().ends_with("many.yaml"), "{e}");
        *classes
            .entry(e["class"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    eprintln!("errors by class: {classes:?}");
    assert_eq!(errors.len(), 1000, "every object reports the error");
    assert!(
        classes.get("switched-off").copied().unwrap_or(0) >= 950,
        "{classes:?}"
    );
    let off = errors
        .iter()
        .find(|e| e["class"] == "switched-off")
        .unwrap();
    assert!(
        off["message"]
            .as_str()
            .unwrap()
            .contains("switched off after it ran over its time limit 3 times in a row"),
        "{off}"
    );
    assert_eq!(
        results_of(&report, &web),
        expected,
        "other plugins' verdicts"
    );
}
