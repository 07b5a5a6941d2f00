//! Requests to registries, authenticated as the distribution spec's token flow says (a
//! `Bearer` challenge, a token from its realm) or with Basic credentials.
//!
//! Threat model: the registry and the token realm it names are not trusted. The answer's
//! head must come within its timeout and the artifact's deadline; redirects are followed
//! at most [`MAX_REDIRECTS`] times; credentials are not sent across hosts (reqwest drops
//! `Authorization` on a redirect to another host), nor to a plain-HTTP realm named by a
//! TLS registry; error bodies and token answers are read with a small limit.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use oci_client::secrets::RegistryAuth;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};

use super::client::RegistryError;
use super::download::{read_body, DownloadLimits, Job, Kind};

/// Redirects followed for one request (registries redirect blobs to storage once).
pub const MAX_REDIRECTS: usize = 5;

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
        // Only the registry itself is answered with its credentials: a 401 from where a
        // redirect led (blob storage on another host) is not.
        let same_origin = reqwest::Url::parse(url).is_ok_and(|u| {
            let r = resp.url();
            u.scheme() == r.scheme()
                && u.host_str() == r.host_str()
                && u.port_or_known_default() == r.port_or_known_default()
        });
        let resp = if resp.status() == StatusCode::UNAUTHORIZED && same_origin {
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
        let plain_registry = url.starts_with("http://");
        match reqwest::Url::parse(realm).map(|u| u.scheme().to_string()) {
            Ok(s) if s == "https" || (s == "http" && plain_registry) => {}
            Ok(s) => {
                return Err(Failure::Refused(RegistryError::new(format!(
                    "{url}: the registry asks for a token from {realm} over {s}; refused (credentials go over HTTPS only)"
                ))))
            }
            Err(e) => {
                return Err(Failure::Refused(RegistryError::new(format!(
                    "{url}: the token realm {realm} is not a URL: {e}"
                ))))
            }
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
