//! The shape of the code, as the README describes it: no import cycle among the host's
//! modules, thin command modules, a loader whose `lib.rs` is a table of contents, and
//! a README whose CLI reference is the CLI's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::CommandFactory;
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
    let src = root().join("host/src");
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
    assert!(graph["pipeline"].contains("config") && graph["app"].contains("cli"));
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
    rust_files(&root().join("host/src/app"), &mut files);
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

/// The README's CLI reference block.
fn readme_reference() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("## CLI reference")
        .expect("a CLI reference section");
    let block = &readme[start..];
    let open = block.find("```\n").unwrap() + 4;
    let close = open + block[open..].find("```").unwrap();
    block[open..close].to_string()
}

fn long_flags(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("--") {
        rest = &rest[i + 2..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if name.len() > 1 {
            out.insert(name);
        }
    }
    out
}

/// Every (command path, argument) of the CLI, subcommands included.
fn cli_args() -> Vec<(String, clap::Arg)> {
    fn walk(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Arg)>) {
        for a in cmd.get_arguments() {
            out.push((path.clone(), a.clone()));
        }
        for sub in cmd.get_subcommands() {
            walk(sub, format!("{path} {}", sub.get_name()), out);
        }
    }
    let mut out = Vec::new();
    walk(&tollgate::cli::Cli::command(), "tollgate".into(), &mut out);
    out
}

#[test]
fn the_readme_cli_reference_is_the_cli() {
    let reference = readme_reference();
    let documented = long_flags(&reference);
    let args = cli_args();
    let real: BTreeSet<String> = args
        .iter()
        .filter(|(_, a)| !a.is_hide_set())
        .filter_map(|(_, a)| a.get_long().map(str::to_string))
        .filter(|l| l != "help" && l != "version")
        .collect();
    let missing: Vec<_> = real.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "flags missing from the README's CLI reference: {missing:?}"
    );
    let unknown: Vec<_> = documented.difference(&real).collect();
    assert!(
        unknown.is_empty(),
        "the README's CLI reference names flags the CLI lacks: {unknown:?}"
    );
    // Every subcommand is listed.
    let mut commands = BTreeSet::new();
    for (path, _) in &args {
        commands.insert(path.clone());
    }
    for c in commands {
        assert!(
            reference.contains(&c),
            "the CLI reference does not show `{c}`"
        );
    }
    // A default the README shows as `[N]` is the CLI's (from `tollgate::defaults`).
    for line in reference.lines() {
        let (Some(open), Some(close)) = (line.rfind('['), line.rfind(']')) else {
            continue;
        };
        let shown = &line[open + 1..close];
        if shown.is_empty() || !shown.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let flag = long_flags(line)
            .into_iter()
            .next()
            .expect("a flag on the line");
        let (_, arg) = args
            .iter()
            .find(|(_, a)| a.get_long() == Some(flag.as_str()))
            .unwrap();
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        assert!(
            defaults.iter().any(|d| d == shown) || help.contains(&format!("[default: {shown}]")),
            "README shows --{flag} [{shown}], the CLI's default is {defaults:?} / {help:?}"
        );
    }
}
