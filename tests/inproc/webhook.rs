//! The webhook's HTTP handling in-process: `tollgate_serve::Webhook::handle` on
//! requests built here, with the real plugins, no socket and no TLS. What a client sees
//! (status, body, headers) and what `/metrics` counts, for every route and every
//! refusal the handler makes itself. The socket-level defences (slow clients,
//! connection caps, TLS) are in the end-to-end tests, which need a real server.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};
use tollgate::config::{AdmissionMode, FailurePolicy};
use tollgate::{Auditor, Severity};
use tollgate_e2e::target_profile_dir;
use tollgate_e2e::webhook::{compliant_pod, parse_metrics, privileged_deployment, review};
use tollgate_serve::{Rules, ServeOptions, Webhook};

fn options() -> ServeOptions {
    ServeOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        tls_cert: "unused".into(),
        tls_key: "unused".into(),
        rules: Rules {
            deny_on: Severity::High,
            warn_on: Severity::Low,
            mode: AdmissionMode::Enforce,
            failure_policy: FailurePolicy::Fail,
        },
        deadline: Duration::from_secs(10),
        max_body: 64 << 10,
        workers: 2,
        queue: 2,
        drain: Duration::from_secs(1),
        max_connections: 8,
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(10),
        body_budget: 1 << 20,
        max_connections_per_client: 8,
        connection_lifetime: Duration::from_secs(60),
    }
}

fn webhook(opts: &ServeOptions) -> Webhook {
    tollgate_e2e::binary();
    let auditor = Auditor::builder()
        .bundle(target_profile_dir().join("plugins"))
        .build()
        .expect("the built-in plugins load");
    Webhook::new(auditor, opts)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn request(method: &str, path: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .body(Full::new(body.into()))
        .unwrap()
}

/// Status, content type and body text.
async fn answer(response: Response<Full<Bytes>>) -> (StatusCode, String, String) {
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

async fn post_review(webhook: &Webhook, review: &Value) -> Value {
    let r = webhook
        .handle(request("POST", "/validate", review.to_string()))
        .await;
    let (status, content_type, body) = answer(r).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "application/json"),
        "{body}"
    );
    serde_json::from_str(&body).unwrap()
}

async fn metrics(webhook: &Webhook) -> std::collections::HashMap<String, f64> {
    let (status, _, text) = answer(webhook.handle(request("GET", "/metrics", "")).await).await;
    assert_eq!(status, StatusCode::OK);
    parse_metrics(&text)
}

#[test]
fn routes_answer_and_unknown_ones_are_refused_with_the_reason() {
    let webhook = webhook(&options());
    runtime().block_on(async {
        let cases = [
            ("GET", "/healthz", StatusCode::OK, "ok"),
            ("GET", "/readyz", StatusCode::OK, "ready"),
            (
                "GET",
                "/validate",
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed",
            ),
            (
                "DELETE",
                "/metrics",
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed",
            ),
            (
                "GET",
                "/admin",
                StatusCode::NOT_FOUND,
                "POST /validate, GET /healthz",
            ),
        ];
        for (method, path, status, text) in cases {
            let (got, _, body) = answer(webhook.handle(request(method, path, "")).await).await;
            assert_eq!(got, status, "{method} {path}: {body}");
            assert!(body.contains(text), "{method} {path}: {body}");
        }
        let m = metrics(&webhook).await;
        assert_eq!(m["tollgate_http_responses_total{code=\"405\"}"], 2.0);
        assert_eq!(m["tollgate_http_responses_total{code=\"404\"}"], 1.0);
    });
}

#[test]
fn a_review_is_decided_as_the_scan_judges_the_object() {
    let webhook = webhook(&options());
    runtime().block_on(async {
        let good = post_review(
            &webhook,
            &review("uid-good", "CREATE", "shop", compliant_pod()),
        )
        .await;
        assert_eq!(good["kind"], "AdmissionReview");
        assert_eq!(good["response"]["uid"], "uid-good");
        assert_eq!(good["response"]["allowed"], true, "{good}");

        let bad = post_review(
            &webhook,
            &review("uid-bad", "CREATE", "shop", privileged_deployment()),
        )
        .await;
        assert_eq!(bad["response"]["uid"], "uid-bad");
        assert_eq!(bad["response"]["allowed"], false, "{bad}");
        let message = bad["response"]["status"]["message"].as_str().unwrap();
        assert!(
            message.contains("KSV017"),
            "the privileged check denies: {message}"
        );

        // Nothing to judge on DELETE; a dry run is judged like the real thing.
        let delete = post_review(&webhook, &review("uid-del", "DELETE", "shop", Value::Null)).await;
        assert_eq!(delete["response"]["allowed"], true);
        let mut dry = review("uid-dry", "CREATE", "shop", privileged_deployment());
        dry["request"]["dryRun"] = json!(true);
        assert_eq!(
            post_review(&webhook, &dry).await["response"]["allowed"],
            false
        );

        let m = metrics(&webhook).await;
        assert_eq!(
            m["tollgate_admission_reviews_total{decision=\"denied\",operation=\"CREATE\"}"],
            2.0
        );
        assert_eq!(
            m["tollgate_admission_reviews_total{decision=\"allowed\",operation=\"CREATE\"}"],
            1.0
        );
    });
}

#[test]
fn bad_bodies_are_refused_with_the_status_and_the_reason() {
    let webhook = webhook(&options());
    runtime().block_on(async {
        let post = |body: Bytes| webhook.handle(request("POST", "/validate", body));
        let (status, _, body) = answer(post(Bytes::from_static(b"{not json")).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("not JSON"), "{body}");
        let v1beta1 = br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}"#;
        let (status, _, body) = answer(post(Bytes::from_static(v1beta1)).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("admission.k8s.io/v1beta1"), "{body}");

        // Over the size limit: refused from the declared length before reading, and
        // from the bytes when no length is declared.
        let big = Bytes::from(vec![b' '; (64 << 10) + 1]);
        let declared = Request::builder()
            .method("POST")
            .uri("/validate")
            .header("content-length", big.len().to_string())
            .body(Full::new(big.clone()))
            .unwrap();
        let (status, _, body) = answer(webhook.handle(declared).await).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(body.contains("65536 byte limit"), "{body}");
        let (status, _, _) = answer(post(big).await).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

        let m = metrics(&webhook).await;
        assert_eq!(m["tollgate_http_responses_total{code=\"400\"}"], 2.0);
        assert_eq!(m["tollgate_http_responses_total{code=\"413\"}"], 2.0);
    });
}

/// A body that sends `first` and then never another byte: a client that stalls.
struct Stalled(Option<Bytes>);

impl Body for Stalled {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.0.take() {
            Some(b) => Poll::Ready(Some(Ok(Frame::data(b)))),
            None => Poll::Pending,
        }
    }
}

#[test]
fn a_stalled_body_times_out_and_holds_no_evaluation_slot() {
    // No worker and no queue place at all: a review that reached evaluation would be
    // refused with 429, so a 408 shows the stalled body never asked for one.
    let mut opts = options();
    opts.body_timeout = Duration::from_millis(50);
    opts.workers = 0;
    opts.queue = 0;
    let webhook = webhook(&opts);
    runtime().block_on(async {
        let stalled = Request::builder()
            .method("POST")
            .uri("/validate")
            .body(Stalled(Some(Bytes::from_static(b"{\"apiVersion\":"))))
            .unwrap();
        let (status, _, body) = answer(webhook.handle(stalled).await).await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
        assert!(body.contains("did not arrive within 50 ms"), "{body}");

        // A complete body finds the queue full: 429 with Retry-After.
        let r = webhook
            .handle(request(
                "POST",
                "/validate",
                review("u", "CREATE", "ns", compliant_pod()).to_string(),
            ))
            .await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()["retry-after"], "1");
    });
}

#[test]
fn bodies_beyond_the_shared_budget_are_refused_at_once() {
    // A budget of one body of the largest size: a second body while the first is held
    // gets 503 with Retry-After, not a wait behind it.
    let mut opts = options();
    opts.body_budget = opts.max_body;
    let webhook = webhook(&opts);
    runtime().block_on(async {
        let holder = Request::builder()
            .method("POST")
            .uri("/validate")
            .body(Stalled(Some(Bytes::from(vec![b' '; 60 << 10]))))
            .unwrap();
        // Polled here until its body stalls: by then it has taken its bytes' share of
        // the budget (the first frame is ready at once, the second never).
        let mut held = Box::pin(webhook.handle(holder));
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut held)
                .await
                .is_err(),
            "the stalled body is still being received"
        );
        let second = Request::builder()
            .method("POST")
            .uri("/validate")
            .body(Full::new(Bytes::from(vec![b' '; 8 << 10])))
            .unwrap();
        let r = webhook.handle(second).await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()["retry-after"], "1");
        let (_, _, body) = answer(r).await;
        assert!(body.contains("body budget"), "{body}");
        // Once the first is gone, its share is free again.
        drop(held);
        let third = webhook
            .handle(request("POST", "/validate", vec![b' '; 8 << 10]))
            .await;
        assert_eq!(third.status(), StatusCode::BAD_REQUEST);
    });
}

#[test]
fn a_plugin_that_failed_to_load_makes_readyz_fail_and_reviews_error() {
    tollgate_e2e::binary();
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.wasm");
    std::fs::write(&broken, b"not a component").unwrap();
    let auditor = Auditor::builder()
        .bundle(target_profile_dir().join("plugins"))
        .plugin(tollgate::PluginSource::file(&broken))
        .build()
        .unwrap();
    assert_eq!(auditor.load_errors().len(), 1);
    let webhook = Webhook::new(auditor, &options());
    runtime().block_on(async {
        let (status, _, body) = answer(webhook.handle(request("GET", "/readyz", "")).await).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("broken.wasm"), "{body}");
        // failurePolicy Fail: a review that a missing plugin could not judge is denied.
        let r = post_review(
            &webhook,
            &review("uid-x", "CREATE", "shop", compliant_pod()),
        )
        .await;
        assert_eq!(r["response"]["allowed"], false, "{r}");
        let m = metrics(&webhook).await;
        assert_eq!(
            m["tollgate_plugin_errors_total{class=\"not-component\"}"],
            1.0
        );
    });
}
