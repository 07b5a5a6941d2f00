//! Publishing to registries with oci-client (its auth challenges and chunked uploads):
//! blobs and manifests, retried when the registry cannot be reached or answers 5xx, and
//! moved to plain HTTP when a loopback registry does not speak TLS.

use std::future::Future;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::{Reference, RegistryOperation};

use super::artifact::MANIFEST_MEDIA_TYPE;
use super::client::{is_loopback, not_tls, Client, RegistryError};
use super::reference::sha256_digest;

impl Client {
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
