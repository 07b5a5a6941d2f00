//! The client that talks to registries: credentials from the docker config, plain HTTP
//! only for loopback hosts and `--insecure-registry` ones, bounded timeouts and
//! retries. Reads go through [`super::pull`] (every size and time bounded, see
//! [`super::download`]); pushes through [`super::push`] (oci-client's chunked uploads).
//! Calls are blocking for the caller; underneath, one tokio runtime per client overlaps
//! them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use oci_client::secrets::RegistryAuth;

use super::download::DownloadLimits;
use super::http::Http;
use crate::defaults;

/// Told about large downloads as they happen; the CLI draws a progress bar on a
/// terminal. The library itself writes nothing to the terminal.
pub trait Progress: Send + Sync {
    /// A blob of `total` bytes (`digest`) starts downloading; the returned value is
    /// told of its bytes as they arrive and dropped when the download ends.
    fn start(&self, digest: &str, total: u64) -> Box<dyn Downloading>;
}

/// One download in progress (see [`Progress`]).
pub trait Downloading: Send + Sync {
    fn advance(&self, bytes: u64);
}

/// How to reach registries.
#[derive(Clone)]
pub struct RegistryOptions {
    /// Hosts (`host[:port]`) spoken to over plain HTTP besides loopback ones.
    pub insecure: Vec<String>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Attempts per request when the registry cannot be reached or answers 5xx.
    pub attempts: u32,
    /// Sizes, deadlines and the minimum rate of downloads.
    pub limits: DownloadLimits,
    /// Told about downloads of at least `defaults::PROGRESS_MIN_BYTES`.
    pub progress: Option<std::sync::Arc<dyn Progress>>,
}

impl std::fmt::Debug for RegistryOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryOptions")
            .field("insecure", &self.insecure)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("attempts", &self.attempts)
            .field("limits", &self.limits)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure: Vec::new(),
            connect_timeout: Duration::from_secs(defaults::REGISTRY_CONNECT_TIMEOUT_S),
            read_timeout: Duration::from_secs(defaults::REGISTRY_READ_TIMEOUT_S),
            attempts: defaults::REGISTRY_ATTEMPTS,
            limits: DownloadLimits::default(),
            progress: None,
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
    pub(super) tls: OnceLock<Result<oci_client::Client, String>>,
    /// For loopback registries without TLS.
    pub(super) plain: OnceLock<Result<oci_client::Client, String>>,
    /// Whether any registry is a loopback one (which may fall back to plain HTTP).
    pub(super) loopback: bool,
    /// Loopback registries found to speak plain HTTP.
    pub(super) plain_hosts: Mutex<Vec<String>>,
    pub(super) runtime: tokio::runtime::Runtime,
    pub(super) options: RegistryOptions,
    pub(super) auth: Mutex<HashMap<String, RegistryAuth>>,
    /// Reads (manifests, blobs, tags), bounded.
    pub(super) http: Http,
}

/// Loopback registries may speak plain HTTP, as docker allows (a registry started for
/// tests or a mirror on the same machine); everything else needs TLS unless named.
pub(super) fn is_loopback(registry: &str) -> bool {
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
    pub(super) fn auth_for(&self, registry: &str) -> RegistryAuth {
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
}

/// The server answered the TLS handshake with something that is not TLS (a plain
/// HTTP server's 400).
pub(super) fn not_tls(e: &(dyn std::error::Error + 'static)) -> bool {
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
