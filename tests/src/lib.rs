//! Helpers for the end-to-end tests: find the built `tollgate` binary and its plugins
//! (`cargo xtask build` puts them in `target/release/`), run it, parse its output.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// `target/<profile>/`, where the test executable's `deps/` folder lives.
pub fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// The tollgate binary under test.
pub fn binary() -> PathBuf {
    let bin = target_profile_dir().join(format!("tollgate{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not found: run `cargo xtask test` (it builds the plugins and the host first)",
        bin.display()
    );
    let bundle = target_profile_dir().join("plugins");
    assert!(
        bundle.join("general.wasm").exists(),
        "{} has no plugins: run `cargo xtask build`",
        bundle.display()
    );
    bin
}

/// Plugins built for tests and examples, outside the built-in bundle.
pub fn extra_plugin(name: &str) -> PathBuf {
    let p = target_profile_dir()
        .join("extra-plugins")
        .join(format!("{name}.wasm"));
    assert!(
        p.exists(),
        "{} not found: run `cargo xtask build`",
        p.display()
    );
    p
}

pub fn bundle_plugin(name: &str) -> PathBuf {
    target_profile_dir()
        .join("plugins")
        .join(format!("{name}.wasm"))
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

/// Whether `CI=true`: then a test's missing prerequisite is a failure, not a skip.
pub fn strict() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A prerequisite a test cannot run without: locally the test is skipped with a message
/// (and shows "ok"), under `CI=true` it fails. Returns whether the test may go on.
pub fn prerequisite(present: bool, what: &str) -> bool {
    if !present {
        assert!(
            !strict(),
            "{what} (CI=true: a missing prerequisite is a failure)"
        );
        eprintln!("skipped: {what}");
    }
    present
}

/// A system tool at `path`, from Debian's `package` (`cargo xtask test` installs it).
pub fn tool(path: &str, package: &str) -> Option<PathBuf> {
    let present = Path::new(path).exists();
    prerequisite(
        present,
        &format!("{path} not found: apt-get install -y {package} (cargo xtask test does)"),
    )
    .then(|| PathBuf::from(path))
}

/// `../shared` beside the project (`$TOLLGATE_SHARED`), if present: the public corpus
/// and trivy's verdicts some tests compare with.
pub fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("TOLLGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("..").join("shared"));
    let present = dir.join("corpus").exists();
    prerequisite(present, &format!("{} is absent", dir.display())).then_some(dir)
}

/// A command for the binary with a private, empty compile cache dir when `fresh_cache`
/// is requested; by default the user's cache is shared to keep the suite fast.
pub fn tollgate() -> Command {
    let mut c = Command::new(binary());
    c.env_remove("TOLLGATE_PLUGIN_DIR")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn output(o: Output) -> Run {
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Runs `tollgate ARGS...` and captures its output.
pub fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    output(tollgate().args(args).output().expect("run tollgate"))
}

/// Runs with stdin fed from `input`.
pub fn run_stdin<I, S>(args: I, input: &str) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    use std::io::Write;
    let mut child = tollgate()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tollgate");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    output(child.wait_with_output().expect("wait"))
}

/// The check entry `id` of the resource at (`file` suffix, document, item) in a JSON report.
pub fn check<'a>(
    report: &'a Value,
    file_suffix: &str,
    document: u64,
    id: &str,
) -> Option<&'a Value> {
    report["resources"].as_array()?.iter().find(|r| {
        r["file"].as_str().is_some_and(|f| f.ends_with(file_suffix)) && r["document"] == document
    })?["checks"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == id)
}

/// A validator for the first version's OpenAPI schema of a CRD in tests/fixtures/schemas.
pub fn crd_validator(file: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("tests/fixtures/schemas").join(file)).unwrap();
    let crd: Value = serde_saphyr::from_str(&text).unwrap();
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    jsonschema::validator_for(schema).unwrap()
}

/// Panics with the first schema errors (and where they are) unless `instance` is valid.
pub fn assert_valid(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(5)
        .collect();
    assert!(errors.is_empty(), "{what} is invalid: {errors:?}");
}
pub mod registry;
pub mod webhook;
