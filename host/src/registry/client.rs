//! Talking to registries: credentials from the docker config, plain HTTP only for
//! loopback hosts and `--insecure-registry` ones, bounded timeouts and retries, and a
//! progress bar for large downloads on a terminal. Everything read from a registry goes
//! through [`super::download`], where every size and time is bounded; oci-client
//! (its chunked uploads) is used to push. Calls are blocking for the caller;
//! underneath, one tokio runtime per client overlaps them.

use std::collections::HashMap;
use std::future::Future;
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};
use reqwest::Method;

use super::artifact::{Descriptor, MANIFEST_MEDIA_TYPE};
use super::download::{self, DownloadLimits, Failure, Http, Job, Kind, Sink, Target};
use super::reference::sha256_digest;
use crate::defaults;

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Hosts (`host[:port]`) spoken to over plain HTTP besides loopback ones.
    pub insecure: Vec<String>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Attempts per request when the registry cannot be reached or answers 5xx.
    pub attempts: u32,
    /// Sizes, deadlines and the minimum rate of downloads.
    pub limits: DownloadLimits,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure: Vec::new(),
            connect_timeout: Duration::from_secs(defaults::REGISTRY_CONNECT_TIMEOUT_S),
            read_timeout: Duration::from_secs(defaults::REGISTRY_READ_TIMEOUT_S),
            attempts: defaults::REGISTRY_ATTEMPTS,
            limits: DownloadLimits::default(),
        }
    }
}

/// What went wrong talking to a registry, said so that the next step is clear.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct RegistryError {
    pub message: String,
    /// The bytes the registry sent do not hash to the digest asked for.
    pub digest_mismatch: bool,
}

impl RegistryError {
    pub fn new(message: impl Into<String>) -> RegistryError {
        RegistryError {
            message: message.into(),
            digest_mismatch: false,
        }
    }
}

/// A registry client shared by every request of one command.
pub struct Client {
    tls: OnceLock<Result<oci_client::Client, String>>,
    /// For loopback registries without TLS.
    plain: OnceLock<Result<oci_client::Client, String>>,
    /// Whether any registry is a loopback one (which may fall back to plain HTTP).
    loopback: bool,
    /// Loopback registries found to speak plain HTTP.
    plain_hosts: Mutex<Vec<String>>,
    runtime: tokio::runtime::Runtime,
    options: RegistryOptions,
    auth: Mutex<HashMap<String, RegistryAuth>>,
    /// Reads (manifests, blobs, tags), bounded.
    http: Http,
}

/// Loopback registries may speak plain HTTP, as docker allows (a registry started for
/// tests or a mirror on the same machine); everything else needs TLS unless named.
fn is_loopback(registry: &str) -> bool {
    let host = registry
        .rsplit_once(':')
        .filter(|(h, p)| !h.ends_with(':') && p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(registry, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Client {
    /// A client for these registry hosts. `--insecure-registry` hosts get plain HTTP;
    /// loopback hosts get HTTPS when they speak it and plain HTTP when they answer a
    /// TLS handshake in plain text, as docker does; everything else TLS only.
    pub fn new(options: RegistryOptions, hosts: &[&str]) -> Result<Client, RegistryError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| RegistryError::new(format!("cannot start the registry client: {e}")))?;
        Ok(Client {
            tls: OnceLock::new(),
            plain: OnceLock::new(),
            loopback: hosts.iter().any(|h| is_loopback(h)),
            plain_hosts: Mutex::new(Vec::new()),
            runtime,
            http: Http::new(
                options.connect_timeout,
                options.read_timeout,
                options.limits.clone(),
            ),
            options,
            auth: Mutex::new(HashMap::new()),
        })
    }

    /// An HTTP client is made on first use only: loading the system's root certificates
    /// costs tens of milliseconds, which a scan served from the cache never pays.
    fn make(&self, protocol: ClientProtocol) -> Result<oci_client::Client, String> {
        // ring is the only crypto provider compiled in (rustls, `serve`, cosign keys);
        // reqwest built without a provider of its own asks for the process default,
        // which must be installed. Another caller may have installed it first: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        oci_client::Client::try_from(ClientConfig {
            protocol,
            connect_timeout: Some(self.options.connect_timeout),
            read_timeout: Some(self.options.read_timeout),
            user_agent: concat!("tollgate/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        })
        .map_err(|e| format!("cannot set up the registry client: {e}"))
    }

    /// The client for a registry: plain HTTP once a loopback registry turned out not
    /// to speak TLS.
    fn oci(&self, registry: &str) -> Result<&oci_client::Client, RegistryError> {
        let plain = self
            .plain_hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|h| h == registry);
        let client = if plain {
            self.plain.get_or_init(|| self.make(ClientProtocol::Http))
        } else {
            self.tls.get_or_init(|| {
                self.make(ClientProtocol::HttpsExcept(self.options.insecure.clone()))
            })
        };
        client.as_ref().map_err(|e| RegistryError::new(e.clone()))
    }

    /// Runs a future to completion, also from a thread that is inside another tokio
    /// runtime (the webhook builds its auditor there).
    pub fn block_on<F: Future + Send>(&self, fut: F) -> F::Output
    where
        F::Output: Send,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| {
                s.spawn(|| self.runtime.block_on(fut))
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e))
            })
        } else {
            self.runtime.block_on(fut)
        }
    }

    /// Credentials for a registry from the docker config (`$DOCKER_CONFIG/config.json`
    /// or `~/.docker/config.json`, credential helpers included), else anonymous.
    fn auth_for(&self, registry: &str) -> RegistryAuth {
        let mut cache = self.auth.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(registry.to_string())
            .or_insert_with(|| {
                let lookup = |server: &str| docker_credential::get_credential(server).ok();
                match lookup(registry).or_else(|| lookup(&format!("https://{registry}"))) {
                    Some(docker_credential::DockerCredential::UsernamePassword(u, p)) => {
                        RegistryAuth::Basic(u, p)
                    }
                    // Identity tokens need an OAuth exchange oci-client does not do.
                    _ => RegistryAuth::Anonymous,
                }
            })
            .clone()
    }

    async fn retry<'a, T, Fut>(
        &'a self,
        what: &str,
        registry: &str,
        f: impl Fn(&'a oci_client::Client) -> Fut,
    ) -> Result<T, RegistryError>
    where
        Fut: Future<Output = Result<T, OciDistributionError>>,
    {
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match f(self.oci(registry)?).await {
                Ok(v) => return Ok(v),
                Err(e) if self.speaks_plain_http(registry, &e) => {
                    let mut hosts = self.plain_hosts.lock().unwrap_or_else(|e| e.into_inner());
                    hosts.push(registry.to_string());
                }
                Err(e) if attempt < self.options.attempts && transient(&e) => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(explain(what, registry, &e, attempt)),
            }
        }
    }

    /// A loopback registry that answered the TLS handshake in plain text, not yet
    /// switched to plain HTTP.
    fn speaks_plain_http(&self, registry: &str, e: &OciDistributionError) -> bool {
        self.loopback
            && is_loopback(registry)
            && !self.options.insecure.iter().any(|h| h == registry)
            && !self
                .plain_hosts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|h| h == registry)
            && not_tls(e)
    }

    /// `http` for hosts known to speak plain HTTP, else `https`.
    fn scheme(&self, registry: &str) -> &'static str {
        let plain = self.options.insecure.iter().any(|h| h == registry)
            || self
                .plain_hosts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|h| h == registry);
        if plain {
            "http"
        } else {
            "https"
        }
    }

    /// A bounded read from a registry, retried when the registry cannot be reached or
    /// answers 5xx, and moved to plain HTTP when a loopback registry does not speak TLS.
    async fn read<T, Fut>(
        &self,
        what: &str,
        registry: &str,
        f: impl Fn(&'static str) -> Fut,
    ) -> Result<T, RegistryError>
    where
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            let scheme = self.scheme(registry);
            match f(scheme).await {
                Ok(v) => return Ok(v),
                Err(Failure::Request(e))
                    if scheme == "https" && is_loopback(registry) && not_tls(&e) =>
                {
                    let mut hosts = self.plain_hosts.lock().unwrap_or_else(|e| e.into_inner());
                    hosts.push(registry.to_string());
                }
                Err(e) if attempt < self.options.attempts && e.transient() => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(explain_failure(what, registry, e, attempt)),
            }
        }
    }

    fn manifest_url(scheme: &str, r: &Reference) -> String {
        format!(
            "{scheme}://{}/v2/{}/manifests/{}",
            r.resolve_registry(),
            r.repository(),
            r.digest().or(r.tag()).unwrap_or("latest")
        )
    }

    /// The manifest digest a reference names now (`Docker-Content-Digest` of a HEAD,
    /// else the digest of the manifest itself).
    pub async fn resolve(&self, r: &Reference) -> Result<String, RegistryError> {
        let auth = self.auth_for(r.registry());
        let what = format!("resolving {}", r.whole());
        let head = self
            .read(&what, r.registry(), |scheme| {
                let url = Self::manifest_url(scheme, r);
                let auth = &auth;
                async move {
                    let started = Instant::now();
                    let resp = self
                        .http
                        .send(
                            Method::HEAD,
                            &Target {
                                url: &url,
                                accept: Some(ACCEPTED),
                                registry: r.resolve_registry(),
                                repository: r.repository(),
                                auth,
                            },
                            started,
                        )
                        .await?;
                    if resp.status() == reqwest::StatusCode::NOT_FOUND {
                        return Err(Failure::Status(resp.status(), String::new()));
                    }
                    Ok(resp
                        .headers()
                        .get("docker-content-digest")
                        .and_then(|v| v.to_str().ok())
                        .filter(|d| super::reference::is_sha256_digest(d))
                        .map(str::to_string))
                }
            })
            .await?;
        match head {
            Some(d) => Ok(d),
            None => match self.manifest(r).await? {
                Some((_, digest)) => Ok(digest),
                None => Err(RegistryError::new(format!(
                    "{what} at {}: not found (no such repository, tag or digest)",
                    r.registry()
                ))),
            },
        }
    }

    /// A manifest's bytes and digest (computed from the bytes, at most the manifest
    /// limit), or None when there is no such manifest.
    pub async fn manifest(
        &self,
        r: &Reference,
    ) -> Result<Option<(Vec<u8>, String)>, RegistryError> {
        let auth = self.auth_for(r.registry());
        let what = format!("fetching {}", r.whole());
        self.read(&what, r.registry(), |scheme| {
            let url = Self::manifest_url(scheme, r);
            let (auth, what) = (&auth, &what);
            async move {
                let started = Instant::now();
                let resp = self
                    .http
                    .send(
                        Method::GET,
                        &Target {
                            url: &url,
                            accept: Some(ACCEPTED),
                            registry: r.resolve_registry(),
                            repository: r.repository(),
                            auth,
                        },
                        started,
                    )
                    .await?;
                if resp.status() == reqwest::StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                let mut bytes = Vec::new();
                let what = format!("{what} at {}", r.registry());
                let job = Job {
                    kind: Kind::Manifest,
                    declared: None,
                    what: &what,
                    started,
                };
                let (digest, _) =
                    download::read_body(resp, &job, &self.http.limits, &mut bytes, &|_| {})
                        .await
                        .map_err(Failure::Refused)?;
                Ok(Some((bytes, digest)))
            }
        })
        .await
    }

    /// A blob into `sink`, checked against the descriptor's size and digest as it
    /// arrives, with a progress bar on a terminal when it is large. On an error, what
    /// the sink holds must be thrown away.
    pub async fn blob(
        &self,
        r: &Reference,
        d: &Descriptor,
        kind: Kind,
        sink: &mut dyn Sink,
    ) -> Result<(), RegistryError> {
        let auth = self.auth_for(r.registry());
        let bar = (d.size >= progress_min_bytes()
            && d.size <= self.http.limits.max_layer
            && std::io::stderr().is_terminal())
        .then(|| download_bar(d));
        let what = format!("downloading {} from {}", d.digest, r.whole());
        download::check_declared(kind, d.size, &self.http.limits, &what)?;
        // Each attempt writes into the same sink; only one runs at a time.
        let sink = tokio::sync::Mutex::new(sink);
        let got = self
            .read(&what, r.registry(), |scheme| {
                let url = format!(
                    "{scheme}://{}/v2/{}/blobs/{}",
                    r.resolve_registry(),
                    r.repository(),
                    d.digest
                );
                let (auth, what, bar, sink) = (&auth, &what, &bar, &sink);
                async move {
                    let started = Instant::now();
                    let resp = self
                        .http
                        .send(
                            Method::GET,
                            &Target {
                                url: &url,
                                accept: None,
                                registry: r.resolve_registry(),
                                repository: r.repository(),
                                auth,
                            },
                            started,
                        )
                        .await?;
                    if resp.status() == reqwest::StatusCode::NOT_FOUND {
                        return Err(Failure::Status(resp.status(), String::new()));
                    }
                    let mut sink = sink.lock().await;
                    let job = Job {
                        kind,
                        declared: Some(d.size),
                        what,
                        started,
                    };
                    download::read_body(resp, &job, &self.http.limits, &mut **sink, &|n| {
                        if let Some(b) = bar {
                            b.inc(n)
                        }
                    })
                    .await
                    .map_err(Failure::Refused)
                }
            })
            .await;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let (digest, _) = got?;
        if digest != d.digest {
            return Err(RegistryError {
                message: format!("{what}: the bytes hash to {digest}, not to the digest asked for"),
                digest_mismatch: true,
            });
        }
        Ok(())
    }

    /// Uploads a blob unless the registry has it already.
    pub async fn push_blob(&self, r: &Reference, bytes: &[u8]) -> Result<(), RegistryError> {
        let digest = sha256_digest(bytes);
        let auth = self.auth_for(r.registry());
        self.retry("authenticating", r.registry(), |oci| {
            oci.auth(r, &auth, RegistryOperation::Push)
        })
        .await?;
        let what = format!("uploading {digest}");
        if self
            .retry(&what, r.registry(), |oci| oci.blob_exists(r, &digest))
            .await?
        {
            return Ok(());
        }
        let data = bytes::Bytes::copy_from_slice(bytes);
        self.retry(&what, r.registry(), |oci| {
            oci.push_blob(r, data.clone(), &digest)
        })
        .await
        .map(|_| ())
    }

    /// Stores a manifest under the reference's tag or digest; returns its digest.
    pub async fn push_manifest(
        &self,
        r: &Reference,
        manifest: &[u8],
    ) -> Result<String, RegistryError> {
        let body = bytes::Bytes::copy_from_slice(manifest);
        self.retry(&format!("pushing {}", r.whole()), r.registry(), |oci| {
            oci.push_manifest_raw(
                r,
                body.clone(),
                reqwest::header::HeaderValue::from_static(MANIFEST_MEDIA_TYPE),
            )
        })
        .await?;
        Ok(sha256_digest(manifest))
    }
}

/// What a manifest request accepts: a plugin's manifest, or an index to refuse by name.
const ACCEPTED: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Overrides the size from which downloads show a progress bar, in bytes. Tests set it
/// low: the plugins they pull are small.
pub const PROGRESS_MIN_ENV: &str = "TOLLGATE_PROGRESS_MIN_BYTES";

fn progress_min_bytes() -> u64 {
    std::env::var(PROGRESS_MIN_ENV)
        .ok()
        .and_then(|b| b.trim().parse().ok())
        .unwrap_or(defaults::PROGRESS_MIN_BYTES)
}

fn download_bar(d: &Descriptor) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(d.size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} pulling {msg} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(d.digest.chars().take(19).collect::<String>());
    bar
}

/// The server answered the TLS handshake with something that is not TLS (a plain
/// HTTP server's 400).
fn not_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        let text = s.to_string();
        if text.contains("InvalidContentType") || text.contains("corrupt message") {
            return true;
        }
        source = s.source();
    }
    false
}

fn transient(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RequestError(r) => r.is_connect() || r.is_timeout(),
        OciDistributionError::ServerError { code, .. } => *code >= 500,
        _ => false,
    }
}

fn not_found(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown
            )
        }),
        OciDistributionError::ServerError { code, .. } => *code == 404,
        _ => false,
    }
}

/// A failed read as a user can act on it.
fn explain_failure(what: &str, registry: &str, e: Failure, attempts: u32) -> RegistryError {
    match e {
        Failure::Refused(e) => e,
        Failure::Status(code, _) if code == reqwest::StatusCode::NOT_FOUND => RegistryError::new(
            format!("{what} at {registry}: not found (no such repository, tag or digest)"),
        ),
        Failure::Status(code, _) if code == reqwest::StatusCode::UNAUTHORIZED || code == reqwest::StatusCode::FORBIDDEN => {
            RegistryError::new(format!(
                "{what} at {registry}: {code}; log in with `docker login {registry}` (tollgate reads the docker config: $DOCKER_CONFIG/config.json or ~/.docker/config.json)"
            ))
        }
        Failure::Status(code, body) => RegistryError::new(format!(
            "{what} at {registry}: the registry answered {code}{}{}",
            if body.is_empty() { "" } else { ": " },
            body
        )),
        Failure::Request(e) => {
            let mut chain = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                let text = s.to_string();
                if !chain.contains(&text) {
                    chain.push_str(": ");
                    chain.push_str(&text);
                }
                source = s.source();
            }
            let hint = if chain.contains("certificate") || chain.contains("tls") || chain.contains("TLS") {
                format!("; is its certificate trusted (a private CA goes in SSL_CERT_FILE)? a registry without TLS needs --insecure-registry {registry}")
            } else if not_tls(&e) {
                format!("; the registry does not speak TLS: pass --insecure-registry {registry} to use plain HTTP")
            } else if e.is_redirect() {
                format!("; more than {} redirects", download::MAX_REDIRECTS)
            } else if e.is_connect() || e.is_timeout() {
                format!(
                    " (after {attempts} attempt{}); is the registry running and reachable? without the network, pin plugins by digest (or lock them) once they are in the cache",
                    if attempts == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            };
            RegistryError::new(format!("{what} at {registry}: {chain}{hint}"))
        }
    }
}

/// The error as a user can act on it.
fn explain(what: &str, registry: &str, e: &OciDistributionError, attempts: u32) -> RegistryError {
    if let OciDistributionError::DigestError(d) = e {
        return RegistryError {
            message: format!("{what} at {registry}: {d}"),
            digest_mismatch: true,
        };
    }
    if not_found(e) {
        return RegistryError::new(format!(
            "{what} at {registry}: not found (no such repository, tag or digest)"
        ));
    }
    let mut chain = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !chain.contains(&text) {
            chain.push_str(": ");
            chain.push_str(&text);
        }
        source = s.source();
    }
    let hint = match e {
        OciDistributionError::RequestError(r) if r.is_connect() || r.is_timeout() => {
            if chain.contains("certificate") || chain.contains("tls") || chain.contains("TLS") {
                format!("; is its certificate trusted (a private CA goes in SSL_CERT_FILE)? a registry without TLS needs --insecure-registry {registry}")
            } else {
                format!(
                    " (after {attempts} attempt{}); is the registry running and reachable? without the network, pin plugins by digest (or lock them) once they are in the cache",
                    if attempts == 1 { "" } else { "s" }
                )
            }
        }
        _ if matches!(
            e,
            OciDistributionError::UnauthorizedError { .. }
                | OciDistributionError::AuthenticationFailure(_)
        ) || chain.contains("401 Unauthorized") => format!(
            "; log in with `docker login {registry}` (tollgate reads the docker config: $DOCKER_CONFIG/config.json or ~/.docker/config.json)"
        ),
        OciDistributionError::RequestError(_) if chain.contains("InvalidContentType") || chain.contains("corrupt message") => {
            format!("; the registry does not speak TLS: pass --insecure-registry {registry} to use plain HTTP")
        }
        _ => String::new(),
    };
    RegistryError::new(format!("{what} at {registry}: {chain}{hint}"))
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.0.0.1",
            "[::1]:5000",
            "localhost",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "registry.example.com",
            "10.0.0.1:5000",
            "localhost.example.com",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
