//! The tutorial of docs/writing-policies.md, followed literally: `plugin new`,
//! build, `plugin test`, `scan --plugin`, with the host binary byte-identical throughout;
//! plus `plugin inspect` and the diff `plugin test` prints on a mismatch.

use std::fs;
use std::process::Command;

use tollgate_e2e::{binary, output, root, tollgate};

const STEPS: [&str; 5] = [
    "tollgate plugin new team-owner",
    "cd team-owner",
    "cargo build --release --target wasm32-wasip2",
    "tollgate plugin test target/wasm32-wasip2/release/team_owner.wasm examples",
    "tollgate scan --plugin target/wasm32-wasip2/release/team_owner.wasm examples",
];

/// `tollgate plugin test WASM examples`, run in the plugin's project directory.
fn plugin_test(project: &std::path::Path, wasm: &str) -> tollgate_e2e::Run {
    output(
        tollgate()
            .current_dir(project)
            .args(["plugin", "test", wasm, "examples"])
            .output()
            .unwrap(),
    )
}

fn fingerprint(p: &std::path::Path) -> Vec<u8> {
    fs::read(p).unwrap()
}

#[test]
fn the_tutorial_works_as_written() {
    let tutorial = fs::read_to_string(root().join("docs/writing-policies.md")).unwrap();
    let tutorial = tutorial.as_str();
    let block = &tutorial[tutorial.find("```sh\n").unwrap() + 6..];
    let block = &block[..block.find("```").unwrap()];
    assert_eq!(
        block.lines().collect::<Vec<_>>(),
        STEPS,
        "the test follows the README's commands"
    );

    let host_before = fingerprint(&binary());
    let dir = tempfile::tempdir().unwrap();
    // 1. tollgate plugin new team-owner
    let new = output(
        tollgate()
            .current_dir(dir.path())
            .args(["plugin", "new", "team-owner"])
            .output()
            .unwrap(),
    );
    assert_eq!(new.code, 0, "{}{}", new.stdout, new.stderr);
    // 2. cd team-owner
    let project = dir.path().join("team-owner");
    for f in [
        "Cargo.toml",
        "src/lib.rs",
        "wit/policy.wit",
        "examples/pass.yaml",
        "examples/fail.yaml",
        "README.md",
    ] {
        assert!(project.join(f).exists(), "{f} written");
    }
    // 3. cargo build --release --target wasm32-wasip2 (in the project's own target dir)
    let build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&project)
        .env_remove("CARGO_TARGET_DIR")
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let wasm = "target/wasm32-wasip2/release/team_owner.wasm";
    assert!(project.join(wasm).exists());
    // 4. tollgate plugin test ... examples
    let test = plugin_test(&project, wasm);
    assert_eq!(test.code, 0, "{}{}", test.stdout, test.stderr);
    assert!(
        test.stdout.contains("team-owner: 2 of 2 expectations met"),
        "{}",
        test.stdout
    );
    // 5. tollgate scan --plugin ... examples
    let scan = output(
        tollgate()
            .current_dir(&project)
            .args(["scan", "-f", "json", "--plugin", wasm, "examples"])
            .output()
            .unwrap(),
    );
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let r = scan.json();
    let verdict = |name: &str| {
        let res = r["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap();
        res["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "TEA001")
            .unwrap()["success"]
            .clone()
    };
    assert_eq!(
        (verdict("owned"), verdict("orphan")),
        (true.into(), false.into())
    );
    assert_eq!(
        fingerprint(&binary()),
        host_before,
        "the host binary is unchanged"
    );

    // plugin inspect: name, version, contract, sha256, checks, imports.
    let inspect = output(
        tollgate()
            .current_dir(&project)
            .args(["plugin", "inspect", "-f", "json", wasm])
            .output()
            .unwrap(),
    );
    let v = inspect.json();
    assert_eq!(
        (v["name"].as_str(), v["contract"].as_str()),
        (Some("team-owner"), Some("tollgate:policy/policy@0.1.1"))
    );
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(v["checks"][0]["id"], "TEA001");
    assert!(v["imports"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i.as_str().unwrap().starts_with("wasi:")));

    // A wrong expectation: a readable diff and exit status 1.
    let pass = project.join("examples/pass.yaml");
    fs::write(
        &pass,
        fs::read_to_string(&pass)
            .unwrap()
            .replace("pass: TEA001", "fail: TEA001"),
    )
    .unwrap();
    let test = plugin_test(&project, wasm);
    assert_eq!(test.code, 1);
    assert!(
        test.stdout
            .contains("examples/pass.yaml#0 Deployment owned\n  TEA001: expected FAIL, got pass"),
        "{}",
        test.stdout
    );
    assert!(test.stdout.contains("1 of 2 expectations met, 1 not met"));
}

#[test]
fn the_catalogue_examples_meet_their_expectations() {
    // policies/<category>/<ID>/examples/{pass,fail}*.yaml through `plugin test`.
    for (plugin, settings) in [
        ("general", "{}"),
        (
            "advanced",
            r#"{"KSV032":{"enabled":true},"KSV033":{"enabled":true}}"#,
        ),
        ("pss-baseline", "{}"),
        ("pss-restricted", "{}"),
        ("rbac", "{}"),
        ("cis-control-plane", "{}"),
        ("cis-node", "{}"),
    ] {
        let out = tollgate_e2e::run([
            "plugin".as_ref(),
            "test".as_ref(),
            tollgate_e2e::bundle_plugin(plugin).as_os_str(),
            root().join("policies").join(plugin).as_os_str(),
            "--settings".as_ref(),
            settings.as_ref(),
        ]);
        assert_eq!(out.code, 0, "{plugin}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains("expectations met") && !out.stdout.contains("not met"),
            "{}",
            out.stdout
        );
    }
}

#[test]
fn plugin_test_refuses_settings_the_plugin_rejects() {
    let out = tollgate_e2e::run([
        "plugin".as_ref(),
        "test".as_ref(),
        tollgate_e2e::bundle_plugin("advanced").as_os_str(),
        root().join("policies/advanced").as_os_str(),
        "--settings".as_ref(),
        r#"{"KSV032":{"enabled":"yes"}}"#.as_ref(),
    ]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(
            "advanced.wasm: rejected its settings: 'KSV032.enabled' must be true or false"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn python_and_javascript_templates_build_and_pass_their_examples() {
    // The toolchains `cargo xtask polyglot` installed into the target dir.
    let tools = tollgate_e2e::target_profile_dir()
        .parent()
        .unwrap()
        .join("tools");
    let py = tools.join("py");
    let qjs = tools.join("node/node_modules/.bin/componentize-qjs");
    assert!(
        py.join("bin/componentize-py").exists() && qjs.exists(),
        "run `cargo xtask polyglot` (cargo xtask test does)"
    );
    let dir = tempfile::tempdir().unwrap();
    for (lang, name) in [("python", "owner-py"), ("js", "owner-js")] {
        let new = output(
            tollgate()
                .current_dir(dir.path())
                .args(["plugin", "new", name, "--lang", lang])
                .output()
                .unwrap(),
        );
        assert_eq!(new.code, 0, "{}", new.stderr);
        let project = dir.path().join(name);
        let wasm = format!("{}.wasm", name.replace('-', "_"));
        let built = if lang == "python" {
            Command::new(py.join("bin/componentize-py"))
                .env("PYTHONPATH", &py)
                .current_dir(&project)
                .args([
                    "-d",
                    "wit",
                    "-w",
                    "plugin",
                    "componentize",
                    "app",
                    "-o",
                    &wasm,
                ])
                .output()
                .unwrap()
        } else {
            Command::new(&qjs)
                .current_dir(&project)
                .args([
                    "--wit",
                    "wit",
                    "--world",
                    "plugin",
                    "--sync",
                    "--stub-wasi",
                    "--js",
                    "policy.js",
                    "-o",
                    &wasm,
                ])
                .output()
                .unwrap()
        };
        assert!(
            built.status.success(),
            "{lang}: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        let test = plugin_test(&project, &wasm);
        assert_eq!(test.code, 0, "{lang}: {}{}", test.stdout, test.stderr);
        assert!(
            test.stdout.contains("2 of 2 expectations met"),
            "{}",
            test.stdout
        );
    }
}
