//! Build orchestration: `cargo xtask build | test | bench`.
//!
//! The host is an ordinary release build; plugins are built for wasm32-wasip2 with the
//! `plugin` profile and copied beside the binary (`target/release/plugins/`), which is
//! where the host looks for its built-in bundle.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Built-in plugins: crate `tollgate-<name>` → `plugins/<name>.wasm`.
const BUILTIN: &[&str] = &[
    "general",
    "advanced",
    "pss-baseline",
    "pss-restricted",
    "rbac",
    "cis-control-plane",
    "cis-node",
];
/// Extra plugins used by tests and docs, built into `target/release/extra-plugins/`.
const EXTRA: &[(&str, &str)] = &[
    ("tollgate-recommended-labels", "recommended-labels"),
    ("tollgate-hostile", "hostile"),
    ("tollgate-contract-v2", "contract-v2"),
    ("tollgate-contract-v010", "contract-v010"),
    ("tollgate-bad-tree", "bad-tree"),
    ("tollgate-other-world", "other-world"),
    ("tollgate-boundary", "boundary"),
];
const TARGET: &str = "wasm32-wasip2";

mod sources;

/// Beside the bundle: the digest of the sources it was built from (host/cli/build.rs
/// warns when it embeds a bundle built from other sources).
const SOURCES_FILE: &str = "SOURCES";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = args.first().map(String::as_str).unwrap_or("help");
    let rest = &args[args.len().min(1)..];
    match cmd {
        "build" => build(),
        "test" if rest.first().is_some_and(|a| a == "--quick") => quick(&rest[1..]),
        "test" => {
            system_packages()?;
            build()?;
            polyglot()?;
            test(rest)
        }
        "docs" => docs(),
        "setup" => system_packages(),
        "polyglot" => polyglot(),
        "plugins" => build_plugins(),
        "fuzz" => fuzz(rest),
        "bench" => {
            build()?;
            let mut c = cargo();
            c.args(["build", "--release", "-p", "tollgate-native"]);
            run(c)?;
            for script in ["bench.py", "bench_webhook.py"] {
                let mut py = Command::new("python3");
                py.arg(root().join("xtask").join(script))
                    .env("CARGO_TARGET_DIR", target_dir());
                run(py)?;
            }
            Ok(())
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  build    build the plugins (wasm32-wasip2) and the host (release)\n  \
                 test     install the system tools the end-to-end tests use (Debian, as root or with \
                 sudo), build, then run every test of the workspace (extra args go to cargo test);\n           \
                 test --quick: the unit tests only, no plugins, no system tools\n  \
                 docs     regenerate docs/cli.md and the check table in docs/checks.md\n  \
                 setup    only install the system tools the end-to-end tests use\n  \
                 plugins  build only the plugins and copy them beside the binary\n  \
                 polyglot install componentize-py and componentize-qjs (into target/tools) and build \
                 the Python and JavaScript recommended-labels plugins\n  \
                 fuzz     run the cargo-fuzz targets (manifest, plugin_input) for a bounded time: \
                 fuzz [SECONDS] (default 60 each)\n  \
                 bench    build, then benchmark the sandboxed host against the native checks \
                 (needs ../shared; BENCH_RUNS=N, BENCH_QUICK=1)"
            );
            if cmd == "help" || cmd == "--help" {
                Ok(())
            } else {
                bail!("unknown command '{cmd}'")
            }
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                root().join(d)
            }
        }
        None => root().join("target"),
    }
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(mut c: Command) -> Result<()> {
    eprintln!("xtask: running {c:?}");
    let status = c.status().with_context(|| format!("cannot run {c:?}"))?;
    if !status.success() {
        bail!("{c:?} failed with {status}");
    }
    Ok(())
}

fn ensure_target() -> Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match out {
        Ok(o)
            if String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == TARGET) =>
        {
            Ok(())
        }
        Ok(_) => {
            let mut c = Command::new("rustup");
            c.args(["target", "add", TARGET]);
            run(c)
        }
        // No rustup: assume the toolchain was provisioned with the target.
        Err(_) => Ok(()),
    }
}

fn build_plugins() -> Result<()> {
    ensure_target()?;
    let mut c = cargo();
    c.args(["build", "--profile", "plugin", "--target", TARGET]);
    for name in BUILTIN {
        c.args(["-p", &format!("tollgate-{name}")]);
    }
    for (krate, _) in EXTRA {
        c.args(["-p", krate]);
    }
    run(c)?;
    let out = target_dir().join(TARGET).join("plugin");
    let release = target_dir().join("release");
    let bundle = release.join("plugins");
    let extra = release.join("extra-plugins");
    for dir in [&bundle, &extra] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let copy = |krate: &str, dest: PathBuf| -> Result<()> {
        let src = out.join(format!("{}.wasm", krate.replace('-', "_")));
        let bytes =
            std::fs::read(&src).with_context(|| format!("cannot read {}", src.display()))?;
        // An unchanged component keeps its file (and mtime): the host embeds the bundle,
        // and a touched file would make cargo rebuild it for nothing.
        if std::fs::read(&dest).ok().as_deref() != Some(bytes.as_slice()) {
            std::fs::write(&dest, &bytes)
                .with_context(|| format!("cannot write {}", dest.display()))?;
        }
        Ok(())
    };
    for name in BUILTIN {
        copy(
            &format!("tollgate-{name}"),
            bundle.join(format!("{name}.wasm")),
        )?;
    }
    for (krate, name) in EXTRA {
        copy(krate, extra.join(format!("{name}.wasm")))?;
    }
    let dirs: Vec<String> = BUILTIN
        .iter()
        .flat_map(|name| sources::plugin_source_dirs(name))
        .collect();
    let digest = sources::sources_digest(&root(), &dirs);
    let record = bundle.join(SOURCES_FILE);
    if std::fs::read_to_string(&record).ok().as_deref() != Some(digest.as_str()) {
        std::fs::write(&record, &digest)
            .with_context(|| format!("cannot write {}", record.display()))?;
    }
    eprintln!(
        "xtask: plugins in {} and {}",
        bundle.display(),
        extra.display()
    );
    Ok(())
}

fn build() -> Result<()> {
    build_plugins()?;
    // The whole workspace, not `-p tollgate`: the test crate's dependencies turn on
    // features of crates wasmtime shares (hashbrown, serde_json), and a host built
    // with other features would be compiled a second time by `cargo test`.
    let mut c = cargo();
    c.args(["build", "--release", "--workspace"]);
    run(c)?;
    eprintln!(
        "xtask: built {}",
        target_dir().join("release").join("tollgate").display()
    );
    Ok(())
}

/// The system tools the end-to-end tests use: (a command that shows it is there, the
/// Debian package that has it).
const SYSTEM_TOOLS: &[(&str, &str)] = &[
    ("/usr/bin/curl", "curl"),
    ("/usr/bin/man", "man-db"),
    ("/usr/bin/chromium", "chromium"),
    ("/usr/bin/docker-registry", "docker-registry"),
    ("/usr/bin/openssl", "openssl"),
    ("/usr/bin/prlimit", "util-linux"),
];

/// Installs the missing system tools with apt when this runs as root (or with
/// passwordless sudo); otherwise stops at once with one line naming them.
fn system_packages() -> Result<()> {
    let missing: Vec<&str> = SYSTEM_TOOLS
        .iter()
        .filter(|(path, _)| !Path::new(path).exists())
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let sudo = !root
        && Command::new("sudo")
            .args(["-n", "true"])
            .output()
            .is_ok_and(|o| o.status.success());
    let apt = Path::new("/usr/bin/apt-get").exists();
    if !apt || !(root || sudo) {
        bail!(
            "the end-to-end tests need: {} (Debian packages); install them \
             (apt-get install -y {}), or run `cargo xtask test --quick` for the unit tests",
            missing.join(", "),
            missing.join(" ")
        );
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    let apt_get = |args: &[&str]| {
        let mut c = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        c.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        c
    };
    run(apt_get(&["update", "-qq"]))?;
    let mut install = apt_get(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(&missing);
    run(install)
}

/// The unit tests of every crate: no plugins, no binary, no system tools.
fn quick(extra: &[String]) -> Result<()> {
    let mut c = cargo();
    c.args(["test", "--release", "--workspace", "--lib", "--bins"]);
    c.args(extra);
    run(c)
}

/// Regenerates the generated documents; `tests/inproc/docs.rs` fails when they are stale.
fn docs() -> Result<()> {
    build()?;
    let mut c = cargo();
    c.args([
        "test",
        "--release",
        "-p",
        "tollgate-inproc",
        "--test",
        "inproc",
        "docs::",
    ])
    .env("TOLLGATE_WRITE_DOCS", "1");
    run(c)
}

fn test(extra: &[String]) -> Result<()> {
    let mut c = cargo();
    c.args(["test", "--release", "--workspace"]);
    c.args(extra);
    run(c)?;
    // The library and the embedder's example as an air-gapped embedder builds them
    // (checked, not built: a build with other features would compile wasmtime again).
    let mut c = cargo();
    c.args([
        "check",
        "-p",
        "tollgate",
        "--no-default-features",
        "--examples",
    ]);
    run(c)
}

/// Runs each fuzz target for a bounded time. cargo-fuzz needs `-Z` flags; the stable
/// toolchain accepts them with RUSTC_BOOTSTRAP=1 (no sanitizer: the code is safe Rust,
/// what we look for is panics, overflows and hangs).
fn fuzz(args: &[String]) -> Result<()> {
    let seconds: u64 = match args.first() {
        Some(s) => s
            .parse()
            .with_context(|| format!("fuzz: '{s}' is not a number of seconds"))?,
        None => 60,
    };
    let have = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        let mut c = Command::new("cargo");
        c.args(["install", "cargo-fuzz", "--locked"]);
        run(c)?;
    }
    let fuzz_dir = root().join("fuzz");
    let corpus_root = target_dir().join("fuzz-corpus");
    for target in ["manifest", "plugin_input"] {
        let corpus = corpus_root.join(target);
        std::fs::create_dir_all(&corpus)?;
        seed(target, &corpus)?;
        let mut c = Command::new("cargo");
        c.current_dir(&fuzz_dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_DIR", target_dir().join("fuzz"))
            .args(["fuzz", "run", "-s", "none", target])
            .arg(&corpus)
            .args([
                "--",
                &format!("-max_total_time={seconds}"),
                "-max_len=65536",
                "-timeout=10",
                "-rss_limit_mb=2048",
            ]);
        run(c)?;
    }
    Ok(())
}

/// Seeds: the example manifests, the spec cases' inputs and past crashes
/// (`fuzz/regressions/TARGET/`).
fn seed(target: &str, corpus: &Path) -> Result<()> {
    let mut n = 0;
    for dir in ["examples", "tests/fixtures/cases"] {
        for entry in walk(&root().join(dir))? {
            let bytes = std::fs::read(&entry)?;
            let bytes = if entry.extension().is_some_and(|e| e == "json") {
                // A spec case: its input object as JSON text.
                let text = String::from_utf8_lossy(&bytes);
                match text.find("\"input\":") {
                    Some(i) if target == "plugin_input" => text
                        [i + 8..text.len().saturating_sub(2)]
                        .as_bytes()
                        .to_vec(),
                    _ => bytes,
                }
            } else {
                bytes
            };
            if target == "plugin_input" {
                // The same object as `evaluate-tree` receives it.
                if let Ok(tree) = std::str::from_utf8(&bytes)
                    .map_err(|_| ())
                    .and_then(|t| tollgate_kit::Tree::from_json(t).map_err(|_| ()))
                {
                    std::fs::write(corpus.join(format!("seed-{n:04}-tree")), tree.as_bytes())?;
                }
            }
            std::fs::write(corpus.join(format!("seed-{n:04}")), bytes)?;
            n += 1;
        }
    }
    // Inputs that once crashed a target, kept so every run tries them again.
    let regressions = root().join("fuzz/regressions").join(target);
    if regressions.is_dir() {
        for entry in walk(&regressions)? {
            let name = entry
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            std::fs::copy(&entry, corpus.join(format!("regression-{name}")))?;
        }
    }
    Ok(())
}

fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let p = e?.path();
        if p.is_dir() {
            out.extend(walk(&p)?);
        } else {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Builds the Python and JavaScript versions of the recommended-labels plugin. The
/// toolchains come from PyPI and npm into target/tools, once.
fn polyglot() -> Result<()> {
    let tools = target_dir().join("tools");
    let py = tools.join("py");
    let node = tools.join("node");
    let componentize_py = py.join("bin").join("componentize-py");
    if !componentize_py.exists() {
        let mut c = Command::new("python3");
        c.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&py)
        .arg("componentize-py==0.25.1");
        run(c)?;
    }
    let qjs = node
        .join("node_modules")
        .join(".bin")
        .join("componentize-qjs");
    if !qjs.exists() {
        std::fs::create_dir_all(&node)?;
        let mut c = Command::new("npm");
        c.args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&node)
            .arg("componentize-qjs@0.4.5");
        run(c)?;
    }
    let out = target_dir().join("release").join("extra-plugins");
    std::fs::create_dir_all(&out)?;
    let examples = root().join("plugins").join("examples");
    let wit = root().join("wit");
    let mut c = Command::new(&componentize_py);
    c.env("PYTHONPATH", &py)
        .arg("-d")
        .arg(&wit)
        .args(["-w", "plugin", "componentize", "-p"])
        .arg(examples.join("recommended-labels-py"))
        .args(["app", "-o"])
        .arg(out.join("recommended-labels-py.wasm"));
    run(c)?;
    let mut c = Command::new(&qjs);
    c.arg("--wit")
        .arg(&wit)
        .args(["--world", "plugin", "--sync", "--stub-wasi", "--js"])
        .arg(examples.join("recommended-labels-js").join("policy.js"))
        .arg("-o")
        .arg(out.join("recommended-labels-js.wasm"));
    run(c)
}
