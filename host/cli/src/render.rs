//! Rendering Helm charts and kustomizations for a scan by running `helm template`,
//! `kustomize build` or `kubectl kustomize` from `PATH` (the library finds them and
//! never runs a process; see `tollgate::render`).
//!
//! Threat model: the chart is the scanned repository's content, and the renderer runs
//! on it as the user. `helm template` evaluates Go templates (no code execution, no
//! network unless the chart's dependencies are missing, which it reports as an error;
//! tollgate never passes `--dependency-update`). What the renderer can cost is bounded:
//! its output is read up to the file size limit and its run to [`TIME_LIMIT`], then it
//! is killed; what it writes on stderr is kept (bounded) for the error message.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tollgate::input::{RenderKind, Renderable};
use tollgate::pipeline::Document;
use tollgate::render::{kustomization_file, split_rendered, Render};

/// How long one chart or kustomization may take to render.
pub const TIME_LIMIT: Duration = Duration::from_secs(120);

/// stderr kept for an error message.
const MAX_STDERR: u64 = 8 << 10;

/// `helm template` and kustomize's options, as the scan's flags give them.
#[derive(Debug, Clone)]
pub struct ProcessRenderer {
    /// `--helm-values FILE`, in order.
    pub values: Vec<PathBuf>,
    /// `--helm-set KEY=VALUE`, in order.
    pub set: Vec<String>,
    pub release: String,
    pub namespace: Option<String>,
    /// Largest output read, in bytes (the scan's file size limit).
    pub max_bytes: u64,
}

impl Render for ProcessRenderer {
    fn render(&self, what: &Renderable) -> Result<Vec<Document>, String> {
        let dir = what.dir.as_path();
        match what.kind {
            RenderKind::Chart => {
                let helm = on_path("helm").ok_or_else(|| {
                    format!("helm is not on PATH; install it, or {}", what.by_hand())
                })?;
                let mut c = Command::new(helm);
                c.arg("template").arg(&self.release).arg(dir);
                if let Some(ns) = &self.namespace {
                    c.args(["--namespace", ns]);
                }
                for v in &self.values {
                    c.arg("--values").arg(v);
                }
                for s in &self.set {
                    c.args(["--set", s]);
                }
                let out = self.run(c, "helm template")?;
                Ok(split_rendered(
                    dir,
                    &out,
                    &dir.join("Chart.yaml").display().to_string(),
                ))
            }
            RenderKind::Kustomization => {
                let c = if let Some(k) = on_path("kustomize") {
                    let mut c = Command::new(k);
                    c.arg("build").arg(dir);
                    c
                } else if let Some(k) = on_path("kubectl") {
                    let mut c = Command::new(k);
                    c.arg("kustomize").arg(dir);
                    c
                } else {
                    return Err(format!(
                        "neither kustomize nor kubectl is on PATH; install one, or {}",
                        what.by_hand()
                    ));
                };
                let out = self.run(c, "kustomize")?;
                Ok(split_rendered(dir, &out, &kustomization_file(what)))
            }
        }
    }
}

impl ProcessRenderer {
    /// The renderer's stdout, or why there is none.
    fn run(&self, mut c: Command, what: &str) -> Result<String, String> {
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {what}: {e}"))?;
        let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
        let cap = self.max_bytes;
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(s) = stdout.as_mut() {
                let _ = s.take(cap + 1).read_to_end(&mut out);
            }
            out
        });
        let errors = std::thread::spawn(move || {
            let mut err = Vec::new();
            if let Some(s) = stderr.as_mut() {
                let _ = s.take(MAX_STDERR).read_to_end(&mut err);
            }
            err
        });
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() > TIME_LIMIT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "{what} did not finish within {} s; stopped it",
                        TIME_LIMIT.as_secs()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("cannot wait for {what}: {e}")),
            }
        };
        let out = reader.join().unwrap_or_default();
        let err = errors.join().unwrap_or_default();
        if out.len() as u64 > cap {
            return Err(format!(
                "{what} wrote more than the {} MiB limit (--max-file-size)",
                cap >> 20
            ));
        }
        if !status.success() {
            let err = String::from_utf8_lossy(&err);
            return Err(format!("{what} failed ({status}): {}", err.trim()));
        }
        String::from_utf8(out).map_err(|_| format!("{what} wrote text that is not UTF-8"))
    }
}

/// The first `name` in a directory of `PATH` that is an executable file.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    p.is_file()
}
