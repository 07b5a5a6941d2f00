//! The HTTP side of the webhook: routes, body limit, the bounded queue, the deadline,
//! and turning a review into an answer through the auditor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::admission::{self, Outcome, Rules};
use super::metrics::Metrics;
use tollgate::{Auditor, Object};

/// What every request handler shares.
pub struct State {
    pub auditor: Auditor,
    pub rules: Rules,
    pub deadline: Duration,
    pub max_body: usize,
    /// Reviews admitted (being evaluated or waiting for a worker); beyond: 429.
    pub admitted: Arc<Semaphore>,
    /// Evaluations running at once (one per worker thread).
    pub workers: Arc<Semaphore>,
    pub metrics: Metrics,
    /// Time to receive a body once the request's head is in.
    pub body_timeout: Duration,
    /// KiB of request bodies held at once, over all connections.
    pub body_budget: Arc<Semaphore>,
    /// Bodies parsed at once (one per worker).
    pub parsing: Semaphore,
}

type Body = Full<Bytes>;

fn reply(
    state: &State,
    code: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    state.metrics.response(code.as_u16());
    Response::builder()
        .status(code)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap_or_default()
}

fn problem(state: &State, code: StatusCode, reason: &str) -> Response<Body> {
    reply(
        state,
        code,
        "application/json",
        json!({"error": reason}).to_string(),
    )
}

pub async fn handle<B>(state: &Arc<State>, req: Request<B>) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::fmt::Display,
{
    let state = state.as_ref();
    let path = req.uri().path().to_string();
    match (req.method(), path.as_str()) {
        (&Method::POST, "/validate") => validate(state, req).await,
        (&Method::GET, "/healthz") => reply(state, StatusCode::OK, "text/plain", "ok\n"),
        (&Method::GET, "/readyz") => {
            // Ready once the plugins are loaded and configured (they are before the port
            // opens) and none failed to.
            match load_errors(state) {
                None if !state.auditor.plugins().is_empty() => {
                    reply(state, StatusCode::OK, "text/plain", "ready\n")
                }
                errors => reply(
                    state,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    format!("not ready: {}\n", errors.unwrap_or_default()),
                ),
            }
        }
        (&Method::GET, "/metrics") => {
            let text = state.metrics.render();
            reply(state, StatusCode::OK, "text/plain; version=0.0.4", text)
        }
        (_, "/validate" | "/healthz" | "/readyz" | "/metrics") => {
            problem(state, StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => problem(
            state,
            StatusCode::NOT_FOUND,
            "no such path: POST /validate, GET /healthz, /readyz, /metrics",
        ),
    }
}

/// The plugins that could not be loaded, with why, if any did not.
fn load_errors(state: &State) -> Option<String> {
    let errors = state.auditor.load_errors();
    (!errors.is_empty()).then(|| {
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// The API server's own deadline for the call, `?timeout=10s`.
fn requested_timeout<B>(req: &Request<B>) -> Option<Duration> {
    let query = req.uri().query()?;
    let value = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("timeout="))?;
    let secs: u64 = value.strip_suffix('s')?.parse().ok()?;
    Some(Duration::from_secs(secs))
}

/// Why a body was not read.
enum BodyError {
    TooLarge,
    TimedOut,
    /// The shared body budget is spent.
    Busy,
    Broken(String),
}

/// The whole body, within the size limit, the body timeout and the shared budget; the
/// permit holds the body's share of the budget until the answer is sent.
async fn read_body<B>(state: &State, body: B) -> Result<(Vec<u8>, OwnedSemaphorePermit), BodyError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let mut body = std::pin::pin!(body);
    let mut held = state
        .body_budget
        .clone()
        .try_acquire_many_owned(0)
        .map_err(|_| BodyError::TimedOut)?;
    let read = async {
        let mut bytes: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError::Broken(e.to_string()))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            let total = bytes.len() + data.len();
            if total > state.max_body {
                return Err(BodyError::TooLarge);
            }
            // Budget taken as bytes arrive, not as declared: a client holds only what it
            // has sent. When it is spent the request is answered 503 at once (the API
            // server's failure policy decides) rather than waiting behind the clients
            // that spent it.
            let need = total.div_ceil(1024).saturating_sub(held.num_permits());
            if need > 0 {
                let more = state
                    .body_budget
                    .clone()
                    .try_acquire_many_owned(u32::try_from(need).map_err(|_| BodyError::TooLarge)?)
                    .map_err(|_| BodyError::Busy)?;
                held.merge(more);
            }
            bytes.extend_from_slice(&data);
        }
        Ok(bytes)
    };
    match tokio::time::timeout(state.body_timeout, read).await {
        Ok(Ok(bytes)) => Ok((bytes, held)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(BodyError::TimedOut),
    }
}

async fn validate<B>(state: &State, req: Request<B>) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let too_long = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > state.max_body);
    let too_large = || {
        problem(
            state,
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is over the {} byte limit", state.max_body),
        )
    };
    if too_long {
        return too_large();
    }
    let requested = requested_timeout(&req);
    // The body is read before the review takes a place in the queue: a client that
    // stalls mid-body holds its connection and its bytes, never an evaluation slot.
    let (body, _bytes) = match read_body(state, req.into_body()).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return too_large(),
        Err(BodyError::Busy) => {
            let mut r = problem(
                state,
                StatusCode::SERVICE_UNAVAILABLE,
                "busy: the request bodies being received use the whole body budget; retry",
            );
            r.headers_mut()
                .insert("retry-after", hyper::header::HeaderValue::from_static("1"));
            return r;
        }
        Err(BodyError::TimedOut) => {
            return problem(
                state,
                StatusCode::REQUEST_TIMEOUT,
                &format!(
                    "the body did not arrive within {} ms",
                    state.body_timeout.as_millis()
                ),
            )
        }
        Err(BodyError::Broken(e)) => {
            return problem(
                state,
                StatusCode::BAD_REQUEST,
                &format!("cannot read the body: {e}"),
            )
        }
    };
    let start = Instant::now();
    let Ok(permit) = state.admitted.clone().try_acquire_owned() else {
        let mut r = problem(
            state,
            StatusCode::TOO_MANY_REQUESTS,
            "overloaded: every worker is busy and the queue is full; retry",
        );
        r.headers_mut()
            .insert("retry-after", hyper::header::HeaderValue::from_static("1"));
        return r;
    };
    let _in_flight = state.metrics.in_flight();
    // A margin under the API server's deadline, so the answer arrives before it gives up.
    let deadline = match requested {
        Some(t) => state.deadline.min(
            t.saturating_sub(Duration::from_millis(200))
                .max(Duration::from_millis(100)),
        ),
        None => state.deadline,
    };
    // A parsed body takes many times its size in memory: parse as many at once as
    // there are workers, not as many as the queue holds.
    let parsed = {
        let _slot = state.parsing.acquire().await;
        admission::parse(&body)
    };
    drop(body);
    let mut review = match parsed {
        Ok(r) => r,
        Err(e) => return problem(state, StatusCode::BAD_REQUEST, &e.0),
    };
    let outcome = match (review.object.take(), review.operation.as_str()) {
        (_, "DELETE") => Outcome::Skipped("DELETE: nothing is created"),
        (_, "CONNECT") => Outcome::Skipped("CONNECT: no object"),
        (None, _) => Outcome::Skipped("no object in the request"),
        (Some(object), _) => match evaluate(state, &review.uid, object, deadline).await {
            // A plugin that could not be loaded judged nothing: its absence is an error
            // of this review too (the failure policy decides), beside what the loaded
            // plugins found (which still denies).
            Outcome::Evaluated(mut v) => {
                for e in state.auditor.load_errors() {
                    v.errors.push(tollgate::report::ErrorEntry {
                        file: e.file().display().to_string(),
                        document: None,
                        item: None,
                        plugin: Some(e.file().display().to_string()),
                        class: e.class().into(),
                        message: format!("could not be loaded: {e}"),
                    });
                }
                Outcome::Evaluated(v)
            }
            other => other,
        },
    };
    if let Outcome::Evaluated(v) = &outcome {
        for e in &v.errors {
            state.metrics.plugin_error(&e.class);
        }
    }
    if let Outcome::Failed(_) = &outcome {
        state.metrics.plugin_error("deadline-or-input");
    }
    let answer = admission::decide(&outcome, &state.rules, review.exempt_annotation.as_deref());
    let took = start.elapsed();
    state
        .metrics
        .review(answer.decision(), &review.operation, took);
    tracing::info!(
        uid = %review.uid,
        operation = %review.operation,
        kind = %review.kind,
        namespace = review.namespace.as_deref(),
        name = review.name.as_deref(),
        dry_run = review.dry_run,
        allowed = answer.allowed,
        decision = answer.decision(),
        failed_checks = %answer.denying.join(","),
        warnings = answer.warnings.len(),
        failure = answer.failure.as_deref(),
        skipped = match &outcome {
            Outcome::Skipped(why) => Some(*why),
            _ => None,
        },
        duration_ms = took.as_secs_f64() * 1000.0,
        "review"
    );
    drop(permit);
    let body = admission::response(&review.uid, &answer).to_string();
    reply(state, StatusCode::OK, "application/json", body)
}

/// Evaluates on a worker thread within the deadline. A plugin that runs over is cut
/// off by the sandbox's own time limit (set to the deadline) and its instance replaced;
/// the answer does not wait for that.
async fn evaluate(
    state: &State,
    uid: &str,
    object: serde_json::Value,
    deadline: Duration,
) -> Outcome {
    let workers = state.workers.clone();
    let auditor = state.auditor.clone();
    let origin = format!("admission request {uid}");
    let work = async move {
        let slot = workers.acquire_owned().await;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            auditor.evaluate_named(&origin, Object::Value(&object))
        })
        .await
    };
    match tokio::time::timeout(deadline, work).await {
        Ok(Ok(Ok(v))) if v.filtered => {
            Outcome::Skipped("left out by the namespace and kind filters")
        }
        Ok(Ok(Ok(v))) => Outcome::Evaluated(Box::new(v)),
        Ok(Ok(Err(e))) => Outcome::Failed(format!("the object cannot be evaluated: {e}")),
        Ok(Err(e)) => Outcome::Failed(format!("the evaluation failed: {e}")),
        Err(_) => Outcome::Failed(format!(
            "the evaluation did not finish within the {} ms deadline",
            deadline.as_millis()
        )),
    }
}
