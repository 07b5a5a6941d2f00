//! Reading from registries: tags resolved to digests, manifests and blobs, each through
//! [`super::download`] (a maximum size per kind, a deadline, a minimum rate, digests
//! computed as bytes arrive), retried when the registry cannot be reached or answers
//! 5xx, moved to plain HTTP when a loopback registry does not speak TLS, and with large
//! downloads reported to the options' [`super::client::Progress`].

use std::future::Future;
use std::time::{Duration, Instant};

use oci_client::secrets::RegistryAuth;
use oci_client::Reference;
use reqwest::Method;

use super::artifact::Descriptor;
use super::client::{is_loopback, not_tls, Client, RegistryError};
use super::download::{self, Job, Kind, Sink};
use super::http::{Failure, Target, MAX_REDIRECTS};
use crate::defaults;

impl Client {
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

    /// A HEAD or GET of a reference's manifest.
    async fn manifest_request(
        &self,
        method: Method,
        scheme: &str,
        r: &Reference,
        auth: &RegistryAuth,
        started: Instant,
    ) -> Result<reqwest::Response, Failure> {
        let url = format!(
            "{scheme}://{}/v2/{}/manifests/{}",
            r.resolve_registry(),
            r.repository(),
            r.digest().or(r.tag()).unwrap_or("latest")
        );
        let target = Target {
            url: &url,
            accept: Some(ACCEPTED),
            registry: r.resolve_registry(),
            repository: r.repository(),
            auth,
        };
        self.http.send(method, &target, started).await
    }

    /// The manifest digest a reference names now (`Docker-Content-Digest` of a HEAD,
    /// else the digest of the manifest itself).
    pub async fn resolve(&self, r: &Reference) -> Result<String, RegistryError> {
        let auth = self.auth_for(r.registry());
        let what = format!("resolving {}", r.whole());
        let head = self
            .read(&what, r.registry(), |scheme| {
                let auth = &auth;
                async move {
                    let resp = self
                        .manifest_request(Method::HEAD, scheme, r, auth, Instant::now())
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
            let (auth, what) = (&auth, &what);
            async move {
                let started = Instant::now();
                let resp = self
                    .manifest_request(Method::GET, scheme, r, auth, started)
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
    /// arrives, reported to the options' progress when it is large. On an error, what
    /// the sink holds must be thrown away.
    pub async fn blob(
        &self,
        r: &Reference,
        d: &Descriptor,
        kind: Kind,
        sink: &mut dyn Sink,
    ) -> Result<(), RegistryError> {
        let auth = self.auth_for(r.registry());
        let bar = self
            .options
            .progress
            .as_ref()
            .filter(|_| d.size >= progress_min_bytes() && d.size <= self.http.limits.max_layer)
            .map(|p| p.start(&d.digest, d.size));
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
                            b.advance(n)
                        }
                    })
                    .await
                    .map_err(Failure::Refused)
                }
            })
            .await;
        drop(bar);
        let (digest, _) = got?;
        if digest != d.digest {
            return Err(RegistryError {
                message: format!("{what}: the bytes hash to {digest}, not to the digest asked for"),
                digest_mismatch: true,
            });
        }
        Ok(())
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
                format!("; more than {} redirects", MAX_REDIRECTS)
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
