//! The real `tollgate` binary against a deliberately hostile OCI registry, written here:
//! plain HTTP on 127.0.0.1, one thread per connection, hand-written HTTP/1.1 answers
//! (`Connection: close`), one attack per [`Mode`].
//!
//! Threat model: whoever answers for a registry (the registry itself, a compromised
//! mirror, anyone on the path of a plain-HTTP pull) can lie about sizes and send what
//! it likes, as slowly as it likes. Each test reproduces one attack and checks that
//! tollgate refuses it with exit status 2, saying what was wrong, within a bounded
//! time, with a bounded peak RSS (measured for the child exactly, with `wait4`), with
//! nothing written to `-o` and nothing large or partial left in its OCI store:
//!
//! - [`Mode::Endless`]: a plausible manifest whose layer declares 1 MiB; the blob is
//!   answered 200 without `Content-Length` and streamed without end. Cut at the
//!   declared size (`plugin pull` and `scan --plugin oci://...`).
//! - [`Mode::HugeLayer`]: the layer declares 8 GiB; the blob would stream without end.
//!   Refused from the descriptor, before any of its body is read (pull and scan).
//! - [`Mode::HugeManifest`]: the manifest itself is 512 MiB of JSON-looking bytes, once
//!   announced by `Content-Length`, once not. Refused at the manifest limit (4 MiB).
//! - [`Mode::HugeSignature`]: a valid plugin manifest, and a cosign signature manifest
//!   whose payload layer declares 512 MiB, or declares 300 bytes while the blob
//!   endpoint sends 512 MiB. Refused at the signature payload limit (64 KiB) or at the
//!   declared size; the component is never asked for (`plugin pull --key`).
//! - [`Mode::RedirectLoop`]: every blob request is answered 302 to the same blob with
//!   one more `?hop=N`: an endless chain of distinct URLs, which no loop detection
//!   catches. Cut after the client's redirect limit.
//! - [`Mode::Trickle`]: the blob (4096 bytes, announced) arrives one byte every 2 s.
//!   Cut by the minimum-rate rule shortly after its 10 s grace.
//!
//! Each test has its own server and temporary directories (cache, docker config,
//! outputs), so they run in parallel. Every case prints its time and peak RSS.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};
use tollgate_e2e::{output, tollgate, Run};

/// The repository and tag the hostile registry serves.
const REPO: &str = "hostile/plugin";
const TAG: &str = "1";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// What the huge answers send (or announce): 512 MiB.
const HUGE: u64 = 512 << 20;
/// The trickled blob's size.
const TRICKLE_SIZE: u64 = 4096;

/// Peak RSS allowed to a refusing tollgate, in KiB.
const MAX_RSS_KIB: u64 = 300 << 10;
/// Largest file allowed in the cache after a refusal.
const MAX_STORED: u64 = 5 << 20;
/// Time allowed to a refusal.
const TIME_LIMIT: Duration = Duration::from_secs(60);
/// When a run that has not ended is killed (and the test fails).
const WATCHDOG: Duration = Duration::from_secs(180);

const SMALL_MANIFEST: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: small\n  namespace: default\ndata:\n  key: value\n";

// ---------------------------------------------------------------------------------------
// The hostile registry
// ---------------------------------------------------------------------------------------

/// The attack a [`Hostile`] registry makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The layer declares 1 MiB; its blob streams without end, without Content-Length.
    Endless,
    /// The layer declares 8 GiB; its blob streams without end.
    HugeLayer,
    /// The manifest is 512 MiB, with or without a Content-Length saying so.
    HugeManifest { content_length: bool },
    /// The signature payload layer declares `declared` bytes; its blob sends 512 MiB
    /// without Content-Length.
    HugeSignature { declared: u64 },
    /// Every blob request is redirected to the same blob with one more `?hop=N`.
    RedirectLoop,
    /// The layer (4096 bytes, announced) is sent one byte every 2 s.
    Trickle,
}

/// What the registry serves, made once per server.
struct Artifacts {
    manifest: Vec<u8>,
    manifest_digest: String,
    layer_digest: String,
    /// `sha256-<hex of the manifest digest>.sig`, cosign's signature tag.
    signature_tag: String,
    signature_manifest: Vec<u8>,
    signature_digest: String,
    payload_digest: String,
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

impl Artifacts {
    fn new(mode: Mode) -> Artifacts {
        // Digests of bytes that are never sent: the registry only has to name them.
        let layer_digest = sha256_digest(b"the component this registry never sends");
        let payload_digest = sha256_digest(b"the signature payload this registry never sends");
        let layer_size: u64 = match mode {
            Mode::HugeLayer => 8 << 30,
            Mode::Trickle | Mode::RedirectLoop => TRICKLE_SIZE,
            _ => 1 << 20,
        };
        // The Wasm artifact layout tollgate accepts (registry/artifact.rs: plugin_layer):
        // the wasm config media type and exactly one application/wasm layer.
        let config = br#"{"architecture":"wasm","os":"wasip2"}"#;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {
                "mediaType": "application/vnd.wasm.config.v0+json",
                "digest": sha256_digest(config),
                "size": config.len(),
            },
            "layers": [{
                "mediaType": "application/wasm",
                "digest": layer_digest,
                "size": layer_size,
            }],
            "annotations": {"dev.tollgate.plugin.name": "hostile"},
        }))
        .expect("manifest JSON");
        let manifest_digest = sha256_digest(&manifest);
        // cosign's signature manifest (registry/cosign.rs): an image config and one
        // simple-signing payload layer with the signature in an annotation.
        let declared = match mode {
            Mode::HugeSignature { declared } => declared,
            _ => 300,
        };
        let sig_config =
            br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
        let signature_manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256_digest(sig_config),
                "size": sig_config.len(),
            },
            "layers": [{
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                "digest": payload_digest,
                "size": declared,
                "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQDhostileAAAA"},
            }],
        }))
        .expect("signature manifest JSON");
        let signature_digest = sha256_digest(&signature_manifest);
        let signature_tag = format!("sha256-{}.sig", &manifest_digest["sha256:".len()..]);
        Artifacts {
            manifest,
            manifest_digest,
            layer_digest,
            signature_tag,
            signature_manifest,
            signature_digest,
            payload_digest,
        }
    }
}

/// What the connection threads share.
struct Shared {
    mode: Mode,
    port: u16,
    artifacts: Artifacts,
    /// `METHOD TARGET` of every request, in order of arrival.
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

/// A hostile registry on 127.0.0.1; dropping it stops accepting. Threads still
/// streaming end when their next write fails (the client has gone) or see `stop`.
struct Hostile {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    layer_digest: String,
    payload_digest: String,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Hostile {
    fn start(mode: Mode) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let artifacts = Artifacts::new(mode);
        let layer_digest = artifacts.layer_digest.clone();
        let payload_digest = artifacts.payload_digest.clone();
        let shared = Arc::new(Shared {
            mode,
            port,
            artifacts,
            requests: Arc::clone(&requests),
            stop: Arc::clone(&stop),
        });
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else {
                    thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let shared = Arc::clone(&shared);
                thread::spawn(move || {
                    let _ = handle(conn, &shared);
                });
            }
        });
        Hostile {
            port,
            requests,
            layer_digest,
            payload_digest,
            stop,
            accept: Some(accept),
        }
    }

    /// `oci://127.0.0.1:PORT/hostile/plugin:1`
    fn reference(&self) -> String {
        format!("oci://127.0.0.1:{}/{REPO}:{TAG}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Requests for the blob `digest` so far (redirect hops included).
    fn blob_requests(&self, digest: &str) -> usize {
        let needle = format!("/blobs/{digest}");
        self.requests()
            .iter()
            .filter(|r| r.contains(&needle))
            .count()
    }

    fn any_blob_requests(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.contains("/blobs/"))
            .count()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // One connection unblocks accept(); the loop then sees the flag and ends.
        if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            if let Some(t) = self.accept.take() {
                let _ = t.join();
            }
        }
    }
}

/// One connection: one request, one answer, then close.
fn handle(mut s: TcpStream, sh: &Shared) -> io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        // tollgate tries TLS first on loopback registries and moves to plain HTTP when
        // the handshake is answered in plain text (registry/client.rs: not_tls).
        if head[0] == 0x16 {
            sh.requests
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push("TLS ClientHello".to_string());
            return refuse_tls(s, head);
        }
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            head.truncate(end);
            break;
        }
        if head.len() > 64 << 10 {
            return respond(&mut s, "431 Request Header Fields Too Large", &[], b"");
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let line = text.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    sh.requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(format!("{method} {target}"));
    let path = target.split('?').next().unwrap_or("");
    route(&mut s, sh, &method, &target, path)
}

/// Answers a TLS ClientHello as a plain HTTP server does: 400 in clear text. The
/// whole record is read first, so that closing does not reset the connection before
/// the client has read the answer.
fn refuse_tls(mut s: TcpStream, mut got: Vec<u8>) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    while got.len() < 5 || got.len() < 5 + usize::from(u16::from_be_bytes([got[3], got[4]])) {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    respond(
        &mut s,
        "400 Bad Request",
        &[("Content-Type", "text/plain".to_string())],
        b"This registry speaks plain HTTP.\n",
    )?;
    let _ = s.shutdown(Shutdown::Write);
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    Ok(())
}

fn route(s: &mut TcpStream, sh: &Shared, method: &str, target: &str, path: &str) -> io::Result<()> {
    if path == "/v2/" || path == "/v2" {
        return respond(
            s,
            "200 OK",
            &[
                ("Content-Type", "application/json".to_string()),
                (
                    "Docker-Distribution-API-Version",
                    "registry/2.0".to_string(),
                ),
            ],
            b"{}",
        );
    }
    let prefix = format!("/v2/{REPO}/");
    let Some(rest) = path.strip_prefix(prefix.as_str()) else {
        return not_found(s);
    };
    if let Some(reference) = rest.strip_prefix("manifests/") {
        return manifest(s, sh, method, reference);
    }
    if let Some(digest) = rest.strip_prefix("blobs/") {
        return blob(s, sh, target, path, digest);
    }
    not_found(s)
}

/// HEAD or GET of the tag, the manifest digest, or (in HugeSignature mode) the
/// signature tag.
fn manifest(s: &mut TcpStream, sh: &Shared, method: &str, reference: &str) -> io::Result<()> {
    let a = &sh.artifacts;
    let plugin = reference == TAG || reference == a.manifest_digest;
    let signature = matches!(sh.mode, Mode::HugeSignature { .. }) && reference == a.signature_tag;
    let (bytes, digest) = if plugin {
        (&a.manifest, &a.manifest_digest)
    } else if signature {
        (&a.signature_manifest, &a.signature_digest)
    } else {
        return not_found(s);
    };
    let headers = [
        ("Content-Type", MANIFEST_MEDIA_TYPE.to_string()),
        ("Docker-Content-Digest", digest.clone()),
    ];
    let head_only = method == "HEAD";
    if let (true, Mode::HugeManifest { content_length }) = (plugin, sh.mode) {
        write_head(s, "200 OK", &headers, content_length.then_some(HUGE))?;
        if head_only {
            return Ok(());
        }
        return stream(s, sh, br#"{"schemaVersion":2,"a":""#, b'x', Some(HUGE));
    }
    write_head(s, "200 OK", &headers, Some(bytes.len() as u64))?;
    if !head_only {
        s.write_all(bytes)?;
    }
    Ok(())
}

/// GET of a blob: the attack of the mode.
fn blob(s: &mut TcpStream, sh: &Shared, target: &str, path: &str, digest: &str) -> io::Result<()> {
    let a = &sh.artifacts;
    let octet = [("Content-Type", "application/octet-stream".to_string())];
    if matches!(sh.mode, Mode::HugeSignature { .. }) && digest == a.payload_digest {
        // Whatever the descriptor declares: 512 MiB, not announced.
        write_head(s, "200 OK", &octet, None)?;
        return stream(s, sh, b"", b'x', Some(HUGE));
    }
    if digest != a.layer_digest {
        return not_found(s);
    }
    match sh.mode {
        Mode::RedirectLoop => {
            let hop: u64 = target
                .split_once("?hop=")
                .and_then(|(_, n)| n.parse().ok())
                .unwrap_or(0);
            let location = format!("http://127.0.0.1:{}{path}?hop={}", sh.port, hop + 1);
            respond(s, "302 Found", &[("Location", location)], b"")
        }
        Mode::Trickle => {
            write_head(s, "200 OK", &octet, Some(TRICKLE_SIZE))?;
            for _ in 0..TRICKLE_SIZE {
                if sh.stop.load(Ordering::Relaxed) {
                    break;
                }
                s.write_all(b"x")?;
                thread::sleep(Duration::from_secs(2));
            }
            Ok(())
        }
        Mode::HugeManifest { .. } => not_found(s),
        // Endless, and the layers that must never be asked for (HugeLayer, and the
        // component of HugeSignature): bytes until the client goes away.
        Mode::Endless | Mode::HugeLayer | Mode::HugeSignature { .. } => {
            write_head(s, "200 OK", &octet, None)?;
            stream(s, sh, b"", 0, None)
        }
    }
}

/// A status line and explicit headers: `length` as Content-Length when given (none:
/// the body runs until the connection closes), and `Connection: close` always.
fn write_head(
    s: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    length: Option<u64>,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(n) = length {
        head.push_str(&format!("Content-Length: {n}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    s.write_all(head.as_bytes())
}

fn respond(
    s: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> io::Result<()> {
    write_head(s, status, headers, Some(body.len() as u64))?;
    s.write_all(body)?;
    s.flush()
}

fn not_found(s: &mut TcpStream) -> io::Result<()> {
    respond(
        s,
        "404 Not Found",
        &[("Content-Type", "application/json".to_string())],
        br#"{"errors":[{"code":"NAME_UNKNOWN","message":"not here"}]}"#,
    )
}

/// Writes `prefix`, then `fill` bytes in 64 KiB chunks until `limit` bytes in all
/// (None: until a write fails, i.e. the client has gone).
fn stream(
    s: &mut TcpStream,
    sh: &Shared,
    prefix: &[u8],
    fill: u8,
    limit: Option<u64>,
) -> io::Result<()> {
    s.write_all(prefix)?;
    let chunk = vec![fill; 64 << 10];
    let mut sent = prefix.len() as u64;
    loop {
        if sh.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let n = match limit {
            Some(l) => l.saturating_sub(sent).min(chunk.len() as u64) as usize,
            None => chunk.len(),
        };
        if n == 0 {
            return Ok(());
        }
        s.write_all(&chunk[..n])?;
        sent += n as u64;
    }
}

// ---------------------------------------------------------------------------------------
// Running tollgate, measured
// ---------------------------------------------------------------------------------------

/// One run of the binary: its output, wall time and peak RSS.
struct Measured {
    run: Run,
    elapsed: Duration,
    /// The highest `VmHWM` of the running binary, sampled from /proc, in KiB.
    peak_rss_kib: u64,
    /// The signal that ended it, if one did.
    signal: Option<i32>,
    /// Killed by the watchdog after [`WATCHDOG`].
    killed: bool,
}

fn drain(mut from: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = from.read_to_end(&mut bytes);
        bytes
    })
}

/// Blocks until the child `pid` has exited, without reaping it (WNOWAIT).
fn wait_exited(pid: libc::pid_t) {
    loop {
        // SAFETY: siginfo_t is plain data (integers and padding): all-zero is valid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a live local the call writes; `pid` is our own child.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 {
            return;
        }
        let e = io::Error::last_os_error();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted, "waitid({pid}): {e}");
    }
}

/// Reaps the exited child `pid`: its wait status and resource usage.
fn reap(pid: libc::pid_t) -> (libc::c_int, libc::rusage) {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data (integers and timevals): all-zero is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals; `pid` is our child, exited and not
        // yet reaped (see `wait_exited`).
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return (status, usage);
        }
        let e = io::Error::last_os_error();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted, "wait4({pid}): {e}");
    }
}

/// The high-water RSS of `pid` (`VmHWM`, KiB) once it runs tollgate; None before its
/// exec (until then it shares the test process's memory) and after its exit.
fn vm_hwm(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let name = status.lines().find_map(|l| l.strip_prefix("Name:"))?.trim();
    if !name.starts_with("tollgate") {
        return None;
    }
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Runs `cmd` to its end and measures it: wall time from spawn to exit, and the peak
/// RSS of that process: its `VmHWM`, sampled every 5 ms while it runs. Not `wait4`'s
/// `ru_maxrss`: Linux carries the spawning process's high-water mark into the child
/// across exec, and this test process (every end-to-end area in one binary) can be
/// hundreds of MiB. A watchdog kills it after [`WATCHDOG`].
fn run_measured(mut cmd: Command) -> Measured {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn tollgate");
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    // `done` is set, under its lock, only once the child has exited and before it is
    // reaped: the watchdog, which kills under the same lock, never signals a reaped
    // (and possibly reused) pid.
    let exited = Arc::new((Mutex::new(false), Condvar::new()));
    let sampler = {
        let exited = Arc::clone(&exited);
        thread::spawn(move || {
            let mut peak = 0;
            loop {
                // Sampled before the exit flag is read, so the last sample is taken
                // while the process may still run.
                if let Some(kib) = vm_hwm(pid) {
                    peak = peak.max(kib);
                }
                if *exited.0.lock().unwrap_or_else(|e| e.into_inner()) {
                    return peak;
                }
                thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let watchdog = {
        let exited = Arc::clone(&exited);
        thread::spawn(move || {
            let (lock, cvar) = &*exited;
            let done = lock.lock().unwrap_or_else(|e| e.into_inner());
            let (done, _) = cvar
                .wait_timeout_while(done, WATCHDOG, |done| !*done)
                .unwrap_or_else(|e| e.into_inner());
            if *done {
                return false;
            }
            // SAFETY: `pid` is our child and is not reaped yet (we hold the lock that
            // reaping waits for); kill has no memory-safety requirements.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            true
        })
    };
    wait_exited(pid);
    let elapsed = started.elapsed();
    {
        let (lock, cvar) = &*exited;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_all();
    }
    let killed = watchdog.join().expect("watchdog thread");
    let peak_rss_kib = sampler.join().expect("sampler thread");
    let (status, _usage) = reap(pid);
    // The std handle has nothing left to do: the child is reaped.
    drop(child);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let signal = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");
    Measured {
        run: Run {
            code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        },
        elapsed,
        peak_rss_kib,
        signal,
        killed,
    }
}

/// A working directory with its own cache (`TOLLGATE_CACHE_DIR`, which also holds the
/// OCI store at `<cache>/oci/`) and docker config.
struct Work {
    dir: tempfile::TempDir,
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

impl Work {
    fn new() -> Work {
        Work {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cache(&self) -> PathBuf {
        self.path("cache")
    }

    /// Where `plugin pull -o` writes.
    fn out(&self) -> PathBuf {
        self.path("out.wasm")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = tollgate();
        c.current_dir(self.dir.path())
            .env("TOLLGATE_CACHE_DIR", self.cache())
            .env("DOCKER_CONFIG", self.path("docker"))
            .env_remove("COSIGN_PASSWORD")
            .env_remove("TOLLGATE_PROGRESS_MIN_BYTES")
            .args(args);
        c
    }

    /// A key pair `cosign.key`/`cosign.pub` (password "pw"); the public key's path.
    fn keygen(&self) -> PathBuf {
        let out = output(
            self.command(&["plugin", "keygen", "--output-key-prefix", "cosign"])
                .env("COSIGN_PASSWORD", "pw")
                .output()
                .expect("run tollgate"),
        );
        assert_eq!(out.code, 0, "keygen: {}", out.stderr);
        self.path("cosign.pub")
    }

    /// `tollgate plugin pull <ref> -o out.wasm EXTRA...`, measured.
    fn pull(&self, reg: &Hostile, extra: &[&str]) -> Measured {
        let reference = reg.reference();
        let out = self.out();
        let mut args = vec!["plugin", "pull", reference.as_str(), "-o", path_str(&out)];
        args.extend_from_slice(extra);
        run_measured(self.command(&args))
    }

    /// `tollgate scan --plugin <ref>` on one small manifest, without the bundle (its
    /// compilation would dominate time and memory), with a configuration that admits
    /// unsigned plugins (else the trust policy refuses before any download).
    fn scan(&self, reg: &Hostile) -> Measured {
        self.scan_with(reg, "trust:\n  allow_unsigned: true\n", &[])
    }

    /// A scan with this configuration and these extra flags.
    fn scan_with(&self, reg: &Hostile, config_text: &str, extra: &[&str]) -> Measured {
        let config = self.path("tollgate.yaml");
        std::fs::write(&config, config_text).expect("write tollgate.yaml");
        let input = self.path("small.yaml");
        std::fs::write(&input, SMALL_MANIFEST).expect("write small.yaml");
        let reference = reg.reference();
        let mut args = vec![
            "scan",
            "-c",
            path_str(&config),
            "--no-builtin",
            "-f",
            "json",
            "--plugin",
            reference.as_str(),
        ];
        args.extend_from_slice(extra);
        args.push(path_str(&input));
        run_measured(self.command(&args))
    }
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
    // An absent directory holds nothing.
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            walk(&p, out);
        } else {
            out.push((p, meta.len()));
        }
    }
}

/// Nothing partial or large in the cache, and the hostile layer not in the OCI store.
fn assert_store_clean(case: &str, cache: &Path, layer_digest: &str) {
    let mut files = Vec::new();
    walk(cache, &mut files);
    for (path, len) in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(
            !name.starts_with(".pending."),
            "{case}: a partial download was left behind: {}",
            path.display()
        );
        assert!(
            *len <= MAX_STORED,
            "{case}: {} is {len} bytes, over {MAX_STORED}",
            path.display()
        );
    }
    let stored = cache
        .join("oci/blobs/sha256")
        .join(&layer_digest["sha256:".len()..]);
    assert!(
        !stored.exists(),
        "{case}: the hostile layer is in the store: {}",
        stored.display()
    );
}

/// What every refusal must look like: exit status 2, an error that says `needles`,
/// within `within`, under [`MAX_RSS_KIB`], nothing at `-o`, a clean store.
fn assert_refused(
    case: &str,
    w: &Work,
    reg: &Hostile,
    m: &Measured,
    needles: &[&str],
    within: Duration,
) {
    eprintln!(
        "hostile registry, {case}: exit {} after {:.1} s, peak RSS {:.1} MiB ({} KiB), {} request(s): {:?}",
        m.run.code,
        m.elapsed.as_secs_f64(),
        m.peak_rss_kib as f64 / 1024.0,
        m.peak_rss_kib,
        reg.requests().len(),
        reg.requests()
    );
    assert!(
        !m.killed,
        "{case}: still running after {WATCHDOG:?}, killed; stderr:\n{}",
        m.run.stderr
    );
    assert_eq!(
        m.run.code, 2,
        "{case}: exit status (signal {:?}); stderr:\n{}\nstdout:\n{}",
        m.signal, m.run.stderr, m.run.stdout
    );
    // pull says it on stderr; scan in its JSON report's errors (and maybe stderr).
    let said = format!("{}\n{}", m.run.stderr, m.run.stdout);
    for n in needles {
        assert!(
            said.contains(n),
            "{case}: the error does not say {n:?}; stderr:\n{}\nstdout:\n{}",
            m.run.stderr,
            m.run.stdout
        );
    }
    assert!(
        m.elapsed < within,
        "{case}: took {:?}, over {within:?}",
        m.elapsed
    );
    assert!(m.peak_rss_kib > 0, "{case}: its memory was never sampled");
    assert!(
        m.peak_rss_kib < MAX_RSS_KIB,
        "{case}: peak RSS {} KiB, over {MAX_RSS_KIB} KiB",
        m.peak_rss_kib
    );
    assert!(
        !w.out().exists(),
        "{case}: {} was written",
        w.out().display()
    );
    assert_store_clean(case, &w.cache(), &reg.layer_digest);
}

// ---------------------------------------------------------------------------------------
// The attacks
// ---------------------------------------------------------------------------------------

#[test]
fn an_endless_layer_is_cut_at_its_declared_size() {
    let reg = Hostile::start(Mode::Endless);
    let needles = ["component layer", "sent more than the 1 MiB"];

    let w = Work::new();
    let m = w.pull(&reg, &[]);
    assert_refused("endless layer, pull", &w, &reg, &m, &needles, TIME_LIMIT);
    // A refusal is not retried: one download, cut.
    assert_eq!(
        reg.blob_requests(&reg.layer_digest),
        1,
        "{:?}",
        reg.requests()
    );

    let w = Work::new();
    let m = w.scan(&reg);
    assert_refused("endless layer, scan", &w, &reg, &m, &needles, TIME_LIMIT);
    assert_eq!(
        reg.blob_requests(&reg.layer_digest),
        2,
        "{:?}",
        reg.requests()
    );
}

#[test]
fn a_layer_declaring_8_gib_is_refused_before_its_body() {
    let reg = Hostile::start(Mode::HugeLayer);
    let needles = [
        "component layer declares 8192 MiB",
        "refused before downloading",
    ];

    // The descriptor is refused before its blob is asked for.
    let w = Work::new();
    let m = w.pull(&reg, &[]);
    assert_refused("8 GiB layer, pull", &w, &reg, &m, &needles, TIME_LIMIT);
    let w = Work::new();
    let m = w.scan(&reg);
    assert_refused("8 GiB layer, scan", &w, &reg, &m, &needles, TIME_LIMIT);
    assert_eq!(
        reg.blob_requests(&reg.layer_digest),
        0,
        "{:?}",
        reg.requests()
    );
}

#[test]
fn a_huge_manifest_is_refused_at_the_manifest_limit() {
    // Announced: refused from Content-Length, before the body.
    let reg = Hostile::start(Mode::HugeManifest {
        content_length: true,
    });
    let w = Work::new();
    let m = w.pull(&reg, &[]);
    assert_refused(
        "512 MiB manifest with Content-Length, pull",
        &w,
        &reg,
        &m,
        &[
            "announces 512 MiB for the manifest",
            "refused before downloading",
        ],
        TIME_LIMIT,
    );
    let w = Work::new();
    let m = w.scan(&reg);
    assert_refused(
        "512 MiB manifest with Content-Length, scan",
        &w,
        &reg,
        &m,
        &["announces 512 MiB for the manifest"],
        TIME_LIMIT,
    );
    assert_eq!(reg.any_blob_requests(), 0, "{:?}", reg.requests());
    drop(reg);

    // Not announced: cut at the limit while reading.
    let reg = Hostile::start(Mode::HugeManifest {
        content_length: false,
    });
    let w = Work::new();
    let m = w.pull(&reg, &[]);
    assert_refused(
        "512 MiB manifest without Content-Length, pull",
        &w,
        &reg,
        &m,
        &["manifest is over the 4 MiB limit"],
        TIME_LIMIT,
    );
    let w = Work::new();
    let m = w.scan(&reg);
    assert_refused(
        "512 MiB manifest without Content-Length, scan",
        &w,
        &reg,
        &m,
        &["manifest is over the 4 MiB limit"],
        TIME_LIMIT,
    );
    assert_eq!(reg.any_blob_requests(), 0, "{:?}", reg.requests());
}

#[test]
fn a_huge_signature_payload_is_refused_before_the_component() {
    // The payload declares 512 MiB: over the signature payload limit (64 KiB).
    let reg = Hostile::start(Mode::HugeSignature { declared: HUGE });
    let w = Work::new();
    let key = w.keygen();
    let m = w.pull(&reg, &["--key", path_str(&key)]);
    assert_refused(
        "signature payload declaring 512 MiB, pull --key",
        &w,
        &reg,
        &m,
        &[
            "signature payload declares 512 MiB",
            "refused before downloading",
        ],
        TIME_LIMIT,
    );
    // The signature is checked first: the component is never asked for.
    assert_eq!(
        reg.blob_requests(&reg.layer_digest),
        0,
        "{:?}",
        reg.requests()
    );
    // A scan whose trust policy requires a signature by the key: the same refusal.
    let m = w.scan_with(&reg, "trust: {}\n", &["--trusted-key", path_str(&key)]);
    assert_refused(
        "signature payload declaring 512 MiB, scan --trusted-key",
        &w,
        &reg,
        &m,
        &["signature payload declares 512 MiB"],
        TIME_LIMIT,
    );
    // Nor the payload that declares 512 MiB.
    assert_eq!(
        reg.blob_requests(&reg.payload_digest),
        0,
        "{:?}",
        reg.requests()
    );
    drop(reg);

    // The payload declares 300 bytes; the registry sends 512 MiB, not announced.
    let reg = Hostile::start(Mode::HugeSignature { declared: 300 });
    let w = Work::new();
    let key = w.keygen();
    let m = w.pull(&reg, &["--key", path_str(&key)]);
    assert_refused(
        "signature payload declaring 300 bytes, sending 512 MiB, pull --key",
        &w,
        &reg,
        &m,
        &["signature payload", "sent more than the 300 bytes"],
        TIME_LIMIT,
    );
    assert_eq!(
        reg.blob_requests(&reg.layer_digest),
        0,
        "{:?}",
        reg.requests()
    );
    assert_eq!(
        reg.blob_requests(&reg.payload_digest),
        1,
        "{:?}",
        reg.requests()
    );
}

#[test]
fn an_endless_redirect_chain_is_cut() {
    let reg = Hostile::start(Mode::RedirectLoop);
    let w = Work::new();
    let m = w.pull(&reg, &[]);
    assert_refused(
        "endless redirects, pull",
        &w,
        &reg,
        &m,
        &["redirect"],
        TIME_LIMIT,
    );
    // The first request and 5 redirects (http.rs: MAX_REDIRECTS), not retried.
    let hops = reg.blob_requests(&reg.layer_digest);
    assert!(
        (1..=6).contains(&hops),
        "{hops} blob requests: {:?}",
        reg.requests()
    );
    let w = Work::new();
    let m = w.scan(&reg);
    assert_refused(
        "endless redirects, scan",
        &w,
        &reg,
        &m,
        &["redirect"],
        TIME_LIMIT,
    );
}

#[test]
fn a_trickling_registry_is_dropped_by_the_minimum_rate() {
    let reg = Hostile::start(Mode::Trickle);
    let w = Work::new();
    let m = w.pull(&reg, &[]);
    // The rate applies after a 10 s grace; the whole blob would take 8192 s.
    assert_refused(
        "one byte every 2 s, pull",
        &w,
        &reg,
        &m,
        &["component layer arrives too slowly"],
        Duration::from_secs(30),
    );
    let w = Work::new();
    let m = w.scan(&reg);
    assert_refused(
        "one byte every 2 s, scan",
        &w,
        &reg,
        &m,
        &["component layer arrives too slowly"],
        Duration::from_secs(30),
    );
    assert_eq!(
        reg.blob_requests(&reg.layer_digest),
        2,
        "{:?}",
        reg.requests()
    );
}
