//! Reading one artifact from a registry with every size and time bounded: manifests,
//! signature payloads, component layers and token answers are streamed through sha256
//! as they arrive and refused as soon as they break a limit. [`super::http`] makes the
//! requests.
//!
//! Threat model: the registry (or whoever answers in its name, or the token realm it
//! names) is hostile. It may declare a size of 8 GiB, send bytes without end, send more
//! than it declared, trickle one byte every few seconds, or stall before its headers. So:
//! - every kind of artifact has a maximum size ([`DownloadLimits`]); a declared size
//!   (descriptor or `Content-Length`) over it is refused before the body is read (a
//!   descriptor's, before the blob is even requested), and reading stops at the first
//!   byte past the declared size or the maximum;
//! - bytes go to a [`Sink`] as they arrive (a component layer to a file in the store,
//!   see `store::Pending`), never collected whole in memory beyond the kind's maximum;
//! - every artifact has an overall deadline, and after a grace period the average
//!   transfer rate must stay above a minimum.
//!
//! Every refusal is a [`RegistryError`] naming the artifact and the limit.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::client::RegistryError;
use crate::defaults;

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
