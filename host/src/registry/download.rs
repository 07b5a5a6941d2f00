//! Reading from registries with every size and time bounded: manifests, signature
//! payloads, component layers and auth tokens are fetched over HTTP(S) with reqwest,
//! streamed through sha256 as they arrive, and refused as soon as they break a limit.
//!
//! Threat model: the registry (or whoever answers in its name, or the token realm it
//! names) is hostile. It may declare a size of 8 GiB, send bytes without end, send more
//! than it declared, trickle one byte every few seconds, stall before its headers, or
//! redirect in a loop. So:
//! - every kind of artifact has a maximum size ([`DownloadLimits`]); a declared size
//!   (descriptor or `Content-Length`) over it is refused before the body is read, and
//!   reading stops at the first byte past the declared size or the maximum;
//! - bytes go to a [`Sink`] as they arrive (a component layer to a file in the store,
//!   see `store::Pending`), never collected whole in memory beyond the kind's maximum;
//! - every artifact has an overall deadline, the response head its own timeout, and
//!   after a grace period the average transfer rate must stay above a minimum;
//! - redirects are followed at most [`MAX_REDIRECTS`] times; credentials are not sent
//!   across hosts (reqwest drops `Authorization` on a redirect to another host).
//!
//! Every refusal is a [`RegistryError`] naming the artifact and the limit.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use oci_client::secrets::RegistryAuth;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};

use super::client::RegistryError;
use crate::defaults;

/// Redirects followed for one request (registries redirect blobs to storage once).
pub const MAX_REDIRECTS: usize = 5;

/// What is being fetched: each kind has its own maximum size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Manifest,
    Layer,
    Signature,
    Token,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Manifest => "manifest",
            Kind::Layer => "component layer",
            Kind::Signature => "signature payload",
            Kind::Token => "auth token answer",
        }
    }

    /// Where a user raises the limit.
    fn setting(self) -> &'static str {
        match self {
            Kind::Manifest => " (--max-manifest-size MIB)",
            Kind::Layer => " (--max-plugin-size MIB)",
            Kind::Signature | Kind::Token => "",
        }
    }
}

/// Sizes, deadlines and the minimum rate of registry downloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadLimits {
    pub max_manifest: u64,
    pub max_layer: u64,
    pub max_signature: u64,
    /// Time for one artifact, from the request to its last byte.
    pub deadline: Duration,
    /// Time for the response's head (status and headers).
    pub head_timeout: Duration,
    /// Bytes per second the transfer must average once `grace` has passed.
    pub min_rate: u64,
    pub grace: Duration,
}

impl Default for DownloadLimits {
    fn default() -> Self {
        DownloadLimits {
            max_manifest: defaults::REGISTRY_MAX_MANIFEST_MIB << 20,
            max_layer: defaults::REGISTRY_MAX_PLUGIN_MIB << 20,
            max_signature: defaults::REGISTRY_MAX_SIGNATURE_KIB << 10,
            deadline: Duration::from_secs(defaults::REGISTRY_DEADLINE_S),
            head_timeout: Duration::from_secs(defaults::REGISTRY_READ_TIMEOUT_S),
            min_rate: defaults::REGISTRY_MIN_RATE_KIB_S << 10,
            grace: Duration::from_secs(defaults::REGISTRY_RATE_GRACE_S),
        }
    }
}

impl DownloadLimits {
    fn max(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Manifest => self.max_manifest,
            Kind::Layer => self.max_layer,
            Kind::Signature => self.max_signature,
            Kind::Token => 64 << 10,
        }
    }
}

/// Where downloaded bytes go as they arrive.
pub trait Sink: Send {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()>;
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

impl Sink for std::fs::File {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        std::io::Write::write_all(self, bytes)
    }
}

/// A download's failure: a request that may be retried (the registry could not be
/// reached, or answered 5xx), or a refusal that may not.
#[derive(Debug)]
pub enum Failure {
    Request(reqwest::Error),
    Status(StatusCode, String),
    Refused(RegistryError),
}

impl Failure {
    pub fn transient(&self) -> bool {
        match self {
            Failure::Request(e) => e.is_connect() || (e.is_timeout() && !e.is_body()),
            Failure::Status(code, _) => code.is_server_error(),
            Failure::Refused(_) => false,
        }
    }
}

fn mib(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// Refuses a descriptor that declares more than the kind's maximum, before anything is
/// requested.
pub fn check_declared(
    kind: Kind,
    declared: u64,
    limits: &DownloadLimits,
    what: &str,
) -> Result<(), RegistryError> {
    let max = limits.max(kind);
    if declared > max {
        return Err(RegistryError::new(format!(
            "{what}: the {} declares {}, over the {} limit{}; refused before downloading",
            kind.name(),
            mib(declared),
            mib(max),
            kind.setting()
        )));
    }
    Ok(())
}

/// One artifact being read: what it is, the size its descriptor declares (when there is
/// one), how errors name it, and when its request started (its deadline counts from then).
pub struct Job<'a> {
    pub kind: Kind,
    pub declared: Option<u64>,
    pub what: &'a str,
    pub started: Instant,
}

/// Reads a response body into `sink` within the kind's limits; returns the digest and
/// size of what was read.
pub async fn read_body(
    mut resp: reqwest::Response,
    job: &Job<'_>,
    limits: &DownloadLimits,
    sink: &mut dyn Sink,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(String, u64), RegistryError> {
    let Job {
        kind,
        declared,
        what,
        started,
    } = *job;
    let max = limits.max(kind);
    let refuse = |why: String| RegistryError::new(format!("{what}: {why}"));
    if let Some(d) = declared {
        check_declared(kind, d, limits, what)?;
    }
    let allowed = declared.unwrap_or(max).min(max);
    if let Some(len) = resp.content_length().filter(|l| *l > allowed) {
        return Err(refuse(format!(
            "the registry announces {} for the {}, over the {}{}; refused before downloading",
            mib(len),
            kind.name(),
            if declared.is_some() {
                format!("{} its descriptor declares", mib(allowed))
            } else {
                format!("{} limit", mib(max))
            },
            kind.setting()
        )));
    }
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    loop {
        let left = limits
            .deadline
            .checked_sub(started.elapsed())
            .ok_or_else(|| {
                refuse(format!(
                    "the {} did not arrive within {} s ({} received)",
                    kind.name(),
                    limits.deadline.as_secs(),
                    mib(size)
                ))
            })?;
        // Wake at least every second to check the rate, whatever the registry sends.
        let chunk = match tokio::time::timeout(left.min(Duration::from_secs(1)), resp.chunk()).await
        {
            Ok(Ok(Some(c))) => c,
            Ok(Ok(None)) => break,
            Ok(Err(e)) => {
                return Err(refuse(format!(
                    "the {} broke off after {}: {e}",
                    kind.name(),
                    mib(size)
                )))
            }
            Err(_) => {
                too_slow(size, started, limits, kind, &refuse)?;
                continue;
            }
        };
        size += chunk.len() as u64;
        if size > allowed {
            return Err(refuse(match declared {
                Some(d) if d <= max => format!(
                    "the registry sent more than the {} the {}'s descriptor declares; refused",
                    mib(d),
                    kind.name()
                ),
                _ => format!(
                    "the {} is over the {} limit{}; refused",
                    kind.name(),
                    mib(max),
                    kind.setting()
                ),
            }));
        }
        hasher.update(&chunk);
        sink.put(&chunk)
            .map_err(|e| refuse(format!("cannot store the {}: {e}", kind.name())))?;
        progress(chunk.len() as u64);
        too_slow(size, started, limits, kind, &refuse)?;
    }
    if let Some(d) = declared.filter(|d| *d != size) {
        return Err(refuse(format!(
            "the registry sent {size} bytes, but the {}'s descriptor declares {d}",
            kind.name()
        )));
    }
    Ok((format!("sha256:{:x}", hasher.finalize()), size))
}

fn too_slow(
    size: u64,
    started: Instant,
    limits: &DownloadLimits,
    kind: Kind,
    refuse: &dyn Fn(String) -> RegistryError,
) -> Result<(), RegistryError> {
    let elapsed = started.elapsed();
    if elapsed > limits.grace && (size as f64) < limits.min_rate as f64 * elapsed.as_secs_f64() {
        return Err(refuse(format!(
            "the {} arrives too slowly ({} in {} s, under the minimum of {} KiB/s)",
            kind.name(),
            mib(size),
            elapsed.as_secs(),
            limits.min_rate >> 10
        )));
    }
    Ok(())
}

/// Where a request goes: a URL of a registry's repository, what it accepts, and the
/// credentials for that registry.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub url: &'a str,
    pub accept: Option<&'a str>,
    pub registry: &'a str,
    pub repository: &'a str,
    pub auth: &'a RegistryAuth,
}

/// Plain requests to registries, authenticated as the distribution spec's token flow
/// says (a `Bearer` challenge, a token from its realm) or with Basic credentials.
pub struct Http {
    client: OnceLock<Result<reqwest::Client, String>>,
    connect_timeout: Duration,
    read_timeout: Duration,
    pub limits: DownloadLimits,
    /// `Authorization` header values per `registry/repository`.
    tokens: Mutex<HashMap<String, HeaderValue>>,
}

impl Http {
    pub fn new(connect_timeout: Duration, read_timeout: Duration, limits: DownloadLimits) -> Http {
        Http {
            client: OnceLock::new(),
            connect_timeout,
            read_timeout,
            limits,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    fn client(&self) -> Result<&reqwest::Client, Failure> {
        self.client
            .get_or_init(|| {
                // reqwest takes the process default provider: ring, the only one built in.
                let _ = rustls::crypto::ring::default_provider().install_default();
                reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    .read_timeout(self.read_timeout)
                    .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
                    .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| format!("cannot set up the registry client: {e}"))
            })
            .as_ref()
            .map_err(|e| Failure::Refused(RegistryError::new(e.clone())))
    }

    async fn once(
        &self,
        method: Method,
        url: &str,
        accept: Option<&str>,
        authorization: Option<HeaderValue>,
        started: Instant,
    ) -> Result<reqwest::Response, Failure> {
        let mut req = self.client()?.request(method, url);
        if let Some(a) = accept {
            req = req.header(ACCEPT, a);
        }
        if let Some(a) = authorization {
            req = req.header(AUTHORIZATION, a);
        }
        let left = self
            .limits
            .deadline
            .saturating_sub(started.elapsed())
            .min(self.limits.head_timeout);
        match tokio::time::timeout(left, req.send()).await {
            Ok(r) => r.map_err(Failure::Request),
            Err(_) => Err(Failure::Refused(RegistryError::new(format!(
                "{url}: no answer within {} s",
                left.as_secs()
            )))),
        }
    }

    /// GETs (or HEADs) a URL of a repository, answering an auth challenge once.
    /// Statuses other than 2xx, 404 and 401 are failures.
    pub async fn send(
        &self,
        method: Method,
        target: &Target<'_>,
        started: Instant,
    ) -> Result<reqwest::Response, Failure> {
        let Target {
            url,
            accept,
            registry,
            repository,
            auth,
        } = *target;
        let key = format!("{registry}/{repository}");
        let known = self
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        let resp = self
            .once(method.clone(), url, accept, known.clone(), started)
            .await?;
        let resp = if resp.status() == StatusCode::UNAUTHORIZED {
            let challenge = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            match self
                .authorize(&challenge, repository, auth, url, started)
                .await?
            {
                Some(header) if Some(&header) != known.as_ref() => {
                    self.tokens
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(key, header.clone());
                    self.once(method, url, accept, Some(header), started)
                        .await?
                }
                _ => resp,
            }
        } else {
            resp
        };
        let status = resp.status();
        if status.is_success() || status == StatusCode::NOT_FOUND {
            return Ok(resp);
        }
        // The error body is read with the token's small limit: it is only shown.
        let mut body = Vec::new();
        let job = Job {
            kind: Kind::Token,
            declared: None,
            what: url,
            started,
        };
        let _ = read_body(resp, &job, &self.limits, &mut body, &|_| {}).await;
        let text: String = String::from_utf8_lossy(&body)
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect();
        Err(Failure::Status(status, text))
    }

    /// The `Authorization` value that answers a challenge, if there is one to try.
    async fn authorize(
        &self,
        challenge: &str,
        repository: &str,
        auth: &RegistryAuth,
        url: &str,
        started: Instant,
    ) -> Result<Option<HeaderValue>, Failure> {
        let basic = match auth {
            RegistryAuth::Basic(u, p) => {
                use base64::Engine;
                let text = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
                HeaderValue::from_str(&format!("Basic {text}")).ok()
            }
            _ => None,
        };
        let Some(params) = challenge
            .strip_prefix("Bearer ")
            .or_else(|| challenge.strip_prefix("bearer "))
        else {
            return Ok(basic);
        };
        let params = parse_challenge(params);
        let Some(realm) = params.get("realm") else {
            return Ok(basic);
        };
        // A token realm on plain HTTP would see the credentials in clear text; only a
        // registry spoken to over plain HTTP (loopback, --insecure-registry) may name one.
        if realm.starts_with("http://") && !url.starts_with("http://") {
            return Err(Failure::Refused(RegistryError::new(format!(
                "{url}: the registry asks for a token from {realm}, over plain HTTP; refused"
            ))));
        }
        let mut query = vec![("scope", format!("repository:{repository}:pull"))];
        if let Some(service) = params.get("service") {
            query.push(("service", service.clone()));
        }
        let mut req = self.client()?.get(realm.as_str()).query(&query);
        if let Some(b) = basic {
            req = req.header(AUTHORIZATION, b);
        }
        let left = self
            .limits
            .deadline
            .saturating_sub(started.elapsed())
            .min(self.limits.head_timeout);
        let resp = match tokio::time::timeout(left, req.send()).await {
            Ok(r) => r.map_err(Failure::Request)?,
            Err(_) => {
                return Err(Failure::Refused(RegistryError::new(format!(
                    "{realm}: no token within {} s",
                    left.as_secs()
                ))))
            }
        };
        if !resp.status().is_success() {
            return Err(Failure::Status(
                resp.status(),
                format!("the token service {realm} refused"),
            ));
        }
        let mut body = Vec::new();
        let job = Job {
            kind: Kind::Token,
            declared: None,
            what: realm,
            started,
        };
        read_body(resp, &job, &self.limits, &mut body, &|_| {})
            .await
            .map_err(Failure::Refused)?;
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let token: Token = serde_json::from_slice(&body).map_err(|e| {
            Failure::Refused(RegistryError::new(format!(
                "{realm}: not a token answer: {e}"
            )))
        })?;
        Ok(token
            .token
            .or(token.access_token)
            .and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok()))
    }
}

/// `realm="https://auth",service="registry",scope="..."` → its parameters.
fn parse_challenge(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => match quoted.split_once('"') {
                Some((v, n)) => (v, n),
                None => (quoted, ""),
            },
            None => match after.split_once(',') {
                Some((v, n)) => (v, n),
                None => (after, ""),
            },
        };
        out.insert(key, value.to_string());
        rest = next.trim_start_matches(',').trim();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read() {
        let p = parse_challenge(
            r#"realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull""#,
        );
        assert_eq!(p["realm"], "https://auth.example.com/token");
        assert_eq!(p["service"], "registry.example.com");
        assert_eq!(p["scope"], "repository:a/b:pull");
        let p = parse_challenge("realm=https://x/t, service=s");
        assert_eq!(p["realm"], "https://x/t");
        assert_eq!(p["service"], "s");
    }
}
