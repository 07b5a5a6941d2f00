//! A real OCI registry for the tests: Debian's `docker-registry` (distribution 2.8.2)
//! on 127.0.0.1 on a free port, storage in a temporary directory, stopped by PID.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BINARY: &str = "/usr/bin/docker-registry";

pub struct Registry {
    /// `127.0.0.1:PORT`
    pub addr: String,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Registry {
    /// A registry with no authentication; none (the test is skipped, or fails under
    /// `CI=true`) when docker-registry is not installed.
    pub fn start() -> Option<Registry> {
        Registry::start_with("")
    }

    /// A registry whose configuration also has `extra` (YAML under `http:` or at the
    /// top level, indented as the caller needs).
    pub fn start_with(extra: &str) -> Option<Registry> {
        crate::tool(BINARY, "docker-registry")?;
        let dir = tempfile::tempdir().expect("temp dir");
        let addr = format!("127.0.0.1:{}", free_port());
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{extra}",
                dir.path().join("storage").display()
            ),
        )
        .expect("write registry config");
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let mut r = Registry {
            addr,
            dir,
            child: Some(child),
        };
        r.wait_ready();
        Some(r)
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(&self.addr).is_ok() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("docker-registry exited at start: {status}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("docker-registry did not listen on {} in 20 s", self.addr);
    }

    /// `oci://127.0.0.1:PORT/<repo>`
    pub fn reference(&self, repo: &str) -> String {
        format!("oci://{}/{repo}", self.addr)
    }

    /// Where the registry keeps a blob's bytes.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Stops the registry (SIGKILL to its PID) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `curl` against the registry's API: (HTTP status, body).
    pub fn curl(&self, args: &[&str]) -> (u16, Vec<u8>) {
        let out = Command::new("curl")
            .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
            .args(args)
            .output()
            .expect("run curl");
        let mut body = out.stdout;
        let split = body.iter().rposition(|&b| b == b'\n').unwrap_or(0);
        let code = String::from_utf8_lossy(&body[split + 1..])
            .trim()
            .parse()
            .unwrap_or(0);
        body.truncate(split);
        (code, body)
    }

    /// Uploads a blob with the monolithic POST + PUT; returns its digest.
    pub fn put_blob(&self, repo: &str, bytes: &[u8]) -> String {
        use sha2::Digest;
        let digest = format!("sha256:{:x}", sha2::Sha256::digest(bytes));
        let file = self.dir.path().join("upload.bin");
        std::fs::write(&file, bytes).unwrap();
        let out = Command::new("curl")
            .args(["-s", "-D", "-", "-o", "/dev/null", "-X", "POST"])
            .arg(format!("http://{}/v2/{repo}/blobs/uploads/", self.addr))
            .output()
            .expect("curl");
        let headers = String::from_utf8_lossy(&out.stdout);
        let location = headers
            .lines()
            .find_map(|l| {
                l.strip_prefix("Location: ")
                    .or_else(|| l.strip_prefix("location: "))
            })
            .expect("upload location")
            .trim()
            .to_string();
        let url = if location.starts_with("http") {
            location
        } else {
            format!("http://{}{location}", self.addr)
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        let (code, body) = self.curl(&[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            &format!("@{}", file.display()),
            &format!("{url}{sep}digest={digest}"),
        ]);
        assert_eq!(code, 201, "blob upload: {}", String::from_utf8_lossy(&body));
        digest
    }

    /// Stores a manifest under a tag or digest.
    pub fn put_manifest(&self, repo: &str, reference: &str, manifest: &[u8]) {
        let file = self.dir.path().join("manifest.json");
        std::fs::write(&file, manifest).unwrap();
        let (code, body) = self.curl(&[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
            "--data-binary",
            &format!("@{}", file.display()),
            &format!("http://{}/v2/{repo}/manifests/{reference}", self.addr),
        ]);
        assert_eq!(
            code,
            201,
            "manifest push: {}",
            String::from_utf8_lossy(&body)
        );
    }

    /// A manifest's bytes.
    pub fn get_manifest(&self, repo: &str, reference: &str) -> Vec<u8> {
        let (code, body) = self.curl(&[
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
            &format!("http://{}/v2/{repo}/manifests/{reference}", self.addr),
        ]);
        assert_eq!(
            code,
            200,
            "manifest {repo}:{reference}: {}",
            String::from_utf8_lossy(&body)
        );
        body
    }

    pub fn get_blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        let (code, body) = self.curl(&[
            "-L",
            &format!("http://{}/v2/{repo}/blobs/{digest}", self.addr),
        ]);
        assert_eq!(code, 200, "blob {digest}");
        body
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}
