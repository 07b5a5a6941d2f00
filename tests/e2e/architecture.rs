//! The shape of the code, as the README describes it: a library that knows no command
//! line or terminal, no import cycle among the library's modules, thin command modules,
//! and a loader whose `lib.rs` is a table of contents.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use tollgate_e2e::root;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The host's top-level modules and, for each, the other top-level modules its code
/// names through `crate::` (in `use` items and paths alike).
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join("host/engine/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = top.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" || module == "templates" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let deps = graph.entry(module.clone()).or_default();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module && name.chars().next().unwrap().is_lowercase() {
                deps.insert(name);
            }
        }
        // `use crate::{a, b::c}` names several modules at once.
        for group in text.split("use crate::{").skip(1) {
            let inner = &group[..group.find("};").unwrap_or(group.len())];
            for part in inner.split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module && name.chars().next().unwrap().is_lowercase()
                {
                    deps.insert(name);
                }
            }
        }
    }
    graph
}

#[test]
fn the_host_modules_import_each_other_without_a_cycle() {
    let graph = module_graph();
    // The reading of `crate::` paths finds what is there.
    assert!(graph["auditor"].contains("report") && graph["report"].contains("evaluate"));
    assert!(graph["pipeline"].contains("config"));
    // Depth-first search for a back edge; the cycle is printed when there is one.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(i) = path.iter().position(|p| p == m) {
            panic!("import cycle: {} -> {m}", path[i..].join(" -> "));
        }
        path.push(m.to_string());
        for d in graph.get(m).into_iter().flatten() {
            visit(d, graph, path, done);
        }
        path.pop();
        done.insert(m.to_string());
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        visit(m, &graph, &mut Vec::new(), &mut done);
    }
    // The facts the pipeline needs come from `kube`, not from a report format.
    assert!(graph["pipeline"].contains("kube"));
    assert!(!graph["pipeline"].contains("report") || !graph["report"].contains("pipeline"));
    assert!(
        !graph["plugins"].contains("evaluate"),
        "loading does not know evaluation"
    );
}

#[test]
fn command_modules_are_thin() {
    let mut files = Vec::new();
    rust_files(&root().join("host/cli/src/app"), &mut files);
    assert!(files.len() >= 6);
    for f in files {
        let lines = std::fs::read_to_string(&f).unwrap().lines().count();
        assert!(lines <= 250, "{} has {lines} lines", f.display());
    }
}

#[test]
fn the_loader_lib_rs_is_a_table_of_contents() {
    let text = std::fs::read_to_string(root().join("host/input/src/lib.rs")).unwrap();
    for item in ["fn ", "struct ", "enum ", "impl "] {
        assert!(
            !text
                .lines()
                .any(|l| !l.trim_start().starts_with("//") && l.contains(item)),
            "host/input/src/lib.rs defines a `{item}`: put it in the module of its job"
        );
    }
}

/// The crates an embedder of `tollgate` links (normal dependencies), by name.
fn library_dependencies(features: &[&str]) -> BTreeSet<String> {
    dependencies("tollgate", features)
}

/// The normal dependencies of a workspace crate, by name.
fn dependencies(package: &str, features: &[&str]) -> BTreeSet<String> {
    let out = std::process::Command::new(env!("CARGO"))
        .current_dir(root())
        .args([
            "tree",
            "--offline",
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}"])
        .args(features)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn the_library_knows_no_command_line_terminal_or_server() {
    let with_registry = library_dependencies(&[]);
    let cli = [
        "clap",
        "clap_complete",
        "clap_mangen",
        "indicatif",
        "rpassword",
    ];
    for crate_ in cli.into_iter().chain(["tollgate-cli", "tollgate-serve"]) {
        assert!(
            !with_registry.contains(crate_),
            "the library depends on {crate_}"
        );
    }
    assert!(with_registry.contains("tollgate-registry") && with_registry.contains("wasmtime"));
    // An air-gapped build leaves the whole registry stack out.
    let air_gapped = library_dependencies(&["--no-default-features"]);
    for crate_ in [
        "tollgate-registry",
        "oci-client",
        "reqwest",
        "hyper",
        "ring",
        "rustls",
    ] {
        assert!(
            !air_gapped.contains(crate_),
            "without `oci` the library still depends on {crate_}"
        );
    }
    assert!(air_gapped.len() < with_registry.len());
}

#[test]
fn the_sandbox_and_the_registry_do_not_know_each_other() {
    // The registry client fetches bytes under a trust policy; the sandbox runs
    // components. Neither links the other: the library is where they meet.
    let registry = dependencies("tollgate-registry", &[]);
    assert!(
        registry.contains("oci-client"),
        "the tree was read: {registry:?}"
    );
    for crate_ in ["tollgate-runtime", "wasmtime"] {
        assert!(
            !registry.contains(crate_),
            "the registry depends on {crate_}"
        );
    }
    let runtime = dependencies("tollgate-runtime", &[]);
    assert!(runtime.contains("wasmtime"));
    for crate_ in ["tollgate-registry", "oci-client", "reqwest"] {
        assert!(!runtime.contains(crate_), "the sandbox depends on {crate_}");
    }
}
