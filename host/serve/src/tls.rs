//! The serving certificate: loaded from PEM files, offered for HTTP/1.1 only (the API
//! server's ALPN), and reloaded when the files change on disk (a Secret mounted into the
//! Pod is updated in place), with no restart and no dropped connection. A pair that does
//! not load keeps the previous one in service.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: cannot read the certificate: {error}", path.display())]
    Certificate { path: PathBuf, error: String },
    #[error("{}: no certificate in the file", .0.display())]
    NoCertificate(PathBuf),
    #[error("{}: cannot read the private key: {error}", path.display())]
    Key { path: PathBuf, error: String },
    #[error("{}: the key does not fit the certificate: {error}", path.display())]
    Mismatch { path: PathBuf, error: String },
    #[error("cannot set up TLS: {0}")]
    Config(String),
}

fn load(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| TlsError::Certificate {
            path: cert.to_path_buf(),
            error: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_path_buf()));
    }
    let der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_path_buf(),
        error: e.to_string(),
    })?;
    let provider = ring::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| TlsError::Key {
            path: key.to_path_buf(),
            error: e.to_string(),
        })?;
    let pair = CertifiedKey::new(certs, signing);
    pair.keys_match().map_err(|e| TlsError::Mismatch {
        path: key.to_path_buf(),
        error: e.to_string(),
    })?;
    Ok(pair)
}

/// The pair in service, swapped when the files change.
#[derive(Debug)]
pub struct Certificates {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    stamp: RwLock<Stamp>,
}

type Stamp = (Option<SystemTime>, Option<SystemTime>, u64, u64);

fn stamp(cert: &Path, key: &Path) -> Stamp {
    let meta = |p: &Path| std::fs::metadata(p).ok();
    let (c, k) = (meta(cert), meta(key));
    (
        c.as_ref().and_then(|m| m.modified().ok()),
        k.as_ref().and_then(|m| m.modified().ok()),
        c.map_or(0, |m| m.len()),
        k.map_or(0, |m| m.len()),
    )
}

impl Certificates {
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, TlsError> {
        let pair = load(cert, key)?;
        Ok(Arc::new(Certificates {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(Arc::new(pair)),
            stamp: RwLock::new(stamp(cert, key)),
        }))
    }

    /// Reloads the pair if either file changed; `Ok(true)` when a new pair is in service.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = stamp(&self.cert, &self.key);
        if *self.stamp.read().unwrap_or_else(|p| p.into_inner()) == now {
            return Ok(false);
        }
        // Remember the attempt either way: a half-written pair is retried when it changes again.
        *self.stamp.write().unwrap_or_else(|p| p.into_inner()) = now;
        let pair = load(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(pair);
        Ok(true)
    }

    /// Checks the files every `every` on a thread of its own, reporting through `log`.
    pub fn watch(self: &Arc<Self>, every: Duration, log: fn(Result<bool, TlsError>)) {
        let me = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("tollgate-tls-reload".into())
            .spawn(move || loop {
                std::thread::sleep(every);
                match me.upgrade() {
                    Some(c) => log(c.reload_if_changed()),
                    None => break,
                }
            })
            .ok();
    }

    /// A rustls server configuration serving the current pair, HTTP/1.1 only.
    pub fn server_config(self: &Arc<Self>) -> Result<ServerConfig, TlsError> {
        let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}
