//! The webhook tests' harness: certificates made with rcgen, `tollgate serve` started
//! on 127.0.0.1 and stopped by PID, curl as the HTTP client, reviews and objects.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::{binary, root};

pub struct Tls {
    pub dir: tempfile::TempDir,
}

impl Default for Tls {
    fn default() -> Self {
        Self::new()
    }
}

impl Tls {
    pub fn new() -> Tls {
        let tls = Tls {
            dir: tempfile::tempdir().unwrap(),
        };
        tls.issue("ca.pem");
        tls
    }

    /// A fresh self-signed pair for localhost in cert.pem/key.pem; the certificate is
    /// also kept as `trust` for the client.
    pub fn issue(&self, trust: &str) {
        let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let (cert, key) = (pair.cert.pem(), pair.signing_key.serialize_pem());
        // Written beside and renamed, as a Secret volume swaps its files.
        for (name, text) in [("key.pem", key), ("cert.pem", cert.clone())] {
            let tmp = self.dir.path().join(format!(".{name}"));
            std::fs::write(&tmp, text).unwrap();
            std::fs::rename(&tmp, self.dir.path().join(name)).unwrap();
        }
        std::fs::write(self.dir.path().join(trust), cert).unwrap();
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(tls: &Tls, extra: &[&str]) -> Server {
        Self::start_with(tls, &mut Command::new(binary()), extra)
    }

    /// Starts `command` (the binary, or a wrapper such as `prlimit ... -- tollgate`)
    /// with `serve` and its arguments.
    pub fn start_with(tls: &Tls, command: &mut Command, extra: &[&str]) -> Server {
        binary();
        let mut child = command
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args((!extra.contains(&"--config")).then_some("--no-config"))
            .arg("--tls-cert")
            .arg(tls.path("cert.pem"))
            .arg("--tls-key")
            .arg(tls.path("key.pem"))
            .args(extra)
            .env_remove("TOLLGATE_PLUGIN_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tollgate serve");
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if v["message"] == "listening" {
                        let _ = tx.send(v["addr"].as_str().unwrap_or("").to_string());
                    }
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("the server did not start: {:?}", logs.lock().unwrap()));
        let port = addr.rsplit(':').next().unwrap().parse().unwrap();
        Server { child, port, logs }
    }

    /// curl over TLS, trusting `trust`; (HTTP code, body). Code 0: no HTTP answer.
    pub fn curl(
        &self,
        tls: &Tls,
        trust: &str,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> (u16, String) {
        let mut c = Command::new("curl");
        c.args([
            "-sS",
            "--max-time",
            "20",
            "-X",
            method,
            "-w",
            "\n%{http_code}",
        ])
        .arg("--cacert")
        .arg(tls.path(trust))
        .arg("--resolve")
        .arg(format!("localhost:{}:127.0.0.1", self.port))
        .arg(format!("https://localhost:{}{path}", self.port));
        if let Some(b) = body {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let file = tls.path(&format!("body-{n}.json"));
            std::fs::write(&file, b).unwrap();
            c.args(["-H", "content-type: application/json", "--data-binary"])
                .arg(format!("@{}", file.display()));
        }
        let out = c
            .output()
            .expect("curl (Debian's curl package) must be installed");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    pub fn review(&self, tls: &Tls, review: &Value) -> Value {
        let (code, body) = self.curl(
            tls,
            "ca.pem",
            "POST",
            "/validate",
            Some(review.to_string().as_bytes()),
        );
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    /// The first log line containing `needle`, waiting for it (logs are written after
    /// the answer is sent, so a test that just got its answer may be ahead of them).
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(l) = self
                .logs
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
            {
                return l.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no log line with {needle}: {:?}",
                self.logs.lock().unwrap()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Waits until `/metrics` says `n` reviews are being answered.
    pub fn wait_in_flight(&self, tls: &Tls, n: u32) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let (_, text) = self.curl(tls, "ca.pem", "GET", "/metrics", None);
            if parse_metrics(&text).get("tollgate_admission_in_flight") == Some(&f64::from(n)) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never {n} in flight: {text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An AdmissionReview as the API server sends it: `request.kind` from the object's
/// `apiVersion` and `kind`.
pub fn review(uid: &str, operation: &str, namespace: &str, object: Value) -> Value {
    let kind = object["kind"].clone();
    let (group, version) = match object["apiVersion"]
        .as_str()
        .unwrap_or("v1")
        .split_once('/')
    {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (
            String::new(),
            object["apiVersion"].as_str().unwrap_or("v1").to_string(),
        ),
    };
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "operation": operation, "namespace": namespace,
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": "things"},
        "object": object, "dryRun": false}})
}

pub fn compliant_pod() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "good"},
        "spec": {"securityContext": {"runAsNonRoot": true, "runAsUser": 20000, "runAsGroup": 20000,
                                     "seccompProfile": {"type": "RuntimeDefault"}},
                 "automountServiceAccountToken": false,
                 "containers": [{"name": "app", "image": "example.azurecr.io/app:1.2.3",
                     "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}},
                     "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                         "runAsNonRoot": true, "runAsUser": 20000, "runAsGroup": 20000,
                         "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}}]}})
}

pub fn privileged_deployment() -> Value {
    let text =
        std::fs::read_to_string(root().join("tests/fixtures/webhook/privileged-deployment.json"))
            .unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn config_map(name: &str, mode: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns"}, "data": {"mode": mode}})
}

/// The warnings Kubernetes passes on: short, no control characters, within the budget.
pub fn assert_warnings_fit(warnings: &[Value]) {
    let mut total = 0;
    for w in warnings {
        let w = w.as_str().unwrap();
        assert!(w.chars().count() <= 120, "{w}");
        assert!(!w.chars().any(char::is_control), "{w:?}");
        assert!(!w.starts_with("Warning:"));
        total += w.chars().count();
    }
    assert!(total <= 4096, "{total}");
}

/// Prometheus text format: `# HELP`/`# TYPE` comments and `name{labels} value` samples;
/// anything else fails the parse.
pub fn parse_metrics(text: &str) -> std::collections::HashMap<String, f64> {
    let mut out = std::collections::HashMap::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line}"));
        let metric = name.split('{').next().unwrap();
        assert!(
            !metric.is_empty()
                && metric
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line}"
        );
        if let Some(labels) = name.strip_prefix(metric) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        out.insert(
            name.to_string(),
            value
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("bad value in {line}")),
        );
    }
    out
}
