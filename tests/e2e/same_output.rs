//! What tollgate writes stays what it wrote: the reports of the examples, the spec
//! cases and (when `../shared` is here) the whole public corpus, in every format, with
//! and without a configuration that exercises settings, overrides, filters and
//! exemptions, plus `checks` and `compliance`, must hash to the digests recorded in
//! `tests/golden/outputs.sha256` (first with the binary of commit 34a62c4, before the
//! `Auditor` redesign; re-recorded when checks were added, after showing that the
//! verdicts of the checks already there did not change: see the file's header). Plugin digests are replaced by `SHA256` first (a rebuilt plugin
//! may differ byte-wise without changing a verdict).
//!
//! When an output changes on purpose, the test writes the new outputs and digests into
//! a directory it names; review the differences there and copy the digest lines into
//! `tests/golden/outputs.sha256` in the same commit as the change.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};
use tollgate_e2e::{binary, root, shared, target_profile_dir};

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn recorded() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join("tests/golden/outputs.sha256")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (digest, name) = l.split_once("  ").expect("DIGEST  NAME");
            (name.to_string(), digest.to_string())
        })
        .collect()
}

/// Runs tollgate in `dir` (where `plugins`, `examples`, `cases` and maybe `corpus` are
/// links), ignoring the exit status, which the other tests check.
fn tollgate(dir: &Path, args: &[&str], stdout: Option<&str>) {
    let mut c = Command::new(binary());
    c.current_dir(dir)
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .env_remove("TOLLGATE_PLUGIN_DIR")
        .env_remove("NO_COLOR");
    let out = c.output().expect("run tollgate");
    assert!(
        out.status.code().is_some_and(|c| c <= 2),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(name) = stdout {
        std::fs::write(dir.join(name), &out.stdout).unwrap();
    }
}

fn scan_all_formats(dir: &Path, prefix: &str, config: &[&str], paths: &[&str]) {
    let outputs: Vec<String> = [
        ("table", "table"),
        ("json", "json"),
        ("sarif", "sarif"),
        ("junit", "junit"),
        ("k8s-reports", "k8s.yaml"),
        ("k8s-reports-json", "k8s.json"),
    ]
    .iter()
    .flat_map(|(f, ext)| ["-f".to_string(), format!("{f}={prefix}.{ext}")])
    .collect();
    let mut args = vec!["scan", "--plugin-dir", "plugins"];
    args.extend(config);
    args.extend(outputs.iter().map(String::as_str));
    args.extend(paths);
    tollgate(dir, &args, None);
}

#[test]
fn every_format_is_byte_identical_to_the_previous_version() {
    binary();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let link =
        |target: &Path, name: &str| std::os::unix::fs::symlink(target, d.join(name)).unwrap();
    link(&target_profile_dir().join("plugins"), "plugins");
    link(&root().join("examples"), "examples");
    link(&root().join("tests/fixtures/cases"), "cases");
    std::fs::copy(
        root().join("tests/golden/tollgate.yaml"),
        d.join("tollgate.yaml"),
    )
    .unwrap();
    let default: &[&str] = &["--no-config"];
    let policy: &[&str] = &["--config", "tollgate.yaml"];
    scan_all_formats(d, "local-default", default, &["examples", "cases"]);
    scan_all_formats(d, "local-policy", policy, &["examples", "cases"]);
    let corpus = shared().map(|s| s.join("corpus/public"));
    match &corpus {
        Some(c) => {
            link(c, "corpus");
            scan_all_formats(d, "default", default, &["corpus"]);
            scan_all_formats(d, "policy", policy, &["corpus"]);
            let common = ["--plugin-dir", "plugins"];
            let run = |extra: &[&str], out: &str| {
                let mut args: Vec<&str> = extra.to_vec();
                args.extend(common);
                tollgate(d, &args, Some(out));
            };
            run(
                &["checks", "--no-config", "--format", "json"],
                "default.checks.json",
            );
            run(
                &["checks", "--config", "tollgate.yaml"],
                "policy.checks.table",
            );
            run(
                &[
                    "compliance",
                    "k8s-nsa-1.0",
                    "corpus",
                    "--no-config",
                    "--format",
                    "json",
                    "--report",
                    "all",
                ],
                "default.nsa.json",
            );
            run(
                &[
                    "compliance",
                    "k8s-pss-restricted-0.1",
                    "corpus",
                    "--config",
                    "tollgate.yaml",
                    "--report",
                    "all",
                ],
                "policy.pss.table",
            );
            run(
                &[
                    "compliance",
                    "k8s-cis-1.23",
                    "corpus",
                    "--no-config",
                    "--format",
                    "k8s-report",
                ],
                "default.cis.yaml",
            );
        }
        None => eprintln!("skipping the public corpus: ../shared is not here"),
    }
    let plugin_digests: Vec<String> = std::fs::read_dir(target_profile_dir().join("plugins"))
        .unwrap()
        .map(|e| hex(&std::fs::read(e.unwrap().path()).unwrap()))
        .collect();
    let mut mismatches = Vec::new();
    let mut compared = 0;
    let mut lines = String::new();
    for (name, want) in recorded() {
        let path = d.join(&name);
        if !path.exists() {
            assert!(corpus.is_none(), "{name} was not written");
            continue;
        }
        let mut text = std::fs::read_to_string(&path).unwrap();
        for digest in &plugin_digests {
            text = text.replace(digest.as_str(), "SHA256");
        }
        let got = hex(text.as_bytes());
        lines.push_str(&format!("{got}  {name}\n"));
        compared += 1;
        if got != want {
            mismatches.push(name);
        }
    }
    assert!(compared >= 12, "compared {compared} outputs");
    if !mismatches.is_empty() {
        let keep = target_profile_dir().join("same-output");
        let _ = std::fs::remove_dir_all(&keep);
        std::fs::create_dir_all(&keep).unwrap();
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, keep.join(p.file_name().unwrap())).unwrap();
            }
        }
        std::fs::write(keep.join("outputs.sha256"), &lines).unwrap();
        panic!(
            "these outputs differ from the previous version's: {mismatches:?}; the new outputs \
             and their digests are in {}",
            keep.display()
        );
    }
}
