//! `tollgate serve`: a validating admission webhook over HTTPS. The same auditor as a
//! scan (plugins, settings, severity overrides, exemptions, filters) answers
//! `admission.k8s.io/v1` AdmissionReviews on `POST /validate`, within a deadline, from a
//! bounded queue; `/healthz`, `/readyz` and `/metrics` serve operations. SIGTERM (or
//! SIGINT) stops accepting connections, lets the reviews in flight finish, and exits.
//!
//! Threat model: anything that can reach the port (with the shipped NetworkPolicy, any
//! pod) is a client, and with `failurePolicy: Fail` a webhook that stops answering
//! stops every `kubectl apply` in the cluster. So what a client can hold is bounded:
//! open connections (`max_connections`; the rest wait in the kernel's backlog), the TLS
//! handshake and the request head (`header_timeout`, which also closes idle keep-alive
//! connections), the body (`body_timeout`, `max_body`, and `body_budget` for all bodies
//! held at once; when spent, 503 at once), the connections one client address holds
//! (`max_connections_per_client`), and how long any connection lives
//! (`connection_lifetime`: a client that stops reading its answers holds it no longer). A review takes an evaluation slot only once its body is complete, so
//! slow clients never hold a worker or a queue place. When the process runs out of file
//! descriptors the accept loop backs off instead of spinning, and serves again once
//! connections close. The reviewed object is the tenant's word: its annotations waive
//! no check unless the configuration grants it (`exempt::AnnotationTrust`), and every
//! metrics label comes from a closed set.
//!
//! The library writes no output of its own: it logs through `tracing` (target
//! `tollgate_serve`), and the binary chooses the format (one JSON object per line).
//! [`Webhook`] is the request handling without a socket, which tests drive in-process.

pub mod admission;
mod http;
pub mod metrics;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::{error, info};

pub use admission::Rules;

use tollgate::Auditor;

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub rules: Rules,
    /// Time to answer one review.
    pub deadline: Duration,
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Evaluations at once.
    pub workers: usize,
    /// Reviews waiting for a worker before more are refused with 429.
    pub queue: usize,
    /// How long in-flight reviews may take to finish after SIGTERM.
    pub drain: Duration,
    /// Connections open at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Time for the TLS handshake, and for a request's head once the server waits for
    /// it (so also how long an idle keep-alive connection stays open).
    pub header_timeout: Duration,
    /// Time to receive a request's body once its head is in.
    pub body_timeout: Duration,
    /// Bytes of request bodies held at once, over all connections.
    pub body_budget: usize,
    /// Connections one client address may hold open at once; more are closed at once.
    pub max_connections_per_client: usize,
    /// How long a connection may stay open; then it is closed after its answer in
    /// progress (the API server opens another).
    pub connection_lifetime: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("cannot start the server: {0}")]
    Runtime(std::io::Error),
}

/// The webhook's request handling, without a socket: the routes, the body limits and
/// budget, the bounded queue, the deadline and the decision. [`run`] serves it on every
/// connection; a test or an embedder calls [`Webhook::handle`] directly.
#[derive(Clone)]
pub struct Webhook(Arc<http::State>);

impl Webhook {
    /// The handling `opts` describe (its socket and TLS settings are not used here).
    pub fn new(auditor: Auditor, opts: &ServeOptions) -> Webhook {
        Webhook(Arc::new(http::State {
            auditor,
            rules: opts.rules,
            deadline: opts.deadline,
            max_body: opts.max_body,
            admitted: Arc::new(Semaphore::new(opts.workers + opts.queue)),
            workers: Arc::new(Semaphore::new(opts.workers)),
            body_timeout: opts.body_timeout,
            body_budget: Arc::new(Semaphore::new(opts.body_budget.div_ceil(1024).max(1))),
            parsing: Semaphore::new(opts.workers.max(1)),
            metrics: metrics::Metrics::default(),
        }))
    }

    /// Answers one request. Must run inside a multi-threaded tokio runtime (the
    /// evaluation runs on a blocking thread).
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::fmt::Display,
    {
        http::handle(&self.0, req).await
    }
}

/// Serves until SIGTERM or SIGINT.
pub fn run(auditor: Auditor, opts: ServeOptions) -> Result<(), ServeError> {
    let certificates = tls::Certificates::load(&opts.tls_cert, &opts.tls_key)?;
    let config = certificates.server_config()?;
    certificates.watch(Duration::from_millis(500), |r| match r {
        Ok(true) => info!("tls: certificate reloaded"),
        Ok(false) => {}
        Err(e) => error!(
            error = %e,
            "tls: the new certificate cannot be used; still serving the previous one"
        ),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tollgate-serve")
        .build()
        .map_err(ServeError::Runtime)?;
    let webhook = Webhook::new(auditor, &opts);
    runtime.block_on(serve(webhook, TlsAcceptor::from(Arc::new(config)), &opts))
}

async fn serve(
    webhook: Webhook,
    acceptor: TlsAcceptor,
    opts: &ServeOptions,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(opts.addr)
        .await
        .map_err(|error| ServeError::Bind {
            addr: opts.addr,
            error,
        })?;
    let local = listener.local_addr().map_err(ServeError::Runtime)?;
    let plugins: Vec<&str> = webhook
        .0
        .auditor
        .plugins()
        .iter()
        .map(|p| p.plugin.name())
        .collect();
    info!(
        addr = %local,
        plugins = %plugins.join(","),
        deadline_ms = opts.deadline.as_millis() as u64,
        workers = opts.workers,
        queue = opts.queue,
        "listening"
    );
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(ServeError::Runtime)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ServeError::Runtime)?;
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let slots = Arc::new(Semaphore::new(opts.max_connections.max(1)));
    let peers = Peers::new(opts.max_connections_per_client.max(1));
    let header_timeout = opts.header_timeout;
    let lifetime = opts.connection_lifetime;
    let mut backoff = Duration::ZERO;
    loop {
        tokio::select! {
            (slot, accepted) = accept(&listener, &slots) => {
                let (tcp, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors (EMFILE, ENFILE), or a connection reset before
                        // it was accepted: wait, so that closing connections free some,
                        // instead of spinning on the error.
                        drop(slot);
                        if backoff.is_zero() {
                            error!(error = %e, "accept failed; backing off");
                        }
                        backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                        tokio::time::sleep(backoff).await;
                        continue;
                    }
                };
                if !backoff.is_zero() {
                    info!("accepting connections again");
                    backoff = Duration::ZERO;
                }
                let (webhook, acceptor, mut stopped) = (webhook.clone(), acceptor.clone(), stopped.clone());
                // One client (one pod) may not hold every connection.
                let Some(peer_slot) = peers.take(peer.ip()) else {
                    drop(tcp);
                    continue;
                };
                connections.spawn(async move {
                    let _slot = slot;
                    let _peer_slot = peer_slot;
                    let tls = match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => tls,
                        // Plain HTTP, a client that does not trust us, a stalled handshake.
                        Ok(Err(e)) => return info!(peer = %peer, error = %e, "tls handshake failed"),
                        Err(_) => return info!(peer = %peer, "tls handshake timed out"),
                    };
                    let service = service_fn(move |req| {
                        let webhook = webhook.clone();
                        async move { Ok::<_, std::convert::Infallible>(webhook.handle(req).await) }
                    });
                    let conn = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .keep_alive(true)
                        .header_read_timeout(header_timeout)
                        .max_buf_size(MAX_HEAD_BYTES)
                        .serve_connection(TokioIo::new(tls), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        // SIGTERM, or the connection's lifetime is over: finish the review
                        // in progress, then close. A client that does not read its
                        // answers (writes stall, no timer runs) is cut off after a grace.
                        _ = async {
                            tokio::select! {
                                _ = stopped.changed() => {}
                                _ = tokio::time::sleep(lifetime) => {}
                            }
                        } => {
                            conn.as_mut().graceful_shutdown();
                            let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
                        }
                    }
                });
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop.send(true);
    info!(
        connections = connections.len(),
        "shutting down: no new connections; finishing reviews in flight"
    );
    let drained = tokio::time::timeout(opts.drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    match drained {
        Ok(()) => info!("stopped"),
        Err(_) => error!(
            connections = connections.len(),
            "stopped with reviews still in flight after the drain time"
        ),
    }
    Ok(())
}

/// How long a connection that must close (lifetime over, SIGTERM) may take to finish
/// the answer in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Connections per client address, so that one pod cannot hold them all.
#[derive(Clone)]
struct Peers {
    open: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
    max: usize,
}

/// One connection of a client, given back when dropped.
struct PeerSlot {
    peers: Peers,
    ip: std::net::IpAddr,
}

impl Peers {
    fn new(max: usize) -> Peers {
        Peers {
            open: Arc::default(),
            max,
        }
    }

    fn take(&self, ip: std::net::IpAddr) -> Option<PeerSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            peers: self.clone(),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self.peers.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// hyper's read buffer: a request head must fit (the API server's are well under
/// 4 KiB); bodies stream through it.
const MAX_HEAD_BYTES: usize = 64 << 10;

/// A connection slot, then a connection. Dropped (both cancel-safe) when another
/// branch of the accept loop wins.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (
    OwnedSemaphorePermit,
    std::io::Result<(tokio::net::TcpStream, SocketAddr)>,
) {
    let slot = slots
        .clone()
        .acquire_owned()
        .await
        .expect("the connection semaphore is never closed");
    (slot, listener.accept().await)
}
