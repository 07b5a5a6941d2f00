//! What installing tollgate gives besides the binary: shell completions and a manual
//! page generated from the CLI's own definitions, loaded by the real bash and rendered
//! by the real `man`.

use std::process::Command;

use tollgate_e2e::{binary, run};

#[test]
fn bash_loads_the_completions_and_every_shell_gets_a_script() {
    let bin = binary();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source <('{}' completions bash) && complete -p tollgate",
            bin.display()
        ))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("-F _tollgate tollgate"), "{said}");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = run(["completions", shell]);
        assert_eq!(script.code, 0, "{shell}: {}", script.stderr);
        for word in ["tollgate", "scan", "serve", "fail-on"] {
            assert!(
                script.stdout.contains(word),
                "{shell} completion lacks {word}"
            );
        }
    }
    assert_eq!(
        run(["completions", "tcsh"]).code,
        2,
        "an unknown shell is a usage error"
    );
}

#[test]
fn the_man_page_renders_with_man() {
    let page = run(["man"]);
    assert_eq!(page.code, 0, "{}", page.stderr);
    assert!(page.stdout.starts_with(".ie") || page.stdout.contains(".TH tollgate 1"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tollgate.1");
    std::fs::write(&file, &page.stdout).unwrap();
    let out = Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man (Debian's man-db) must be installed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for part in [
        "NAME",
        "SYNOPSIS",
        "SUBCOMMANDS",
        "tollgate-scan",
        "tollgate-serve",
        "sandboxed WebAssembly",
    ] {
        assert!(
            text.contains(part),
            "the rendered page lacks {part}:\n{text}"
        );
    }
}

/// The binary alone is the tool: copied where no `plugins/` sits beside it, it runs the
/// bundle embedded at build time; `--plugin-dir` and `$TOLLGATE_PLUGIN_DIR` still win.
#[test]
fn a_copied_binary_runs_the_embedded_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("tollgate");
    // Copied by a `cp` process, not in this one: a test thread that forks while this process
    // holds the copy open for writing would make exec fail with ETXTBSY ("Text file busy").
    let cp = Command::new("cp")
        .arg(binary())
        .arg(&copy)
        .status()
        .unwrap();
    assert!(cp.success(), "cp {} failed", binary().display());
    let scan = |extra: &[&str], env: Option<&std::path::Path>| {
        let mut c = Command::new(&copy);
        c.args(["scan", "--no-config", "-f", "json"])
            .args(extra)
            .arg(tollgate_e2e::root().join("examples"))
            .current_dir(dir.path())
            .env_remove("TOLLGATE_PLUGIN_DIR");
        if let Some(p) = env {
            c.env("TOLLGATE_PLUGIN_DIR", p);
        }
        tollgate_e2e::output(c.output().unwrap())
    };
    let out = scan(&[], None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = out.json();
    let files: Vec<&str> = report["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "builtin:advanced.wasm",
            "builtin:cis-control-plane.wasm",
            "builtin:cis-node.wasm",
            "builtin:general.wasm",
            "builtin:pss-baseline.wasm",
            "builtin:pss-restricted.wasm",
            "builtin:rbac.wasm"
        ]
    );
    // The same verdicts as the bundle on disk.
    let reference = run([
        "scan",
        "--no-config",
        "-f",
        "json",
        tollgate_e2e::root().join("examples").to_str().unwrap(),
    ])
    .json();
    assert_eq!(report["resources"], reference["resources"]);
    assert_eq!(report["summary"], reference["summary"]);
    let bundle = tollgate_e2e::target_profile_dir().join("plugins");
    let by_flag = scan(&["--plugin-dir", bundle.to_str().unwrap()], None).json();
    assert!(by_flag["plugins"][0]["file"]
        .as_str()
        .unwrap()
        .ends_with("plugins/advanced.wasm"));
    let by_env = scan(&[], Some(&bundle)).json();
    assert!(by_env["plugins"][0]["file"]
        .as_str()
        .unwrap()
        .ends_with("plugins/advanced.wasm"));
}

/// A copied binary, far from the checkout, starts a Rust plugin project that needs no
/// checkout: the kit comes from the binary (tests/authoring.rs builds such a project).
#[test]
fn a_copied_binary_starts_a_plugin_project_without_the_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("tollgate");
    let cp = Command::new("cp")
        .arg(binary())
        .arg(&copy)
        .status()
        .unwrap();
    assert!(cp.success());
    let work = dir.path().join("elsewhere");
    std::fs::create_dir(&work).unwrap();
    let out = tollgate_e2e::output(
        Command::new(&copy)
            .args(["plugin", "new", "x"])
            .current_dir(&work)
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let project = work.join("x");
    for f in [
        "Cargo.toml",
        "src/lib.rs",
        "wit/policy.wit",
        "vendor/tollgate-kit/Cargo.toml",
        "vendor/tollgate-kit/src/lib.rs",
        "vendor/tollgate-kit/src/component.rs",
    ] {
        assert!(project.join(f).exists(), "{f} written");
    }
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(r#"tollgate-kit = { path = "vendor/tollgate-kit" }"#),
        "{manifest}"
    );
    assert!(manifest.contains("opt-level = 3"), "{manifest}");
    // Nothing written points back at the checkout.
    let checkout = tollgate_e2e::root().display().to_string();
    let mut stack = vec![project.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let text = std::fs::read_to_string(&p).unwrap();
                assert!(
                    !text.contains(&checkout),
                    "{} names {checkout}",
                    p.display()
                );
            }
        }
    }
}
